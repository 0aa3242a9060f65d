#pragma once
// Helpers shared by the front-end ops: argument checks with PyTorch's messages, broadcasting,
// type promotion, and builders for common nodes.
#include <optional>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "kiln/scalar.h"
#include "kiln/tensor.h"
#include "lib/frontend/tensor_impl.h"

namespace kiln::detail {

/// `[5, 3]`
std::string shapeText(const std::vector<int64_t>& s);
/// Wraps a negative dim; PyTorch's "Dimension out of range" error otherwise.
int64_t wrapDim(int64_t dim, int64_t ndim);
/// The broadcast of two shapes, or PyTorch's "The size of tensor a ..." error.
std::vector<int64_t> broadcastShapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

/// One operand of an elementwise op: a tensor or a Python-style wrapped number.
struct Operand {
  Operand(const Tensor& t) : tensor(&t) {}
  Operand(const Scalar& s) : scalar(s) {}
  const Tensor* tensor = nullptr;
  Scalar scalar;
};
/// torch.result_type over the operands (dimensioned tensors, zero-dim tensors, numbers).
ScalarType resultType(std::initializer_list<Operand> operands);
/// The default dtype for numbers of a scalar's kind (float -> the default dtype, int -> kLong).
ScalarType defaultTypeFor(const Scalar& s);

ir::NodeRef constantNode(const Scalar& value, ScalarType dtype, const std::vector<int64_t>& shape);
ir::NodeRef castNode(ir::NodeRef n, ScalarType dtype);
/// A broadcasting view of `n` to `shape` (stride 0 along new and size-1 dimensions).
ir::NodeRef expandNode(ir::NodeRef n, const std::vector<int64_t>& shape);
ir::NodeRef elementwiseNode(ScalarOp op, ScalarType dtype, absl::Span<const ir::NodeRef> inputs);
/// The node for an operand, cast to `dtype` and broadcast to `shape`.
ir::NodeRef operandNode(const Operand& o, ScalarType dtype, const std::vector<int64_t>& shape);
/// A fresh tensor holding `n`, recorded (eager mode materialises it at once).
Tensor record(ir::NodeRef n, Device device = Device(DeviceType::CPU));

/// Throws PyTorch's error unless `from` can be written into a tensor of type `to`.
void checkCastable(ScalarType from, ScalarType to);

/// The device an op on `tensors` (null entries, numbers' places, are skipped) computes on:
/// theirs, which must be one device that kiln can compute on. A zero-dimensional CPU tensor may
/// join tensors of another device (PyTorch treats it as a number). Throws PyTorch's "Expected all
/// tensors to be on the same device" otherwise, "not supported yet" for a device without a backend,
/// and the undefined-tensor error.
Device commonDevice(const char* op, std::initializer_list<const Tensor*> tensors);

/// Accepts the memory formats kiln's contiguous results satisfy (none, Contiguous, Preserve);
/// the channels-last formats throw "not supported yet".
void checkMemoryFormat(std::optional<MemoryFormat> memory_format);

}  // namespace kiln::detail
