// nn::functional: layers and losses composed from kiln's differentiable ops, so their gradients
// come from the ops' own rules and everything fuses with the surrounding graph.
#include <absl/strings/str_cat.h>

#include <cmath>
#include <sstream>

#include "kiln/autograd.h"
#include "kiln/nn.h"
#include "kiln/runtime.h"
#include "kiln/warning.h"
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

// PyTorch's kernel check of each target class (ignore_index aside): it reads the targets, so
// kiln materializes them here, when the loss is recorded, to throw PyTorch's error then rather
// than compute a loss that silently drops the row (the one-hot mask would match no class).
void checkTargets(const Tensor& target, int64_t classes, int64_t ignore_index) {
  Tensor t = target.detach().contiguous();
  const int64_t* p = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (p[i] != ignore_index && (p[i] < 0 || p[i] >= classes)) {
      throw Error("Target " + std::to_string(p[i]) + " is out of bounds.");
    }
  }
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
  const int64_t classes = checkNllShapes(input, target, options.weight());
  checkTargets(target, classes, options.ignore_index());
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

namespace {

// Applies PyTorch's reduction to a loss's per-element values, as one backward function `name`.
Tensor lossOf(const Tensor& per_element, Reduction reduction, const char* name,
              std::vector<Tensor> saved) {
  std::vector<Tensor> defined;
  for (Tensor& t : saved) {
    if (t.defined()) defined.push_back(std::move(t));
  }
  return asOneFunction(reduce(per_element, reduction), name, std::move(defined));
}

// libtorch's nn::functional losses warn where broadcasting the target would likely be a mistake
// (its top-level ATen functions broadcast without a word).
void warnIfTargetBroadcasts(const Tensor& input, const Tensor& target, const char* loss) {
  if (input.sizes() == target.sizes()) return;
  Warning::warn({loss, __FILE__, static_cast<uint32_t>(__LINE__)},
                absl::StrCat("Using a target size (", sizesText(target.sizes()),
                             ") that is different to the input size (", sizesText(input.sizes()),
                             "). This will likely lead to incorrect results due to broadcasting. "
                             "Please ensure they have the same size."),
                /*verbatim=*/false);
}

Tensor mseLoss(const Tensor& input, const Tensor& target, Reduction reduction) {
  Tensor d = input - target;
  return asOneFunction(reduce(d * d, reduction), "MseLossBackward0", {input, target});
}

Tensor smoothL1Loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
  if (beta < 0) throw Error("smooth_l1_loss does not support negative values for beta.");
  Tensor d = (input - target).abs();
  Tensor per = beta == 0 ? d : where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta);
  return lossOf(per, reduction, "SmoothL1LossBackward0", {input, target});
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& options) {
  warnIfTargetBroadcasts(input, target, "mse_loss");
  return mseLoss(input, target, options.reduction());
}

namespace {

// The standard normal CDF of x: 0.5 erfc(-x / sqrt 2), with erfc from Numerical Recipes' erfcc
// (Chebyshev fit, relative error under 1.2e-7 everywhere, so the lower tail keeps its relative
// accuracy), composed of kiln's ops so that it fuses with its surroundings.
Tensor normalCdf(const Tensor& x) {
  Tensor z = x.abs() * M_SQRT1_2;
  Tensor t = 1.0 / (z * 0.5 + 1.0);
  const double c[] = {-1.26551223, 1.00002368,  0.37409196, 0.09678418,  -0.18628806,
                      0.27886807,  -1.13520398, 1.48851587, -0.82215223, 0.17087277};
  Tensor poly = t * c[9];
  for (int k = 8; k >= 1; --k) poly = t * (poly + c[k]);
  Tensor erfc_z = t * (-(z * z) + c[0] + poly).exp();  // erfc(|x| / sqrt 2)
  return where(x >= 0, 1.0 - erfc_z * 0.5, erfc_z * 0.5);
}

std::string shapeText(IntArrayRef shape) {
  return sizesText(shape);
}

}  // namespace

Tensor embedding(const Tensor& input, const Tensor& weight, const EmbeddingFuncOptions& options) {
  if (options.max_norm()) throw Error("embedding: max_norm is not supported yet");
  int64_t pad = -1;
  if (std::optional<int64_t> p = options.padding_idx()) {
    if (*p >= weight.size(0) || *p < -weight.size(0))
      throw Error(*p >= 0 ? "Padding_idx must be within num_embeddings"
                          : "Padding_idx must be within num_embedding");
    pad = *p < 0 ? weight.size(0) + *p : *p;
  }
  return kiln::embedding(weight, input, pad, options.scale_grad_by_freq(), options.sparse());
}

Tensor layer_norm(const Tensor& input, const LayerNormFuncOptions& options) {
  const std::vector<int64_t>& shape = options.normalized_shape();
  const Tensor& weight = options.weight();
  const Tensor& bias = options.bias();
  const int64_t k = static_cast<int64_t>(shape.size());
  if (k < 1) {
    throw Error(
        "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
        "element, but got normalized_shape = " +
        shapeText(shape));
  }
  if (weight.defined() && weight.sizes() != IntArrayRef(shape)) {
    throw Error(
        "Expected weight to be of same shape as normalized_shape, but got weight of shape " +
        shapeText(weight.sizes()) + " and normalized_shape = " + shapeText(shape));
  }
  if (bias.defined() && bias.sizes() != IntArrayRef(shape)) {
    throw Error("Expected bias to be of same shape as normalized_shape, but got bias of shape " +
                shapeText(bias.sizes()) + " and normalized_shape = " + shapeText(shape));
  }
  const int64_t n = input.dim();
  bool fits = n >= k;
  for (int64_t i = 0; fits && i < k; ++i) fits = input.size(n - k + i) == shape[i];
  if (!fits) {
    std::string expected = "[*";
    for (int64_t x : shape) expected += ", " + std::to_string(x);
    throw Error("Given normalized_shape=" + shapeText(shape) + ", expected input with shape " +
                expected + "], but got input of size" + shapeText(input.sizes()));
  }
  std::vector<int64_t> dims;
  for (int64_t i = n - k; i < n; ++i) dims.push_back(i);
  Tensor centered = input - input.mean(dims, true);
  Tensor y = centered * ((centered * centered).mean(dims, true) + options.eps()).rsqrt();
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  std::vector<Tensor> saved{input};
  for (const Tensor& t : {weight, bias}) {
    if (t.defined()) saved.push_back(t);
  }
  return asOneFunction(y, "NativeLayerNormBackward0", std::move(saved));
}

Tensor gelu(const Tensor& input, const GELUFuncOptions& options) {
  if (options.approximate() == "tanh") {
    const double k = std::sqrt(2.0 / M_PI);
    Tensor inner = (input + input * input * input * 0.044715) * k;
    return asOneFunction(input * 0.5 * (inner.tanh() + 1.0), "GeluBackward0", {input});
  }
  if (options.approximate() != "none") {
    throw Error("approximate argument must be either none or tanh.");
  }
  Tensor y;
  {
    NoGradGuard no_grad;
    y = input * normalCdf(input);
  }
  // d/dx x Phi(x) = Phi(x) + x phi(x), written out rather than differentiated through erfc's
  // polynomial fit.
  autograd::record(y, "GeluBackward0", {input}, {input},
                   [](const Tensor& g, const std::vector<Tensor>& saved) {
                     const Tensor& x = saved[0];
                     Tensor density = (x * x * -0.5).exp() * (0.5 * M_2_SQRTPI * M_SQRT1_2);
                     return std::vector<Tensor>{g * (normalCdf(x) + x * density)};
                   });
  return y;
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                      const SmoothL1LossFuncOptions& options) {
  warnIfTargetBroadcasts(input, target, "smooth_l1_loss");
  return smoothL1Loss(input, target, options.reduction(), options.beta());
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            const BinaryCrossEntropyFuncOptions& options) {
  if (target.sizes() != input.sizes()) {
    throw Error("Using a target size (" + shapeText(target.sizes()) +
                ") that is different to the input size (" + shapeText(input.sizes()) +
                ") is deprecated. Please ensure they have the same size.");
  }
  Tensor per = (target - 1.0) * maximum((1.0 - input).log(), full({}, -100.0, input.dtype())) -
               target * maximum(input.log(), full({}, -100.0, input.dtype()));
  if (options.weight().defined()) per = per * options.weight();
  return lossOf(per, options.reduction(), "BinaryCrossEntropyBackward0",
                {input, target, options.weight()});
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsFuncOptions& options) {
  if (target.sizes() != input.sizes()) {
    throw Error("Target size (" + shapeText(target.sizes()) + ") must be the same as input size (" +
                shapeText(input.sizes()) + ")");
  }
  // PyTorch's stable form: log(1 + e^-x) = m + log(e^-m + e^(-x-m)) with m = max(-x, 0).
  Tensor m = (-input).relu();
  Tensor softplus = ((-m).exp() + (-input - m).exp()).log() + m;
  Tensor per =
      options.pos_weight().defined()
          ? (1.0 - target) * input + ((options.pos_weight() - 1.0) * target + 1.0) * softplus
          : (1.0 - target) * input + softplus;
  if (options.weight().defined()) per = per * options.weight();
  return lossOf(per, options.reduction(), "BinaryCrossEntropyWithLogitsBackward0",
                {input, target, options.weight(), options.pos_weight()});
}

}  // namespace kiln::nn::functional

namespace kiln {

ReductionCode::ReductionCode(int64_t code) {
  if (code < 0 || code > 2) {
    throw Error("kiln: reduction " + std::to_string(code) +
                " is not one of 0 (none), 1 (mean) and 2 (sum)");
  }
  mode_ = code == 0 ? Reduction::None : code == 1 ? Reduction::Mean : Reduction::Sum;
}

Tensor nll_loss(const Tensor& self, const Tensor& target, const Tensor& weight,
                ReductionCode reduction, int64_t ignore_index) {
  return nn::functional::nll_loss(self, target,
                                  nn::functional::NLLLossFuncOptions()
                                      .weight(weight)
                                      .reduction(reduction.mode())
                                      .ignore_index(ignore_index));
}

Tensor mse_loss(const Tensor& self, const Tensor& target, ReductionCode reduction) {
  return nn::functional::mseLoss(self, target, reduction.mode());
}

Tensor smooth_l1_loss(const Tensor& self, const Tensor& target, ReductionCode reduction,
                      double beta) {
  return nn::functional::smoothL1Loss(self, target, reduction.mode(), beta);
}

Tensor binary_cross_entropy(const Tensor& self, const Tensor& target, const Tensor& weight,
                            ReductionCode reduction) {
  return nn::functional::binary_cross_entropy(
      self, target,
      nn::functional::BinaryCrossEntropyFuncOptions().weight(weight).reduction(reduction.mode()));
}

Tensor binary_cross_entropy_with_logits(const Tensor& self, const Tensor& target,
                                        const Tensor& weight, const Tensor& pos_weight,
                                        ReductionCode reduction) {
  return nn::functional::binary_cross_entropy_with_logits(
      self, target,
      nn::functional::BinaryCrossEntropyWithLogitsFuncOptions()
          .weight(weight)
          .pos_weight(pos_weight)
          .reduction(reduction.mode()));
}

Tensor layer_norm(const Tensor& input, IntArrayRef normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps, bool) {
  return nn::functional::layer_norm(input,
                                    nn::functional::LayerNormFuncOptions(normalized_shape.vec())
                                        .weight(weight)
                                        .bias(bias)
                                        .eps(eps));
}

Tensor gelu(const Tensor& self, const std::string& approximate) {
  return nn::functional::gelu(self, nn::functional::GELUFuncOptions().approximate(approximate));
}

Tensor dropout(const Tensor& input, double p, bool train) {
  return nn::functional::dropout(input, p, train, false);
}

}  // namespace kiln
