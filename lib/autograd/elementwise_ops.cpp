// The public elementwise functions, operators and Tensor methods (libtorch's names). Each
// records its node through the front end's raw op (lib/frontend/elementwise.h), then attaches
// its backward rule (rules.h); in-place forms go through in_place.h.
#include "lib/autograd/elementwise_ops.h"

#include <absl/strings/str_cat.h>

#include <limits>
#include <optional>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/autograd/function.h"
#include "lib/autograd/in_place.h"
#include "lib/autograd/rules.h"
#include "lib/frontend/elementwise.h"
#include "lib/frontend/tensor_impl.h"

namespace kiln {
namespace {

using detail::Operand;

// Whether autograd follows the op (its row's grad column in lib/ir/ops.def).
bool differentiable(ScalarOp op) {
  return ir::info(op).grad != ir::GradKind::None;
}

Tensor unary(ScalarOp op, const Tensor& a) {
  Tensor out = detail::unaryOp(op, a);
  if (differentiable(op)) autograd::recordUnary(op, out, a);
  return out;
}

Tensor binary(ScalarOp op, const Operand& a, const Operand& b) {
  Tensor out = detail::binaryOp(op, a, b);
  if (differentiable(op)) autograd::recordBinary(op, out, a, b);
  return out;
}

Tensor addTensor(ScalarOp op, const Tensor& a, const Operand& b, const Scalar& alpha) {
  Tensor out = detail::addOp(op, a, b, alpha);
  autograd::recordBinary(op, out, a, b, alpha);
  return out;
}

Tensor whereImpl(const Tensor& cond, const Operand& a, const Operand& b) {
  Tensor out = detail::whereOp(cond, a, b);
  autograd::recordWhere(out, cond, a, b);
  return out;
}

// An out= form: `op`'s result (recorded as one graph with the write) replaces out's elements;
// out is resized first when its shape differs, as libtorch does. As in PyTorch, out= forms are
// not differentiable: refused while recording when an argument or out requires grad.
template <typename Op>
Tensor& intoOut(Tensor& out, const char* name, const Tensor& a, const Tensor& b, Op op) {
  if (autograd::needsGrad({&a, &b, &out})) {
    throw Error(absl::StrCat(name,
                             "(): functions with out=... arguments don't support automatic "
                             "differentiation, but one of the arguments requires grad."));
  }
  Tensor r;
  {
    detail::DeferEager defer;
    r = op();
  }
  detail::checkCastable(r.dtype(), out.dtype());
  if (r.sizes() == out.sizes()) return autograd::assignResult(out, r);
  // `out` changes only once the op has succeeded.
  Tensor resized = empty(r.sizes(), out.options().requires_grad(out.requires_grad()));
  autograd::assignResult(resized, r);
  out = resized;
  return out;
}

}  // namespace

namespace autograd {

Tensor elementwiseOp(ScalarOp op, ScalarType dtype, const std::vector<Tensor>& inputs) {
  Tensor out = detail::instructionOp(op, dtype, inputs);
  if (!isFloatingType(out.dtype()) || !needsGrad(inputs)) return out;
  if (op == ScalarOp::Cast) {
    recordCast(out, inputs[0]);
  } else if (op == ScalarOp::Where) {
    recordWhere(out, inputs[0], inputs[1], inputs[2]);
  } else if (inputs.size() == 2) {
    recordBinary(op, out, inputs[0], inputs[1]);
  } else {
    recordUnary(op, out, inputs[0]);
  }
  return out;
}

}  // namespace autograd

// ---- binary arithmetic ----
Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  return addTensor(ScalarOp::Add, a, b, alpha);
}
Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha) {
  return addTensor(ScalarOp::Add, a, b, alpha);
}
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  return addTensor(ScalarOp::Sub, a, b, alpha);
}
Tensor sub(const Tensor& a, const Scalar& b, const Scalar& alpha) {
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
  return binary(ScalarOp::Pow, a, e);
}
Tensor pow(const Scalar& a, const Tensor& e) {
  return binary(ScalarOp::Pow, a, e);
}
Tensor floor_divide(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::FloorDiv, a, b);
}
Tensor floor_divide(const Tensor& a, const Scalar& b) {
  return binary(ScalarOp::FloorDiv, a, b);
}
Tensor remainder(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Mod, a, b);
}
Tensor remainder(const Tensor& a, const Scalar& b) {
  return binary(ScalarOp::Mod, a, b);
}
Tensor remainder(const Scalar& a, const Tensor& b) {
  return binary(ScalarOp::Mod, a, b);
}
Tensor fmod(const Tensor& a, const Tensor& b) {
  return binary(ScalarOp::Fmod, a, b);
}
Tensor fmod(const Tensor& a, const Scalar& b) {
  return binary(ScalarOp::Fmod, a, b);
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

// ---- unary: one definition per row of kiln/unary_ops.def ----
#define KILN_UNARY_OP(name, op)                                                           \
  Tensor name(const Tensor& a) {                                                          \
    return unary(ScalarOp::op, a);                                                        \
  }                                                                                       \
  Tensor Tensor::name() const {                                                           \
    return kiln::name(*this);                                                             \
  }                                                                                       \
  Tensor& Tensor::name##_() const {                                                       \
    return autograd::inPlace(*this, [](const Tensor& self) { return kiln::name(self); }); \
  }
#include "kiln/unary_ops.def"
#undef KILN_UNARY_OP

Tensor clamp(const Tensor& a, std::optional<Scalar> min, std::optional<Scalar> max) {
  Tensor out = detail::clampOp(a, min, max);
  autograd::recordClamp(out, a, min, max);
  return out;
}

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
  return intoOut(out, "add", a, b, [&] { return kiln::add(a, b, alpha); });
}
Tensor& sub_out(Tensor& out, const Tensor& a, const Tensor& b, const Scalar& alpha) {
  return intoOut(out, "sub", a, b, [&] { return kiln::sub(a, b, alpha); });
}
Tensor& mul_out(Tensor& out, const Tensor& a, const Tensor& b) {
  return intoOut(out, "mul", a, b, [&] { return kiln::mul(a, b); });
}
Tensor& div_out(Tensor& out, const Tensor& a, const Tensor& b) {
  return intoOut(out, "div", a, b, [&] { return kiln::div(a, b); });
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
Tensor Tensor::floor_divide(const Tensor& o) const {
  return kiln::floor_divide(*this, o);
}
Tensor Tensor::floor_divide(const Scalar& o) const {
  return kiln::floor_divide(*this, o);
}
Tensor Tensor::remainder(const Tensor& o) const {
  return kiln::remainder(*this, o);
}
Tensor Tensor::remainder(const Scalar& o) const {
  return kiln::remainder(*this, o);
}
Tensor Tensor::fmod(const Tensor& o) const {
  return kiln::fmod(*this, o);
}
Tensor Tensor::fmod(const Scalar& o) const {
  return kiln::fmod(*this, o);
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

Tensor& Tensor::add_(const Tensor& o, const Scalar& alpha) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::add(self, o, alpha); });
}
Tensor& Tensor::add_(const Scalar& o, const Scalar& alpha) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::add(self, o, alpha); });
}
Tensor& Tensor::sub_(const Tensor& o, const Scalar& alpha) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::sub(self, o, alpha); });
}
Tensor& Tensor::sub_(const Scalar& o, const Scalar& alpha) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::sub(self, o, alpha); });
}
Tensor& Tensor::mul_(const Tensor& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::mul(self, o); });
}
Tensor& Tensor::mul_(const Scalar& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::mul(self, o); });
}
Tensor& Tensor::div_(const Tensor& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::div(self, o); });
}
Tensor& Tensor::div_(const Scalar& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::div(self, o); });
}
Tensor& Tensor::floor_divide_(const Tensor& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::floor_divide(self, o); });
}
Tensor& Tensor::floor_divide_(const Scalar& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::floor_divide(self, o); });
}
Tensor& Tensor::remainder_(const Tensor& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::remainder(self, o); });
}
Tensor& Tensor::remainder_(const Scalar& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::remainder(self, o); });
}
Tensor& Tensor::fmod_(const Tensor& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::fmod(self, o); });
}
Tensor& Tensor::fmod_(const Scalar& o) const {
  return autograd::inPlace(*this, [&](const Tensor& self) { return kiln::fmod(self, o); });
}
namespace {
// The C++ name of a dtype's element type (as c10::TypeMeta prints it), where kiln has one.
std::string typeMetaName(ScalarType t) {
  if (t == kBool) return "bool";
  if (t == kInt) return "int";
  if (t == kLong) return "long int";
  if (t == kFloat) return "float";
  if (t == kDouble) return "double";
  return std::string(toString(t));
}
}  // namespace
Tensor& Tensor::clamp_(std::optional<Scalar> min, std::optional<Scalar> max) const {
  return autograd::inPlace(*this, [&](const Tensor& self) {
    Tensor r = kiln::clamp(self, min, max);
    // libtorch's clamp_ names the output's type by its C++ name here ("long int").
    if (!canCast(r.dtype(), dtype())) {
      throw Error(absl::StrCat("result type ", std::string(toString(r.dtype())),
                               " can't be cast to the desired output type ",
                               typeMetaName(dtype())));
    }
    return r;
  });
}
namespace {
// The new value of an in-place op that overwrites self (fill_, zero_, copy_): as in PyTorch, it
// gets a grad_fn `name` giving the old value a zero gradient, so a self that requires grad keeps
// requiring it and its old history gets nothing from the overwritten elements.
Tensor overwritten(const char* name, const Tensor& old, Tensor value) {
  // A value with history of its own (copy_ from a tensor that requires grad) passes the gradient
  // on to that history, recorded after it, and self's old history still gets its zero gradient,
  // as from PyTorch's CopyBackwards: a leaf behind it gets a defined grad() of zeros.
  autograd::record(value, name, {old, value}, {}, [](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{zeros_like(g), g};
  });
  return value;
}

// An expanded view (a stride of 0 over a size above 1) names one element many times: as in
// PyTorch, fill_ and zero_ (with a number or a 0-dim tensor) write each of its elements once,
// through this view without the repetition (other in-place ops refuse such a view). Nullopt
// when self names each element once.
std::optional<Tensor> withoutRepeats(const Tensor& self) {
  std::vector<int64_t> once = self.sizes().vec();
  bool repeats = false;
  for (size_t d = 0; d < once.size(); ++d) {
    if (once[d] > 1 && self.strides()[d] == 0) {
      once[d] = 1;
      repeats = true;
    }
  }
  if (!repeats) return std::nullopt;
  return detail::makeView(self, once, self.strides().vec(), self.storage_offset());
}

Tensor& fillScalar(Tensor& self, const Scalar& value, const char* name) {
  if (std::optional<Tensor> once = withoutRepeats(self)) {
    fillScalar(*once, value, name);
    return self;
  }
  autograd::checkInPlaceAllowed(self, {});
  auto op = [&](const Tensor& old) { return overwritten(name, old, full_like(old, value)); };
  if (is_grad_enabled() && self.impl()->view_base &&
      Tensor(self.impl()->view_base).requires_grad()) {
    return autograd::assignThroughView(self, op);
  }
  if (autograd::needsGrad({&self})) return autograd::inPlace(self, op);
  // Without recording (no input requires grad, or grad mode is off) self keeps its history, as
  // in PyTorch.
  detail::assignAndRecord(self, detail::constantNode(value, self.dtype(), self.sizes().vec()));
  return self;
}
}  // namespace

Tensor& Tensor::fill_(const Scalar& value) const {
  return fillScalar(const_cast<Tensor&>(*this), value, "FillBackward2");
}
Tensor& Tensor::fill_(const Tensor& value) const {
  if (value.dim() != 0) {
    throw Error(absl::StrCat("fill_ only supports 0-dimension value tensor but got tensor with ",
                             value.dim(), " dimensions."));
  }
  if (std::optional<Tensor> once = withoutRepeats(*this)) {
    once->fill_(value);
    return const_cast<Tensor&>(*this);
  }
  if (!autograd::needsGrad({&value, this})) return copy_(value);
  autograd::checkInPlaceAllowed(*this, {&value});
  // PyTorch's FillBackward3: self's old value gets zero, the value the sum of the gradient.
  // The value is read first, as PyTorch's fill_ reads it.
  ScalarType value_dtype = value.dtype();
  return autograd::inPlace(*this, [&](const Tensor& old) {
    Tensor r = detail::fromNode(
        detail::castNode(detail::readNode(value.expand(old.sizes())), old.dtype()), old.device());
    autograd::record(r, "FillBackward3", {old, value}, {},
                     [value_dtype](const Tensor& g, const std::vector<Tensor>&) {
                       Tensor gv = g.sum();
                       return std::vector<Tensor>{
                           zeros_like(g), gv.dtype() == value_dtype ? gv : gv.to(value_dtype)};
                     });
    return r;
  });
}
Tensor& Tensor::zero_() const {
  return fillScalar(const_cast<Tensor&>(*this), 0, "ZeroBackward0");
}
Tensor& Tensor::copy_(const Tensor& src, bool) const {
  // libtorch's autograd refuses a leaf before its kernel looks at the shapes.
  autograd::checkInPlaceAllowed(*this, {&src});
  std::vector<int64_t> shape = sizes().vec();
  std::vector<int64_t> common = detail::broadcastShapes(shape, src.sizes().vec());
  if (common != shape) {
    throw Error(absl::StrCat("output with shape ", detail::shapeText(shape),
                             " doesn't match the broadcast shape ", detail::shapeText(common)));
  }
  // fill_ copies its 0-dim value through here, and reads it first as PyTorch's fill_ does.
  if (src.dim() != 0) detail::checkNoPartialOverlap(*this, src);
  Tensor expanded = src.expand(shape);
  if (autograd::needsGrad({&src, this})) {
    return autograd::inPlace(*this, [&](const Tensor& old) {
      return overwritten("torch::autograd::CopyBackwards", old, expanded.to(dtype(), false, true));
    });
  }
  // A tensor is a handle: the write goes to what it refers to, so a const handle allows it.
  Tensor& self = const_cast<Tensor&>(*this);
  detail::assignAndRecord(self, detail::castNode(detail::readNode(expanded), dtype()));
  return self;
}

// ---- isnan, isinf, isfinite: comparisons (kBool results, no gradient) ----
Tensor isnan(const Tensor& a) {
  return a != a;
}
Tensor isinf(const Tensor& a) {
  if (!isFloatingType(a.dtype())) return zeros_like(a, kBool);
  return a.abs() == std::numeric_limits<double>::infinity();
}
Tensor isfinite(const Tensor& a) {
  if (!isFloatingType(a.dtype())) return ones_like(a, kBool);
  return logical_and(a == a, a.abs() != std::numeric_limits<double>::infinity());
}
Tensor Tensor::isnan() const {
  return kiln::isnan(*this);
}
Tensor Tensor::isinf() const {
  return kiln::isinf(*this);
}
Tensor Tensor::isfinite() const {
  return kiln::isfinite(*this);
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
Tensor operator%(const Tensor& a, const Tensor& b) {
  return remainder(a, b);
}
Tensor operator%(const Tensor& a, const Scalar& b) {
  return remainder(a, b);
}
Tensor operator%(const Scalar& a, const Tensor& b) {
  return remainder(a, b);
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
