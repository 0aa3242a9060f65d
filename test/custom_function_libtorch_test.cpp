// Custom autograd functions (kiln/custom_function.h) against libtorch 1.13's
// torch::autograd::Function<T>, with the two functions of PyTorch's C++ autograd tour
// (pytorch/examples cpp/autograd) and the corner cases around them. Each case is written once
// (test/libtorch_compare.h); the function classes are local to each side's case.
#include <string>
#include <vector>

#include "test/libtorch_compare.h"

BOTH(CustomFunction, TheAutogradTour, {
  using K::autograd::AutogradContext;
  using K::autograd::tensor_list;
  struct LinearFunction : public K::autograd::Function<LinearFunction> {
    static K::Tensor forward(AutogradContext* ctx, K::Tensor input, K::Tensor weight,
                             K::Tensor bias = K::Tensor()) {
      ctx->save_for_backward({input, weight, bias});
      auto output = input.mm(weight.t());
      if (bias.defined()) output += bias.unsqueeze(0).expand_as(output);
      return output;
    }
    static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
      auto saved = ctx->get_saved_variables();
      auto grad_output = grad_outputs[0];
      auto grad_bias = K::Tensor();
      if (saved[2].defined()) grad_bias = grad_output.sum(0);
      return {grad_output.mm(saved[1]), grad_output.t().mm(saved[0]), grad_bias};
    }
  };
  struct MulConstant : public K::autograd::Function<MulConstant> {
    static K::Tensor forward(AutogradContext* ctx, K::Tensor tensor, double constant) {
      ctx->saved_data["constant"] = constant;
      return tensor * constant;
    }
    static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
      return {grad_outputs[0] * ctx->saved_data["constant"].toDouble(), K::Tensor()};
    }
  };
  auto x = K::arange(6.).view({2, 3}).requires_grad_();
  auto weight = K::arange(12.).view({4, 3}).div(10).requires_grad_();
  auto bias = K::tensor({1., 2., 3., 4.}).requires_grad_();
  auto y = LinearFunction::apply(x, weight);
  y.sum().backward();
  auto with_bias = LinearFunction::apply(x, weight, bias);
  (with_bias * with_bias).sum().backward();
  auto v = K::tensor({1., -2.}).requires_grad_();
  auto m = MulConstant::apply(v, 5.5);
  m.sum().backward();
  auto plain = MulConstant::apply(K::ones({2}), 2.0);
  return Items{out(y), fnName(y), out(x.grad()), out(weight.grad()), out(bias.grad()),
               out(m), fnName(m), out(v.grad()), out(plain),         out(plain.requires_grad())};
})

BOTH(CustomFunction, ReturningAnInputAndTooManyGradients, {
  using K::autograd::AutogradContext;
  using K::autograd::tensor_list;
  struct Same : public K::autograd::Function<Same> {
    static K::Tensor forward(AutogradContext* ctx, K::Tensor t) {
      ctx->save_for_backward({t});
      return t;
    }
    static tensor_list backward(AutogradContext* ctx, tensor_list g) {
      return {g[0] * 3 + ctx->get_saved_variables()[0]};
    }
  };
  struct Bad : public K::autograd::Function<Bad> {
    static K::Tensor forward(AutogradContext*, K::Tensor t) { return t * 2; }
    static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0], g[0]}; }
  };
  auto x = K::tensor({1., 2.}).requires_grad_();
  auto s = Same::apply(x);
  s.sum().backward();
  std::string error;
  try {
    Bad::apply(x).sum().backward();
  } catch (const std::exception& e) {
    error = e.what();
    error = error.substr(error.find(" returned"));
  }
  bool needs = false;
  struct Probe : public K::autograd::Function<Probe> {
    static K::Tensor forward(AutogradContext* ctx, K::Tensor a, int64_t k, K::Tensor b) {
      ctx->saved_data["needs"] = ctx->needs_input_grad(1);
      ctx->saved_data["k"] = k;
      return a * b * static_cast<double>(k);
    }
    static tensor_list backward(AutogradContext* ctx, tensor_list g) {
      return {g[0] * static_cast<double>(ctx->saved_data["k"].toInt()), K::Tensor(), K::Tensor()};
    }
  };
  auto a = K::tensor({1., 2.}).requires_grad_();
  auto b = K::tensor({3., 4.}).requires_grad_();
  auto p = Probe::apply(a, int64_t{2}, b);
  p.sum().backward();
  (void)needs;
  K::Tensor under_no_grad;
  {
    K::NoGradGuard no_grad;
    under_no_grad = Same::apply(x);
  }
  return Items{out(s.is_same(x)), out(x.grad()),           text(error),
               out(a.grad()),     out(b.grad().defined()), out(under_no_grad.requires_grad())};
})
