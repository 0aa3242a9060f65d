#include "tools/kiln-bench/workloads.h"

namespace kiln::workloads {

namespace F = nn::functional;

Tensor chain(const Tensor& x, const Tensor& y) {
  return tanh((x + y) * 0.5) + exp(-(x * x)) * 0.25;
}

Tensor composedSoftmax(const Tensor& x) {
  Tensor e = exp(x - x.amax({1}, true));
  return e / e.sum({1}, true);
}

Tensor layerNormGelu(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor mean = x.mean({1}, true);
  Tensor centred = x - mean;
  Tensor var = (centred * centred).mean({1}, true);
  Tensor y = centred * rsqrt(var + 1e-5) * w + b;
  return y * 0.5 * (tanh((y + y * y * y * 0.044715) * 0.7978845608) + 1.0);
}

float smallLoopStep(const Tensor& x, const Tensor& y) {
  Tensor z = x * 0.5 + y;
  return z.sum().item<float>();
}

MlpTrainer::MlpTrainer(int64_t batch, uint64_t seed) {
  // Built lazily whatever the caller's mode: creating the weights and data runs nothing until
  // the values are read together.
  EagerGuard lazy(false);
  manual_seed(seed);
  model_ = nn::Sequential(nn::Linear(kMlpInputs, kMlpHidden), nn::ReLU(),
                          nn::Linear(kMlpHidden, kMlpHidden), nn::ReLU(),
                          nn::Linear(kMlpHidden, kMlpClasses));
  opt_ = std::make_unique<optim::SGD>(model_->parameters(), optim::SGDOptions(1e-3).momentum(0.9));
  x_ = randn({batch, kMlpInputs});
  y_ = randint(0, kMlpClasses, {batch});
  eval({x_, y_});
}

float MlpTrainer::step() {
  Tensor loss = opt_->step([&] {
    opt_->zero_grad();
    Tensor l = F::cross_entropy(model_->forward(x_), y_);
    l.backward();
    return l;
  });
  return loss.item<float>();
}

float MlpTrainer::loopStep() {
  opt_->zero_grad();
  Tensor loss = F::cross_entropy(model_->forward(x_), y_);
  loss.backward();
  opt_->step();
  return loss.item<float>();
}

}  // namespace kiln::workloads
