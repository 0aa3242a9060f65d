// BM_TrainStep/libtorch: the training step of bench/train_bench.cpp in libtorch 1.13 (Debian's
// libtorch-dev, eager; tools/kiln-bench/libtorch_workloads.h), from the same initial weights and
// data as kiln's rows, with as many threads as kiln uses
// (at::set_num_threads(kiln::get_num_threads())). Built only when CMake finds Torch
// (bench/CMakeLists.txt).
#include <torch/torch.h>

#include "tools/kiln-bench/libtorch_workloads.h"
#include "train_peers.h"

namespace kiln_bench {

void libtorchTrainStep(benchmark::State& state, const kiln::workloads::MlpTrainer& start) {
  const int saved = at::get_num_threads();
  at::set_num_threads(kiln::get_num_threads());
  kiln::workloads::libtorch::MlpTrainer trainer(start);
  if (checkFirstLoss(state, trainer.step())) {
    for (auto _ : state) {
      float loss = trainer.step();
      benchmark::DoNotOptimize(loss);
    }
    state.SetItemsProcessed(state.iterations() * start.inputs().size(0));
  }
  at::set_num_threads(saved);
}

}  // namespace kiln_bench
