#pragma once
// kiln-bench's figures and the three ways it shows them: the table (stdout), the raw figures as
// JSON (--json) and a bar chart as SVG (--svg). Pure functions of the figures: what they print
// is tested on figures made up for the purpose.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/profiler.h"

namespace kiln::bench_tool {

/// How a workload is run: kiln lazily (fused, compiled, cached), kiln eagerly (one kernel per
/// op, kiln::EagerGuard) or in libtorch (eager, its own library kernels).
enum class Mode { Lazy, Eager, Libtorch };
const char* modeName(Mode m);

/// One workload run in one mode.
struct ModeResult {
  Mode mode = Mode::Lazy;
  /// Milliseconds per iteration, one sample per round (each sample the mean of
  /// `iterations_per_sample` iterations), in round order.
  std::vector<double> sample_ms;
  int64_t iterations_per_sample = 1;
  double median_ms = 0, min_ms = 0, max_ms = 0;
  /// kiln's counters (kiln::stats()); -1 for libtorch. Kernels run per iteration while timed.
  double kernels_per_iteration = -1;
  /// The first iteration from empty caches (kiln::clear_kernel_cache()): its wall time, the
  /// kernels it compiled and the JIT's part of its time.
  double cold_ms = 0;
  int64_t cold_compiled = -1;
  double cold_compile_ms = -1;
  /// Kernels compiled while timed (0 unless something defeats the caches).
  int64_t steady_compiled = 0;
};

/// Fills median_ms, min_ms and max_ms from sample_ms.
void summarise(ModeResult* r);

/// One workload at one thread count, every mode it has.
struct WorkloadResult {
  std::string name;
  std::string description;
  int threads = 1;
  /// Per iteration, the lazy kernels' bytes moved and FLOPs as kiln's profiler estimates them
  /// (runtime/profiler.h): the work every row of the workload is measured against.
  int64_t bytes = 0, flops = 0;
  std::vector<ModeResult> modes;
  /// Why a mode's result differs from the lazy one's ("" when they agree).
  std::string mismatch;
  /// kiln's per-kernel profile of one lazy iteration (--kernels), or "".
  std::string kernel_table;

  const ModeResult* mode(Mode m) const;
};

/// The machine's limits at one thread count (tools/kiln-bench/machine.h).
struct MachineRow {
  int threads = 1;
  double gbytes_per_s = 0, gflops = 0;
  std::string source;  // "measured", "cached in PATH", "given (--machine-limits)"
};

struct Report {
  std::string cpu;
  std::string isa;
  std::string libtorch;  // "libtorch 1.13.1" when its rows were run, else ""
  std::vector<MachineRow> machine;
  std::vector<WorkloadResult> rows;

  /// The limits at `threads` threads (unknown: both 0).
  runtime::profiler::MachineLimits limitsAt(int threads) const;
};

/// The achieved rates of a row: the workload's bytes and FLOPs over the row's median time, and
/// with known limits the share of the roofline (runtime::profiler::rates).
runtime::profiler::Rates rowRates(const WorkloadResult& w, const ModeResult& m,
                                  const runtime::profiler::MachineLimits& limits);

/// Milliseconds with about four significant digits and no exponent: 410.2, 18.81, 0.002412.
std::string formatMs(double ms);

/// The comparison table, one line per workload and mode, and after it what each workload is and
/// what the columns mean.
std::string tableText(const Report& r);
/// Every figure of the report as one JSON object.
std::string jsonText(const Report& r);
/// A horizontal bar chart of the median times: per workload a group of bars (lazy, eager,
/// libtorch), on a log scale when the longest bar is more than `kLogScaleSpread` times the
/// shortest.
std::string svgText(const Report& r);
inline constexpr double kLogScaleSpread = 30;

}  // namespace kiln::bench_tool
