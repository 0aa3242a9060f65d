// Elementwise ops: each is one ScalarOp node, typed by its row of lib/ir/ops.def.
#include <absl/strings/str_cat.h>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/autograd/function.h"
#include "lib/autograd/rules.h"
#include "lib/frontend/common.h"

namespace kiln {

using detail::castNode;
using detail::elementwiseNode;
using detail::Operand;
using detail::operandNode;
using detail::readNode;
using detail::record;
using detail::resultType;

namespace {

std::vector<int64_t> shapeOf(const Operand& o) {
  return o.tensor ? o.tensor->sizes().vec() : std::vector<int64_t>{};
}

// Whether autograd follows the op (lib/ir/ops.def's grad column).
bool differentiable(ScalarOp op) {
  return ir::info(op).grad != ir::GradKind::None;
}

ir::NodeRef binaryNode(ScalarOp op, const Operand& a, const Operand& b) {
  ScalarType t = ir::computeType(op, resultType({a, b}));
  std::vector<int64_t> shape = detail::broadcastShapes(shapeOf(a), shapeOf(b));
  return elementwiseNode(op, t, {operandNode(a, t, shape), operandNode(b, t, shape)});
}

Tensor binary(ScalarOp op, const Operand& a, const Operand& b) {
  const Tensor& t = a.tensor ? *a.tensor : *b.tensor;
  detail::checkDevice(t, ir::info(op).name.data());
  Tensor out = record(binaryNode(op, a, b), t.device());
  if (differentiable(op)) autograd::recordBinary(op, out, a, b);
  return out;
}

ir::NodeRef unaryNode(ScalarOp op, const Tensor& a) {
  ScalarType t = ir::computeType(op, a.dtype());
  return elementwiseNode(op, t, {castNode(readNode(a), t)});
}

Tensor unary(ScalarOp op, const Tensor& a) {
  detail::checkDevice(a, ir::info(op).name.data());
  Tensor out = record(unaryNode(op, a), a.device());
  if (differentiable(op)) autograd::recordUnary(op, out, a);
  return out;
}

void checkAlpha(const Tensor& a, const Operand& b, const Scalar& alpha) {
  ScalarType t = resultType({a, b});
  if (!isFloatingType(t) && alpha.isFloatingPoint()) {
    throw Error("For integral input tensors, argument alpha must not be a floating point number.");
  }
  if (t == ScalarType::Bool && !alpha.isBoolean() && alpha.toLong() != 1) {
    throw Error("Boolean alpha only supported for Boolean results.");
  }
}

bool isOne(const Scalar& s) {
  return s.toDouble() == 1.0;
}

ir::NodeRef addNode(ScalarOp op, const Tensor& a, const Operand& b, const Scalar& alpha) {
  checkAlpha(a, b, alpha);
  if (isOne(alpha)) return binaryNode(op, a, b);
  ScalarType t = resultType({a, b});
  std::vector<int64_t> shape = detail::broadcastShapes(a.sizes().vec(), shapeOf(b));
  ir::NodeRef scaled = elementwiseNode(
      ScalarOp::Mul, t, {operandNode(b, t, shape), detail::constantNode(alpha, t, shape)});
  return elementwiseNode(op, t, {operandNode(a, t, shape), scaled});
}

Tensor addTensor(ScalarOp op, const Tensor& a, const Operand& b, const Scalar& alpha) {
  Tensor out = record(addNode(op, a, b, alpha), a.device());
  autograd::recordBinary(op, out, a, b, alpha);
  return out;
}

}  // namespace

namespace detail {

Tensor elementwiseOp(ScalarOp op, ScalarType dtype, const std::vector<Tensor>& inputs) {
  std::vector<ir::NodeRef> nodes;
  for (const Tensor& t : inputs) nodes.push_back(readNode(t));
  Tensor out = record(elementwiseNode(op, dtype, std::move(nodes)), inputs[0].device());
  if (!isFloatingType(out.dtype()) || !autograd::needsGrad(inputs)) return out;
  if (op == ScalarOp::Cast) {
    autograd::recordCast(out, inputs[0]);
  } else if (op == ScalarOp::Where) {
    autograd::recordWhere(out, inputs[0], inputs[1], inputs[2]);
  } else if (inputs.size() == 2) {
    autograd::recordBinary(op, out, inputs[0], inputs[1]);
  } else {
    autograd::recordUnary(op, out, inputs[0]);
  }
  return out;
}

// The tensor an in-place op reads as `self`: the current value and autograd history of self,
// held apart from self's storage, which the op is about to replace.
Tensor inPlaceSource(const Tensor& self) {
  checkInPlaceAllowed(self, {});
  if (!autograd::needsGrad({&self})) return self;
  Tensor old = fromNode(readNode(self), self.device());
  old.impl()->grad_fn = self.impl()->grad_fn;
  old.impl()->output_nr = self.impl()->output_nr;
  return old;
}

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

// Where a view sits in its base, relative to the base's first element (values, so that
// backward rules can keep it without keeping the tensors alive).
struct ViewGeometry {
  std::vector<int64_t> sizes, strides;
  int64_t offset;
  std::vector<int64_t> base_sizes;
};

ViewGeometry geometryOf(const TensorImpl& view) {
  return {view.sizes, view.strides, view.offset - view.view_base->offset, view.view_base->sizes};
}

// `base_like` (a tensor of the view base's shape) read through the view's geometry, as a
// differentiable op: its gradient is embedded back at the viewed positions.
Tensor viewThrough(const Tensor& base_like, const ViewGeometry& geo) {
  auto apply = [geo](const Tensor& t) {
    Tensor c = t.contiguous();
    return makeView(c, geo.sizes, geo.strides, c.storage_offset() + geo.offset);
  };
  Tensor out;
  {
    NoGradGuard no_grad;
    out = apply(base_like);
  }
  ScalarType dtype = base_like.dtype();
  autograd::recordView(out, base_like, "AsStridedBackward0", [=](const Tensor& g) {
    return autograd::embedView(g, geo.base_sizes, dtype, apply);
  });
  return out;
}

// An in-place op on a view that takes part in autograd: the op reads the view of the base's
// old value, and the base's new history is the old base with the view's positions replaced by
// the op's result (PyTorch's CopySlices); the view's history is the new base viewed again.
Tensor& assignThroughView(Tensor& self, const std::function<Tensor(const Tensor&)>& op) {
  Tensor base(self.impl()->view_base);
  const ViewGeometry geo = geometryOf(*self.impl());
  // Always a tensor of its own (even when the base has no history yet): the base's new history
  // saves it, and saving the base itself would be a reference cycle.
  checkInPlaceAllowed(base, {});
  Tensor base_old = fromNode(readNode(base), base.device());
  base_old.impl()->grad_fn = base.impl()->grad_fn;
  base_old.impl()->output_nr = base.impl()->output_nr;
  Tensor result;
  {
    DeferEager defer;
    result = op(viewThrough(base_old, geo));
  }
  if (result.sizes() != self.sizes()) {
    throw Error(absl::StrCat("output with shape ", detail::shapeText(self.sizes().vec()),
                             " doesn't match the broadcast shape ",
                             detail::shapeText(result.sizes().vec())));
  }
  detail::checkCastable(result.dtype(), self.dtype());
  Tensor cast = result.dtype() == self.dtype() ? result : result.to(self.dtype());
  detail::assignNode(self, readNode(cast));
  auto apply = [geo](const Tensor& t) { return viewThrough(t, geo); };
  Tensor placed = autograd::embedView(cast, base.sizes(), base.dtype(), apply);
  Tensor mask;
  {
    NoGradGuard no_grad;
    mask = autograd::embedView(ones_like(cast, kBool), base.sizes(), kBool, apply);
  }
  Tensor base_new = where(mask, placed, base_old);
  base.impl()->grad_fn = base_new.impl()->grad_fn;
  base.impl()->output_nr = base_new.impl()->output_nr;
  Tensor view_new = viewThrough(base_new, geo);
  self.impl()->grad_fn = view_new.impl()->grad_fn;
  self.impl()->output_nr = view_new.impl()->output_nr;
  detail::afterRecord(self);
  return self;
}

bool throughView(const Tensor& self, const Tensor& result) {
  return is_grad_enabled() && self.impl()->view_base && result.requires_grad();
}

// Writes `result` into `self` in place: the result must keep self's shape and be castable to
// self's dtype, else nothing changes. Self takes over the result's autograd history.
Tensor& assignResult(Tensor& self, const Tensor& result) {
  if (result.sizes() != self.sizes()) {
    throw Error(absl::StrCat("output with shape ", detail::shapeText(self.sizes().vec()),
                             " doesn't match the broadcast shape ",
                             detail::shapeText(result.sizes().vec())));
  }
  detail::checkCastable(result.dtype(), self.dtype());
  checkInPlaceAllowed(self, {&result});
  detail::assignNode(self, castNode(readNode(result), self.dtype()));
  if (result.impl()->grad_fn && is_grad_enabled()) {
    Tensor cast = result.dtype() == self.dtype() ? result : result.to(self.dtype());
    self.impl()->grad_fn = cast.impl()->grad_fn;
    self.impl()->output_nr = cast.impl()->output_nr;
  }
  detail::afterRecord(self);
  return self;
}

}  // namespace detail

namespace {
using detail::assignResult;
using detail::inPlaceSource;

// An in-place op: `op` computes the new value from self's old one (recorded as one graph, not
// materialised on its own even in eager mode), then it replaces self's elements.
template <typename Op>
Tensor& inPlace(Tensor& self, Op op) {
  Tensor result;
  {
    detail::DeferEager defer;
    result = op(inPlaceSource(self));
  }
  if (detail::throughView(self, result)) return detail::assignThroughView(self, op);
  return assignResult(self, result);
}
}  // namespace

// ---- binary arithmetic ----
Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  return addTensor(ScalarOp::Add, a, b, alpha);
}
Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha) {
  return addTensor(ScalarOp::Add, a, b, alpha);
}
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  if (a.dtype() == kBool || b.dtype() == kBool) {
    throw Error(
        "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
        "`logical_xor()` operator instead.");
  }
  return addTensor(ScalarOp::Sub, a, b, alpha);
}
Tensor sub(const Tensor& a, const Scalar& b, const Scalar& alpha) {
  if (a.dtype() == kBool) {
    throw Error(
        "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.");
  }
  return addTensor(ScalarOp::Sub, a, b, alpha);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Mul, a, b);
}
Tensor mul(const Tensor& a, const Scalar& b) {
  return binary(ScalarOp::Mul, a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Div, a, b);
}
Tensor div(const Tensor& a, const Scalar& b) {
  return binary(ScalarOp::Div, a, b);
}
Tensor pow(const Tensor& a, const Tensor& e) {
  return binary(ScalarOp::Pow, a, e);
}
Tensor pow(const Tensor& a, const Scalar& e) {
  if (!isFloatingType(a.dtype()) && !e.isFloatingPoint() && e.toLong() < 0) {
    throw Error("Integers to negative integer powers are not allowed.");
  }
  return binary(ScalarOp::Pow, a, e);
}
Tensor pow(const Scalar& a, const Tensor& e) {
  return binary(ScalarOp::Pow, a, e);
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Maximum, a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Minimum, a, b);
}
Tensor eq(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Eq, a, b);
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Ne, a, b);
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Lt, a, b);
}
Tensor le(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Le, a, b);
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Gt, a, b);
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Ge, a, b);
}
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::And, a, b);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Or, a, b);
}

// ---- unary ----
Tensor neg(const Tensor& a) {
  if (a.dtype() == kBool) {
    throw Error(
        "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
        "invert a mask, use the `~` or `logical_not()` operator instead.");
  }
  return unary(ScalarOp::Neg, a);
}
Tensor abs(const Tensor& a) {
  return unary(ScalarOp::Abs, a);
}
Tensor exp(const Tensor& a) {
  return unary(ScalarOp::Exp, a);
}
Tensor log(const Tensor& a) {
  return unary(ScalarOp::Log, a);
}
Tensor sqrt(const Tensor& a) {
  return unary(ScalarOp::Sqrt, a);
}
Tensor rsqrt(const Tensor& a) {
  return unary(ScalarOp::Rsqrt, a);
}
Tensor sin(const Tensor& a) {
  return unary(ScalarOp::Sin, a);
}
Tensor cos(const Tensor& a) {
  return unary(ScalarOp::Cos, a);
}
Tensor tanh(const Tensor& a) {
  return unary(ScalarOp::Tanh, a);
}
Tensor sigmoid(const Tensor& a) {
  return unary(ScalarOp::Sigmoid, a);
}
Tensor relu(const Tensor& a) {
  if (a.dtype() == kBool) throw Error("\"clamp_min_scalar_cpu\" not implemented for 'Bool'");
  return unary(ScalarOp::Relu, a);
}
Tensor logical_not(const Tensor& a) {
  return unary(ScalarOp::Not, a);
}

Tensor clamp(const Tensor& a, std::optional<Scalar> min, std::optional<Scalar> max) {
  if (!min && !max) throw Error("torch.clamp: At least one of 'min' or 'max' must not be None");
  ScalarType t = a.dtype();
  if (min) t = resultType({a, *min});
  if (max) t = promoteTypes(t, resultType({a, *max}));
  std::vector<int64_t> shape = a.sizes().vec();
  ir::NodeRef v = castNode(readNode(a), t);
  if (min) v = elementwiseNode(ScalarOp::Maximum, t, {v, detail::constantNode(*min, t, shape)});
  if (max) v = elementwiseNode(ScalarOp::Minimum, t, {v, detail::constantNode(*max, t, shape)});
  Tensor out = record(std::move(v), a.device());
  autograd::recordClamp(out, a, min, max);
  return out;
}

namespace {
Tensor whereImpl(const Tensor& cond, const Operand& a, const Operand& b) {
  ScalarType t = resultType({a, b});
  std::vector<int64_t> shape =
      detail::broadcastShapes(cond.sizes().vec(), detail::broadcastShapes(shapeOf(a), shapeOf(b)));
  ir::NodeRef c = operandNode(cond, kBool, shape);
  Tensor out = record(
      elementwiseNode(ScalarOp::Where, t, {c, operandNode(a, t, shape), operandNode(b, t, shape)}),
      cond.device());
  autograd::recordWhere(out, cond, a, b);
  return out;
}
}  // namespace

Tensor where(const Tensor& c, const Tensor& a, const Tensor& b) {
  return whereImpl(c, a, b);
}
Tensor where(const Tensor& c, const Scalar& a, const Tensor& b) {
  return whereImpl(c, a, b);
}
Tensor where(const Tensor& c, const Tensor& a, const Scalar& b) {
  return whereImpl(c, a, b);
}
Tensor where(const Tensor& c, const Scalar& a, const Scalar& b) {
  return whereImpl(c, a, b);
}

// ---- out= ----
Tensor& add_out(Tensor& out, const Tensor& a, const Tensor& b, const Scalar& alpha) {
  Tensor r;
  {
    detail::DeferEager defer;
    r = kiln::add(a, b, alpha);
  }
  detail::checkCastable(r.dtype(), out.dtype());
  if (r.sizes() != out.sizes()) out = empty(r.sizes(), out.options());
  return assignResult(out, r);
}
Tensor& sub_out(Tensor& out, const Tensor& a, const Tensor& b, const Scalar& alpha) {
  Tensor r;
  {
    detail::DeferEager defer;
    r = kiln::sub(a, b, alpha);
  }
  detail::checkCastable(r.dtype(), out.dtype());
  if (r.sizes() != out.sizes()) out = empty(r.sizes(), out.options());
  return assignResult(out, r);
}
Tensor& mul_out(Tensor& out, const Tensor& a, const Tensor& b) {
  Tensor r;
  {
    detail::DeferEager defer;
    r = kiln::mul(a, b);
  }
  detail::checkCastable(r.dtype(), out.dtype());
  if (r.sizes() != out.sizes()) out = empty(r.sizes(), out.options());
  return assignResult(out, r);
}
Tensor& div_out(Tensor& out, const Tensor& a, const Tensor& b) {
  Tensor r;
  {
    detail::DeferEager defer;
    r = kiln::div(a, b);
  }
  detail::checkCastable(r.dtype(), out.dtype());
  if (r.sizes() != out.sizes()) out = empty(r.sizes(), out.options());
  return assignResult(out, r);
}

// ---- Tensor methods ----
Tensor Tensor::add(const Tensor& o, const Scalar& alpha) const {
  return kiln::add(*this, o, alpha);
}
Tensor Tensor::add(const Scalar& o, const Scalar& alpha) const {
  return kiln::add(*this, o, alpha);
}
Tensor Tensor::sub(const Tensor& o, const Scalar& alpha) const {
  return kiln::sub(*this, o, alpha);
}
Tensor Tensor::sub(const Scalar& o, const Scalar& alpha) const {
  return kiln::sub(*this, o, alpha);
}
Tensor Tensor::mul(const Tensor& o) const {
  return kiln::mul(*this, o);
}
Tensor Tensor::mul(const Scalar& o) const {
  return kiln::mul(*this, o);
}
Tensor Tensor::div(const Tensor& o) const {
  return kiln::div(*this, o);
}
Tensor Tensor::div(const Scalar& o) const {
  return kiln::div(*this, o);
}
Tensor Tensor::pow(const Tensor& e) const {
  return kiln::pow(*this, e);
}
Tensor Tensor::pow(const Scalar& e) const {
  return kiln::pow(*this, e);
}
Tensor Tensor::neg() const {
  return kiln::neg(*this);
}
Tensor Tensor::abs() const {
  return kiln::abs(*this);
}
Tensor Tensor::exp() const {
  return kiln::exp(*this);
}
Tensor Tensor::log() const {
  return kiln::log(*this);
}
Tensor Tensor::sqrt() const {
  return kiln::sqrt(*this);
}
Tensor Tensor::rsqrt() const {
  return kiln::rsqrt(*this);
}
Tensor Tensor::sin() const {
  return kiln::sin(*this);
}
Tensor Tensor::cos() const {
  return kiln::cos(*this);
}
Tensor Tensor::tanh() const {
  return kiln::tanh(*this);
}
Tensor Tensor::sigmoid() const {
  return kiln::sigmoid(*this);
}
Tensor Tensor::relu() const {
  return kiln::relu(*this);
}
Tensor Tensor::clamp(std::optional<Scalar> min, std::optional<Scalar> max) const {
  return kiln::clamp(*this, min, max);
}
Tensor Tensor::maximum(const Tensor& o) const {
  return kiln::maximum(*this, o);
}
Tensor Tensor::minimum(const Tensor& o) const {
  return kiln::minimum(*this, o);
}
Tensor Tensor::eq(const Tensor& o) const {
  return kiln::eq(*this, o);
}
Tensor Tensor::eq(const Scalar& o) const {
  return binary(ScalarOp::Eq, *this, o);
}
Tensor Tensor::ne(const Tensor& o) const {
  return kiln::ne(*this, o);
}
Tensor Tensor::ne(const Scalar& o) const {
  return binary(ScalarOp::Ne, *this, o);
}
Tensor Tensor::lt(const Tensor& o) const {
  return kiln::lt(*this, o);
}
Tensor Tensor::lt(const Scalar& o) const {
  return binary(ScalarOp::Lt, *this, o);
}
Tensor Tensor::le(const Tensor& o) const {
  return kiln::le(*this, o);
}
Tensor Tensor::le(const Scalar& o) const {
  return binary(ScalarOp::Le, *this, o);
}
Tensor Tensor::gt(const Tensor& o) const {
  return kiln::gt(*this, o);
}
Tensor Tensor::gt(const Scalar& o) const {
  return binary(ScalarOp::Gt, *this, o);
}
Tensor Tensor::ge(const Tensor& o) const {
  return kiln::ge(*this, o);
}
Tensor Tensor::ge(const Scalar& o) const {
  return binary(ScalarOp::Ge, *this, o);
}
Tensor Tensor::logical_and(const Tensor& o) const {
  return kiln::logical_and(*this, o);
}
Tensor Tensor::logical_or(const Tensor& o) const {
  return kiln::logical_or(*this, o);
}
Tensor Tensor::logical_not() const {
  return kiln::logical_not(*this);
}

Tensor& Tensor::add_(const Tensor& o, const Scalar& alpha) {
  return inPlace(*this, [&](const Tensor& self) { return kiln::add(self, o, alpha); });
}
Tensor& Tensor::add_(const Scalar& o, const Scalar& alpha) {
  return inPlace(*this, [&](const Tensor& self) { return kiln::add(self, o, alpha); });
}
Tensor& Tensor::sub_(const Tensor& o, const Scalar& alpha) {
  return inPlace(*this, [&](const Tensor& self) { return kiln::sub(self, o, alpha); });
}
Tensor& Tensor::sub_(const Scalar& o, const Scalar& alpha) {
  return inPlace(*this, [&](const Tensor& self) { return kiln::sub(self, o, alpha); });
}
Tensor& Tensor::mul_(const Tensor& o) {
  return inPlace(*this, [&](const Tensor& self) { return kiln::mul(self, o); });
}
Tensor& Tensor::mul_(const Scalar& o) {
  return inPlace(*this, [&](const Tensor& self) { return kiln::mul(self, o); });
}
Tensor& Tensor::div_(const Tensor& o) {
  return inPlace(*this, [&](const Tensor& self) { return kiln::div(self, o); });
}
Tensor& Tensor::div_(const Scalar& o) {
  return inPlace(*this, [&](const Tensor& self) { return kiln::div(self, o); });
}
Tensor& Tensor::neg_() {
  return inPlace(*this, [&](const Tensor& self) { return kiln::neg(self); });
}
Tensor& Tensor::exp_() {
  return inPlace(*this, [&](const Tensor& self) { return kiln::exp(self); });
}
Tensor& Tensor::relu_() {
  return inPlace(*this, [&](const Tensor& self) { return kiln::relu(self); });
}
Tensor& Tensor::clamp_(std::optional<Scalar> min, std::optional<Scalar> max) {
  return inPlace(*this, [&](const Tensor& self) { return kiln::clamp(self, min, max); });
}
Tensor& Tensor::fill_(const Scalar& value) {
  detail::checkInPlaceAllowed(*this, {});
  if (is_grad_enabled() && impl()->view_base && Tensor(impl()->view_base).requires_grad()) {
    return detail::assignThroughView(*this,
                                     [&](const Tensor& old) { return full_like(old, value); });
  }
  detail::assignNode(*this, detail::constantNode(value, dtype(), sizes().vec()));
  // A constant has no history: gradients stop here.
  impl()->grad_fn = nullptr;
  detail::afterRecord(*this);
  return *this;
}
Tensor& Tensor::fill_(const Tensor& value) {
  if (value.dim() != 0) {
    throw Error(absl::StrCat("fill_ only supports 0-dimension value tensor but got tensor with ",
                             value.dim(), " dimensions."));
  }
  return copy_(value);
}
Tensor& Tensor::zero_() {
  return fill_(0);
}
Tensor& Tensor::copy_(const Tensor& src, bool) {
  std::vector<int64_t> shape = sizes().vec();
  std::vector<int64_t> common = detail::broadcastShapes(shape, src.sizes().vec());
  if (common != shape) {
    throw Error(absl::StrCat("output with shape ", detail::shapeText(shape),
                             " doesn't match the broadcast shape ", detail::shapeText(common)));
  }
  detail::checkInPlaceAllowed(*this, {&src});
  Tensor expanded = src.expand(shape);
  if (autograd::needsGrad({&src, this})) {
    return inPlace(*this, [&](const Tensor&) { return expanded.to(dtype(), false, true); });
  }
  detail::assignNode(*this, castNode(readNode(expanded), dtype()));
  impl()->grad_fn = nullptr;
  detail::afterRecord(*this);
  return *this;
}

// ---- operators ----
Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
Tensor operator+(const Tensor& a, const Scalar& b) {
  return add(a, b);
}
Tensor operator+(const Scalar& a, const Tensor& b) {
  return add(b, a);
}
Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
Tensor operator-(const Tensor& a, const Scalar& b) {
  return sub(a, b);
}
Tensor operator-(const Scalar& a, const Tensor& b) {
  if (b.dtype() == kBool) sub(b, a);
  return binary(ScalarOp::Sub, a, b);
}
Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
Tensor operator*(const Tensor& a, const Scalar& b) {
  return mul(a, b);
}
Tensor operator*(const Scalar& a, const Tensor& b) {
  return mul(b, a);
}
Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
Tensor operator/(const Tensor& a, const Scalar& b) {
  return div(a, b);
}
Tensor operator/(const Scalar& a, const Tensor& b) {
  return binary(ScalarOp::Div, a, b);
}
Tensor operator-(const Tensor& a) {
  return neg(a);
}
Tensor operator==(const Tensor& a, const Tensor& b) {
  return eq(a, b);
}
Tensor operator==(const Tensor& a, const Scalar& b) {
  return a.eq(b);
}
Tensor operator!=(const Tensor& a, const Tensor& b) {
  return ne(a, b);
}
Tensor operator!=(const Tensor& a, const Scalar& b) {
  return a.ne(b);
}
Tensor operator<(const Tensor& a, const Tensor& b) {
  return lt(a, b);
}
Tensor operator<(const Tensor& a, const Scalar& b) {
  return a.lt(b);
}
Tensor operator<=(const Tensor& a, const Tensor& b) {
  return le(a, b);
}
Tensor operator<=(const Tensor& a, const Scalar& b) {
  return a.le(b);
}
Tensor operator>(const Tensor& a, const Tensor& b) {
  return gt(a, b);
}
Tensor operator>(const Tensor& a, const Scalar& b) {
  return a.gt(b);
}
Tensor operator>=(const Tensor& a, const Tensor& b) {
  return ge(a, b);
}
Tensor operator>=(const Tensor& a, const Scalar& b) {
  return a.ge(b);
}
Tensor operator&&(const Tensor& a, const Tensor& b) {
  return logical_and(a, b);
}
Tensor operator||(const Tensor& a, const Tensor& b) {
  return logical_or(a, b);
}
Tensor operator!(const Tensor& a) {
  return logical_not(a);
}
Tensor& operator+=(Tensor& a, const Tensor& b) {
  return a.add_(b);
}
Tensor& operator+=(Tensor& a, const Scalar& b) {
  return a.add_(b);
}
Tensor& operator-=(Tensor& a, const Tensor& b) {
  return a.sub_(b);
}
Tensor& operator-=(Tensor& a, const Scalar& b) {
  return a.sub_(b);
}
Tensor& operator*=(Tensor& a, const Tensor& b) {
  return a.mul_(b);
}
Tensor& operator*=(Tensor& a, const Scalar& b) {
  return a.mul_(b);
}
Tensor& operator/=(Tensor& a, const Tensor& b) {
  return a.div_(b);
}
Tensor& operator/=(Tensor& a, const Scalar& b) {
  return a.div_(b);
}

}  // namespace kiln
