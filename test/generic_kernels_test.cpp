// Shape-generic kernels: what a kernel computes at a view's offset is an argument of its code, so
// that a loop over windows of a tensor (x.select(0, i), the batches of a dataset, a window updated
// in place) compiles its kernels once. Each test checks hand-computed values and how many kernels
// the loop compiled.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cstdint>
#include <vector>

#include "lib/frontend/tensor_impl.h"

namespace {

using kiln::Tensor;

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

}  // namespace
