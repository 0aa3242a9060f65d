// nn::functional: layers and losses composed from kiln's differentiable ops, so their gradients
// come from the ops' own rules and everything fuses with the surrounding graph.
#include <iostream>
#include <mutex>
#include <sstream>

#include "kiln/autograd.h"
#include "kiln/nn.h"
#include "kiln/runtime.h"
#include "lib/autograd/function.h"

namespace kiln::nn::functional {

namespace {

std::string sizesText(IntArrayRef sizes) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < sizes.size(); ++i) s << (i ? ", " : "") << sizes[i];
  s << "]";
  return s.str();
}

std::string numberText(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

Tensor reduce(const Tensor& per_element, Reduction reduction) {
  switch (reduction) {
    case Reduction::None:
      return per_element;
    case Reduction::Sum:
      return per_element.sum();
    case Reduction::Mean:
      return per_element.mean();
  }
  return per_element;
}

// A loss computed as a composite of kiln's ops, recorded as PyTorch's single backward function
// `name` that saves `saved` (its input and target): the composite's own functions save other
// tensors, so an in-place change of the input after the loss went unnoticed where PyTorch's
// version check refuses it. The function passes the gradient on to the composite's history.
Tensor asOneFunction(const Tensor& out, const char* name, std::vector<Tensor> saved) {
  if (!is_grad_enabled() || !out.requires_grad()) return out;
  Tensor alias = out.detach();
  autograd::record(
      alias, name, {out}, std::move(saved),
      [](const Tensor& g, const std::vector<Tensor>&) { return std::vector<Tensor>{g}; });
  return alias;
}

// The checks of PyTorch's nll_loss_nd and nll_loss, in their order; returns the class count.
int64_t checkNllShapes(const Tensor& input, const Tensor& target, const Tensor& weight) {
  if (input.dim() < 1) {
    throw Error("Expected 1 or more dimensions (got " + std::to_string(input.dim()) + ")");
  }
  if (input.dim() != 1 && target.dim() >= 1 && input.size(0) != target.size(0)) {
    throw Error("Expected input batch_size (" + std::to_string(input.size(0)) +
                ") to match target batch_size (" + std::to_string(target.size(0)) + ").");
  }
  if (input.dim() > 2) {
    throw Error(
        "kiln: nll_loss and cross_entropy take inputs of 1 or 2 dimensions ([C] or [N, C]); "
        "more dimensions are not supported yet");
  }
  if (target.dim() > 1) throw Error("0D or 1D target tensor expected, multi-target not supported");
  bool no_batch_dim = input.dim() == 1 && target.dim() == 0;
  if (!no_batch_dim && (target.dim() == 0 || input.size(0) != target.size(0))) {
    throw Error("size mismatch (got input: " + sizesText(input.sizes()) +
                ", target: " + sizesText(target.sizes()) + ")");
  }
  if (target.dtype() != kLong) {
    throw Error("expected scalar type Long but found " + std::string(toString(target.dtype())));
  }
  int64_t classes = input.size(-1);
  if (weight.defined() && (weight.dim() != 1 || weight.numel() != classes)) {
    throw Error(
        "weight tensor should be defined either for all " + std::to_string(classes) +
        " classes or no classes but got weight tensor of shape: " + sizesText(weight.sizes()));
  }
  return classes;
}

// The pieces nll_loss and label-smoothed cross_entropy share, for input [N, C], target [N].
struct NllParts {
  Tensor onehot;       // [N, C] in the input's dtype: 1 at each row's target class
  Tensor valid;        // [N]: 0 where the target is ignore_index (undefined when none can be)
  Tensor row_weight;   // [N]: weight[target] (undefined without class weights)
  Tensor denominator;  // what Mean divides by: the total weight of the rows not ignored
};

NllParts nllParts(const Tensor& input, const Tensor& target, const Tensor& weight,
                  int64_t ignore_index) {
  const int64_t classes = input.size(1);
  NllParts p;
  // The gather of target classes as a product with a one-hot mask: differentiable with the
  // ops' own rules and fused into the reduction that consumes it.
  p.onehot = (arange(classes, kLong).unsqueeze(0) == target.unsqueeze(1)).to(input.dtype());
  // An ignore_index outside [0, C) matches no class: the one-hot row is already zero.
  if (ignore_index >= 0 && ignore_index < classes) {
    p.valid = (target != ignore_index).to(input.dtype());
    p.onehot = p.onehot * p.valid.unsqueeze(1);
  }
  if (weight.defined()) {
    p.row_weight = (p.onehot * weight.to(input.dtype()).unsqueeze(0)).sum({1});
    p.denominator = p.row_weight.sum();
  } else if (p.valid.defined()) {
    p.denominator = p.valid.sum();
  } else {
    p.denominator = (target != ignore_index).to(input.dtype()).sum();
  }
  return p;
}

Tensor reduceRows(const Tensor& per_row, const NllParts& parts, Reduction reduction) {
  switch (reduction) {
    case Reduction::None:
      return per_row;
    case Reduction::Sum:
      return per_row.sum();
    case Reduction::Mean:
      return per_row.sum() / parts.denominator;
  }
  return per_row;
}

}  // namespace

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  Tensor out;
  if (input.dim() == 2) {
    out = input.mm(weight.t());
  } else if (input.dim() <= 1) {
    out = matmul(input, weight.t());
  } else {
    // Batch dims folded into rows, as PyTorch's linear does for matmul of >2-D inputs.
    std::vector<int64_t> sizes = input.sizes().vec();
    Tensor rows = input.reshape({-1, sizes.back()}).mm(weight.t());
    sizes.back() = weight.size(0);
    out = rows.reshape(sizes);
  }
  return bias.defined() ? out + bias : out;
}

Tensor relu(const Tensor& input, const ReLUFuncOptions& options) {
  if (options.inplace()) {
    Tensor t = input;
    return t.relu_();
  }
  return kiln::relu(input);
}

Tensor log_softmax(const Tensor& input, const LogSoftmaxFuncOptions& options) {
  return input.log_softmax(options.dim(), options.dtype());
}
Tensor log_softmax(const Tensor& input, int64_t dim, std::optional<ScalarType> dtype) {
  return input.log_softmax(dim, dtype);
}
Tensor softmax(const Tensor& input, const SoftmaxFuncOptions& options) {
  return input.softmax(options.dim(), options.dtype());
}
Tensor softmax(const Tensor& input, int64_t dim, std::optional<ScalarType> dtype) {
  return input.softmax(dim, dtype);
}

Tensor dropout(const Tensor& input, double p, bool training, bool inplace) {
  if (p < 0 || p > 1) {
    throw Error("dropout probability has to be between 0 and 1, but got " + numberText(p));
  }
  if (!training || p == 0 || input.numel() == 0) return input;
  if (!input.is_floating_point()) {
    throw Error("dropout is only implemented for floating point tensors, got " +
                std::string(toString(input.dtype())));
  }
  // Keep with probability 1 - p; the mask is Philox numbers evaluated inside the consuming
  // kernel, so it costs no memory traffic and its seed is a kernel argument.
  Tensor keep = (rand(input.sizes(), TensorOptions(input.dtype())) >= p).to(input.dtype());
  Tensor scale = p == 1 ? keep * 0.0 : keep * (1.0 / (1.0 - p));
  if (inplace) {
    Tensor t = input;
    return t.mul_(scale);
  }
  return input * scale;
}

Tensor dropout(const Tensor& input, const DropoutFuncOptions& options) {
  return dropout(input, options.p(), options.training(), options.inplace());
}

namespace {
// nll_loss of input [N, C] and target [N].
Tensor nllLossRows(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& options) {
  NllParts parts = nllParts(input, target, options.weight(), options.ignore_index());
  Tensor picked = (input * parts.onehot).sum({1});
  Tensor per_row = parts.row_weight.defined() ? -(picked * parts.row_weight) : -picked;
  return reduceRows(per_row, parts, options.reduction());
}
}  // namespace

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& options) {
  checkNllShapes(input, target, options.weight());
  Tensor r;
  if (input.dim() == 1) {
    // One sample without a batch dimension.
    r = nllLossRows(input.unsqueeze(0), target.reshape({1}), options);
    if (options.reduction() == kNone) r = r.squeeze(0);
  } else {
    r = nllLossRows(input, target, options);
  }
  return asOneFunction(r, "NllLossBackward0", {input, target});
}

Tensor cross_entropy(const Tensor& input, const Tensor& target,
                     const CrossEntropyFuncOptions& options) {
  const double smoothing = options.label_smoothing();
  if (smoothing < 0 || smoothing > 1) {
    throw Error("label_smoothing must be between 0.0 and 1.0. Got: " + numberText(smoothing));
  }
  if (input.dim() >= 1 && input.sizes() == target.sizes()) {
    // Class probabilities (soft labels).
    if (!target.is_floating_point()) {
      throw Error("Expected floating point type for target with class probabilities, got " +
                  std::string(toString(target.dtype())));
    }
    if (options.ignore_index() != -100) {
      throw Error("ignore_index is not supported for floating point target");
    }
    if (input.dim() > 2) {
      throw Error(
          "kiln: cross_entropy takes inputs of 1 or 2 dimensions ([C] or [N, C]); more "
          "dimensions are not supported yet");
    }
    const int64_t class_dim = input.dim() == 1 ? 0 : 1;
    const int64_t classes = input.size(class_dim);
    const Tensor& weight = options.weight();
    if (weight.defined() && (weight.dim() != 1 || weight.numel() != classes)) {
      throw Error(
          "weight tensor should be defined either for all " + std::to_string(classes) +
          " classes or no classes but got weight tensor of shape: " + sizesText(weight.sizes()));
    }
    Tensor t = smoothing > 0 ? target * (1 - smoothing) + smoothing / classes : target;
    Tensor logp = input.log_softmax(class_dim);
    if (weight.defined()) logp = logp * weight.to(input.dtype());
    Tensor per = logp * t;
    switch (options.reduction()) {
      case Reduction::None:
        return -per.sum({class_dim});
      case Reduction::Sum:
        return -per.sum();
      case Reduction::Mean:
        return -per.sum() / static_cast<double>(input.numel() / classes);
    }
  }
  checkNllShapes(input, target, options.weight());
  Tensor logp = input.log_softmax(input.dim() == 1 ? 0 : 1);
  NLLLossFuncOptions nll;
  nll.weight(options.weight()).ignore_index(options.ignore_index()).reduction(options.reduction());
  Tensor loss = nll_loss(logp, target, nll);
  if (smoothing == 0) return loss;
  // PyTorch's label smoothing: (1 - e) * nll + e / C * (the loss against uniform targets).
  bool unbatched = input.dim() == 1;
  Tensor lp = unbatched ? logp.unsqueeze(0) : logp;
  Tensor tg = unbatched ? target.reshape({1}) : target;
  const int64_t classes = lp.size(1);
  NllParts parts = nllParts(lp, tg, options.weight(), options.ignore_index());
  Tensor weighted =
      options.weight().defined() ? lp * options.weight().to(lp.dtype()).unsqueeze(0) : lp;
  // Rows whose target is ignore_index add nothing (PyTorch's masked_fill of ignore_mask).
  Tensor keep = parts.valid.defined() ? parts.valid : (tg != options.ignore_index()).to(lp.dtype());
  Tensor smooth = -weighted.sum({1}) * keep;
  Tensor smooth_red = reduceRows(smooth, parts, options.reduction());
  if (unbatched && options.reduction() == kNone) smooth_red = smooth_red.squeeze(0);
  return loss * (1 - smoothing) + smooth_red * (smoothing / static_cast<double>(classes));
}

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& options) {
  if (input.sizes() != target.sizes()) {
    static std::once_flag warned;
    std::call_once(warned, [&] {
      std::cerr << "Warning: Using a target size (" << sizesText(target.sizes())
                << ") that is different to the input size (" << sizesText(input.sizes())
                << "). This will likely lead to incorrect results due to broadcasting. Please "
                   "ensure they have the same size.\n";
    });
  }
  Tensor d = input - target;
  return asOneFunction(reduce(d * d, options.reduction()), "MseLossBackward0", {input, target});
}

}  // namespace kiln::nn::functional
