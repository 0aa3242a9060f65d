// The differentiable reductions, softmaxes and matrix products: each is the front end's raw op
// (lib/frontend/raw_ops.h) plus its backward rule when an input requires grad. Names follow
// PyTorch's grad_fn classes.
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/autograd/function.h"
#include "lib/autograd/rules.h"
#include "lib/frontend/common.h"
#include "lib/frontend/raw_ops.h"

namespace kiln {

using autograd::recordReduction;
using autograd::Saves;
using detail::reduceDims;

namespace {

// How many elements each result of a reduction over `dims` covers.
// As a double: the exact count of an empty tensor's reduction can overflow an int64 (a
// [3, 2^62, 0] over dims 0 and 1); its result is then empty and the count unused.
double countOf(const Tensor& a, const std::vector<int64_t>& dims) {
  double n = 1;
  for (int64_t d : dims) n *= static_cast<double>(a.size(d));
  return n;
}

// The shape and dtype of a reduction's input: what a rule that saves nothing knows of it.
struct InputShape {
  std::vector<int64_t> sizes;
  ScalarType dtype;
  InputShape(const Tensor& a) : sizes(a.sizes().vec()), dtype(a.dtype()) {}  // NOLINT
};

// The output gradient of a reduction over `dims` spread back over the input's shape.
Tensor spread(const Tensor& g, const InputShape& a, const std::vector<int64_t>& dims,
              bool keepdim) {
  Tensor r = g;
  if (!keepdim) {
    for (int64_t d : dims) r = r.unsqueeze(d);
  }
  r = r.expand(a.sizes);
  return r.dtype() == a.dtype ? r : r.to(a.dtype);
}

Tensor sumImpl(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype,
               const char* name) {
  Tensor out = detail::reduceSum(a, dim, keepdim, dtype);
  recordReduction(
      out, a, name, Saves::Nothing,
      [dims = reduceDims(a, dim), keepdim, in = InputShape(a)](
          const Tensor& g, const Tensor&, const Tensor&) { return spread(g, in, dims, keepdim); });
  return out;
}

// mean over dims saves its input (libtorch 1.13's MeanBackward1 does, so a later in-place change
// of it is refused); the mean of all elements saves nothing.
Tensor meanImpl(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype,
                const char* name, Saves saves) {
  Tensor out = detail::reduceMean(a, dim, keepdim, dtype);
  std::vector<int64_t> dims = reduceDims(a, dim);
  double n = countOf(a, dims);
  recordReduction(
      out, a, name, saves,
      [dims, keepdim, n, in = InputShape(a)](const Tensor& g, const Tensor&, const Tensor&) {
        return spread(g / n, in, dims, keepdim);
      });
  return out;
}

// max/min-like reductions share the gradient equally among the elements equal to the result.
void recordExtremum(Tensor& out, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim,
                    const char* name) {
  recordReduction(out, a, name, Saves::Both,
                  [dims, keepdim](const Tensor& g, const Tensor& x, const Tensor& y) {
                    Tensor hit = (x == spread(y, x, dims, keepdim)).to(x.dtype());
                    Tensor count = dims.empty() ? hit.sum() : hit.sum(dims, true);
                    Tensor share = hit / count;
                    return spread(g, x, dims, keepdim) * share;
                  });
}

Tensor prodImpl(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim,
                std::optional<ScalarType> dtype, const char* name) {
  Tensor out = detail::reduceProd(a, dims, keepdim, dtype);
  recordReduction(
      out, a, name, Saves::Both,
      [dims, keepdim, name](const Tensor& g, const Tensor& x, const Tensor&) {
        // PyTorch's prod_backward, without dividing by zero: where a reduced slice holds no zero,
        // each input's gradient is the product of the others; where it holds one, only the zero
        // gets one (the product of the others); where it holds two or more, all get zero.
        Tensor zero = x == 0;
        Tensor nonzero = where(zero, ones_like(x), x);
        Tensor hits = zero.to(x.dtype());
        Tensor zeros_in = spread(dims.empty() ? hits.sum() : hits.sum(dims, true), x, dims, true);
        Tensor others = spread(prodImpl(nonzero, dims, true, std::nullopt, name), x, dims, true);
        Tensor factor =
            where(zero, (zeros_in == 1).to(x.dtype()), (zeros_in == 0).to(x.dtype()) / nonzero);
        return spread(g, x, dims, keepdim) * others * factor;
      });
  return out;
}

Tensor extremum(const Tensor& a, IntArrayRef dim, bool keepdim, ir::ReduceOp op, const char* what,
                const char* name) {
  Tensor out = detail::reduceExtremum(a, dim, keepdim, op, what);
  recordExtremum(out, a, reduceDims(a, dim), keepdim, name);
  return out;
}

// max(dim) and min(dim) as PyTorch's value_selecting_reduction_backward: each result's gradient
// goes to the one element its index names (among ties, the one the indices picked), and only
// the indices are saved.
std::tuple<Tensor, Tensor> selectAlong(const Tensor& a, int64_t dim, bool keepdim, ir::ReduceOp op,
                                       const char* what, const char* name) {
  Tensor values = detail::reduceExtremum(a, {detail::wrapDim(dim, a.dim())}, keepdim, op, what);
  Tensor indices = detail::reduceArg(a, dim, keepdim, op, what);
  if (!autograd::needsGrad({&a})) return {values, indices};
  const int64_t d = detail::wrapDim(dim, a.dim());
  autograd::record(values, name, {a}, {indices},
                   [d, keepdim, in = InputShape(a)](const Tensor& g, const std::vector<Tensor>& s) {
                     if (in.sizes.empty()) return std::vector<Tensor>{spread(g, in, {}, true)};
                     Tensor idx = keepdim ? s[0] : s[0].unsqueeze(d);
                     Tensor gk = keepdim ? g : g.unsqueeze(d);
                     std::vector<int64_t> along(in.sizes.size(), 1);
                     along[d] = in.sizes[d];
                     Tensor hit = arange(in.sizes[d], kLong).view(along) == idx;
                     return std::vector<Tensor>{spread(where(hit, gk, 0), in, {}, true)};
                   });
  return {values, indices};
}

Tensor extremumAll(const Tensor& a, ir::ReduceOp op, const char* what, const char* name) {
  Tensor out = detail::reduceAll(a, op, what);
  recordExtremum(out, a, reduceDims(a, {}), false, name);
  return out;
}

Tensor varImpl(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  Tensor out = detail::reduceVar(a, dim, unbiased, keepdim);
  std::vector<int64_t> dims = reduceDims(a, dim);
  double denom = std::max(countOf(a, dims) - (unbiased ? 1 : 0), 0.0);
  recordReduction(out, a, "VarBackward0", Saves::Input,
                  [dims, keepdim, denom](const Tensor& g, const Tensor& x, const Tensor&) {
                    Tensor centered = x - (dims.empty() ? x.mean() : x.mean(dims, true));
                    return spread(g, x, dims, keepdim) * centered * (2.0 / denom);
                  });
  return out;
}

// std as PyTorch's std_backward: var's gradient of g / (2 * std), zero where std is zero (a
// constant slice gets zero gradient, not NaN). Saves its input and result.
Tensor stdImpl(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = sqrt(detail::reduceVar(a, dim, unbiased, keepdim));
  }
  std::vector<int64_t> dims = reduceDims(a, dim);
  double denom = std::max(countOf(a, dims) - (unbiased ? 1 : 0), 0.0);
  recordReduction(out, a, "StdBackward0", Saves::Both,
                  [dims, keepdim, denom](const Tensor& g, const Tensor& x, const Tensor& y) {
                    Tensor gv = where(y == 0, zeros_like(g), g / (y * 2));
                    Tensor centered = x - (dims.empty() ? x.mean() : x.mean(dims, true));
                    return spread(gv, x, dims, keepdim) * centered * (2.0 / denom);
                  });
  return out;
}

// The p-norm over `dim` (all dimensions when empty), as torch.norm with its derivative
// (PyTorch's norm_backward: zero where the norm is zero, the gradient shared among the maxima
// for p = +-inf). Saves its input and result.
Tensor normImpl(const Tensor& a, double p, IntArrayRef dim, bool keepdim, const char* name) {
  if (!isFloatingType(a.dtype())) {
    throw Error(absl::StrCat("norm(): input dtype should be either floating point or complex. Got ",
                             std::string(toString(a.dtype())), " instead."));
  }
  std::vector<int64_t> dims = reduceDims(a, dim);
  Tensor out;
  {
    NoGradGuard no_grad;
    Tensor ax = a.abs();
    if (p == 2) {
      out = (a * a).sum(dims, keepdim).sqrt();
    } else if (p == 1) {
      out = ax.sum(dims, keepdim);
    } else if (std::isinf(p)) {
      out = p > 0 ? ax.amax(dims, keepdim) : ax.amin(dims, keepdim);
    } else if (p == 0) {
      out = (a != 0).sum(dims, keepdim).to(a.dtype());
    } else {
      out = ax.pow(p).sum(dims, keepdim).pow(1.0 / p);
    }
  }
  recordReduction(out, a, name, Saves::Both,
                  [dims, keepdim, p](const Tensor& g, const Tensor& x, const Tensor& y) {
                    Tensor gs = spread(g, x, dims, keepdim);
                    Tensor ys = spread(y, x, dims, keepdim);
                    Tensor sgn = (x > 0).to(x.dtype()) - (x < 0).to(x.dtype());
                    if (p == 0) return zeros_like(x);
                    if (p == 1) return sgn * gs;
                    if (std::isinf(p)) {
                      Tensor ax = x.abs();
                      Tensor mask = logical_or(ax == ys, ax != ax).to(x.dtype());
                      Tensor count = mask.sum(dims, true);
                      return sgn * (gs / count * mask);
                    }
                    Tensor zero = zeros_like(x);
                    if (p < 1) {
                      Tensor scaled = where(x == 0, zero, sgn * x.abs().pow(p - 1));
                      return scaled * gs * ys.pow(1 - p);
                    }
                    Tensor scale = where(ys == 0, zero, gs / ys.pow(p - 1));
                    Tensor scaled = p < 2 ? sgn * x.abs().pow(p - 1) : x * x.abs().pow(p - 2);
                    return scaled * scale;
                  });
  return out;
}

// softmax's and log_softmax's input: `a` in `dtype` when given. PyTorch's CPU kernels exist for
// floating types only, and name themselves in the error (a softmax over the last dimension, or
// of a 0-dim tensor, has kernels of its own).
Tensor softmaxInput(const Tensor& a, int64_t dim, std::optional<ScalarType> dtype, bool log) {
  Tensor x = dtype ? a.to(*dtype) : a;
  // An empty input reaches no kernel: PyTorch returns it, whatever its dtype.
  if (!isFloatingType(x.dtype()) && x.numel() > 0) {
    const bool last = x.dim() == 0 || detail::wrapDim(dim, x.dim()) == x.dim() - 1;
    const char* kernel = !last ? "softmax_kernel_impl"
                         : log ? "log_softmax_lastdim_kernel_impl"
                               : "softmax_lastdim_kernel_impl";
    throw Error(absl::StrCat("\"", kernel, "\" not implemented for '",
                             std::string(toString(x.dtype())), "'"));
  }
  return x;
}

// a [..., m, k] @ b [..., k, n], recording `name` as its backward function.
Tensor batchedMatmul(const Tensor& a, const Tensor& b, const char* name) {
  Tensor out = detail::matmulProduct(a, b);
  autograd::recordMatmul(out, a, b, name);
  return out;
}

}  // namespace

Tensor sum(const Tensor& a, std::optional<ScalarType> dtype) {
  return sumImpl(a, {}, false, dtype, "SumBackward0");
}
Tensor sum(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) {
  return sumImpl(a, dim, keepdim, dtype, "SumBackward1");
}
Tensor mean(const Tensor& a, std::optional<ScalarType> dtype) {
  return meanImpl(a, {}, false, dtype, "MeanBackward0", Saves::Nothing);
}
Tensor mean(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) {
  return meanImpl(a, dim, keepdim, dtype, "MeanBackward1", Saves::Input);
}
Tensor prod(const Tensor& a, std::optional<ScalarType> dtype) {
  return prodImpl(a, reduceDims(a, {}), false, dtype, "ProdBackward0");
}
Tensor prod(const Tensor& a, int64_t dim, bool keepdim, std::optional<ScalarType> dtype) {
  return prodImpl(a, reduceDims(a, {dim}), keepdim, dtype, "ProdBackward1");
}
Tensor amax(const Tensor& a, IntArrayRef dim, bool keepdim) {
  return extremum(a, dim, keepdim, ir::ReduceOp::Max, "amax", "AmaxBackward0");
}
Tensor amin(const Tensor& a, IntArrayRef dim, bool keepdim) {
  return extremum(a, dim, keepdim, ir::ReduceOp::Min, "amin", "AminBackward0");
}
Tensor max(const Tensor& a) {
  return extremumAll(a, ir::ReduceOp::Max, "max", "MaxBackward1");
}
Tensor min(const Tensor& a) {
  return extremumAll(a, ir::ReduceOp::Min, "min", "MinBackward1");
}
std::tuple<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) {
  return selectAlong(a, dim, keepdim, ir::ReduceOp::Max, "max", "MaxBackward0");
}
std::tuple<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim) {
  return selectAlong(a, dim, keepdim, ir::ReduceOp::Min, "min", "MinBackward0");
}

Tensor var(const Tensor& a, bool unbiased) {
  return varImpl(a, {}, unbiased, false);
}
Tensor var(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  return varImpl(a, dim, unbiased, keepdim);
}
Tensor std(const Tensor& a, bool unbiased) {
  return stdImpl(a, {}, unbiased, false);
}
Tensor std(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  return stdImpl(a, dim, unbiased, keepdim);
}

Tensor norm(const Tensor& a, const Scalar& p) {
  return normImpl(a, p.toDouble(), {}, false, "NormBackward0");
}
Tensor norm(const Tensor& a, std::optional<Scalar> p, IntArrayRef dim, bool keepdim) {
  return normImpl(a, p ? p->toDouble() : 2.0, dim, keepdim, "NormBackward1");
}
std::tuple<Tensor, Tensor> var_mean(const Tensor& a, bool unbiased) {
  return {var(a, unbiased), a.mean()};
}
std::tuple<Tensor, Tensor> var_mean(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  return {var(a, dim, unbiased, keepdim), a.mean(dim, keepdim)};
}
std::tuple<Tensor, Tensor> std_mean(const Tensor& a, bool unbiased) {
  return {std(a, unbiased), a.mean()};
}
std::tuple<Tensor, Tensor> std_mean(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  return {std(a, dim, unbiased, keepdim), a.mean(dim, keepdim)};
}
Tensor all(const Tensor& a) {
  return (a == 0).sum() == 0;
}
Tensor all(const Tensor& a, int64_t dim, bool keepdim) {
  return (a == 0).sum({dim}, keepdim) == 0;
}
Tensor any(const Tensor& a) {
  return (a != 0).sum() != 0;
}
Tensor any(const Tensor& a, int64_t dim, bool keepdim) {
  return (a != 0).sum({dim}, keepdim) != 0;
}

Tensor softmax(const Tensor& a, int64_t dim, std::optional<ScalarType> dtype) {
  Tensor x = softmaxInput(a, dim, dtype, /*log=*/false);
  int64_t d = detail::wrapDim(dim, x.dim());
  Tensor out = detail::softmaxOf(x, d);
  recordReduction(out, x, "SoftmaxBackward0", Saves::Output,
                  [d](const Tensor& g, const Tensor&, const Tensor& y) {
                    Tensor gy = g * y;
                    return gy - y * (y.dim() == 0 ? gy : gy.sum({d}, true));
                  });
  return out;
}

Tensor log_softmax(const Tensor& a, int64_t dim, std::optional<ScalarType> dtype) {
  Tensor x = softmaxInput(a, dim, dtype, /*log=*/true);
  int64_t d = detail::wrapDim(dim, x.dim());
  Tensor out = detail::logSoftmaxOf(x, d);
  recordReduction(out, x, "LogSoftmaxBackward0", Saves::Output,
                  [d](const Tensor& g, const Tensor&, const Tensor& y) {
                    return g - y.exp() * (y.dim() == 0 ? g : g.sum({d}, true));
                  });
  return out;
}

Tensor mm(const Tensor& a, const Tensor& b) {
  detail::checkMm(a, b);
  return batchedMatmul(a, b, "MmBackward0");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  detail::checkBmm(a, b);
  return batchedMatmul(a, b, "BmmBackward0");
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::checkMatmul(a, b);
  const int64_t da = a.dim(), db = b.dim();
  if (da == 1 && db == 1) return (a * b).sum();
  Tensor lhs = da == 1 ? a.unsqueeze(0) : a;
  Tensor rhs = db == 1 ? b.unsqueeze(1) : b;
  Tensor out = batchedMatmul(
      lhs, rhs, lhs.dim() == 2 && rhs.dim() == 2 ? "MmBackward0" : "UnsafeViewBackward0");
  if (da == 1) out = out.squeeze(-2);
  if (db == 1) out = out.squeeze(-1);
  return out;
}

Tensor Tensor::sum(std::optional<ScalarType> dtype) const {
  return kiln::sum(*this, dtype);
}
Tensor Tensor::sum(IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) const {
  return kiln::sum(*this, dim, keepdim, dtype);
}
Tensor Tensor::mean(std::optional<ScalarType> dtype) const {
  return kiln::mean(*this, dtype);
}
Tensor Tensor::mean(IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) const {
  return kiln::mean(*this, dim, keepdim, dtype);
}
Tensor Tensor::prod(std::optional<ScalarType> dtype) const {
  return kiln::prod(*this, dtype);
}
Tensor Tensor::prod(int64_t dim, bool keepdim, std::optional<ScalarType> dtype) const {
  return kiln::prod(*this, dim, keepdim, dtype);
}
Tensor Tensor::amax(IntArrayRef dim, bool keepdim) const {
  return kiln::amax(*this, dim, keepdim);
}
Tensor Tensor::amin(IntArrayRef dim, bool keepdim) const {
  return kiln::amin(*this, dim, keepdim);
}
Tensor Tensor::max() const {
  return kiln::max(*this);
}
Tensor Tensor::min() const {
  return kiln::min(*this);
}
std::tuple<Tensor, Tensor> Tensor::max(int64_t dim, bool keepdim) const {
  return kiln::max(*this, dim, keepdim);
}
std::tuple<Tensor, Tensor> Tensor::min(int64_t dim, bool keepdim) const {
  return kiln::min(*this, dim, keepdim);
}
Tensor Tensor::var(bool unbiased) const {
  return kiln::var(*this, unbiased);
}
Tensor Tensor::var(IntArrayRef dim, bool unbiased, bool keepdim) const {
  return kiln::var(*this, dim, unbiased, keepdim);
}
Tensor Tensor::std(bool unbiased) const {
  return kiln::std(*this, unbiased);
}
Tensor Tensor::std(IntArrayRef dim, bool unbiased, bool keepdim) const {
  return kiln::std(*this, dim, unbiased, keepdim);
}
Tensor Tensor::norm(const Scalar& p) const {
  return kiln::norm(*this, p);
}
Tensor Tensor::norm(std::optional<Scalar> p, IntArrayRef dim, bool keepdim) const {
  return kiln::norm(*this, p, dim, keepdim);
}
Tensor Tensor::all() const {
  return kiln::all(*this);
}
Tensor Tensor::all(int64_t dim, bool keepdim) const {
  return kiln::all(*this, dim, keepdim);
}
Tensor Tensor::any() const {
  return kiln::any(*this);
}
Tensor Tensor::any(int64_t dim, bool keepdim) const {
  return kiln::any(*this, dim, keepdim);
}
Tensor Tensor::softmax(int64_t dim, std::optional<ScalarType> dtype) const {
  return kiln::softmax(*this, dim, dtype);
}
Tensor Tensor::log_softmax(int64_t dim, std::optional<ScalarType> dtype) const {
  return kiln::log_softmax(*this, dim, dtype);
}
Tensor Tensor::matmul(const Tensor& o) const {
  return kiln::matmul(*this, o);
}
Tensor Tensor::mm(const Tensor& o) const {
  return kiln::mm(*this, o);
}
Tensor Tensor::bmm(const Tensor& o) const {
  return kiln::bmm(*this, o);
}

}  // namespace kiln
