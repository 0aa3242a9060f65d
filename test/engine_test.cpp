// Laziness, fusion, kernel caching, eager mode, the pending-graph budget and thread safety,
// observed through kiln::stats().
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/frontend/tensor_impl.h"
#include "lib/ir/node.h"

namespace {

using kiln::Tensor;

std::vector<double> values(const Tensor& t) {
  return kiln::detail::toDoubles(t);
}

// Two computed inputs, so that the kernels counted below are only the ones under test.
struct Inputs {
  Tensor x = kiln::rand({5, 3});
  Tensor y = kiln::rand({5, 3});
  Inputs() { kiln::eval({x, y}); }
};

TEST(Laziness, OpsDoNotMaterialise) {
  kiln::reset_stats();
  Tensor x = kiln::rand({100});
  Tensor y = (x * 2 + 1).exp();
  Tensor z = y.sum({0}, true);
  Tensor v = y.view({10, 10}).t();
  EXPECT_EQ(kiln::stats().materializations, 0);
  EXPECT_EQ(kiln::stats().kernels_run, 0);
  EXPECT_TRUE(y.is_lazy());
  EXPECT_TRUE(z.is_lazy());
  // Metadata never needs the values.
  EXPECT_EQ(z.sizes().vec(), (std::vector<int64_t>{1}));
  EXPECT_EQ(v.sizes().vec(), (std::vector<int64_t>{10, 10}));
  EXPECT_EQ(y.dtype(), kiln::kFloat);
  EXPECT_EQ(kiln::stats().materializations, 0);
  float s = z.item<float>();
  EXPECT_EQ(kiln::stats().materializations, 1);
  EXPECT_FALSE(z.is_lazy());
  EXPECT_GT(s, 100 * std::exp(1.0) * 0.99);
  // Reading again computes nothing.
  EXPECT_EQ(z.item<float>(), s);
  EXPECT_EQ(kiln::stats().materializations, 1);
}

TEST(Laziness, EveryReadPathMaterialises) {
  Inputs in;
  Tensor z = in.x + in.y;
  kiln::reset_stats();
  (void)z.data_ptr();
  EXPECT_EQ(kiln::stats().materializations, 1);
  Tensor w = in.x * in.y;
  std::ostringstream os;
  os << w;
  EXPECT_EQ(kiln::stats().materializations, 2);
  Tensor u = in.x - in.y;
  u.eval();
  EXPECT_EQ(kiln::stats().materializations, 3);
  Tensor q = (in.x / in.y).sum();
  (void)q.item();
  EXPECT_EQ(kiln::stats().materializations, 4);
}

TEST(Fusion, SeedAdditionIsOneKernel) {
  Inputs in;
  kiln::reset_stats();
  Tensor z = in.x + in.y;
  z.eval();
  EXPECT_EQ(kiln::stats().materializations, 1);
  EXPECT_EQ(kiln::stats().kernels_run, 1);
}

TEST(Fusion, ElementwiseChainIsOneKernel) {
  Inputs in;
  const Tensor& x = in.x;
  const Tensor& y = in.y;
  kiln::reset_stats();
  Tensor r = kiln::tanh((x + y) * 0.5) + kiln::exp(-(x * x)) * 0.25;
  EXPECT_EQ(kiln::stats().kernels_run, 0);
  r.eval();
  EXPECT_EQ(kiln::stats().kernels_run, 1);
  std::vector<double> vx = values(x), vy = values(y), vr = values(r);
  for (size_t i = 0; i < vr.size(); ++i) {
    double want = std::tanh((vx[i] + vy[i]) * 0.5) + std::exp(-(vx[i] * vx[i])) * 0.25;
    EXPECT_NEAR(vr[i], want, 1e-5);
  }
}

TEST(Fusion, ScalarChangeIsACacheHit) {
  Inputs in;
  kiln::clear_kernel_cache();
  kiln::reset_stats();
  Tensor a = in.x * 0.5;
  a.eval();
  EXPECT_EQ(kiln::stats().kernels_compiled, 1);
  Tensor b = in.x * 0.25;
  b.eval();
  EXPECT_EQ(kiln::stats().kernels_compiled, 1);
  EXPECT_GE(kiln::stats().cache_hits, 1);
  EXPECT_EQ(kiln::stats().kernels_run, 2);
  std::vector<double> vx = values(in.x), vb = values(b);
  for (size_t i = 0; i < vb.size(); ++i) EXPECT_FLOAT_EQ(vb[i], vx[i] * 0.25);
}

TEST(Fusion, EvalOfSeveralResultsIsOneMaterialisation) {
  Inputs in;
  Tensor p = in.x * in.y;
  Tensor a = p + 1;
  Tensor b = p - 1;
  kiln::reset_stats();
  kiln::eval({a, b});
  EXPECT_EQ(kiln::stats().materializations, 1);
  EXPECT_FALSE(a.is_lazy());
  EXPECT_FALSE(b.is_lazy());
  (void)values(a);
  (void)values(b);
  EXPECT_EQ(kiln::stats().materializations, 1);
  std::vector<double> va = values(a), vb = values(b);
  for (size_t i = 0; i < va.size(); ++i) EXPECT_FLOAT_EQ(va[i] - vb[i], 2.0f);
}

TEST(Fusion, ReductionAbsorbsElementwiseProducer) {
  Inputs in;
  kiln::reset_stats();
  Tensor s = (in.x * in.y + 1).sum();
  s.eval();
  EXPECT_EQ(kiln::stats().kernels_run, 1);
  std::vector<double> vx = values(in.x), vy = values(in.y);
  double want = 0;
  for (size_t i = 0; i < vx.size(); ++i) want += static_cast<float>(vx[i] * vy[i]) + 1;
  EXPECT_NEAR(s.item<float>(), want, 1e-4);
  kiln::reset_stats();
  Tensor rows = (in.x * in.y + 1).sum({1});
  rows.eval();
  EXPECT_EQ(kiln::stats().kernels_run, 1);
}

TEST(Eager, SameValuesOneKernelPerOp) {
  Inputs in;
  const Tensor& x = in.x;
  const Tensor& y = in.y;
  Tensor lazy = kiln::tanh((x + y) * 0.5) + kiln::exp(-(x * x)) * 0.25;
  std::vector<double> want = values(lazy);
  EXPECT_FALSE(kiln::is_eager());
  {
    kiln::EagerGuard guard;
    EXPECT_TRUE(kiln::is_eager());
    kiln::reset_stats();
    Tensor s = x + y;
    EXPECT_FALSE(s.is_lazy());
    EXPECT_EQ(kiln::stats().kernels_run, 1);
    Tensor h = s * 0.5;
    EXPECT_EQ(kiln::stats().kernels_run, 2);
    Tensor e = kiln::tanh(h) + kiln::exp(-(x * x)) * 0.25;  // tanh, mul, neg, exp, mul, add
    EXPECT_EQ(kiln::stats().kernels_run, 8);
    EXPECT_EQ(kiln::stats().materializations, 8);
    std::vector<double> got = values(e);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6);
    Tensor m = x.clone();
    kiln::reset_stats();
    m.add_(1);
    EXPECT_FALSE(m.is_lazy());
    EXPECT_EQ(kiln::stats().kernels_run, 1);
  }
  EXPECT_FALSE(kiln::is_eager());
  kiln::set_eager(true);
  EXPECT_TRUE(kiln::is_eager());
  kiln::set_eager(false);
  EXPECT_FALSE(kiln::is_eager());
}

TEST(Budget, MillionPendingAddsStayBounded) {
  kiln::reset_stats();
  int64_t live_before = kiln::ir::Node::liveCount();
  Tensor x = kiln::zeros({4});
  for (int i = 0; i < 1000000; ++i) x = x + 1;
  EXPECT_GT(kiln::stats().budget_materializations, 0);
  // Only the recent, still pending part of the chain is alive.
  EXPECT_LT(kiln::ir::Node::liveCount() - live_before, 10000);
  EXPECT_EQ(values(x), (std::vector<double>(4, 1000000)));
  // The same holds for an in-place loop.
  kiln::reset_stats();
  Tensor y = kiln::zeros({4}, kiln::kLong);
  for (int i = 0; i < 200000; ++i) y.add_(1);
  EXPECT_GT(kiln::stats().budget_materializations, 0);
  EXPECT_EQ(values(y), (std::vector<double>(4, 200000)));
}

TEST(Budget, DeepChainReleasedWithoutStackOverflow) {
  // A pending chain dropped before it is read must be freed without deep recursion.
  Tensor keep = kiln::zeros({2});
  {
    Tensor x = keep;
    for (int i = 0; i < 300; ++i) x = x * 1.0001 + 1;
  }
  EXPECT_EQ(values(keep), (std::vector<double>{0, 0}));
}

TEST(Threads, IndependentTensorsOnManyThreads) {
  constexpr int kThreads = 4;
  std::atomic<int> wrong{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([t, &wrong, &errors] {
      try {
        for (int it = 0; it < 40; ++it) {
          int64_t n = 64 + 16 * t + it;
          Tensor a = kiln::arange(n, kiln::kLong) * (t + 1) + it;
          Tensor b = a.to(kiln::kDouble).view({-1, 1}) * 0.5;
          Tensor s = a.sum();
          Tensor m = b.amax();
          Tensor c = kiln::zeros({n}, kiln::kLong);
          c.add_(a);
          c.narrow(0, 0, 1).fill_(-1);
          kiln::eval({s, c});
          int64_t want = (t + 1) * n * (n - 1) / 2 + it * n;
          if (s.item<int64_t>() != want) ++wrong;
          if (m.item<double>() != 0.5 * static_cast<double>((t + 1) * (n - 1) + it)) ++wrong;
          if (c[0].item<int64_t>() != -1 || c[n - 1].item<int64_t>() != (t + 1) * (n - 1) + it)
            ++wrong;
        }
      } catch (const std::exception&) {
        ++errors;
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(errors.load(), 0);
}

TEST(Threads, ConcurrentRandomGraphsOfTheSameShape) {
  // The same kernels are looked up and compiled from several threads at once.
  kiln::clear_kernel_cache();
  constexpr int kThreads = 3;
  std::atomic<int> wrong{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([t, &wrong] {
      for (int it = 0; it < 30; ++it) {
        double k = t * 100 + it;
        Tensor x = kiln::full({8, 8}, k);
        Tensor y = (x * 2 + 1).sum({1}) - kiln::ones({8}) * 8;
        std::vector<double> v = values(y);
        for (double e : v)
          if (e != 16 * k) ++wrong;
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
