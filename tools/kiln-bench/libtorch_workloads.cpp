#include "tools/kiln-bench/libtorch_workloads.h"

#include <vector>

namespace kiln::workloads::libtorch {

torch::Tensor fromKiln(const Tensor& t) {
  Tensor c = t.contiguous();
  if (c.dtype() == kLong) {
    return torch::from_blob(c.data_ptr<int64_t>(), c.sizes().vec(), torch::kLong).clone();
  }
  return torch::from_blob(c.data_ptr<float>(), c.sizes().vec(), torch::kFloat).clone();
}

torch::Tensor chain(const torch::Tensor& x, const torch::Tensor& y) {
  return torch::tanh((x + y) * 0.5) + torch::exp(-(x * x)) * 0.25;
}

torch::Tensor softmax(const torch::Tensor& x) {
  return torch::softmax(x, 1);
}

torch::Tensor layerNormGelu(const torch::Tensor& x, const torch::Tensor& w,
                            const torch::Tensor& b) {
  torch::Tensor y = torch::layer_norm(x, {x.size(1)}, w, b, 1e-5);
  return torch::gelu(y, "tanh");
}

float smallLoopStep(const torch::Tensor& x, const torch::Tensor& y) {
  return (x * 0.5 + y).sum().item<float>();
}

MlpTrainer::MlpTrainer(const workloads::MlpTrainer& start)
    : model_(torch::nn::Linear(kMlpInputs, kMlpHidden), torch::nn::ReLU(),
             torch::nn::Linear(kMlpHidden, kMlpHidden), torch::nn::ReLU(),
             torch::nn::Linear(kMlpHidden, kMlpClasses)) {
  {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> params = model_->parameters();
    std::vector<Tensor> kiln_params = start.model()->parameters();
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(fromKiln(kiln_params[i]));
  }
  opt_ = std::make_unique<torch::optim::SGD>(model_->parameters(),
                                             torch::optim::SGDOptions(1e-3).momentum(0.9));
  x_ = fromKiln(start.inputs());
  y_ = fromKiln(start.labels());
}

float MlpTrainer::step() {
  torch::Tensor loss = opt_->step([&] {
    opt_->zero_grad();
    torch::Tensor l = torch::nn::functional::cross_entropy(model_->forward(x_), y_);
    l.backward();
    return l;
  });
  return loss.item<float>();
}

}  // namespace kiln::workloads::libtorch
