// BM_TrainStep/libtorch: the training step of bench/train_bench.cpp in libtorch 1.13 (Debian's
// libtorch-dev, eager), from the same initial weights and data as kiln's rows, with as many
// threads as kiln uses (at::set_num_threads(kiln::get_num_threads())). Built only when CMake
// finds Torch (bench/CMakeLists.txt).
#include <torch/torch.h>

#include <vector>

#include "train_peers.h"

namespace kiln_bench {
namespace {

torch::Tensor toTorch(const kiln::Tensor& t) {
  kiln::Tensor c = t.contiguous();
  if (c.dtype() == kiln::kLong) {
    return torch::from_blob(c.data_ptr<int64_t>(), c.sizes().vec(), torch::kLong).clone();
  }
  return torch::from_blob(c.data_ptr<float>(), c.sizes().vec(), torch::kFloat).clone();
}

}  // namespace

void libtorchTrainStep(benchmark::State& state, const TrainSetup& setup) {
  const int saved = at::get_num_threads();
  at::set_num_threads(kiln::get_num_threads());
  torch::nn::Sequential model(torch::nn::Linear(784, 512), torch::nn::ReLU(),
                              torch::nn::Linear(512, 512), torch::nn::ReLU(),
                              torch::nn::Linear(512, 10));
  {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> params = model->parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(toTorch(setup.parameters[i]));
  }
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(1e-3).momentum(0.9));
  torch::Tensor x = toTorch(setup.x), y = toTorch(setup.y);
  auto step = [&] {
    torch::Tensor loss = opt.step([&] {
      opt.zero_grad();
      torch::Tensor l = torch::nn::functional::cross_entropy(model->forward(x), y);
      l.backward();
      return l;
    });
    return loss.item<float>();
  };
  if (checkFirstLoss(state, step())) {
    for (auto _ : state) {
      float loss = step();
      benchmark::DoNotOptimize(loss);
    }
    state.SetItemsProcessed(state.iterations() * setup.x.size(0));
  }
  at::set_num_threads(saved);
}

}  // namespace kiln_bench
