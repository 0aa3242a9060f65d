// Row reductions with their consumers, on an 8192 x 1024 float32 matrix, at 1 and 2 threads:
//   BM_Softmax/composed_{lazy,eager}  exp(x - x.amax(1, true)) / sum(...) written as 5 ops
//   BM_Softmax/softmax_{lazy,eager}   kiln::softmax(x, 1)
//   BM_Softmax/handwritten            one fused C++ pass per row (bench/handwritten_fast_math.cpp)
//   BM_LayerNormGelu/{lazy,eager}     layer normalisation (weight, bias, eps 1e-5) then the tanh
//                                     GELU, written as 16 ops
//   BM_LayerNormGelu/handwritten      the same fused by hand
// bytes/s counts the matrix read once and written once: the least any implementation moves.
#include "rows.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "handwritten.h"
#include "tools/kiln-bench/workloads.h"

namespace kiln_bench {
namespace {

constexpr int64_t kRows = 8192, kCols = 1024;
constexpr int64_t kRowBytes = kRows * kCols * int64_t{sizeof(float)} * 2;

struct RowInputs {
  kiln::Tensor x, w, b;
  std::vector<float> softmax, layernorm_gelu;  // the hand-written results (1 thread)
};

const RowInputs& rowInputs() {
  static const RowInputs* in = [] {
    kiln::EagerGuard lazy(false);
    kiln::manual_seed(1);
    auto* p = new RowInputs;
    p->x = kiln::randn({kRows, kCols}) * 2.0;
    p->w = kiln::rand({kCols}) + 0.5;
    p->b = kiln::randn({kCols}) * 0.1;
    kiln::eval({p->x, p->w, p->b});
    p->softmax.resize(kRows * kCols);
    p->layernorm_gelu.resize(kRows * kCols);
    softmax_rows(p->x.data_ptr<float>(), p->softmax.data(), kRows, kCols, 1);
    layernorm_gelu_rows(p->x.data_ptr<float>(), p->w.data_ptr<float>(), p->b.data_ptr<float>(),
                        p->layernorm_gelu.data(), kRows, kCols, 1);
    return p;
  }();
  return *in;
}

enum class Workload { ComposedSoftmax, Softmax, LayerNormGelu };

kiln::Tensor run(Workload w, const RowInputs& in) {
  switch (w) {
    case Workload::ComposedSoftmax:
      return kiln::workloads::composedSoftmax(in.x);
    case Workload::Softmax:
      return kiln::softmax(in.x, 1);
    case Workload::LayerNormGelu:
      return kiln::workloads::layerNormGelu(in.x, in.w, in.b);
  }
  return in.x;
}

void setCounters(benchmark::State& state, const kiln::Stats& before) {
  state.SetBytesProcessed(state.iterations() * kRowBytes);
  kiln::Stats after = kiln::stats();
  state.counters["kernels"] =
      benchmark::Counter(static_cast<double>(after.kernels_run - before.kernels_run),
                         benchmark::Counter::kAvgIterations);
}

void engineRow(benchmark::State& state, Workload w, bool eager) {
  const RowInputs& in = rowInputs();
  ThreadsGuard threads(state);
  kiln::EagerGuard mode(eager);
  const std::vector<float>& reference =
      w == Workload::LayerNormGelu ? in.layernorm_gelu : in.softmax;
  {
    kiln::Tensor r = run(w, in);  // compiles, before timing
    r.eval();
    double err = maxAbsError(r, reference);
    state.counters["max_abs_err"] = err;
    if (!(err <= 1e-4)) state.SkipWithError("result differs from the hand-written loop");
  }
  kiln::Stats before = kiln::stats();
  for (auto _ : state) {
    kiln::Tensor r = run(w, in);
    r.eval();
    benchmark::DoNotOptimize(r.data_ptr());
  }
  setCounters(state, before);
}

void handwrittenRow(benchmark::State& state, Workload w) {
  const RowInputs& in = rowInputs();
  const int threads = static_cast<int>(state.range(0));
  std::vector<float> out(kRows * kCols);
  kiln::Stats before = kiln::stats();
  for (auto _ : state) {
    if (w == Workload::LayerNormGelu) {
      layernorm_gelu_rows(in.x.data_ptr<float>(), in.w.data_ptr<float>(), in.b.data_ptr<float>(),
                          out.data(), kRows, kCols, threads);
    } else {
      softmax_rows(in.x.data_ptr<float>(), out.data(), kRows, kCols, threads);
    }
    benchmark::ClobberMemory();
  }
  setCounters(state, before);
}

}  // namespace

double maxAbsError(const kiln::Tensor& t, const std::vector<float>& reference) {
  const float* p = t.data_ptr<float>();
  double err = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    err = std::max(err, static_cast<double>(std::fabs(p[i] - reference[i])));
  }
  return err;
}

benchmark::internal::Benchmark* threadRows(benchmark::internal::Benchmark* b) {
  return b->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();
}

void registerRowBenchmarks() {
  using benchmark::RegisterBenchmark;
  struct Row {
    const char* name;
    Workload w;
    bool eager;
  };
  const Row rows[] = {{"BM_Softmax/composed_lazy", Workload::ComposedSoftmax, false},
                      {"BM_Softmax/composed_eager", Workload::ComposedSoftmax, true},
                      {"BM_Softmax/softmax_lazy", Workload::Softmax, false},
                      {"BM_Softmax/softmax_eager", Workload::Softmax, true},
                      {"BM_LayerNormGelu/lazy", Workload::LayerNormGelu, false},
                      {"BM_LayerNormGelu/eager", Workload::LayerNormGelu, true}};
  for (const Row& r : rows) {
    threadRows(RegisterBenchmark(r.name, [r](benchmark::State& s) {
                 engineRow(s, r.w, r.eager);
               })->Unit(benchmark::kMillisecond));
  }
  threadRows(RegisterBenchmark("BM_Softmax/handwritten", [](benchmark::State& s) {
               handwrittenRow(s, Workload::ComposedSoftmax);
             })->Unit(benchmark::kMillisecond));
  threadRows(RegisterBenchmark("BM_LayerNormGelu/handwritten", [](benchmark::State& s) {
               handwrittenRow(s, Workload::LayerNormGelu);
             })->Unit(benchmark::kMillisecond));
}

}  // namespace kiln_bench
