#pragma once
// The workloads kiln is measured on, written once with kiln's public API and shared by the
// Google Benchmark programs (bench/) and kiln-bench (tools/kiln-bench): the elementwise chain,
// softmax and layernorm+GELU composed of elementary ops, and the MLP training step. Each builds
// lazy IR; whether it runs fused or op by op is the caller's choice (kiln::EagerGuard).
#include <kiln/kiln.h>

#include <cstdint>
#include <memory>

namespace kiln::workloads {

/// Runs kiln with `n` threads (kiln::set_num_threads) for its lifetime and restores the previous
/// count after.
class NumThreadsGuard {
 public:
  explicit NumThreadsGuard(int n) : previous_(get_num_threads()) { set_num_threads(n); }
  ~NumThreadsGuard() { set_num_threads(previous_); }
  NumThreadsGuard(const NumThreadsGuard&) = delete;
  NumThreadsGuard& operator=(const NumThreadsGuard&) = delete;

 private:
  int previous_;
};

/// tanh((x + y) * 0.5) + exp(-(x * x)) * 0.25: 8 elementwise ops, one kernel when lazy.
Tensor chain(const Tensor& x, const Tensor& y);

/// Softmax over dim 1 written as 5 ops: exp(x - x.amax(1, true)) / its sum over dim 1.
Tensor composedSoftmax(const Tensor& x);

/// Layer normalisation over dim 1 (eps 1e-5, weight `w`, bias `b`) followed by the tanh
/// approximation of GELU, written as 16 elementary ops.
Tensor layerNormGelu(const Tensor& x, const Tensor& w, const Tensor& b);

/// The small-op loop's body: z = x * 0.5 + y; z.sum(), read with item(). Per-op overhead.
float smallLoopStep(const Tensor& x, const Tensor& y);

/// The layer sizes of the MLP of examples/fashion_mnist.cpp: 784-512-512-10 with ReLU.
inline constexpr int64_t kMlpInputs = 784, kMlpHidden = 512, kMlpClasses = 10;

/// One training step of that MLP (cross-entropy loss, SGD with momentum 0.9, lr 1e-3) on a
/// fixed batch of `batch` random inputs and labels. Weights and data come from
/// kiln::manual_seed(seed), so two trainers with the same seed start from the same state.
class MlpTrainer {
 public:
  explicit MlpTrainer(int64_t batch, uint64_t seed = 0);

  /// opt.step(closure): forward, backward, update and the loss in one materialisation. Returns
  /// the loss before the update.
  float step();
  /// libtorch's usual loop: zero_grad(); backward(); step(); then loss.item().
  float loopStep();

  const nn::Sequential& model() const { return model_; }
  const Tensor& inputs() const { return x_; }
  const Tensor& labels() const { return y_; }

 private:
  nn::Sequential model_{nullptr};
  std::unique_ptr<optim::SGD> opt_;
  Tensor x_, y_;
};

}  // namespace kiln::workloads
