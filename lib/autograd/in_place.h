#pragma once
// In-place ops under autograd: what an in-place op reads as its old value, when autograd refuses
// one (PyTorch's leaf and view errors), how the result takes over self's history, and, for a view
// that takes part in autograd, how the base's history is rewritten (PyTorch's CopySlices).
#include <functional>
#include <initializer_list>

#include "kiln/tensor.h"

namespace kiln::autograd {

/// Refuses in-place ops that autograd cannot follow (PyTorch's leaf error; views with grad).
void checkInPlaceAllowed(const Tensor& self, std::initializer_list<const Tensor*> others);
/// Writes an op's result into self in place (shape and dtype checked first); self takes over
/// the result's autograd history.
Tensor& assignResult(Tensor& self, const Tensor& result);
/// The in-place op `op` (old value -> new value) on a view that takes part in autograd: the op
/// reads the view of the base's old value, and the base's history becomes the old base with the
/// view's positions replaced by the result.
Tensor& assignThroughView(Tensor& self, const std::function<Tensor(const Tensor&)>& op);
/// An in-place op: `op` computes self's new value from its old one (recorded as one graph, not
/// materialised on its own even in eager mode), then it replaces self's elements.
Tensor& inPlace(const Tensor& self, const std::function<Tensor(const Tensor&)>& op);

}  // namespace kiln::autograd
