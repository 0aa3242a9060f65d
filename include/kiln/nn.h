#pragma once
// kiln::nn: modules, module holders, initialisation and functional ops with libtorch's names
// (torch::nn becomes kiln::nn). Everything records lazy ops: a forward pass, its backward and the
// optimizer update (kiln/optim.h) compile together.
//
//   struct NetImpl : kiln::nn::Module {
//     NetImpl() : fc1(register_module("fc1", kiln::nn::Linear(784, 64))),
//                 fc2(register_module("fc2", kiln::nn::Linear(64, 10))) {}
//     kiln::Tensor forward(const kiln::Tensor& x) { return fc2(kiln::relu(fc1(x))); }
//     kiln::nn::Linear fc1, fc2;
//   };
//   KILN_MODULE(Net);
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiln/error.h"
#include "kiln/ops.h"
#include "kiln/tensor.h"

/// An option with a chainable setter and a getter, as libtorch's TORCH_ARG:
/// `LinearOptions(3, 4).bias(false)`, `options.bias()`.
#define KILN_ARG(T, name)                                  \
 public:                                                   \
  inline auto name(const T& new_##name)->decltype(*this) { \
    this->name##_ = new_##name;                            \
    return *this;                                          \
  }                                                        \
  inline const T& name() const noexcept {                  \
    return this->name##_;                                  \
  }                                                        \
  inline T& name() noexcept {                              \
    return this->name##_;                                  \
  }                                                        \
                                                           \
 private:                                                  \
  T name##_

namespace kiln {

/// An insertion-ordered map with libtorch's interface (items have key() and value()); the
/// containers of a module's parameters, buffers and children.
template <typename Key, typename Value>
class OrderedDict {
 public:
  class Item {
   public:
    Item(Key key, Value value) : pair_(std::move(key), std::move(value)) {}
    const Key& key() const noexcept { return pair_.first; }
    Value& value() noexcept { return pair_.second; }
    const Value& value() const noexcept { return pair_.second; }
    Value& operator*() noexcept { return pair_.second; }
    const Value& operator*() const noexcept { return pair_.second; }
    Value* operator->() noexcept { return &pair_.second; }
    const Value* operator->() const noexcept { return &pair_.second; }
    const std::pair<Key, Value>& pair() const noexcept { return pair_; }

   private:
    std::pair<Key, Value> pair_;
  };
  using Iterator = typename std::vector<Item>::iterator;
  using ConstIterator = typename std::vector<Item>::const_iterator;

  /// `key_description` names keys in error messages ("Parameter 'w' already defined").
  explicit OrderedDict(std::string key_description = "Key")
      : key_description_(std::move(key_description)) {}

  Value& insert(Key key, Value value) {
    if (index_.count(key) != 0) throw Error(key_description_ + " '" + key + "' already defined");
    index_.emplace(key, items_.size());
    items_.emplace_back(std::move(key), std::move(value));
    return items_.back().value();
  }
  /// Inserts or replaces.
  Value& update(Key key, Value value) {
    if (Value* v = find(key)) return *v = std::move(value);
    return insert(std::move(key), std::move(value));
  }
  Value* find(const Key& key) noexcept {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &items_[it->second].value();
  }
  const Value* find(const Key& key) const noexcept {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &items_[it->second].value();
  }
  bool contains(const Key& key) const noexcept { return find(key) != nullptr; }
  Value& operator[](const Key& key) {
    if (Value* v = find(key)) return *v;
    throw Error(key_description_ + " '" + key + "' is not defined");
  }
  const Value& operator[](const Key& key) const {
    if (const Value* v = find(key)) return *v;
    throw Error(key_description_ + " '" + key + "' is not defined");
  }
  Item& operator[](size_t index) { return items_.at(index); }
  const Item& operator[](size_t index) const { return items_.at(index); }

  Iterator begin() { return items_.begin(); }
  Iterator end() { return items_.end(); }
  ConstIterator begin() const { return items_.begin(); }
  ConstIterator end() const { return items_.end(); }
  size_t size() const noexcept { return items_.size(); }
  bool is_empty() const noexcept { return items_.empty(); }
  const std::vector<Item>& items() const noexcept { return items_; }
  std::vector<Key> keys() const {
    std::vector<Key> r;
    for (const Item& i : items_) r.push_back(i.key());
    return r;
  }
  std::vector<Value> values() const {
    std::vector<Value> r;
    for (const Item& i : items_) r.push_back(i.value());
    return r;
  }
  void clear() {
    items_.clear();
    index_.clear();
  }

 private:
  std::string key_description_;
  std::vector<Item> items_;
  std::unordered_map<Key, size_t> index_;
};

/// How a loss reduces its per-element values (libtorch's torch::kNone, kMean, kSum).
enum class Reduction { None, Mean, Sum };
inline constexpr Reduction kNone = Reduction::None;
inline constexpr Reduction kMean = Reduction::Mean;
inline constexpr Reduction kSum = Reduction::Sum;

namespace nn {

template <typename Contained>
class ModuleHolder;

/// The base of every module: named parameters, buffers and submodules, and the training flag.
/// Modules live in std::shared_ptr (module holders and register_module keep them there).
class Module : public std::enable_shared_from_this<Module> {
 public:
  /// `name` is what printing shows; without it, the demangled C++ type name.
  explicit Module(std::string name);
  Module();
  virtual ~Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

  const std::string& name() const;

  /// Parameters of this module and (with `recurse`) of its submodules, depth first, in
  /// registration order; undefined ones (a Linear without bias) are left out.
  std::vector<Tensor> parameters(bool recurse = true) const;
  /// The same, keyed by dotted paths ("fc1.weight", "0.bias").
  OrderedDict<std::string, Tensor> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  OrderedDict<std::string, Tensor> named_buffers(bool recurse = true) const;
  /// Direct submodules.
  std::vector<std::shared_ptr<Module>> children() const;
  OrderedDict<std::string, std::shared_ptr<Module>> named_children() const;
  /// This module (when `include_self`; it must be held by a shared_ptr) and all submodules,
  /// depth first.
  std::vector<std::shared_ptr<Module>> modules(bool include_self = true);
  OrderedDict<std::string, std::shared_ptr<Module>> named_modules(
      const std::string& name_prefix = "", bool include_self = true);

  /// Sets training mode here and in every submodule (dropout reads it).
  virtual void train(bool on = true);
  void eval() { train(false); }
  virtual bool is_training() const noexcept { return is_training_; }

  /// Clears the gradients of all parameters: with `set_to_none` (libtorch's default) they become
  /// undefined, which keeps each training step's graph the same; otherwise they are zeroed.
  virtual void zero_grad(bool set_to_none = true);

  /// Converts the parameters and buffers to `dtype` in place (as libtorch's set_data: every
  /// handle to a parameter, a module's members included, sees the converted tensor). Gradients
  /// are cleared.
  virtual void to(ScalarType dtype, bool non_blocking = false);

  /// The one-line description printing uses ("kiln::nn::Linear(in_features=2, ...)").
  virtual void pretty_print(std::ostream& stream) const;

  /// Registers a parameter (sets its requires_grad) and returns the stored handle. An undefined
  /// tensor is allowed (an absent bias) and is skipped by parameters().
  Tensor& register_parameter(std::string name, Tensor tensor, bool requires_grad = true);
  /// Registers state that is not a parameter (no gradient).
  Tensor& register_buffer(std::string name, Tensor tensor);
  template <typename ModuleType>
  std::shared_ptr<ModuleType> register_module(std::string name,
                                              std::shared_ptr<ModuleType> module) {
    checkName(name, "Submodule");
    children_.insert(name, module);
    return module;
  }
  template <typename ModuleType>
  std::shared_ptr<ModuleType> register_module(std::string name,
                                              ModuleHolder<ModuleType> module_holder) {
    return register_module(std::move(name), module_holder.ptr());
  }

 private:
  static void checkName(const std::string& name, const char* what);
  void collectParameters(const std::string& prefix, bool recurse,
                         OrderedDict<std::string, Tensor>& out, bool buffers) const;
  void collectModules(const std::string& prefix,
                      OrderedDict<std::string, std::shared_ptr<Module>>& out);

  mutable std::optional<std::string> name_;
  OrderedDict<std::string, Tensor> parameters_{"Parameter"};
  OrderedDict<std::string, Tensor> buffers_{"Buffer"};
  OrderedDict<std::string, std::shared_ptr<Module>> children_{"Submodule"};
  bool is_training_ = true;
};

/// Prints the module and its submodules as libtorch does.
std::ostream& operator<<(std::ostream& stream, const Module& module);

/// A shared-pointer handle to a module implementation (`Linear` holds a `LinearImpl`), as
/// libtorch's ModuleHolder: `->` reaches the module, calling it runs forward().
template <typename Contained>
class ModuleHolder {
 public:
  using ContainedType = Contained;

  /// Default-constructs the module when it can be (an empty holder needs `nullptr`).
  ModuleHolder() requires std::is_default_constructible_v<Contained>
      : impl_(std::make_shared<Contained>()) {}
  /// An empty holder, to be assigned later.
  ModuleHolder(std::nullptr_t) {}  // NOLINT: implicit, as libtorch
  /// Constructs the module from these arguments.
  template <typename Head, typename... Tail>
  requires(!std::is_base_of_v<ModuleHolder, std::decay_t<Head>> &&
           (sizeof...(Tail) > 0 ||
            !std::is_convertible_v<
                Head, std::shared_ptr<Contained>>)) explicit ModuleHolder(Head&& head,
                                                                          Tail&&... tail)
      : impl_(std::make_shared<Contained>(std::forward<Head>(head), std::forward<Tail>(tail)...)) {}
  /// Shares an existing module (what register_module returns).
  ModuleHolder(std::shared_ptr<Contained> module)  // NOLINT: implicit, as libtorch
      : impl_(std::move(module)) {}

  explicit operator bool() const noexcept { return impl_ != nullptr; }
  bool is_empty() const noexcept { return impl_ == nullptr; }
  Contained* operator->() { return get(); }
  const Contained* operator->() const { return get(); }
  Contained& operator*() { return *get(); }
  const Contained& operator*() const { return *get(); }
  const std::shared_ptr<Contained>& ptr() const { return checked(); }
  Contained* get() { return checked().get(); }
  const Contained* get() const { return checked().get(); }

  template <typename... Args>
  decltype(auto) operator()(Args&&... args) {
    return checked()->forward(std::forward<Args>(args)...);
  }

 protected:
  std::shared_ptr<Contained> impl_;

 private:
  const std::shared_ptr<Contained>& checked() const {
    if (!impl_) {
      throw Error(
          "Accessing empty ModuleHolder. Did you construct it with nullptr and forget to "
          "initialize it?");
    }
    return impl_;
  }
};

template <typename Contained>
std::ostream& operator<<(std::ostream& stream, const ModuleHolder<Contained>& holder) {
  return stream << *holder;
}

}  // namespace nn
}  // namespace kiln

/// Declares the holder `Name` for the module class `NameImpl` (libtorch's TORCH_MODULE).
#define KILN_MODULE(Name)                                     \
  class Name : public ::kiln::nn::ModuleHolder<Name##Impl> {  \
   public:                                                    \
    using ::kiln::nn::ModuleHolder<Name##Impl>::ModuleHolder; \
  }

namespace kiln::nn {

// --- initialisation (libtorch's torch::nn::init): in place, without recording gradients, from
// kiln::rand / kiln::randn, so that manual_seed reproduces them ---
namespace init {
enum class Nonlinearity { Linear, Conv1D, Conv2D, Conv3D, Sigmoid, Tanh, ReLU, LeakyReLU };
enum class FanMode { FanIn, FanOut };
/// The recommended gain for a nonlinearity (param: LeakyReLU's negative slope, 0.01 if unset).
double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param = std::nullopt);
/// (fan_in, fan_out) of a weight of at least 2 dimensions.
std::pair<int64_t, int64_t> _calculate_fan_in_and_fan_out(const Tensor& tensor);
Tensor uniform_(Tensor tensor, double low = 0, double high = 1);
Tensor normal_(Tensor tensor, double mean = 0, double std = 1);
Tensor constant_(Tensor tensor, Scalar value);
Tensor zeros_(Tensor tensor);
Tensor ones_(Tensor tensor);
Tensor kaiming_uniform_(Tensor tensor, double a = 0, FanMode mode = FanMode::FanIn,
                        Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
Tensor kaiming_normal_(Tensor tensor, double a = 0, FanMode mode = FanMode::FanIn,
                       Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
Tensor xavier_uniform_(Tensor tensor, double gain = 1.0);
Tensor xavier_normal_(Tensor tensor, double gain = 1.0);
}  // namespace init

// --- functional (libtorch's torch::nn::functional; `namespace F = kiln::nn::functional;`) ---
namespace functional {

struct LinearFuncOptions {};

struct ReLUFuncOptions {
  ReLUFuncOptions(bool inplace = false) : inplace_(inplace) {}  // NOLINT: implicit, as libtorch
  KILN_ARG(bool, inplace);
};

struct LogSoftmaxFuncOptions {
  LogSoftmaxFuncOptions(int64_t dim) : dim_(dim) {}  // NOLINT: implicit, as libtorch
  KILN_ARG(int64_t, dim);
  KILN_ARG(std::optional<ScalarType>, dtype) = std::nullopt;
};
using SoftmaxFuncOptions = LogSoftmaxFuncOptions;

struct DropoutFuncOptions {
  KILN_ARG(double, p) = 0.5;
  KILN_ARG(bool, training) = true;
  KILN_ARG(bool, inplace) = false;
};

struct NLLLossFuncOptions {
  /// Per-class weights ([C]); undefined for none.
  KILN_ARG(Tensor, weight) = {};
  KILN_ARG(int64_t, ignore_index) = -100;
  KILN_ARG(Reduction, reduction) = kMean;
};

struct CrossEntropyFuncOptions {
  KILN_ARG(Tensor, weight) = {};
  KILN_ARG(int64_t, ignore_index) = -100;
  KILN_ARG(Reduction, reduction) = kMean;
  KILN_ARG(double, label_smoothing) = 0.0;
};

struct MSELossFuncOptions {
  MSELossFuncOptions(Reduction reduction = kMean)  // NOLINT: implicit, as libtorch
      : reduction_(reduction) {}
  KILN_ARG(Reduction, reduction);
};

struct LayerNormFuncOptions {
  LayerNormFuncOptions(std::vector<int64_t> normalized_shape)  // NOLINT: implicit, as libtorch
      : normalized_shape_(std::move(normalized_shape)) {}
  KILN_ARG(std::vector<int64_t>, normalized_shape);
  KILN_ARG(Tensor, weight) = {};
  KILN_ARG(Tensor, bias) = {};
  KILN_ARG(double, eps) = 1e-5;
};

struct GELUFuncOptions {
  /// "none" (exact, with erf) or "tanh" (the tanh approximation).
  KILN_ARG(std::string, approximate) = "none";
};

struct SmoothL1LossFuncOptions {
  SmoothL1LossFuncOptions(Reduction reduction = kMean)  // NOLINT: implicit, as libtorch
      : reduction_(reduction) {}
  KILN_ARG(Reduction, reduction);
  KILN_ARG(double, beta) = 1.0;
};

struct BinaryCrossEntropyFuncOptions {
  KILN_ARG(Tensor, weight) = {};
  KILN_ARG(Reduction, reduction) = kMean;
};

struct BinaryCrossEntropyWithLogitsFuncOptions {
  KILN_ARG(Tensor, weight) = {};
  KILN_ARG(Reduction, reduction) = kMean;
  KILN_ARG(Tensor, pos_weight) = {};
};

/// input @ weight.t() + bias; input [*, in_features], weight [out_features, in_features].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {});
Tensor relu(const Tensor& input, const ReLUFuncOptions& options = {});
Tensor log_softmax(const Tensor& input, const LogSoftmaxFuncOptions& options);
Tensor log_softmax(const Tensor& input, int64_t dim,
                   std::optional<ScalarType> dtype = std::nullopt);
Tensor softmax(const Tensor& input, const SoftmaxFuncOptions& options);
Tensor softmax(const Tensor& input, int64_t dim, std::optional<ScalarType> dtype = std::nullopt);
/// Zeroes each element with probability p (a mask from kiln::rand) and scales the rest by
/// 1/(1-p) when training; the input itself otherwise.
Tensor dropout(const Tensor& input, const DropoutFuncOptions& options = {});
Tensor dropout(const Tensor& input, double p, bool training = true, bool inplace = false);
/// Negative log likelihood of log-probabilities input [N, C] (or [C]) at int64 class indices
/// target [N] (or []). The pick is a product with a one-hot mask (differentiable, fused).
/// Targets are not range-checked (that would force a materialisation): an index outside
/// [0, C) other than ignore_index contributes 0.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& options = {});
/// log_softmax over dim 1 then nll_loss; a floating target of the input's shape is read as
/// class probabilities (as PyTorch).
Tensor cross_entropy(const Tensor& input, const Tensor& target,
                     const CrossEntropyFuncOptions& options = {});
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& options = {});
struct EmbeddingFuncOptions {
  KILN_ARG(std::optional<int64_t>, padding_idx) = std::nullopt;
  KILN_ARG(std::optional<double>, max_norm) = std::nullopt;  // not supported yet
  KILN_ARG(double, norm_type) = 2.;
  KILN_ARG(bool, scale_grad_by_freq) = false;  // not supported yet
  KILN_ARG(bool, sparse) = false;              // not supported yet
};
/// The rows of weight [num_embeddings, D] at input's indices (kiln::embedding): a lazy gather
/// that fuses with what computes the weight and what reads the rows.
Tensor embedding(const Tensor& input, const Tensor& weight,
                 const EmbeddingFuncOptions& options = {});
/// Normalises over the trailing dims named by normalized_shape (mean and biased variance per
/// row, then (x - mean) / sqrt(var + eps)), then scales by weight and adds bias when given.
Tensor layer_norm(const Tensor& input, const LayerNormFuncOptions& options);
/// x * Phi(x), Phi the standard normal CDF (erf computed to float32 accuracy), or its tanh
/// approximation with approximate("tanh").
Tensor gelu(const Tensor& input, const GELUFuncOptions& options = {});
/// 0.5 d^2 / beta where d = |input - target| < beta, else d - 0.5 beta (beta 0: the L1 loss).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                      const SmoothL1LossFuncOptions& options = {});
/// -weight (t log(x) + (1 - t) log(1 - x)), each log clamped to at least -100 as PyTorch's. The
/// inputs are not checked to lie in [0, 1] (that would force a materialisation).
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            const BinaryCrossEntropyFuncOptions& options = {});
/// binary_cross_entropy of sigmoid(input), computed stably from the logits; pos_weight scales
/// the positive term.
Tensor binary_cross_entropy_with_logits(
    const Tensor& input, const Tensor& target,
    const BinaryCrossEntropyWithLogitsFuncOptions& options = {});

}  // namespace functional

// --- modules ---

struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  KILN_ARG(int64_t, in_features);
  KILN_ARG(int64_t, out_features);
  KILN_ARG(bool, bias) = true;
};

/// y = x W^T + b, initialised as libtorch: W ~ kaiming_uniform(a = sqrt(5)), b ~ U(-1/sqrt(fan_in),
/// 1/sqrt(fan_in)). The parameters are computed at construction, so that the first training step
/// reads buffers, as every later step does.
class LinearImpl : public Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features)
      : LinearImpl(LinearOptions(in_features, out_features)) {}
  explicit LinearImpl(const LinearOptions& options);
  /// Registers new parameters and initialises them.
  void reset();
  void reset_parameters();
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  LinearOptions options;
  Tensor weight;
  Tensor bias;
};
KILN_MODULE(Linear);

struct ReLUOptions {
  ReLUOptions(bool inplace = false) : inplace_(inplace) {}  // NOLINT: implicit, as libtorch
  KILN_ARG(bool, inplace);
};

class ReLUImpl : public Module {
 public:
  explicit ReLUImpl(const ReLUOptions& options = {});
  Tensor forward(Tensor input);
  void pretty_print(std::ostream& stream) const override;
  ReLUOptions options;
};
KILN_MODULE(ReLU);

struct DropoutOptions {
  DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT: implicit, as libtorch
  KILN_ARG(double, p);
  KILN_ARG(bool, inplace) = false;
};

/// Dropout while training (see Module::train/eval); the identity in eval mode.
class DropoutImpl : public Module {
 public:
  explicit DropoutImpl(const DropoutOptions& options = {});
  Tensor forward(Tensor input);
  void pretty_print(std::ostream& stream) const override;
  DropoutOptions options;
};
KILN_MODULE(Dropout);

/// Flattens dims start_dim..end_dim (default 1..-1: everything but the batch).
struct FlattenOptions {
  KILN_ARG(int64_t, start_dim) = 1;
  KILN_ARG(int64_t, end_dim) = -1;
};
class FlattenImpl : public Module {
 public:
  explicit FlattenImpl(const FlattenOptions& options = {});
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& stream) const override;
  FlattenOptions options;
};
KILN_MODULE(Flatten);

struct LayerNormOptions {
  LayerNormOptions(std::vector<int64_t> normalized_shape)  // NOLINT: implicit, as libtorch
      : normalized_shape_(std::move(normalized_shape)) {}
  KILN_ARG(std::vector<int64_t>, normalized_shape);
  KILN_ARG(double, eps) = 1e-5;
  KILN_ARG(bool, elementwise_affine) = true;
};

/// Layer normalisation over the trailing normalized_shape dims, with a learned weight (ones)
/// and bias (zeros) when elementwise_affine.
class LayerNormImpl : public Module {
 public:
  LayerNormImpl(std::vector<int64_t> normalized_shape)  // NOLINT: implicit, as libtorch
      : LayerNormImpl(LayerNormOptions(std::move(normalized_shape))) {}
  explicit LayerNormImpl(const LayerNormOptions& options);
  /// Registers new parameters and initialises them.
  void reset();
  void reset_parameters();
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  LayerNormOptions options;
  Tensor weight;
  Tensor bias;
};
KILN_MODULE(LayerNorm);

struct EmbeddingOptions {
  EmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  KILN_ARG(int64_t, num_embeddings);
  KILN_ARG(int64_t, embedding_dim);
  KILN_ARG(std::optional<int64_t>, padding_idx) = std::nullopt;
  KILN_ARG(std::optional<double>, max_norm) = std::nullopt;  // not supported yet
  KILN_ARG(double, norm_type) = 2.;
  KILN_ARG(bool, scale_grad_by_freq) = false;  // not supported yet
  KILN_ARG(bool, sparse) = false;              // not supported yet
  KILN_ARG(Tensor, _weight) = Tensor();
};

/// A lookup table of num_embeddings vectors of embedding_dim: forward(indices) gives their rows.
/// The weight starts as N(0, 1) draws (or options._weight), its padding_idx row as zeros, which
/// receives no gradient.
class EmbeddingImpl : public Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim)
      : EmbeddingImpl(EmbeddingOptions(num_embeddings, embedding_dim)) {}
  explicit EmbeddingImpl(const EmbeddingOptions& options);
  /// Registers a new weight and initialises it.
  void reset();
  void reset_parameters();
  Tensor forward(const Tensor& indices);
  void pretty_print(std::ostream& stream) const override;

  EmbeddingOptions options;
  Tensor weight;
};
KILN_MODULE(Embedding);

using GELUOptions = functional::GELUFuncOptions;
using MSELossOptions = functional::MSELossFuncOptions;
using CrossEntropyLossOptions = functional::CrossEntropyFuncOptions;

/// Modules without parameters that apply one function: Sigmoid, Tanh, GELU.
class SigmoidImpl : public Module {
 public:
  SigmoidImpl() : Module("kiln::nn::Sigmoid") {}
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& stream) const override;
};
KILN_MODULE(Sigmoid);

class TanhImpl : public Module {
 public:
  TanhImpl() : Module("kiln::nn::Tanh") {}
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& stream) const override;
};
KILN_MODULE(Tanh);

class GELUImpl : public Module {
 public:
  explicit GELUImpl(GELUOptions options = {});
  Tensor forward(const Tensor& input);
  void pretty_print(std::ostream& stream) const override;
  GELUOptions options;
};
KILN_MODULE(GELU);

/// mse_loss as a module: forward(input, target).
class MSELossImpl : public Module {
 public:
  explicit MSELossImpl(const MSELossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target);
  void pretty_print(std::ostream& stream) const override;
  MSELossOptions options;
};
KILN_MODULE(MSELoss);

/// cross_entropy as a module: forward(input, target); the class weights (options.weight()) are
/// registered as the buffer "weight" when given.
class CrossEntropyLossImpl : public Module {
 public:
  explicit CrossEntropyLossImpl(const CrossEntropyLossOptions& options = {});
  Tensor forward(const Tensor& input, const Tensor& target);
  void pretty_print(std::ostream& stream) const override;
  CrossEntropyLossOptions options;
  Tensor weight;
};
KILN_MODULE(CrossEntropyLoss);

/// Wraps a function of a tensor as a module (for Sequential); extra arguments given at
/// construction are passed after the input: Functional(kiln::relu), Functional(f, 0.5).
class FunctionalImpl : public Module {
 public:
  using Function = std::function<Tensor(Tensor)>;
  explicit FunctionalImpl(Function function);
  template <typename F, typename First, typename... Rest>
  FunctionalImpl(F function, First&& first, Rest&&... rest)
      : FunctionalImpl(Function([function, first = std::forward<First>(first),
                                 ... rest = std::forward<Rest>(rest)](Tensor input) {
          return function(std::move(input), first, rest...);
        })) {}
  Tensor forward(Tensor input);
  Tensor operator()(Tensor input) { return forward(std::move(input)); }
  void pretty_print(std::ostream& stream) const override;

 private:
  Function function_;
};
KILN_MODULE(Functional);

/// A type-erased module with `Tensor forward(const Tensor&)`, what Sequential holds (libtorch's
/// AnyModule, for one-tensor modules).
class AnyModule {
 public:
  AnyModule() = default;
  template <typename ModuleType>
  requires std::is_base_of_v<Module, ModuleType> AnyModule(
      std::shared_ptr<ModuleType> module)  // NOLINT: implicit, as libtorch
      : module_(module), forward_([m = module.get()](const Tensor& x) { return m->forward(x); }) {}
  template <typename ModuleType>
  AnyModule(const ModuleHolder<ModuleType>& holder)  // NOLINT: implicit, as libtorch
      : AnyModule(holder.ptr()) {}
  template <typename ModuleType>
  requires std::is_base_of_v<Module, std::decay_t<ModuleType>> AnyModule(
      ModuleType&& module)  // NOLINT: implicit, as libtorch
      : AnyModule(std::make_shared<std::decay_t<ModuleType>>(std::forward<ModuleType>(module))) {}

  Tensor forward(const Tensor& input) const;
  const std::shared_ptr<Module>& ptr() const { return module_; }
  bool is_empty() const noexcept { return module_ == nullptr; }

 private:
  std::shared_ptr<Module> module_;
  std::function<Tensor(const Tensor&)> forward_;
};

/// A module with its name, for Sequential's named construction: {{"fc", Linear(2, 3)}, ...}.
struct NamedAnyModule {
  template <typename M>
  NamedAnyModule(std::string name, M&& module)
      : name(std::move(name)), module(std::forward<M>(module)) {}
  std::string name;
  AnyModule module;
};

/// Runs its modules in order, each on the previous one's output. Submodules are named "0", "1",
/// ... unless given names.
class SequentialImpl : public Module {
 public:
  SequentialImpl();
  template <typename... Modules>
  requires(sizeof...(Modules) > 0 &&
           !(sizeof...(Modules) == 1 && (std::is_same_v<std::decay_t<Modules>, SequentialImpl> &&
                                         ...))) explicit SequentialImpl(Modules&&... modules)
      : SequentialImpl() {
    (push_back(AnyModule(std::forward<Modules>(modules))), ...);
  }
  explicit SequentialImpl(std::initializer_list<NamedAnyModule> named_modules);

  void push_back(AnyModule module);
  void push_back(std::string name, AnyModule module);
  /// Appends every module of another Sequential.
  void extend(const SequentialImpl& other);

  Tensor forward(const Tensor& input);

  size_t size() const noexcept { return modules_.size(); }
  bool is_empty() const noexcept { return modules_.empty(); }
  std::shared_ptr<Module> ptr(size_t index) const { return modules_.at(index).ptr(); }
  Module& operator[](size_t index) const { return *ptr(index); }
  template <typename T>
  T& at(size_t index) const {
    auto* m = dynamic_cast<T*>(ptr(index).get());
    if (m == nullptr) throw Error("Attempted to cast module to the wrong type");
    return *m;
  }
  std::vector<AnyModule>::const_iterator begin() const { return modules_.begin(); }
  std::vector<AnyModule>::const_iterator end() const { return modules_.end(); }
  void pretty_print(std::ostream& stream) const override;

 private:
  std::vector<AnyModule> modules_;
};

class Sequential : public ModuleHolder<SequentialImpl> {
 public:
  using ModuleHolder<SequentialImpl>::ModuleHolder;
  Sequential() : ModuleHolder(std::make_shared<SequentialImpl>()) {}
  Sequential(std::initializer_list<NamedAnyModule> named_modules)
      : ModuleHolder(std::make_shared<SequentialImpl>(named_modules)) {}
};

}  // namespace kiln::nn

namespace kiln {

/// A loss's reduction as libtorch's top-level functions take it: an int64 (at::Reduction's
/// values: 0 none, 1 mean, 2 sum) or a kiln::Reduction.
class ReductionCode {
 public:
  ReductionCode(int64_t code);   // NOLINT: implicit, as libtorch's int64_t parameter
  ReductionCode(Reduction mode)  // NOLINT: implicit
      : mode_(mode) {}
  Reduction mode() const { return mode_; }

 private:
  Reduction mode_;
};

/// The losses and layers of nn::functional as libtorch's top-level functions (torch::nll_loss,
/// torch::layer_norm, ...), with their positional parameters.
Tensor nll_loss(const Tensor& self, const Tensor& target, const Tensor& weight = {},
                ReductionCode reduction = Reduction::Mean, int64_t ignore_index = -100);
Tensor mse_loss(const Tensor& self, const Tensor& target,
                ReductionCode reduction = Reduction::Mean);
Tensor smooth_l1_loss(const Tensor& self, const Tensor& target,
                      ReductionCode reduction = Reduction::Mean, double beta = 1.0);
Tensor binary_cross_entropy(const Tensor& self, const Tensor& target, const Tensor& weight = {},
                            ReductionCode reduction = Reduction::Mean);
Tensor binary_cross_entropy_with_logits(const Tensor& self, const Tensor& target,
                                        const Tensor& weight = {}, const Tensor& pos_weight = {},
                                        ReductionCode reduction = Reduction::Mean);
Tensor layer_norm(const Tensor& input, IntArrayRef normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5, bool cudnn_enable = true);
Tensor gelu(const Tensor& self, const std::string& approximate = "none");
Tensor dropout(const Tensor& input, double p, bool train);

}  // namespace kiln
