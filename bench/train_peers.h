#pragma once
// What bench/train_bench.cpp shares with its peer rows (bench/libtorch_train.cpp).
#include <benchmark/benchmark.h>
#include <kiln/kiln.h>

#include "tools/kiln-bench/workloads.h"

namespace kiln_bench {

/// Whether the first step's loss equals the first row's (every row starts from the same weights
/// and data); otherwise marks the row as failed.
bool checkFirstLoss(benchmark::State& state, float loss);

/// BM_TrainStep/libtorch (bench/libtorch_train.cpp), from `start`'s weights and data.
void libtorchTrainStep(benchmark::State& state, const kiln::workloads::MlpTrainer& start);

}  // namespace kiln_bench
