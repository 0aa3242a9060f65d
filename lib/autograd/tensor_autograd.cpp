// The Tensor methods that run or extend the backward graph: backward(), retain_grad(), and the
// copies (the dtype conversion, differentiable as ToCopyBackward0; clone and contiguous with a
// memory format). The plain accessors of the autograd
// fields (requires_grad(), grad(), grad_fn(), ...) are in the front end, beside the fields.
#include <absl/strings/str_cat.h>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/autograd/function.h"
#include "lib/autograd/rules.h"
#include "lib/frontend/common.h"
#include "lib/frontend/raw_ops.h"

namespace kiln {

void Tensor::retain_grad() const {
  if (!requires_grad()) throw Error("can't retain_grad on Tensor that has requires_grad=False");
  // A leaf's gradient is kept anyway; a second call must not add the gradient twice.
  if (is_leaf() || impl_->retains_grad) return;
  impl_->retains_grad = true;
  autograd::functionOf(impl_->grad_fn)->retained.push_back(impl_);
}

void Tensor::backward(const Tensor& gradient, std::optional<bool> retain_graph, bool create_graph,
                      std::optional<TensorList> inputs) const {
  if (inputs && inputs->empty()) throw Error("'inputs' argument to backward cannot be empty");
  autograd::backward({*this}, {gradient}, retain_graph, create_graph,
                     inputs ? inputs->vec() : autograd::variable_list{});
}

Tensor Tensor::to(ScalarType t, bool, bool copy, std::optional<MemoryFormat> memory_format) const {
  detail::checkMemoryFormat(memory_format);
  if (t == dtype() && !copy) return *this;
  Tensor out = detail::castTo(*this, t);
  autograd::recordCast(out, *this);
  return out;
}

Tensor Tensor::clone(std::optional<MemoryFormat> memory_format) const {
  detail::checkMemoryFormat(memory_format);
  return clone();
}

Tensor Tensor::contiguous(MemoryFormat memory_format) const {
  if (memory_format == MemoryFormat::Preserve) {
    throw Error("preserve memory format is unsupported by the contiguous operator");
  }
  detail::checkMemoryFormat(memory_format);
  return contiguous();
}

}  // namespace kiln
