#include "tools/kiln-bench/machine.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>
#include <absl/strings/strip.h>
#include <immintrin.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <utility>

namespace kiln::bench_tool {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Runs work(t) on threads 0..n-1 at once (the calling thread is thread 0) and returns the wall
// time in seconds from the start of all of them to the end of the last.
template <typename F>
double timeOnThreads(int n, F work) {
  std::vector<std::thread> others;
  auto start = Clock::now();
  for (int t = 1; t < n; ++t) others.emplace_back(work, t);
  work(0);
  for (std::thread& th : others) th.join();
  return secondsSince(start);
}

// Independent accumulator chains: enough to keep every FMA unit busy through the FMA latency
// (4 cycles x 2 units on current cores needs 8). Written out as twelve named variables, by the
// macros below, so that they stay in registers whatever the optimiser does with arrays; one
// macro defines the kernel for every vector width, since intrinsics of a wider ISA may only be
// inlined into a function compiled for it (the target attribute before each definition).
constexpr int kChains = 12;
// clang-format off
#define KILN_CHAINS(X, ...)                                                                     \
  X(0, __VA_ARGS__) X(1, __VA_ARGS__) X(2, __VA_ARGS__) X(3, __VA_ARGS__) X(4, __VA_ARGS__)     \
  X(5, __VA_ARGS__) X(6, __VA_ARGS__) X(7, __VA_ARGS__) X(8, __VA_ARGS__) X(9, __VA_ARGS__)     \
  X(10, __VA_ARGS__) X(11, __VA_ARGS__)
// clang-format on
#define KILN_INIT_CHAIN(i, VEC, SET1) VEC acc##i = SET1(1.0f + 0.001f * (i));
#define KILN_STEP_CHAIN(i, FMA) acc##i = FMA(acc##i, m, a);
#define KILN_SUM_CHAIN(i, ADD) sum = ADD(sum, acc##i);

// float NAME(int64_t rounds): `rounds` rounds of an FMA on each of the twelve chains, returning
// a value that depends on every one of them (so that none is optimised away). FLOPs: rounds *
// 12 * LANES * 2.
#define KILN_FMA_KERNEL(NAME, VEC, LANES, SET1, FMA, ADD, STORE) \
  float NAME(int64_t rounds) {                                   \
    KILN_CHAINS(KILN_INIT_CHAIN, VEC, SET1)                      \
    const VEC m = SET1(0.9999999f), a = SET1(1e-7f);             \
    for (int64_t r = 0; r < rounds; ++r) {                       \
      KILN_CHAINS(KILN_STEP_CHAIN, FMA)                          \
    }                                                            \
    VEC sum = SET1(0.0f);                                        \
    KILN_CHAINS(KILN_SUM_CHAIN, ADD)                             \
    alignas(sizeof(VEC)) float lanes[LANES];                     \
    STORE(lanes, sum);                                           \
    float total = 0;                                             \
    for (float l : lanes) total += l;                            \
    return total;                                                \
  }

// Without FMA: a multiply and an add per lane, 2 FLOPs all the same.
__m128 mulAdd128(__m128 x, __m128 y, __m128 z) {
  return _mm_add_ps(_mm_mul_ps(x, y), z);
}

// clang-format off
__attribute__((target("avx512f")))
KILN_FMA_KERNEL(fmaAvx512, __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
                _mm512_store_ps)
__attribute__((target("avx2,fma")))
KILN_FMA_KERNEL(fmaAvx2, __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps,
                _mm256_store_ps)
KILN_FMA_KERNEL(mulAddSse2, __m128, 4, _mm_set1_ps, mulAdd128, _mm_add_ps, _mm_store_ps)
// clang-format on

#undef KILN_FMA_KERNEL
#undef KILN_SUM_CHAIN
#undef KILN_STEP_CHAIN
#undef KILN_INIT_CHAIN
#undef KILN_CHAINS

        struct FmaKernel {
  float (*run)(int64_t rounds);
  int lanes;
};

FmaKernel fmaKernel() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {fmaAvx512, 16};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {fmaAvx2, 8};
  return {mulAddSse2, 4};
}

std::string environment(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

}  // namespace

std::string cpuModel() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string model(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (!model.empty()) return model;
  }
  return "unknown CPU";
}

std::string fmaIsa() {
  FmaKernel k = fmaKernel();
  return k.lanes == 16 ? "avx512f" : k.lanes == 8 ? "avx2+fma" : "sse2";
}

double measureTriadGBps(int threads, size_t elements, int repeats) {
  std::unique_ptr<float[]> a(new float[elements]), b(new float[elements]), c(new float[elements]);
  const size_t per_thread = (elements + static_cast<size_t>(threads) - 1) / threads;
  auto slice = [&](int t) {
    size_t begin = std::min(elements, per_thread * static_cast<size_t>(t));
    return std::make_pair(begin, std::min(elements, begin + per_thread));
  };
  // Each thread first touches the slice it will stream, so pages sit where it runs.
  timeOnThreads(threads, [&](int t) {
    auto [begin, end] = slice(t);
    for (size_t i = begin; i < end; ++i) {
      a[i] = 0.0f;
      b[i] = 1.0f;
      c[i] = 2.0f;
    }
  });
  double best = 1e30;
  const float s = 3.0f;
  for (int r = 0; r < repeats; ++r) {
    best = std::min(best, timeOnThreads(threads, [&](int t) {
                      auto [begin, end] = slice(t);
                      float* __restrict pa = a.get();
                      const float* __restrict pb = b.get();
                      const float* __restrict pc = c.get();
                      for (size_t i = begin; i < end; ++i) pa[i] = pb[i] + s * pc[i];
                    }));
  }
  // The results are read, so that the stores cannot be dropped.
  volatile float sink = a[elements / 2];
  (void)sink;
  return 12.0 * static_cast<double>(elements) / best * 1e-9;
}

double measureFmaGflops(int threads, double seconds) {
  const FmaKernel kernel = fmaKernel();
  const double flops_per_round = 2.0 * kChains * kernel.lanes;
  // A short run sizes the measured ones.
  int64_t rounds = 1 << 16;
  double t = timeOnThreads(1, [&](int) {
    volatile float v = kernel.run(rounds);
    (void)v;
  });
  rounds = std::max<int64_t>(rounds, static_cast<int64_t>(rounds * seconds / std::max(t, 1e-6)));
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    best = std::min(best, timeOnThreads(threads, [&](int) {
                      volatile float v = kernel.run(rounds);
                      (void)v;
                    }));
  }
  return flops_per_round * static_cast<double>(rounds) * threads / best * 1e-9;
}

std::string limitsCachePath() {
  std::string base = environment("XDG_CACHE_HOME");
  if (base.empty()) {
    std::string home = environment("HOME");
    if (home.empty()) return "";
    base = home + "/.cache";
  }
  return base + "/kiln/machine-limits.tsv";
}

std::vector<CachedLimits> parseLimitsCache(const std::string& text) {
  std::vector<CachedLimits> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    CachedLimits e;
    if (f.size() != 5 || f[0].empty() || !absl::SimpleAtoi(f[1], &e.threads) || e.threads < 1 ||
        !absl::SimpleAtod(f[3], &e.gbytes_per_s) || !absl::SimpleAtod(f[4], &e.gflops) ||
        !(e.gbytes_per_s > 0) || !(e.gflops > 0)) {
      continue;
    }
    e.cpu = f[0];
    e.isa = f[2];
    out.push_back(e);
  }
  return out;
}

std::string formatLimitsCache(const std::vector<CachedLimits>& entries) {
  std::string out =
      "# kiln-bench's measured machine limits: cpu, threads, isa, triad GB/s, FMA GFLOP/s "
      "(delete this file, or run kiln-bench --remeasure, to measure again)\n";
  for (const CachedLimits& e : entries) {
    absl::StrAppendFormat(&out, "%s\t%d\t%s\t%.3f\t%.3f\n", e.cpu, e.threads, e.isa, e.gbytes_per_s,
                          e.gflops);
  }
  return out;
}

MachineLimits machineLimits(int threads, bool remeasure,
                            const std::function<void(const std::string&)>& progress) {
  MachineLimits m;
  m.figures.cpu = cpuModel();
  m.figures.threads = threads;
  m.figures.isa = fmaIsa();
  m.cache_path = limitsCachePath();
  std::vector<CachedLimits> entries;
  if (!m.cache_path.empty()) {
    std::ifstream f(m.cache_path);
    std::stringstream ss;
    ss << f.rdbuf();
    entries = parseLimitsCache(ss.str());
  }
  auto same_key = [&](const CachedLimits& e) {
    return e.cpu == m.figures.cpu && e.threads == threads && e.isa == m.figures.isa;
  };
  auto it = std::find_if(entries.begin(), entries.end(), same_key);
  if (it != entries.end() && !remeasure) {
    m.figures = *it;
    m.from_cache = true;
    return m;
  }
  // 3 x 64 MiB: far beyond the last-level cache of the machines kiln runs on.
  progress(absl::StrCat("measuring memory bandwidth (triad, ", threads, " threads)"));
  m.figures.gbytes_per_s = measureTriadGBps(threads, size_t{1} << 24, 7);
  progress(absl::StrCat("measuring FMA peak (", m.figures.isa, ", ", threads, " threads)"));
  m.figures.gflops = measureFmaGflops(threads, 0.15);
  entries.erase(std::remove_if(entries.begin(), entries.end(), same_key), entries.end());
  entries.push_back(m.figures);
  if (m.cache_path.empty()) {
    m.cache_error = "neither XDG_CACHE_HOME nor HOME is set";
    return m;
  }
  // Written whole to a temporary file and renamed, so that a reader never sees half a file.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(m.cache_path).parent_path(), ec);
  const std::string tmp = absl::StrCat(m.cache_path, ".", getpid(), ".tmp");
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << formatLimitsCache(entries);
    if (!f.flush()) m.cache_error = absl::StrCat("cannot write ", tmp);
  }
  if (m.cache_error.empty()) {
    std::filesystem::rename(tmp, m.cache_path, ec);
    if (ec) m.cache_error = absl::StrCat("cannot write ", m.cache_path, ": ", ec.message());
  }
  if (!m.cache_error.empty()) std::filesystem::remove(tmp, ec);
  return m;
}

}  // namespace kiln::bench_tool
