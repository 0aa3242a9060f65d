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

/// BM_Softmax/* and BM_LayerNormGelu/* (bench/rows.cpp).
void registerRowBenchmarks();

/// BM_Mm/* (bench/matmul_rows.cpp).
void registerMatmulBenchmarks();

/// The libtorch rows of BM_Softmax, BM_LayerNormGelu and BM_Chain (bench/libtorch_rows.cpp,
/// built when CMake finds Torch: KILN_BENCH_LIBTORCH).
void registerLibtorchBenchmarks();

}  // namespace kiln_bench
