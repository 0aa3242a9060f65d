// Optimizers: the update is recorded as lazy in-place ops (no gradient recording) and
// materialised once per step together with whatever forward and backward work is pending.
#include <cmath>
#include <sstream>
#include <unordered_set>

#include "kiln/autograd.h"
#include "kiln/optim.h"
#include "kiln/runtime.h"
#include "lib/frontend/tensor_impl.h"

namespace kiln::optim {

namespace {

template <typename... Parts>
std::string text(const Parts&... parts) {
  std::ostringstream s;
  (s << ... << parts);
  return s.str();
}

void check(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}

}  // namespace

OptimizerParamGroup::OptimizerParamGroup(const OptimizerParamGroup& other)
    : params_(other.params_), options_(other.options_ ? other.options_->clone() : nullptr) {}

OptimizerParamGroup& OptimizerParamGroup::operator=(const OptimizerParamGroup& other) {
  params_ = other.params_;
  options_ = other.options_ ? other.options_->clone() : nullptr;
  return *this;
}

OptimizerOptions& OptimizerParamGroup::options() {
  check(options_ != nullptr, "Expected param group to have options");
  return *options_;
}

const OptimizerOptions& OptimizerParamGroup::options() const {
  check(options_ != nullptr, "Expected param group to have options");
  return *options_;
}

Optimizer::Optimizer(std::vector<OptimizerParamGroup> param_groups,
                     std::unique_ptr<OptimizerOptions> defaults)
    : defaults_(std::move(defaults)) {
  for (const OptimizerParamGroup& g : param_groups) add_param_group(g);
}

void Optimizer::add_param_group(const OptimizerParamGroup& param_group) {
  std::unordered_set<const void*> seen;
  for (const OptimizerParamGroup& g : param_groups_) {
    for (const Tensor& p : g.params()) seen.insert(p.impl().get());
  }
  OptimizerParamGroup group(param_group.params());
  for (const Tensor& p : group.params()) {
    check(p.defined(), "optimizer got an undefined tensor as a parameter");
    check(p.is_leaf(), "can't optimize a non-leaf Tensor");
    check(seen.insert(p.impl().get()).second,
          "some parameters appear in more than one parameter group");
  }
  group.set_options(param_group.has_options() ? param_group.options().clone() : defaults_->clone());
  param_groups_.push_back(std::move(group));
}

size_t Optimizer::size() const noexcept {
  size_t n = 0;
  for (const OptimizerParamGroup& g : param_groups_) n += g.params().size();
  return n;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (OptimizerParamGroup& g : param_groups_) {
    for (Tensor& p : g.params()) {
      Tensor& grad = p.mutable_grad();
      if (!grad.defined()) continue;
      if (set_to_none) {
        grad = Tensor();
      } else {
        grad = grad.detach();
        grad.zero_();
      }
    }
  }
}

Tensor Optimizer::step(LossClosure closure) {
  Tensor loss;
  if (closure) {
    AutoGradMode enable_grad(true);
    loss = closure();
  }
  NoGradGuard no_grad;
  // New state first, materialised by itself (see makeState); dropped again if that fails.
  std::vector<Tensor> fresh;
  std::vector<const void*> fresh_keys;
  for (OptimizerParamGroup& g : param_groups_) {
    for (Tensor& p : g.params()) {
      if (!p.grad().defined() || state_.count(p.impl().get()) != 0) continue;
      auto s = makeState(p, g.options());
      for (const Tensor& t : s->tensors()) {
        if (t.defined()) fresh.push_back(t);
      }
      state_.emplace(p.impl().get(), std::move(s));
      fresh_keys.push_back(p.impl().get());
    }
  }
  if (!fresh.empty()) {
    try {
      eval(fresh);
    } catch (...) {
      for (const void* key : fresh_keys) state_.erase(key);
      throw;
    }
  }

  // A step that fails (its materialisation short of memory) leaves the parameters and the state
  // as they were, so that it can be taken again: what the updates write is remembered first.
  detail::StorageSnapshot snapshot;
  std::vector<std::pair<const void*, std::unique_ptr<OptimizerParamState>>> states_before;
  for (OptimizerParamGroup& g : param_groups_) {
    for (Tensor& p : g.params()) {
      if (!p.grad().defined()) continue;
      const OptimizerParamState& s = *state_.at(p.impl().get());
      snapshot.add(p);
      for (const Tensor& t : s.tensors()) {
        if (t.defined()) snapshot.add(t);
      }
      states_before.emplace_back(p.impl().get(), s.clone());
    }
  }
  // Everything the update writes or the caller will read, computed by one materialisation: the
  // parameters, their gradients (read by the caller, and otherwise left pending on the old
  // parameter values), the state, and the closure's loss.
  try {
    std::vector<Tensor> results;
    for (OptimizerParamGroup& g : param_groups_) {
      for (Tensor& p : g.params()) {
        if (!p.grad().defined()) continue;
        OptimizerParamState& s = *state_.at(p.impl().get());
        update(p, s, g.options());
        results.push_back(p);
        results.push_back(p.grad());
        for (const Tensor& t : s.tensors()) {
          if (t.defined()) results.push_back(t);
        }
      }
    }
    if (loss.defined()) results.push_back(loss);
    snapshot.releaseOwners();
    snapshot.releaseReadByContents();
    eval(results);
  } catch (...) {
    snapshot.restore();
    for (auto& [key, s] : states_before) state_[key] = std::move(s);
    throw;
  }
  return loss;
}

// --- SGD ---

SGD::SGD(std::vector<OptimizerParamGroup> param_groups, SGDOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<SGDOptions>(defaults)) {
  check(defaults.lr() >= 0, text("Invalid learning rate: ", defaults.lr()));
  check(defaults.momentum() >= 0, text("Invalid momentum value: ", defaults.momentum()));
  check(defaults.weight_decay() >= 0,
        text("Invalid weight_decay value: ", defaults.weight_decay()));
  check(!defaults.nesterov() || (defaults.momentum() > 0 && defaults.dampening() == 0),
        "Nesterov momentum requires a momentum and zero dampening");
}

SGD::SGD(std::vector<Tensor> params, SGDOptions defaults)
    : SGD(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, defaults) {}

std::unique_ptr<OptimizerParamState> SGD::makeState(const Tensor& p,
                                                    const OptimizerOptions& options) {
  const auto& o = static_cast<const SGDOptions&>(options);
  auto s = std::make_unique<SGDParamState>();
  if (o.momentum() != 0) s->momentum_buffer(zeros_like(p));
  return s;
}

void SGD::update(Tensor& p, OptimizerParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const SGDOptions&>(options);
  auto& s = static_cast<SGDParamState&>(state);
  Tensor d_p = p.grad();
  if (o.weight_decay() != 0) d_p = d_p.add(p, o.weight_decay());
  if (o.momentum() != 0) {
    Tensor& buf = s.momentum_buffer();
    if (!buf.defined()) buf = zeros_like(p);  // momentum turned on after the first step
    // libtorch starts the buffer as a copy of d_p; from a zero buffer that is
    // momentum * 0 + 1 * d_p, the same graph as every later step's (only a constant differs).
    double scale = s.started() ? 1 - o.dampening() : 1.0;
    buf.mul_(o.momentum()).add_(d_p, scale);
    s.started(true);
    d_p = o.nesterov() ? d_p.add(buf, o.momentum()) : buf;
  }
  p.add_(d_p, -o.lr());
}

// --- Adam ---

Adam::Adam(std::vector<OptimizerParamGroup> param_groups, AdamOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<AdamOptions>(defaults)) {
  check(defaults.lr() >= 0, text("Invalid learning rate: ", defaults.lr()));
  check(defaults.eps() >= 0, text("Invalid epsilon value: ", defaults.eps()));
  auto [beta1, beta2] = defaults.betas();
  check(0 <= beta1 && beta1 < 1.0, text("Invalid beta parameter at index 0: ", beta1));
  check(0 <= beta2 && beta2 < 1.0, text("Invalid beta parameter at index 1: ", beta2));
  check(defaults.weight_decay() >= 0,
        text("Invalid weight_decay value: ", defaults.weight_decay()));
}

Adam::Adam(std::vector<Tensor> params, AdamOptions defaults)
    : Adam(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, defaults) {}

std::unique_ptr<OptimizerParamState> Adam::makeState(const Tensor& p,
                                                     const OptimizerOptions& options) {
  const auto& o = static_cast<const AdamOptions&>(options);
  auto s = std::make_unique<AdamParamState>();
  s->exp_avg(zeros_like(p));
  s->exp_avg_sq(zeros_like(p));
  if (o.amsgrad()) s->max_exp_avg_sq(zeros_like(p));
  return s;
}

void Adam::update(Tensor& p, OptimizerParamState& state, const OptimizerOptions& options) {
  const auto& o = static_cast<const AdamOptions&>(options);
  auto& s = static_cast<AdamParamState&>(state);
  Tensor grad = p.grad();
  s.step(s.step() + 1);
  auto [beta1, beta2] = o.betas();
  // The step-dependent factors are plain numbers: they reach the kernels as arguments, so every
  // step runs the same compiled code.
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(s.step()));
  if (o.weight_decay() != 0) grad = grad.add(p, o.weight_decay());
  s.exp_avg().mul_(beta1).add_(grad, 1 - beta1);
  s.exp_avg_sq().mul_(beta2).add_(grad * grad, 1 - beta2);
  Tensor second = s.exp_avg_sq();
  if (o.amsgrad()) {
    if (!s.max_exp_avg_sq().defined()) s.max_exp_avg_sq(zeros_like(p));
    s.max_exp_avg_sq().copy_(maximum(s.max_exp_avg_sq(), s.exp_avg_sq()));
    second = s.max_exp_avg_sq();
  }
  Tensor denom = second.sqrt() / std::sqrt(bias_correction2) + o.eps();
  const double step_size = o.lr() / bias_correction1;
  p.sub_(s.exp_avg() / denom, step_size);
}

}  // namespace kiln::optim
