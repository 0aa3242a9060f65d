// Matrix products: kernels that compute C = A B, with A and B read straight or transposed, call
// the BLAS gemm when OpenBLAS could be loaded (codegen::CpuSchedule::Contraction) and run kiln's
// loops otherwise (ctest runs this file a second time with KILN_BLAS=0). Values are checked
// against the double-precision reference interpreter; bits must not depend on the thread count.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "codegen/llvm/cpu_schedule.h"
#include "lib/frontend/tensor_impl.h"
#include "lib/ir/parse.h"
#include "lib/sched/schedule.h"
#include "runtime/cpu/llvm_backend.h"

namespace {

using kiln::Tensor;

Tensor realized(std::vector<int64_t> shape, kiln::ScalarType dtype) {
  Tensor t = kiln::randn(shape, kiln::TensorOptions(dtype));
  t.eval();
  return t;
}

void expectNearReference(const Tensor& t, double tolerance, const std::string& what) {
  const std::vector<double> want = kiln::detail::referenceValues(t);
  const std::vector<double> got = kiln::detail::toDoubles(t);
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tolerance * std::max(1.0, std::fabs(want[i])))
        << what << " element " << i;
  }
}

TEST(MatrixProducts, StraightAndTransposedOperandsMatchTheReference) {
  kiln::manual_seed(3);
  const int64_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {64, 33, 17}, {130, 257, 96}};
  for (kiln::ScalarType dtype : {kiln::kFloat, kiln::kDouble}) {
    const double tol = dtype == kiln::kFloat ? 2e-5 : 1e-12;
    for (const auto& s : sizes) {
      const int64_t m = s[0], k = s[1], n = s[2];
      const std::string shape =
          std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n);
      Tensor a = realized({m, k}, dtype), b = realized({k, n}, dtype);
      Tensor at = realized({k, m}, dtype), bt = realized({n, k}, dtype);
      const double scale = tol * std::sqrt(static_cast<double>(k));
      expectNearReference(a.mm(b), scale, "A B " + shape);
      expectNearReference(at.t().mm(b), scale, "A^T B " + shape);
      expectNearReference(a.mm(bt.t()), scale, "A B^T " + shape);
      expectNearReference(at.t().mm(bt.t()), scale, "A^T B^T " + shape);
      // A window of a larger matrix: its rows are further apart than its length.
      Tensor wide = realized({m, k + 3}, dtype);
      expectNearReference(wide.narrow(1, 2, k).mm(b), scale, "window " + shape);
    }
  }
}

TEST(MatrixProducts, ALinearLayerAndItsGradients) {
  kiln::manual_seed(4);
  Tensor x = realized({48, 70}, kiln::kFloat);
  Tensor w = realized({30, 70}, kiln::kFloat).requires_grad_(true);
  Tensor g = realized({48, 30}, kiln::kFloat);
  Tensor y = kiln::nn::functional::linear(x.requires_grad_(true), w);
  expectNearReference(y, 1e-4, "x W^T");
  const std::vector<Tensor> grads = kiln::autograd::grad({y}, {x, w}, {g});
  expectNearReference(grads[0], 1e-4, "dx = g W");
  expectNearReference(grads[1], 1e-4, "dW = g^T x");
}

TEST(MatrixProducts, SameBitsAtAnyThreadCountAndRunToRun) {
  // 300 rows: two full blocks of gemm rows and a partial one (cpu_schedule.h).
  kiln::manual_seed(5);
  Tensor a = realized({300, 310}, kiln::kFloat), b = realized({310, 200}, kiln::kFloat);
  const int saved = kiln::get_num_threads();
  std::vector<double> first;
  for (int threads : {1, 2, 3}) {
    kiln::set_num_threads(threads);
    const std::vector<double> once = kiln::detail::toDoubles(a.mm(b));
    EXPECT_EQ(kiln::detail::toDoubles(a.mm(b)), once) << threads << " threads";
    if (first.empty()) first = once;
    EXPECT_EQ(once, first) << threads << " threads";
  }
  kiln::set_num_threads(saved);
}

TEST(MatrixProducts, TheCpuScheduleCallsTheLibraryWhenItHasOne) {
  kiln::ir::ParseResult r = kiln::ir::parseGraph(R"(graph {
  %0 = param 0 : f32[12]
  %1 = strided %0 {strides=[4,0,1], offset=0} : f32[3,5,4]
  %2 = param 1 : f32[20]
  %3 = strided %2 {strides=[0,1,5], offset=0} : f32[3,5,4]
  %4 = mul %1, %3 : f32[3,5,4]
  %5 = reduce.sum %4 {axes=[2]} : f32[3,5,1]
  return %5
})",
                                                 "mm.kir");
  ASSERT_TRUE(r.graph.has_value()) << r.error;
  const kiln::sched::Schedule s = kiln::sched::schedule(*r.graph);
  ASSERT_EQ(s.steps.size(), 1u);
  const auto& k = s.steps[0].kernel;
  EXPECT_FALSE(kiln::codegen::cpuSchedule(k, false).contraction.has_value());
  const auto c = kiln::codegen::cpuSchedule(k, true).contraction;
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->a_trans);
  EXPECT_FALSE(c->b_trans);
  EXPECT_EQ(c->lda, 4);
  EXPECT_EQ(c->ldb, 5);
  EXPECT_EQ(c->ldc, 5);
  const bool blas = kiln::runtime::llvmBackend().libraries().available();
  EXPECT_EQ(kiln::runtime::llvmBackend().scheduleText(k).find("gemm") != std::string::npos, blas);
}

// Kernels run to compute `outputs` together.
int64_t kernelsToEval(const std::vector<Tensor>& outputs) {
  const int64_t before = kiln::stats().kernels_run;
  kiln::eval(outputs);
  return kiln::stats().kernels_run - before;
}

TEST(MatrixProducts, ALinearLayerWithBiasAndReluIsOneKernel) {
  // 300 rows: gemm blocks of 128 rows, the last one partial, each followed by its epilogue.
  kiln::manual_seed(6);
  Tensor x = realized({300, 70}, kiln::kFloat), w = realized({40, 70}, kiln::kFloat);
  Tensor b = realized({40}, kiln::kFloat);
  auto layer = [&] { return kiln::relu(kiln::nn::functional::linear(x, w, b)); };
  Tensor y = layer();
  const std::vector<double> want = kiln::detail::referenceValues(y);
  EXPECT_EQ(kernelsToEval({y}), 1);
  expectNearReference(y, 2e-5 * std::sqrt(70.0), "relu(x W^T + b)");
  EXPECT_GT(std::count(want.begin(), want.end(), 0.0), 0) << "some outputs are clamped";
  const int saved = kiln::get_num_threads();
  const std::vector<double> once = kiln::detail::toDoubles(y);
  for (int threads : {1, 2, 3}) {
    kiln::set_num_threads(threads);
    EXPECT_EQ(kiln::detail::toDoubles(layer()), once) << threads << " threads";
  }
  kiln::set_num_threads(saved);
}

TEST(MatrixProducts, BackwardProductsAbsorbTheirEpilogues) {
  // h = relu(x W1^T + b1), y = h W2^T + b2, loss = sum(y * g). The gradients take 7 kernels:
  // the forward layer (product, bias, relu), dpre = (g W2) * (h > 0) (product and relu's
  // backward mask: one kernel), dW1 = dpre^T x, dx = dpre W1, db1 = sum of dpre's rows,
  // dW2 = g^T h, db2 = sum of g's rows.
  kiln::manual_seed(7);
  Tensor x = realized({50, 30}, kiln::kFloat).requires_grad_(true);
  Tensor w1 = realized({20, 30}, kiln::kFloat).requires_grad_(true);
  Tensor b1 = realized({20}, kiln::kFloat).requires_grad_(true);
  Tensor w2 = realized({10, 20}, kiln::kFloat).requires_grad_(true);
  Tensor b2 = realized({10}, kiln::kFloat).requires_grad_(true);
  Tensor g = realized({50, 10}, kiln::kFloat);
  namespace F = kiln::nn::functional;
  Tensor y = F::linear(kiln::relu(F::linear(x, w1, b1)), w2, b2);
  const std::vector<Tensor> grads = kiln::autograd::grad({(y * g).sum()}, {x, w1, b1, w2, b2});
  std::vector<std::vector<double>> want;
  for (const Tensor& t : grads) want.push_back(kiln::detail::referenceValues(t));
  EXPECT_EQ(kernelsToEval(grads), 7);
  const char* names[] = {"dx", "dW1", "db1", "dW2", "db2"};
  for (size_t i = 0; i < grads.size(); ++i) expectNearReference(grads[i], 1e-4, names[i]);
}

TEST(MatrixProducts, AnOptimizersUpdateIsTheEpilogueOfTheGradientsProduct) {
  // buf = 0.9 buf + g^T x in place, as SGD's momentum reads a weight's gradient: one kernel, the
  // product's epilogue reading and writing buf's own buffer.
  kiln::manual_seed(8);
  Tensor g = realized({64, 24}, kiln::kFloat), x = realized({64, 36}, kiln::kFloat);
  Tensor buf = realized({24, 36}, kiln::kFloat);
  const std::vector<double> old = kiln::detail::toDoubles(buf);
  const std::vector<double> product = kiln::detail::referenceValues(g.t().mm(x));
  buf.mul_(0.9).add_(g.t().mm(x));
  EXPECT_EQ(kernelsToEval({buf}), 1);
  const std::vector<double> got = kiln::detail::toDoubles(buf);
  ASSERT_EQ(got.size(), old.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], 0.9 * old[i] + product[i], 1e-4 * std::max(1.0, std::fabs(product[i])))
        << "element " << i;
  }
}

// An operand of `shape` read as a product reads it: straight, transposed (its last two
// dimensions swapped in memory), or a window of a wider matrix (rows further apart than their
// length).
Tensor operand(std::vector<int64_t> shape, kiln::ScalarType dtype, int layout) {
  auto make = [&](std::vector<int64_t> s) {
    Tensor t = kiln::isFloatingType(dtype) ? kiln::randn(s, kiln::TensorOptions(dtype))
                                           : kiln::randint(-4, 5, s, kiln::TensorOptions(dtype));
    t.eval();
    return t;
  };
  const size_t r = shape.size();
  if (layout == 1) {
    std::swap(shape[r - 1], shape[r - 2]);
    return make(shape).transpose(-1, -2);
  }
  if (layout == 2) {
    shape[r - 1] += 3;
    return make(shape).narrow(-1, 1, shape[r - 1] - 3);
  }
  return make(shape);
}

TEST(MatrixProducts, RandomShapesLayoutsBatchesAndDtypesMatchTheReference) {
  // Sizes with 0, 1, primes and more than a block of gemm rows; batches of their own, broadcast
  // against each other, or only on one side; float32/64 by gemm, integers by kiln's loops; some
  // with a bias and relu as the epilogue.
  std::mt19937 rng(11);
  const int64_t sizes[] = {0, 1, 2, 3, 5, 7, 13, 31, 64, 129, 200};
  const kiln::ScalarType dtypes[] = {kiln::kFloat, kiln::kDouble, kiln::kLong, kiln::kInt};
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  kiln::manual_seed(12);
  for (int trial = 0; trial < 80; ++trial) {
    const kiln::ScalarType dtype = dtypes[pick(4)];
    const int64_t m = sizes[pick(11)], n = sizes[pick(11)], k = sizes[pick(11)];
    std::vector<int64_t> batch_a, batch_b;
    switch (pick(4)) {
      case 1:
        batch_a = batch_b = {3};
        break;
      case 2:
        batch_a = {2, 1};
        batch_b = {3};
        break;
      case 3:
        batch_a = {4};
        break;
      default:
        break;
    }
    auto with = [](std::vector<int64_t> batch, int64_t rows, int64_t cols) {
      batch.push_back(rows);
      batch.push_back(cols);
      return batch;
    };
    Tensor a = operand(with(batch_a, m, k), dtype, pick(3));
    Tensor b = operand(with(batch_b, k, n), dtype, pick(3));
    Tensor c = kiln::matmul(a, b);
    const bool epilogue = kiln::isFloatingType(dtype) && pick(2) == 1;
    if (epilogue) c = kiln::relu(c + operand({n}, dtype, 0));
    const std::string what = ::testing::PrintToString(a.sizes().vec()) + " @ " +
                             ::testing::PrintToString(b.sizes().vec()) + " " +
                             std::string(kiln::toString(dtype)) + (epilogue ? " +b relu" : "");
    const double tol = dtype == kiln::kFloat    ? 3e-6 * std::sqrt(static_cast<double>(k) + 1)
                       : dtype == kiln::kDouble ? 1e-12 * std::sqrt(static_cast<double>(k) + 1)
                                                : 0;
    expectNearReference(c, tol, what);
  }
}

TEST(MatrixProducts, ABatchedProductCallsTheLibraryPerBatch) {
  kiln::manual_seed(13);
  Tensor a = realized({5, 140, 30}, kiln::kFloat), b = realized({5, 30, 20}, kiln::kFloat);
  Tensor c = kiln::bmm(a, b);
  expectNearReference(c, 2e-5 * std::sqrt(30.0), "bmm");
  kiln::ir::ParseResult r = kiln::ir::parseGraph(R"(graph {
  %0 = param 0 : f32[24]
  %1 = strided %0 {strides=[12,4,0,1], offset=0} : f32[2,3,5,4]
  %2 = param 1 : f32[40]
  %3 = strided %2 {strides=[20,0,1,5], offset=0} : f32[2,3,5,4]
  %4 = mul %1, %3 : f32[2,3,5,4]
  %5 = reduce.sum %4 {axes=[3]} : f32[2,3,5,1]
  return %5
})",
                                                 "bmm.kir");
  ASSERT_TRUE(r.graph.has_value()) << r.error;
  const kiln::sched::Schedule s = kiln::sched::schedule(*r.graph);
  ASSERT_EQ(s.steps.size(), 1u);
  const kiln::codegen::CpuSchedule cpu = kiln::codegen::cpuSchedule(s.steps[0].kernel, true);
  ASSERT_TRUE(cpu.contraction.has_value());
  EXPECT_EQ(cpu.contraction->batch, 0);
  EXPECT_EQ(cpu.contraction->m, 1);
  EXPECT_EQ(cpu.contraction->n, 2);
  EXPECT_EQ(cpu.contraction->lda, 4);
  EXPECT_EQ(cpu.contraction->ldb, 5);
  EXPECT_EQ(cpu.split_loops, 2u);
}

TEST(MatrixProducts, ALinearLayersProductSplitsItsRowsAmongThreads) {
  // x @ w.t(): both operands walk k with unit stride, so the loops keep k innermost and the
  // parallel loops m and n are both outside it; the gemm blocks still need m alone split.
  kiln::ir::ParseResult r = kiln::ir::parseGraph(R"(graph {
  %0 = param 0 : f32[12]
  %1 = strided %0 {strides=[4,0,1], offset=0} : f32[3,5,4]
  %2 = param 1 : f32[20]
  %3 = strided %2 {strides=[0,4,1], offset=0} : f32[3,5,4]
  %4 = mul %1, %3 : f32[3,5,4]
  %5 = reduce.sum %4 {axes=[2]} : f32[3,5,1]
  return %5
})",
                                                 "linear.kir");
  ASSERT_TRUE(r.graph.has_value()) << r.error;
  const kiln::sched::Schedule s = kiln::sched::schedule(*r.graph);
  ASSERT_EQ(s.steps.size(), 1u);
  const auto& k = s.steps[0].kernel;
  EXPECT_EQ(kiln::codegen::cpuSchedule(k, false).split_loops, 2u);
  const kiln::codegen::CpuSchedule cpu = kiln::codegen::cpuSchedule(k, true);
  ASSERT_TRUE(cpu.contraction.has_value());
  EXPECT_FALSE(cpu.contraction->a_trans);
  EXPECT_TRUE(cpu.contraction->b_trans);
  EXPECT_EQ(cpu.contraction->ldb, 4);
  EXPECT_EQ(cpu.split_loops, 1u);
  EXPECT_EQ(cpu.order[0], cpu.contraction->m);
}

}  // namespace
