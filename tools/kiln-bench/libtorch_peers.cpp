#include "tools/kiln-bench/libtorch_peers.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <functional>

#include "tools/kiln-bench/libtorch_workloads.h"

namespace kiln::bench_tool {
namespace {

namespace peer = workloads::libtorch;

std::vector<float> floatsOf(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

std::vector<float> valuesOf(const torch::Tensor& t) {
  return floatsOf(t);
}
std::vector<float> valuesOf(float v) {
  return {v};
}

// A libtorch iteration computing one tensor or ending in a number. The inputs do not require
// grad, so libtorch records no autograd history for them (nor does kiln).
template <typename Value>
class TorchInstance : public Instance {
 public:
  explicit TorchInstance(std::function<Value()> compute) : compute_(std::move(compute)) {}
  void iterate() override { last_ = compute_(); }
  std::vector<float> result() override { return valuesOf(last_); }

 private:
  std::function<Value()> compute_;
  Value last_{};
};
using TorchTensorInstance = TorchInstance<torch::Tensor>;
using TorchScalarInstance = TorchInstance<float>;

std::unique_ptr<Instance> makePeer(const std::string& name, const std::vector<Tensor>& inputs,
                                   const Sizes& sizes) {
  at::set_num_threads(get_num_threads());
  std::vector<torch::Tensor> in;
  for (const Tensor& t : inputs) in.push_back(peer::fromKiln(t));
  if (name == "chain") {
    return std::make_unique<TorchTensorInstance>([in] { return peer::chain(in[0], in[1]); });
  }
  if (name == "softmax") {
    return std::make_unique<TorchTensorInstance>([in] { return peer::softmax(in[0]); });
  }
  if (name == "layernorm_gelu") {
    return std::make_unique<TorchTensorInstance>(
        [in] { return peer::layerNormGelu(in[0], in[1], in[2]); });
  }
  if (name == "matmul") {
    return std::make_unique<TorchTensorInstance>([in] { return torch::mm(in[0], in[1]); });
  }
  if (name == "mlp_train") {
    auto trainer = std::make_shared<peer::MlpTrainer>(workloads::MlpTrainer(sizes.batch));
    return std::make_unique<TorchScalarInstance>([trainer] { return trainer->step(); });
  }
  if (name == "small_loop") {
    return std::make_unique<TorchScalarInstance>(
        [in] { return peer::smallLoopStep(in[0], in[1]); });
  }
  return nullptr;
}

}  // namespace

PeerFactory libtorchPeers() {
  return makePeer;
}

std::string libtorchVersion() {
  return "libtorch " TORCH_VERSION;
}

}  // namespace kiln::bench_tool
