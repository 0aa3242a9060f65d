#pragma once
// The kernel profiler behind kiln::profiler and KILN_PROFILE: runPlan times every kernel launch
// and copy while it is enabled, and the profiler keeps per-kernel totals (always) and the
// individual launches (up to a cap) for a Chrome trace-event file. Off, it costs runPlan one
// relaxed atomic load per run.
//
// KILN_PROFILE is read once, when the library's static objects are initialised: "1" enables
// the profiler and prints table() to stderr at exit; any other value but "0" or "" enables it and
// writes the trace to that path at exit (and prints nothing).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/kernel.h"
#include "lib/sched/schedule.h"
#include "runtime/backend.h"

namespace kiln::runtime::profiler {

using Clock = std::chrono::steady_clock;

namespace detail {
extern std::atomic<bool> enabled;
}  // namespace detail

/// Whether launches are being recorded (the check runPlan makes).
inline bool enabled() {
  return detail::enabled.load(std::memory_order_relaxed);
}
void setEnabled(bool on);
/// Drops every total and event, and restarts the trace's clock.
void reset();

// ---- what a launch costs ----

/// The work of a kernel that does not depend on its launch: per group of expressions evaluated
/// together (the stores, or one phase), the arithmetic per point and the loops whose points they
/// run at; and which buffers the kernel reads and writes.
struct KernelWork {
  struct Term {
    int64_t ops_per_point = 0;
    std::vector<int32_t> loops;
  };
  std::vector<Term> terms;
  std::vector<bool> reads, writes;  // per buffer
};

/// Counts, for kernel `k`, the arithmetic ops (Op expressions other than casts, each
/// transcendental function counting as one) that compute stored values, leaving out index
/// arithmetic, random-number generation and loads, plus one combine per term of every reducing
/// store and phase. A matrix product without phases (`matrix_product`: the schedule step's
/// reason says so) counts 2 ops (a multiply and an add) per point of all its loops: 2*M*N*K, which
/// is also what the general count gives any sum of products, whatever the step's reason.
KernelWork kernelWork(const codegen::Kernel& k, bool matrix_product);

struct KernelCost {
  int64_t bytes = 0;
  int64_t flops = 0;
};

/// The cost of one launch with scalar arguments `args` (loop extents may be arguments) and
/// buffer i of `buffer_bytes[i]` bytes. FLOPs are each term's ops times its points. Bytes are an
/// upper-bound estimate of the traffic: each buffer counts in full once if the kernel loads from
/// it and once if it stores into it (a kernel that touches only a window of a buffer is
/// overcounted; repeated reads, as a broadcast's or a matrix product's, are assumed to hit the
/// cache).
KernelCost kernelCost(const KernelWork& work, const codegen::Kernel& k, const uint64_t* args,
                      const int64_t* buffer_bytes);

/// A machine's limits: memory bandwidth and peak arithmetic (FMA) throughput.
struct MachineLimits {
  double gbytes_per_s = 0;
  double gflops = 0;
  bool known() const { return gbytes_per_s > 0 && gflops > 0; }
};
void setMachineLimits(MachineLimits limits);
MachineLimits machineLimits();

/// Achieved rates of `bytes` and `flops` in `ns` nanoseconds, and with known limits the share of
/// the roofline: the time the limits allow (the larger of bytes / bandwidth and flops / peak)
/// over the time taken, which says how close a kernel is to the limit that binds it.
struct Rates {
  double gbytes_per_s = 0;
  double gflops = 0;
  double roofline_share = 0;  // 0..1 (can exceed 1 where the byte estimate overcounts)
  bool memory_bound = false;  // the bandwidth, not the peak, is the binding limit
};
Rates rates(int64_t bytes, int64_t flops, int64_t ns, const MachineLimits& limits);

// ---- recording (runPlan) ----

/// One kernel launch (or copy) of `plan`'s step `step`, timed from `start` to `end`.
/// `instr` describes the step's root (see Plan::step_instr); `kernel` is null for a copy, whose
/// `copy_bytes` are the bytes copied (counted as read and written).
struct Launch {
  const std::shared_ptr<const CompiledKernel>* kernel = nullptr;
  const sched::Step* step = nullptr;
  std::string_view instr;
  const uint64_t* args = nullptr;
  const int64_t* buffer_bytes = nullptr;
  int64_t copy_bytes = 0;
  Clock::time_point start, end;
};
void record(const Launch& launch);
/// Counts one plan run (a materialisation) while enabled.
void countRun();

// ---- what was recorded ----

/// Totals of one kernel at one place of a plan: a compiled kernel (named kN in the order the
/// profiler first saw it) computing one step root, or a copy ("copy").
struct Row {
  std::string kernel;
  std::string instr;   // the step's root value, e.g. "%34 reduce.sum f32[256,512]"
  std::string reason;  // why the step exists (the schedule's reason)
  bool copy = false;
  int64_t calls = 0;
  int64_t total_ns = 0;
  int64_t bytes = 0;
  int64_t flops = 0;
};
struct Event {
  int32_t row = 0;
  int64_t start_ns = 0;  // since the profiler's clock started (reset)
  int64_t duration_ns = 0;
  int64_t thread = 0;  // the launching thread's id (Linux tid)
  int64_t bytes = 0;
  int64_t flops = 0;
};
struct Snapshot {
  std::vector<Row> rows;  // in the order first seen
  std::vector<Event> events;
  int64_t dropped_events = 0;
  int64_t runs = 0;
};
Snapshot snapshot();
/// At most this many events are kept (1,000,000 by default); later launches still count in the
/// rows, and as dropped events.
void setEventCapacity(size_t events);

/// The table: rows sorted by total time (descending), with calls, total ms, mean us, share of
/// the total time, GB/s, GFLOP/s, the roofline share where limits are set, and the step's root
/// and reason; then a line of totals.
std::string table();
/// {"traceEvents":[...]}: one complete ("ph":"X") event per kept launch, times in microseconds.
std::string traceJson();
/// Writes traceJson() to `path`; false if the file cannot be written.
bool writeTrace(const std::string& path);

/// `s` as a JSON string literal, quotes included.
std::string jsonString(std::string_view s);

}  // namespace kiln::runtime::profiler
