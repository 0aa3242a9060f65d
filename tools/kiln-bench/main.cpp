// kiln-bench: what laziness buys, measured. Runs workloads lazily (kiln's fused, compiled,
// cached kernels) and eagerly (one kernel per op) side by side, and in libtorch where it was
// built with libtorch, interleaved round by round; prints a table of times, kernel counts,
// compile times and the rates achieved against the machine's measured limits (a roofline);
// writes the figures as JSON and a bar chart as SVG on request.
//
// Exit status: 0 on success, 1 when the work fails (unreadable FILE, a mode's result differs
// from the lazy one, a file that cannot be written, an unsupported device), 2 for a usage error.
// The table goes to stdout; the progress line (on a terminal only) and errors to stderr.
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <kiln/kiln.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "tools/kiln-bench/machine.h"
#include "tools/kiln-bench/report.h"
#include "tools/kiln-bench/suite.h"
#include "tools/kiln-ir/args.h"
#include "tools/kiln-ir/stages.h"
#ifdef KILN_BENCH_LIBTORCH
#include "tools/kiln-bench/libtorch_peers.h"
#endif

namespace kiln::bench_tool {
namespace {

using tools::UsageError;

constexpr int kFailure = 1;
constexpr int kUsage = 2;

constexpr char kHelp[] =
    R"(kiln-bench: kiln lazy against eager (and libtorch), measured on this machine

usage: kiln-bench [options] [FILE.kir ...]

Runs each workload lazily (kiln fuses the recorded graph, compiles and caches its kernels) and
eagerly (one kernel per op, as kiln::EagerGuard runs it), and in libtorch where kiln-bench was
built with it, interleaved round by round so that every mode sees the same machine. First each
mode runs once from empty caches (its compile time), and its result is checked against the lazy
one. Prints per workload and mode the median, least and greatest time per iteration, the ratio
to eager mode, kernels run per iteration, the cold first iteration (kernels compiled, JIT time),
and the rates achieved on the lazy kernels' bytes and FLOPs with the share of the machine's
limits (roofline).

Built-in workloads (all of them, unless FILEs are given or --workloads says otherwise):
  chain           tanh((x + y) * 0.5) + exp(-(x * x)) * 0.25 on 2^24 float32
  softmax         softmax over the rows of 8192x1024 float32, written as 5 ops
  layernorm_gelu  layer norm then tanh-GELU over the rows of 8192x1024, written as 16 ops
  matmul          mm of two 1024x1024 float32 matrices
  mlp_train       one SGD training step of a 784-512-512-10 MLP, batch 256
  small_loop      z = x * 0.5 + y; z.sum().item() on [5, 3]: the cost of each op
FILE.kir is a graph in kiln's text IR, such as KILN_DUMP=<dir> writes (docs/kiln-ir.md), run on
the inputs 'kiln-ir run' takes: its instructions are replayed through the front end, lazily or
eagerly, on params from .npy files (--input) or seeded random values.

The machine's limits (memory bandwidth by a triad, FMA peak of the cores used) are measured once
per CPU model and thread count and cached in $XDG_CACHE_HOME/kiln/machine-limits.tsv (or
~/.cache/kiln/); they are also given to kiln's profiler (kiln::profiler::set_machine_limits).

options:
  --workloads LIST    built-in workloads to run, comma-separated, or 'all' or 'none'
  --threads LIST      kiln thread counts, comma-separated (default: kiln's default, %d here)
  --rounds N          timed rounds (default 10)
  --size PRESET       'full' (the sizes above, the default) or 'small' (milliseconds each)
  --elements N        chain's length
  --rows N, --cols N  softmax's and layernorm_gelu's matrix
  --matmul N          matmul's size
  --batch N           mlp_train's batch
  --input K=PATH      param K of the FILE from a .npy file (one FILE only; repeatable)
  --seed N            seed of the FILEs' random params (default 0)
  --device DEVICE     cpu (the default; cuda is not supported yet)
  --no-libtorch       leave out the libtorch rows
  --machine-limits GBPS,GFLOPS
                      use these limits instead of measured ones
  --remeasure         measure the machine's limits again and update the cache
  --kernels           after the table, kiln's profile of one lazy iteration of each workload
  --json FILE         write every figure as JSON
  --svg FILE          write a bar chart of the median times as SVG
  --help              this text

Exit status: 0 on success, 1 when the work fails (unreadable FILE, a mode's result differs from
the lazy one, a file that cannot be written, an unsupported device), 2 for a usage error.
)";

int64_t positive(const tools::Args& a, const std::string& name, int64_t fallback) {
  std::optional<std::string> v = a.last(name);
  if (!v) return fallback;
  int64_t n = 0;
  if (!absl::SimpleAtoi(*v, &n) || n < 1) {
    throw UsageError{absl::StrCat("--", name, " takes a positive integer, got '", *v, "'")};
  }
  return n;
}

std::vector<int> threadCounts(const tools::Args& a) {
  std::optional<std::string> v = a.last("threads");
  if (!v) return {get_num_threads()};
  std::vector<int> out;
  for (const std::string& part : std::vector<std::string>(absl::StrSplit(*v, ','))) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 1024) {
      throw UsageError{
          absl::StrCat("--threads takes positive thread counts, comma-separated, got '", *v, "'")};
    }
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

std::vector<std::string> builtinSelection(const tools::Args& a) {
  std::optional<std::string> v = a.last("workloads");
  if (!v) return a.files.empty() ? builtinNames() : std::vector<std::string>{};
  if (*v == "all") return builtinNames();
  if (*v == "none") return {};
  std::vector<std::string> out;
  for (const std::string& name : std::vector<std::string>(absl::StrSplit(*v, ','))) {
    if (std::find(builtinNames().begin(), builtinNames().end(), name) == builtinNames().end()) {
      throw UsageError{absl::StrCat("unknown workload '", name, "' (",
                                    absl::StrJoin(builtinNames(), ", "), ", all, none)")};
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

Sizes sizesOf(const tools::Args& a) {
  Sizes s;
  if (std::optional<std::string> preset = a.last("size")) {
    if (*preset == "small") {
      s = Sizes::smallPreset();
    } else if (*preset != "full") {
      throw UsageError{absl::StrCat("--size takes 'full' or 'small', got '", *preset, "'")};
    }
  }
  s.elements = positive(a, "elements", s.elements);
  s.rows = positive(a, "rows", s.rows);
  s.cols = positive(a, "cols", s.cols);
  s.matmul = positive(a, "matmul", s.matmul);
  s.batch = positive(a, "batch", s.batch);
  return s;
}

// "GBPS,GFLOPS", both positive.
bool givenLimits(const tools::Args& a, double* gbps, double* gflops) {
  std::optional<std::string> v = a.last("machine-limits");
  if (!v) return false;
  std::vector<std::string> parts = absl::StrSplit(*v, ',');
  if (parts.size() != 2 || !absl::SimpleAtod(parts[0], gbps) ||
      !absl::SimpleAtod(parts[1], gflops) || !(*gbps > 0) || !(*gflops > 0)) {
    throw UsageError{
        absl::StrCat("--machine-limits takes GBPS,GFLOPS (two positive numbers), got '", *v, "'")};
  }
  return true;
}

// A line on stderr that rewrites itself, where stderr is a terminal; nothing otherwise.
class Progress {
 public:
  Progress() : on_(isatty(STDERR_FILENO) == 1) {}
  ~Progress() { clear(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void show(const std::string& what) {
    if (!on_) return;
    std::string line = absl::StrCat("kiln-bench: ", what);
    if (line.size() > 100) line.resize(100);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (!on_ || !shown_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }

 private:
  bool on_;
  bool shown_ = false;
};

bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (f.flush()) return true;
  std::cerr << "kiln-bench: cannot write " << path << "\n";
  return false;
}

int run(int argc, char** argv) {
  tools::Args a = tools::parseArgs(
      "", argc - 1, argv + 1, /*max_files=*/-1,
      {"workloads", "threads", "rounds", "size", "elements", "rows", "cols", "matmul", "batch",
       "input", "seed", "device", "machine-limits", "json", "svg"},
      {"no-libtorch", "remeasure", "kernels"});
  if (a.help) {
    std::cout << absl::StrFormat(kHelp, get_num_threads());
    return 0;
  }
  for (const char* flag : {"no-libtorch", "remeasure", "kernels"}) {
    for (const std::string& v : a.all(flag)) {
      if (!v.empty()) throw UsageError{absl::StrCat("--", flag, " takes no value")};
    }
  }
  if (std::optional<std::string> device = a.last("device")) {
    std::string type = device->substr(0, device->find(':'));
    if (type == "cuda") {
      std::cerr << "kiln-bench: --device " << *device
                << ": not supported yet (kiln has no CUDA backend; kiln::cuda::is_available() "
                   "is false)\n";
      return kFailure;
    }
    if (type != "cpu") {
      throw UsageError{absl::StrCat("--device takes cpu or cuda, got '", *device, "'")};
    }
  }
  const std::vector<int> threads = threadCounts(a);
  const std::vector<std::string> builtins = builtinSelection(a);
  const Sizes sizes = sizesOf(a);
  RunOptions options;
  options.rounds = static_cast<int>(positive(a, "rounds", 10));
  options.kernel_table = !a.all("kernels").empty();
  uint64_t seed = 0;
  if (std::optional<std::string> s = a.last("seed"); s && !absl::SimpleAtoi(*s, &seed)) {
    throw UsageError{absl::StrCat("--seed takes a non-negative integer, got '", *s, "'")};
  }
  std::map<int64_t, std::string> npy_inputs;
  for (const std::string& v : a.all("input")) npy_inputs.insert(tools::indexedPath("input", v));
  if (!npy_inputs.empty() && a.files.size() != 1) {
    throw UsageError{"--input needs exactly one FILE (it names that graph's params)"};
  }
  double given_gbps = 0, given_gflops = 0;
  const bool limits_given = givenLimits(a, &given_gbps, &given_gflops);
  if (builtins.empty() && a.files.empty()) {
    throw UsageError{"nothing to run: --workloads none and no FILE"};
  }

  std::vector<Workload> workloads;
  for (const std::string& file : a.files) {
    Workload w;
    std::string error;
    if (!graphWorkload(file, npy_inputs, seed, &w, &error)) {
      std::cerr << "kiln-bench: " << error << "\n";
      return kFailure;
    }
    workloads.push_back(std::move(w));
  }
  PeerFactory peers;
  Report report;
#ifdef KILN_BENCH_LIBTORCH
  if (a.all("no-libtorch").empty() && !builtins.empty()) {
    peers = libtorchPeers();
    report.libtorch = libtorchVersion();
  }
#endif
  for (const std::string& name : builtins) workloads.push_back(builtinWorkload(name, sizes, peers));

  Progress progress;
  auto show = [&](const std::string& what) { progress.show(what); };
  // Runs done so far, for the progress line's "[k/n]".
  size_t runs_done = 0;
  const size_t runs = threads.size() * workloads.size();
  options.progress = [&](const std::string& what) {
    progress.show(absl::StrCat("[", runs_done + 1, "/", runs, "] ", what));
  };
  report.cpu = cpuModel();
  report.isa = fmaIsa();
  for (int t : threads) {
    MachineRow row;
    row.threads = t;
    if (limits_given) {
      row.gbytes_per_s = given_gbps;
      row.gflops = given_gflops;
      row.source = "given: --machine-limits";
    } else {
      MachineLimits m = machineLimits(t, !a.all("remeasure").empty(), show);
      row.gbytes_per_s = m.figures.gbytes_per_s;
      row.gflops = m.figures.gflops;
      row.source = m.from_cache ? absl::StrCat("cached in ", m.cache_path)
                                : absl::StrCat("measured now; cached in ", m.cache_path);
      if (!m.cache_error.empty()) {
        row.source = "measured now";
        progress.clear();
        std::cerr << "kiln-bench: the machine's limits were not cached: " << m.cache_error << "\n";
      }
    }
    report.machine.push_back(row);
  }
  for (int t : threads) {
    const runtime::profiler::MachineLimits limits = report.limitsAt(t);
    profiler::set_machine_limits(limits.gbytes_per_s, limits.gflops);
    for (const Workload& w : workloads) {
      report.rows.push_back(runWorkload(w, t, options));
      ++runs_done;
    }
  }
  progress.clear();

  std::cout << tableText(report) << std::flush;
  bool ok = true;
  if (std::optional<std::string> path = a.last("json"))
    ok = writeFile(*path, jsonText(report)) && ok;
  if (std::optional<std::string> path = a.last("svg")) ok = writeFile(*path, svgText(report)) && ok;
  for (const WorkloadResult& w : report.rows) {
    if (!w.mismatch.empty()) {
      std::cerr << "kiln-bench: " << w.name << " (" << tools::plural(w.threads, "thread", "threads")
                << "): the results differ: " << w.mismatch << "\n";
      ok = false;
    }
  }
  return ok ? 0 : kFailure;
}

}  // namespace
}  // namespace kiln::bench_tool

int main(int argc, char** argv) {
  try {
    return kiln::bench_tool::run(argc, argv);
  } catch (const kiln::tools::UsageError& e) {
    std::cerr << "kiln-bench: " << e.message << "\nTry 'kiln-bench --help'.\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "kiln-bench: error: " << e.what() << "\n";
    return 1;
  }
}
