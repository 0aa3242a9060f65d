#pragma once
// The workloads of tools/kiln-bench/workloads.h in libtorch (Debian's PyTorch 1.13, eager, its
// own library kernels): the peer kiln's users compare against. Shared by bench/libtorch_*.cpp and
// kiln-bench; compiled only where CMake finds Torch (tools/kiln-bench/workloads.cmake).
#include <kiln/kiln.h>
#include <torch/torch.h>

#include "tools/kiln-bench/workloads.h"

namespace kiln::workloads::libtorch {

/// A copy of a float32 or int64 kiln tensor as a libtorch tensor of the same sizes.
torch::Tensor fromKiln(const Tensor& t);

/// tanh((x + y) * 0.5) + exp(-(x * x)) * 0.25, one libtorch kernel per op.
torch::Tensor chain(const torch::Tensor& x, const torch::Tensor& y);
/// torch::softmax over dim 1: libtorch's own softmax kernel (what its users call).
torch::Tensor softmax(const torch::Tensor& x);
/// torch::layer_norm over dim 1 (eps 1e-5) then torch::gelu(..., "tanh"): libtorch's kernels.
torch::Tensor layerNormGelu(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b);

/// The small-op loop's body: (x * 0.5 + y).sum().item<float>().
float smallLoopStep(const torch::Tensor& x, const torch::Tensor& y);

/// MlpTrainer's training step in libtorch, starting from the same weights and data as `start`.
class MlpTrainer {
 public:
  explicit MlpTrainer(const workloads::MlpTrainer& start);
  /// opt.step(closure), as MlpTrainer::step; returns the loss before the update.
  float step();

 private:
  torch::nn::Sequential model_;
  std::unique_ptr<torch::optim::SGD> opt_;
  torch::Tensor x_, y_;
};

}  // namespace kiln::workloads::libtorch
