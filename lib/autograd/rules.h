#pragma once
// The vector-Jacobian rules of kiln's ops, attached by the differentiable ops of lib/autograd
// after the front end has recorded the op (a no-op when no input requires grad or recording is
// off).
#include <functional>
#include <optional>
#include <vector>

#include "kiln/tensor.h"
#include "lib/frontend/common.h"

namespace kiln::autograd {

/// Elementwise ops. `alpha` scales the second operand of add/sub.
void recordBinary(ScalarOp op, Tensor& out, const detail::Operand& a, const detail::Operand& b,
                  const Scalar& alpha = 1);
void recordUnary(ScalarOp op, Tensor& out, const Tensor& a);
void recordClamp(Tensor& out, const Tensor& a, std::optional<Scalar> min,
                 std::optional<Scalar> max);
void recordWhere(Tensor& out, const Tensor& cond, const detail::Operand& a,
                 const detail::Operand& b);
void recordCast(Tensor& out, const Tensor& a);

/// A view `out` of `a` made by `remake` (which applies the same view to any tensor of a's
/// shape): its gradient is embedded back into a's shape at the viewed positions.
void recordView(Tensor& out, const Tensor& a, const char* name,
                std::function<Tensor(const Tensor& grad)> backward);

/// What a reduction's rule reads besides the output gradient: PyTorch's derivatives.yaml saves
/// exactly these (sum and mean nothing but sizes, softmax its result, prod and amax both, var
/// its input), and backward checks versions only on what is saved.
enum class Saves { Nothing, Input, Output, Both };

/// Reductions and composites. `backward` gets undefined tensors for what is not saved.
void recordReduction(
    Tensor& out, const Tensor& a, const char* name, Saves saves,
    std::function<Tensor(const Tensor& grad, const Tensor& a, const Tensor& out)> backward);
void recordMatmul(Tensor& out, const Tensor& a, const Tensor& b, const char* name);
void recordCat(Tensor& out, const std::vector<Tensor>& inputs, int64_t dim);

/// The gradient of a view that selects positions of `input` (narrow, select, slicing): zeros of
/// the input's shape with `grad` at those positions. Differentiable (its own backward applies
/// `view` to the incoming gradient).
/// Whether an index list holds index tensors or literal bools (advanced indexing).
bool hasIndexTensors(const std::vector<indexing::TensorIndex>& indices);
/// x.index(indices) for a list with index tensors: a gather, with IndexBackward0.
Tensor advancedIndex(const Tensor& self, const std::vector<indexing::TensorIndex>& indices);
Tensor embedView(const Tensor& grad, IntArrayRef input_sizes, ScalarType dtype,
                 const std::function<Tensor(const Tensor&)>& view);

}  // namespace kiln::autograd
