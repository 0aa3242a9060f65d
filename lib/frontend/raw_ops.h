#pragma once
// The front end's raw ops: each checks its arguments (with PyTorch's messages) and computes its
// result, a view's geometry or the recorded graph nodes, and records no backward function. As
// ATen's kernels know nothing of autograd, these know nothing of it: lib/autograd defines the
// public, differentiable ops by calling them and attaching the rule when an input requires grad.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kiln/indexing.h"
#include "kiln/tensor.h"
#include "lib/ir/desc.h"

namespace kiln::detail {

// ---- views (sharing self's storage), with the arguments of the Tensor method of that name ----
/// `self` viewed as `size` (one -1 inferred), or nullopt when no strides over self's memory give
/// that shape (reshape then copies).
std::optional<Tensor> viewIfPossible(const Tensor& self, IntArrayRef size);
/// `self` viewed as `size`; PyTorch's error when the strides do not allow it.
Tensor viewOf(const Tensor& self, IntArrayRef size);
Tensor squeezeView(const Tensor& self);
Tensor squeezeView(const Tensor& self, int64_t dim);
Tensor unsqueezeView(const Tensor& self, int64_t dim);
Tensor permuteView(const Tensor& self, IntArrayRef dims);
Tensor transposeView(const Tensor& self, int64_t dim0, int64_t dim1);
Tensor tView(const Tensor& self);
Tensor expandView(const Tensor& self, IntArrayRef size);
Tensor narrowView(const Tensor& self, int64_t dim, int64_t start, int64_t length);
Tensor selectView(const Tensor& self, int64_t dim, int64_t index);
Tensor asStridedView(const Tensor& self, IntArrayRef size, IntArrayRef stride,
                     std::optional<int64_t> storage_offset);
/// libtorch's basic indexing (integers, slices, None, Ellipsis); `grad_name`, when given, receives
/// the grad_fn name libtorch's result has (that of the last view it applies).
Tensor indexView(const Tensor& self, const std::vector<indexing::TensorIndex>& indices,
                 const char** grad_name = nullptr);

// ---- copies ----
/// A new storage holding self's elements.
Tensor cloneOf(const Tensor& self);
/// self's elements converted to `dtype`, in a new storage.
Tensor castTo(const Tensor& self, ScalarType dtype);
/// cat's first checks: the wrapped `dim`, or nullopt when every tensor is 1-D and empty (the
/// legacy tensors cat skips).
std::optional<int64_t> catDim(const std::vector<Tensor>& tensors, int64_t dim);
/// The tensors joined along `dim` (as wrapped by catDim, 0 when it gave nullopt), after the
/// remaining checks.
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim);

// ---- gather and scatter (lib/frontend/gather.cpp) ----
/// source read along `axis` where `index` points: out[p] = source[p with p[axis] = index[p]].
/// `index` (integral) has the result's shape, `source` the same but along `axis`; the values
/// are in [0, source.size(axis)) (checked by the caller).
Tensor gatherAlong(const Tensor& source, int64_t axis, const Tensor& index);
/// Where a scatter stores: for each point p of the index's shape, the storage element
/// offset + sum_d q[d] * strides[d], with q = p but q[axis] = index[p], in [0, extent).
struct ScatterGeometry {
  int64_t axis = 0;
  int64_t extent = 0;
  std::vector<int64_t> strides;
  int64_t offset = 0;
};
/// Records `value` (of index's shape) stored into, or with `add` added to, the storage of
/// `fresh` (a tensor only the caller sees) at the elements `at` names for each point of `index`
/// (integral, values in [0, at.extent), checked by the caller); where points meet an element,
/// the last one's value stays (or all add up).
void recordScatter(const Tensor& fresh, const ScatterGeometry& at, const Tensor& index,
                   const Tensor& value, bool add);
/// The values of an integral index tensor (materialising it).
std::vector<int64_t> indexValues(const Tensor& index);
/// Throws message(i) for the first value i of `index` outside [0, size) (or [-size, size) when
/// negatives wrap, as in advanced indexing); whether any value is negative.
bool checkIndexRange(const Tensor& index, int64_t size, bool negatives_wrap,
                     const std::function<std::string(int64_t)>& message);

// ---- reductions, with the arguments of the public functions ----
/// The dimensions a reduction over `dims` covers (all when empty), wrapped and sorted.
std::vector<int64_t> reduceDims(const Tensor& a, IntArrayRef dims);
Tensor reduceSum(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype);
Tensor reduceMean(const Tensor& a, IntArrayRef dim, bool keepdim, std::optional<ScalarType> dtype);
/// The product over `dims` (already wrapped).
Tensor reduceProd(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim,
                  std::optional<ScalarType> dtype);
/// amax/amin (`op` Max or Min; `name` for the messages).
Tensor reduceExtremum(const Tensor& a, IntArrayRef dim, bool keepdim, ir::ReduceOp op,
                      const char* name);
/// max()/min() over all elements.
Tensor reduceAll(const Tensor& a, ir::ReduceOp op, const char* name);
/// argmax/argmin (`op` Max or Min) over `dim`, or over all elements.
Tensor reduceArg(const Tensor& a, std::optional<int64_t> dim, bool keepdim, ir::ReduceOp op,
                 const char* name);
Tensor reduceVar(const Tensor& a, IntArrayRef dim, bool unbiased, bool keepdim);
/// softmax and log_softmax of a floating tensor along `dim` (already wrapped).
Tensor softmaxOf(const Tensor& x, int64_t dim);
Tensor logSoftmaxOf(const Tensor& x, int64_t dim);

// ---- matrix products ----
/// mm's and bmm's checks.
void checkMm(const Tensor& a, const Tensor& b);
void checkBmm(const Tensor& a, const Tensor& b);
/// matmul's checks, for every combination of dimensions it accepts.
void checkMatmul(const Tensor& a, const Tensor& b);
/// a [..., m, k] @ b [..., k, n] with broadcast batch dimensions (operands already checked).
Tensor matmulProduct(const Tensor& a, const Tensor& b);

}  // namespace kiln::detail
