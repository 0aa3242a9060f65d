#pragma once
// Text form of a tensor, identical to what Python PyTorch's print(tensor) shows with the default
// print options (torch/_tensor_str.py).
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/scalar_type.h"

namespace kiln::detail {

struct FormatRequest {
  ScalarType dtype;
  /// 0-d when empty.
  std::vector<int64_t> sizes;
  /// Contiguous row-major host data of `dtype` (bool is one byte holding 0 or 1); prod(sizes)
  /// elements.
  const void* data;
  /// Already formatted, e.g. "dtype=kiln.float64", "device='cuda:0'", "requires_grad=True",
  /// "grad_fn=<MulBackward0>"; appended in this order. As in PyTorch, the caller decides when a
  /// dtype suffix is due: for non-empty tensors unless the dtype is float32, int64 or bool, and for
  /// empty tensors unless it is float32.
  std::vector<std::string> suffixes;
};

/// The full "tensor(...)" text, without a trailing newline. For empty tensors of more than one
/// dimension the "size=(...)" suffix is added here, after any leading "device=" suffix and before
/// the rest, which is where PyTorch puts it.
std::string formatTensor(const FormatRequest& r);

}  // namespace kiln::detail
