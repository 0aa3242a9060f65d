// kiln's benchmarks: every engine row runs lazily (graph fused and compiled) and eagerly (one
// kernel per op, kiln::EagerGuard) in the same run, beside hand-written C++ baselines.
//
//   BM_Chain/*       tanh((x + y) * 0.5) + exp(-(x * x)) * 0.25 on 2^24 float32 (x, y already
//                    computed). bytes/s counts the 3 arrays moved (x, y, result: 2^24*4*3 bytes).
//                    handwritten: the same loop in C++ (-O3 -march=native, libm's tanhf/expf);
//                    handwritten_fast_math: the same with -ffast-math (glibc's vector libmvec);
//                    triad: a[i] = b[i] + s*c[i] on the same bytes, the memory-bandwidth bound.
//   BM_Compile/*     the chain on about 4096 elements: cold (kiln::clear_kernel_cache() first,
//                    and a new size, so every kernel is compiled; compile_ms from kiln::stats()
//                    is the compile part of the time) and hit (everything cached).
//   BM_SmallLoop/*   z = x * 0.5 + y; s = z.sum().item<float>() on [5, 3] tensors: per-op overhead.
//                    allocs: C++ heap allocations (operator new) per iteration.
//   BM_Windows/cold/*  64 rows of a [64, 4096] float32 matrix, big.select(0, i).mul(2).sum()
//                    read with item() in turn, the kernel cache cleared before each loop: the
//                    compiles that a loop over windows costs (compiled: kernels per loop).
//   BM_ParamUpdates/N  N parameters of 4 float32 each updated in place, p.add_(g, -lr), then
//                    materialised together (kiln::eval), as an optimizer step does: the cost of
//                    a materialisation that writes many storages (linear in N).
//   BM_Cat/*         kiln::cat of 10,000 materialised float32 tensors of 64 elements (2.5 MB):
//                    the writes of the parts run as steps over tables of parts (kernels: launches
//                    per cat). handwritten: one memcpy per part into a new buffer.
//   BM_Embedding/*   the gradient of sum(embedding(table, ids)^2) for a [50000, 128] float32
//                    table and 4096 ids (bench/rows.h): a gather forward, a scatter_add into
//                    the zeroed table-sized gradient backward. handwritten: memset, then one
//                    loop over the ids; libtorch: torch::embedding and autograd::grad.
//   BM_UnaryMath/FN/*  one function (exp log tanh sigmoid sin cos pow) on 2^16 float32 that stay
//                    in cache: kiln (lazy, one kernel: the vector-math polynomials of
//                    codegen/llvm/vector_math) against libm (the hand-written scalar loop).
//                    max_rel_err: the largest relative difference from libm, checked before
//                    timing.
//   BM_Softmax/*, BM_LayerNormGelu/*  row reductions with their consumers (bench/rows.cpp).
//   BM_Mm/*          square float32 matrix products, kiln's mm beside OpenBLAS's cblas_sgemm
//                    (bench/matmul_rows.cpp).
//   */libtorch       Debian's libtorch 1.13 on the same workload, eager, with its own kernels
//                    (bench/libtorch_rows.cpp; only when CMake found Torch).
// Rows whose name ends in /threads:N run with kiln::set_num_threads(N) (the hand-written loops
// with N OpenMP threads) and report wall time; the others run on one thread and report CPU time,
// which other work on a shared machine disturbs less.
//   BM_Reduce/*      long reductions of uniform [0,1) float32 (inputs already computed): sum of
//                    2^24 elements (full), of [16, 2^20] over dim 1 (rows) and of [2^20, 16] over
//                    dim 0 (columns), lazy (eager runs the same single op). The full and row sums
//                    run in blocks (lib/sched: 2 kernels), the column sum whole. bytes/s counts
//                    the input read once. rel_err: the largest relative difference from a
//                    double-precision sum of the same floats.
// Counters: kernels = kernels run per iteration; compiled = kernels compiled per iteration;
// max_abs_err = largest difference from the hand-written loop (libm), checked before timing.
// Interleaved figures: --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true.
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "handwritten.h"
#include "rows.h"
#include "tools/kiln-bench/workloads.h"

namespace {
// Heap allocations made on this thread, counted by the replaced operator new below.
thread_local int64_t allocations = 0;
}  // namespace

// Not inlined: GCC 12 otherwise sees malloc's memory reach operator delete (or free reach
// operator new's) in callers it inlines, and warns (-Wmismatched-new-delete) about this pair.
[[gnu::noinline]] void* operator new(std::size_t bytes) {
  ++allocations;
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

constexpr int64_t kChainElements = int64_t{1} << 24;
constexpr int64_t kChainBytes = kChainElements * int64_t{sizeof(float)} * 3;
constexpr int64_t kCompileElements = 4096;

using kiln::workloads::chain;

// Inputs shared by every BM_Chain row: computed once, in lazy mode.
struct ChainInputs {
  kiln::Tensor x, y;
  std::vector<float> reference;  // the hand-written (libm) result
};
const ChainInputs& chainInputs() {
  static const ChainInputs* in = [] {
    kiln::EagerGuard lazy(false);
    kiln::manual_seed(0);
    auto* p = new ChainInputs;
    p->x = kiln::randn({kChainElements});
    p->y = kiln::randn({kChainElements});
    kiln::eval({p->x, p->y});
    p->reference.resize(kChainElements);
    kiln_bench::chain(p->x.data_ptr<float>(), p->y.data_ptr<float>(), p->reference.data(),
                      kChainElements);
    return p;
  }();
  return *in;
}

void setChainCounters(benchmark::State& state) {
  state.SetBytesProcessed(state.iterations() * kChainBytes);
  state.SetItemsProcessed(state.iterations() * kChainElements);
}

void setKernelCounters(benchmark::State& state, const kiln::Stats& before) {
  kiln::Stats after = kiln::stats();
  state.counters["kernels"] =
      benchmark::Counter(static_cast<double>(after.kernels_run - before.kernels_run),
                         benchmark::Counter::kAvgIterations);
  state.counters["compiled"] =
      benchmark::Counter(static_cast<double>(after.kernels_compiled - before.kernels_compiled),
                         benchmark::Counter::kAvgIterations);
}

void chainEngine(benchmark::State& state, bool eager) {
  const ChainInputs& in = chainInputs();
  kiln_bench::ThreadsGuard threads(state);
  kiln::EagerGuard mode(eager);
  {
    // Compiles the kernels (not timed) and checks the value.
    kiln::Tensor r = chain(in.x, in.y);
    r.eval();
    double err = kiln_bench::maxAbsError(r, in.reference);
    state.counters["max_abs_err"] = err;
    if (!(err <= 1e-5)) state.SkipWithError("result differs from the hand-written loop");
  }
  kiln::Stats before = kiln::stats();
  for (auto _ : state) {
    kiln::Tensor r = chain(in.x, in.y);
    r.eval();
    benchmark::DoNotOptimize(r.data_ptr());
  }
  setChainCounters(state);
  setKernelCounters(state, before);
}

void chainHandwritten(benchmark::State& state, bool fast_math) {
  const ChainInputs& in = chainInputs();
  const int threads = static_cast<int>(state.range(0));
  const float* x = in.x.data_ptr<float>();
  const float* y = in.y.data_ptr<float>();
  std::vector<float> out(kChainElements);  // touched: no page faults in the timed loop
  auto run = fast_math ? kiln_bench::chain_fast_math : kiln_bench::chain;
  run(x, y, out.data(), kChainElements, threads);
  double err = 0;
  for (int64_t i = 0; i < kChainElements; ++i) {
    err = std::max(err, static_cast<double>(std::fabs(out[i] - in.reference[i])));
  }
  state.counters["max_abs_err"] = err;
  for (auto _ : state) {
    run(x, y, out.data(), kChainElements, threads);
    benchmark::ClobberMemory();
  }
  setChainCounters(state);
}

void chainTriad(benchmark::State& state) {
  const ChainInputs& in = chainInputs();
  std::vector<float> out(kChainElements);
  for (auto _ : state) {
    kiln_bench::triad(out.data(), in.x.data_ptr<float>(), in.y.data_ptr<float>(), 0.25f,
                      kChainElements, static_cast<int>(state.range(0)));
    benchmark::ClobberMemory();
  }
  setChainCounters(state);
}

// Inputs of the compile rows: wrapped C++ arrays (kiln::from_blob), so making them compiles
// nothing.
std::pair<kiln::Tensor, kiln::Tensor> compileInputs(int64_t n) {
  static std::vector<float> data = [] {
    std::vector<float> d(2 * kCompileElements + 100000);
    for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<float>(i % 97) / 97.0f - 0.5f;
    return d;
  }();
  if (2 * n > static_cast<int64_t>(data.size())) n = kCompileElements;
  return {kiln::from_blob(data.data(), {n}), kiln::from_blob(data.data() + n, {n})};
}

void compile(benchmark::State& state, bool eager, bool cold) {
  // Cold: every iteration drops the compiled kernels (kiln::clear_kernel_cache()) and also takes
  // a size never seen before (4096 + k elements), so that neither the kernel cache nor the
  // engine's plan cache (keyed by graph structure) can serve it: every kernel is compiled.
  static int64_t fresh = 0;
  kiln_bench::ThreadsGuard one_thread(1);
  auto [x, y] = compileInputs(kCompileElements);
  kiln::EagerGuard mode(eager);
  if (!cold) chain(x, y).eval();  // compiled once, before timing
  kiln::Stats before = kiln::stats();
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      kiln::clear_kernel_cache();
      std::tie(x, y) = compileInputs(kCompileElements + ++fresh);
      state.ResumeTiming();
    }
    kiln::Tensor r = chain(x, y);
    r.eval();
    benchmark::DoNotOptimize(r.data_ptr());
  }
  state.counters["compile_ms"] = benchmark::Counter(kiln::stats().compile_ms - before.compile_ms,
                                                    benchmark::Counter::kAvgIterations);
  setKernelCounters(state, before);
}

void smallLoop(benchmark::State& state, bool eager) {
  kiln_bench::ThreadsGuard one_thread(1);
  kiln::Tensor x, y;
  {
    kiln::EagerGuard lazy(false);
    x = kiln::randn({5, 3});
    y = kiln::randn({5, 3});
    kiln::eval({x, y});
  }
  kiln::EagerGuard mode(eager);
  float expected = kiln::workloads::smallLoopStep(x, y);  // compiles, before timing
  kiln::Stats before = kiln::stats();
  const int64_t allocations_before = allocations;
  for (auto _ : state) {
    float s = kiln::workloads::smallLoopStep(x, y);
    benchmark::DoNotOptimize(s);
    if (s != expected) {
      state.SkipWithError("the sum changed between iterations");
      break;
    }
  }
  state.counters["allocs"] = benchmark::Counter(
      static_cast<double>(allocations - allocations_before), benchmark::Counter::kAvgIterations);
  setKernelCounters(state, before);
}

void windows(benchmark::State& state, bool eager) {
  // A fresh process's loop over the rows of a matrix: every iteration starts with empty caches,
  // so the compiles that the windows' offsets cause are in the time.
  kiln_bench::ThreadsGuard one_thread(1);
  constexpr int64_t kRows = 64, kCols = 4096;
  kiln::Tensor big;
  {
    kiln::EagerGuard lazy(false);
    big = kiln::rand({kRows, kCols});
    big.eval();
  }
  std::vector<double> want(kRows);
  {
    const float* p = big.data_ptr<float>();
    for (int64_t i = 0; i < kRows; ++i) {
      float s = 0;
      for (int64_t j = 0; j < kCols; ++j) s += 2 * p[i * kCols + j];
      want[i] = s;
    }
  }
  kiln::EagerGuard mode(eager);
  kiln::Stats before = kiln::stats();
  for (auto _ : state) {
    state.PauseTiming();
    kiln::clear_kernel_cache();
    state.ResumeTiming();
    for (int64_t i = 0; i < kRows; ++i) {
      float s = big.select(0, i).mul(2).sum().item<float>();
      if (std::fabs(s - want[i]) > 1e-3 * std::fabs(want[i])) {
        state.SkipWithError("a row's sum is wrong");
        return;
      }
    }
  }
  state.counters["compile_ms"] = benchmark::Counter(kiln::stats().compile_ms - before.compile_ms,
                                                    benchmark::Counter::kAvgIterations);
  setKernelCounters(state, before);
}

void windowsLazy(benchmark::State& state) {
  windows(state, false);
}
void windowsEager(benchmark::State& state) {
  windows(state, true);
}

void paramUpdates(benchmark::State& state) {
  const int64_t n = state.range(0);
  kiln::EagerGuard lazy(false);
  std::vector<kiln::Tensor> params, grads;
  for (int64_t i = 0; i < n; ++i) {
    params.push_back(kiln::full({4}, 1.0));
    grads.push_back(kiln::full({4}, 0.5));
  }
  kiln::eval(params);
  kiln::eval(grads);
  auto step = [&] {
    for (int64_t i = 0; i < n; ++i) params[i].add_(grads[i], -0.01);
    kiln::eval(params);
  };
  step();  // compiles, before timing
  kiln::Stats before = kiln::stats();
  int64_t steps = 1;
  for (auto _ : state) {
    step();
    ++steps;
  }
  // Every parameter went down by 0.005 per step; each step rounds to float, by at most half a
  // unit in the last place of values up to |want|.
  const double want = 1.0 - 0.005 * static_cast<double>(steps);
  const double rounding = static_cast<double>(steps) * std::max(1.0, std::fabs(want)) * 0x1p-24;
  if (std::fabs(params[0].data_ptr<float>()[0] - want) > 1e-4 + rounding) {
    state.SkipWithError("wrong parameter values");
  }
  setKernelCounters(state, before);
}

// The parts of BM_Cat: kCatParts materialised float32 tensors of kCatWidth elements, part i
// holding i * kCatWidth + j at j; their concatenation is then 0, 1, 2, ... .
constexpr int64_t kCatParts = 10000, kCatWidth = 64;

const std::vector<kiln::Tensor>& catParts() {
  static const std::vector<kiln::Tensor>* parts = [] {
    kiln::EagerGuard lazy(false);
    auto* p = new std::vector<kiln::Tensor>;
    kiln::Tensor row = kiln::arange(kCatWidth, kiln::kFloat);
    for (int64_t i = 0; i < kCatParts; ++i) p->push_back(row + static_cast<double>(i * kCatWidth));
    kiln::eval(*p);
    return p;
  }();
  return *parts;
}

void setCatCounters(benchmark::State& state) {
  state.SetBytesProcessed(state.iterations() * kCatParts * kCatWidth * int64_t{sizeof(float)} * 2);
}

void catEngine(benchmark::State& state, bool eager) {
  const std::vector<kiln::Tensor>& parts = catParts();
  kiln_bench::ThreadsGuard threads(state);
  kiln::EagerGuard mode(eager);
  {
    kiln::Tensor r = kiln::cat(parts);
    const float* p = r.data_ptr<float>();
    for (int64_t i = 0; i < kCatParts * kCatWidth; ++i) {
      if (p[i] != static_cast<float>(i)) {
        state.SkipWithError("wrong concatenation");
        return;
      }
    }
  }
  kiln::Stats before = kiln::stats();
  for (auto _ : state) {
    kiln::Tensor r = kiln::cat(parts);
    r.eval();
    benchmark::DoNotOptimize(r.data_ptr());
  }
  setCatCounters(state);
  setKernelCounters(state, before);
}

// The same concatenation by hand: one memcpy per part into a new buffer.
void catHandwritten(benchmark::State& state) {
  const std::vector<kiln::Tensor>& parts = catParts();
  std::vector<const float*> from;
  for (const kiln::Tensor& t : parts) from.push_back(t.data_ptr<float>());
  for (auto _ : state) {
    std::vector<float> out(static_cast<size_t>(kCatParts * kCatWidth));
    for (int64_t i = 0; i < kCatParts; ++i)
      std::memcpy(out.data() + i * kCatWidth, from[i], kCatWidth * sizeof(float));
    benchmark::DoNotOptimize(out.data());
  }
  setCatCounters(state);
}

// ---- BM_Embedding: a lookup's forward and backward (a gather, then a scatter_add) ----

struct EmbeddingInputs {
  kiln::Tensor table, ids;
};

const EmbeddingInputs& embeddingInputs() {
  static const EmbeddingInputs* in = [] {
    kiln::EagerGuard lazy(false);
    auto* p = new EmbeddingInputs;
    std::vector<float> w(
        static_cast<size_t>(kiln_bench::kEmbeddingRows * kiln_bench::kEmbeddingDim));
    for (int64_t r = 0; r < kiln_bench::kEmbeddingRows; ++r)
      for (int64_t c = 0; c < kiln_bench::kEmbeddingDim; ++c)
        w[r * kiln_bench::kEmbeddingDim + c] = kiln_bench::embeddingWeight(r, c);
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < kiln_bench::kEmbeddingIds; ++i)
      ids.push_back(kiln_bench::embeddingId(i));
    p->table =
        kiln::from_blob(w.data(), {kiln_bench::kEmbeddingRows, kiln_bench::kEmbeddingDim}).clone();
    p->ids = kiln::tensor(ids);
    kiln::eval({p->table, p->ids});
    return p;
  }();
  return *in;
}

void setEmbeddingCounters(benchmark::State& state) {
  // The gradient written (the whole table) and the rows read twice.
  state.SetBytesProcessed(state.iterations() * int64_t{sizeof(float)} *
                          (kiln_bench::kEmbeddingRows + 2 * kiln_bench::kEmbeddingIds) *
                          kiln_bench::kEmbeddingDim);
}

void embeddingEngine(benchmark::State& state, bool eager) {
  const EmbeddingInputs& in = embeddingInputs();
  kiln_bench::ThreadsGuard threads(state);
  kiln::EagerGuard mode(eager);
  kiln::Tensor table = in.table.detach().requires_grad_();
  auto step = [&] {
    kiln::Tensor rows = kiln::embedding(table, in.ids);
    kiln::Tensor g = kiln::autograd::grad({(rows * rows).sum()}, {table})[0];
    g.eval();
    return g;
  };
  const double err = kiln_bench::maxAbsError(step(), kiln_bench::embeddingGradient());
  state.counters["max_abs_err"] = err;
  if (!(err <= 1e-4)) {
    state.SkipWithError("gradient differs from the hand-written loop");
    return;
  }
  kiln::Stats before = kiln::stats();
  for (auto _ : state) benchmark::DoNotOptimize(step().data_ptr());
  setEmbeddingCounters(state);
  kiln::Stats after = kiln::stats();
  state.counters["kernels"] = static_cast<double>(after.kernels_run - before.kernels_run) /
                              static_cast<double>(state.iterations());
}

void embeddingHandwritten(benchmark::State& state) {
  const EmbeddingInputs& in = embeddingInputs();
  const float* w = in.table.data_ptr<float>();
  const int64_t* ids = in.ids.data_ptr<int64_t>();
  constexpr int64_t d = kiln_bench::kEmbeddingDim;
  std::vector<float> grad(static_cast<size_t>(kiln_bench::kEmbeddingRows * d));
  for (auto _ : state) {
    std::memset(grad.data(), 0, grad.size() * sizeof(float));
    float loss = 0;
    for (int64_t i = 0; i < kiln_bench::kEmbeddingIds; ++i) {
      const float* row = w + ids[i] * d;
      float* out = grad.data() + ids[i] * d;
      for (int64_t c = 0; c < d; ++c) {
        loss += row[c] * row[c];
        out[c] += 2 * row[c];
      }
    }
    benchmark::DoNotOptimize(loss);
    benchmark::DoNotOptimize(grad.data());
  }
  setEmbeddingCounters(state);
}

}  // namespace

const std::vector<float>& kiln_bench::embeddingGradient() {
  static const std::vector<float>* grad = [] {
    auto* g = new std::vector<float>(static_cast<size_t>(kEmbeddingRows * kEmbeddingDim));
    for (int64_t i = 0; i < kEmbeddingIds; ++i) {
      const int64_t r = embeddingId(i);
      for (int64_t c = 0; c < kEmbeddingDim; ++c)
        (*g)[r * kEmbeddingDim + c] += 2 * embeddingWeight(r, c);
    }
    return g;
  }();
  return *grad;
}

namespace {

constexpr int64_t kUnaryElements = int64_t{1} << 16;

struct UnaryCase {
  const char* name;
  kiln_bench::UnaryFn fn;
  float lo, hi;  // the inputs' range
};
constexpr UnaryCase kUnaryCases[] = {{"exp", kiln_bench::UnaryFn::Exp, -10, 10},
                                     {"log", kiln_bench::UnaryFn::Log, 0.1f, 100},
                                     {"tanh", kiln_bench::UnaryFn::Tanh, -10, 10},
                                     {"sigmoid", kiln_bench::UnaryFn::Sigmoid, -10, 10},
                                     {"sin", kiln_bench::UnaryFn::Sin, -10, 10},
                                     {"cos", kiln_bench::UnaryFn::Cos, -10, 10},
                                     {"pow", kiln_bench::UnaryFn::Pow, 0.1f, 10}};

kiln::Tensor unaryKiln(const UnaryCase& c, const kiln::Tensor& x, const kiln::Tensor& y) {
  switch (c.fn) {
    case kiln_bench::UnaryFn::Exp:
      return kiln::exp(x);
    case kiln_bench::UnaryFn::Log:
      return kiln::log(x);
    case kiln_bench::UnaryFn::Tanh:
      return kiln::tanh(x);
    case kiln_bench::UnaryFn::Sigmoid:
      return kiln::sigmoid(x);
    case kiln_bench::UnaryFn::Sin:
      return kiln::sin(x);
    case kiln_bench::UnaryFn::Cos:
      return kiln::cos(x);
    case kiln_bench::UnaryFn::Pow:
      return kiln::pow(x, y);
  }
  return x;
}

void unaryMath(benchmark::State& state, const UnaryCase& c, bool libm) {
  kiln_bench::ThreadsGuard one_thread(1);
  kiln::EagerGuard lazy(false);
  kiln::Tensor x = kiln::linspace(c.lo, c.hi, kUnaryElements);
  kiln::Tensor y = kiln::linspace(-3, 3, kUnaryElements);
  kiln::eval({x, y});
  std::vector<float> reference(kUnaryElements), out(kUnaryElements);
  kiln_bench::unary(c.fn, x.data_ptr<float>(), y.data_ptr<float>(), reference.data(),
                    kUnaryElements);
  kiln::Tensor first = unaryKiln(c, x, y);  // compiles, before timing
  double err = 0;
  for (int64_t i = 0; i < kUnaryElements; ++i) {
    double r = reference[i], v = first.data_ptr<float>()[i];
    err = std::max(err, std::fabs(v - r) / std::max(std::fabs(r), 1e-30));
  }
  for (auto _ : state) {
    if (libm) {
      kiln_bench::unary(c.fn, x.data_ptr<float>(), y.data_ptr<float>(), out.data(), kUnaryElements);
      benchmark::DoNotOptimize(out.data());
    } else {
      kiln::Tensor r = unaryKiln(c, x, y);
      benchmark::DoNotOptimize(r.data_ptr<float>());
    }
  }
  state.SetItemsProcessed(state.iterations() * kUnaryElements);
  state.counters["max_rel_err"] = err;
}

constexpr int64_t kReduceElements = int64_t{1} << 24;

struct ReduceCase {
  const char* name;
  std::vector<int64_t> shape;
  int64_t dim;  // -1: every dim
};
const ReduceCase kReduceCases[] = {{"full_2^24", {kReduceElements}, -1},
                                   {"rows_16x2^20", {16, kReduceElements / 16}, 1},
                                   {"cols_2^20x16", {kReduceElements / 16, 16}, 0}};

kiln::Tensor reduceInput() {
  static const kiln::Tensor* x = [] {
    kiln::EagerGuard lazy(false);
    kiln::manual_seed(1);
    auto* t = new kiln::Tensor(kiln::rand({kReduceElements}));
    t->eval();
    return t;
  }();
  return *x;
}

kiln::Tensor reduceKiln(const ReduceCase& c, const kiln::Tensor& x) {
  return c.dim < 0 ? x.sum() : x.sum({c.dim});
}

void reduceEngine(benchmark::State& state, const ReduceCase& c) {
  kiln::EagerGuard lazy(false);
  kiln::Tensor x = reduceInput().view(c.shape);
  {
    // Compiles (not timed) and checks against sums in double of the same floats.
    kiln::Tensor r = reduceKiln(c, x).contiguous();
    const float* in = x.data_ptr<float>();
    const float* got = r.data_ptr<float>();
    const int64_t outputs = r.numel();
    const int64_t terms = kReduceElements / outputs;
    const int64_t stride = c.dim == 0 ? outputs : 1;  // between terms of one output
    const int64_t step = c.dim == 0 ? 1 : terms;      // between outputs
    double err = 0;
    for (int64_t o = 0; o < outputs; ++o) {
      double want = 0;
      for (int64_t k = 0; k < terms; ++k) want += in[o * step + k * stride];
      err = std::max(err, std::fabs(got[o] - want) / want);
    }
    state.counters["rel_err"] = err;
  }
  kiln::Stats before = kiln::stats();
  for (auto _ : state) {
    kiln::Tensor r = reduceKiln(c, x);
    r.eval();
    benchmark::DoNotOptimize(r.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * kReduceElements * int64_t{sizeof(float)});
  setKernelCounters(state, before);
}

void registerAll() {
  using benchmark::RegisterBenchmark;
  for (bool eager : {false, true}) {
    std::string mode = eager ? "eager" : "lazy";
    kiln_bench::threadRows(
        RegisterBenchmark(("BM_Chain/" + mode).c_str(), [eager](benchmark::State& s) {
          chainEngine(s, eager);
        })->Unit(benchmark::kMillisecond));
  }
  kiln_bench::threadRows(RegisterBenchmark("BM_Chain/handwritten", [](benchmark::State& s) {
                           chainHandwritten(s, false);
                         })->Unit(benchmark::kMillisecond));
  kiln_bench::threadRows(
      RegisterBenchmark("BM_Chain/handwritten_fast_math", [](benchmark::State& s) {
        chainHandwritten(s, true);
      })->Unit(benchmark::kMillisecond));
  kiln_bench::threadRows(
      RegisterBenchmark("BM_Chain/triad_bandwidth", chainTriad)->Unit(benchmark::kMillisecond));
  kiln_bench::registerRowBenchmarks();
  kiln_bench::registerMatmulBenchmarks();
#ifdef KILN_BENCH_LIBTORCH
  kiln_bench::registerLibtorchBenchmarks();
#endif
  for (bool cold : {true, false}) {
    for (bool eager : {false, true}) {
      std::string name =
          std::string("BM_Compile/") + (cold ? "cold/" : "hit/") + (eager ? "eager" : "lazy");
      RegisterBenchmark(name.c_str(), [eager, cold](benchmark::State& s) {
        compile(s, eager, cold);
      })->Unit(cold ? benchmark::kMillisecond : benchmark::kMicrosecond);
    }
  }
  for (const UnaryCase& c : kUnaryCases) {
    for (bool libm : {false, true}) {
      std::string name = std::string("BM_UnaryMath/") + c.name + (libm ? "/libm" : "/kiln");
      RegisterBenchmark(name.c_str(), [&c, libm](benchmark::State& s) {
        unaryMath(s, c, libm);
      })->Unit(benchmark::kMicrosecond);
    }
  }
  for (const ReduceCase& c : kReduceCases) {
    std::string name = std::string("BM_Reduce/") + c.name;
    RegisterBenchmark(name.c_str(), [&c](benchmark::State& s) {
      reduceEngine(s, c);
    })->Unit(benchmark::kMillisecond);
  }
  for (bool eager : {false, true}) {
    std::string name = std::string("BM_SmallLoop/") + (eager ? "eager" : "lazy");
    RegisterBenchmark(name.c_str(), [eager](benchmark::State& s) {
      smallLoop(s, eager);
    })->Unit(benchmark::kMicrosecond);
  }
  RegisterBenchmark("BM_Windows/cold/lazy", windowsLazy)->Unit(benchmark::kMillisecond);
  RegisterBenchmark("BM_Windows/cold/eager", windowsEager)->Unit(benchmark::kMillisecond);
  for (bool eager : {false, true}) {
    kiln_bench::threadRows(
        RegisterBenchmark((std::string("BM_Cat/") + (eager ? "eager" : "lazy")).c_str(),
                          [eager](benchmark::State& s) { catEngine(s, eager); })
            ->Unit(benchmark::kMillisecond));
  }
  RegisterBenchmark("BM_Cat/handwritten", catHandwritten)->Unit(benchmark::kMillisecond);
  for (bool eager : {false, true}) {
    kiln_bench::threadRows(
        RegisterBenchmark((std::string("BM_Embedding/") + (eager ? "eager" : "lazy")).c_str(),
                          [eager](benchmark::State& s) { embeddingEngine(s, eager); })
            ->Unit(benchmark::kMillisecond));
  }
  RegisterBenchmark("BM_Embedding/handwritten", embeddingHandwritten)
      ->Unit(benchmark::kMillisecond);
  RegisterBenchmark("BM_ParamUpdates", paramUpdates)
      ->Arg(100)
      ->Arg(800)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  registerAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
