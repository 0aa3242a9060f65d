#include "runtime/profiler.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>
#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <tuple>

#include "lib/core/checked.h"

namespace kiln::runtime::profiler {

namespace detail {
std::atomic<bool> enabled{false};
}  // namespace detail

namespace {

using codegen::Expr;
using codegen::ExprKind;
using codegen::Kernel;
using codegen::ReduceKind;

constexpr size_t kDefaultEventCapacity = 1'000'000;

// A row's identity: the compiled kernel (its serial number; 0 for copies) and the step root it
// computed. Looked up by views into the plan's strings, so a launch allocates nothing.
struct RowKeyView {
  int64_t kernel;
  std::string_view instr, reason;
};
struct RowKey {
  int64_t kernel;
  std::string instr, reason;
};
struct RowKeyHash {
  using is_transparent = void;
  size_t operator()(const RowKeyView& k) const {
    return absl::Hash<std::tuple<int64_t, std::string_view, std::string_view>>{}(
        std::make_tuple(k.kernel, k.instr, k.reason));
  }
  size_t operator()(const RowKey& k) const {
    return (*this)(RowKeyView{k.kernel, k.instr, k.reason});
  }
};
struct RowKeyEq {
  using is_transparent = void;
  static RowKeyView view(const RowKey& k) { return {k.kernel, k.instr, k.reason}; }
  static RowKeyView view(const RowKeyView& k) { return k; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    const RowKeyView x = view(a), y = view(b);
    return x.kernel == y.kernel && x.instr == y.instr && x.reason == y.reason;
  }
};

// A compiled kernel's serial number. The weak pointer tells a kernel whose code was freed
// from a new one compiled at the same address.
struct Serial {
  std::weak_ptr<const CompiledKernel> kernel;
  int64_t serial;
};

struct State {
  std::mutex mu;
  Clock::time_point epoch = Clock::now();
  std::vector<Row> rows;
  std::vector<KernelWork> works;  // per row (empty for copies)
  absl::flat_hash_map<RowKey, int32_t, RowKeyHash, RowKeyEq> row_of;
  absl::flat_hash_map<const CompiledKernel*, Serial> serials;
  int64_t next_serial = 1;
  std::vector<Event> events;
  size_t event_capacity = kDefaultEventCapacity;
  int64_t dropped = 0;
  int64_t runs = 0;
  MachineLimits limits;
  // KILN_PROFILE: what to do at exit.
  bool table_at_exit = false;
  std::string trace_at_exit;
};

// Never destroyed: the exit handler reads it after static destructors may have run.
State& state() {
  static auto* s = new State;
  return *s;
}

void atExit() {
  State& s = state();
  if (s.table_at_exit) std::fputs(table().c_str(), stderr);
  if (!s.trace_at_exit.empty() && !writeTrace(s.trace_at_exit)) {
    std::fprintf(stderr, "kiln: KILN_PROFILE: cannot write the trace to %s\n",
                 s.trace_at_exit.c_str());
  }
}

// Reads KILN_PROFILE once, when the library's static objects are initialised, so that the
// whole program is profiled.
struct ReadEnvironment {
  ReadEnvironment() {
    const char* v = std::getenv("KILN_PROFILE");
    if (v == nullptr || *v == '\0' || std::strcmp(v, "0") == 0) return;
    State& s = state();
    if (std::strcmp(v, "1") == 0) {
      s.table_at_exit = true;
    } else {
      s.trace_at_exit = v;
    }
    std::atexit(atExit);
    setEnabled(true);
  }
} read_environment;

int64_t threadId() {
  thread_local const int64_t tid = static_cast<int64_t>(::gettid());
  return tid;
}

int64_t serialOf(State& s, const std::shared_ptr<const CompiledKernel>& kernel) {
  auto [it, added] = s.serials.try_emplace(kernel.get());
  if (added || it->second.kernel.expired()) it->second = Serial{kernel, s.next_serial++};
  return it->second.serial;
}

// The arithmetic ops among the expressions that compute `roots`' values (operands before users,
// so one pass from the last expression down visits every user before its operands).
int64_t valueOps(const Kernel& k, const std::vector<int32_t>& roots) {
  std::vector<bool> used(k.exprs.size(), false);
  for (int32_t r : roots) {
    if (r >= 0) used[r] = true;
  }
  int64_t ops = 0;
  for (int32_t e = static_cast<int32_t>(k.exprs.size()) - 1; e >= 0; --e) {
    if (!used[e]) continue;
    const Expr& x = k.exprs[e];
    // Loads' indices and random numbers' counters are addressing, not arithmetic on values.
    if (x.kind != ExprKind::Op) continue;
    if (ir::info(x.sop).dtype != ir::DtypeRule::Cast) ++ops;
    for (int32_t operand : {x.a, x.b, x.c}) {
      if (operand >= 0) used[operand] = true;
    }
  }
  return ops;
}

std::string rowWhere(const Row& r) {
  if (r.instr.empty()) return r.reason;
  return absl::StrCat(r.instr, "  # ", r.reason);
}

}  // namespace

void setEnabled(bool on) {
  detail::enabled.store(on, std::memory_order_relaxed);
}

void reset() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.epoch = Clock::now();
  s.rows.clear();
  s.works.clear();
  s.row_of.clear();
  s.serials.clear();
  s.next_serial = 1;
  s.events.clear();
  s.events.shrink_to_fit();
  s.dropped = 0;
  s.runs = 0;
}

KernelWork kernelWork(const Kernel& k, bool matrix_product) {
  KernelWork w;
  w.reads.assign(k.buffers.size(), false);
  w.writes.assign(k.buffers.size(), false);
  for (size_t b = 0; b < k.buffers.size(); ++b) w.writes[b] = k.buffers[b].written;
  for (const Expr& x : k.exprs) {
    if (x.kind == ExprKind::Load) w.reads[x.i] = true;
  }
  std::vector<int32_t> all_loops(k.loops.size());
  for (size_t l = 0; l < k.loops.size(); ++l) all_loops[l] = static_cast<int32_t>(l);
  if (matrix_product && k.phases.empty()) {
    w.terms.push_back({2, all_loops});
    return w;
  }
  // Each phase: its value and one combine per term, at every point of the outer loops and its
  // own loops.
  for (const codegen::Phase& p : k.phases) {
    KernelWork::Term t;
    t.ops_per_point = valueOps(k, {p.value}) + 1;
    for (int32_t l = 0; l < k.outer; ++l) t.loops.push_back(l);
    t.loops.insert(t.loops.end(), p.loops.begin(), p.loops.end());
    w.terms.push_back(std::move(t));
  }
  // The stores: their values (shared subexpressions once) and one combine per reducing store,
  // at every point of the loops that belong to no phase.
  KernelWork::Term t;
  std::vector<int32_t> roots;
  for (const codegen::Store& st : k.stores) {
    roots.push_back(st.value);
    if (st.reduce != ReduceKind::None) ++t.ops_per_point;
  }
  t.ops_per_point += valueOps(k, roots);
  for (int32_t l : all_loops) {
    if (!k.isPhaseLoop(l)) t.loops.push_back(l);
  }
  w.terms.push_back(std::move(t));
  return w;
}

KernelCost kernelCost(const KernelWork& work, const Kernel& k, const uint64_t* args,
                      const int64_t* buffer_bytes) {
  KernelCost c;
  for (const KernelWork::Term& t : work.terms) {
    int64_t points = 1;
    for (int32_t l : t.loops) points = saturatingMul(points, k.extentAt(l, args));
    if (addOverflows(c.flops, saturatingMul(points, t.ops_per_point), &c.flops)) {
      c.flops = std::numeric_limits<int64_t>::max();
    }
  }
  for (size_t b = 0; b < work.reads.size(); ++b) {
    c.bytes += (work.reads[b] ? buffer_bytes[b] : 0) + (work.writes[b] ? buffer_bytes[b] : 0);
  }
  return c;
}

void setMachineLimits(MachineLimits limits) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.limits = limits;
}

MachineLimits machineLimits() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.limits;
}

Rates rates(int64_t bytes, int64_t flops, int64_t ns, const MachineLimits& limits) {
  Rates r;
  if (ns <= 0) return r;
  const double t = static_cast<double>(ns);
  // Bytes per nanosecond are GB/s, and FLOPs per nanosecond GFLOP/s.
  r.gbytes_per_s = static_cast<double>(bytes) / t;
  r.gflops = static_cast<double>(flops) / t;
  if (limits.known()) {
    const double memory_ns = static_cast<double>(bytes) / limits.gbytes_per_s;
    const double compute_ns = static_cast<double>(flops) / limits.gflops;
    r.memory_bound = memory_ns >= compute_ns;
    r.roofline_share = std::max(memory_ns, compute_ns) / t;
  }
  return r;
}

void record(const Launch& launch) {
  State& s = state();
  const int64_t tid = threadId();
  std::lock_guard<std::mutex> lock(s.mu);
  const sched::Step& step = *launch.step;
  const int64_t serial = launch.kernel ? serialOf(s, *launch.kernel) : 0;
  auto it = s.row_of.find(RowKeyView{serial, launch.instr, step.reason});
  int32_t row;
  if (it != s.row_of.end()) {
    row = it->second;
  } else {
    row = static_cast<int32_t>(s.rows.size());
    Row r;
    r.kernel = serial ? absl::StrCat("k", serial) : "copy";
    r.instr = std::string(launch.instr);
    r.reason = step.reason;
    r.copy = serial == 0;
    s.rows.push_back(std::move(r));
    s.works.push_back(serial
                          ? kernelWork(step.kernel, absl::StartsWith(step.reason, "matrix product"))
                          : KernelWork{});
    s.row_of.emplace(RowKey{serial, std::string(launch.instr), step.reason}, row);
  }
  KernelCost cost;
  if (serial) {
    cost = kernelCost(s.works[row], step.kernel, launch.args, launch.buffer_bytes);
  } else {
    cost.bytes = 2 * launch.copy_bytes;
  }
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(launch.end - launch.start).count();
  Row& r = s.rows[row];
  ++r.calls;
  r.total_ns += ns;
  r.bytes += cost.bytes;
  r.flops += cost.flops;
  if (s.events.size() >= s.event_capacity) {
    ++s.dropped;
    return;
  }
  Event e;
  e.row = row;
  e.start_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(launch.start - s.epoch).count();
  e.duration_ns = ns;
  e.thread = tid;
  e.bytes = cost.bytes;
  e.flops = cost.flops;
  s.events.push_back(e);
}

void countRun() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  ++s.runs;
}

namespace {

// The table needs no events: up to a million of them are not copied for it.
Snapshot snapshotOf(State& s, bool with_events) {
  std::lock_guard<std::mutex> lock(s.mu);
  return Snapshot{s.rows, with_events ? s.events : std::vector<Event>{}, s.dropped, s.runs};
}

}  // namespace

Snapshot snapshot() {
  return snapshotOf(state(), true);
}

void setEventCapacity(size_t events) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.event_capacity = events;
}

std::string table() {
  const Snapshot snap = snapshotOf(state(), false);
  const MachineLimits limits = machineLimits();
  std::vector<int32_t> order(snap.rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return snap.rows[a].total_ns > snap.rows[b].total_ns;
  });
  int64_t total_ns = 0, calls = 0, kernel_calls = 0, bytes = 0, flops = 0, kernel_rows = 0;
  absl::flat_hash_set<std::string_view> kernels;
  size_t name_width = 6;
  for (const Row& r : snap.rows) {
    total_ns += r.total_ns;
    calls += r.calls;
    bytes += r.bytes;
    flops += r.flops;
    if (!r.copy) {
      kernel_calls += r.calls;
      ++kernel_rows;
      kernels.insert(r.kernel);
    }
    name_width = std::max(name_width, r.kernel.size());
  }
  const int w = static_cast<int>(name_width);
  std::string out = absl::StrFormat("%-*s %8s %10s %10s %6s %8s %8s", w, "kernel", "calls",
                                    "total ms", "mean us", "time%", "GB/s", "GFLOP/s");
  if (limits.known()) absl::StrAppend(&out, absl::StrFormat(" %6s %7s", "roof%", "bound"));
  absl::StrAppend(&out, "  where (value computed  # why it is a step)\n");
  for (int32_t i : order) {
    const Row& r = snap.rows[i];
    const Rates rt = rates(r.bytes, r.flops, r.total_ns, limits);
    const double ms = static_cast<double>(r.total_ns) / 1e6;
    const double mean_us = r.calls ? static_cast<double>(r.total_ns) / 1e3 / r.calls : 0.0;
    const double share = total_ns ? 100.0 * r.total_ns / total_ns : 0.0;
    absl::StrAppend(&out, absl::StrFormat("%-*s %8d %10.3f %10.1f %6.1f %8.2f %8.2f", w, r.kernel,
                                          r.calls, ms, mean_us, share, rt.gbytes_per_s, rt.gflops));
    if (limits.known()) {
      absl::StrAppend(&out, absl::StrFormat(" %6.1f %7s", 100.0 * rt.roofline_share,
                                            rt.memory_bound ? "memory" : "compute"));
    }
    absl::StrAppend(&out, "  ", rowWhere(r), "\n");
  }
  const Rates all = rates(bytes, flops, total_ns, limits);
  absl::StrAppend(
      &out, absl::StrFormat(
                "total: %d launches of %d kernels (%d rows), %d copies, %.3f ms, %.2f GB/s, "
                "%.2f GFLOP/s; %d materialisations",
                kernel_calls, kernels.size(), kernel_rows, calls - kernel_calls,
                static_cast<double>(total_ns) / 1e6, all.gbytes_per_s, all.gflops, snap.runs));
  if (limits.known()) {
    absl::StrAppend(&out, absl::StrFormat(" (limits: %.1f GB/s, %.1f GFLOP/s)", limits.gbytes_per_s,
                                          limits.gflops));
  }
  if (snap.dropped_events > 0) {
    absl::StrAppend(&out,
                    absl::StrFormat("; %d launches left out of the trace", snap.dropped_events));
  }
  absl::StrAppend(&out, "\n");
  return out;
}

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, absl::StrFormat("\\u%04x", static_cast<unsigned char>(c)));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string traceJson() {
  const Snapshot snap = snapshot();
  const int64_t pid = static_cast<int64_t>(::getpid());
  std::string out =
      absl::StrCat("{\"traceEvents\":[\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":", pid,
                   ",\"args\":{\"name\":\"kiln\"}}");
  // The strings of each row, escaped once.
  std::vector<std::string> name(snap.rows.size()), args(snap.rows.size());
  for (size_t i = 0; i < snap.rows.size(); ++i) {
    const Row& r = snap.rows[i];
    name[i] = absl::StrCat("{\"name\":", jsonString(r.kernel), ",\"cat\":\"",
                           r.copy ? "copy" : "kernel", "\",\"ph\":\"X\"");
    args[i] = absl::StrCat(",\"instr\":", jsonString(r.instr), ",\"reason\":", jsonString(r.reason),
                           "}}");
  }
  for (const Event& e : snap.events) {
    absl::StrAppend(
        &out, ",\n", name[e.row],
        absl::StrFormat(",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,\"tid\":%d,"
                        "\"args\":{\"bytes\":%d,\"flops\":%d",
                        static_cast<double>(e.start_ns) / 1e3,
                        static_cast<double>(e.duration_ns) / 1e3, pid, e.thread, e.bytes, e.flops),
        args[e.row]);
  }
  absl::StrAppend(&out, "\n],\"displayTimeUnit\":\"ms\",\"otherData\":{\"dropped_events\":",
                  snap.dropped_events, "}}\n");
  return out;
}

bool writeTrace(const std::string& path) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return false;
  f << traceJson();
  f.close();
  return static_cast<bool>(f);
}

}  // namespace kiln::runtime::profiler
