// nn::Module: the dictionaries of parameters, buffers and children, recursion over them, and
// printing in libtorch's format.
#include <cxxabi.h>

#include <cstdlib>
#include <typeinfo>

#include "kiln/autograd.h"
#include "kiln/nn.h"
#include "lib/frontend/tensor_impl.h"

namespace kiln::nn {

namespace {

std::string demangle(const char* mangled) {
  int status = 0;
  char* out = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string r = status == 0 && out != nullptr ? std::string(out) : std::string(mangled);
  std::free(out);
  return r;
}

void printRecursive(std::ostream& stream, const Module& m, const std::string& indentation) {
  m.pretty_print(stream);
  auto children = m.named_children();
  if (children.is_empty()) return;
  stream << "(\n";
  const std::string next = indentation + "  ";
  for (const auto& child : children) {
    stream << next << "(" << child.key() << "): ";
    printRecursive(stream, *child.value(), next);
    stream << '\n';
  }
  stream << indentation << ")";
}

// libtorch's set_data: the tensor behind every handle to `t` becomes `value`.
void setData(const Tensor& t, const Tensor& value) {
  detail::TensorImpl& dst = *t.impl();
  const detail::TensorImpl& src = *value.impl();
  dst.storage = src.storage;
  dst.sizes = src.sizes;
  dst.strides = src.strides;
  dst.offset = src.offset;
  dst.is_view = false;
  dst.grad = Tensor();
}

}  // namespace

Module::Module(std::string name) : name_(std::move(name)) {}
Module::Module() = default;

const std::string& Module::name() const {
  // Computed on first use: in a constructor, typeid(*this) would still be the base.
  if (!name_) name_ = demangle(typeid(*this).name());
  return *name_;
}

void Module::checkName(const std::string& name, const char* what) {
  if (name.empty()) throw Error(std::string(what) + " name must not be empty");
  if (name.find('.') != std::string::npos) {
    throw Error(std::string(what) + " name must not contain a dot (got '" + name + "')");
  }
}

Tensor& Module::register_parameter(std::string name, Tensor tensor, bool requires_grad) {
  checkName(name, "Parameter");
  if (tensor.defined()) tensor.set_requires_grad(requires_grad);
  return parameters_.insert(std::move(name), std::move(tensor));
}

Tensor& Module::register_buffer(std::string name, Tensor tensor) {
  checkName(name, "Buffer");
  return buffers_.insert(std::move(name), std::move(tensor));
}

void Module::collectParameters(const std::string& prefix, bool recurse,
                               OrderedDict<std::string, Tensor>& out, bool buffers) const {
  for (const auto& p : buffers ? buffers_ : parameters_) {
    if (p.value().defined()) out.insert(prefix + p.key(), p.value());
  }
  if (!recurse) return;
  for (const auto& c : children_) {
    c.value()->collectParameters(prefix + c.key() + ".", true, out, buffers);
  }
}

OrderedDict<std::string, Tensor> Module::named_parameters(bool recurse) const {
  OrderedDict<std::string, Tensor> out;
  collectParameters("", recurse, out, false);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  return named_parameters(recurse).values();
}

OrderedDict<std::string, Tensor> Module::named_buffers(bool recurse) const {
  OrderedDict<std::string, Tensor> out;
  collectParameters("", recurse, out, true);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  return named_buffers(recurse).values();
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  return children_.values();
}

OrderedDict<std::string, std::shared_ptr<Module>> Module::named_children() const {
  return children_;
}

void Module::collectModules(const std::string& prefix,
                            OrderedDict<std::string, std::shared_ptr<Module>>& out) {
  for (const auto& c : children_) {
    std::string key = prefix.empty() ? c.key() : prefix + "." + c.key();
    out.insert(key, c.value());
    c.value()->collectModules(key, out);
  }
}

OrderedDict<std::string, std::shared_ptr<Module>> Module::named_modules(
    const std::string& name_prefix, bool include_self) {
  OrderedDict<std::string, std::shared_ptr<Module>> out;
  if (include_self) out.insert(name_prefix, shared_from_this());
  collectModules(name_prefix, out);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::modules(bool include_self) {
  return named_modules("", include_self).values();
}

void Module::train(bool on) {
  is_training_ = on;
  for (const auto& c : children_) c.value()->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    Tensor& g = p.mutable_grad();
    if (!g.defined()) continue;
    if (set_to_none) {
      g = Tensor();
    } else {
      g = g.detach();
      g.zero_();
    }
  }
}

void Module::to(ScalarType dtype, bool non_blocking) {
  NoGradGuard no_grad;
  for (auto* dict : {&parameters_, &buffers_}) {
    for (auto& p : *dict) {
      Tensor& t = p.value();
      if (!t.defined() || t.dtype() == dtype) continue;
      Tensor converted = t.detach().to(dtype, non_blocking, /*copy=*/true);
      converted.eval();
      setData(t, converted);
    }
  }
  for (const auto& c : children_) c.value()->to(dtype, non_blocking);
}

void Module::pretty_print(std::ostream& stream) const {
  stream << name();
}

std::ostream& operator<<(std::ostream& stream, const Module& module) {
  printRecursive(stream, module, "");
  return stream;
}

}  // namespace kiln::nn
