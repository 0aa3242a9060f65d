// BM_Mm/*: square float32 matrix products C = A B of n = 256, 512, 1024, 2048 (A and B already
// computed), kiln's `mm` (lazy, one kernel, which calls OpenBLAS's sgemm when it could be
// loaded) beside OpenBLAS's cblas_sgemm called directly on the same matrices with as many
// threads (loaded with dlopen, as kiln does: the same library instance). Counter GFLOP/s: 2 n^3
// per product. The OpenBLAS row is left out where the library cannot be loaded.
#include <dlfcn.h>

#include <string>

#include "rows.h"

namespace kiln_bench {
namespace {

using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                       float, float*, int);

struct OpenBlas {
  Sgemm sgemm = nullptr;
  void (*set_threads)(int) = nullptr;
};

const OpenBlas& openBlas() {
  static const OpenBlas loaded = [] {
    OpenBlas b;
    void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return b;
    b.sgemm = reinterpret_cast<Sgemm>(dlsym(lib, "cblas_sgemm"));
    b.set_threads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads"));
    if (b.sgemm == nullptr || b.set_threads == nullptr) return OpenBlas{};
    return b;
  }();
  return loaded;
}

void setFlops(benchmark::State& state, int64_t n) {
  const double flops =
      2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void mmKiln(benchmark::State& state, int64_t n) {
  ThreadsGuard threads(state);
  kiln::Tensor a = kiln::rand({n, n}), b = kiln::rand({n, n});
  kiln::eval({a, b});
  a.mm(b).eval();  // compiles, before timing
  for (auto _ : state) {
    kiln::Tensor c = a.mm(b);
    c.eval();
    benchmark::DoNotOptimize(c.data_ptr());
  }
  setFlops(state, n);
}

void mmOpenBlas(benchmark::State& state, int64_t n) {
  const OpenBlas& blas = openBlas();
  blas.set_threads(static_cast<int>(state.range(0)));
  kiln::Tensor a = kiln::rand({n, n}), b = kiln::rand({n, n});
  kiln::eval({a, b});
  std::vector<float> c(static_cast<size_t>(n * n));
  const int k = static_cast<int>(n);
  for (auto _ : state) {
    blas.sgemm(101, 111, 111, k, k, k, 1.0f, a.data_ptr<float>(), k, b.data_ptr<float>(), k, 0.0f,
               c.data(), k);
    benchmark::DoNotOptimize(c.data());
  }
  setFlops(state, n);
}

}  // namespace

void registerMatmulBenchmarks() {
  for (int64_t n : {256, 512, 1024, 2048}) {
    const std::string size = std::to_string(n);
    threadRows(benchmark::RegisterBenchmark(("BM_Mm/kiln/" + size).c_str(), mmKiln, n)
                   ->Unit(benchmark::kMillisecond));
    if (openBlas().sgemm != nullptr) {
      threadRows(benchmark::RegisterBenchmark(("BM_Mm/openblas/" + size).c_str(), mmOpenBlas, n)
                     ->Unit(benchmark::kMillisecond));
    }
  }
}

}  // namespace kiln_bench
