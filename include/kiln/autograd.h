#pragma once
// Autograd: gradients by symbolic transformation of the recorded graph. backward() walks the
// backward graph (grad_fn nodes) once, and each vector-Jacobian rule records ordinary lazy ops,
// so the gradient graph is simplified, fused and compiled together with pending forward work.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {
namespace autograd {

/// A node of the backward graph, as PyTorch's grad_fn: `t.grad_fn()->name()` is "MulBackward0".
class Node {
 public:
  virtual ~Node() = default;
  /// PyTorch's class name for this backward function.
  virtual std::string name() const = 0;
};

/// As in libtorch, a Variable is a Tensor.
using Variable = Tensor;
using variable_list = std::vector<Variable>;
using tensor_list = std::vector<Tensor>;

/// Adds the gradients of `tensors` to the grad() of the leaves they depend on (as
/// torch::autograd::backward). `grad_tensors` holds one gradient per tensor (an undefined one, or
/// none at all, stands for ones for a one-element tensor); `retain_graph` defaults to
/// `create_graph`; a non-empty `inputs` limits the tensors whose grad() is written to those (a
/// non-leaf among them retains its gradient from then on, as libtorch's does).
void backward(const variable_list& tensors, const variable_list& grad_tensors = {},
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
              const variable_list& inputs = {});

/// Gradients of `outputs` with respect to `inputs` (as torch.autograd.grad). Without
/// `grad_outputs`, every output must have one element. With `create_graph`, the gradients are
/// differentiable themselves (second derivatives). Nothing is accumulated into `.grad()`.
variable_list grad(const variable_list& outputs, const variable_list& inputs,
                   const variable_list& grad_outputs = {},
                   std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
                   bool allow_unused = false);

}  // namespace autograd

/// Whether ops record backward functions on this thread (true unless a NoGradGuard is alive).
bool is_grad_enabled();
/// Turns recording of backward functions on or off for this thread.
void set_grad_enabled(bool enabled);

/// Disables gradient recording for its lifetime (as torch::NoGradGuard).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Sets gradient recording on or off for its lifetime (as torch::AutoGradMode).
class AutoGradMode {
 public:
  explicit AutoGradMode(bool enabled) : previous_(is_grad_enabled()) { set_grad_enabled(enabled); }
  ~AutoGradMode() { set_grad_enabled(previous_); }
  AutoGradMode(const AutoGradMode&) = delete;
  AutoGradMode& operator=(const AutoGradMode&) = delete;

 private:
  bool previous_;
};

}  // namespace kiln
