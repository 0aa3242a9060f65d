#pragma once
// The limits of the machine kiln-bench runs on, measured: the memory bandwidth (a STREAM triad)
// and the peak FMA throughput of the cores it uses. Measuring takes a second or two, so the
// figures are cached per machine in a file keyed by CPU model and thread count.
#include <functional>
#include <string>
#include <vector>

namespace kiln::bench_tool {

/// The host's CPU model, as /proc/cpuinfo's "model name" says ("unknown CPU" if it cannot).
std::string cpuModel();

/// The widest FMA the host has, as the peak measurement uses it: "avx512f", "avx2+fma", or
/// "sse2" (no FMA: a multiply and an add, counted as 2 FLOPs all the same).
std::string fmaIsa();

/// Best memory bandwidth in GB/s of the triad a[i] = b[i] + s * c[i] on `threads` threads over
/// three arrays of `elements` floats each, counting 12 bytes per element (STREAM's convention:
/// two loads and a store; the write-allocate read is not counted), best of `repeats`.
double measureTriadGBps(int threads, size_t elements, int repeats);

/// Peak arithmetic throughput in GFLOP/s: `threads` threads at once, each running independent
/// chains of vector FMAs (2 FLOPs per lane) for about `seconds`; best of 3.
double measureFmaGflops(int threads, double seconds);

/// One line of the cache file.
struct CachedLimits {
  std::string cpu;
  int threads = 0;
  std::string isa;
  double gbytes_per_s = 0;
  double gflops = 0;
};

/// The cache file: $XDG_CACHE_HOME/kiln/machine-limits.tsv, or ~/.cache/kiln/machine-limits.tsv;
/// "" when neither variable is set.
std::string limitsCachePath();

/// The cache file's text: one tab-separated line per CPU model and thread count (cpu, threads,
/// isa, GB/s, GFLOP/s), after a comment line. Lines that do not parse are skipped.
std::vector<CachedLimits> parseLimitsCache(const std::string& text);
std::string formatLimitsCache(const std::vector<CachedLimits>& entries);

/// The machine's limits at `threads` threads and where they come from.
struct MachineLimits {
  CachedLimits figures;
  bool from_cache = false;
  std::string cache_path;   // where they were read or written ("" if nowhere)
  std::string cache_error;  // why the cache could not be written, or ""
};

/// The limits for this CPU at `threads` threads: from the cache unless `remeasure` or absent
/// there, otherwise measured (calling `progress` with a short description before each part) and
/// written to the cache.
MachineLimits machineLimits(int threads, bool remeasure,
                            const std::function<void(const std::string&)>& progress);

}  // namespace kiln::bench_tool
