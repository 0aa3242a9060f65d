// The built-in modules: Linear, ReLU, Dropout, Flatten, LayerNorm, Sigmoid, Tanh, GELU, MSELoss,
// CrossEntropyLoss, Functional, Sequential.
#include <cmath>
#include <sstream>

#include "kiln/autograd.h"
#include "kiln/nn.h"
#include "kiln/runtime.h"

namespace kiln::nn {

LinearImpl::LinearImpl(const LinearOptions& options_)
    : Module("kiln::nn::Linear"), options(options_) {
  reset();
}

void LinearImpl::reset() {
  weight = register_parameter("weight", empty({options.out_features(), options.in_features()}));
  if (options.bias()) {
    bias = register_parameter("bias", empty({options.out_features()}));
  } else {
    bias = register_parameter("bias", Tensor(), /*requires_grad=*/false);
  }
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::_calculate_fan_in_and_fan_out(weight);
    const double bound = fan_in > 0 ? 1 / std::sqrt(static_cast<double>(fan_in)) : 0;
    init::uniform_(bias, -bound, bound);
  }
  // Computed now, so that the first training step reads the parameters from memory like every
  // later step does (one graph structure, compiled once).
  kiln::eval({weight, bias});
}

Tensor LinearImpl::forward(const Tensor& input) {
  return functional::linear(input, weight, bias);
}

void LinearImpl::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "kiln::nn::Linear(in_features=" << options.in_features()
         << ", out_features=" << options.out_features() << ", bias=" << options.bias() << ")";
}

ReLUImpl::ReLUImpl(const ReLUOptions& options_) : Module("kiln::nn::ReLU"), options(options_) {}

Tensor ReLUImpl::forward(Tensor input) {
  return functional::relu(input, functional::ReLUFuncOptions(options.inplace()));
}

void ReLUImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::ReLU(" << (options.inplace() ? "inplace=true" : "") << ")";
}

DropoutImpl::DropoutImpl(const DropoutOptions& options_)
    : Module("kiln::nn::Dropout"), options(options_) {
  if (options.p() < 0 || options.p() > 1) {
    std::ostringstream s;
    s << "dropout probability has to be between 0 and 1, but got " << options.p();
    throw Error(s.str());
  }
}

Tensor DropoutImpl::forward(Tensor input) {
  return functional::dropout(input, options.p(), is_training(), options.inplace());
}

void DropoutImpl::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "kiln::nn::Dropout(p=" << options.p()
         << ", inplace=" << options.inplace() << ")";
}

FlattenImpl::FlattenImpl(const FlattenOptions& options_)
    : Module("kiln::nn::Flatten"), options(options_) {}

Tensor FlattenImpl::forward(const Tensor& input) {
  return input.flatten(options.start_dim(), options.end_dim());
}

void FlattenImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::Flatten(start_dim=" << options.start_dim()
         << ", end_dim=" << options.end_dim() << ")";
}

LayerNormImpl::LayerNormImpl(const LayerNormOptions& options_)
    : Module("kiln::nn::LayerNorm"), options(options_) {
  reset();
}

void LayerNormImpl::reset() {
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", kiln::empty(options.normalized_shape()));
    bias = register_parameter("bias", kiln::empty(options.normalized_shape()));
  } else {
    weight = register_parameter("weight", Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", Tensor(), /*requires_grad=*/false);
  }
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  if (!options.elementwise_affine()) return;
  init::ones_(weight);
  init::zeros_(bias);
  kiln::eval({weight, bias});
}

Tensor LayerNormImpl::forward(const Tensor& input) {
  return functional::layer_norm(input, functional::LayerNormFuncOptions(options.normalized_shape())
                                           .weight(weight)
                                           .bias(bias)
                                           .eps(options.eps()));
}

void LayerNormImpl::pretty_print(std::ostream& stream) const {
  stream << std::boolalpha << "kiln::nn::LayerNorm([";
  const std::vector<int64_t>& shape = options.normalized_shape();
  for (size_t i = 0; i < shape.size(); ++i) stream << (i ? ", " : "") << shape[i];
  stream << "], eps=" << options.eps() << ", elementwise_affine=" << options.elementwise_affine()
         << ")";
}

EmbeddingImpl::EmbeddingImpl(const EmbeddingOptions& options_)
    : Module("kiln::nn::Embedding"), options(options_) {
  reset();
}

void EmbeddingImpl::reset() {
  if (std::optional<int64_t> pad = options.padding_idx()) {
    if (*pad >= options.num_embeddings()) throw Error("Padding_idx must be within num_embeddings");
    if (*pad < -options.num_embeddings()) throw Error("Padding_idx must be within num_embedding");
    if (*pad < 0) options.padding_idx(options.num_embeddings() + *pad);
  }
  const Tensor& given = options._weight();
  if (given.defined()) {
    if (given.sizes() != IntArrayRef({options.num_embeddings(), options.embedding_dim()}))
      throw Error("Shape of _weight does not match num_embeddings and embedding_dim");
    weight = register_parameter("weight", given);
  } else {
    weight = register_parameter("weight",
                                kiln::empty({options.num_embeddings(), options.embedding_dim()}));
    reset_parameters();
  }
}

void EmbeddingImpl::reset_parameters() {
  init::normal_(weight);
  if (std::optional<int64_t> pad = options.padding_idx()) {
    kiln::NoGradGuard no_grad;
    weight.select(0, *pad).fill_(0);
  }
  kiln::eval({weight});
}

Tensor EmbeddingImpl::forward(const Tensor& indices) {
  return functional::embedding(indices, weight,
                               functional::EmbeddingFuncOptions()
                                   .padding_idx(options.padding_idx())
                                   .max_norm(options.max_norm())
                                   .norm_type(options.norm_type())
                                   .scale_grad_by_freq(options.scale_grad_by_freq())
                                   .sparse(options.sparse()));
}

void EmbeddingImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::Embedding(num_embeddings=" << options.num_embeddings()
         << ", embedding_dim=" << options.embedding_dim();
  if (options.padding_idx()) stream << ", padding_idx=" << *options.padding_idx();
  if (options.max_norm()) stream << ", max_norm=" << *options.max_norm();
  if (options.norm_type() != 2) stream << ", norm_type=" << options.norm_type();
  if (options.scale_grad_by_freq()) stream << ", scale_grad_by_freq=" << std::boolalpha << true;
  if (options.sparse()) stream << ", sparse=" << std::boolalpha << true;
  stream << ")";
}

Tensor SigmoidImpl::forward(const Tensor& input) {
  return input.sigmoid();
}

void SigmoidImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::Sigmoid()";
}

Tensor TanhImpl::forward(const Tensor& input) {
  return input.tanh();
}

void TanhImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::Tanh()";
}

GELUImpl::GELUImpl(GELUOptions options_) : Module("kiln::nn::GELU"), options(std::move(options_)) {}

Tensor GELUImpl::forward(const Tensor& input) {
  return functional::gelu(input, options);
}

void GELUImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::GELU()";
}

MSELossImpl::MSELossImpl(const MSELossOptions& options_)
    : Module("kiln::nn::MSELoss"), options(options_) {}

Tensor MSELossImpl::forward(const Tensor& input, const Tensor& target) {
  return functional::mse_loss(input, target, options);
}

void MSELossImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::MSELoss()";
}

CrossEntropyLossImpl::CrossEntropyLossImpl(const CrossEntropyLossOptions& options_)
    : Module("kiln::nn::CrossEntropyLoss"), options(options_) {
  weight = register_buffer("weight", options.weight());
}

Tensor CrossEntropyLossImpl::forward(const Tensor& input, const Tensor& target) {
  CrossEntropyLossOptions o = options;
  return functional::cross_entropy(input, target, o.weight(weight));
}

void CrossEntropyLossImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::CrossEntropyLoss()";
}

FunctionalImpl::FunctionalImpl(Function function)
    : Module("kiln::nn::Functional"), function_(std::move(function)) {}

Tensor FunctionalImpl::forward(Tensor input) {
  return function_(std::move(input));
}

void FunctionalImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::Functional()";
}

Tensor AnyModule::forward(const Tensor& input) const {
  if (!forward_) throw Error("Cannot call forward() on an empty AnyModule");
  return forward_(input);
}

SequentialImpl::SequentialImpl() : Module("kiln::nn::Sequential") {}

SequentialImpl::SequentialImpl(std::initializer_list<NamedAnyModule> named_modules)
    : SequentialImpl() {
  for (const NamedAnyModule& m : named_modules) push_back(m.name, m.module);
}

void SequentialImpl::push_back(AnyModule module) {
  push_back(std::to_string(modules_.size()), std::move(module));
}

void SequentialImpl::push_back(std::string name, AnyModule module) {
  if (module.is_empty()) throw Error("Sequential: cannot add an empty module");
  register_module(std::move(name), module.ptr());
  modules_.push_back(std::move(module));
}

void SequentialImpl::extend(const SequentialImpl& other) {
  for (const AnyModule& m : other) push_back(m);
}

Tensor SequentialImpl::forward(const Tensor& input) {
  if (modules_.empty()) throw Error("Cannot call forward() on an empty Sequential");
  Tensor x = input;
  for (const AnyModule& m : modules_) x = m.forward(x);
  return x;
}

void SequentialImpl::pretty_print(std::ostream& stream) const {
  stream << "kiln::nn::Sequential";
}

}  // namespace kiln::nn
