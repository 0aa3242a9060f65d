// Reductions and matmul, raw (lib/frontend/raw_ops.h; lib/autograd/reduction_ops.cpp makes them
// the differentiable public ops). Each reduction is one Reduce/ArgReduce node whose kernel
// absorbs its elementwise producers; composites (mean, var, softmax, matmul) are built from them.
#include <absl/strings/str_cat.h>

#include <algorithm>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/core/checked.h"
#include "lib/core/scalar_type.h"
#include "lib/frontend/common.h"
#include "lib/frontend/raw_ops.h"

namespace kiln {

using detail::readNode;
using detail::record;
using detail::wrapDim;

namespace {

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
  // The squeezed result is a tensor of its own, not a view: an in-place op on it rewrites its
  // own history, as on PyTorch's result.
  Tensor out = detail::makeView(t, squeezed, ir::contiguousStrides(squeezed), 0);
  out.impl()->is_view = false;
  out.impl()->view_base = nullptr;
  return out;
}

ScalarType sumType(const Tensor& a, std::optional<ScalarType> dtype) {
  if (dtype) return *dtype;
  return isFloatingType(a.dtype()) ? a.dtype() : kLong;
}

// The number of elements each output element of a reduction over `dims` combines, as a double:
// an empty tensor's other dims may make the exact count overflow an int64 (a [3, 2^62, 0] over
// dims 0 and 1), and then the result is empty and the count unused.
double countOf(const Tensor& a, const std::vector<int64_t>& dims) {
  double n = 1;
  for (int64_t d : dims) n *= static_cast<double>(a.size(d));
  return n;
}

}  // namespace

namespace detail {

std::vector<int64_t> reduceDims(const Tensor& a, IntArrayRef dims) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < a.dim(); ++d) out.push_back(d);
    return out;
  }
  std::vector<int64_t> seen;  // a 0-dim tensor's dims 0 and -1 are both dim 0, reducing nothing
  for (int64_t d : dims) {
    int64_t w = wrapDim(d, a.dim());
    if (std::find(seen.begin(), seen.end(), w) != seen.end()) {
      throw Error(absl::StrCat("dim ", w, " appears multiple times in the list of dims"));
    }
    seen.push_back(w);
    if (a.dim() > 0) out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Tensor reduceSum(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) {
  std::vector<int64_t> dims = reduceDims(a, dim);
  return finish(reduceNode(ir::ReduceOp::Sum, readNode(a), dims, sumType(a, dtype)), dims, keepdim,
                a.device());
}

Tensor reduceMean(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype) {
  ScalarType t = dtype.value_or(a.dtype());
  if (!isFloatingType(t)) {
    throw Error(absl::StrCat(
        "mean(): could not infer output dtype. Input dtype must be either a floating point or "
        "complex dtype. Got: ",
        std::string(toString(t))));
  }
  std::vector<int64_t> dims = reduceDims(a, dim);
  double n = countOf(a, dims);
  ir::NodeRef s = reduceNode(ir::ReduceOp::Sum, readNode(a), dims, t);
  ir::NodeRef m = elementwiseNode(ScalarOp::Div, t, {s, constantNode(n, t, s->shape())});
  return finish(m, dims, keepdim, a.device());
}

Tensor reduceProd(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim,
                  std::optional<ScalarType> dtype) {
  return finish(reduceNode(ir::ReduceOp::Prod, readNode(a), dims, sumType(a, dtype)), dims, keepdim,
                a.device());
}

Tensor reduceAll(const Tensor& a, ir::ReduceOp op, const char* name) {
  if (a.numel() == 0) {
    throw Error(absl::StrCat(name,
                             "(): Expected reduction dim to be specified for input.numel() == 0. "
                             "Specify the reduction dim with the 'dim' argument."));
  }
  std::vector<int64_t> dims = reduceDims(a, {});
  return finish(reduceNode(op, readNode(a), dims, a.dtype()), dims, false, a.device());
}

Tensor reduceExtremum(const Tensor& a, IntArrayRef dim, bool keepdim, ir::ReduceOp op,
                      const char* name) {
  if (dim.empty() && a.numel() == 0) {
    throw Error(absl::StrCat(name,
                             "(): Expected reduction dim to be specified for input.numel() == 0. "
                             "Specify the reduction dim with the 'dim' argument."));
  }
  // PyTorch's zero_numel_check_dims, for an empty input before anything else looks at the dims:
  // each dim as given, in the order given (max(dim) and min(dim) give theirs wrapped).
  if (a.numel() == 0 && a.dim() > 0) {
    for (int64_t d : dim) {
      if (a.size(d) == 0) {
        throw Error(
            absl::StrCat(name, "(): Expected reduction dim ", d, " to have non-zero size."));
      }
    }
  }
  std::vector<int64_t> dims = reduceDims(a, dim);
  return finish(reduceNode(op, readNode(a), dims, a.dtype()), dims, keepdim, a.device());
}

Tensor reduceArg(const Tensor& a, std::optional<int64_t> dim, bool keepdim, ir::ReduceOp op,
                 const char* name) {
  if (!dim && a.numel() == 0) {
    throw Error(
        absl::StrCat(name, "(): Expected reduction dim to be specified for input.numel() == 0."));
  }
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
  // A 0-dim input gives a 0-dim index (0), with keepdim or without, as in PyTorch.
  if (a.dim() == 0) return finish(std::move(n), {0}, false, a.device());
  return finish(std::move(n), {d}, keepdim, a.device());
}

Tensor reduceVar(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim) {
  if (!isFloatingType(a.dtype())) {
    throw Error(absl::StrCat("std and var only support floating point and complex dtypes"));
  }
  std::vector<int64_t> dims = reduceDims(a, dim);
  double n = countOf(a, dims);
  ScalarType t = a.dtype();
  ir::NodeRef x = readNode(a);
  ir::NodeRef sum = reduceNode(ir::ReduceOp::Sum, x, dims, t);
  ir::NodeRef mean = elementwiseNode(ScalarOp::Div, t, {sum, constantNode(n, t, sum->shape())});
  ir::NodeRef dev = elementwiseNode(ScalarOp::Sub, t, {x, expandNode(mean, x->shape())});
  ir::NodeRef sq = elementwiseNode(ScalarOp::Mul, t, {dev, dev});
  ir::NodeRef ss = reduceNode(ir::ReduceOp::Sum, sq, dims, t);
  double denom = std::max(n - (unbiased ? 1 : 0), 0.0);
  ir::NodeRef v = elementwiseNode(ScalarOp::Div, t, {ss, constantNode(denom, t, ss->shape())});
  return finish(v, dims, keepdim, a.device());
}

namespace {
// The 0-dim result of a softmax computed over a 1-element row: a tensor of its own, not a view
// of that row, so that an in-place op on it rewrites its own history (as on PyTorch's result),
// not a base's that nobody else sees.
Tensor scalarResult(const Tensor& row) {
  Tensor out = row.reshape({});
  out.impl()->is_view = false;
  out.impl()->view_base = nullptr;
  return out;
}
}  // namespace

Tensor softmaxOf(const Tensor& x, int64_t d) {
  NoGradGuard no_grad;
  // No maximum to shift by: an empty input gives an empty result, as in PyTorch.
  if (x.numel() == 0) return x.clone();
  Tensor v = x.dim() == 0 ? x.reshape({1}) : x;
  Tensor e = (v - amax(v, {d}, true)).exp();
  Tensor out = e / e.sum({d}, true);
  return x.dim() == 0 ? scalarResult(out) : out;
}

Tensor logSoftmaxOf(const Tensor& x, int64_t d) {
  NoGradGuard no_grad;
  if (x.numel() == 0) return x.clone();
  Tensor v = x.dim() == 0 ? x.reshape({1}) : x;
  Tensor shifted = v - amax(v, {d}, true);
  Tensor out = shifted - shifted.exp().sum({d}, true).log();
  return x.dim() == 0 ? scalarResult(out) : out;
}

// ---- linear algebra: a broadcast product reduced over k; the scheduler orders its loops so
// the innermost one runs along contiguous memory ----
namespace {

std::string matText(const Tensor& t) {
  return absl::StrCat(t.size(0), "x", t.size(1));
}

void checkMatmulTypes(const Tensor& a, const Tensor& b) {
  commonDevice("matmul", {&a, &b});
  if (a.dtype() != b.dtype()) {
    throw Error(absl::StrCat("expected m1 and m2 to have the same dtype, but got: ",
                             std::string(detail::typeMetaName(a.dtype())),
                             " != ", std::string(detail::typeMetaName(b.dtype()))));
  }
}

}  // namespace

void checkMm(const Tensor& a, const Tensor& b) {
  if (a.dim() != 2) throw Error(absl::StrCat("self must be a matrix"));
  if (b.dim() != 2) throw Error(absl::StrCat("mat2 must be a matrix"));
  if (a.size(1) != b.size(0)) {
    throw Error(absl::StrCat("mat1 and mat2 shapes cannot be multiplied (", matText(a), " and ",
                             matText(b), ")"));
  }
  checkMatmulTypes(a, b);
}

void checkBmm(const Tensor& a, const Tensor& b) {
  if (a.dim() != 3) throw Error(absl::StrCat("batch1 must be a 3D tensor"));
  if (b.dim() != 3) throw Error(absl::StrCat("batch2 must be a 3D tensor"));
  if (b.size(0) != a.size(0) || b.size(1) != a.size(2)) {
    throw Error(absl::StrCat("Expected size for first two dimensions of batch2 tensor to be: [",
                             a.size(0), ", ", a.size(2), "] but got: [", b.size(0), ", ", b.size(1),
                             "]."));
  }
  checkMatmulTypes(a, b);
}

void checkMatmul(const Tensor& a, const Tensor& b) {
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
    return;
  }
  // The operands as matmul multiplies them: a vector is a 1-row (a) or 1-column (b) matrix,
  // and a's leading dimensions count as rows.
  const int64_t k = a.size(-1), rhs_k = db == 1 ? b.size(0) : b.size(-2);
  // PyTorch's messages name the product it computes: mv(m, v), mm, or bmm of the broadcast
  // batches; a batched b with a matrix or vector a is folded transposed (b^T's rows times a^T).
  // (The row and batch counts the messages print are multiplied unchecked, as PyTorch's are: only
  // an empty operand's can pass the int64 range.)
  auto mvMismatch = [](int64_t rows, int64_t cols, int64_t n) {
    return Error(absl::StrCat("size mismatch, got ", rows, ", ", rows, "x", cols, ",", n));
  };
  if (k != rhs_k && db == 1) {
    int64_t rows = 1;
    for (int64_t d = 0; d + 1 < da; ++d) rows = wrappingMul(rows, a.size(d));
    throw mvMismatch(rows, k, rhs_k);
  }
  if (da <= 2 && db >= 3) {
    if (k != rhs_k) {
      int64_t rows = b.size(-1);
      for (int64_t d = 0; d + 2 < db; ++d) rows = wrappingMul(rows, b.size(d));
      if (da == 1) throw mvMismatch(rows, rhs_k, k);
      throw Error(absl::StrCat("mat1 and mat2 shapes cannot be multiplied (", rows, "x", rhs_k,
                               " and ", k, "x", a.size(0), ")"));
    }
    return;
  }
  if (da >= 3 && db >= 3) {
    // The batch dimensions broadcast first, then bmm checks the products.
    std::vector<int64_t> batch =
        broadcastShapes(std::vector<int64_t>(a.sizes().begin(), a.sizes().end() - 2),
                        std::vector<int64_t>(b.sizes().begin(), b.sizes().end() - 2));
    if (k != rhs_k) {
      int64_t count = 1;
      for (int64_t n : batch) count = wrappingMul(count, n);
      throw Error(absl::StrCat("Expected size for first two dimensions of batch2 tensor to be: [",
                               count, ", ", k, "] but got: [", count, ", ", rhs_k, "]."));
    }
    return;
  }
  if (k != rhs_k) {
    int64_t rows = 1;
    for (int64_t d = 0; d + 1 < da; ++d) rows = wrappingMul(rows, a.size(d));
    const int64_t cols = db == 1 ? 1 : b.size(-1);
    if (da == 2 && db == 2) checkMm(a, b);
    throw Error(absl::StrCat("mat1 and mat2 shapes cannot be multiplied (", rows, "x", k, " and ",
                             rhs_k, "x", cols, ")"));
  }
}

Tensor matmulProduct(const Tensor& a, const Tensor& b) {
  NoGradGuard no_grad;
  // a [..., m, k], b [..., k, n] -> [..., m, n]
  Tensor lhs = a.unsqueeze(-2);                    // [..., m, 1, k]
  Tensor rhs = b.transpose(-1, -2).unsqueeze(-3);  // [..., 1, n, k]
  ScalarType t = promoteTypes(a.dtype(), b.dtype());
  // Half and bfloat16 products are computed in float32 and rounded once, as PyTorch's CPU matrix
  // products of bfloat16 accumulate (its 1.13 refuses half ones): the products of 16-bit floats
  // are exact in float32, and the float32 gemm then serves them.
  const ScalarType acc = accumulateType(t);
  std::vector<int64_t> shape = broadcastShapes(lhs.sizes().vec(), rhs.sizes().vec());
  ir::NodeRef prod = elementwiseNode(ScalarOp::Mul, acc,
                                     {operandNode(lhs, acc, shape), operandNode(rhs, acc, shape)});
  int64_t last = static_cast<int64_t>(shape.size()) - 1;
  Tensor out = finish(reduceNode(ir::ReduceOp::Sum, prod, {last}, acc), {last}, false, a.device());
  return acc == t ? out : out.to(t);
}

}  // namespace detail

namespace {
// argmax and argmin: PyTorch's CPU kernels have no bool case (its max(dim) and min(dim) do),
// which it finds after the argument checks, and which an empty input or a reduction over a
// dimension of size 1 never reaches (it fills zeros).
Tensor argExtremum(const Tensor& a, std::optional<int64_t> dim, bool keepdim, ir::ReduceOp op,
                   const char* name) {
  Tensor r = detail::reduceArg(a, dim, keepdim, op, name);
  if (a.dtype() == kBool && a.numel() > 0 && !(dim && a.dim() > 0 && a.size(*dim) == 1)) {
    throw Error(absl::StrCat("\"", name, "_cpu\" not implemented for 'Bool'"));
  }
  return r;
}
}  // namespace

Tensor argmax(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  return argExtremum(a, dim, keepdim, ir::ReduceOp::Max, "argmax");
}
Tensor argmin(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  return argExtremum(a, dim, keepdim, ir::ReduceOp::Min, "argmin");
}
Tensor Tensor::argmax(std::optional<int64_t> dim, bool keepdim) const {
  return kiln::argmax(*this, dim, keepdim);
}
Tensor Tensor::argmin(std::optional<int64_t> dim, bool keepdim) const {
  return kiln::argmin(*this, dim, keepdim);
}

}  // namespace kiln
