#pragma once
// The backward graph. Every op that gets an input requiring grad records a GradFunction holding its
// vector-Jacobian rule; rules are written with kiln's own (lazy, differentiable) ops, so running
// them records the gradient graph as ordinary IR, and with create_graph it is differentiable too.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kiln/autograd.h"
#include "kiln/tensor.h"

namespace kiln::detail {
struct Storage;
}

namespace kiln::autograd {

class GradFunction;

/// Where a gradient goes: input `input_nr` of `fn` (null when that input needs no gradient).
struct Edge {
  std::shared_ptr<GradFunction> fn;
  uint32_t input_nr = 0;
};

/// A value saved for backward: a reference into the lazy graph (nothing is copied), with the
/// storage version at saving time so that later in-place changes are detected.
struct SavedTensor {
  Tensor value;
  uint32_t version = 0;
  bool is_output = false;  // saved without its grad_fn, to avoid a reference cycle
  /// A result moved onto a view written in place (exp_ of a view): the version error names
  /// the view's current history, as PyTorch's does.
  std::weak_ptr<detail::TensorImpl> view;
};

/// A vector-Jacobian rule: the gradients of a function's inputs, given its output's gradient
/// and its saved values.
using Rule =
    std::function<std::vector<Tensor>(const Tensor& grad, const std::vector<Tensor>& saved)>;

class GradFunction : public Node, public std::enable_shared_from_this<GradFunction> {
 public:
  /// Lets go of the functions after this one without recursing into them (function.cpp).
  ~GradFunction() override;
  /// Gradients for this function's inputs (one per edge, undefined where none), given the
  /// gradient of its output.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  /// Frees saved values after a backward pass without retain_graph.
  virtual void release() {}
  /// After an in-place op has written this function's result (a tensor of storage `result`)
  /// into `self`: a result this function saved (exp saves its own) is `self` from then on, at
  /// self's version, so that a later in-place change of self is refused as PyTorch refuses it.
  virtual void resultMovedTo(const detail::Storage* result, const Tensor& self) {}

  std::vector<Edge> next;
  /// Non-leaf tensors that called retain_grad() with this as their grad_fn: backward adds the
  /// gradient of this function's output to their grad() (PyTorch's retains_grad hooks).
  std::vector<std::weak_ptr<detail::TensorImpl>> retained;

 protected:
  /// Hands what a dying function owns (its edges, saved values and rule) to the thread's
  /// teardown, which lets go of it one piece at a time: no destruction recurses along a history.
  static void dispose(std::vector<Edge>& next, std::vector<SavedTensor>* saved, Rule* rule);
};

/// The GradFunction behind a tensor's grad_fn or grad_accumulator. TensorImpl holds them as the
/// public Node (the front end may not name lib/autograd's types); every one is created here.
inline std::shared_ptr<GradFunction> functionOf(std::shared_ptr<Node> node) {
  return std::static_pointer_cast<GradFunction>(std::move(node));
}

/// Sums a leaf's gradients into its grad().
class AccumulateGrad : public GradFunction {
 public:
  explicit AccumulateGrad(std::weak_ptr<detail::TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::string name() const override { return "torch::autograd::AccumulateGrad"; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  std::shared_ptr<detail::TensorImpl> leaf() const { return leaf_.lock(); }

 private:
  std::weak_ptr<detail::TensorImpl> leaf_;
};

/// The common case: a named rule over saved values.
class RuleFunction : public GradFunction {
 public:
  RuleFunction(std::string name, Rule rule, std::vector<SavedTensor> saved)
      : name_(std::move(name)), rule_(std::move(rule)), saved_(std::move(saved)) {}
  ~RuleFunction() override;
  std::string name() const override { return name_; }
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  void release() override;
  void resultMovedTo(const detail::Storage* result, const Tensor& self) override;

 private:
  std::string name_;
  Rule rule_;
  std::vector<SavedTensor> saved_;
  bool released_ = false;
};

/// Whether any of `inputs` requires grad while recording is enabled.
bool needsGrad(std::initializer_list<const Tensor*> inputs);
bool needsGrad(const std::vector<Tensor>& inputs);

/// Attaches a backward function to `out` when recording is enabled and an input requires grad.
/// `saved` are captured for the rule; `saved_outputs_from` marks which of them is `out` itself.
void record(Tensor& out, std::string name, const std::vector<Tensor>& inputs,
            std::vector<Tensor> saved, Rule rule, int saved_output_index = -1);

/// The gradient `grad` summed over broadcast dimensions down to `shape`.
Tensor sumTo(const Tensor& grad, IntArrayRef shape);

/// The gradient given for output `index` of a backward pass (backward(gradient), grad's
/// grad_outputs), checked as libtorch's validate_outputs: a gradient of a shape the output
/// expands to is summed down to the output's shape, any other shape is refused.
Tensor rootGradient(const Tensor& grad, const Tensor& output, size_t index);

/// Runs backward from `roots` with their gradients. When `capture` is non-empty, the gradients
/// reaching those tensors are returned; they are accumulated into leaves only with `accumulate`,
/// which then runs only the functions leading to them and accumulates into no other leaf.
std::vector<Tensor> runBackward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                                bool retain_graph, bool create_graph,
                                const std::vector<Tensor>& capture, bool allow_unused,
                                bool accumulate);

}  // namespace kiln::autograd
