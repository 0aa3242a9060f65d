// kiln::nn and kiln::optim: modules against hand-computed values, losses and their gradients
// against hand computation and finite differences, dropout statistics, SGD and Adam against their
// update rules computed in plain C++ doubles, kernel reuse across training steps, and a small MLP
// trained for a few steps against a double-precision reference implementation.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using kiln::Tensor;
namespace F = kiln::nn::functional;
namespace nn = kiln::nn;
namespace optim = kiln::optim;

std::vector<double> valuesOf(const Tensor& t) {
  Tensor c = t.to(kiln::kDouble).contiguous();
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

Tensor fromValues(const std::vector<double>& v, kiln::IntArrayRef shape,
                  kiln::ScalarType dtype = kiln::kFloat) {
  return kiln::tensor(kiln::TensorDataContainer(v), kiln::kDouble).reshape(shape).to(dtype);
}

// Overwrites a parameter's values without recording gradients (as torch::NoGradGuard + copy_).
void setValues(Tensor& p, const std::vector<double>& v) {
  kiln::NoGradGuard no_grad;
  p.copy_(fromValues(v, p.sizes(), p.dtype()));
}

void expectNear(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "element " << i;
  }
}

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    return e.what();
  }
  return "(no error)";
}

// --- modules ---

TEST(Module, LinearForwardByHand) {
  nn::Linear lin(3, 2);
  setValues(lin->weight, {1, 2, 3, -1, 0.5, 0});
  setValues(lin->bias, {0.5, -2});
  Tensor x = fromValues({1, 0, -1, 2, 3, 4}, {2, 3});
  // Row 0: [1 - 3 + 0.5, -1 + 0 - 2]; row 1: [2 + 6 + 12 + 0.5, -2 + 1.5 - 2].
  expectNear(valuesOf(lin(x)), {-1.5, -3, 20.5, -2.5}, 1e-6);
  // A batch of batches: the leading dims are kept.
  expectNear(valuesOf(lin(x.reshape({1, 2, 3}))), {-1.5, -3, 20.5, -2.5}, 1e-6);
  EXPECT_EQ(lin(x.reshape({1, 2, 3})).sizes().vec(), (std::vector<int64_t>{1, 2, 2}));
  // One sample without a batch dimension.
  expectNear(valuesOf(lin(fromValues({1, 0, -1}, {3}))), {-1.5, -3}, 1e-6);

  nn::Linear nobias(nn::LinearOptions(3, 2).bias(false));
  EXPECT_EQ(nobias->parameters().size(), 1u);
  EXPECT_FALSE(nobias->bias.defined());
  std::ostringstream s;
  s << *nobias;
  EXPECT_EQ(s.str(), "kiln::nn::Linear(in_features=3, out_features=2, bias=false)");
}

TEST(Module, LinearInitialisationAsLibtorch) {
  kiln::manual_seed(3);
  nn::Linear a(50, 20);
  kiln::manual_seed(3);
  nn::Linear b(50, 20);
  EXPECT_TRUE(a->weight.equal(b->weight));
  EXPECT_TRUE(a->bias.equal(b->bias));
  EXPECT_FALSE(a->weight.is_lazy());  // computed at construction
  EXPECT_TRUE(a->weight.requires_grad());
  // kaiming_uniform(a = sqrt(5)) and the bias both give U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  const double bound = 1 / std::sqrt(50.0);
  for (const Tensor& p : {a->weight, a->bias}) {
    std::vector<double> v = valuesOf(p);
    double lo = 1, hi = -1, mean = 0;
    for (double x : v) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      mean += x / static_cast<double>(v.size());
    }
    EXPECT_GE(lo, -bound);
    EXPECT_LE(hi, bound);
    if (v.size() > 100) {
      EXPECT_LT(lo, -0.9 * bound);
      EXPECT_GT(hi, 0.9 * bound);
      EXPECT_NEAR(mean, 0, 0.1 * bound);
    }
  }
  EXPECT_EQ(errorOf([] { nn::init::kaiming_uniform_(kiln::empty({3})); }),
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions");
}

struct NetImpl : nn::Module {
  NetImpl()
      : fc1(register_module("fc1", nn::Linear(4, 3))),
        drop(register_module("drop", nn::Dropout(0.5))),
        fc2(register_module("fc2", nn::Linear(3, 2))) {
    scale = register_parameter("scale", kiln::ones({2}));
    register_buffer("steps", kiln::zeros({1}));
  }
  Tensor forward(const Tensor& x) { return fc2(drop(kiln::relu(fc1(x)))) * scale; }
  nn::Linear fc1;
  nn::Dropout drop;
  nn::Linear fc2;
  Tensor scale;
};
KILN_MODULE(Net);

TEST(Module, RegistrationTrainingFlagAndPrinting) {
  Net net;
  auto named = net->named_parameters();
  EXPECT_EQ(named.keys(), (std::vector<std::string>{"scale", "fc1.weight", "fc1.bias", "fc2.weight",
                                                    "fc2.bias"}));
  EXPECT_EQ(net->parameters().size(), 5u);
  EXPECT_EQ(net->parameters(false).size(), 1u);
  EXPECT_EQ(net->named_buffers().keys(), (std::vector<std::string>{"steps"}));
  EXPECT_FALSE(net->buffers()[0].requires_grad());
  EXPECT_EQ(net->children().size(), 3u);
  EXPECT_EQ(net->modules().size(), 4u);
  EXPECT_EQ(net->named_modules().keys(), (std::vector<std::string>{"", "fc1", "drop", "fc2"}));
  // The member holder and the registered module are the same object.
  EXPECT_EQ(net->fc1.get(), net->named_children()["fc1"].get());
  EXPECT_TRUE(net->named_parameters()["fc1.weight"].impl() == net->fc1->weight.impl());

  EXPECT_TRUE(net->is_training());
  net->eval();
  EXPECT_FALSE(net->is_training());
  EXPECT_FALSE(net->drop->is_training());
  net->train();
  EXPECT_TRUE(net->fc2->is_training());

  std::ostringstream s;
  s << net;
  EXPECT_EQ(s.str(),
            "(anonymous namespace)::NetImpl(\n"
            "  (fc1): kiln::nn::Linear(in_features=4, out_features=3, bias=true)\n"
            "  (drop): kiln::nn::Dropout(p=0.5, inplace=false)\n"
            "  (fc2): kiln::nn::Linear(in_features=3, out_features=2, bias=true)\n"
            ")");

  EXPECT_EQ(errorOf([&] { net->register_parameter("scale", kiln::ones({1})); }),
            "Parameter 'scale' already defined");
  EXPECT_EQ(errorOf([&] { net->register_parameter("a.b", kiln::ones({1})); }),
            "Parameter name must not contain a dot (got 'a.b')");
  EXPECT_EQ(errorOf([&] { net->register_module("", nn::ReLU()); }),
            "Submodule name must not be empty");
  EXPECT_EQ(errorOf([&] { (void)net->named_parameters()["nope"]; }), "Key 'nope' is not defined");
  nn::Linear empty(nullptr);
  EXPECT_TRUE(empty.is_empty());
  EXPECT_NE(errorOf([&] {
              empty->forward(kiln::ones({1, 1}));
            }).find("Accessing empty ModuleHolder"),
            std::string::npos);

  // zero_grad: undefined gradients by default (libtorch 2's set_to_none), zeros otherwise.
  Tensor out = net->forward(kiln::ones({2, 4})).sum();
  out.backward();
  EXPECT_TRUE(net->fc1->weight.grad().defined());
  net->zero_grad(false);
  expectNear(valuesOf(net->fc1->weight.grad()), std::vector<double>(12, 0.0), 0);
  net->zero_grad();
  EXPECT_FALSE(net->fc1->weight.grad().defined());
}

TEST(Module, SequentialAndToDouble) {
  kiln::manual_seed(1);
  nn::Sequential seq(nn::Linear(2, 3), nn::ReLU(), nn::Linear(3, 1));
  EXPECT_EQ(seq->size(), 3u);
  EXPECT_EQ(seq->named_parameters().keys(),
            (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  nn::Sequential named{{"fc", nn::Linear(2, 3)}, {"act", nn::ReLU()}};
  named->push_back(nn::Linear(3, 1));
  EXPECT_EQ(named->named_parameters().keys(),
            (std::vector<std::string>{"fc.weight", "fc.bias", "2.weight", "2.bias"}));
  std::ostringstream s;
  s << *seq;
  EXPECT_EQ(s.str(),
            "kiln::nn::Sequential(\n"
            "  (0): kiln::nn::Linear(in_features=2, out_features=3, bias=true)\n"
            "  (1): kiln::nn::ReLU()\n"
            "  (2): kiln::nn::Linear(in_features=3, out_features=1, bias=true)\n"
            ")");
  // forward is the composition, checked against the modules applied one by one.
  Tensor x = kiln::randn({5, 2});
  Tensor want =
      seq->at<nn::LinearImpl>(2).forward(kiln::relu(seq->at<nn::LinearImpl>(0).forward(x)));
  EXPECT_TRUE(seq->forward(x).allclose(want));
  // to(kDouble) converts in place: the member tensors see it.
  seq->to(kiln::kDouble);
  EXPECT_EQ(seq->at<nn::LinearImpl>(0).weight.dtype(), kiln::kDouble);
  EXPECT_TRUE(seq->at<nn::LinearImpl>(0).weight.requires_grad());
  EXPECT_TRUE(seq->forward(x.to(kiln::kDouble)).allclose(want.to(kiln::kDouble), 1e-5, 1e-6));
}

// --- functional ---

TEST(Functional, CrossEntropyAndNllByHand) {
  std::vector<double> logits = {1.0, 2.0, 0.5, -1.0, 0.0, 3.0, 2.0, 2.0, -2.0};
  std::vector<int64_t> target = {1, 2, 0};
  Tensor x = fromValues(logits, {3, 3}, kiln::kDouble).requires_grad_();
  Tensor y = kiln::tensor({1, 2, 0});
  // Hand computation: loss_i = logsumexp(row i) - row_i[target_i]; gradient (softmax - onehot)/N.
  double total = 0;
  std::vector<double> grad(9);
  for (int i = 0; i < 3; ++i) {
    double m = 0;
    for (int j = 0; j < 3; ++j) m += std::exp(logits[i * 3 + j]);
    total += std::log(m) - logits[i * 3 + target[i]];
    for (int j = 0; j < 3; ++j) {
      grad[i * 3 + j] = (std::exp(logits[i * 3 + j]) / m - (j == target[i] ? 1 : 0)) / 3;
    }
  }
  Tensor loss = F::cross_entropy(x, y);
  EXPECT_NEAR(loss.item<double>(), total / 3, 1e-12);
  loss.backward();
  expectNear(valuesOf(x.grad()), grad, 1e-12);
  // nll_loss(log_softmax) is the same thing.
  EXPECT_NEAR(F::nll_loss(F::log_softmax(x, 1), y).item<double>(), total / 3, 1e-12);
  EXPECT_NEAR(
      F::cross_entropy(x, y, F::CrossEntropyFuncOptions().reduction(kiln::kSum)).item<double>(),
      total, 1e-12);
  Tensor none = F::cross_entropy(x, y, F::CrossEntropyFuncOptions().reduction(kiln::kNone));
  EXPECT_EQ(none.sizes().vec(), (std::vector<int64_t>{3}));
  EXPECT_NEAR(valuesOf(none)[0] + valuesOf(none)[1] + valuesOf(none)[2], total, 1e-12);

  // Class weights and ignore_index: mean over the weights of the rows kept.
  Tensor w = kiln::tensor({0.5, 2.0, 1.0}, kiln::kDouble);
  Tensor logp = F::log_softmax(x.detach(), 1);
  std::vector<double> lp = valuesOf(logp);
  double num = -(2.0 * lp[0 * 3 + 1] + 1.0 * lp[1 * 3 + 2] + 0.5 * lp[2 * 3 + 0]);
  EXPECT_NEAR(F::nll_loss(logp, y, F::NLLLossFuncOptions().weight(w)).item<double>(), num / 3.5,
              1e-12);
  Tensor y_ignored = kiln::tensor({1, -100, 0});
  EXPECT_NEAR(F::nll_loss(logp, y_ignored).item<double>(), -(lp[1] + lp[6]) / 2, 1e-12);
  EXPECT_NEAR(F::nll_loss(logp, y, F::NLLLossFuncOptions().ignore_index(2)).item<double>(),
              -(lp[1] + lp[6]) / 2, 1e-12);
  // One sample without a batch dimension.
  EXPECT_NEAR(F::nll_loss(logp[0], kiln::tensor(int64_t{1})).item<double>(), -lp[1], 1e-12);
}

TEST(Functional, CrossEntropyVariantsAgainstFiniteDifferences) {
  kiln::manual_seed(5);
  Tensor base = kiln::randn({4, 5}, kiln::kDouble);
  Tensor y = kiln::tensor({0, 4, 2, 4});
  Tensor probs = kiln::softmax(kiln::randn({4, 5}, kiln::kDouble), 1);
  Tensor w = kiln::tensor({1.0, 0.5, 2.0, 1.5, 0.25}, kiln::kDouble);
  std::vector<std::function<Tensor(const Tensor&)>> losses = {
      [&](const Tensor& x) { return F::cross_entropy(x, y); },
      [&](const Tensor& x) {
        return F::cross_entropy(x, y, F::CrossEntropyFuncOptions().weight(w).label_smoothing(0.2));
      },
      [&](const Tensor& x) {
        return F::cross_entropy(x, y,
                                F::CrossEntropyFuncOptions().ignore_index(4).label_smoothing(0.1));
      },
      [&](const Tensor& x) { return F::cross_entropy(x, probs); },
      [&](const Tensor& x) { return F::mse_loss(x, probs); },
      [&](const Tensor& x) { return F::mse_loss(x, probs, kiln::kSum); },
  };
  for (size_t k = 0; k < losses.size(); ++k) {
    Tensor x = base.detach().requires_grad_();
    losses[k](x).backward();
    std::vector<double> got = valuesOf(x.grad());
    std::vector<double> v = valuesOf(base);
    for (size_t i = 0; i < v.size(); ++i) {
      const double eps = 1e-6;
      auto at = [&](double d) {
        std::vector<double> moved = v;
        moved[i] += d;
        return losses[k](fromValues(moved, {4, 5}, kiln::kDouble)).item<double>();
      };
      EXPECT_NEAR(got[i], (at(eps) - at(-eps)) / (2 * eps), 1e-7) << "loss " << k << " elem " << i;
    }
  }
  // Label smoothing by hand: (1 - e) * nll + e / C * mean_i(-sum_j logp_ij).
  std::vector<double> lp = valuesOf(F::log_softmax(base, 1));
  double nll = 0, uniform = 0;
  const int64_t classes_of_y[] = {0, 4, 2, 4};
  for (int i = 0; i < 4; ++i) {
    nll -= lp[i * 5 + classes_of_y[i]];
    for (int j = 0; j < 5; ++j) uniform -= lp[i * 5 + j];
  }
  EXPECT_NEAR(
      F::cross_entropy(base, y, F::CrossEntropyFuncOptions().label_smoothing(0.3)).item<double>(),
      0.7 * nll / 4 + 0.3 / 5 * uniform / 4, 1e-12);
  // mse by hand.
  std::vector<double> a = valuesOf(base), b = valuesOf(probs);
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) se += (a[i] - b[i]) * (a[i] - b[i]);
  EXPECT_NEAR(F::mse_loss(base, probs).item<double>(), se / 20, 1e-12);
}

TEST(Functional, ShapeErrorsWithPyTorchsWording) {
  Tensor x = kiln::randn({4, 10});
  EXPECT_EQ(errorOf([&] {
              F::cross_entropy(x, kiln::tensor({1, 2, 3}));
            }),
            "Expected input batch_size (4) to match target batch_size (3).");
  EXPECT_EQ(errorOf([&] {
              F::cross_entropy(x, kiln::zeros({4, 1}, kiln::kLong));
            }),
            "0D or 1D target tensor expected, multi-target not supported");
  EXPECT_EQ(errorOf([&] { F::nll_loss(x, kiln::zeros({4}, kiln::kInt)); }),
            "expected scalar type Long but found Int");
  EXPECT_EQ(errorOf([&] {
              F::cross_entropy(x, kiln::zeros({4, 10}, kiln::kLong));
            }),
            "Expected floating point type for target with class probabilities, got Long");
  EXPECT_EQ(errorOf([&] { F::nll_loss(kiln::randn({10}), kiln::tensor({1})); }),
            "size mismatch (got input: [10], target: [1])");
  EXPECT_EQ(errorOf([&] {
              F::nll_loss(x, kiln::zeros({4}, kiln::kLong),
                          F::NLLLossFuncOptions().weight(kiln::ones({5})));
            }),
            "weight tensor should be defined either for all 10 classes or no classes but got "
            "weight tensor of shape: [5]");
  EXPECT_EQ(errorOf([&] {
              F::cross_entropy(x, kiln::zeros({4}, kiln::kLong),
                               F::CrossEntropyFuncOptions().label_smoothing(1.5));
            }),
            "label_smoothing must be between 0.0 and 1.0. Got: 1.5");
  EXPECT_EQ(errorOf([&] {
              F::linear(kiln::randn({4, 3}), kiln::randn({2, 5}));
            }),
            "mat1 and mat2 shapes cannot be multiplied (4x3 and 5x2)");
  EXPECT_EQ(errorOf([&] { F::dropout(x, 1.5); }),
            "dropout probability has to be between 0 and 1, but got 1.5");
  EXPECT_EQ(errorOf([&] {
              F::mse_loss(kiln::randn({2, 3}), kiln::randn({2, 4}));
            }),
            "The size of tensor a (3) must match the size of tensor b (4) at non-singleton "
            "dimension 1");
}

TEST(Functional, DropoutStatisticsAndModes) {
  kiln::manual_seed(11);
  const int64_t n = 200000;
  Tensor x = kiln::ones({n}, kiln::requires_grad());
  Tensor y = F::dropout(x, 0.3, true);
  std::vector<double> v = valuesOf(y);
  int64_t zeros = 0;
  double sum = 0;
  for (double e : v) {
    if (e == 0) {
      ++zeros;
    } else {
      EXPECT_NEAR(e, 1 / 0.7, 1e-6);
    }
    sum += e;
  }
  // Binomial(n, 0.3): standard deviation of the fraction ~0.001.
  EXPECT_NEAR(static_cast<double>(zeros) / n, 0.3, 0.005);
  EXPECT_NEAR(sum / n, 1.0, 0.01);
  // The gradient is the same mask and scale.
  y.sum().backward();
  EXPECT_EQ(valuesOf(x.grad()), v);
  // Another draw gives another mask; the same seed gives the same one.
  kiln::manual_seed(11);
  EXPECT_TRUE(F::dropout(x.detach(), 0.3, true).equal(y.detach()));
  EXPECT_FALSE(F::dropout(x.detach(), 0.3, true).equal(y.detach()));
  // Not training, or p = 0: the input itself.
  EXPECT_EQ(F::dropout(x, 0.3, false).impl(), x.impl());
  EXPECT_EQ(F::dropout(x, 0.0, true).impl(), x.impl());
  expectNear(valuesOf(F::dropout(x, 1.0, true)), std::vector<double>(n, 0.0), 0);

  nn::Dropout drop(0.5);
  drop->eval();
  EXPECT_EQ(drop(x).impl(), x.impl());
  drop->train();
  std::vector<double> d = valuesOf(drop(kiln::ones({1000})));
  for (double e : d) EXPECT_TRUE(e == 0 || e == 2);
}

// --- optimizers against their update rules in plain doubles ---

// The test problem: loss = sum(c * (p - t)^2) / 2 over a [2, 3] parameter, gradient c * (p - t).
struct Quadratic {
  std::vector<double> p0 = {0.5, -1.0, 2.0, 0.0, 1.5, -0.5};
  std::vector<double> t = {1.0, 0.0, -1.0, 0.5, 0.5, 2.0};
  std::vector<double> c = {1.0, 2.0, 0.5, 3.0, 1.0, 0.25};
  Tensor loss(const Tensor& p) const {
    Tensor d = p - fromValues(t, {2, 3});
    return (fromValues(c, {2, 3}) * d * d).sum() / 2;
  }
  std::vector<double> grad(const std::vector<double>& p) const {
    std::vector<double> g(p.size());
    for (size_t i = 0; i < p.size(); ++i) g[i] = c[i] * (p[i] - t[i]);
    return g;
  }
};

struct SgdCase {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
};

TEST(Optim, SgdMatchesTheUpdateRule) {
  Quadratic q;
  for (SgdCase k : {SgdCase{0.1, 0, 0, 0, false}, SgdCase{0.1, 0.9, 0, 0, false},
                    SgdCase{0.05, 0.8, 0.3, 0.01, false}, SgdCase{0.1, 0.9, 0, 0.1, true}}) {
    Tensor p = fromValues(q.p0, {2, 3}).requires_grad_();
    optim::SGD opt({p}, optim::SGDOptions(k.lr)
                            .momentum(k.momentum)
                            .dampening(k.dampening)
                            .weight_decay(k.weight_decay)
                            .nesterov(k.nesterov));
    std::vector<double> ref = q.p0, buf(6, 0.0);
    for (int step = 0; step < 5; ++step) {
      opt.zero_grad();
      q.loss(p).backward();
      opt.step();
      std::vector<double> g = q.grad(ref);
      for (size_t i = 0; i < 6; ++i) {
        double d = g[i] + k.weight_decay * ref[i];
        if (k.momentum != 0) {
          buf[i] = step == 0 ? d : k.momentum * buf[i] + (1 - k.dampening) * d;
          d = k.nesterov ? d + k.momentum * buf[i] : buf[i];
        }
        ref[i] -= k.lr * d;
      }
      expectNear(valuesOf(p), ref, 1e-5);
      EXPECT_FALSE(p.is_lazy());  // step() materialised the update
    }
  }
  Tensor p = kiln::ones({1}, kiln::requires_grad());
  EXPECT_EQ(errorOf([&] { optim::SGD({p}, optim::SGDOptions(-0.5)); }),
            "Invalid learning rate: -0.5");
  EXPECT_EQ(errorOf([&] { optim::SGD({p}, optim::SGDOptions(0.1).nesterov(true)); }),
            "Nesterov momentum requires a momentum and zero dampening");
  EXPECT_EQ(errorOf([&] { optim::SGD({p * 2}, optim::SGDOptions(0.1)); }),
            "can't optimize a non-leaf Tensor");
}

struct AdamCase {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad;
};

TEST(Optim, AdamMatchesTheUpdateRule) {
  Quadratic q;
  for (AdamCase k :
       {AdamCase{0.01, 0.9, 0.999, 1e-8, 0, false}, AdamCase{0.05, 0.8, 0.99, 1e-3, 0.1, false},
        AdamCase{0.1, 0.9, 0.9, 1e-8, 0, true}}) {
    Tensor p = fromValues(q.p0, {2, 3}).requires_grad_();
    optim::Adam opt({p}, optim::AdamOptions(k.lr)
                             .betas({k.beta1, k.beta2})
                             .eps(k.eps)
                             .weight_decay(k.weight_decay)
                             .amsgrad(k.amsgrad));
    std::vector<double> ref = q.p0, m(6, 0.0), v(6, 0.0), vmax(6, 0.0);
    for (int step = 1; step <= 6; ++step) {
      Tensor loss = opt.step([&] {
        opt.zero_grad();
        Tensor l = q.loss(p);
        l.backward();
        return l;
      });
      EXPECT_FALSE(loss.is_lazy());  // computed with the update
      std::vector<double> g = q.grad(ref);
      double bc1 = 1 - std::pow(k.beta1, step), bc2 = 1 - std::pow(k.beta2, step);
      for (size_t i = 0; i < 6; ++i) {
        double gi = g[i] + k.weight_decay * ref[i];
        m[i] = k.beta1 * m[i] + (1 - k.beta1) * gi;
        v[i] = k.beta2 * v[i] + (1 - k.beta2) * gi * gi;
        vmax[i] = std::max(vmax[i], v[i]);
        double denom = std::sqrt(k.amsgrad ? vmax[i] : v[i]) / std::sqrt(bc2) + k.eps;
        ref[i] -= k.lr / bc1 * m[i] / denom;
      }
      expectNear(valuesOf(p), ref, 2e-5);
    }
    auto& state = static_cast<optim::AdamParamState&>(*opt.state().at(p.impl().get()));
    EXPECT_EQ(state.step(), 6);
    expectNear(valuesOf(state.exp_avg()), m, 1e-5);
  }
  Tensor p = kiln::ones({1}, kiln::requires_grad());
  EXPECT_EQ(errorOf([&] {
              optim::Adam({p}, optim::AdamOptions(0.1).betas({1.0, 0.9}));
            }),
            "Invalid beta parameter at index 0: 1");
  EXPECT_EQ(errorOf([&] { optim::Adam({p}, optim::AdamOptions(0.1).eps(-1)); }),
            "Invalid epsilon value: -1");
}

TEST(Optim, ParamGroupsAndZeroGrad) {
  Tensor a = kiln::ones({2}, kiln::requires_grad());
  Tensor b = kiln::ones({2}, kiln::requires_grad());
  optim::SGD opt({optim::OptimizerParamGroup({a}),
                  optim::OptimizerParamGroup({b}, std::make_unique<optim::SGDOptions>(0.5))},
                 optim::SGDOptions(0.1));
  EXPECT_EQ(opt.size(), 2u);
  ((a + b) * 2).sum().backward();
  opt.step();
  expectNear(valuesOf(a), {0.8, 0.8}, 1e-6);  // lr 0.1 from the defaults
  expectNear(valuesOf(b), {0.0, 0.0}, 1e-6);  // lr 0.5 from its group
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  // A parameter without a gradient is left alone.
  (a * 3).sum().backward();
  opt.step();
  expectNear(valuesOf(a), {0.5, 0.5}, 1e-6);
  expectNear(valuesOf(b), {0.0, 0.0}, 1e-6);
  EXPECT_EQ(errorOf([&] { opt.add_param_group(optim::OptimizerParamGroup({a})); }),
            "some parameters appear in more than one parameter group");
  static_cast<optim::SGDOptions&>(opt.param_groups()[0].options()).lr(1.0);
  EXPECT_EQ(opt.param_groups()[0].options().get_lr(), 1.0);
}

// --- kernel reuse across training steps ---

void expectNoCompilesAfterFirstStep(optim::Optimizer& opt, nn::Sequential& model, const Tensor& x,
                                    const Tensor& y, bool closure) {
  for (int step = 0; step < 5; ++step) {
    if (step == 1) kiln::reset_stats();
    if (closure) {
      opt.step([&] {
        opt.zero_grad();
        Tensor loss = F::cross_entropy(model->forward(x), y);
        loss.backward();
        return loss;
      });
    } else {
      opt.zero_grad();
      Tensor loss = F::cross_entropy(model->forward(x), y);
      loss.backward();
      opt.step();
      loss.item<float>();
    }
  }
  kiln::Stats s = kiln::stats();
  EXPECT_EQ(s.kernels_compiled, 0) << "steps 2 to 5 compiled new kernels";
  EXPECT_EQ(s.cache_misses, 0);
  EXPECT_GT(s.kernels_run, 0);
  // One materialisation per step with the closure: forward, backward, update and loss together.
  if (closure) {
    EXPECT_EQ(s.materializations, 4);
  }
  EXPECT_EQ(s.budget_materializations, 0);
}

TEST(Training, SecondStepCompilesNothing) {
  kiln::manual_seed(21);
  Tensor x = kiln::randn({8, 20});
  Tensor y = kiln::randint(0, 4, {8});
  kiln::eval({x, y});
  {
    nn::Sequential model(nn::Linear(20, 16), nn::ReLU(), nn::Dropout(0.2), nn::Linear(16, 16),
                         nn::ReLU(), nn::Linear(16, 4));
    optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
    expectNoCompilesAfterFirstStep(opt, model, x, y, true);
  }
  {
    nn::Sequential model(nn::Linear(20, 16), nn::ReLU(), nn::Linear(16, 4));
    optim::Adam opt(model->parameters(), optim::AdamOptions(1e-3));
    expectNoCompilesAfterFirstStep(opt, model, x, y, true);
  }
  {
    nn::Sequential model(nn::Linear(20, 16), nn::ReLU(), nn::Linear(16, 4));
    optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.5));
    expectNoCompilesAfterFirstStep(opt, model, x, y, false);
  }
}

// --- a small MLP against a double-precision reference of the same network ---

// 6-5-3 MLP with ReLU, cross-entropy, SGD with momentum: forward, backward and update by hand.
struct ReferenceMlp {
  int in = 6, hidden = 5, classes = 3;
  std::vector<double> w1, b1, w2, b2;      // [hidden, in], [hidden], [classes, hidden]
  std::vector<double> bw1, bb1, bw2, bb2;  // momentum buffers
  double step(const std::vector<double>& x, const std::vector<int64_t>& y, double lr,
              double momentum, int t) {
    const int n = static_cast<int>(y.size());
    std::vector<double> z1(n * hidden), a1(n * hidden), z2(n * classes), dz2(n * classes);
    double loss = 0;
    for (int i = 0; i < n; ++i) {
      for (int h = 0; h < hidden; ++h) {
        double s = b1[h];
        for (int k = 0; k < in; ++k) s += x[i * in + k] * w1[h * in + k];
        z1[i * hidden + h] = s;
        a1[i * hidden + h] = std::max(s, 0.0);
      }
      double mx = -1e300;
      for (int c = 0; c < classes; ++c) {
        double s = b2[c];
        for (int h = 0; h < hidden; ++h) s += a1[i * hidden + h] * w2[c * hidden + h];
        z2[i * classes + c] = s;
        mx = std::max(mx, s);
      }
      double se = 0;
      for (int c = 0; c < classes; ++c) se += std::exp(z2[i * classes + c] - mx);
      loss += mx + std::log(se) - z2[i * classes + y[i]];
      for (int c = 0; c < classes; ++c) {
        dz2[i * classes + c] = (std::exp(z2[i * classes + c] - mx) / se - (c == y[i])) / n;
      }
    }
    std::vector<double> gw1(w1.size(), 0), gb1(b1.size(), 0), gw2(w2.size(), 0), gb2(b2.size(), 0);
    for (int i = 0; i < n; ++i) {
      for (int c = 0; c < classes; ++c) {
        gb2[c] += dz2[i * classes + c];
        for (int h = 0; h < hidden; ++h)
          gw2[c * hidden + h] += dz2[i * classes + c] * a1[i * hidden + h];
      }
      for (int h = 0; h < hidden; ++h) {
        double da = 0;
        for (int c = 0; c < classes; ++c) da += dz2[i * classes + c] * w2[c * hidden + h];
        double dz = z1[i * hidden + h] > 0 ? da : 0;
        gb1[h] += dz;
        for (int k = 0; k < in; ++k) gw1[h * in + k] += dz * x[i * in + k];
      }
    }
    auto update = [&](std::vector<double>& p, std::vector<double>& buf,
                      const std::vector<double>& g) {
      if (buf.empty()) buf.assign(p.size(), 0);
      for (size_t j = 0; j < p.size(); ++j) {
        buf[j] = t == 0 ? g[j] : momentum * buf[j] + g[j];
        p[j] -= lr * buf[j];
      }
    };
    update(w1, bw1, gw1);
    update(b1, bb1, gb1);
    update(w2, bw2, gw2);
    update(b2, bb2, gb2);
    return loss / n;
  }
};

TEST(Training, SmallMlpMatchesDoubleReference) {
  kiln::manual_seed(42);
  nn::Sequential model(nn::Linear(6, 5), nn::ReLU(), nn::Linear(5, 3));
  Tensor x = kiln::randn({10, 6});
  Tensor y = kiln::randint(0, 3, {10});
  ReferenceMlp ref;
  ref.w1 = valuesOf(model->at<nn::LinearImpl>(0).weight);
  ref.b1 = valuesOf(model->at<nn::LinearImpl>(0).bias);
  ref.w2 = valuesOf(model->at<nn::LinearImpl>(2).weight);
  ref.b2 = valuesOf(model->at<nn::LinearImpl>(2).bias);
  std::vector<double> xs = valuesOf(x);
  std::vector<int64_t> ys;
  for (double v : valuesOf(y)) ys.push_back(static_cast<int64_t>(v));

  optim::SGD opt(model->parameters(), optim::SGDOptions(0.5).momentum(0.9));
  double first = 0, last = 0;
  for (int t = 0; t < 8; ++t) {
    Tensor loss = opt.step([&] {
      opt.zero_grad();
      Tensor l = F::cross_entropy(model->forward(x), y);
      l.backward();
      return l;
    });
    double want = ref.step(xs, ys, 0.5, 0.9, t);
    EXPECT_NEAR(loss.item<double>(), want, 1e-5 * std::max(1.0, want)) << "step " << t;
    if (t == 0) first = want;
    last = want;
  }
  EXPECT_LT(last, first);  // it learns
  expectNear(valuesOf(model->at<nn::LinearImpl>(2).weight), ref.w2, 1e-4);
}

// --- layers and losses of issue 11 (values: double-precision formulas here, and libtorch 1.13's
// printed results where noted) ---

const std::vector<double> kX = {0.5, -1.0, 2.0, 3.0, 0.25, -0.5};

double normalCdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

TEST(Layers, GeluExactAndItsGradient) {
  Tensor x = fromValues(kX, {2, 3}).set_requires_grad(true);
  Tensor y = F::gelu(x);
  EXPECT_EQ(y.grad_fn()->name(), "GeluBackward0");
  y.sum().backward();
  std::vector<double> want, dwant;
  for (double v : kX) {
    want.push_back(v * normalCdf(v));
    dwant.push_back(normalCdf(v) + v * std::exp(-v * v / 2) / std::sqrt(2 * M_PI));
  }
  expectNear(valuesOf(y), want, 2e-6);
  expectNear(valuesOf(x.grad()), dwant, 2e-6);
  // libtorch 1.13: gelu of kX is 0.3457 -0.1587 1.9545 2.9960 0.1497 -0.1543.
  EXPECT_NEAR(valuesOf(kiln::gelu(x))[3], 2.9960, 1e-4);
  // The lower tail keeps its relative accuracy (Phi(-8) = 6.2e-16).
  EXPECT_NEAR(valuesOf(F::gelu(kiln::tensor({-8.0}, kiln::kDouble)))[0], -8 * normalCdf(-8),
              1e-6 * 8 * normalCdf(-8));
}

TEST(Layers, GeluTanhApproximation) {
  Tensor x = fromValues(kX, {6}).set_requires_grad(true);
  Tensor y = kiln::gelu(x, "tanh");
  y.sum().backward();
  const double k = std::sqrt(2 / M_PI);
  std::vector<double> want, dwant;
  for (double v : kX) {
    const double u = k * (v + 0.044715 * v * v * v), t = std::tanh(u);
    want.push_back(0.5 * v * (1 + t));
    dwant.push_back(0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v));
  }
  expectNear(valuesOf(y), want, 1e-6);
  expectNear(valuesOf(x.grad()), dwant, 1e-5);
  EXPECT_EQ(errorOf([&] { F::gelu(x, F::GELUFuncOptions().approximate("foo")); }),
            "approximate argument must be either none or tanh.");
}

TEST(Layers, LayerNormByHand) {
  Tensor x = fromValues(kX, {2, 3}).set_requires_grad(true);
  Tensor w = fromValues({1, 2, -1}, {3}).set_requires_grad(true);
  Tensor b = fromValues({0, 0.5, 1}, {3}).set_requires_grad(true);
  Tensor y = kiln::layer_norm(x, {3}, w, b, 1e-5);
  EXPECT_EQ(y.grad_fn()->name(), "NativeLayerNormBackward0");
  std::vector<double> want;
  for (int r = 0; r < 2; ++r) {
    const double* row = &kX[3 * r];
    const double mean = (row[0] + row[1] + row[2]) / 3;
    double var = 0;
    for (int c = 0; c < 3; ++c) var += (row[c] - mean) * (row[c] - mean) / 3;
    const double wv[] = {1, 2, -1}, bv[] = {0, 0.5, 1};
    for (int c = 0; c < 3; ++c)
      want.push_back((row[c] - mean) / std::sqrt(var + 1e-5) * wv[c] + bv[c]);
  }
  expectNear(valuesOf(y), want, 1e-5);
  // The weight's gradient of sum(y) is the sum over rows of the normalised input; the bias's is
  // the row count; the input's sums to 0 over each row.
  y.sum().backward();
  expectNear(valuesOf(b.grad()), {2, 2, 2}, 1e-6);
  std::vector<double> dw(3, 0);
  for (int i = 0; i < 6; ++i)
    dw[i % 3] +=
        (want[i] - std::vector<double>{0, 0.5, 1}[i % 3]) / std::vector<double>{1, 2, -1}[i % 3];
  expectNear(valuesOf(w.grad()), dw, 1e-5);
  std::vector<double> dx = valuesOf(x.grad());
  EXPECT_NEAR(dx[0] + dx[1] + dx[2], 0, 1e-5);
  // libtorch 1.13 without weight and bias: 0 -1.2247 1.2247 / 1.3846 -0.4431 -0.9415.
  expectNear(valuesOf(F::layer_norm(x, F::LayerNormFuncOptions({3}))),
             {0, -1.2247, 1.2247, 1.3846, -0.4431, -0.9415}, 1e-4);
}

TEST(Layers, LayerNormShapeErrorsAsLibtorch) {
  Tensor x = kiln::zeros({2, 3});
  EXPECT_EQ(errorOf([&] { F::layer_norm(x, F::LayerNormFuncOptions({4})); }),
            "Given normalized_shape=[4], expected input with shape [*, 4], but got input of "
            "size[2, 3]");
  EXPECT_EQ(
      errorOf([&] { F::layer_norm(x, F::LayerNormFuncOptions({3}).weight(kiln::ones({4}))); }),
      "Expected weight to be of same shape as normalized_shape, but got weight of shape [4] "
      "and normalized_shape = [3]");
  EXPECT_EQ(errorOf([&] { F::layer_norm(x, F::LayerNormFuncOptions({3}).bias(kiln::ones({2}))); }),
            "Expected bias to be of same shape as normalized_shape, but got bias of shape [2] and "
            "normalized_shape = [3]");
  EXPECT_EQ(errorOf([&] { F::layer_norm(x, F::LayerNormFuncOptions(std::vector<int64_t>{})); }),
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
            "element, but got normalized_shape = []");
}

TEST(Losses, SmoothL1ByHand) {
  Tensor x = fromValues(kX, {2, 3}).set_requires_grad(true);
  Tensor loss = kiln::smooth_l1_loss(x, kiln::zeros({2, 3}), kiln::Reduction::Mean, 0.5);
  EXPECT_EQ(loss.grad_fn()->name(), "SmoothL1LossBackward0");
  // |x| < 0.5 only for 0.25: 0.5 * 0.0625 / 0.5; the rest |x| - 0.25 (libtorch 1.13: 0.96875).
  EXPECT_NEAR(loss.item<double>(), (0.25 + 0.75 + 1.75 + 2.75 + 0.0625 + 0.25) / 6, 1e-6);
  loss.backward();
  expectNear(valuesOf(x.grad()), {1.0 / 6, -1.0 / 6, 1.0 / 6, 1.0 / 6, 0.5 / 6, -1.0 / 6}, 1e-6);
  EXPECT_EQ(errorOf([&] { F::smooth_l1_loss(x, x, F::SmoothL1LossFuncOptions().beta(-1)); }),
            "smooth_l1_loss does not support negative values for beta.");
}

TEST(Losses, BinaryCrossEntropyClampsLogsAsPyTorch) {
  Tensor p = kiln::tensor({0.0, 1.0, 0.3}).set_requires_grad(true);
  Tensor t = kiln::tensor({1.0, 0.0, 0.5});
  Tensor loss = kiln::binary_cross_entropy(p, t);
  EXPECT_EQ(loss.grad_fn()->name(), "BinaryCrossEntropyBackward0");
  // log(0) is clamped to -100 (libtorch 1.13: 66.9268).
  EXPECT_NEAR(loss.item<double>(), (100 + 100 - 0.5 * std::log(0.3) - 0.5 * std::log(0.7)) / 3,
              1e-4);
  Tensor q = kiln::tensor({0.2, 0.9}).set_requires_grad(true);
  Tensor l2 = F::binary_cross_entropy(
      q, kiln::tensor({1.0, 0.0}),
      F::BinaryCrossEntropyFuncOptions().weight(kiln::tensor({2.0, 0.5})).reduction(kiln::kSum));
  l2.backward();
  EXPECT_NEAR(l2.item<double>(), -2 * std::log(0.2) - 0.5 * std::log(0.1), 1e-5);
  // d/dq of -w (t log q + (1 - t) log(1 - q)) = w (q - t) / (q (1 - q)).
  expectNear(valuesOf(q.grad()), {2 * (0.2 - 1) / (0.2 * 0.8), 0.5 * 0.9 / (0.9 * 0.1)}, 1e-5);
  EXPECT_EQ(errorOf([&] { F::binary_cross_entropy(q, kiln::ones({3})); }),
            "Using a target size ([3]) that is different to the input size ([2]) is deprecated. "
            "Please ensure they have the same size.");
}

TEST(Losses, BinaryCrossEntropyWithLogitsIsStable) {
  Tensor x = fromValues({0.5, -1, 2, 3, 0.25, -0.5, 80, -80}, {8}).set_requires_grad(true);
  Tensor t = kiln::full({8}, 0.25);
  Tensor pw = kiln::full({8}, 2.0);
  Tensor loss = kiln::binary_cross_entropy_with_logits(x, t, {}, pw);
  EXPECT_EQ(loss.grad_fn()->name(), "BinaryCrossEntropyWithLogitsBackward0");
  loss.backward();
  double want = 0;
  std::vector<double> dwant;
  for (double v : {0.5, -1.0, 2.0, 3.0, 0.25, -0.5, 80.0, -80.0}) {
    // -(pw t log s(v) + (1 - t) log(1 - s(v))), with log s(v) = -softplus(-v).
    const double sp_neg = std::log1p(std::exp(-std::fabs(v))) + std::max(-v, 0.0);
    want += (2 * 0.25 * sp_neg + 0.75 * (sp_neg + v)) / 8;
    const double s = 1 / (1 + std::exp(-v));
    dwant.push_back((-2 * 0.25 * (1 - s) + 0.75 * s) / 8);
  }
  EXPECT_NEAR(loss.item<double>(), want, 1e-5 * want);
  expectNear(valuesOf(x.grad()), dwant, 1e-6);
  EXPECT_EQ(errorOf([&] { F::binary_cross_entropy_with_logits(x, kiln::ones({3})); }),
            "Target size ([3]) must be the same as input size ([8])");
}

TEST(Losses, TopLevelFunctionsTakeLibtorchsReductionCodes) {
  Tensor x = fromValues(kX, {2, 3});
  Tensor logp = kiln::log_softmax(x, 1);
  Tensor target = kiln::tensor({0, 2}, kiln::kLong);
  const std::vector<double> lp = valuesOf(logp);
  // libtorch 1.13: 5.33127.
  EXPECT_NEAR(kiln::nll_loss(logp, target, {}, 2).item<double>(), -(lp[0] + lp[5]), 1e-5);
  EXPECT_NEAR(kiln::nll_loss(logp, target, {}, kiln::Reduction::Mean).item<double>(),
              -(lp[0] + lp[5]) / 2, 1e-5);
  EXPECT_EQ(kiln::mse_loss(x, kiln::zeros({2, 3}), 0).sizes(), kiln::IntArrayRef({2, 3}));
  EXPECT_EQ(errorOf([&] { kiln::mse_loss(x, x, 5); }),
            "kiln: reduction 5 is not one of 0 (none), 1 (mean) and 2 (sum)");
  Tensor kept = kiln::dropout(x, 0.5, false);
  expectNear(valuesOf(kept), kX, 0);
}

TEST(Module, LayerNormGeluAndLossModules) {
  nn::LayerNorm norm(nn::LayerNormOptions({3}).eps(1e-5));
  EXPECT_EQ(norm->named_parameters().size(), 2u);
  expectNear(valuesOf(norm->weight), {1, 1, 1}, 0);
  expectNear(valuesOf(norm->bias), {0, 0, 0}, 0);
  nn::Sequential net(norm, nn::GELU(nn::GELUOptions().approximate("tanh")), nn::Tanh(),
                     nn::Sigmoid(), nn::Functional(kiln::relu));
  Tensor x = fromValues(kX, {2, 3});
  std::vector<double> want = valuesOf(F::layer_norm(x, F::LayerNormFuncOptions({3})));
  for (double& v : want) {
    const double k = std::sqrt(2 / M_PI);
    v = 0.5 * v * (1 + std::tanh(k * (v + 0.044715 * v * v * v)));
    v = 1 / (1 + std::exp(-std::tanh(v)));
  }
  expectNear(valuesOf(net->forward(x)), want, 1e-5);
  std::ostringstream printed;
  printed << *norm << " " << *nn::MSELoss() << " " << *nn::CrossEntropyLoss() << " "
          << *nn::Functional(kiln::relu);
  EXPECT_EQ(printed.str(),
            "kiln::nn::LayerNorm([3], eps=1e-05, elementwise_affine=true) kiln::nn::MSELoss() "
            "kiln::nn::CrossEntropyLoss() kiln::nn::Functional()");
  Tensor target = kiln::tensor({0, 2}, kiln::kLong);
  nn::CrossEntropyLoss ce(nn::CrossEntropyLossOptions().reduction(kiln::kSum));
  EXPECT_NEAR(ce(x, target).item<double>(),
              kiln::nll_loss(kiln::log_softmax(x, 1), target, {}, 2).item<double>(), 1e-6);
  nn::MSELoss mse;
  EXPECT_NEAR(mse(x, kiln::zeros({2, 3})).item<double>(), (0.25 + 1 + 4 + 9 + 0.0625 + 0.25) / 6,
              1e-6);
  // A bound extra argument: Functional(f, 0.5) calls f(input, 0.5).
  nn::Functional scaled([](Tensor t, double k) { return t * k; }, 0.5);
  expectNear(valuesOf(scaled(x)), {0.25, -0.5, 1, 1.5, 0.125, -0.25}, 0);
}

}  // namespace

// ------------------------------------------------------------------ warnings

// Collects warnings as a program replacing libtorch's handler would.
struct CollectWarnings : kiln::WarningHandler {
  std::vector<std::string> functions, messages;
  void process(const kiln::SourceLocation& location, const std::string& msg, bool) override {
    functions.push_back(location.function);
    messages.push_back(msg);
  }
};

// The texts and the calls that warn were taken from libtorch 1.13 (a probe with a replaced
// handler): nn::functional's mse_loss and smooth_l1_loss, and the modules using them, warn on
// every call whose target broadcasts; the top-level kiln::mse_loss (ATen's) does not.
TEST(Warnings, LossesWarnWhenTheTargetBroadcasts) {
  const std::string text =
      "Using a target size ([3]) that is different to the input size ([3, 1]). This will likely "
      "lead to incorrect results due to broadcasting. Please ensure they have the same size.";
  Tensor input = kiln::ones({3, 1}), target = kiln::ones({3}) * 3;
  CollectWarnings collect;
  {
    kiln::Warning::WarningHandlerGuard guard(&collect);
    EXPECT_EQ(kiln::Warning::get_warning_handler(), &collect);
    // Broadcast to [3, 3]: every difference is 2.
    EXPECT_EQ(F::mse_loss(input, target).item<float>(), 4.0f);
    F::mse_loss(input, target);
    kiln::mse_loss(input, target);
    F::smooth_l1_loss(input, target);
    kiln::nn::MSELoss()(input, target);
    F::mse_loss(target, target);
  }
  EXPECT_NE(kiln::Warning::get_warning_handler(), &collect);
  EXPECT_EQ(collect.functions,
            (std::vector<std::string>{"mse_loss", "mse_loss", "smooth_l1_loss", "mse_loss"}));
  EXPECT_EQ(collect.messages, std::vector<std::string>(4, text));
}

TEST(Warnings, DefaultHandlerPrintsToStandardError) {
  kiln::Warning::set_warning_handler(nullptr);  // the default
  testing::internal::CaptureStderr();
  F::mse_loss(kiln::ones({2}), kiln::ones({1}));
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed.rfind("[W functional.cpp:", 0), 0u) << printed;
  EXPECT_NE(printed.find("] Warning: Using a target size ([1]) that is different to the input "
                         "size ([2])."),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("same size. (function mse_loss)\n"), std::string::npos) << printed;
}

// libtorch 1.13 warns on every read of .grad() of a non-leaf tensor that does not retain it.
TEST(Warnings, GradOfANonLeaf) {
  CollectWarnings collect;
  kiln::Warning::WarningHandlerGuard guard(&collect);
  Tensor x = kiln::ones({2}, kiln::requires_grad());
  Tensor y = x * 2;
  EXPECT_FALSE(y.grad().defined());
  EXPECT_FALSE(y.grad().defined());
  EXPECT_FALSE(x.grad().defined());  // a leaf: no warning
  Tensor z = x * 3;
  z.retain_grad();
  z.sum().backward();
  EXPECT_TRUE(z.grad().defined());
  ASSERT_EQ(collect.messages.size(), 2u);
  EXPECT_EQ(collect.functions[0], "grad");
  EXPECT_EQ(collect.messages[0].rfind("The .grad attribute of a Tensor that is not a leaf Tensor "
                                      "is being accessed.",
                                      0),
            0u);
  EXPECT_NE(collect.messages[0].find("pull/30531 for more informations."), std::string::npos);
}
