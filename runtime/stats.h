#pragma once
// Process-wide counters behind kiln::stats().
#include <atomic>
#include <cstdint>

namespace kiln::runtime {

struct Counters {
  std::atomic<int64_t> kernels_run{0};
  std::atomic<int64_t> kernels_compiled{0};
  std::atomic<int64_t> cache_hits{0};
  std::atomic<int64_t> cache_misses{0};
  std::atomic<int64_t> materializations{0};
  std::atomic<int64_t> budget_materializations{0};
  std::atomic<int64_t> compile_ns{0};
  /// Materialisations that found their plan by the live graph's structural hash, without
  /// extracting the graph (the rest of the hits go through the full structural key).
  std::atomic<int64_t> plans_matched{0};
};

Counters& counters();

}  // namespace kiln::runtime
