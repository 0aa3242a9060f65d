// In-place ops under autograd (see in_place.h).
#include "lib/autograd/in_place.h"

#include <absl/strings/str_cat.h>

#include <mutex>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/autograd/function.h"
#include "lib/autograd/rules.h"
#include "lib/frontend/common.h"

namespace kiln::autograd {
namespace {

using detail::readNode;

// Gives `t` the autograd history of `from`. A tensor that retains its gradient keeps doing so:
// its entry moves to the new grad_fn, as PyTorch moves the retains_grad hook (the old grad_fn of
// a view written in place is not in the new history, so the engine could not find it there).
void takeHistory(const Tensor& t, const Tensor& from) {
  detail::TensorImpl& impl = *t.impl();
  const std::shared_ptr<Node>& fn = from.impl()->grad_fn;
  if (impl.retains_grad && impl.grad_fn != fn) {
    if (impl.grad_fn) {
      auto& old = functionOf(impl.grad_fn)->retained;
      std::erase_if(
          old, [&](const std::weak_ptr<detail::TensorImpl>& w) { return w.lock() == t.impl(); });
    }
    if (fn) functionOf(fn)->retained.push_back(t.impl());
  }
  impl.grad_fn = fn;
  impl.output_nr = from.impl()->output_nr;
  impl.view_version.store(impl.version(), std::memory_order_release);
}

// After `result` has been written into `self`: the result the op's function saved for backward
// (exp, tanh, sigmoid, sqrt, relu save theirs) is self from now on, as PyTorch saves self after
// an in-place op, so that changing self again is refused.
void resultIsNow(const Tensor& self, const Tensor& result) {
  if (result.impl()->grad_fn && result.impl()->storage != self.impl()->storage) {
    functionOf(result.impl()->grad_fn)->resultMovedTo(result.impl()->storage.get(), self);
  }
}

// The tensor an in-place op reads as `self`: the current value and autograd history of self,
// held apart from self's storage, which the op is about to replace. Held apart even when self
// needs no gradient, since a rule may save it for another operand's gradient (c.mul_(b) saves
// c's old value for b's).
Tensor inPlaceSource(const Tensor& self) {
  checkInPlaceAllowed(self, {});
  if (!is_grad_enabled()) return self;
  detail::refreshViewHistory(self.impl());
  Tensor old = detail::fromNode(readNode(self), self.device());
  old.impl()->grad_fn = self.impl()->grad_fn;
  old.impl()->output_nr = self.impl()->output_nr;
  return old;
}

// Where a view sits in its base, relative to the base's first element (values, so that
// backward rules can keep it without keeping the tensors alive).
struct ViewGeometry {
  std::vector<int64_t> sizes, strides;
  int64_t offset;
  std::vector<int64_t> base_sizes;
};

ViewGeometry geometryOf(const detail::TensorImpl& view) {
  return {view.sizes, view.strides, view.offset - view.view_base->offset, view.view_base->sizes};
}

// `base_like` (a tensor of the view base's shape) read through the view's geometry, as a
// differentiable op: its gradient is embedded back at the viewed positions.
Tensor viewThrough(const Tensor& base_like, const ViewGeometry& geo) {
  auto apply = [geo](const Tensor& t) {
    Tensor c = t.contiguous();
    return detail::makeView(c, geo.sizes, geo.strides, c.storage_offset() + geo.offset);
  };
  Tensor out;
  {
    NoGradGuard no_grad;
    out = apply(base_like);
  }
  ScalarType dtype = base_like.dtype();
  recordView(out, base_like, "AsStridedBackward0",
             [=](const Tensor& g) { return embedView(g, geo.base_sizes, dtype, apply); });
  return out;
}

// Whether an in-place op on `self` giving `result` must rewrite a view base's history.
bool throughView(const Tensor& self, const Tensor& result) {
  return is_grad_enabled() && self.impl()->view_base && result.requires_grad();
}

void checkShapeKept(const Tensor& self, const Tensor& result) {
  if (result.sizes() != self.sizes()) {
    throw Error(absl::StrCat("output with shape ", detail::shapeText(self.sizes().vec()),
                             " doesn't match the broadcast shape ",
                             detail::shapeText(result.sizes().vec())));
  }
}

}  // namespace

void checkInPlaceAllowed(const Tensor& self, std::initializer_list<const Tensor*> others) {
  if (!is_grad_enabled()) return;
  if (self.is_leaf() && self.requires_grad()) {
    throw Error("a leaf Variable that requires grad is being used in an in-place operation.");
  }
  const auto& base = self.impl()->view_base;
  if (!base) return;
  bool grads = self.requires_grad() || base->requires_grad || base->grad_fn;
  for (const Tensor* o : others) grads = grads || (o && o->defined() && o->requires_grad());
  if (!grads) return;
  if (!base->grad_fn && base->requires_grad) {
    throw Error(
        "a view of a leaf Variable that requires grad is being used in an in-place operation.");
  }
  if (!Tensor(base).is_contiguous()) {
    throw Error(
        "kiln: in-place operations on views of non-contiguous tensors that take part in autograd "
        "are not supported yet");
  }
}

Tensor& assignThroughView(Tensor& self, const std::function<Tensor(const Tensor&)>& op) {
  Tensor base(self.impl()->view_base);
  const ViewGeometry geo = geometryOf(*self.impl());
  // Always a tensor of its own (even when the base has no history yet): the base's new history
  // saves it, and saving the base itself would be a reference cycle.
  checkInPlaceAllowed(base, {});
  Tensor base_old = detail::fromNode(readNode(base), base.device());
  base_old.impl()->grad_fn = base.impl()->grad_fn;
  base_old.impl()->output_nr = base.impl()->output_nr;
  Tensor result;
  {
    detail::DeferEager defer;
    result = op(viewThrough(base_old, geo));
  }
  checkShapeKept(self, result);
  detail::checkCastable(result.dtype(), self.dtype());
  // The new histories are recorded before the write, the last step that can fail.
  Tensor cast = result.dtype() == self.dtype() ? result : result.to(self.dtype());
  auto apply = [geo](const Tensor& t) { return viewThrough(t, geo); };
  Tensor placed = embedView(cast, base.sizes(), base.dtype(), apply);
  Tensor mask;
  {
    NoGradGuard no_grad;
    mask = embedView(ones_like(cast, kBool), base.sizes(), kBool, apply);
  }
  Tensor base_new = where(mask, placed, base_old);
  // The base's new history carries PyTorch's name for it.
  Tensor named = base_new.detach();
  record(named, "torch::autograd::CopySlices", {base_new}, {},
         [](const Tensor& g, const std::vector<Tensor>&) { return std::vector<Tensor>{g}; });
  Tensor self_new = viewThrough(base_new, geo);
  detail::assignAndRecord(self, readNode(cast));
  resultIsNow(self, cast);
  takeHistory(base, named);
  takeHistory(self, self_new);
  return self;
}

Tensor& assignResult(Tensor& self, const Tensor& result) {
  checkShapeKept(self, result);
  detail::checkCastable(result.dtype(), self.dtype());
  checkInPlaceAllowed(self, {&result});
  const bool history = result.impl()->grad_fn && is_grad_enabled();
  const bool same = result.dtype() == self.dtype();
  // Recorded before the write, the last step that can fail.
  Tensor from = history && !same ? result.to(self.dtype()) : result;
  detail::assignAndRecord(self, detail::castNode(readNode(result), self.dtype()));
  if (history) {
    if (same) resultIsNow(self, result);
    takeHistory(self, from);
  }
  return self;
}

Tensor& inPlace(const Tensor& handle, const std::function<Tensor(const Tensor&)>& op) {
  // A tensor is a handle: an in-place op writes into what it refers to, through a const handle
  // too (libtorch's in-place methods are const), and never rebinds the handle itself.
  Tensor& self = const_cast<Tensor&>(handle);
  Tensor result;
  {
    detail::DeferEager defer;
    result = op(inPlaceSource(self));
  }
  if (throughView(self, result)) return assignThroughView(self, op);
  return assignResult(self, result);
}

}  // namespace kiln::autograd

namespace kiln::detail {

void refreshViewHistory(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl->view_base) return;
  // The storage's version changes only in place, which no other thread does while this one
  // reads the view; the view's own history is what several readers may refresh at once.
  const uint32_t version = impl->version();
  if (impl->view_version.load(std::memory_order_acquire) == version) return;
  static std::mutex refreshing;
  std::lock_guard<std::mutex> lock(refreshing);
  if (impl->view_version.load(std::memory_order_relaxed) == version) return;
  const TensorImpl& base = *impl->view_base;
  if (impl->grad_fn || base.requires_grad || base.grad_fn) {
    try {
      AutoGradMode enabled(true);
      Tensor regenerated =
          Tensor(impl->view_base).as_strided(impl->sizes, impl->strides, impl->offset);
      autograd::takeHistory(Tensor(impl), regenerated);
    } catch (const Error&) {
      // A view whose positions overlap, which as_strided cannot differentiate, keeps its
      // history.
    }
  }
  impl->view_version.store(version, std::memory_order_release);
}

}  // namespace kiln::detail
