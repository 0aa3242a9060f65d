// libtorch (Debian's PyTorch 1.13, eager, its own library kernels) on the workloads of
// bench/rows.cpp and the chain, at 1 and 2 threads (at::set_num_threads): the peer that kiln's
// users compare against. Built only when CMake finds Torch (bench/CMakeLists.txt).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "handwritten.h"
#include "rows.h"
#include "tools/kiln-bench/libtorch_workloads.h"

namespace kiln_bench {
namespace {

constexpr int64_t kRows = 8192, kCols = 1024;
constexpr int64_t kChainElements = int64_t{1} << 24;

// Runs a row with at::set_num_threads(N) for the row's /threads:N argument.
class TorchThreads {
 public:
  explicit TorchThreads(const benchmark::State& state) : previous_(at::get_num_threads()) {
    at::set_num_threads(static_cast<int>(state.range(0)));
  }
  ~TorchThreads() { at::set_num_threads(previous_); }
  TorchThreads(const TorchThreads&) = delete;
  TorchThreads& operator=(const TorchThreads&) = delete;

 private:
  int previous_;
};

// The result of a hand-written loop on the same inputs, to check libtorch's answer before timing.
double maxAbsError(const torch::Tensor& t, const std::vector<float>& reference) {
  torch::Tensor c = t.contiguous();
  const float* p = c.data_ptr<float>();
  double err = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    err = std::max(err, static_cast<double>(std::fabs(p[i] - reference[i])));
  }
  return err;
}

template <typename F>
void run(benchmark::State& state, F workload, const std::vector<float>& reference, int64_t bytes) {
  torch::NoGradGuard no_grad;
  TorchThreads threads(state);
  torch::Tensor first = workload();
  double err = maxAbsError(first, reference);
  state.counters["max_abs_err"] = err;
  if (!(err <= 1e-4)) state.SkipWithError("result differs from the hand-written loop");
  for (auto _ : state) {
    torch::Tensor r = workload();
    benchmark::DoNotOptimize(r.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

struct Inputs {
  torch::Tensor x, w, b, cx, cy;
  std::vector<float> softmax, layernorm_gelu, chain;
};

const Inputs& inputs() {
  static const Inputs* in = [] {
    torch::manual_seed(1);
    auto* p = new Inputs;
    p->x = torch::randn({kRows, kCols}) * 2.0;
    p->w = torch::rand({kCols}) + 0.5;
    p->b = torch::randn({kCols}) * 0.1;
    p->cx = torch::randn({kChainElements});
    p->cy = torch::randn({kChainElements});
    p->softmax.resize(kRows * kCols);
    p->layernorm_gelu.resize(kRows * kCols);
    p->chain.resize(kChainElements);
    softmax_rows(p->x.data_ptr<float>(), p->softmax.data(), kRows, kCols, 1);
    layernorm_gelu_rows(p->x.data_ptr<float>(), p->w.data_ptr<float>(), p->b.data_ptr<float>(),
                        p->layernorm_gelu.data(), kRows, kCols, 1);
    chain(p->cx.data_ptr<float>(), p->cy.data_ptr<float>(), p->chain.data(), kChainElements, 1);
    return p;
  }();
  return *in;
}

// BM_Cat's parts (bench/kiln_bench.cpp): 10,000 tensors of 64 floats, part i holding
// i * 64 + j at j.
const std::vector<torch::Tensor>& catParts() {
  static const std::vector<torch::Tensor>* parts = [] {
    auto* p = new std::vector<torch::Tensor>;
    torch::Tensor row = torch::arange(64, torch::kFloat);
    for (int64_t i = 0; i < 10000; ++i) p->push_back(row + static_cast<double>(i * 64));
    return p;
  }();
  return *parts;
}

// BM_Embedding's gradient in libtorch: torch::embedding and its dense backward.
void embeddingRow(benchmark::State& state) {
  TorchThreads threads(state);
  std::vector<float> w(static_cast<size_t>(kEmbeddingRows * kEmbeddingDim));
  for (int64_t r = 0; r < kEmbeddingRows; ++r)
    for (int64_t c = 0; c < kEmbeddingDim; ++c) w[r * kEmbeddingDim + c] = embeddingWeight(r, c);
  std::vector<int64_t> id_values;
  for (int64_t i = 0; i < kEmbeddingIds; ++i) id_values.push_back(embeddingId(i));
  torch::Tensor table =
      torch::from_blob(w.data(), {kEmbeddingRows, kEmbeddingDim}).clone().requires_grad_();
  torch::Tensor ids = torch::tensor(id_values);
  auto step = [&] {
    torch::Tensor rows = torch::embedding(table, ids);
    return torch::autograd::grad({(rows * rows).sum()}, {table})[0];
  };
  const double err = maxAbsError(step(), embeddingGradient());
  state.counters["max_abs_err"] = err;
  if (!(err <= 1e-4)) state.SkipWithError("gradient differs from the hand-written loop");
  for (auto _ : state) benchmark::DoNotOptimize(step().data_ptr());
  state.SetBytesProcessed(state.iterations() * int64_t{sizeof(float)} *
                          (kEmbeddingRows + 2 * kEmbeddingIds) * kEmbeddingDim);
}

}  // namespace

void registerLibtorchBenchmarks() {
  threadRows(benchmark::RegisterBenchmark("BM_Embedding/libtorch", embeddingRow)
                 ->Unit(benchmark::kMillisecond));
  using benchmark::RegisterBenchmark;
  constexpr int64_t kRowBytes = kRows * kCols * int64_t{sizeof(float)} * 2;
  threadRows(RegisterBenchmark("BM_Softmax/libtorch", [](benchmark::State& s) {
               const Inputs& in = inputs();
               run(
                   s, [&] { return kiln::workloads::libtorch::softmax(in.x); }, in.softmax,
                   kRowBytes);
             })->Unit(benchmark::kMillisecond));
  threadRows(RegisterBenchmark("BM_LayerNormGelu/libtorch", [](benchmark::State& s) {
               const Inputs& in = inputs();
               run(
                   s, [&] { return kiln::workloads::libtorch::layerNormGelu(in.x, in.w, in.b); },
                   in.layernorm_gelu, kRowBytes);
             })->Unit(benchmark::kMillisecond));
  threadRows(RegisterBenchmark("BM_Chain/libtorch", [](benchmark::State& s) {
               const Inputs& in = inputs();
               run(
                   s, [&] { return kiln::workloads::libtorch::chain(in.cx, in.cy); }, in.chain,
                   kChainElements * int64_t{sizeof(float)} * 3);
             })->Unit(benchmark::kMillisecond));
  threadRows(RegisterBenchmark("BM_Cat/libtorch", [](benchmark::State& s) {
               std::vector<float> reference(10000 * 64);
               for (size_t i = 0; i < reference.size(); ++i) reference[i] = static_cast<float>(i);
               run(
                   s, [&] { return torch::cat(catParts()); }, reference,
                   int64_t{10000} * 64 * int64_t{sizeof(float)} * 2);
             })->Unit(benchmark::kMillisecond));
}

}  // namespace kiln_bench
