// The untemplated half of custom autograd functions (kiln/custom_function.h): the backward
// function that calls the user's backward, recorded on the forward's result.
#include "kiln/custom_function.h"

#include <absl/strings/str_cat.h>
#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>

#include "lib/autograd/function.h"

namespace kiln {

std::string IValue::tagKind() const {
  static const char* const kNames[] = {"None", "Double", "Int", "Bool", "String", "Tensor"};
  return kNames[v_.index()];
}

namespace autograd {

std::vector<Tensor> AutogradContext::get_saved_variables() const {
  return saved_;
}

bool AutogradContext::needs_input_grad(size_t index) const {
  if (index >= needs_input_grad_.size()) throw Error("Index out of range");
  return needs_input_grad_[index];
}

void CustomFunctionAccess::begin(AutogradContext& ctx, const std::vector<Tensor>& inputs) {
  ctx.needs_input_grad_.clear();
  for (const Tensor& t : inputs)
    ctx.needs_input_grad_.push_back(is_grad_enabled() && t.defined() && t.requires_grad());
}

std::vector<Tensor> CustomFunctionAccess::finish(const std::string& name,
                                                 std::shared_ptr<AutogradContext> ctx,
                                                 const std::vector<Tensor>& inputs,
                                                 const std::vector<bool>& tensor_arg,
                                                 std::vector<Tensor> outputs, Backward backward) {
  std::vector<Tensor> differentiable;
  for (const Tensor& t : inputs) {
    if (t.defined()) differentiable.push_back(t);
  }
  // A result that is one of the inputs becomes a tensor of its own that shares the memory, as
  // libtorch's (without the input's history when nothing is recorded).
  for (Tensor& out : outputs) {
    for (const Tensor& t : inputs) {
      if (out.defined() && t.defined() && t.is_same(out)) out = out.detach();
    }
  }
  if (!needsGrad(differentiable)) return outputs;
  if (outputs.size() != 1) {
    throw Error(absl::StrCat("custom autograd functions with ", outputs.size(),
                             " outputs are not supported yet (one output is)"));
  }
  Tensor& out = outputs[0];
  if (!out.defined()) return outputs;
  // A result saved for backward is kept without its history, so that the result does not hold
  // itself alive through its grad_fn.
  for (Tensor& s : ctx->saved_) {
    if (s.defined() && s.is_same(outputs[0])) s = s.detach();
  }
  std::vector<int64_t> tensor_positions;  // of the defined tensor inputs, among the arguments
  size_t next = 0;
  for (size_t a = 0; a < tensor_arg.size(); ++a) {
    if (!tensor_arg[a]) continue;
    if (inputs[next++].defined()) tensor_positions.push_back(static_cast<int64_t>(a));
  }
  const size_t arguments = tensor_arg.size();
  record(out, name, differentiable, {},
         [ctx, backward, name, tensor_positions, arguments](const Tensor& grad,
                                                            const std::vector<Tensor>&) {
           tensor_list grads = backward(ctx.get(), {grad});
           // Gradients past the arguments given (for parameters left to their defaults) may
           // come back undefined, as libtorch allows.
           if (grads.size() > arguments &&
               std::all_of(grads.begin() + static_cast<std::ptrdiff_t>(arguments), grads.end(),
                           [](const Tensor& g) { return !g.defined(); })) {
             grads.resize(arguments);
           }
           if (grads.size() != arguments) {
             throw Error(absl::StrCat("function ", name,
                                      " returned an incorrect number of gradients (expected ",
                                      arguments, ", got ", grads.size(), ")"));
           }
           std::vector<Tensor> per_input;
           for (int64_t a : tensor_positions) per_input.push_back(grads[a]);
           return per_input;
         });
  return outputs;
}

std::string CustomFunctionAccess::typeName(const char* mangled) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  return out;
}

}  // namespace autograd
}  // namespace kiln
