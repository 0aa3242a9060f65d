#pragma once
// Custom autograd functions, as libtorch's torch::autograd::Function<T>: a class with static
// forward(AutogradContext*, args...) and backward(AutogradContext*, tensor_list) is called as
// T::apply(args...), and backward runs in its place when gradients flow back through the result.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "kiln/autograd.h"
#include "kiln/error.h"
#include "kiln/tensor.h"

namespace kiln {

/// A value of one of the types custom functions stash in saved_data (libtorch's IValue, for
/// that use): none, a double, an integer, a bool, a string or a tensor.
class IValue {
 public:
  IValue() = default;
  IValue(double v) : v_(v) {}                     // NOLINT: implicit, as libtorch's
  IValue(int64_t v) : v_(v) {}                    // NOLINT
  IValue(int v) : v_(static_cast<int64_t>(v)) {}  // NOLINT
  IValue(bool v) : v_(v) {}                       // NOLINT
  IValue(std::string v) : v_(std::move(v)) {}     // NOLINT
  IValue(const char* v) : v_(std::string(v)) {}   // NOLINT
  IValue(Tensor v) : v_(std::move(v)) {}          // NOLINT

  bool isNone() const { return v_.index() == 0; }
  bool isDouble() const { return std::holds_alternative<double>(v_); }
  bool isInt() const { return std::holds_alternative<int64_t>(v_); }
  bool isBool() const { return std::holds_alternative<bool>(v_); }
  bool isString() const { return std::holds_alternative<std::string>(v_); }
  bool isTensor() const { return std::holds_alternative<Tensor>(v_); }
  /// The value, which must be of that type (libtorch's "Expected Double but got Int").
  double toDouble() const { return get<double>("Double"); }
  int64_t toInt() const { return get<int64_t>("Int"); }
  bool toBool() const { return get<bool>("Bool"); }
  const std::string& toStringRef() const { return get<std::string>("String"); }
  Tensor toTensor() const { return get<Tensor>("Tensor"); }
  /// The type's name in messages: "None", "Double", "Int", "Bool", "String", "Tensor".
  std::string tagKind() const;

 private:
  template <typename V>
  const V& get(const char* expected) const {
    if (!std::holds_alternative<V>(v_))
      throw Error("Expected " + std::string(expected) + " but got " + tagKind());
    return std::get<V>(v_);
  }
  std::variant<std::monostate, double, int64_t, bool, std::string, Tensor> v_;
};

namespace autograd {

using tensor_list = std::vector<Tensor>;

/// What a custom function's forward leaves for its backward: tensors saved with
/// save_for_backward, and any other values in saved_data.
class AutogradContext {
 public:
  /// Saves tensors (inputs or outputs) for backward; get_saved_variables gives them back.
  void save_for_backward(std::vector<Tensor> to_save) { saved_ = std::move(to_save); }
  std::vector<Tensor> get_saved_variables() const;
  /// Whether the tensor input `index` (counting tensor arguments only) requires grad.
  bool needs_input_grad(size_t index) const;
  /// Whether backward receives zeros (true, the default) or undefined tensors for outputs that
  /// received no gradient. kiln's functions have one output, which always receives one.
  void set_materialize_grads(bool value) { materialize_grads_ = value; }
  /// Values other than tensors (or tensors not needed for a version check) for backward.
  std::unordered_map<std::string, IValue> saved_data;

 private:
  friend struct CustomFunctionAccess;
  std::vector<Tensor> saved_;
  std::vector<bool> needs_input_grad_;
  bool materialize_grads_ = true;
};

/// The part of Function<T>::apply that does not depend on T (lib/autograd/custom_function.cpp).
struct CustomFunctionAccess {
  using Backward = std::function<tensor_list(AutogradContext*, tensor_list)>;
  /// Before forward: records which tensor inputs need grad.
  static void begin(AutogradContext& ctx, const std::vector<Tensor>& inputs);
  /// After forward: the outputs, recorded with a backward function named `name` that calls
  /// `backward` when an input needs grad. `tensor_arg` says which of forward's arguments were
  /// tensors (backward returns one gradient per argument).
  static std::vector<Tensor> finish(const std::string& name, std::shared_ptr<AutogradContext> ctx,
                                    const std::vector<Tensor>& inputs,
                                    const std::vector<bool>& tensor_arg,
                                    std::vector<Tensor> outputs, Backward backward);
  /// The demangled name of a type.
  static std::string typeName(const char* mangled);
};

/// Base of a custom function T (CRTP, as libtorch's): T::apply(args...) runs T::forward with
/// gradient recording off and gives its result (a Tensor, or a list of one) a grad_fn that runs
/// T::backward. backward returns one gradient per forward argument (an undefined Tensor for the
/// others). Functions of several outputs are not supported yet.
template <class T>
struct Function {
  template <typename X = T, typename... Args>
  static auto apply(Args&&... args) {
    auto ctx = std::make_shared<AutogradContext>();
    std::vector<Tensor> inputs;
    std::vector<bool> tensor_arg;
    (collect(args, inputs, tensor_arg), ...);
    CustomFunctionAccess::begin(*ctx, inputs);
    using Out = decltype(X::forward(ctx.get(), std::forward<Args>(args)...));
    std::vector<Tensor> outputs;
    {
      NoGradGuard forward_records_nothing;
      if constexpr (std::is_same_v<std::decay_t<Out>, Tensor>) {
        outputs.push_back(X::forward(ctx.get(), std::forward<Args>(args)...));
      } else {
        outputs = X::forward(ctx.get(), std::forward<Args>(args)...);
      }
    }
    outputs = CustomFunctionAccess::finish(
        "torch::autograd::CppNode<" + CustomFunctionAccess::typeName(typeid(X).name()) + ">", ctx,
        inputs, tensor_arg, std::move(outputs),
        [](AutogradContext* c, tensor_list g) { return X::backward(c, std::move(g)); });
    if constexpr (std::is_same_v<std::decay_t<Out>, Tensor>) {
      return outputs[0];
    } else {
      return Out(outputs.begin(), outputs.end());
    }
  }

 private:
  template <typename A>
  static void collect(const A& arg, std::vector<Tensor>& inputs, std::vector<bool>& tensor_arg) {
    if constexpr (std::is_convertible_v<const A&, const Tensor&> &&
                  std::is_class_v<std::decay_t<A>>) {
      inputs.push_back(arg);
      tensor_arg.push_back(true);
    } else {
      tensor_arg.push_back(false);
    }
  }
};

}  // namespace autograd
}  // namespace kiln
