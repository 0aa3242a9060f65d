// Shape-generic kernels: a view's offset and the extents of a kernel's loops are arguments of its
// code, so that a loop over windows of a tensor (x.select(0, i), the batches of a dataset, a
// window updated in place) and a training loop whose last batch is smaller compile their kernels
// once. Each test checks values (hand-computed, or from the double-precision reference
// interpreter) and how many kernels the loop compiled.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "lib/frontend/tensor_impl.h"
#include "lib/ir/node.h"
#include "runtime/cpu/llvm_backend.h"
#include "runtime/kernel_cache.h"

namespace {

using kiln::Tensor;
namespace F = kiln::nn::functional;
namespace nn = kiln::nn;
namespace optim = kiln::optim;

// 0, 1, ..., rows*cols-1 in a realized [rows, cols] float tensor.
Tensor counting(int64_t rows, int64_t cols) {
  Tensor t =
      kiln::arange(rows * cols, kiln::TensorOptions(kiln::kFloat)).view({rows, cols}).clone();
  t.eval();
  return t;
}

// The sum of row i of counting(rows, cols): cols * (i * cols) + cols * (cols - 1) / 2.
double rowSum(int64_t i, int64_t cols) {
  return static_cast<double>(cols * (i * cols) + cols * (cols - 1) / 2);
}

TEST(GenericKernels, RowsOfARealizedTensorShareKernels) {
  Tensor big = counting(64, 100);
  kiln::clear_kernel_cache();
  kiln::reset_stats();
  for (int64_t i = 0; i < 64; ++i) {
    EXPECT_DOUBLE_EQ(big.select(0, i).mul(2).sum().item<double>(), 2 * rowSum(i, 100)) << i;
  }
  // Row 0 has offset 0 (no argument), the others share one kernel.
  EXPECT_LE(kiln::stats().kernels_compiled, 2);
}

TEST(GenericKernels, ColumnsOfARealizedTensorShareKernels) {
  Tensor big = counting(8, 50);
  kiln::clear_kernel_cache();
  kiln::reset_stats();
  for (int64_t j = 0; j < 50; ++j) {
    // Column j holds j, 50 + j, ..., 350 + j.
    EXPECT_DOUBLE_EQ(big.select(1, j).sum().item<double>(), 8.0 * j + 50.0 * 28) << j;
  }
  EXPECT_LE(kiln::stats().kernels_compiled, 2);
}

TEST(GenericKernels, RowsOfAComputedTensorShareKernels) {
  // The rows of a pending a + b (b broadcast along the rows): the window's offset moves whole
  // rows, so each row's elements are still read at affine positions.
  Tensor a = counting(32, 40);
  Tensor b = kiln::arange(40, kiln::TensorOptions(kiln::kFloat)) * 10;
  b.eval();
  kiln::clear_kernel_cache();
  kiln::reset_stats();
  for (int64_t i = 0; i < 32; ++i) {
    const double want = rowSum(i, 40) + 10.0 * (40 * 39 / 2);
    EXPECT_DOUBLE_EQ((a + b).select(0, i).sum().item<double>(), want) << i;
  }
  EXPECT_LE(kiln::stats().kernels_compiled, 2);
}

TEST(GenericKernels, BatchesOfADatasetShareKernels) {
  Tensor data = counting(96, 10);
  kiln::clear_kernel_cache();
  kiln::reset_stats();
  for (int64_t start = 0; start < 96; start += 16) {
    Tensor batch = data.narrow(0, start, 16);
    // (batch * 0.5).sum(1): half of each row's sum.
    std::vector<double> got = kiln::detail::toDoubles((batch * 0.5).sum({1}));
    ASSERT_EQ(got.size(), 16u);
    for (int64_t r = 0; r < 16; ++r) EXPECT_DOUBLE_EQ(got[r], 0.5 * rowSum(start + r, 10));
  }
  EXPECT_LE(kiln::stats().kernels_compiled, 2);
}

TEST(GenericKernels, WindowsUpdatedInPlaceShareKernels) {
  Tensor big = counting(20, 30);
  kiln::clear_kernel_cache();
  kiln::reset_stats();
  for (int64_t i = 0; i < 20; ++i) {
    big.select(0, i).mul_(static_cast<double>(i + 1));
    big.eval();
  }
  EXPECT_LE(kiln::stats().kernels_compiled, 2);
  std::vector<double> got = kiln::detail::toDoubles(big);
  for (int64_t k = 0; k < 600; ++k) EXPECT_DOUBLE_EQ(got[k], static_cast<double>(k) * (k / 30 + 1));
}

TEST(GenericKernels, OverlappingWindowsReadTheirOldValues) {
  // x[1:] += x[:-1] reads each element before it is overwritten, whatever the offsets' values:
  // the kernel must not see a window and its shifted copy as the same memory.
  Tensor x = counting(1, 12).view({12});
  x.narrow(0, 1, 11).add_(x.narrow(0, 0, 11));
  std::vector<double> got = kiln::detail::toDoubles(x);
  for (int64_t k = 0; k < 12; ++k) EXPECT_DOUBLE_EQ(got[k], k == 0 ? 0.0 : 2.0 * k - 1) << k;
}

TEST(GenericKernels, SumsOfOtherLengthsShareKernels) {
  // Row sums of [rows, 40] for several row counts, and full sums of several lengths.
  kiln::clear_kernel_cache();
  kiln::reset_stats();
  for (int64_t rows : {3, 7, 12, 30}) {
    std::vector<double> got = kiln::detail::toDoubles((counting(rows, 40) * 2).sum({1}));
    ASSERT_EQ(static_cast<int64_t>(got.size()), rows);
    for (int64_t r = 0; r < rows; ++r) EXPECT_DOUBLE_EQ(got[r], 2 * rowSum(r, 40)) << rows;
  }
  const int64_t row_sums = kiln::stats().kernels_compiled;
  for (int64_t n : {100, 250, 999}) {
    Tensor x = counting(1, n).view({n});
    EXPECT_DOUBLE_EQ((x + 1).sum().item<double>(), static_cast<double>(n * (n + 1) / 2)) << n;
  }
  // counting() itself compiles (arange, clone) and so does each sum, once for all sizes.
  EXPECT_LE(row_sums, 4);
  EXPECT_LE(kiln::stats().kernels_compiled - row_sums, 3);
}

TEST(GenericKernels, ALastSmallerBatchCompilesNothing) {
  // A classifier trained on 40 samples in batches of 16: 16, 16, then 8. The last batch reuses
  // every kernel of the first; its loss and updated weights match the reference interpreter.
  kiln::manual_seed(5);
  nn::Sequential model(nn::Linear(20, 16), nn::ReLU(), nn::Linear(16, 4));
  optim::SGD opt(model->parameters(), optim::SGDOptions(0.1));
  Tensor data = kiln::randn({40, 20});
  Tensor labels = kiln::randint(0, 4, {40});
  kiln::eval({data, labels});
  kiln::clear_kernel_cache();
  for (int64_t start = 0; start < 40; start += 16) {
    const int64_t size = std::min<int64_t>(16, 40 - start);
    Tensor x = data.narrow(0, start, size), y = labels.narrow(0, start, size);
    opt.zero_grad();
    Tensor loss = F::cross_entropy(model->forward(x), y);
    loss.backward();
    if (size == 16) {
      opt.step();
      loss.item<float>();
      kiln::reset_stats();
      continue;
    }
    const Tensor w = model->parameters()[0];
    const std::vector<double> want_loss = kiln::detail::referenceValues(loss);
    const std::vector<double> want_w = kiln::detail::referenceValues(w - 0.1 * w.grad());
    opt.step();
    EXPECT_NEAR(loss.item<float>(), want_loss[0], 1e-5);
    const std::vector<double> got_w = kiln::detail::toDoubles(w);
    ASSERT_EQ(got_w.size(), want_w.size());
    for (size_t k = 0; k < got_w.size(); ++k) EXPECT_NEAR(got_w[k], want_w[k], 1e-5) << k;
  }
  EXPECT_EQ(kiln::stats().kernels_compiled, 0) << "the last batch compiled kernels of its own";
  EXPECT_GT(kiln::stats().kernels_run, 0);
}

TEST(GenericKernels, TenThousandShapesKeepMemoryBounded) {
  // A program whose shapes change at every step: the rows' count always (a loop extent argument:
  // no new code), the columns' count every 100 steps (the innermost extent of a column sum, which
  // kernels keep constant: a new kernel each time). With room for 32 kernels, the cache holds 32
  // and the code of the ones it drops is freed once no cached plan runs it.
  const size_t saved = kiln::runtime::kernelCacheCapacity();
  kiln::clear_kernel_cache();
  kiln::runtime::setKernelCacheCapacity(32);
  const int64_t live_kernels = kiln::runtime::LlvmBackend::liveKernels();
  const int64_t live_nodes = kiln::ir::Node::liveCount();
  kiln::reset_stats();
  for (int64_t i = 0; i < 10000; ++i) {
    const int64_t rows = 1 + i % 97, cols = 2 + i / 100;
    const auto f64 = kiln::TensorOptions(kiln::kDouble);
    Tensor x = kiln::arange(rows * cols, f64).view({rows, cols});
    Tensor b = kiln::arange(cols, f64);
    // sum over r, c of (r * cols + c) + c.
    const double n = static_cast<double>(rows * cols), r = static_cast<double>(rows);
    const double want = n * (n - 1) / 2 + r * static_cast<double>(cols * (cols - 1) / 2);
    ASSERT_EQ((x + b).sum(0).sum().item<double>(), want) << rows << "x" << cols;
  }
  EXPECT_LE(kiln::runtime::cachedKernelCount(), 32u);
  // Far fewer than one kernel per shape: about one per columns' count, held by cached plans.
  EXPECT_LE(kiln::stats().kernels_compiled, 250);
  EXPECT_LE(kiln::runtime::LlvmBackend::liveKernels() - live_kernels, 250);
  EXPECT_LE(kiln::ir::Node::liveCount() - live_nodes, 100);
  kiln::clear_kernel_cache();
  kiln::runtime::setKernelCacheCapacity(saved);
  EXPECT_EQ(kiln::runtime::LlvmBackend::liveKernels(), live_kernels);
}

}  // namespace
