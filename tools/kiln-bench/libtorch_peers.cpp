#include "tools/kiln-bench/libtorch_peers.h"

#include <dlfcn.h>
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

// libtorch's matrix products call OpenBLAS (Debian's libblas.so.3 is OpenBLAS's, a wrapper of
// libopenblas.so.0): the same library instance as kiln's, whose own threads kiln keeps at one
// (it divides products among its own threads). A libtorch iteration gives OpenBLAS as many
// threads as libtorch has, as it would have in a libtorch program, and kiln's setting back after.
class OpenBlasThreads {
 public:
  explicit OpenBlasThreads(int n) {
    static void (*const set)(int) =
        reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    static int (*const get)() =
        reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    if (set == nullptr || get == nullptr) return;
    set_ = set;
    previous_ = get();
    set_(n);
  }
  ~OpenBlasThreads() {
    if (set_ != nullptr) set_(previous_);
  }
  OpenBlasThreads(const OpenBlasThreads&) = delete;
  OpenBlasThreads& operator=(const OpenBlasThreads&) = delete;

 private:
  void (*set_)(int) = nullptr;
  int previous_ = 1;
};

// A libtorch iteration computing one tensor or ending in a number, on as many threads as kiln
// had when it was made. The inputs do not require grad, so libtorch records no autograd history
// for them (nor does kiln).
template <typename Value>
class TorchInstance : public Instance {
 public:
  explicit TorchInstance(std::function<Value()> compute)
      : threads_(get_num_threads()), compute_(std::move(compute)) {
    at::set_num_threads(threads_);
  }
  void iterate() override {
    OpenBlasThreads blas(threads_);
    last_ = compute_();
  }
  std::vector<float> result() override { return valuesOf(last_); }

 private:
  int threads_;
  std::function<Value()> compute_;
  Value last_{};
};
using TorchTensorInstance = TorchInstance<torch::Tensor>;
using TorchScalarInstance = TorchInstance<float>;

std::unique_ptr<Instance> makePeer(const std::string& name, const std::vector<Tensor>& inputs,
                                   const Sizes& sizes) {
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
