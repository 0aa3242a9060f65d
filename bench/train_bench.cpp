// One training step of the 784-512-512-10 MLP (ReLU, cross-entropy, SGD with momentum 0.9) at
// batch 256, as examples/fashion_mnist.cpp runs it, lazily and eagerly in the same process.
//
//   BM_TrainStep/lazy           opt.step(closure): forward, backward, update and the loss are one
//                               materialisation, reusing the compiled kernels
//   BM_TrainStep/lazy_loop      libtorch's usual loop: zero_grad(); backward(); step(); then
//                               loss.item() (the loss is read after the update)
//   BM_TrainStep/eager          the closure form with kiln::EagerGuard (one kernel per op)
//   BM_TrainCompile/cold/lazy   the same step after kiln::clear_kernel_cache(): building,
//                               simplifying, scheduling and compiling the fused forward+backward
//                               +update the first time, then running it
//   BM_TrainCompile/cold/eager  the same in eager mode (every op's kernel compiled)
//   BM_TrainStep/libtorch       the closure form in libtorch 1.13 (Debian, eager), same weights
//                               and data, as many threads as kiln (bench/libtorch_train.cpp;
//                               only when CMake found Torch)
// Counters: kernels = kernels run per step; compiled = kernels compiled per step; compile_ms =
// JIT time per step (kiln::stats()). Before timing, every row checks that its first step gives
// the same loss as the first row's (lazy and eager compute the same thing).
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include <cmath>
#include <string>

#include "train_peers.h"

namespace kiln_bench {

// The first step's loss, the same for every row (same seed, same data).
bool checkFirstLoss(benchmark::State& state, float loss) {
  static float first = std::nanf("");
  if (std::isnan(first)) first = loss;
  if (std::fabs(loss - first) <= 1e-5f * std::fabs(first)) return true;
  state.SkipWithError("the first step's loss differs from the first row's");
  return false;
}

}  // namespace kiln_bench

namespace {

using kiln_bench::checkFirstLoss;
constexpr int64_t kBatch = 256;

// The training step of examples/fashion_mnist.cpp (tools/kiln-bench/workloads.h), from the same
// weights and data in every row.
struct Trainer : kiln::workloads::MlpTrainer {
  Trainer() : MlpTrainer(kBatch) {}
};

void setCounters(benchmark::State& state, const kiln::Stats& before) {
  kiln::Stats after = kiln::stats();
  auto per = [&](double v) { return benchmark::Counter(v, benchmark::Counter::kAvgIterations); };
  state.counters["kernels"] = per(static_cast<double>(after.kernels_run - before.kernels_run));
  state.counters["compiled"] =
      per(static_cast<double>(after.kernels_compiled - before.kernels_compiled));
  state.counters["compile_ms"] = per(after.compile_ms - before.compile_ms);
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void trainStep(benchmark::State& state, bool eager, bool loop) {
  Trainer t;
  kiln::EagerGuard mode(eager);
  // Compiles and creates the optimizer state, before timing.
  if (!checkFirstLoss(state, loop ? t.loopStep() : t.step())) return;
  kiln::Stats before = kiln::stats();
  for (auto _ : state) {
    float loss = loop ? t.loopStep() : t.step();
    benchmark::DoNotOptimize(loss);
  }
  setCounters(state, before);
}

void trainCompile(benchmark::State& state, bool eager) {
  Trainer t;
  kiln::EagerGuard mode(eager);
  // The optimizer state exists after this: every timed step has the same graph.
  if (!checkFirstLoss(state, t.step())) return;
  kiln::Stats before = kiln::stats();
  for (auto _ : state) {
    state.PauseTiming();
    kiln::clear_kernel_cache();
    state.ResumeTiming();
    float loss = t.step();
    benchmark::DoNotOptimize(loss);
  }
  setCounters(state, before);
}

void registerAll() {
  using benchmark::RegisterBenchmark;
  RegisterBenchmark("BM_TrainStep/lazy", [](benchmark::State& s) {
    trainStep(s, false, false);
  })->Unit(benchmark::kMillisecond);
  RegisterBenchmark("BM_TrainStep/lazy_loop", [](benchmark::State& s) {
    trainStep(s, false, true);
  })->Unit(benchmark::kMillisecond);
  RegisterBenchmark("BM_TrainStep/eager", [](benchmark::State& s) {
    trainStep(s, true, false);
  })->Unit(benchmark::kMillisecond);
#ifdef KILN_BENCH_LIBTORCH
  RegisterBenchmark("BM_TrainStep/libtorch", [](benchmark::State& s) {
    Trainer t;
    kiln_bench::libtorchTrainStep(s, t);
  })->Unit(benchmark::kMillisecond);
#endif
  // Each iteration compiles the whole step: a few iterations.
  for (bool eager : {false, true}) {
    std::string name = std::string("BM_TrainCompile/cold/") + (eager ? "eager" : "lazy");
    RegisterBenchmark(name.c_str(), [eager](benchmark::State& s) { trainCompile(s, eager); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
  }
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
