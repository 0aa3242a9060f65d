// Reductions and matmul. Each reduction is one Reduce/ArgReduce node whose kernel absorbs its
// elementwise producers; composites (mean, var, softmax, matmul) are built from them.
#include <absl/strings/str_cat.h>

#include <algorithm>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/autograd/rules.h"
#include "lib/core/scalar_type.h"
#include "lib/frontend/common.h"

namespace kiln {

using detail::readNode;
using detail::record;
using detail::wrapDim;

namespace {

std::vector<int64_t> reduceDims(const Tensor& a, IntArrayRef dims) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < a.dim(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) {
    int64_t w = wrapDim(d, a.dim());
    if (std::find(out.begin(), out.end(), w) != out.end()) {
      throw Error(absl::StrCat("dim ", w, " appears multiple times in the list of dims"));
    }
    if (a.dim() > 0) out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The reduction node over `dims` (kept as size 1), in `dtype`.
ir::NodeRef reduceNode(ir::ReduceOp op, ir::NodeRef input, const std::vector<int64_t>& dims,
                       ScalarType dtype) {
  input = detail::castNode(std::move(input), dtype);
  ir::NodeDesc d;
  d.op = ir::Op::Reduce;
  d.rop = op;
  d.dtype = dtype;
  d.shape = input->shape();
  for (int64_t k : dims) d.shape[k] = 1;
  d.ints = dims;
  return ir::Node::make(std::move(d), {std::move(input)});
}

// A tensor for a keepdim-shaped node, viewed without the reduced dims unless keepdim.
Tensor finish(ir::NodeRef n, const std::vector<int64_t>& dims, bool keepdim, Device device) {
  std::vector<int64_t> shape = n->shape();
  Tensor t = record(std::move(n), device);
  if (keepdim) return t;
  std::vector<int64_t> squeezed;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (std::find(dims.begin(), dims.end(), static_cast<int64_t>(k)) == dims.end())
      squeezed.push_back(shape[k]);
  }
  return detail::makeView(t, squeezed, ir::contiguousStrides(squeezed), 0);
}

ScalarType sumType(const Tensor& a, std::optional<ScalarType> dtype) {
  if (dtype) return *dtype;
  return isFloatingType(a.dtype()) ? a.dtype() : kLong;
}

int64_t countOf(const Tensor& a, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= a.size(d);
  return n;
}

Tensor minmaxAll(const Tensor& a, ir::ReduceOp op, const char* name) {
  if (a.numel() == 0) {
    throw Error(absl::StrCat(name,
                             "(): Expected reduction dim to be specified for input.numel() == 0. "
                             "Specify the reduction dim with the 'dim' argument."));
  }
  std::vector<int64_t> dims = reduceDims(a, {});
  return finish(reduceNode(op, readNode(a), dims, a.dtype()), dims, false, a.device());
}

Tensor amaxmin(const Tensor& a, IntArrayRef dim, bool keepdim, ir::ReduceOp op, const char* name) {
  std::vector<int64_t> dims = reduceDims(a, dim);
  for (int64_t d : dims) {
    if (a.size(d) == 0) {
      throw Error(absl::StrCat(name, "(): Expected reduction dim ", d, " to have non-zero size."));
    }
  }
  return finish(reduceNode(op, readNode(a), dims, a.dtype()), dims, keepdim, a.device());
}

Tensor argReduce(const Tensor& a, std::optional<int64_t> dim, bool keepdim, ir::ReduceOp op,
                 const char* name) {
  Tensor src = dim ? a : a.reshape({-1});
  int64_t d = dim ? wrapDim(*dim, a.dim()) : 0;
  if (src.dim() == 0) src = src.reshape({1});
  if (src.size(d) == 0) {
    throw Error(absl::StrCat(name, "(): Expected reduction dim ", d, " to have non-zero size."));
  }
  ir::NodeDesc desc;
  desc.op = ir::Op::ArgReduce;
  desc.rop = op;
  desc.dtype = kLong;
  desc.shape = src.sizes().vec();
  desc.shape[d] = 1;
  desc.ivalue = d;
  ir::NodeRef n = ir::Node::make(std::move(desc), {readNode(src)});
  if (!dim) {
    Tensor t = record(std::move(n), a.device());
    return keepdim ? t.reshape(std::vector<int64_t>(a.dim(), 1)) : t.reshape({});
  }
  return finish(std::move(n), a.dim() == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{d},
                keepdim || a.dim() == 0, a.device());
}

Tensor varImpl(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  if (!isFloatingType(a.dtype())) {
    throw Error(absl::StrCat("std and var only support floating point and complex dtypes"));
  }
  std::vector<int64_t> dims = reduceDims(a, dim);
  int64_t n = countOf(a, dims);
  ScalarType t = a.dtype();
  ir::NodeRef x = readNode(a);
  ir::NodeRef sum = reduceNode(ir::ReduceOp::Sum, x, dims, t);
  ir::NodeRef mean = detail::elementwiseNode(
      ScalarOp::Div, t, {sum, detail::constantNode(static_cast<double>(n), t, sum->shape())});
  ir::NodeRef dev =
      detail::elementwiseNode(ScalarOp::Sub, t, {x, detail::expandNode(mean, x->shape())});
  ir::NodeRef sq = detail::elementwiseNode(ScalarOp::Mul, t, {dev, dev});
  ir::NodeRef ss = reduceNode(ir::ReduceOp::Sum, sq, dims, t);
  double denom = static_cast<double>(std::max<int64_t>(n - (unbiased ? 1 : 0), 0));
  ir::NodeRef v =
      detail::elementwiseNode(ScalarOp::Div, t, {ss, detail::constantNode(denom, t, ss->shape())});
  return finish(v, dims, keepdim, a.device());
}

}  // namespace

namespace {
// The output gradient of a reduction over `dims` spread back over the input's shape.
Tensor spread(const Tensor& g, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor r = g;
  if (!keepdim) {
    for (int64_t d : dims) r = r.unsqueeze(d);
  }
  r = r.expand(a.sizes());
  return r.dtype() == a.dtype() ? r : r.to(a.dtype());
}

Tensor sumImpl(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype,
               const char* name) {
  std::vector<int64_t> dims = reduceDims(a, dim);
  Tensor out = finish(reduceNode(ir::ReduceOp::Sum, readNode(a), dims, sumType(a, dtype)), dims,
                      keepdim, a.device());
  autograd::recordReduction(out, a, name,
                            [dims, keepdim](const Tensor& g, const Tensor& x, const Tensor&) {
                              return spread(g, x, dims, keepdim);
                            });
  return out;
}

Tensor meanImpl(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype,
                const char* name) {
  ScalarType t = dtype.value_or(a.dtype());
  if (!isFloatingType(t)) {
    throw Error(absl::StrCat(
        "mean(): could not infer output dtype. Input dtype must be either a floating point or "
        "complex dtype. Got: ",
        std::string(toString(t))));
  }
  std::vector<int64_t> dims = reduceDims(a, dim);
  double n = static_cast<double>(countOf(a, dims));
  ir::NodeRef s = reduceNode(ir::ReduceOp::Sum, readNode(a), dims, t);
  ir::NodeRef m =
      detail::elementwiseNode(ScalarOp::Div, t, {s, detail::constantNode(n, t, s->shape())});
  Tensor out = finish(m, dims, keepdim, a.device());
  autograd::recordReduction(out, a, name,
                            [dims, keepdim, n](const Tensor& g, const Tensor& x, const Tensor&) {
                              return spread(g / n, x, dims, keepdim);
                            });
  return out;
}

// max/min-like reductions share the gradient equally among the elements equal to the result.
void recordExtremum(Tensor& out, const Tensor& a, const std::vector<int64_t>& dims, bool keepdim,
                    const char* name) {
  autograd::recordReduction(out, a, name,
                            [dims, keepdim](const Tensor& g, const Tensor& x, const Tensor& y) {
                              Tensor hit = (x == spread(y, x, dims, keepdim)).to(x.dtype());
                              Tensor count = dims.empty() ? hit.sum() : hit.sum(dims, true);
                              Tensor share = dims.empty() ? hit / count : hit / count;
                              return spread(g, x, dims, keepdim) * share;
                            });
}
}  // namespace

Tensor sum(const Tensor& a, std::optional<ScalarType> dtype) {
  return sumImpl(a, {}, false, dtype, "SumBackward0");
}
Tensor sum(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) {
  return sumImpl(a, dim, keepdim, dtype, "SumBackward1");
}
Tensor mean(const Tensor& a, std::optional<ScalarType> dtype) {
  return meanImpl(a, {}, false, dtype, "MeanBackward0");
}
Tensor mean(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) {
  return meanImpl(a, dim, keepdim, dtype, "MeanBackward1");
}
namespace {
Tensor prodImpl(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim,
                std::optional<ScalarType> dtype, const char* name) {
  Tensor out = finish(reduceNode(ir::ReduceOp::Prod, readNode(a), dims, sumType(a, dtype)), dims,
                      keepdim, a.device());
  autograd::recordReduction(out, a, name,
                            [dims, keepdim](const Tensor& g, const Tensor& x, const Tensor& y) {
                              return spread(g * y, x, dims, keepdim) / x;
                            });
  return out;
}

Tensor extremum(const Tensor& a, IntArrayRef dim, bool keepdim, ir::ReduceOp op, const char* what,
                const char* name) {
  Tensor out = amaxmin(a, dim, keepdim, op, what);
  recordExtremum(out, a, reduceDims(a, dim), keepdim, name);
  return out;
}
}  // namespace

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
  Tensor out = minmaxAll(a, ir::ReduceOp::Max, "max");
  recordExtremum(out, a, reduceDims(a, {}), false, "MaxBackward1");
  return out;
}
Tensor min(const Tensor& a) {
  Tensor out = minmaxAll(a, ir::ReduceOp::Min, "min");
  recordExtremum(out, a, reduceDims(a, {}), false, "MinBackward1");
  return out;
}
std::tuple<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) {
  return {extremum(a, {dim}, keepdim, ir::ReduceOp::Max, "max", "MaxBackward0"),
          argReduce(a, dim, keepdim, ir::ReduceOp::Max, "max")};
}
std::tuple<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim) {
  return {extremum(a, {dim}, keepdim, ir::ReduceOp::Min, "min", "MinBackward0"),
          argReduce(a, dim, keepdim, ir::ReduceOp::Min, "min")};
}
Tensor argmax(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  return argReduce(a, dim, keepdim, ir::ReduceOp::Max, "argmax");
}
Tensor argmin(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  return argReduce(a, dim, keepdim, ir::ReduceOp::Min, "argmin");
}
namespace {
Tensor varWithGrad(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  Tensor out = varImpl(a, dim, unbiased, keepdim);
  std::vector<int64_t> dims = reduceDims(a, dim);
  double denom = static_cast<double>(std::max<int64_t>(countOf(a, dims) - (unbiased ? 1 : 0), 0));
  autograd::recordReduction(
      out, a, "VarBackward0",
      [dims, keepdim, denom](const Tensor& g, const Tensor& x, const Tensor&) {
        Tensor centered = x - (dims.empty() ? x.mean() : x.mean(dims, true));
        return spread(g, x, dims, keepdim) * centered * (2.0 / denom);
      });
  return out;
}
}  // namespace

Tensor var(const Tensor& a, bool unbiased) {
  return varWithGrad(a, {}, unbiased, false);
}
Tensor var(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  return varWithGrad(a, dim, unbiased, keepdim);
}
Tensor std(const Tensor& a, bool unbiased) {
  return sqrt(varWithGrad(a, {}, unbiased, false));
}
Tensor std(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  return sqrt(varWithGrad(a, dim, unbiased, keepdim));
}

Tensor softmax(const Tensor& a, int64_t dim, std::optional<ScalarType> dtype) {
  Tensor x = dtype ? a.to(*dtype) : (isFloatingType(a.dtype()) ? a : a.to(kFloat));
  int64_t d = wrapDim(dim, x.dim());
  Tensor out;
  {
    NoGradGuard no_grad;
    Tensor v = x.dim() == 0 ? x.reshape({1}) : x;
    Tensor e = (v - amax(v, {d}, true)).exp();
    out = e / e.sum({d}, true);
    if (x.dim() == 0) out = out.reshape({});
  }
  autograd::recordReduction(out, x, "SoftmaxBackward0",
                            [d](const Tensor& g, const Tensor&, const Tensor& y) {
                              Tensor gy = g * y;
                              return gy - y * (y.dim() == 0 ? gy : gy.sum({d}, true));
                            });
  return out;
}

Tensor log_softmax(const Tensor& a, int64_t dim, std::optional<ScalarType> dtype) {
  Tensor x = dtype ? a.to(*dtype) : (isFloatingType(a.dtype()) ? a : a.to(kFloat));
  int64_t d = wrapDim(dim, x.dim());
  Tensor out;
  {
    NoGradGuard no_grad;
    Tensor v = x.dim() == 0 ? x.reshape({1}) : x;
    Tensor shifted = v - amax(v, {d}, true);
    out = shifted - shifted.exp().sum({d}, true).log();
    if (x.dim() == 0) out = out.reshape({});
  }
  autograd::recordReduction(out, x, "LogSoftmaxBackward0",
                            [d](const Tensor& g, const Tensor&, const Tensor& y) {
                              return g - y.exp() * (y.dim() == 0 ? g : g.sum({d}, true));
                            });
  return out;
}

// ---- linear algebra: a broadcast product reduced over k; the scheduler orders its loops so
// the innermost one runs along contiguous memory ----
namespace {
Tensor batchedMatmulNoGrad(const Tensor& a, const Tensor& b);

// a [..., m, k] @ b [..., k, n], recording `name` as its backward function.
Tensor batchedMatmul(const Tensor& a, const Tensor& b, const char* name) {
  Tensor out = batchedMatmulNoGrad(a, b);
  autograd::recordMatmul(out, a, b, name);
  return out;
}

Tensor batchedMatmulNoGrad(const Tensor& a, const Tensor& b) {
  NoGradGuard no_grad;
  // a [..., m, k], b [..., k, n] -> [..., m, n]
  Tensor lhs = a.unsqueeze(-2);                    // [..., m, 1, k]
  Tensor rhs = b.transpose(-1, -2).unsqueeze(-3);  // [..., 1, n, k]
  ScalarType t = promoteTypes(a.dtype(), b.dtype());
  std::vector<int64_t> shape = detail::broadcastShapes(lhs.sizes().vec(), rhs.sizes().vec());
  ir::NodeRef prod = detail::elementwiseNode(
      ScalarOp::Mul, t, {detail::operandNode(lhs, t, shape), detail::operandNode(rhs, t, shape)});
  int64_t last = static_cast<int64_t>(shape.size()) - 1;
  return finish(reduceNode(ir::ReduceOp::Sum, prod, {last}, t), {last}, false, a.device());
}

std::string matText(const Tensor& t) {
  return absl::StrCat(t.size(0), "x", t.size(1));
}

void checkMatmulTypes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) {
    throw Error(absl::StrCat("expected m1 and m2 to have the same dtype, but got: ",
                             std::string(detail::typeMetaName(a.dtype())),
                             " != ", std::string(detail::typeMetaName(b.dtype()))));
  }
}
}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  if (a.dim() != 2) throw Error(absl::StrCat("self must be a matrix"));
  if (b.dim() != 2) throw Error(absl::StrCat("mat2 must be a matrix"));
  if (a.size(1) != b.size(0)) {
    throw Error(absl::StrCat("mat1 and mat2 shapes cannot be multiplied (", matText(a), " and ",
                             matText(b), ")"));
  }
  checkMatmulTypes(a, b);
  return batchedMatmul(a, b, "MmBackward0");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  if (a.dim() != 3) throw Error(absl::StrCat("batch1 must be a 3D tensor"));
  if (b.dim() != 3) throw Error(absl::StrCat("batch2 must be a 3D tensor"));
  if (b.size(0) != a.size(0) || b.size(1) != a.size(2)) {
    throw Error(absl::StrCat("Expected size for first two dimensions of batch2 tensor to be: [",
                             a.size(0), ", ", a.size(2), "] but got: [", b.size(0), ", ", b.size(1),
                             "]."));
  }
  checkMatmulTypes(a, b);
  return batchedMatmul(a, b, "BmmBackward0");
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  int64_t da = a.dim(), db = b.dim();
  if (da == 0 || db == 0) {
    throw Error(absl::StrCat("both arguments to matmul need to be at least 1D, but they are ", da,
                             "D and ", db, "D"));
  }
  checkMatmulTypes(a, b);
  if (da == 1 && db == 1) {
    if (a.size(0) != b.size(0)) {
      throw Error(absl::StrCat("inconsistent tensor size, expected tensor [", a.size(0),
                               "] and src [", b.size(0),
                               "] to have the same number of elements, but got ", a.size(0),
                               " and ", b.size(0), " elements respectively"));
    }
    return (a * b).sum();
  }
  Tensor lhs = da == 1 ? a.unsqueeze(0) : a;
  Tensor rhs = db == 1 ? b.unsqueeze(1) : b;
  if (lhs.size(-1) != rhs.size(-2)) {
    if (da == 2 && db == 2) return mm(a, b);
    throw Error(absl::StrCat("mat1 and mat2 shapes cannot be multiplied (",
                             lhs.numel() / lhs.size(-1), "x", lhs.size(-1), " and ", rhs.size(-2),
                             "x", rhs.size(-1), ")"));
  }
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
Tensor Tensor::argmax(std::optional<int64_t> dim, bool keepdim) const {
  return kiln::argmax(*this, dim, keepdim);
}
Tensor Tensor::argmin(std::optional<int64_t> dim, bool keepdim) const {
  return kiln::argmin(*this, dim, keepdim);
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
