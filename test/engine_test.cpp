// Laziness, fusion, kernel caching, eager mode, the pending-graph budget, thread safety and long
// reductions in blocks, observed through kiln::stats().
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
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

// ---- long reductions in blocks (lib/sched: stage 1 reduces blocks of 4096 terms into partials,
// stage 2 combines them) ----

constexpr int64_t kBlock = 4096;
// Lengths around the block and the split threshold (2 blocks), and a long one.
const int64_t kLengths[] = {kBlock - 1, kBlock,         kBlock + 1,      2 * kBlock - 1,
                            2 * kBlock, 2 * kBlock + 1, 3 * kBlock + 17, (1 << 20) + 3};

// Kernels run to compute t (its inputs already computed).
int64_t kernelsFor(const Tensor& t) {
  kiln::reset_stats();
  t.eval();
  return kiln::stats().kernels_run;
}

// Equal element for element, NaN equal to NaN.
void expectSameValues(const std::vector<double>& got, const std::vector<double>& want,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " element " << i;
    } else {
      EXPECT_EQ(got[i], want[i]) << what << " element " << i;
    }
  }
}

TEST(LongReduction, FloatSumIsAccurate) {
  // float(0.1) is 13421773 * 2^-27, so the exact sum of 10^7 of them is 1000000.0149011612
  // (PyTorch's float32 sum gives 999999.44; one sequential float accumulation 998501.4).
  const double term = 13421773.0 / (1 << 27);
  ASSERT_EQ(static_cast<double>(0.1f), term);
  const double exact = 1e7 * term;
  Tensor s = (kiln::ones({10000000}) * 0.1).sum();
  EXPECT_NEAR(s.item<float>(), exact, 1e-6 * exact);
  Tensor rows = (kiln::ones({4, 3000000}) * 0.1).sum({1});
  for (double v : values(rows)) EXPECT_NEAR(v, 3e6 * term, 1e-6 * 3e6 * term);
  Tensor m = (kiln::ones({10000000}) * 0.1).mean();
  EXPECT_NEAR(m.item<float>(), term, 1e-6 * term);
}

TEST(LongReduction, KernelCounts) {
  // Short reductions stay one kernel; from 2 blocks on, 2 kernels, and a third for a last
  // partial block.
  const std::pair<int64_t, int64_t> cases[] = {{100, 1},        {2 * kBlock - 1, 1},
                                               {2 * kBlock, 2}, {2 * kBlock + 1, 3},
                                               {5 * kBlock, 2}, {(1 << 20) + 3, 3}};
  for (auto [n, kernels] : cases) {
    Tensor x = kiln::rand({n});
    Tensor y = kiln::rand({n});
    kiln::eval({x, y});
    EXPECT_EQ(kernelsFor(x.sum()), kernels) << n;
    // A fused product is reduced by stage 1 itself.
    Tensor dot = (x * y).sum();
    EXPECT_EQ(kernelsFor(dot), kernels) << n;
    std::vector<double> vx = values(x), vy = values(y);
    double want = 0;
    for (int64_t i = 0; i < n; ++i) want += static_cast<double>(static_cast<float>(vx[i] * vy[i]));
    EXPECT_NEAR(dot.item<float>(), want, 1e-5 * want) << n;
  }
  // Rows of [16, 100000]: 16 outputs, each split.
  Tensor x = kiln::rand({16, 100000});
  x.eval();
  Tensor rows = x.sum({1});
  EXPECT_EQ(kernelsFor(rows), 3);
  std::vector<double> vx = values(x), got = values(rows);
  for (int64_t r = 0; r < 16; ++r) {
    double want = 0;
    for (int64_t i = 0; i < 100000; ++i) want += vx[r * 100000 + i];
    EXPECT_NEAR(got[r], want, 1e-6 * want) << r;
  }
  // Two reduced dims that cannot merge into one loop are left alone, and so are column sums
  // (parallel loops inside the terms); a column of one is split.
  Tensor t = kiln::rand({300, 3, 300});
  t.eval();
  EXPECT_EQ(kernelsFor(t.sum({0, 2})), 1);
  Tensor cols = kiln::rand({3 * kBlock, 16});
  cols.eval();
  EXPECT_EQ(kernelsFor(cols.sum({0})), 1);
  EXPECT_EQ(kernelsFor(cols.narrow(1, 0, 1).sum({0})), 2);
}

TEST(LongReduction, ExactReductionsMatchTheReference) {
  std::mt19937_64 rng(7);
  for (int64_t n : kLengths) {
    const std::string at = "n=" + std::to_string(n);
    std::vector<float> f(n), pm(n);
    std::vector<int64_t> ints(n);
    std::vector<char> flags(n, 0);
    std::uniform_real_distribution<float> uniform(-100, 100);
    for (int64_t i = 0; i < n; ++i) {
      f[i] = uniform(rng);
      // +-1, with rare factors of 2 and 1/2: every partial product is exact.
      pm[i] = (rng() & 1 ? 1.0f : -1.0f) * (rng() % 4096 == 0 ? 2.0f : 1.0f) /
              (rng() % 4096 == 0 ? 2.0f : 1.0f);
      ints[i] = static_cast<int64_t>(rng() % 2000001) - 1000000;
    }
    Tensor x = kiln::from_blob(f.data(), {n});
    Tensor p = kiln::from_blob(pm.data(), {n});
    Tensor k = kiln::from_blob(ints.data(), {n}, kiln::kLong);
    Tensor k32 = k.to(kiln::kInt);
    std::vector<Tensor> exact = {
        x.amax(),       x.amin(),           p.prod(),           k.sum(),
        k32.sum(),      k.amax(),           k.amin(),           (x > 0).amax(),
        (x > 0).amin(), (x > 99.99).amax(), (x > -99.99).amin()};
    for (size_t c = 0; c < exact.size(); ++c) {
      std::vector<double> want = kiln::detail::referenceValues(exact[c]);
      expectSameValues(values(exact[c]), want, at + " case " + std::to_string(c));
    }
    // A NaN in the last block, and one in the first, propagate through both stages.
    for (int64_t pos : {n - 1, int64_t{0}}) {
      std::vector<float> g = f;
      g[pos] = std::numeric_limits<float>::quiet_NaN();
      Tensor y = kiln::from_blob(g.data(), {n});
      EXPECT_TRUE(std::isnan(y.amax().item<float>())) << at << " NaN at " << pos;
      EXPECT_TRUE(std::isnan(y.amin().item<float>())) << at << " NaN at " << pos;
    }
  }
}

TEST(LongReduction, RowsColumnsAndViewsMatchTheReference) {
  for (int64_t n : {2 * kBlock + 1, 3 * kBlock + 17}) {
    const std::string at = "n=" + std::to_string(n);
    Tensor x = kiln::randint(-1000, 1000, {3, n});
    x.eval();
    // Rows (split); columns of the transpose, of a copy of it and of the view itself (left
    // whole); a column of one (split); the middle of three dims (left whole); float rows.
    std::vector<Tensor> cases = {x.sum({1}),
                                 x.t().contiguous().sum({0}),
                                 x.t().sum({0}),
                                 x.t().narrow(1, 1, 1).sum({0}),
                                 x.view({3, n, 1}).expand({3, n, 2}).amax({1}),
                                 x.to(kiln::kFloat).amin({1})};
    for (size_t c = 0; c < cases.size(); ++c) {
      std::vector<double> want = kiln::detail::referenceValues(cases[c]);
      expectSameValues(values(cases[c]), want, at + " case " + std::to_string(c));
    }
  }
}

TEST(LongReduction, MeanVarStdOfLongRows) {
  Tensor x = kiln::randn({2, 50000}) * 3 + 1;
  x.eval();
  std::vector<double> v = values(x);
  // (x.var({1}) alone would call var(bool unbiased).
  Tensor mean = x.mean({1}), var = x.var({1}, true), sd = x.std({1}, true);
  Tensor all_var = x.var();
  std::vector<double> got_mean = values(mean), got_var = values(var), got_sd = values(sd);
  ASSERT_EQ(got_mean.size(), 2u);
  ASSERT_EQ(got_var.size(), 2u);
  ASSERT_EQ(got_sd.size(), 2u);
  double total = 0, total_sq = 0;
  for (int64_t r = 0; r < 2; ++r) {
    double m = 0, ss = 0;
    for (int64_t i = 0; i < 50000; ++i) m += v[r * 50000 + i];
    m /= 50000;
    for (int64_t i = 0; i < 50000; ++i) ss += (v[r * 50000 + i] - m) * (v[r * 50000 + i] - m);
    EXPECT_NEAR(got_mean[r], m, 1e-5);
    EXPECT_NEAR(got_var[r], ss / 49999, 1e-5 * ss / 49999);
    EXPECT_NEAR(got_sd[r], std::sqrt(ss / 49999), 1e-5 * std::sqrt(ss / 49999));
    total += m;
  }
  const double m = total / 2;
  for (double e : v) total_sq += (e - m) * (e - m);
  EXPECT_NEAR(all_var.item<float>(), total_sq / 99999, 1e-5 * total_sq / 99999);
}

TEST(LongReduction, InPlaceIntoTheTensorItReads) {
  // As test/ir/reduce_in_place.kir, with a long reduction: each sum reads x[i] 20000 times and
  // is stored into x[i].
  Tensor x = kiln::arange(4, kiln::kFloat).view({4, 1}) + 0;
  x.eval();
  x.copy_(x.expand({4, 20000}).sum({1}, true));
  expectSameValues(values(x), {0, 20000, 40000, 60000}, "x");
  // A row sum written into the first column of the rows it reads.
  Tensor a = kiln::randint(0, 100, {3, 9000}, kiln::kFloat);
  a.eval();
  std::vector<double> before = values(a);
  a.narrow(1, 0, 1).copy_(a.sum({1}, true));
  std::vector<double> after = values(a);
  for (int64_t r = 0; r < 3; ++r) {
    double want = 0;
    for (int64_t i = 0; i < 9000; ++i) want += before[r * 9000 + i];
    EXPECT_EQ(after[r * 9000], want) << r;
    for (int64_t i = 1; i < 9000; ++i) ASSERT_EQ(after[r * 9000 + i], before[r * 9000 + i]);
  }
}

TEST(LongReduction, EmptyAndTinyUnchanged) {
  EXPECT_EQ(kiln::zeros({0}).sum().item<float>(), 0);
  expectSameValues(values(kiln::zeros({3, 0}).sum({1})), {0, 0, 0}, "empty rows");
  Tensor t = kiln::rand({5});
  t.eval();
  EXPECT_EQ(kernelsFor(t.sum()), 1);
}

}  // namespace

// ---- row reductions as phases of their reader's kernel ----

// Values within float32 tolerance of the double-precision reference interpreter, read before the
// tensor is materialised (NaN equal to NaN).
void expectNearReference(const Tensor& t, const std::string& what) {
  std::vector<double> want = kiln::detail::referenceValues(t);
  std::vector<double> got = values(t);
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << what << " element " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], 1e-5 * std::max(1.0, std::fabs(want[i])))
          << what << " element " << i;
    }
  }
}

Tensor composedSoftmax(const Tensor& x) {
  Tensor e = kiln::exp(x - x.amax({1}, true));
  return e / e.sum({1}, true);
}

Tensor layerNorm(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor mean = x.mean({1}, true);
  Tensor centred = x - mean;
  Tensor var = (centred * centred).mean({1}, true);
  return centred * kiln::rsqrt(var + 1e-5) * w + b;
}

TEST(RowPhases, SoftmaxLogSoftmaxAndLayerNormAreOneKernel) {
  Tensor x = kiln::randn({37, 129}) * 3.0;
  Tensor w = kiln::rand({129}) + 0.5;
  Tensor b = kiln::randn({129});
  kiln::eval({x, w, b});
  Tensor x3 = x.reshape({37, 3, 43});
  // Each case records its graph afresh when called.
  const std::pair<std::string, std::function<Tensor()>> cases[] = {
      {"composed softmax", [&] { return composedSoftmax(x); }},
      {"kiln::softmax", [&] { return kiln::softmax(x, 1); }},
      {"kiln::log_softmax", [&] { return kiln::log_softmax(x, 1); }},
      {"layer norm", [&] { return layerNorm(x, w, b); }},
      {"row sums scaled", [&] { return x.sum({1}) * 2.0; }},
      // Rows over the last two dims of a 3-d tensor.
      {"centred over two trailing dims",
       [&] {
         return x3 - x3.mean({1, 2}, true);
       }},
  };
  for (const auto& [what, make] : cases) {
    expectNearReference(make(), what);
    EXPECT_EQ(kernelsFor(make()), 1) << what;
  }
}

TEST(RowPhases, NanAndEmptyRows) {
  Tensor x = kiln::randn({6, 40});
  x.eval();
  x.index_put_({2, 7}, std::numeric_limits<float>::quiet_NaN());
  x.eval();
  Tensor s = composedSoftmax(x);
  expectNearReference(s, "softmax with a NaN in row 2");
  std::vector<double> v = values(s);
  for (int c = 0; c < 40; ++c) EXPECT_TRUE(std::isnan(v[2 * 40 + c])) << c;
  EXPECT_FALSE(std::isnan(v[0]));
  // The max and min reductions themselves (stored, vectorised with a NaN flag) propagate NaN.
  expectNearReference(x.amax({1}), "amax with a NaN");
  expectNearReference(x.amin({1}), "amin with a NaN");
  expectNearReference(x.amax({1}, true) - x, "amax read by its consumer");
  Tensor empty_rows = kiln::rand({4, 0});
  EXPECT_EQ(values(empty_rows / empty_rows.sum({1}, true)).size(), 0u);
  Tensor no_rows = kiln::rand({0, 5});
  EXPECT_EQ(values(no_rows / no_rows.sum({1}, true)).size(), 0u);
  // A row sum over no columns is 0, read by a consumer of its rows.
  expectNearReference(kiln::rand({4, 0}).sum({1}, true) + kiln::ones({4, 3}), "empty row sums");
}

TEST(RowPhases, StashedExponentialsInPlaceAndBeside) {
  // Softmax stashes each exponential in its output row. Written over its own input (the kernel
  // then reads a copy), beside a second reduction of the same exponentials, and with the row
  // read in a different order (the exponentials of a transposed matrix), the values stay right.
  Tensor x = kiln::randn({9, 33}) * 4.0;
  x.eval();
  Tensor y = x.clone();
  y.eval();
  std::vector<double> want = kiln::detail::referenceValues(composedSoftmax(x));
  y.copy_(composedSoftmax(y));
  std::vector<double> got = values(y);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
  Tensor e = kiln::exp(x - x.amax({1}, true));
  expectNearReference(e / e.sum({1}, true) + e.amax({1}, true), "softmax beside the exp's max");
  Tensor t = x.t();
  expectNearReference(composedSoftmax(t), "softmax of a transpose");
}

TEST(RowPhases, BoundariesThatRemain) {
  Tensor x = kiln::rand({50, 30});
  x.eval();
  // A column sum read by every row would be recomputed per row: stored first.
  Tensor cols = x / x.sum({0}, true);
  expectNearReference(cols, "column sums");
  EXPECT_EQ(kernelsFor(x / x.sum({0}, true)), 2);
  // A row max read by two requested outputs is computed once; the two outputs, over the same
  // loops and reading the same memory, share one kernel.
  Tensor m = x.amax({1}, true);
  Tensor a = x - m, c = x * m;
  kiln::reset_stats();
  kiln::eval({a, c});
  EXPECT_EQ(kiln::stats().kernels_run, 2);
  expectNearReference(x * x.amax({1}, true), "second reader");
  expectNearReference(x - x.amax({1}, true), "first reader");
  // A row sum read by a reduction over all rows is a phase inside the reduction's row loop (as
  // the per-row losses of cross-entropy); read by a column sum, whose outer loops are the
  // columns, it is stored.
  expectNearReference((x.sum({1}, true) * x).sum(), "sum of row sums times x");
  EXPECT_EQ(kernelsFor((x.sum({1}, true) * x).sum()), 1);
  expectNearReference((x.sum({1}, true) * x).sum({0}), "column sums of row sums times x");
  EXPECT_EQ(kernelsFor((x.sum({1}, true) * x).sum({0})), 2);
}

TEST(RowPhases, BackwardPassesFuseWithTheirForward) {
  Tensor x = (kiln::randn({48, 70}) * 2.0).requires_grad_(true);
  Tensor w = (kiln::rand({70}) + 0.5).requires_grad_(true);
  Tensor b = kiln::randn({70}).requires_grad_(true);
  Tensor target = kiln::randint(0, 70, {48});
  Tensor g = kiln::randn({48, 70});
  kiln::eval({x, w, b, target, g});
  // The input gradient of each, recorded with its forward pass: one kernel (cross-entropy: and
  // one that counts the targets that are not ignored).
  const std::tuple<std::string, std::function<Tensor()>, int64_t> cases[] = {
      {"softmax", [&] { return kiln::autograd::grad({kiln::softmax(x, 1)}, {x}, {g})[0]; }, 1},
      {"log_softmax", [&] { return kiln::autograd::grad({kiln::log_softmax(x, 1)}, {x}, {g})[0]; },
       1},
      {"layer norm", [&] { return kiln::autograd::grad({layerNorm(x, w, b)}, {x}, {g})[0]; }, 1},
      {"cross entropy",
       [&] {
         return kiln::autograd::grad({kiln::nn::functional::cross_entropy(x, target)}, {x})[0];
       },
       2},
  };
  for (const auto& [what, make, kernels] : cases) {
    expectNearReference(make(), what);
    EXPECT_EQ(kernelsFor(make()), kernels) << what;
  }
}

// from_blob with a deleter: the memory is handed back once nothing reads it, which for a lazy
// engine can be after the tensor has gone (pending work that reads it keeps it). The deleter
// here poisons the memory, so a read after it would show.
TEST(FromBlob, TheDeleterWaitsForPendingReaders) {
  int deleted = 0;
  std::vector<float> memory = {1, 2, 3, 4};
  auto poison = [&](void* p) {
    EXPECT_EQ(p, memory.data());
    ++deleted;
    std::fill(memory.begin(), memory.end(), std::nanf(""));
  };
  Tensor y;
  {
    Tensor t = kiln::from_blob(memory.data(), {2, 2}, poison);
    y = t.t() * 2;
  }
  EXPECT_EQ(deleted, 0);
  EXPECT_TRUE(y.is_lazy());
  y.eval();  // computed: nothing reads the memory any more
  EXPECT_EQ(deleted, 1);
  EXPECT_EQ(y.data_ptr<float>()[1], 6.0f);
  y = Tensor();
  EXPECT_EQ(deleted, 1);

  // Dropped without being computed: the deleter runs when the pending work goes.
  std::vector<float> other = {5, 6};
  int dropped = 0;
  Tensor z = kiln::from_blob(other.data(), {2}, {1}, [&](void*) { ++dropped; }).exp();
  EXPECT_EQ(dropped, 0);
  z = Tensor();
  EXPECT_EQ(dropped, 1);
}

// In-place writes still pending when the last tensor on caller memory goes are made first (the
// caller, and its deleter, read them), as libtorch has made them at once.
TEST(FromBlob, PendingWritesLandBeforeTheTensorGoes) {
  std::vector<float> memory = {1, 2, 3, 4};
  std::vector<float> seen;
  {
    Tensor t = kiln::from_blob(memory.data(), {4}, [&](void*) { seen = memory; });
    t.mul_(2);
    t.narrow(0, 1, 2).add_(1);
    EXPECT_TRUE(t.is_lazy());
    EXPECT_EQ(memory[1], 2.0f);  // not yet
  }
  EXPECT_EQ(seen, (std::vector<float>{2, 5, 7, 8}));
  EXPECT_EQ(memory, seen);
  kiln::from_blob(memory.data(), {2, 2}).t().sub_(1);  // a temporary, written through a view
  EXPECT_EQ(memory, (std::vector<float>{1, 4, 6, 7}));
}
