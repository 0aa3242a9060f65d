#pragma once
// Control and observation of the engine: materialisation, eager mode, threads, counters.
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

/// Computes all the given tensors in one compilation, sharing kernels between them.
void eval(const std::vector<Tensor>& tensors);

/// Counters since process start (or the last reset_stats()).
struct Stats {
  int64_t kernels_run = 0;              ///< kernels executed
  int64_t kernels_compiled = 0;         ///< kernels compiled by the JIT (cache misses)
  int64_t cache_hits = 0;               ///< kernel cache lookups that found compiled code
  int64_t cache_misses = 0;             ///< kernel cache lookups that did not
  int64_t materializations = 0;         ///< graphs scheduled and run
  int64_t budget_materializations = 0;  ///< of which forced by the pending-graph size budget
  double compile_ms = 0;                ///< time spent compiling kernels
};
/// A snapshot of the counters.
Stats stats();
void reset_stats();

/// Eager mode: every op is materialised as it is recorded (one kernel per op), through the same
/// code generator. Also enabled by the environment variable KILN_EAGER=1.
void set_eager(bool eager);
bool is_eager();

/// Sets eager mode for its lifetime and restores the previous mode after.
class EagerGuard {
 public:
  explicit EagerGuard(bool eager = true) : previous_(is_eager()) { set_eager(eager); }
  ~EagerGuard() { set_eager(previous_); }
  EagerGuard(const EagerGuard&) = delete;
  EagerGuard& operator=(const EagerGuard&) = delete;

 private:
  bool previous_;
};

/// Sets how many threads kernels run on (the calling thread included), as libtorch's
/// set_num_threads does for its intra-op pool. The default is the environment variable
/// KILN_NUM_THREADS, else the number of CPUs the process may run on. Results do not depend on it.
void set_num_threads(int n);
/// The number of threads kernels run on.
int get_num_threads();

/// Drops every compiled kernel and cached schedule (the next use compiles again).
void clear_kernel_cache();

}  // namespace kiln
