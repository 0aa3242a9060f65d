#pragma once
// kiln-bench's workloads and how it runs them: each workload is made once per mode (lazy, eager,
// libtorch), run once from empty caches, checked against the lazy result, then timed in rounds
// that interleave the modes, and finally profiled for the bytes and FLOPs of its lazy kernels.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/tensor.h"
#include "tools/kiln-bench/report.h"

namespace kiln::bench_tool {

/// One workload prepared in one mode: its inputs made, nothing compiled yet.
class Instance {
 public:
  virtual ~Instance() = default;
  /// One iteration, with its result materialised.
  virtual void iterate() = 0;
  /// The latest iteration's result, flat (for checking that the modes agree).
  virtual std::vector<float> result() = 0;
};

/// The sizes of the built-in workloads.
struct Sizes {
  int64_t elements = int64_t{1} << 24;  // chain
  int64_t rows = 8192, cols = 1024;     // softmax, layernorm_gelu
  int64_t matmul = 1024;                // matmul: n x n times n x n
  int64_t batch = 256;                  // mlp_train
  int64_t small = 5;                    // small_loop: [small, 3]
  /// Sizes that run in milliseconds, for a quick look (and the tests).
  static Sizes smallPreset();
};

/// Makes the libtorch peer of built-in workload `name` with the same inputs (`inputs`, as the
/// kiln instances have them), or returns null where it has none. Set by kiln-bench's main when
/// it is built with libtorch (tools/kiln-bench/libtorch_peers.h).
using PeerFactory = std::function<std::unique_ptr<Instance>(
    const std::string& name, const std::vector<Tensor>& inputs, const Sizes& sizes)>;

struct Workload {
  std::string name;
  std::string description;
  /// The instance for `mode`, or null where the workload has none in that mode.
  std::function<std::unique_ptr<Instance>(Mode)> make;
};

/// The built-in workloads' names, in the order they run: chain, softmax, layernorm_gelu,
/// matmul, mlp_train, small_loop.
const std::vector<std::string>& builtinNames();
/// Built-in workload `name` (one of builtinNames()); `peers` may be null (no libtorch rows).
Workload builtinWorkload(const std::string& name, const Sizes& sizes, const PeerFactory& peers);

/// A graph file (kiln's text IR, as KILN_DUMP writes it): its instructions replayed through the
/// front end, lazily or eagerly, on params filled as `kiln-ir run` fills them (.npy files from
/// `npy_inputs`, seeded random values for the rest). False, with `error` set, when the file does
/// not load or an input does not fit.
bool graphWorkload(const std::string& path, const std::map<int64_t, std::string>& npy_inputs,
                   uint64_t seed, Workload* out, std::string* error);

struct RunOptions {
  int rounds = 10;
  /// Each sample runs enough iterations to last about this long, so that short iterations are
  /// not measured against the clock's resolution.
  double min_sample_ms = 10;
  bool kernel_table = false;
  /// Told what is running ("chain, 2 threads: round 3/10"); may be empty.
  std::function<void(const std::string&)> progress;
};

/// Runs `w` at `threads` threads (kiln::set_num_threads; restored after) in every mode it has.
WorkloadResult runWorkload(const Workload& w, int threads, const RunOptions& options);

/// Why `got` differs from `want` beyond rounding ("" when it does not): sizes, or the first
/// element off by more than 1e-4 + 1e-3 |want| (NaN matches NaN).
std::string compareResults(const std::vector<float>& want, const std::vector<float>& got);

}  // namespace kiln::bench_tool
