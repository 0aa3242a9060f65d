#pragma once
// Shared pieces of kiln's benchmark program: thread-count rows and the row-reduction workloads.
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include <vector>

#include "tools/kiln-bench/workloads.h"

namespace kiln_bench {

/// Runs a row with kiln::set_num_threads(n) (by default the row's /threads:N argument) and
/// restores the previous count after.
class ThreadsGuard : public kiln::workloads::NumThreadsGuard {
 public:
  using NumThreadsGuard::NumThreadsGuard;
  explicit ThreadsGuard(const benchmark::State& state)
      : NumThreadsGuard(static_cast<int>(state.range(0))) {}
};

/// The largest absolute difference between a float tensor's elements and a hand-written loop's
/// results (`reference`, in the tensor's element order), checked before a row is timed.
double maxAbsError(const kiln::Tensor& t, const std::vector<float>& reference);

/// Gives a row the arguments threads:1 and threads:2, measured in wall time.
benchmark::internal::Benchmark* threadRows(benchmark::internal::Benchmark* b);

/// The inputs of BM_Embedding: a [kEmbeddingRows, kEmbeddingDim] float32 table holding
/// embeddingWeight(r, c) and kEmbeddingIds row indices embeddingId(i) (some repeated). The rows
/// compute the gradient of sum(embedding(table, ids)^2) with respect to the table.
constexpr int64_t kEmbeddingRows = 50000, kEmbeddingDim = 128, kEmbeddingIds = 4096;
inline float embeddingWeight(int64_t r, int64_t c) {
  return static_cast<float>((r * 131 + c * 7) % 1000) * 0.001f - 0.5f;
}
inline int64_t embeddingId(int64_t i) {
  return (i * i * 31 + 7) % kEmbeddingRows;
}
/// The table's gradient computed by a hand-written loop (2 * row, summed over repeats).
const std::vector<float>& embeddingGradient();

/// BM_Softmax/* and BM_LayerNormGelu/* (bench/rows.cpp).
void registerRowBenchmarks();

/// BM_Mm/* (bench/matmul_rows.cpp).
void registerMatmulBenchmarks();

/// The libtorch rows of BM_Softmax, BM_LayerNormGelu and BM_Chain (bench/libtorch_rows.cpp,
/// built when CMake finds Torch: KILN_BENCH_LIBTORCH).
void registerLibtorchBenchmarks();

}  // namespace kiln_bench
