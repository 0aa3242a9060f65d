#pragma once
// What bench/train_bench.cpp shares with its peer rows (bench/libtorch_train.cpp).
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include <vector>

namespace kiln_bench {

/// The training step's initial weights (in model->parameters() order) and data.
struct TrainSetup {
  std::vector<kiln::Tensor> parameters;
  kiln::Tensor x, y;
};

/// Whether the first step's loss equals the first row's (every row starts from the same weights
/// and data); otherwise marks the row as failed.
bool checkFirstLoss(benchmark::State& state, float loss);

/// BM_TrainStep/libtorch (bench/libtorch_train.cpp).
void libtorchTrainStep(benchmark::State& state, const TrainSetup& setup);

}  // namespace kiln_bench
