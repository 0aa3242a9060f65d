#include "tools/kiln-bench/suite.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <type_traits>

#include "tools/kiln-bench/workloads.h"
#include "tools/kiln-ir/inputs.h"
#include "tools/kiln-ir/replay.h"
#include "tools/kiln-ir/stages.h"

namespace kiln::bench_tool {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::vector<float> floatsOf(const Tensor& t) {
  Tensor c = t.to(kFloat).contiguous();
  const float* p = c.data_ptr<float>();
  return std::vector<float>(p, p + c.numel());
}

std::vector<float> valuesOf(const Tensor& t) {
  return floatsOf(t);
}
std::vector<float> valuesOf(float v) {
  return {v};
}

// A kiln workload whose iteration computes one tensor, or ends in a number read with item().
template <typename Value>
class KilnInstance : public Instance {
 public:
  KilnInstance(Mode mode, std::function<Value()> compute)
      : eager_(mode == Mode::Eager), compute_(std::move(compute)) {}
  void iterate() override {
    EagerGuard mode(eager_);
    last_ = compute_();
    if constexpr (std::is_same_v<Value, Tensor>) last_.eval();
  }
  std::vector<float> result() override { return valuesOf(last_); }

 private:
  bool eager_;
  std::function<Value()> compute_;
  Value last_{};
};
using TensorInstance = KilnInstance<Tensor>;
using ScalarInstance = KilnInstance<float>;

// A graph file replayed through the front end; its outputs materialised together.
class GraphInstance : public Instance {
 public:
  GraphInstance(Mode mode, std::shared_ptr<const ir::Graph> graph, std::vector<Tensor> params)
      : eager_(mode == Mode::Eager), graph_(std::move(graph)), params_(std::move(params)) {}
  void iterate() override {
    EagerGuard mode(eager_);
    std::vector<Tensor> values = tools::replayGraph(*graph_, params_);
    outputs_.clear();
    for (const ir::Output& o : graph_->outputs) outputs_.push_back(values[o.value]);
    eval(outputs_);
  }
  std::vector<float> result() override {
    std::vector<float> all;
    for (const Tensor& t : outputs_) {
      std::vector<float> v = floatsOf(t);
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  }

 private:
  bool eager_;
  std::shared_ptr<const ir::Graph> graph_;
  std::vector<Tensor> params_;
  std::vector<Tensor> outputs_;
};

// Materialised inputs, made lazily from a fixed seed: the same values in every mode and run.
std::vector<Tensor> inputsOf(const std::string& name, const Sizes& s) {
  EagerGuard lazy(false);
  manual_seed(1);
  std::vector<Tensor> in;
  if (name == "chain") {
    in = {randn({s.elements}), randn({s.elements})};
  } else if (name == "softmax") {
    in = {randn({s.rows, s.cols}) * 2.0};
  } else if (name == "layernorm_gelu") {
    in = {randn({s.rows, s.cols}) * 2.0, rand({s.cols}) + 0.5, randn({s.cols}) * 0.1};
  } else if (name == "matmul") {
    in = {rand({s.matmul, s.matmul}), rand({s.matmul, s.matmul})};
  } else if (name == "small_loop") {
    in = {randn({s.small, 3}), randn({s.small, 3})};
  }
  eval(in);
  return in;
}

std::string describe(const std::string& name, const Sizes& s) {
  if (name == "chain")
    return absl::StrCat("tanh((x + y) * 0.5) + exp(-(x * x)) * 0.25, x and y of ", s.elements,
                        " float32");
  if (name == "softmax")
    return absl::StrCat("softmax over rows written as amax, sub, exp, sum, div, ", s.rows, "x",
                        s.cols, " float32 (libtorch: torch::softmax)");
  if (name == "layernorm_gelu")
    return absl::StrCat("layer norm (weight, bias, eps 1e-5) then tanh-GELU written as 16 ops, ",
                        s.rows, "x", s.cols, " float32 (libtorch: layer_norm, gelu)");
  if (name == "matmul")
    return absl::StrCat("mm of two ", s.matmul, "x", s.matmul, " float32 matrices");
  if (name == "mlp_train")
    return absl::StrCat(
        "one training step of a 784-512-512-10 ReLU MLP, cross-entropy, SGD with momentum, "
        "batch ",
        s.batch);
  return absl::StrCat("z = x * 0.5 + y; z.sum().item() on [", s.small,
                      ", 3] float32: the cost of each op");
}

}  // namespace

Sizes Sizes::smallPreset() {
  Sizes s;
  s.elements = int64_t{1} << 16;
  s.rows = 256;
  s.cols = 256;
  s.matmul = 128;
  s.batch = 16;
  return s;
}

const std::vector<std::string>& builtinNames() {
  static const std::vector<std::string> names = {"chain",  "softmax",   "layernorm_gelu",
                                                 "matmul", "mlp_train", "small_loop"};
  return names;
}

Workload builtinWorkload(const std::string& name, const Sizes& sizes, const PeerFactory& peers) {
  if (std::find(builtinNames().begin(), builtinNames().end(), name) == builtinNames().end()) {
    throw std::invalid_argument(absl::StrCat("no built-in workload named '", name, "'"));
  }
  Workload w;
  w.name = name;
  w.description = describe(name, sizes);
  w.make = [name, sizes, peers](Mode mode) -> std::unique_ptr<Instance> {
    std::vector<Tensor> in = inputsOf(name, sizes);
    if (mode == Mode::Libtorch) return peers ? peers(name, in, sizes) : nullptr;
    if (name == "chain") {
      return std::make_unique<TensorInstance>(mode,
                                              [in] { return workloads::chain(in[0], in[1]); });
    }
    if (name == "softmax") {
      return std::make_unique<TensorInstance>(mode,
                                              [in] { return workloads::composedSoftmax(in[0]); });
    }
    if (name == "layernorm_gelu") {
      return std::make_unique<TensorInstance>(
          mode, [in] { return workloads::layerNormGelu(in[0], in[1], in[2]); });
    }
    if (name == "matmul") {
      return std::make_unique<TensorInstance>(mode, [in] { return in[0].mm(in[1]); });
    }
    if (name == "mlp_train") {
      auto trainer = std::make_shared<workloads::MlpTrainer>(sizes.batch);
      return std::make_unique<ScalarInstance>(mode, [trainer] { return trainer->step(); });
    }
    return std::make_unique<ScalarInstance>(
        mode, [in] { return workloads::smallLoopStep(in[0], in[1]); });
  };
  return w;
}

bool graphWorkload(const std::string& path, const std::map<int64_t, std::string>& npy_inputs,
                   uint64_t seed, Workload* out, std::string* error) {
  tools::Source src;
  if (!tools::loadSource(path, &src, error)) return false;
  auto graph = std::make_shared<const ir::Graph>(std::move(src.graph));
  std::vector<runtime::BufferPtr> buffers;
  if (!tools::makeParamBuffers(*graph, npy_inputs, seed, &buffers, error)) return false;
  std::vector<Tensor> params;
  for (int32_t k = 0; k < graph->paramCount(); ++k) {
    params.push_back(tools::paramTensor(buffers[k], graph->instrs[graph->paramInstr(k)].d));
  }
  out->name = std::filesystem::path(path).filename().string();
  out->description = absl::StrCat(
      path, ": ",
      tools::plural(static_cast<int64_t>(graph->instrs.size()), "instruction", "instructions"),
      ", ", tools::plural(graph->paramCount(), "param", "params"), ", ",
      tools::plural(static_cast<int64_t>(graph->outputs.size()), "output", "outputs"),
      ", replayed through the front end");
  out->make = [graph, params](Mode mode) -> std::unique_ptr<Instance> {
    if (mode == Mode::Libtorch) return nullptr;
    return std::make_unique<GraphInstance>(mode, graph, params);
  };
  return true;
}

std::string compareResults(const std::vector<float>& want, const std::vector<float>& got) {
  if (want.size() != got.size()) {
    return absl::StrCat(got.size(), " result elements, but the lazy result has ", want.size());
  }
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = want[i], g = got[i];
    if (std::isnan(w) && std::isnan(g)) continue;
    if (w == g) continue;  // equal infinities too
    if (!(std::fabs(g - w) <= 1e-4 + 1e-3 * std::fabs(w))) {
      return absl::StrFormat("element %d is %.9g, but %.9g in the lazy result", i, g, w);
    }
  }
  return "";
}

WorkloadResult runWorkload(const Workload& w, int threads, const RunOptions& options) {
  workloads::NumThreadsGuard thread_count(threads);
  auto progress = [&](const std::string& what) {
    if (options.progress) {
      options.progress(
          absl::StrCat(w.name, ", ", tools::plural(threads, "thread", "threads"), ": ", what));
    }
  };
  WorkloadResult result;
  result.name = w.name;
  result.description = w.description;
  result.threads = threads;

  progress("preparing");
  std::vector<std::unique_ptr<Instance>> instances;
  for (Mode mode : {Mode::Lazy, Mode::Eager, Mode::Libtorch}) {
    std::unique_ptr<Instance> inst = w.make(mode);
    if (!inst) continue;
    instances.push_back(std::move(inst));
    result.modes.emplace_back().mode = mode;
  }
  const size_t n = instances.size();

  // From empty caches: every kernel a mode needs is compiled in its first iteration.
  std::vector<float> lazy_result;
  for (size_t i = 0; i < n; ++i) {
    ModeResult& m = result.modes[i];
    progress(absl::StrCat("first ", modeName(m.mode), " iteration, from empty caches"));
    clear_kernel_cache();
    const Stats before = stats();
    const auto t0 = Clock::now();
    instances[i]->iterate();
    m.cold_ms = msSince(t0);
    const Stats after = stats();
    if (m.mode != Mode::Libtorch) {
      m.cold_compiled = after.kernels_compiled - before.kernels_compiled;
      m.cold_compile_ms = after.compile_ms - before.compile_ms;
    }
    if (i == 0) {
      lazy_result = instances[i]->result();
    } else if (std::string why = compareResults(lazy_result, instances[i]->result());
               !why.empty() && result.mismatch.empty()) {
      result.mismatch = absl::StrCat(modeName(m.mode), ": ", why);
    }
  }
  lazy_result = {};

  // Warm up (clearing the caches above dropped the lazy kernels), then size the samples.
  for (size_t i = 0; i < n; ++i) {
    progress(absl::StrCat("warming up ", modeName(result.modes[i].mode)));
    instances[i]->iterate();
    const auto t0 = Clock::now();
    instances[i]->iterate();
    const double ms = std::max(msSince(t0), 1e-6);
    result.modes[i].iterations_per_sample = std::clamp<int64_t>(
        static_cast<int64_t>(std::ceil(options.min_sample_ms / ms)), 1, 1'000'000);
  }

  // Rounds: every mode once per round, starting with a different mode each round, so that
  // every mode sees the same machine and none always runs first.
  std::vector<int64_t> kernels(n, 0), iterations(n, 0);
  for (int round = 0; round < options.rounds; ++round) {
    progress(absl::StrCat("round ", round + 1, "/", options.rounds));
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (static_cast<size_t>(round) + k) % n;
      ModeResult& m = result.modes[i];
      const Stats before = stats();
      const auto t0 = Clock::now();
      for (int64_t it = 0; it < m.iterations_per_sample; ++it) instances[i]->iterate();
      m.sample_ms.push_back(msSince(t0) / static_cast<double>(m.iterations_per_sample));
      const Stats after = stats();
      kernels[i] += after.kernels_run - before.kernels_run;
      iterations[i] += m.iterations_per_sample;
      m.steady_compiled += after.kernels_compiled - before.kernels_compiled;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    ModeResult& m = result.modes[i];
    summarise(&m);
    if (m.mode != Mode::Libtorch && iterations[i] > 0) {
      m.kernels_per_iteration =
          static_cast<double>(kernels[i]) / static_cast<double>(iterations[i]);
    }
  }

  // The work: what the profiler counts for one lazy iteration.
  if (result.modes.front().mode == Mode::Lazy) {
    progress("profiling one lazy iteration");
    const bool was_enabled = profiler::is_enabled();
    profiler::reset();
    profiler::enable();
    instances.front()->iterate();
    if (!was_enabled) profiler::disable();
    for (const runtime::profiler::Row& row : runtime::profiler::snapshot().rows) {
      result.bytes += row.bytes;
      result.flops += row.flops;
    }
    if (options.kernel_table) result.kernel_table = profiler::table();
    profiler::reset();
  }
  return result;
}

}  // namespace kiln::bench_tool
