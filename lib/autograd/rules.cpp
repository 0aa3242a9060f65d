// Backward rules, one per op, written with kiln's differentiable ops. Names follow PyTorch's
// grad_fn classes (as Python prints them).
#include "lib/autograd/rules.h"

#include <absl/strings/str_cat.h>

#include <cctype>
#include <cmath>

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
// a piecewise constant, whose own derivative is zero.
Tensor truncQuotient(const detail::Operand& a, const Tensor& b) {
  Tensor q = detail::binaryOp(ScalarOp::Div, a, b);
  return detail::binaryOp(ScalarOp::Sub, q, detail::binaryOp(ScalarOp::Fmod, q, Scalar(1)));
}

// A gradient for input `x` of the op: reduced over broadcasting and in x's dtype.
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
    std::string what = absl::StrCat("derivative for ", atenName(op), " is not implemented");
    record(out, "torch::autograd::NotImplemented", {ta, tb}, {},
           [what](const Tensor&, const std::vector<Tensor>&) -> std::vector<Tensor> {
             throw Error(what);
           });
    return;
  }
  Scalar sa = a.scalar, sb = b.scalar;
  Rule rule;
  std::vector<Tensor> saved;
  int out_index = -1;
  switch (op) {
    case ScalarOp::Add:
    case ScalarOp::Sub: {
      double sign = op == ScalarOp::Sub ? -1.0 : 1.0;
      double scale = sign * alpha.toDouble();
      bool a_is_tensor = a.tensor != nullptr;
      saved = {ta, tb};
      rule = [scale, a_is_tensor, sign](const Tensor& g, const std::vector<Tensor>& s) {
        // scalar - tensor (rsub) negates the tensor operand, which is b here.
        Tensor ga = a_is_tensor ? forInput(g, s[0]) : Tensor();
        Tensor gb = s[1].defined()
                        ? forInput(a_is_tensor ? (scale == 1.0 ? g : g * scale) : g * sign, s[1])
                        : Tensor();
        return std::vector<Tensor>{ga, gb};
      };
      break;
    }
    case ScalarOp::Mul:
      saved = {ta, tb};
      rule = [sa, sb](const Tensor& g, const std::vector<Tensor>& s) {
        Tensor ga = s[0].defined() ? forInput(s[1].defined() ? g * s[1] : g * sb, s[0]) : Tensor();
        Tensor gb = s[1].defined() ? forInput(s[0].defined() ? g * s[0] : g * sa, s[1]) : Tensor();
        return std::vector<Tensor>{ga, gb};
      };
      break;
    case ScalarOp::Div:
      saved = {ta, tb};
      rule = [sa, sb](const Tensor& g, const std::vector<Tensor>& s) {
        Tensor ga, gb;
        if (s[0].defined()) ga = forInput(s[1].defined() ? g / s[1] : g / sb, s[0]);
        if (s[1].defined()) {
          Tensor num = s[0].defined() ? -g * s[0] : -g * sa;
          gb = forInput(num / (s[1] * s[1]), s[1]);
        }
        return std::vector<Tensor>{ga, gb};
      };
      break;
    case ScalarOp::Pow:
      saved = {ta, tb, out};
      out_index = 2;
      rule = [sa, sb](const Tensor& g, const std::vector<Tensor>& s) {
        Tensor ga, gb;
        if (s[0].defined()) {
          if (s[1].defined()) {
            ga = forInput(g * s[1] * pow(s[0], s[1] - 1), s[0]);
          } else if (sb.toDouble() == 0.0) {
            ga = zeros_like(s[0]);
          } else {
            ga = forInput(g * sb * pow(s[0], sb.toDouble() - 1), s[0]);
          }
        }
        if (s[1].defined()) {
          Tensor logbase = s[0].defined() ? log(s[0]) : full_like(s[1], std::log(sa.toDouble()));
          gb = forInput(g * s[2] * logbase, s[1]);
        }
        return std::vector<Tensor>{ga, gb};
      };
      break;
    case ScalarOp::Maximum:
    case ScalarOp::Minimum: {
      bool is_max = op == ScalarOp::Maximum;
      saved = {ta, tb};
      rule = [is_max](const Tensor& g, const std::vector<Tensor>& s) {
        // Ties share the gradient equally, as PyTorch does.
        Tensor wins = is_max ? s[0] > s[1] : s[0] < s[1];
        Tensor ties = s[0] == s[1];
        Tensor ga = where(wins, g, where(ties, g / 2, zeros_like(g)));
        Tensor gb = where(wins, zeros_like(g), where(ties, g / 2, g));
        return std::vector<Tensor>{forInput(ga, s[0]), forInput(gb, s[1])};
      };
      break;
    }
    case ScalarOp::Mod:
    case ScalarOp::Fmod: {
      // The gradient for b is minus the rounded quotient (floored for remainder, truncated for
      // fmod), a piecewise constant recorded without history.
      bool floor = op == ScalarOp::Mod;
      saved = {ta, tb};
      rule = [sa, floor](const Tensor& g, const std::vector<Tensor>& s) {
        Tensor gb;
        if (s[1].defined()) {
          detail::Operand num = s[0].defined() ? detail::Operand(s[0]) : detail::Operand(sa);
          Tensor q =
              floor ? detail::binaryOp(ScalarOp::FloorDiv, num, s[1]) : truncQuotient(num, s[1]);
          gb = forInput(-g * q, s[1]);
        }
        return std::vector<Tensor>{forInput(g, s[0]), gb};
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
#define VJP_None nullptr
#define VJP_Vjp(...) \
  [](const Tensor& g, const Tensor& x, const Tensor& y) -> Tensor { return __VA_ARGS__; }
#define VJP_Custom nullptr
#define VJP_NotImplemented nullptr
constexpr UnaryVjp kUnaryVjps[] = {
#define X(name, text, arity, dtype, grad, reference) VJP_##grad,
#include "lib/ir/ops.def"
#undef X
};
#undef VJP_None
#undef VJP_Vjp
#undef VJP_Custom
#undef VJP_NotImplemented
}  // namespace

void recordUnary(ScalarOp op, Tensor& out, const Tensor& a) {
  if (!needsGrad({&a})) return;
  UnaryVjp vjp = kUnaryVjps[static_cast<int>(op)];
  if (!vjp) {
    throw Error(
        absl::StrCat("the derivative for '", std::string(info(op).name), "' is not implemented"));
  }
  std::string name = absl::StrCat(std::string(info(op).name), "Backward0");
  name[0] = static_cast<char>(std::toupper(name[0]));
  record(
      out, std::move(name), {a}, {a, out},
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
           return std::vector<Tensor>{g * inside.to(g.dtype())};
         });
}

void recordWhere(Tensor& out, const Tensor& cond, const detail::Operand& a,
                 const detail::Operand& b) {
  const Tensor& ta = tensorOf(a);
  const Tensor& tb = tensorOf(b);
  if (!needsGrad({&ta, &tb})) return;
  record(out, "WhereBackward0", {ta, tb}, {cond, ta, tb},
         [](const Tensor& g, const std::vector<Tensor>& s) {
           Tensor z = zeros_like(g);
           return std::vector<Tensor>{forInput(where(s[0], g, z), s[1]),
                                      forInput(where(s[0], z, g), s[2])};
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

void recordReduction(Tensor& out, const Tensor& a, const char* name,
                     std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)> backward) {
  if (!needsGrad({&a})) return;
  record(
      out, name, {a}, {a, out},
      [backward](const Tensor& g, const std::vector<Tensor>& s) {
        return std::vector<Tensor>{backward(g, s[0], s[1])};
      },
      1);
}

void recordMatmul(Tensor& out, const Tensor& a, const Tensor& b, const char* name) {
  if (!needsGrad({&a, &b})) return;
  record(out, name, {a, b}, {a, b}, [](const Tensor& g, const std::vector<Tensor>& s) {
    // Both operands have >= 2 dims here (matmul's 1-D cases are views around this).
    Tensor ga = forInput(matmul(g, s[1].transpose(-1, -2)), s[0]);
    Tensor gb = forInput(matmul(s[0].transpose(-1, -2), g), s[1]);
    return std::vector<Tensor>{ga, gb};
  });
}

void recordCat(Tensor& out, const std::vector<Tensor>& inputs, int64_t dim) {
  if (!needsGrad(inputs)) return;
  std::vector<int64_t> sizes;
  for (const Tensor& t : inputs) sizes.push_back(t.dim() == 1 && t.numel() == 0 ? 0 : t.size(dim));
  record(out, "CatBackward0", inputs, {},
         [sizes, dim](const Tensor& g, const std::vector<Tensor>&) {
           std::vector<Tensor> gs;
           int64_t at = 0;
           for (int64_t n : sizes) {
             gs.push_back(g.narrow(dim, at, n));
             at += n;
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
