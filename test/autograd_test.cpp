// Autograd: every backward rule against central finite differences in double precision, second
// derivatives through create_graph, and PyTorch's behaviour around retain_graph, no-grad,
// detach, non-leaf gradients and in-place ops.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace {

using kiln::Tensor;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

std::vector<double> valuesOf(const Tensor& t) {
  Tensor c = t.to(kiln::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

// Checks d(sum(f(x) * w))/dx_i against central differences for every element of every input,
// where w is a fixed random weighting (so every output element matters).
void gradcheck(const Fn& f, std::vector<Tensor> inputs, double tol = 1e-6) {
  for (Tensor& x : inputs) {
    x = x.detach();  // a leaf of our own, whatever the caller's tensor is
    x.requires_grad_(true);
  }
  kiln::manual_seed(7);
  Tensor out = f(inputs);
  Tensor w = kiln::randn(out.sizes(), kiln::kDouble);
  Tensor loss = (out * w).sum();
  std::vector<Tensor> analytic = kiln::autograd::grad({loss}, inputs, {}, false, false, true);
  for (size_t k = 0; k < inputs.size(); ++k) {
    std::vector<double> base = valuesOf(inputs[k]);
    std::vector<double> got =
        analytic[k].defined() ? valuesOf(analytic[k]) : std::vector<double>(base.size(), 0.0);
    ASSERT_EQ(got.size(), base.size());
    for (size_t i = 0; i < base.size(); ++i) {
      const double eps = 1e-6;
      auto at = [&](double v) {
        std::vector<Tensor> moved = inputs;
        std::vector<double> vals = base;
        vals[i] = v;
        moved[k] = kiln::tensor(kiln::TensorDataContainer(vals), kiln::kDouble)
                       .reshape(inputs[k].sizes())
                       .detach();
        moved[k].requires_grad_(true);  // f may differentiate (second-derivative checks)
        return (f(moved) * w).sum().item<double>();
      };
      double numeric = (at(base[i] + eps) - at(base[i] - eps)) / (2 * eps);
      EXPECT_NEAR(got[i], numeric, tol * std::max(1.0, std::fabs(numeric)))
          << "input " << k << " element " << i;
    }
  }
}

Tensor randd(kiln::IntArrayRef size, uint64_t seed, double lo = -1, double hi = 1) {
  kiln::manual_seed(seed);
  return kiln::rand(size, kiln::kDouble) * (hi - lo) + lo;
}

TEST(Gradcheck, Elementwise) {
  Tensor a = randd({3, 4}, 1), b = randd({4}, 2), p = randd({3, 4}, 3, 0.5, 2.0);
  gradcheck([](auto& v) { return v[0] + v[1]; }, {a, b});
  gradcheck([](auto& v) { return v[0].add(v[1], 2.5); }, {a, b});
  gradcheck([](auto& v) { return v[0] - v[1]; }, {a, b});
  gradcheck([](auto& v) { return v[0].sub(v[1], 0.5); }, {a, b});
  gradcheck([](auto& v) { return v[0] * v[1]; }, {a, b});
  gradcheck([](auto& v) { return v[0] / v[1]; }, {a, p});
  gradcheck([](auto& v) { return 2.0 - v[0] * 3.0 + 1.0 / v[1]; }, {a, p});
  gradcheck([](auto& v) { return -v[0]; }, {a});
  gradcheck([](auto& v) { return v[0].abs(); }, {a});
  gradcheck([](auto& v) { return v[0].exp(); }, {a});
  gradcheck([](auto& v) { return v[0].log(); }, {p});
  gradcheck([](auto& v) { return v[0].sqrt(); }, {p});
  gradcheck([](auto& v) { return v[0].rsqrt(); }, {p});
  gradcheck([](auto& v) { return v[0].sin() + v[0].cos(); }, {a});
  gradcheck([](auto& v) { return v[0].tanh(); }, {a});
  gradcheck([](auto& v) { return v[0].sigmoid(); }, {a});
  gradcheck([](auto& v) { return v[0].relu(); }, {a});
  gradcheck([](auto& v) { return v[0].reciprocal(); }, {p});
  gradcheck([](auto& v) { return (-v[0]).reciprocal() * v[0]; }, {p});
  gradcheck([](auto& v) { return v[0].pow(3.0); }, {a});
  gradcheck([](auto& v) { return v[0].pow(v[1]); }, {p, a});
  gradcheck([](auto& v) { return kiln::pow(2.0, v[0]); }, {a});
  gradcheck([](auto& v) { return v[0].clamp(-0.3, 0.4); }, {a});
  gradcheck([](auto& v) { return kiln::maximum(v[0], v[1]) + kiln::minimum(v[0], v[1]) * 2; },
            {a, b});
  gradcheck([](auto& v) { return kiln::where(v[0] > 0, v[0] * 2, v[1]); }, {a, b});
  // Casts pass the gradient through, converted back to the input's dtype.
  Tensor x = kiln::tensor({1.0, 2.0}, kiln::TensorOptions(kiln::kDouble).requires_grad(true));
  (x.to(kiln::kFloat) * 3).sum().backward();
  EXPECT_EQ(x.grad().dtype(), kiln::kDouble);
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{3, 3}));
}

// remainder and fmod: the gradient is 1 for the dividend and minus the rounded quotient for the
// divisor (floored for remainder, truncated for fmod), as PyTorch's derivatives.yaml says. The
// inputs keep the quotients away from integers, where the functions jump.
TEST(Gradcheck, RemainderAndFmod) {
  Tensor a = randd({3, 4}, 11, -5, 5);
  Tensor b = randd({3, 4}, 12, 0.6, 1.4) * kiln::where(randd({3, 4}, 13) > 0, 1.0, -1.0);
  Tensor row = randd({4}, 14, 0.6, 1.4);
  gradcheck([](auto& v) { return kiln::remainder(v[0], v[1]); }, {a, b});
  gradcheck([](auto& v) { return kiln::fmod(v[0], v[1]); }, {a, b});
  gradcheck([](auto& v) { return v[0] % v[1]; }, {a, row});  // broadcast divisor
  gradcheck([](auto& v) { return v[0] % 1.5 + v[0].fmod(-0.7); }, {a});
  gradcheck([](auto& v) { return 3.5 % v[0]; }, {b});
  Tensor x = a.detach().requires_grad_();
  Tensor y = b.detach().requires_grad_();
  EXPECT_EQ((x % 2).grad_fn()->name(), "RemainderBackward0");
  EXPECT_EQ((x % y).grad_fn()->name(), "RemainderBackward1");
  EXPECT_EQ(x.fmod(2).grad_fn()->name(), "FmodBackward0");
  EXPECT_EQ(kiln::fmod(x, y).grad_fn()->name(), "FmodBackward1");
}

// floor_divide has no derivative in PyTorch: it records a grad_fn that fails in backward.
TEST(Autograd, FloorDivideIsNotDifferentiable) {
  Tensor x = kiln::tensor({1.5, -2.5}, kiln::requires_grad());
  Tensor q = x.floor_divide(2);
  EXPECT_TRUE(q.requires_grad());
  EXPECT_EQ(q.grad_fn()->name(), "torch::autograd::NotImplemented");
  EXPECT_EQ(valuesOf(q), (std::vector<double>{0, -2}));
  try {
    q.sum().backward();
    FAIL() << "backward through floor_divide";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()), "derivative for aten::floor_divide is not implemented");
  }
}

TEST(Gradcheck, Reductions) {
  Tensor a = randd({3, 4, 2}, 4), p = randd({3, 4}, 5, 0.5, 2.0);
  gradcheck([](auto& v) { return v[0].sum(); }, {a});
  gradcheck([](auto& v) { return v[0].sum({1}); }, {a});
  gradcheck([](auto& v) { return v[0].sum({0, 2}, true); }, {a});
  gradcheck([](auto& v) { return v[0].mean(); }, {a});
  gradcheck([](auto& v) { return v[0].mean({-1}); }, {a});
  gradcheck([](auto& v) { return v[0].prod(); }, {p});
  gradcheck([](auto& v) { return v[0].prod(1, true); }, {p});
  gradcheck([](auto& v) { return v[0].amax({1}); }, {a});
  gradcheck([](auto& v) { return v[0].amin({0, 1}, true); }, {a});
  gradcheck([](auto& v) { return v[0].max() + v[0].min(); }, {a});
  gradcheck([](auto& v) { return std::get<0>(v[0].max(1)); }, {a});
  gradcheck([](auto& v) { return v[0].var({1}); }, {a});
  gradcheck([](auto& v) { return v[0].std(false); }, {a});
  gradcheck([](auto& v) { return v[0].softmax(1); }, {a});
  gradcheck([](auto& v) { return v[0].log_softmax(-1); }, {a});
}

TEST(Gradcheck, ViewsAndShapes) {
  Tensor a = randd({3, 4}, 6), b = randd({2, 4}, 7);
  gradcheck([](auto& v) { return v[0].view({4, 3}) * 2; }, {a});
  gradcheck([](auto& v) { return v[0].t().reshape({-1}); }, {a});
  gradcheck([](auto& v) { return v[0].transpose(0, 1).contiguous(); }, {a});
  gradcheck([](auto& v) { return v[0].permute({1, 0}).flatten(); }, {a});
  gradcheck([](auto& v) { return v[0].unsqueeze(1).expand({3, 5, 4}); }, {a});
  gradcheck([](auto& v) { return v[0].narrow(1, 1, 2); }, {a});
  gradcheck([](auto& v) { return v[0].select(0, 2); }, {a});
  gradcheck(
      [](auto& v) {
        return v[0].index({kiln::indexing::Slice(), kiln::indexing::Slice(0, 4, 2)});
      },
      {a});
  gradcheck([](auto& v) { return v[0][1].squeeze(); }, {a});
  gradcheck([](auto& v) { return kiln::cat({v[0], v[1]}, 0); }, {a, b});
  gradcheck([](auto& v) { return kiln::stack({v[0], v[0] * 2}, 1); }, {a});
  gradcheck([](auto& v) { return v[0].clone() * v[0]; }, {a});
}

TEST(Gradcheck, AsStrided) {
  Tensor a = randd({3, 4}, 15);
  gradcheck([](auto& v) { return v[0].as_strided({2, 3}, {1, 4}, 1); }, {a});
  // Positions read more than once (stride 0) sum their gradients.
  gradcheck([](auto& v) { return v[0].as_strided({3, 2, 4}, {4, 0, 1}); }, {a});
  gradcheck([](auto& v) { return v[0].as_strided({2, 2}, {0, 5}, 2) * v[0][0][0]; }, {a});
  // Through a view of the input (storage-relative), and from a computed tensor's offset.
  gradcheck([](auto& v) { return v[0].t().as_strided({3}, {5}); }, {a});
  gradcheck([](auto& v) { return (v[0] * 2).narrow(0, 1, 2).as_strided({2, 2}, {1, 4}); }, {a});
  // Second derivatives: the gradient of as_strided is differentiable too.
  gradcheck(
      [](const std::vector<Tensor>& v) {
        Tensor y = v[0].as_strided({2, 2, 2}, {2, 0, 1}).pow(3.0).sum();
        return kiln::autograd::grad({y}, {v[0]}, {}, true, true)[0];
      },
      {a});
}

TEST(Autograd, AsStridedOverlapNotSupportedYet) {
  Tensor a = kiln::ones({12}, kiln::requires_grad());
  try {
    a.as_strided({4, 3}, {2, 1});
    ADD_FAILURE() << "expected an error";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "as_strided: the derivative of a view whose strides [2, 1] reach one position "
              "through different indices is not supported yet");
  }
  kiln::NoGradGuard no_grad;
  EXPECT_EQ(a.as_strided({4, 3}, {2, 1}).sum().item<float>(), 12.0f) << "fine without autograd";
}

TEST(Gradcheck, Matmul) {
  Tensor a = randd({3, 4}, 8), b = randd({4, 2}, 9), v1 = randd({4}, 10);
  Tensor ba = randd({2, 3, 4}, 11), bb = randd({2, 4, 5}, 12);
  gradcheck([](auto& v) { return v[0].mm(v[1]); }, {a, b});
  gradcheck([](auto& v) { return v[0].matmul(v[1]); }, {a, b});
  gradcheck([](auto& v) { return v[0].matmul(v[1]); }, {a, v1});
  gradcheck([](auto& v) { return v[1].matmul(v[0]); }, {b, v1});
  gradcheck([](auto& v) { return v[0].matmul(v[0]); }, {v1});
  gradcheck([](auto& v) { return v[0].bmm(v[1]); }, {ba, bb});
  gradcheck([](auto& v) { return v[0].matmul(v[1]); }, {ba, b});
}

TEST(Gradcheck, SecondDerivatives) {
  // d/dx of the gradient, through create_graph=true.
  Tensor a = randd({3, 2}, 13), b = randd({2, 2}, 14);
  auto gradOf = [](std::function<Tensor(const Tensor&)> f) {
    return [f](const std::vector<Tensor>& v) {
      Tensor y = f(v[0]).sum();
      return kiln::autograd::grad({y}, {v[0]}, {}, true, true)[0];
    };
  };
  gradcheck(gradOf([](const Tensor& x) { return x * x * x; }), {a});
  gradcheck(gradOf([](const Tensor& x) { return x.exp() + x.tanh() + x.sigmoid(); }), {a});
  gradcheck(gradOf([](const Tensor& x) { return (x * 2 + 3).log(); }), {a.abs()});
  gradcheck(gradOf([](const Tensor& x) { return (x + 2).reciprocal(); }), {a});
  gradcheck(gradOf([](const Tensor& x) { return x.softmax(1) * x; }), {a});
  Tensor bb = b;
  gradcheck(gradOf([bb](const Tensor& x) { return x.matmul(bb).pow(2.0); }), {a});
}

TEST(Autograd, SeedCells) {
  Tensor x = kiln::ones({2, 2}, kiln::requires_grad());
  std::ostringstream s1;
  s1 << x;
  EXPECT_EQ(s1.str(), "tensor([[1., 1.],\n        [1., 1.]], requires_grad=True)");
  Tensor y = x + 2;
  std::ostringstream s2;
  s2 << y;
  EXPECT_EQ(s2.str(), "tensor([[3., 3.],\n        [3., 3.]], grad_fn=<AddBackward0>)");
  Tensor z = y * y * 3;
  Tensor out = z.mean();
  std::ostringstream s3;
  s3 << z << " " << out;
  EXPECT_EQ(s3.str(),
            "tensor([[27., 27.],\n        [27., 27.]], grad_fn=<MulBackward0>) tensor(27., "
            "grad_fn=<MeanBackward0>)");
  out.backward();
  std::ostringstream s4;
  s4 << x.grad();
  EXPECT_EQ(s4.str(), "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])");
  try {
    out.backward();
    FAIL() << "expected the second-backward error";
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("Trying to backward through the graph a second time", 0),
              0u);
  }
}

TEST(Autograd, GradFnNames) {
  Tensor x = kiln::rand({2, 3}, kiln::requires_grad());
  Tensor w = kiln::rand({3, 2}, kiln::requires_grad());
  EXPECT_EQ((x * 2).grad_fn()->name(), "MulBackward0");
  EXPECT_EQ(x.sum().grad_fn()->name(), "SumBackward0");
  EXPECT_EQ(x.sum(1).grad_fn()->name(), "SumBackward1");
  EXPECT_EQ(x.view({6}).grad_fn()->name(), "ViewBackward0");
  EXPECT_EQ(x.t().grad_fn()->name(), "TBackward0");
  EXPECT_EQ(x.relu().grad_fn()->name(), "ReluBackward0");
  EXPECT_EQ(x.mm(w).grad_fn()->name(), "MmBackward0");
  EXPECT_EQ(x.exp().grad_fn()->name(), "ExpBackward0");
  EXPECT_EQ(x.reciprocal().grad_fn()->name(), "ReciprocalBackward0");
  EXPECT_EQ(x.select(0, 1).grad_fn()->name(), "SelectBackward0");
  EXPECT_EQ(x.mean().grad_fn()->name(), "MeanBackward0");
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE((x * 2).is_leaf());
  EXPECT_EQ(x.grad_fn(), nullptr);
}

// A 0-dim tensor transposes to itself, and as in PyTorch the view still carries the gradient.
TEST(Autograd, TransposeOfZeroDimTensor) {
  Tensor x = kiln::full({}, 3.0, kiln::TensorOptions(kiln::kDouble).requires_grad(true));
  Tensor y = x.transpose(0, -1);
  ASSERT_TRUE(y.requires_grad());
  EXPECT_EQ(y.grad_fn()->name(), "TransposeBackward0");
  (y * y).backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{6}));  // 2x
}

TEST(Autograd, RetainGraphAccumulates) {
  Tensor x = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor y = (x * x).sum();
  y.backward({}, true);
  y.backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{4, 8}));
  x.mutable_grad().zero_();
  (x * 3).sum().backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{3, 3}));
}

TEST(Autograd, NonScalarNeedsGradient) {
  Tensor x = kiln::ones({3}, kiln::requires_grad());
  Tensor y = x * 2;
  try {
    y.backward();
    FAIL();
  } catch (const kiln::Error& e) {
    EXPECT_STREQ(e.what(), "grad can be implicitly created only for scalar outputs");
  }
  y.backward(kiln::tensor({1.0f, 10.0f, 100.0f}));
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{2, 20, 200}));
}

TEST(Autograd, NoGradDetachAndRetainGrad) {
  Tensor x = kiln::ones({2}, kiln::requires_grad());
  {
    kiln::NoGradGuard guard;
    Tensor y = x * 2;
    EXPECT_FALSE(y.requires_grad());
  }
  Tensor d = (x * 2).detach();
  EXPECT_FALSE(d.requires_grad());
  Tensor h = x * 3;
  h.retain_grad();
  Tensor out = (h * h).sum();
  out.backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{18, 18}));
  EXPECT_EQ(valuesOf(h.grad()), (std::vector<double>{6, 6}));  // 2h
}

// retain_grad() as in PyTorch: a non-leaf that called it keeps the gradient reaching it, summed
// over backward calls; other non-leaves keep none; on a leaf it changes nothing.
TEST(Autograd, RetainGradKeepsNonLeafGradients) {
  Tensor x = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor h = x * 3;  // [3, 6]
  Tensor sq = h * h;
  Tensor out = sq.sum();
  h.retain_grad();
  h.retain_grad();  // a second call must not count the gradient twice
  out.retain_grad();
  x.retain_grad();
  EXPECT_TRUE(h.retains_grad());
  EXPECT_FALSE(x.retains_grad());
  EXPECT_FALSE(h.grad().defined());

  out.backward({}, /*retain_graph=*/true);
  EXPECT_EQ(valuesOf(h.grad()), (std::vector<double>{6, 12}));  // d out / d h = 2h
  EXPECT_EQ(valuesOf(out.grad()), (std::vector<double>{1}));
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{18, 36}));  // 2h * 3
  EXPECT_FALSE(sq.grad().defined());
  EXPECT_FALSE(h.grad().requires_grad());

  out.backward({}, /*retain_graph=*/true);
  EXPECT_EQ(valuesOf(h.grad()), (std::vector<double>{12, 24}));
  EXPECT_EQ(valuesOf(out.grad()), (std::vector<double>{2}));
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{36, 72}));

  // The retained gradient is a tensor of its own: changing it leaves the others alone.
  h.mutable_grad().zero_();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{36, 72}));
  EXPECT_EQ(valuesOf(out.grad()), (std::vector<double>{2}));
}

// After an in-place op the tensor retains the gradient of its new value (PyTorch moves the hook).
TEST(Autograd, RetainGradFollowsInPlaceOps) {
  Tensor x = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor h = x * 3;
  h.retain_grad();
  h.mul_(2);  // h = 6x = [6, 12]
  (h * h).sum().backward();
  EXPECT_EQ(valuesOf(h.grad()), (std::vector<double>{12, 24}));   // 2h
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{72, 144}));  // 2h * 6
}

// A view that retains its gradient and is then written in place: its new history is a view of
// the base's new history, and the retained gradient follows it there.
TEST(Autograd, RetainGradOfAViewWrittenInPlace) {
  Tensor a = kiln::ones({4}, kiln::requires_grad());
  Tensor b = a * 2;
  Tensor v = b.narrow(0, 1, 2);
  v.retain_grad();
  v.mul_(3);  // v = 6a[1:3] = [6, 6]
  (v * v).sum().backward();
  ASSERT_TRUE(v.grad().defined());
  EXPECT_EQ(valuesOf(v.grad()), (std::vector<double>{12, 12}));        // 2v
  EXPECT_EQ(valuesOf(a.grad()), (std::vector<double>{0, 72, 72, 0}));  // 2v * 6
}

// Under create_graph the retained gradient is differentiable: d/dx of sum(dL/dh) for
// L = sum(h^3), h = 2x, is d/dx sum(3h^2) = 6h * 2 = 24x.
TEST(Autograd, RetainGradWithCreateGraph) {
  Tensor x = kiln::tensor({1.0, -2.0}, kiln::requires_grad());
  Tensor h = x * 2;
  h.retain_grad();
  h.pow(3).sum().backward({}, /*retain_graph=*/true, /*create_graph=*/true);
  EXPECT_EQ(valuesOf(h.grad()), (std::vector<double>{12, 48}));  // 3h^2
  ASSERT_TRUE(h.grad().requires_grad());
  std::vector<Tensor> g = kiln::autograd::grad({h.grad().sum()}, {x});
  EXPECT_EQ(valuesOf(g[0]), (std::vector<double>{24, -48}));
}

TEST(Autograd, InPlaceErrors) {
  Tensor leaf = kiln::ones({2}, kiln::requires_grad());
  try {
    leaf.add_(1);
    FAIL();
  } catch (const kiln::Error& e) {
    EXPECT_STREQ(e.what(),
                 "a leaf Variable that requires grad is being used in an in-place operation.");
  }
  EXPECT_EQ(valuesOf(leaf), (std::vector<double>{1, 1}));
  {
    kiln::NoGradGuard guard;
    leaf.sub_(0.5);  // what an optimizer step does
  }
  EXPECT_EQ(valuesOf(leaf), (std::vector<double>{0.5, 0.5}));

  Tensor a = kiln::ones({2}, kiln::requires_grad());
  Tensor e = a.exp();
  Tensor y = e * 2;        // MulBackward0 does not need e, ExpBackward0's output is saved by... e
  Tensor z = e.sigmoid();  // SigmoidBackward0 saves its output; ExpBackward0 saves e
  e.mul_(2);
  try {
    z.sum().backward();
    FAIL() << "expected the saved-tensor version error";
  } catch (const kiln::Error& err) {
    EXPECT_NE(std::string(err.what()).find("has been modified by an inplace operation"),
              std::string::npos);
  }
  (void)y;
}

// As in PyTorch, a rule checks the versions of what its formula reads and nothing else: exp,
// tanh, sigmoid, sqrt, rsqrt and relu read their result, a product with a number reads nothing
// of the tensor, and add and sub read nothing at all.
TEST(Autograd, InPlaceAfterUseBySavedResultOnly) {
  for (int op = 0; op < 6; ++op) {
    Tensor q = kiln::tensor({0.5, 2.0}, kiln::requires_grad());
    Tensor y = q * 1;
    Tensor z = op == 0   ? y.exp()
               : op == 1 ? y.tanh()
               : op == 2 ? y.sigmoid()
               : op == 3 ? y.sqrt()
               : op == 4 ? y.rsqrt()
                         : y.relu();
    Tensor zv = z.detach().clone();
    y.add_(1);  // z's rule reads z, not y: backward still works
    z.sum().backward();
    std::vector<double> v = valuesOf(zv), expect;
    for (double r : v) {
      expect.push_back(op == 0   ? r
                       : op == 1 ? 1 - r * r
                       : op == 2 ? r * (1 - r)
                       : op == 3 ? 0.5 / r
                       : op == 4 ? -0.5 * r * r * r
                                 : 1.0);
    }
    std::vector<double> got = valuesOf(q.grad());
    for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(got[i], expect[i], 1e-6) << "op " << op;
  }
  Tensor q = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor y = q * 1;
  Tensor z = (y * 2 + y - 3) / 4;  // nothing of y is read by these rules
  y.mul_(10);
  z.sum().backward();
  EXPECT_EQ(valuesOf(q.grad()), (std::vector<double>{0.75, 0.75}));

  Tensor s = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor t = s * 1;
  Tensor u = t.sin();  // sin reads its operand: changing it is refused
  t.add_(1);
  try {
    u.sum().backward();
    FAIL() << "expected the saved-tensor version error";
  } catch (const kiln::Error& err) {
    EXPECT_NE(std::string(err.what()).find("has been modified by an inplace operation"),
              std::string::npos);
  }
}

// prod's gradient where inputs are zero (PyTorch's prod_backward): one zero in a reduced slice
// gets the product of the others, everything else in that slice zero; two zeros zero the slice.
TEST(Autograd, ProdGradientWithZeros) {
  Tensor x = kiln::tensor({0.0, 2.0, 3.0}, kiln::requires_grad());
  x.prod().backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{6, 0, 0}));
  Tensor m = kiln::tensor({0.0, 2.0, 3.0, 1.0, 2.0, 3.0, 0.0, 0.0, 4.0}, kiln::kDouble)
                 .reshape({3, 3})
                 .requires_grad_(true);
  m.prod(1).sum().backward();
  EXPECT_EQ(valuesOf(m.grad()), (std::vector<double>{6, 0, 0, 6, 3, 2, 0, 0, 0}));
  Tensor c = kiln::tensor({0.0, 2.0, 3.0, 1.0, 0.0, 3.0}, kiln::kDouble).reshape({2, 3});
  gradcheck([](auto& v) { return v[0].prod(); }, {c});
  gradcheck([](auto& v) { return v[0].prod(0, true); }, {c});
  gradcheck([](auto& v) { return v[0].prod(1); }, {m});
  // Second derivatives through the new rule, away from zeros (at a zero, the count of zeros is
  // taken as constant, as in PyTorch's rule for a full reduction).
  Tensor p = kiln::tensor({1.0, 2.0, 3.0, 0.5, -2.0, 4.0}, kiln::kDouble).reshape({2, 3});
  gradcheck(
      [](auto& v) { return kiln::autograd::grad({v[0].prod(1).sum()}, {v[0]}, {}, true, true)[0]; },
      {p});
}

// An in-place op writing a tensor that requires grad into one that does not: the old value the
// rule saves is held apart from the storage the op overwrites, as PyTorch's original_self.
TEST(Autograd, InPlaceIntoTensorWithoutGrad) {
  Tensor b = kiln::tensor({1.0, 2.0, 3.0}, kiln::requires_grad());
  Tensor c = kiln::zeros({3}, kiln::kDouble);
  c.add_(b);
  EXPECT_TRUE(c.requires_grad());
  c.sum().backward();
  EXPECT_EQ(valuesOf(b.grad()), (std::vector<double>{1, 1, 1}));
  Tensor d = kiln::full({3}, 2.0, kiln::kDouble);
  d.mul_(b);  // d's old value (2) is b's gradient
  (d * d).sum().backward();
  // d = 2b, d*d = 4b^2: 8b, plus b's earlier gradient.
  EXPECT_EQ(valuesOf(b.grad()), (std::vector<double>{1 + 8, 1 + 16, 1 + 24}));
}

// zero_, fill_ and copy_ from a tensor without history overwrite self: as in PyTorch, self keeps
// requiring grad, and the old value's history gets zero gradient from the overwritten elements.
TEST(Autograd, OverwritingKeepsRequiresGradWithZeroGradient) {
  Tensor x = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor y = x * 2;
  y.zero_();
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(y.grad_fn()->name(), "ZeroBackward0");
  (y + x).sum().backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{1, 1}));

  x.grad().zero_();
  y = x * 2;
  y.fill_(5);
  EXPECT_EQ(y.grad_fn()->name(), "FillBackward2");
  (y * x).sum().backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{5, 5}));

  x.grad().zero_();
  y = x * 3;
  y.copy_(kiln::tensor({7.0, 8.0}));
  EXPECT_EQ(y.grad_fn()->name(), "torch::autograd::CopyBackwards");
  (y * x).sum().backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{7, 8}));

  x.grad().zero_();
  y = x * 3;
  y.fill_(kiln::tensor(4.0));
  (y * x).sum().backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{4, 4}));

  // Part of a tensor overwritten through a view: zero gradient there only.
  x.grad().zero_();
  y = x * 3;
  y.narrow(0, 1, 1).copy_(kiln::tensor({9.0}));
  y.sum().backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{3, 0}));
}

TEST(Autograd, InPlaceOnNonLeafKeepsHistory) {
  Tensor x = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor y = x * 2;
  y.mul_(x);     // y = 2x^2
  y.add_(x, 3);  // y = 2x^2 + 3x
  y.sum().backward();
  EXPECT_EQ(valuesOf(x.grad()), (std::vector<double>{4 * 1 + 3, 4 * 2 + 3}));
}

TEST(Gradcheck, InPlaceThroughViews) {
  Tensor a = randd({4, 3}, 15), w = randd({2, 3}, 16), r = randd({3}, 17);
  gradcheck(
      [](auto& v) {
        Tensor b = v[0] * 1;
        b.narrow(0, 1, 2).mul_(v[1]);
        return b * 2;
      },
      {a, w});
  gradcheck(
      [](auto& v) {
        Tensor b = v[0] * 2;  // (exp would save its output, and PyTorch refuses to change that)
        b.select(0, 3).copy_(v[1] * 3);
        b.index({kiln::indexing::Slice(), 0}).fill_(1.5);
        return b.sin();
      },
      {a, r});
  gradcheck(
      [](auto& v) {
        Tensor b = kiln::zeros({4, 3}, kiln::kDouble);
        b.index_put_({kiln::indexing::Slice(1, 3)}, v[0]);
        return b.t() * b.sum(0, true).t();
      },
      {w});
  Tensor leaf = kiln::ones({3}, kiln::requires_grad());
  try {
    leaf.narrow(0, 0, 2).mul_(2);
    FAIL();
  } catch (const kiln::Error& e) {
    EXPECT_STREQ(
        e.what(),
        "a view of a leaf Variable that requires grad is being used in an in-place operation.");
  }
}

TEST(Autograd, BackwardFusesWithForward) {
  Tensor x = kiln::rand({64}, kiln::requires_grad());
  x.eval();
  kiln::reset_stats();
  Tensor loss = (kiln::tanh(x * 0.5) * x).sum();
  loss.backward();
  x.grad().eval();
  // The gradient of an elementwise chain is elementwise too: forward and backward in one kernel.
  EXPECT_EQ(kiln::stats().kernels_run, 1);
}

}  // namespace
