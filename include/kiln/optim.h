#pragma once
// kiln::optim: SGD and Adam with libtorch's options and update rules (torch::optim becomes
// kiln::optim). step() records the update as lazy in-place ops on the parameters, without
// gradient recording, and then materialises parameters, gradients and optimizer state in one
// kiln::eval: the pending forward and backward work and the update compile and run together,
// and the pending graph starts empty at the next step.
//
//   kiln::optim::SGD opt(model->parameters(), kiln::optim::SGDOptions(0.01).momentum(0.9));
//   auto loss = opt.step([&] {          // or: zero_grad(); backward(); step() as in libtorch
//     opt.zero_grad();
//     auto l = kiln::nn::functional::cross_entropy(model->forward(x), y);
//     l.backward();
//     return l;
//   });                                 // loss is computed by the same materialisation
#include <cstdint>
#include <functional>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "kiln/nn.h"
#include "kiln/tensor.h"

namespace kiln::optim {

/// The options common to every optimizer (libtorch's OptimizerOptions).
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  virtual double get_lr() const = 0;
  virtual void set_lr(double lr) = 0;
};

/// Per-parameter state (momentum buffers, moment estimates).
class OptimizerParamState {
 public:
  virtual ~OptimizerParamState() = default;
  /// The tensors the update writes, materialised with the parameters at the end of step().
  virtual std::vector<Tensor> tensors() const = 0;
  /// A copy sharing the tensors (step() keeps one to put back if the step fails).
  virtual std::unique_ptr<OptimizerParamState> clone() const = 0;
};

/// Parameters sharing one set of options.
class OptimizerParamGroup {
 public:
  OptimizerParamGroup(std::vector<Tensor> params)  // NOLINT: implicit, as libtorch
      : params_(std::move(params)) {}
  OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options)
      : params_(std::move(params)), options_(std::move(options)) {}
  OptimizerParamGroup(const OptimizerParamGroup& other);
  OptimizerParamGroup& operator=(const OptimizerParamGroup& other);
  OptimizerParamGroup(OptimizerParamGroup&&) = default;
  OptimizerParamGroup& operator=(OptimizerParamGroup&&) = default;

  bool has_options() const { return options_ != nullptr; }
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }
  std::vector<Tensor>& params() { return params_; }
  const std::vector<Tensor>& params() const { return params_; }

 private:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
};

class Optimizer {
 public:
  /// Re-evaluates the model and returns the loss (libtorch's LossClosure).
  using LossClosure = std::function<Tensor()>;

  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter that has a gradient. With a closure, the closure runs first
  /// (with gradient recording on) and the loss it returns is materialised together with the
  /// update and returned.
  virtual Tensor step(LossClosure closure = nullptr);
  /// Clears the gradients: undefined with `set_to_none` (libtorch's default), zeroed otherwise.
  void zero_grad(bool set_to_none = true);
  void add_param_group(const OptimizerParamGroup& param_group);
  /// The parameters of the first group.
  std::vector<Tensor>& parameters() noexcept { return param_groups_.at(0).params(); }
  const std::vector<Tensor>& parameters() const noexcept { return param_groups_.at(0).params(); }
  /// The number of parameters over all groups.
  size_t size() const noexcept;
  std::vector<OptimizerParamGroup>& param_groups() noexcept { return param_groups_; }
  const std::vector<OptimizerParamGroup>& param_groups() const noexcept { return param_groups_; }
  OptimizerOptions& defaults() noexcept { return *defaults_; }
  const OptimizerOptions& defaults() const noexcept { return *defaults_; }
  /// Per-parameter state, keyed by the parameter's TensorImpl (as libtorch).
  std::unordered_map<const void*, std::unique_ptr<OptimizerParamState>>& state() noexcept {
    return state_;
  }

 protected:
  Optimizer(std::vector<OptimizerParamGroup> param_groups,
            std::unique_ptr<OptimizerOptions> defaults);
  /// The state a parameter starts with (its tensors are materialised before the first update
  /// is recorded, so that the first step reads the state from memory like every later step:
  /// one graph structure, compiled once, instead of one with the initial constants folded in).
  virtual std::unique_ptr<OptimizerParamState> makeState(const Tensor& p,
                                                         const OptimizerOptions& options) = 0;
  /// Records the update of one parameter (under NoGradGuard; p.grad() is defined).
  virtual void update(Tensor& p, OptimizerParamState& state, const OptimizerOptions& options) = 0;

  std::vector<OptimizerParamGroup> param_groups_;
  std::unordered_map<const void*, std::unique_ptr<OptimizerParamState>> state_;
  std::unique_ptr<OptimizerOptions> defaults_;
};

// --- SGD ---

struct SGDOptions : public OptimizerOptions {
  SGDOptions(double lr) : lr_(lr) {}  // NOLINT: implicit, as libtorch
  KILN_ARG(double, lr);
  KILN_ARG(double, momentum) = 0;
  KILN_ARG(double, dampening) = 0;
  KILN_ARG(double, weight_decay) = 0;
  KILN_ARG(bool, nesterov) = false;

 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<SGDOptions>(*this);
  }
  double get_lr() const override { return lr(); }
  void set_lr(double lr) override { this->lr(lr); }
};

struct SGDParamState : public OptimizerParamState {
  KILN_ARG(Tensor, momentum_buffer);
  /// Whether the buffer has been through an update (the first one uses no dampening).
  KILN_ARG(bool, started) = false;

 public:
  std::vector<Tensor> tensors() const override { return {momentum_buffer()}; }
  std::unique_ptr<OptimizerParamState> clone() const override {
    return std::make_unique<SGDParamState>(*this);
  }
};

/// Stochastic gradient descent with libtorch's update: d = g + wd * p; with momentum,
/// buf = momentum * buf + (1 - dampening) * d (buf = d on the first step) and d = buf, or
/// d + momentum * buf with nesterov; p -= lr * d.
class SGD : public Optimizer {
 public:
  SGD(std::vector<OptimizerParamGroup> param_groups, SGDOptions defaults);
  SGD(std::vector<Tensor> params, SGDOptions defaults);

 protected:
  std::unique_ptr<OptimizerParamState> makeState(const Tensor& p,
                                                 const OptimizerOptions& options) override;
  void update(Tensor& p, OptimizerParamState& state, const OptimizerOptions& options) override;
};

// --- Adam ---

struct AdamOptions : public OptimizerOptions {
  AdamOptions(double lr = 1e-3) : lr_(lr) {}  // NOLINT: implicit, as libtorch
  KILN_ARG(double, lr);
  using betas_t = std::tuple<double, double>;
  KILN_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);
  KILN_ARG(double, eps) = 1e-8;
  KILN_ARG(double, weight_decay) = 0;
  KILN_ARG(bool, amsgrad) = false;

 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<AdamOptions>(*this);
  }
  double get_lr() const override { return lr(); }
  void set_lr(double lr) override { this->lr(lr); }
};

struct AdamParamState : public OptimizerParamState {
  KILN_ARG(int64_t, step) = 0;
  KILN_ARG(Tensor, exp_avg);
  KILN_ARG(Tensor, exp_avg_sq);
  KILN_ARG(Tensor, max_exp_avg_sq) = {};

 public:
  std::vector<Tensor> tensors() const override {
    return {exp_avg(), exp_avg_sq(), max_exp_avg_sq()};
  }
  std::unique_ptr<OptimizerParamState> clone() const override {
    return std::make_unique<AdamParamState>(*this);
  }
};

/// Adam (Kingma and Ba) with libtorch's update, bias corrections and optional amsgrad;
/// weight_decay adds wd * p to the gradient (L2, not AdamW's decoupled decay).
class Adam : public Optimizer {
 public:
  Adam(std::vector<OptimizerParamGroup> param_groups, AdamOptions defaults = {});
  Adam(std::vector<Tensor> params, AdamOptions defaults = {});

 protected:
  std::unique_ptr<OptimizerParamState> makeState(const Tensor& p,
                                                 const OptimizerOptions& options) override;
  void update(Tensor& p, OptimizerParamState& state, const OptimizerOptions& options) override;
};

}  // namespace kiln::optim
