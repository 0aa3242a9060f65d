// The Tensor methods that run or extend the backward graph: backward(), retain_grad(), and the
// dtype conversion (differentiable, as ToCopyBackward0). The plain accessors of the autograd
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

void Tensor::backward(const Tensor& gradient, std::optional<bool> retain_graph,
                      bool create_graph) const {
  if (!requires_grad()) {
    throw Error("element 0 of tensors does not require grad and does not have a grad_fn");
  }
  Tensor g = gradient;
  if (!g.defined()) {
    if (numel() != 1) throw Error("grad can be implicitly created only for scalar outputs");
    g = ones_like(*this);
  } else {
    g = autograd::rootGradient(g, *this, 0);
  }
  autograd::runBackward({*this}, {g}, retain_graph.value_or(create_graph), create_graph, {}, false);
}

Tensor Tensor::to(ScalarType t, bool, bool copy, std::optional<MemoryFormat> memory_format) const {
  if (memory_format == MemoryFormat::ChannelsLast ||
      memory_format == MemoryFormat::ChannelsLast3d) {
    throw Error("kiln: the channels-last memory formats are not supported yet");
  }
  if (t == dtype() && !copy) return *this;
  Tensor out = detail::castTo(*this, t);
  autograd::recordCast(out, *this);
  return out;
}

}  // namespace kiln
