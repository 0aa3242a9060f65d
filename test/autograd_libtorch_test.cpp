// kiln against libtorch 1.13 (Debian's libtorch-dev), the reference for issue 13's "Autograd's
// version checks", "Gradients that differ from libtorch" and shape-error messages. Each case is
// written once and compiled twice, with K naming kiln and then torch; both runs must read out the
// same things (gradients, flags, grad_fn names) or throw the same message. Built only where CMake
// finds Torch (test/CMakeLists.txt).
#include "test/libtorch_compare.h"

// ---------------------------------------------------------------- what autograd saves
//
// For each op: y = q * 1 (a tensor with history), z = op(y), then one of them is changed in place
// before backward. PyTorch refuses exactly where the op's derivative formula saved the changed
// tensor (derivatives.yaml); kiln must save the same.

// One case: y = q * 1, z = expr, then `change`, then backward; the items compared are the rest.
#define SAVED_CASE(Name, expr, change, ...)                   \
  BOTH(SavedForBackward, Name, {                              \
    auto q = K::tensor({0.5, 0.25, 2.0}, K::requires_grad()); \
    auto y = q * 1;                                           \
    auto z = expr;                                            \
    change;                                                   \
    z.sum().backward();                                       \
    return Items{__VA_ARGS__};                                \
  })
// Unary ops: y changed after z = op(y), and z changed after.
#define UNARY_SAVES(Name, expr)                                             \
  SAVED_CASE(Name##InputChanged, expr, y.add_(1), out(q.grad()), fnName(z)) \
  SAVED_CASE(Name##OutputChanged, expr, z.mul_(3), out(q.grad()), fnName(z))

UNARY_SAVES(Exp, y.exp())
UNARY_SAVES(Log, y.log())
UNARY_SAVES(Sqrt, y.sqrt())
UNARY_SAVES(Rsqrt, y.rsqrt())
UNARY_SAVES(Sin, y.sin())
UNARY_SAVES(Cos, y.cos())
UNARY_SAVES(Tanh, y.tanh())
UNARY_SAVES(Sigmoid, y.sigmoid())
UNARY_SAVES(Relu, y.relu())
UNARY_SAVES(Reciprocal, y.reciprocal())
UNARY_SAVES(Neg, y.neg())
UNARY_SAVES(Abs, y.abs())
UNARY_SAVES(MulScalar, y * 2)
UNARY_SAVES(DivScalar, y / 2)
UNARY_SAVES(AddScalar, y + 2)
UNARY_SAVES(PowScalarExponent, y.pow(2))
UNARY_SAVES(PowScalarBase, K::pow(2, y))
UNARY_SAVES(RemainderScalar, y.remainder(0.75))
UNARY_SAVES(FmodScalar, y.fmod(0.75))
UNARY_SAVES(Clamp, y.clamp(0.3, 1.0))
UNARY_SAVES(Clone, y.clone())
UNARY_SAVES(ToDouble, y.to(K::kDouble))
UNARY_SAVES(Sum, y.sum())
UNARY_SAVES(SumDim, y.sum({0}, true))
UNARY_SAVES(Mean, y.mean())
UNARY_SAVES(Prod, y.prod())
UNARY_SAVES(ProdDim, y.prod(0))
UNARY_SAVES(Amax, y.amax({0}))
UNARY_SAVES(Max, y.max())
UNARY_SAVES(MaxDim, std::get<0>(y.max(0)))
UNARY_SAVES(Var, y.var())
UNARY_SAVES(Std, y.std())
UNARY_SAVES(Softmax, y.softmax(0))
UNARY_SAVES(LogSoftmax, y.log_softmax(0))
UNARY_SAVES(Narrow, y.narrow(0, 1, 2).clone())
UNARY_SAVES(Cat, K::cat({y, y}))

// Binary ops: the first operand y, the second w = p * 1, or the result changed in place.
#define BINARY_BOTH_GRAD(Name, expr, change)                   \
  BOTH(SavedForBackward, Name, {                               \
    auto q = K::tensor({0.5, 0.25, 2.0}, K::requires_grad());  \
    auto p = K::tensor({1.5, -0.5, 0.75}, K::requires_grad()); \
    auto y = q * 1;                                            \
    auto w = p * 1;                                            \
    auto z = expr;                                             \
    change;                                                    \
    z.sum().backward();                                        \
    return Items{out(q.grad()), out(p.grad())};                \
  })
#define BINARY_SAVES(Name, expr)                               \
  BINARY_BOTH_GRAD(Name##FirstChanged, expr, y.add_(1))        \
  BINARY_BOTH_GRAD(Name##SecondChanged, expr, w.add_(1))       \
  BINARY_BOTH_GRAD(Name##OutputChanged, expr, z.mul_(3))       \
  BOTH(SavedForBackward, Name##SecondWithoutGrad, {            \
    auto q = K::tensor({0.5, 0.25, 2.0}, K::requires_grad());  \
    auto y = q * 1;                                            \
    auto w = K::tensor({1.5, -0.5, 0.75});                     \
    auto z = expr;                                             \
    y.add_(1);                                                 \
    z.sum().backward();                                        \
    return Items{out(q.grad())};                               \
  })                                                           \
  BOTH(SavedForBackward, Name##FirstWithoutGrad, {             \
    auto p = K::tensor({1.5, -0.5, 0.75}, K::requires_grad()); \
    auto y = K::tensor({0.5, 0.25, 2.0});                      \
    auto w = p * 1;                                            \
    auto z = expr;                                             \
    w.add_(1);                                                 \
    z.sum().backward();                                        \
    return Items{out(p.grad())};                               \
  })

BINARY_SAVES(Add, y + w)
BINARY_SAVES(Sub, y - w)
BINARY_SAVES(Mul, y* w)
BINARY_SAVES(Div, y / w)
BINARY_SAVES(Pow, y.pow(w))
BINARY_SAVES(Maximum, K::maximum(y, w))
BINARY_SAVES(Minimum, K::minimum(y, w))
BINARY_SAVES(Remainder, y.remainder(w))
BINARY_SAVES(Fmod, y.fmod(w))
BINARY_SAVES(Where, K::where(y > 0.4, y, w))
BINARY_SAVES(Matmul, K::matmul(y.view({3, 1}), w.view({1, 3})))
BINARY_SAVES(Mm, K::mm(y.view({3, 1}), w.view({1, 3})))
BINARY_SAVES(Bmm, K::bmm(y.view({1, 3, 1}), w.view({1, 1, 3})))
BINARY_SAVES(Dot, K::matmul(y, w))

// In-place forms: the saved value is self after the op, so a later change of self is refused
// where the formula reads the result.
#define IN_PLACE_SAVES(Name, stmt)                            \
  BOTH(SavedForBackward, Name##ThenChanged, {                 \
    auto q = K::tensor({0.5, 0.25, 2.0}, K::requires_grad()); \
    auto y = q * 1;                                           \
    stmt;                                                     \
    y.add_(1);                                                \
    y.sum().backward();                                       \
    return Items{out(q.grad()), fnName(y)};                   \
  })                                                          \
  BOTH(SavedForBackward, Name##OfView, {                      \
    auto q = K::tensor({0.5, 0.25, 2.0}, K::requires_grad()); \
    auto base = q * 1;                                        \
    auto y = base.narrow(0, 1, 2);                            \
    stmt;                                                     \
    auto r = y * 1;                                           \
    base.narrow(0, 0, 1).mul_(2);                             \
    (r.sum() + base.sum()).backward();                        \
    return Items{out(q.grad()), fnName(y), fnName(base)};     \
  })

IN_PLACE_SAVES(Exp_, y.exp_())
IN_PLACE_SAVES(Sin_, y.sin_())
IN_PLACE_SAVES(Sigmoid_, y.sigmoid_())
IN_PLACE_SAVES(Relu_, y.relu_())
IN_PLACE_SAVES(MulScalar_, y.mul_(2))
IN_PLACE_SAVES(MulTensor_, y.mul_(K::tensor({1.0, 2.0, 3.0}).narrow(0, 0, y.size(0))))
IN_PLACE_SAVES(DivTensor_, y.div_(K::tensor({1.0, 2.0, 4.0}).narrow(0, 0, y.size(0))))
IN_PLACE_SAVES(Clamp_, y.clamp_(0.3, 1.0))

// nn::functional: composites in kiln, single functions in PyTorch (MseLossBackward0 saves input
// and target; cross_entropy is log_softmax, which saves its result, and nll_loss).
#define FUNCTIONAL_SAVES(Name, expr)                             \
  SAVED_CASE(Name##InputChanged, expr, y.add_(1), out(q.grad())) \
  SAVED_CASE(Name##OutputChanged, expr, z.mul_(3), out(q.grad()))

FUNCTIONAL_SAVES(MseLoss, K::nn::functional::mse_loss(y, K::tensor({1.0, 0.0, 1.0})))
FUNCTIONAL_SAVES(Linear, K::nn::functional::linear(y.view({1, 3}), K::ones({2, 3}), K::ones({2})))
FUNCTIONAL_SAVES(CrossEntropy,
                 K::nn::functional::cross_entropy(y.view({1, 3}), K::tensor({2}, K::kLong)))
FUNCTIONAL_SAVES(NllLoss, K::nn::functional::nll_loss(y.view({1, 3}), K::tensor({1}, K::kLong)))
FUNCTIONAL_SAVES(FunctionalRelu, K::nn::functional::relu(y))
FUNCTIONAL_SAVES(FunctionalLogSoftmax, K::nn::functional::log_softmax(y, 0))

BOTH(SavedForBackward, LossesAreOneFunction, {
  auto q = K::tensor({0.5, 0.25, 2.0}, K::requires_grad());
  auto t = K::tensor({1.0, 0.0, 1.0});
  auto mse = K::nn::functional::mse_loss(q, t);
  auto nll = K::nn::functional::nll_loss(q.view({1, 3}), K::tensor({1}, K::kLong));
  auto ce = K::nn::functional::cross_entropy(q.view({1, 3}), K::tensor({2}, K::kLong));
  t.add_(1);
  bool refused = false;
  try {
    mse.backward();
  } catch (...) {
    refused = true;
  }
  (nll + ce).backward();
  return Items{fnName(mse), fnName(nll), fnName(ce), out(refused), out(q.grad())};
})

// ---------------------------------------------------------------- gradients

BOTH(Gradients, ProdOneZero, {
  auto x = K::tensor({0.0, 2.0, 3.0}, K::requires_grad());
  x.prod().backward();
  return Items{out(x.grad())};
})

BOTH(Gradients, ProdTwoZeros, {
  auto x = K::tensor({0.0, 2.0, 0.0}, K::requires_grad());
  x.prod().backward();
  return Items{out(x.grad())};
})

BOTH(Gradients, ProdAlongADim, {
  auto x = K::tensor({0.0, 2.0, 3.0, 4.0, 0.0, 0.0, 5.0, 6.0, 7.0}, K::requires_grad());
  auto w = K::tensor({1.0, 2.0, 3.0});
  (x.view({3, 3}).prod(1) * w).sum().backward();
  auto g1 = x.grad().clone();
  x.grad().zero_();
  (x.view({3, 3}).prod(0, true) * w).sum().backward();
  return Items{out(g1), out(x.grad())};
})

BOTH(Gradients, ProdWithoutZeros, {
  auto x = K::tensor({1.5, 2.0, -3.0}, K::requires_grad());
  x.prod().backward();
  return Items{out(x.grad())};
})

BOTH(Gradients, MaxAlongADimGivesTiesToTheIndex, {
  auto x = K::tensor({1.0, 3.0, 3.0, 2.0, 2.0, 0.0}, K::requires_grad());
  auto r = x.view({2, 3}).max(1);
  (std::get<0>(r) * K::tensor({1.0, 10.0})).sum().backward();
  return Items{out(x.grad()), out(std::get<1>(r)), fnName(std::get<0>(r))};
})

BOTH(Gradients, MinAlongADimKeepdim, {
  auto x = K::tensor({1.0, 1.0, 3.0, 2.0, 0.0, 0.0}, K::requires_grad());
  auto r = x.view({2, 3}).min(1, true);
  (std::get<0>(r) * K::tensor({1.0, 10.0}).view({2, 1})).sum().backward();
  return Items{out(x.grad()), out(std::get<1>(r))};
})

BOTH(Gradients, MaxOfAllSharesTies, {
  auto x = K::tensor({1.0, 3.0, 3.0}, K::requires_grad());
  x.max().backward();
  return Items{out(x.grad())};
})

BOTH(Gradients, AmaxSharesTies, {
  auto x = K::tensor({1.0, 3.0, 3.0, 2.0, 2.0, 0.0}, K::requires_grad());
  x.view({2, 3}).amax({1}).sum().backward();
  return Items{out(x.grad())};
})

BOTH(Gradients, PowTensorExponentAtZero, {
  auto x = K::tensor({0.0, 0.0, 2.0}, K::requires_grad());
  auto e = K::tensor({0.0, 2.0, 0.0}, K::requires_grad());
  x.pow(e).sum().backward();
  return Items{out(x.grad()), out(e.grad())};
})

BOTH(Gradients, PowScalarBaseZero, {
  auto e = K::tensor({0.0, 2.0, 1.0}, K::requires_grad());
  K::pow(0, e).sum().backward();
  return Items{out(e.grad())};
})

BOTH(Gradients, PowZeroExponentAtZero, {
  auto x = K::tensor({0.0, 1.0}, K::requires_grad());
  x.pow(0).sum().backward();
  return Items{out(x.grad())};
})

// An in-place op into a tensor that does not require grad, from one that does.
BOTH(InPlace, AddIntoTensorWithoutGrad, {
  auto b = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto c = K::zeros({3});
  c.add_(b);
  (c * c).sum().backward();
  return Items{out(b.grad()), out(c.requires_grad()), fnName(c)};
})

BOTH(InPlace, MulIntoTensorWithoutGrad, {
  auto b = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto c = K::full({3}, 2.0);
  c.mul_(b);
  c.sum().backward();
  return Items{out(b.grad()), fnName(c)};
})

BOTH(InPlace, CopyIntoViewOfTensorWithoutGrad, {
  auto b = K::tensor({1.0, 2.0}, K::requires_grad());
  auto c = K::zeros({3});
  c.narrow(0, 1, 2).copy_(b * 2);
  (c * K::tensor({1.0, 10.0, 100.0})).sum().backward();
  return Items{out(b.grad()), out(c.requires_grad()), fnName(c)};
})

BOTH(InPlace, ZeroKeepsRequiresGrad, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto y = q * 2;
  y.zero_();
  bool rg = y.requires_grad();
  (y + q).sum().backward();
  return Items{out(rg), fnName(y), out(q.grad())};
})

BOTH(InPlace, FillKeepsRequiresGrad, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto y = q * 2;
  y.fill_(4);
  bool rg = y.requires_grad();
  (y * q).sum().backward();
  return Items{out(rg), fnName(y), out(q.grad())};
})

BOTH(InPlace, FillOfTensorWithoutGrad, {
  auto c = K::zeros({3});
  c.fill_(4);
  c.zero_();
  return Items{out(c.requires_grad()), fnName(c), out(c)};
})

BOTH(InPlace, FillThroughAView, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto y = q * 2;
  y.narrow(0, 1, 2).fill_(0);
  y.sum().backward();
  return Items{out(q.grad()), fnName(y)};
})

BOTH(InPlace, CopyFromTensorWithoutGrad, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto y = q * 2;
  y.copy_(K::tensor({5.0, 6.0, 7.0}));
  (y * q).sum().backward();
  return Items{out(q.grad()), out(y.requires_grad()), fnName(y)};
})

BOTH(InPlace, CopyIntoAViewFromTensorWithoutGrad, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto y = q * 2;
  y.narrow(0, 0, 2).copy_(K::zeros({2}));
  y.sum().backward();
  return Items{out(q.grad()), fnName(y)};
})

BOTH(InPlace, FillWithATensorWithoutGrad, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto y = q * 2;
  y.fill_(K::tensor(2.0));
  y.sum().backward();
  return Items{out(q.grad()), fnName(y)};
})

BOTH(InPlace, FillWithATensorWithGrad, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto p = K::tensor({2.0}, K::requires_grad());
  auto y = q * 2;
  y.narrow(0, 1, 2).fill_(p.sum() * 3);
  y.sum().backward();
  return Items{out(q.grad()), out(p.grad())};
})

// Views taken before a write through another view of the same base (or the base itself) see
// the write in backward, as PyTorch regenerates a view's grad_fn when its version changes.
BOTH(Views, TakenBeforeAWriteThroughAnotherView, {
  auto b = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto c = b * 1;
  auto u = c.narrow(0, 0, 2);
  c.narrow(0, 1, 2).mul_(5);
  (u * 3).sum().backward();
  return Items{out(b.grad()), fnName(u), out(u)};
})

BOTH(Views, TakenBeforeAWriteToTheBase, {
  auto b = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto c = b * 1;
  auto u = c.narrow(0, 1, 2);
  c.mul_(5);
  (u * 3).sum().backward();
  return Items{out(b.grad()), fnName(u)};
})

BOTH(Views, OfATensorThatGetsGradLater, {
  auto b = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto c = K::zeros({3});
  auto u = c.narrow(0, 0, 2);
  c.add_(b);
  bool rg = u.requires_grad();
  (u * 3).sum().backward();
  return Items{out(rg), out(b.grad()), fnName(u)};
})

BOTH(Views, ViewOfAViewTakenBeforeAWrite, {
  auto b = K::tensor({1.0, 2.0, 3.0, 4.0}, K::requires_grad());
  auto c = (b * 1).view({2, 2});
  auto u = c.select(1, 0);
  c.select(0, 1).mul_(10);
  (u * K::tensor({1.0, 2.0})).sum().backward();
  return Items{out(b.grad()), fnName(u)};
})

BOTH(Views, IndexPutOnAView, {
  auto b = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto p = K::tensor({7.0}, K::requires_grad());
  auto c = b * 1;
  auto u = c.narrow(0, 1, 2);
  auto v = c.narrow(0, 0, 2);
  v.index_put_({K::indexing::Slice(1, 2)}, p * 2);
  ((u * K::tensor({3.0, 5.0})).sum() + (v * 10).sum()).backward();
  return Items{out(b.grad()), out(p.grad()), out(u), fnName(v)};
})

BOTH(Views, IndexPutOfAScalarOnTheBase, {
  auto b = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto c = b * 1;
  auto u = c.narrow(0, 1, 2);
  c.index_put_({0}, 9.0);
  c.index_put_({2}, 8.0);
  (u * 3).sum().backward();
  return Items{out(b.grad()), out(u)};
})

BOTH(Views, WrittenUnderNoGradThenRead, {
  auto b = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto c = b * 1;
  auto u = c.narrow(0, 0, 2);
  {
    K::NoGradGuard no_grad;
    c.narrow(0, 1, 2).mul_(5);
  }
  (u * 3).sum().backward();
  return Items{out(b.grad()), out(u)};
})

BOTH(InPlace, FillUnderNoGradKeepsHistory, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto y = q * 2;
  {
    K::NoGradGuard no_grad;
    y.fill_(1);
    y.narrow(0, 0, 1).copy_(K::tensor({4.0}));
  }
  (y * 3).sum().backward();
  return Items{out(y.requires_grad()), fnName(y), out(q.grad()), out(y)};
})

BOTH(Views, SavedViewChangedThroughItsBase, {
  auto q = K::tensor({0.5, 0.25, 2.0}, K::requires_grad());
  auto y = q * 1;
  auto v = y.narrow(0, 0, 2);
  auto z = v.sin();
  y.add_(1);
  z.sum().backward();
  return Items{out(q.grad())};
})

BOTH(Views, SavedBaseChangedThroughAView, {
  auto q = K::tensor({0.5, 0.25, 2.0}, K::requires_grad());
  auto y = q * 1;
  auto z = y.cos();
  y.narrow(0, 1, 1).mul_(2);
  z.sum().backward();
  return Items{out(q.grad())};
})

BOTH(Views, RetainedViewTakenBeforeAWrite, {
  auto b = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto c = b * 1;
  auto u = c.narrow(0, 0, 2);
  u.retain_grad();
  c.mul_(2);
  (u * 3).sum().backward();
  return Items{out(b.grad()), out(u.grad())};
})

BOTH(Views, ExpandedViewTakenBeforeAWrite, {
  auto b = K::tensor({1.0, 2.0}, K::requires_grad());
  auto c = (b * 1).view({2, 1});
  auto e = c.expand({2, 3});
  c.mul_(K::tensor({2.0, 5.0}).view({2, 1}));
  (e * K::tensor({1.0, 2.0, 3.0})).sum().backward();
  return Items{out(b.grad()), fnName(e)};
})

// out= forms are not differentiable: PyTorch refuses them when an argument requires grad.
BOTH(InPlace, OutFormWithGrad, {
  auto a = K::ones({2}, K::requires_grad());
  auto o = K::empty({2});
  K::add_out(o, a, a);
  return Items{out(o), fnName(o)};
})

BOTH(InPlace, OutFormIntoATensorWithGrad, {
  auto a = K::ones({2});
  auto o = K::ones({2}, K::requires_grad()) * 1;
  K::mul_out(o, a, a);
  return Items{out(o), fnName(o)};
})

BOTH(InPlace, OutFormUnderNoGrad, {
  auto a = K::ones({2}, K::requires_grad());
  auto o = K::empty({2});
  {
    K::NoGradGuard no_grad;
    K::sub_out(o, a, a * 3);
  }
  return Items{out(o), out(o.requires_grad())};
})

BOTH(InPlace, OnALeafThatRequiresGrad, {
  auto a = K::ones({2}, K::requires_grad());
  a.add_(1);
  return Items{out(a)};
})

BOTH(InPlace, OnAViewOfALeafThatRequiresGrad, {
  auto a = K::ones({2}, K::requires_grad());
  a.narrow(0, 0, 1).mul_(2);
  return Items{out(a)};
})

BOTH(InPlace, SavedLeafChangedUnderNoGrad, {
  auto a = K::ones({2}, K::requires_grad());
  auto z = a * a;
  {
    K::NoGradGuard no_grad;
    a.mul_(3);
  }
  z.sum().backward();
  return Items{out(a.grad())};
})

BOTH(InPlace, IndexPutIntoATensorWithoutGrad, {
  auto b = K::tensor({5.0, 6.0}, K::requires_grad());
  auto c = K::zeros({3});
  c.index_put_({1}, b.sum());
  (c * K::tensor({1.0, 2.0, 3.0})).sum().backward();
  return Items{out(b.grad()), fnName(c), out(c)};
})

BOTH(InPlace, ClampOfASavedResult, {
  auto q = K::tensor({0.5, 0.25, 2.0}, K::requires_grad());
  auto y = q.sigmoid();
  y.clamp_(0.6, 0.8);
  y.sum().backward();
  return Items{out(q.grad())};
})

// ---------------------------------------------------------------- shape errors
//
// Broadcasting names the trailing mismatching dimension, with the operands in PyTorch's order.

// A shape error: the value of the expression, or the message both libraries throw for it.
#define SHAPE_ERROR(Name, ...) BOTH(ShapeErrors, Name, { return Items{out(__VA_ARGS__)}; })
// An in-place op on `a = base` (the last argument) that both libraries refuse.
#define SHAPE_ERROR_IN_PLACE(Name, base, ...) \
  BOTH(ShapeErrors, Name, {                   \
    auto a = base;                            \
    __VA_ARGS__;                              \
    return Items{out(a)};                     \
  })

SHAPE_ERROR(Add, K::ones({2, 3}) + K::ones({3, 2}))
SHAPE_ERROR(AddLeadingAndTrailing, K::ones({4, 3}) + K::ones({2, 5}))
SHAPE_ERROR(SubDifferentRanks, K::ones({2, 3, 4}) - K::ones({5, 1}))
SHAPE_ERROR(Mul, K::ones({5}) * K::ones({2, 3}))
SHAPE_ERROR(Div, K::ones({2, 4}).div(K::ones({3, 1, 5})))
SHAPE_ERROR(Pow, K::ones({3}).pow(K::ones({2})))
SHAPE_ERROR(Maximum, K::maximum(K::ones({3}), K::ones({2})))
SHAPE_ERROR(Remainder, K::ones({3}).remainder(K::ones({2})))
SHAPE_ERROR(Fmod, K::ones({2, 3}).fmod(K::ones({3, 3})))
SHAPE_ERROR(Eq, K::ones({2, 3}).eq(K::ones({2, 2})))
SHAPE_ERROR(Lt, K::ones({4}) < K::ones({3}))
SHAPE_ERROR(LogicalAnd, K::ones({4}, K::kBool).logical_and(K::ones({3}, K::kBool)))
SHAPE_ERROR(WhereCondition, K::where(K::ones({2}, K::kBool), K::ones({3}), K::ones({3})))
SHAPE_ERROR(WhereOperands, K::where(K::ones({3}, K::kBool), K::ones({3}), K::ones({2})))
SHAPE_ERROR_IN_PLACE(AddInPlaceIncompatible, K::ones({2, 3}), a.add_(K::ones({2, 2})))
SHAPE_ERROR_IN_PLACE(MulInPlaceWider, K::ones({3}), a.mul_(K::ones({2, 3})))
SHAPE_ERROR_IN_PLACE(CopyIncompatible, K::ones({2, 3}), a.copy_(K::ones({2})))
SHAPE_ERROR_IN_PLACE(CopyWider, K::ones({3}), a.copy_(K::ones({2, 3})))
BOTH(ShapeErrors, AddOut, {
  auto o = K::empty({2});
  K::add_out(o, K::ones({2, 3}), K::ones({3, 3}));
  return Items{out(o)};
})
SHAPE_ERROR(ExpandMismatch, K::ones({2, 3}).expand({2, 4}))
SHAPE_ERROR(MatmulBatch, K::matmul(K::ones({2, 3, 4}), K::ones({3, 4, 5})))
SHAPE_ERROR(MatmulBatchInner, K::matmul(K::ones({2, 3, 4}), K::ones({2, 5, 5})))
SHAPE_ERROR(MatmulMatrixVector, K::matmul(K::ones({2, 3}), K::ones({4})))
SHAPE_ERROR(MatmulVectorMatrix, K::matmul(K::ones({4}), K::ones({3, 2})))
SHAPE_ERROR(MatmulFolded, K::matmul(K::ones({2, 3, 4}), K::ones({5, 2})))
SHAPE_ERROR(MatmulVectors, K::matmul(K::ones({3}), K::ones({4})))
SHAPE_ERROR(Mm, K::mm(K::ones({2, 3}), K::ones({4, 2})))
SHAPE_ERROR(Bmm, K::bmm(K::ones({2, 3, 4}), K::ones({3, 4, 2})))
SHAPE_ERROR(Cat, K::cat({K::ones({2, 3}), K::ones({2, 4})}))
SHAPE_ERROR(Stack, K::stack({K::ones({2, 3}), K::ones({3, 2})}))
BOTH(ShapeErrors, BackwardGradientShape, {
  auto q = K::ones({3}, K::requires_grad());
  (q * 2).backward(K::ones({2}));
  return Items{out(q.grad())};
})

SHAPE_ERROR(MatmulFoldedVector, K::matmul(K::ones({2, 3, 4}), K::ones({5})))
SHAPE_ERROR(MatmulMatrixBatch, K::matmul(K::ones({3, 4}), K::ones({2, 5, 6})))
SHAPE_ERROR(MatmulVectorBatch, K::matmul(K::ones({4}), K::ones({2, 5, 6})))
SHAPE_ERROR(MatmulBroadcastBatch, K::matmul(K::ones({2, 1, 3, 4}), K::ones({3, 2, 4, 5})))

BOTH(ShapeErrors, IndexPutValueTooLong, {
  auto c = K::zeros({3});
  c.index_put_({K::indexing::Slice(0, 1)}, K::ones({2}));
  return Items{out(c)};
})
BOTH(ShapeErrors, IndexPutValueWithLeadingOnes, {
  auto c = K::zeros({3});
  c.index_put_({K::indexing::Slice(0, 2)}, K::tensor({4.0, 5.0}).view({1, 1, 2}));
  return Items{out(c)};
})
BOTH(ShapeErrors, IndexPutValueBroadcast, {
  auto c = K::zeros({2, 3});
  c.index_put_({K::indexing::Slice(), K::indexing::Slice(1, 3)}, K::tensor({4.0, 5.0}));
  return Items{out(c)};
})
SHAPE_ERROR(ViewOfTheWrongSize, K::ones({2, 3}).view({4, 2}))
SHAPE_ERROR(ReshapeOfTheWrongSize, K::ones({2, 3}).reshape({5}))

BOTH(ShapeErrors, BackwardGradientThatTheOutputExpandsTo, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  (q * 2).backward(K::ones({2, 3}));
  auto p = K::tensor({1.0, 2.0}, K::requires_grad());
  (p.view({2, 1}) * 3).backward(K::ones({2, 4}));
  return Items{out(q.grad()), out(p.grad())};
})
BOTH(ShapeErrors, GradWithAGradOutputOfAnotherShape, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto g = K::autograd::grad({q * 2, q * 3}, {q}, {K::ones({3}), K::ones({3, 2})});
  return Items{out(g[0])};
})
BOTH(ShapeErrors, GradWithAGradOutputTheOutputExpandsTo, {
  auto q = K::tensor({1.0, 2.0, 3.0}, K::requires_grad());
  auto g = K::autograd::grad({q * 2}, {q}, {K::ones({4, 3})});
  return Items{out(g[0])};
})

// ---------------------------------------------------------------- expanded views

BOTH(ExpandedViews, FillOfExpanded, {
  auto base = K::zeros({1, 3});
  auto e = base.expand({2, 3});
  e.fill_(2);
  return Items{out(e), out(base)};
})
BOTH(ExpandedViews, ZeroOfExpanded, {
  auto base = K::ones({3, 1});
  auto e = base.expand({3, 4});
  e.zero_();
  return Items{out(e), out(base)};
})
BOTH(ExpandedViews, AddIntoExpandedIsRefused, {
  auto e = K::zeros({1, 3}).expand({2, 3});
  e.add_(1);
  return Items{out(e)};
})
BOTH(ExpandedViews, CopyIntoExpandedIsRefused, {
  auto e = K::zeros({1, 3}).expand({2, 3});
  e.copy_(K::ones({2, 3}));
  return Items{out(e)};
})
