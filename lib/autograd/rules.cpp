// Backward rules, one per op, written with kiln's differentiable ops. Names follow PyTorch's
// grad_fn classes (as Python prints them).
#include "lib/autograd/rules.h"

#include <absl/strings/str_cat.h>

#include <cctype>
#include <cmath>
#include <string_view>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/autograd/function.h"
#include "lib/frontend/elementwise.h"

namespace kiln::autograd {
namespace {

const Tensor& tensorOf(const detail::Operand& o) {
  static const Tensor undefined;
  return o.tensor ? *o.tensor : undefined;
}

std::string backwardName(ScalarOp op, const detail::Operand& a, const detail::Operand& b) {
  switch (op) {
    case ScalarOp::Add:
      return "AddBackward0";
    case ScalarOp::Sub:
      return a.tensor ? "SubBackward0" : "RsubBackward1";
    case ScalarOp::Mul:
      return "MulBackward0";
    case ScalarOp::Div:
      return "DivBackward0";
    case ScalarOp::Pow:
      return !a.tensor ? "PowBackward2" : b.tensor ? "PowBackward1" : "PowBackward0";
    case ScalarOp::Maximum:
      return "MaximumBackward0";
    case ScalarOp::Minimum:
      return "MinimumBackward0";
    case ScalarOp::Mod:
      return b.tensor ? "RemainderBackward1" : "RemainderBackward0";
    case ScalarOp::Fmod:
      return b.tensor ? "FmodBackward1" : "FmodBackward0";
    default:
      return absl::StrCat(std::string(info(op).name), "Backward0");
  }
}

// The ATen name of an op, where it differs from its text name.
std::string atenName(ScalarOp op) {
  return op == ScalarOp::FloorDiv ? "floor_divide" : std::string(info(op).name);
}

// a / b rounded toward zero, as PyTorch's div(rounding_mode="trunc"), recorded without history:
// a piecewise constant, whose own derivative is zero. An infinite quotient (b = 0) stays
// infinite: its fraction fmod(q, 1) is NaN, and q minus it would be too.
Tensor truncQuotient(const detail::Operand& a, const Tensor& b) {
  Tensor q = detail::binaryOp(ScalarOp::Div, a, b);
  Tensor fraction = detail::binaryOp(ScalarOp::Fmod, q, Scalar(1));
  return detail::whereOp(detail::binaryOp(ScalarOp::Ne, fraction, fraction), q,
                         detail::binaryOp(ScalarOp::Sub, q, fraction));
}

// What a rule needs of an operand it does not save: whether it is a tensor that requires grad,
// and its shape and dtype. Saving the tensor itself would make later in-place changes to it fail
// backward, where PyTorch's rules (which save only what their formulas read) succeed.
struct Operand {
  bool wants_grad = false;
  std::vector<int64_t> sizes;
  ScalarType dtype = kFloat;
};

Operand describe(const Tensor& t) {
  if (!t.defined()) return {};
  return Operand{t.requires_grad(), t.sizes().vec(), t.dtype()};
}

// A gradient for the operand `x` of the op: reduced over broadcasting and in x's dtype; none
// where x needs none.
Tensor forInput(const Tensor& g, const Operand& x) {
  if (!x.wants_grad) return {};
  Tensor r = sumTo(g, x.sizes);
  return r.dtype() == x.dtype ? r : r.to(x.dtype);
}

Tensor forInput(const Tensor& g, const Tensor& x) {
  if (!x.defined()) return {};
  Tensor r = sumTo(g, x.sizes());
  return r.dtype() == x.dtype() ? r : r.to(x.dtype());
}

}  // namespace

void recordBinary(ScalarOp op, Tensor& out, const detail::Operand& a, const detail::Operand& b,
                  const Scalar& alpha) {
  const Tensor& ta = tensorOf(a);
  const Tensor& tb = tensorOf(b);
  if (!needsGrad({&ta, &tb})) return;
  if (info(op).grad == ir::GradKind::NotImplemented) {
    // As in PyTorch, the op records a grad_fn that fails only if backward reaches it.
    std::string what = absl::StrCat("derivative for aten::", atenName(op), " is not implemented");
    record(out, "torch::autograd::NotImplemented", {ta, tb}, {},
           [what](const Tensor&, const std::vector<Tensor>&) -> std::vector<Tensor> {
             throw Error(what);
           });
    return;
  }
  Scalar sa = a.scalar, sb = b.scalar;
  Operand da = describe(ta), db = describe(tb);
  Rule rule;
  std::vector<Tensor> saved;
  int out_index = -1;
  switch (op) {
    case ScalarOp::Add:
    case ScalarOp::Sub: {
      // Nothing of either operand is saved: the gradients are g, scaled.
      double sign = op == ScalarOp::Sub ? -1.0 : 1.0;
      double scale = sign * alpha.toDouble();
      bool a_is_tensor = a.tensor != nullptr;
      rule = [scale, a_is_tensor, sign, da, db](const Tensor& g, const std::vector<Tensor>&) {
        // scalar - tensor (rsub) negates the tensor operand, which is b here.
        Tensor ga = forInput(g, da);
        Tensor gb = forInput(a_is_tensor ? (scale == 1.0 ? g : g * scale) : g * sign, db);
        return std::vector<Tensor>{ga, gb};
      };
      break;
    }
    case ScalarOp::Mul:
      // Each operand is saved only for the other's gradient (x * 2 saves nothing of x).
      saved = {db.wants_grad ? ta : Tensor(), da.wants_grad ? tb : Tensor()};
      rule = [sa, sb, da, db](const Tensor& g, const std::vector<Tensor>& s) {
        Tensor ga = da.wants_grad ? forInput(s[1].defined() ? g * s[1] : g * sb, da) : Tensor();
        Tensor gb = db.wants_grad ? forInput(s[0].defined() ? g * s[0] : g * sa, db) : Tensor();
        return std::vector<Tensor>{ga, gb};
      };
      break;
    case ScalarOp::Div:
      // a's gradient reads b; b's reads a and b.
      saved = {db.wants_grad ? ta : Tensor(), da.wants_grad || db.wants_grad ? tb : Tensor()};
      rule = [sa, sb, da, db](const Tensor& g, const std::vector<Tensor>& s) {
        Tensor ga, gb;
        if (da.wants_grad) ga = forInput(s[1].defined() ? g / s[1] : g / sb, da);
        if (db.wants_grad) {
          Tensor num = s[0].defined() ? -g * s[0] : -g * sa;
          gb = forInput(num / (s[1] * s[1]), db);
        }
        return std::vector<Tensor>{ga, gb};
      };
      break;
    case ScalarOp::Pow: {
      // PyTorch's pow_backward, pow_backward_self and pow_backward_exponent: a tensor raised to
      // a scalar saves its base; a scalar raised to a tensor saves the exponent and the result;
      // a tensor raised to a tensor saves both operands and the result (PyTorch saves a result
      // whether or not the gradient that reads it is wanted). Zero bases and exponents give zero
      // gradients where the formulas divide by zero.
      bool result_needed = b.tensor != nullptr;
      saved = {ta, tb, result_needed ? out : Tensor()};
      out_index = 2;
      rule = [sa, sb, da, db](const Tensor& g, const std::vector<Tensor>& s) {
        Tensor ga, gb;
        if (da.wants_grad) {
          if (s[1].defined()) {
            Tensor d = g * s[1] * pow(s[0], s[1] - 1);
            ga = forInput(where(s[1] == 0, zeros_like(d), d), da);
          } else if (sb.toDouble() == 0.0) {
            ga = zeros_like(s[0]);
          } else {
            ga = forInput(g * sb * pow(s[0], sb.toDouble() - 1), da);
          }
        }
        if (db.wants_grad) {
          // The zero for a zero base is chosen before g multiplies, as in PyTorch's
          // pow_backward_exponent: an infinite g there gives NaN, not 0.
          Tensor d;
          if (s[0].defined()) {
            d = s[2] * log(s[0]);
            d = where(logical_and(s[0] == 0, s[1] >= 0), zeros_like(d), d);
          } else {
            d = s[2] * std::log(sa.toDouble());
            if (sa.toDouble() == 0.0) d = where(s[1] >= 0, zeros_like(d), d);
          }
          gb = forInput(g * d, db);
        }
        return std::vector<Tensor>{ga, gb};
      };
      break;
    }
    case ScalarOp::Maximum:
    case ScalarOp::Minimum: {
      bool is_max = op == ScalarOp::Maximum;
      saved = {ta, tb};
      rule = [is_max](const Tensor& g, const std::vector<Tensor>& s) {
        // PyTorch's formula: ties share the gradient equally, and only the operand that loses
        // gets none (a NaN, which loses no comparison, passes the gradient to both).
        Tensor shared = where(s[0] == s[1], g / 2, g);
        Tensor a_loses = is_max ? s[0] < s[1] : s[0] > s[1];
        Tensor b_loses = is_max ? s[0] > s[1] : s[0] < s[1];
        Tensor ga = where(a_loses, zeros_like(g), shared);
        Tensor gb = where(b_loses, zeros_like(g), shared);
        return std::vector<Tensor>{forInput(ga, s[0]), forInput(gb, s[1])};
      };
      break;
    }
    case ScalarOp::Mod:
    case ScalarOp::Fmod: {
      // The gradient for b is minus the rounded quotient (floored for remainder, truncated for
      // fmod), a piecewise constant recorded without history.
      // Both operands are saved only for b's gradient (a's is g itself).
      bool floor = op == ScalarOp::Mod;
      if (db.wants_grad) saved = {ta, tb};
      rule = [sa, floor, da, db](const Tensor& g, const std::vector<Tensor>& s) {
        Tensor gb;
        if (db.wants_grad) {
          detail::Operand num = s[0].defined() ? detail::Operand(s[0]) : detail::Operand(sa);
          Tensor q =
              floor ? detail::binaryOp(ScalarOp::FloorDiv, num, s[1]) : truncQuotient(num, s[1]);
          gb = forInput(-g * q, db);
        }
        return std::vector<Tensor>{forInput(g, da), gb};
      };
      break;
    }
    default:
      throw Error(
          absl::StrCat("the derivative for '", std::string(info(op).name), "' is not implemented"));
  }
  record(out, backwardName(op, a, b), {ta, tb}, std::move(saved), std::move(rule), out_index);
}

namespace {
// The vector-Jacobian products of the unary ops whose row in lib/ir/ops.def gives one: the
// gradient of the operand x from the gradient g of the result y.
using UnaryVjp = Tensor (*)(const Tensor& g, const Tensor& x, const Tensor& y);
// Whether `formula` names the variable `var` (a one-letter identifier): the rule saves x, y or
// both only where its formula reads them, as PyTorch's do (exp, tanh, sigmoid, sqrt and relu save
// their result, not their operand), so that in-place changes to what is not saved are allowed.
constexpr bool names(std::string_view formula, char var) {
  auto ident = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  for (size_t i = 0; i < formula.size(); ++i) {
    if (formula[i] == var && (i == 0 || (!ident(formula[i - 1]) && formula[i - 1] != '.')) &&
        (i + 1 == formula.size() || !ident(formula[i + 1]))) {
      return true;
    }
  }
  return false;
}

struct UnaryRule {
  UnaryVjp vjp;
  bool saves_x;
  bool saves_y;
};
#define VJP_None \
  { nullptr, false, false }
#define VJP_Vjp(...)                                                                         \
  {                                                                                          \
    [](const Tensor& g, const Tensor& x, const Tensor& y) -> Tensor { return __VA_ARGS__; }, \
        names(#__VA_ARGS__, 'x'), names(#__VA_ARGS__, 'y')                                   \
  }
#define VJP_Custom \
  { nullptr, false, false }
#define VJP_NotImplemented \
  { nullptr, false, false }
constexpr UnaryRule kUnaryVjps[] = {
#define X(name, text, arity, dtype, grad, reference) VJP_##grad,
#include "lib/ir/ops.def"
#undef X
};
#undef VJP_None
#undef VJP_Vjp
#undef VJP_Custom
#undef VJP_NotImplemented
static_assert(!kUnaryVjps[static_cast<int>(ScalarOp::Exp)].saves_x &&
              kUnaryVjps[static_cast<int>(ScalarOp::Exp)].saves_y);
static_assert(kUnaryVjps[static_cast<int>(ScalarOp::Sin)].saves_x &&
              !kUnaryVjps[static_cast<int>(ScalarOp::Sin)].saves_y);
}  // namespace

void recordUnary(ScalarOp op, Tensor& out, const Tensor& a) {
  if (!needsGrad({&a})) return;
  const UnaryRule& unary = kUnaryVjps[static_cast<int>(op)];
  UnaryVjp vjp = unary.vjp;
  if (!vjp) {
    throw Error(
        absl::StrCat("the derivative for '", std::string(info(op).name), "' is not implemented"));
  }
  std::string name = absl::StrCat(std::string(info(op).name), "Backward0");
  name[0] = static_cast<char>(std::toupper(name[0]));
  record(
      out, std::move(name), {a}, {unary.saves_x ? a : Tensor(), unary.saves_y ? out : Tensor()},
      [vjp](const Tensor& g, const std::vector<Tensor>& s) {
        return std::vector<Tensor>{vjp(g, s[0], s[1])};
      },
      1);
}

void recordClamp(Tensor& out, const Tensor& a, std::optional<Scalar> min,
                 std::optional<Scalar> max) {
  if (!needsGrad({&a})) return;
  record(out, "ClampBackward1", {a}, {a},
         [min, max](const Tensor& g, const std::vector<Tensor>& s) {
           Tensor inside = ones_like(s[0], kBool);
           if (min) inside = logical_and(inside, s[0] >= *min);
           if (max) inside = logical_and(inside, s[0] <= *max);
           // Selected, not multiplied, as PyTorch's clamp_backward: a NaN or infinite gradient
           // outside the range gives 0 there, not NaN.
           return std::vector<Tensor>{where(inside, g, zeros_like(g))};
         });
}

void recordWhere(Tensor& out, const Tensor& cond, const detail::Operand& a,
                 const detail::Operand& b) {
  const Tensor& ta = tensorOf(a);
  const Tensor& tb = tensorOf(b);
  if (!needsGrad({&ta, &tb})) return;
  Operand da = describe(ta), db = describe(tb);
  record(out, "WhereBackward0", {ta, tb}, {cond},
         [da, db](const Tensor& g, const std::vector<Tensor>& s) {
           Tensor z = zeros_like(g);
           return std::vector<Tensor>{forInput(where(s[0], g, z), da),
                                      forInput(where(s[0], z, g), db)};
         });
}

void recordCast(Tensor& out, const Tensor& a) {
  if (!needsGrad({&a}) || !isFloatingType(out.dtype())) return;
  ScalarType from = a.dtype();
  record(out, "ToCopyBackward0", {a}, {}, [from](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{g.to(from)};
  });
}

void recordView(Tensor& out, const Tensor& a, const char* name,
                std::function<Tensor(const Tensor&)> backward) {
  if (!needsGrad({&a})) return;
  record(out, name, {a}, {}, [backward](const Tensor& g, const std::vector<Tensor>&) {
    return std::vector<Tensor>{backward(g)};
  });
}

void recordReduction(Tensor& out, const Tensor& a, const char* name, Saves saves,
                     std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> backward) {
  if (!needsGrad({&a})) return;
  bool input = saves == Saves::Input || saves == Saves::Both;
  bool output = saves == Saves::Output || saves == Saves::Both;
  record(
      out, name, {a}, {input ? a : Tensor(), output ? out : Tensor()},
      [backward](const Tensor& g, const std::vector<Tensor>& s) {
        return std::vector<Tensor>{backward(g, s[0], s[1])};
      },
      1);
}

namespace {

// Whether the last two dimensions of `t` lie transposed in memory (a weight read as w.t()).
bool transposedLayout(const Tensor& t) {
  return t.size(-1) > 1 && t.size(-2) > 1 && t.stride(-2) == 1 && t.stride(-1) != 1;
}

}  // namespace

void recordMatmul(Tensor& out, const Tensor& a, const Tensor& b, const char* name) {
  if (!needsGrad({&a, &b})) return;
  // Each operand is saved only for the other's gradient, as PyTorch's mm and bmm save them.
  Operand da = describe(a), db = describe(b);
  bool a_transposed = transposedLayout(a), b_transposed = transposedLayout(b);
  record(out, name, {a, b}, {db.wants_grad ? a : Tensor(), da.wants_grad ? b : Tensor()},
         [da, db, a_transposed, b_transposed](const Tensor& g, const std::vector<Tensor>& s) {
           // Both operands have >= 2 dims here (matmul's 1-D cases are views around this). An
           // operand transposed in memory gets its gradient computed as the transposed product,
           // so that the gradient lies as the operand does (as PyTorch's mm backward does): a
           // linear layer's weight gradient is then stored as the weight is, and its reader (an
           // optimizer's update) walks both with unit stride.
           auto t = [](const Tensor& x) { return x.transpose(-1, -2); };
           Tensor ga, gb;
           if (da.wants_grad) ga = a_transposed ? t(matmul(s[1], t(g))) : matmul(g, t(s[1]));
           if (db.wants_grad) gb = b_transposed ? t(matmul(t(g), s[0])) : matmul(t(s[0]), g);
           return std::vector<Tensor>{forInput(ga, da), forInput(gb, db)};
         });
}

void recordCat(Tensor& out, const std::vector<Tensor>& inputs, int64_t dim) {
  if (!needsGrad(inputs)) return;
  std::vector<int64_t> sizes;
  std::vector<ScalarType> dtypes;  // a part of another type than the result's gets its own back
  for (const Tensor& t : inputs) {
    sizes.push_back(t.dim() == 1 && t.numel() == 0 ? 0 : t.size(dim));
    dtypes.push_back(t.dtype());
  }
  record(out, "CatBackward0", inputs, {},
         [sizes, dtypes, dim](const Tensor& g, const std::vector<Tensor>&) {
           std::vector<Tensor> gs;
           int64_t at = 0;
           for (size_t i = 0; i < sizes.size(); ++i) {
             Tensor part = g.narrow(dim, at, sizes[i]);
             gs.push_back(part.dtype() == dtypes[i] ? part : part.to(dtypes[i]));
             at += sizes[i];
           }
           return gs;
         });
}

Tensor embedView(const Tensor& grad, IntArrayRef input_sizes, ScalarType dtype,
                 const std::function<Tensor(const Tensor&)>& view) {
  Tensor z;
  {
    NoGradGuard no_grad;
    z = zeros(input_sizes, TensorOptions(dtype));
    view(z).copy_(grad);
  }
  record(z, "AsStridedScatterBackward0", {grad}, {},
         [view](const Tensor& gg, const std::vector<Tensor>&) {
           return std::vector<Tensor>{view(gg)};
         });
  return z;
}

}  // namespace kiln::autograd
