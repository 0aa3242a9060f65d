// The plan cache's cheap hit: materialisation finds a cached plan by the structural hash kept
// on live nodes and checks the live graph against the plan's graph before running it. These
// tests check that a hit computes the new graph's values, that graphs differing in structure
// (including graphs whose hashes collide) never share a plan, and that updating many storages
// in place at once keeps old contents that are still read.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "lib/frontend/tensor_impl.h"
#include "lib/ir/extract.h"
#include "lib/ir/node.h"
#include "runtime/stats.h"

namespace {

using kiln::Tensor;

std::vector<double> values(const Tensor& t) {
  return kiln::detail::toDoubles(t);
}

// 0, 1, ..., rows*cols-1 in a computed [rows, cols] tensor of `dtype` (a storage of that shape).
Tensor counting(int64_t rows, int64_t cols, kiln::ScalarType dtype = kiln::kFloat) {
  Tensor t = kiln::arange(rows * cols, kiln::TensorOptions(dtype)).view({rows, cols}).clone();
  t.eval();
  return t;
}

int64_t matched() {
  return kiln::runtime::counters().plans_matched.load();
}

TEST(PlanCache, HitWithOtherConstantsComputesTheirValues) {
  Tensor x = counting(5, 3);  // 0..14, sum 105
  Tensor y = kiln::ones({5, 3});
  y.eval();
  kiln::clear_kernel_cache();
  EXPECT_FLOAT_EQ((x * 0.5 + y).sum().item<float>(), 0.5f * 105 + 15);
  kiln::reset_stats();
  const int64_t before = matched();
  EXPECT_FLOAT_EQ((x * 3 + y).sum().item<float>(), 3.0f * 105 + 15);
  EXPECT_FLOAT_EQ((x * -2 + y).sum().item<float>(), -2.0f * 105 + 15);
  EXPECT_EQ(kiln::stats().kernels_compiled, 0);
  EXPECT_EQ(kiln::stats().kernels_run, 2);
  EXPECT_EQ(matched() - before, 2);  // found by the hash, without extracting the graph
}

TEST(PlanCache, HitWithOtherRandomSeedsDrawsNewNumbers) {
  kiln::clear_kernel_cache();
  kiln::manual_seed(1);
  std::vector<double> a = values(kiln::rand({64}) * 2);
  kiln::reset_stats();
  const int64_t before = matched();
  std::vector<double> b = values(kiln::rand({64}) * 2);
  EXPECT_EQ(kiln::stats().kernels_compiled, 0);
  EXPECT_EQ(matched() - before, 1);
  EXPECT_NE(a, b);
  kiln::manual_seed(1);
  EXPECT_EQ(values(kiln::rand({64}) * 2), a);  // the seed reached the cached kernel
}

TEST(PlanCache, FoldedConstantsAreStructure) {
  // (2 + c) folds to one constant, so c's exact value is part of the plan: 2 + 3 and 2 + 4 must
  // not share one. Multiplying by 1 simplifies away, by 2 does not.
  Tensor x = counting(2, 3);  // sum 15
  kiln::clear_kernel_cache();
  EXPECT_FLOAT_EQ(((kiln::full({2, 3}, 2.0) + 3) * x).sum().item<float>(), 5.0f * 15);
  EXPECT_FLOAT_EQ(((kiln::full({2, 3}, 2.0) + 4) * x).sum().item<float>(), 6.0f * 15);
  EXPECT_FLOAT_EQ(((kiln::full({2, 3}, 2.0) + 3) * x).sum().item<float>(), 5.0f * 15);
  EXPECT_FLOAT_EQ((x * 1).sum().item<float>(), 15.0f);
  EXPECT_FLOAT_EQ((x * 2).sum().item<float>(), 30.0f);
  EXPECT_FLOAT_EQ((x * 1).sum().item<float>(), 15.0f);
}

// Runs `a` and then `b` (each compiles), then both again (both hit): each gives its own values.
void expectOwnPlans(const std::function<Tensor()>& a, const std::vector<double>& want_a,
                    const std::function<Tensor()>& b, const std::vector<double>& want_b) {
  kiln::clear_kernel_cache();
  kiln::reset_stats();
  EXPECT_EQ(values(a()), want_a);
  const int64_t compiled_a = kiln::stats().kernels_compiled;
  EXPECT_GE(compiled_a, 1);
  EXPECT_EQ(values(b()), want_b);
  EXPECT_GT(kiln::stats().kernels_compiled, compiled_a);  // b did not run a's plan
  const int64_t compiled = kiln::stats().kernels_compiled;
  EXPECT_EQ(values(a()), want_a);
  EXPECT_EQ(values(b()), want_b);
  EXPECT_EQ(kiln::stats().kernels_compiled, compiled);
}

TEST(PlanCache, ShapesNeverShareAPlan) {
  Tensor x = counting(2, 3), y = counting(3, 2);
  expectOwnPlans([&] { return (x * 2).sum({1}); }, {6, 24},  //
                 [&] { return (y * 2).sum({1}); }, {2, 10, 18});
}

TEST(PlanCache, StridesNeverShareAPlan) {
  // Two [2, 2] windows of one 6-element storage that differ only in their strides.
  Tensor x = counting(1, 6);  // 0..5
  expectOwnPlans(
      [&] {
        return x.as_strided({2, 2}, {1, 2}) * 2;
      },
      {0, 4, 2, 6},  //
      [&] {
        return x.as_strided({2, 2}, {2, 1}) * 2;
      },
      {0, 2, 4, 6});
}

TEST(PlanCache, DtypesNeverShareAPlan) {
  Tensor xf = counting(2, 2), xd = counting(2, 2, kiln::kDouble);
  expectOwnPlans([&] { return xf / 3; }, {0, 1.0f / 3, 2.0f / 3, 1},  //
                 [&] { return xd / 3; }, {0, 1.0 / 3, 2.0 / 3, 1});
}

TEST(PlanCache, ReduceDimsNeverShareAPlan) {
  Tensor x = counting(2, 2);                                // both results are [2]
  expectOwnPlans([&] { return (x + 1).sum({0}); }, {4, 6},  //
                 [&] { return (x + 1).sum({1}); }, {3, 7});
}

TEST(PlanCache, OpsNeverShareAPlan) {
  Tensor x = counting(1, 3), y = counting(1, 3) + 1;
  y.eval();
  expectOwnPlans([&] { return x * y; }, {0, 2, 6},  //
                 [&] { return x + y; }, {1, 3, 5});
}

TEST(PlanCache, GraphsWhoseHashesCollideKeepTheirOwnPlans) {
  // x * y + x and x * y + y hash alike (a realized node's hash is its type and shape, not which
  // buffer it is) and extract to the same instructions but for one operand: the check against
  // the cached graph tells them apart.
  Tensor x = counting(1, 3), y = counting(1, 3) + 10;  // [0, 1, 2], [10, 11, 12]
  y.eval();
  Tensor a = x * y + x, b = x * y + y;
  ASSERT_EQ(kiln::detail::readNode(a)->structuralHash(),
            kiln::detail::readNode(b)->structuralHash());
  expectOwnPlans([&] { return x * y + x; }, {0, 12, 26},  //
                 [&] { return x * y + y; }, {10, 22, 36});
}

TEST(PlanCache, SameGraphWithOtherDestinationsTakesItsOwnPlan) {
  // p += 1 three times: the same graph each time. The third time a pending q still reads p's
  // old value, so the old buffer is kept for q and p's update needs a destination of its own:
  // the plan of the first two (which writes in place) must not be used as it is.
  Tensor p = kiln::full({3}, 1.0);
  p.eval();
  p.add_(1);
  p.eval();
  p.add_(1);
  p.eval();
  Tensor q = p * 2;
  p.add_(1);
  p.eval();
  EXPECT_EQ(values(p), (std::vector<double>{4, 4, 4}));
  EXPECT_EQ(values(q), (std::vector<double>{6, 6, 6}));
}

TEST(PlanCache, MatchNumbersTheGraphAsExtractionDoes) {
  Tensor x = counting(4, 3);
  Tensor a = (x.t() * 2 + kiln::full({3, 4}, 3.0)).exp().sum({1});
  Tensor b = kiln::where(x > 4, x, x * x).amax({0}, true);
  kiln::ir::NodeRef na = kiln::detail::readNode(a), nb = kiln::detail::readNode(b);
  std::vector<kiln::ir::Node*> roots = {na.get(), nb.get()};
  kiln::ir::Extraction ex = kiln::ir::extract(roots);
  kiln::ir::LiveMatch m;
  ASSERT_TRUE(kiln::ir::matchExtraction(roots, ex.graph, kiln::ir::exactConstants(ex.graph), m));
  EXPECT_EQ(m.node_of, ex.node_of);
  EXPECT_EQ(m.param_node, ex.param_node);
  ASSERT_EQ(m.root_instr.size(), 2u);
  EXPECT_EQ(m.root_instr[0], ex.instr_of.at(roots[0]));
  EXPECT_EQ(m.root_instr[1], ex.instr_of.at(roots[1]));
  // The same graph with the roots the other way round is numbered differently.
  std::vector<kiln::ir::Node*> swapped = {roots[1], roots[0]};
  EXPECT_FALSE(kiln::ir::matchExtraction(swapped, ex.graph, kiln::ir::exactConstants(ex.graph), m));
}

TEST(InPlace, ManyStoragesUpdatedTogether) {
  // The optimizer's pattern: many small parameters updated in place, then materialised
  // together. p_i starts as [i, i + 1, i + 2], g_i = [1, 2, 3]; p_i -= 0.5 * g_i.
  constexpr int kParams = 800;
  std::vector<Tensor> ps, gs;
  for (int i = 0; i < kParams; ++i) {
    ps.push_back(kiln::arange(3, kiln::TensorOptions(kiln::kFloat)) + i);
    gs.push_back(kiln::arange(1, 4, kiln::TensorOptions(kiln::kFloat)));
  }
  kiln::eval(ps);
  kiln::eval(gs);
  for (int step = 1; step <= 2; ++step) {
    for (int i = 0; i < kParams; ++i) ps[i].add_(gs[i], -0.5);
    kiln::eval(ps);
    for (int i = 0; i < kParams; i += 97) {
      EXPECT_EQ(values(ps[i]),
                (std::vector<double>{i - 0.5 * step, i + 1 - 1.0 * step, i + 2 - 1.5 * step}));
    }
  }
}

TEST(InPlace, ManyStoragesUpdatedTogetherKeepOldContentsStillRead) {
  // Every third p_i's old value is read by q_i = 2 * p_i, a tensor that stays pending, and by
  // p_i's own update (p_i += q_i), so only through q does anything outside the materialisation
  // read it; the other p_i's old values are read by nothing else. The first must keep their
  // old contents for q, for every storage.
  constexpr int kParams = 300;
  std::vector<Tensor> ps, qs;
  for (int i = 0; i < kParams; ++i) ps.push_back(kiln::full({2}, static_cast<double>(i)));
  kiln::eval(ps);
  for (int i = 0; i < kParams; ++i) {
    if (i % 3 == 0) {
      qs.push_back(ps[i] * 2);
      ps[i].add_(qs.back());
    } else {
      ps[i].add_(1);
    }
  }
  kiln::eval(ps);
  for (int i = 0; i < kParams; ++i) {
    const double want = i % 3 == 0 ? 3.0 * i : i + 1.0;
    EXPECT_EQ(values(ps[i]), (std::vector<double>{want, want}));
  }
  for (size_t k = 0; k < qs.size(); ++k) {
    const double old = 3.0 * static_cast<double>(k);
    EXPECT_EQ(values(qs[k]), (std::vector<double>{2 * old, 2 * old}));
  }
}

}  // namespace
