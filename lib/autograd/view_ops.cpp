// The differentiable view ops, clone and cat: each is the front end's raw op
// (lib/frontend/raw_ops.h) plus its backward rule when an input requires grad. A view's
// gradient is the incoming gradient put back into the input's shape: reshaped, permuted,
// summed over expanded dimensions, or embedded at the viewed positions.
#include <absl/strings/str_cat.h>

#include <algorithm>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/autograd/function.h"
#include "lib/autograd/rules.h"
#include "lib/core/checked.h"
#include "lib/frontend/common.h"
#include "lib/frontend/raw_ops.h"

namespace kiln {

using autograd::embedView;
using autograd::recordView;
using detail::shapeText;

namespace {

// The backward of a view that only reshapes: the gradient takes the input's shape again.
std::function<Tensor(const Tensor&)> reshapeTo(const Tensor& input) {
  return [sizes = input.sizes().vec()](const Tensor& g) { return g.reshape(sizes); };
}

// The backward of a view that selects positions of `input` (narrow, select, indexing): the
// gradient embedded at those positions, which `same_view` picks out of any tensor of input's
// shape.
std::function<Tensor(const Tensor&)> embedAt(const Tensor& input,
                                             std::function<Tensor(const Tensor&)> same_view) {
  return [sizes = input.sizes().vec(), dtype = input.dtype(), same_view](const Tensor& g) {
    return embedView(g, sizes, dtype, same_view);
  };
}

// Whether distinct indices of (sizes, strides) reach distinct positions: with the dimensions of
// size > 1 sorted by stride, each stride must pass the farthest position the smaller ones reach.
bool nonOverlapping(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  std::vector<std::pair<int64_t, int64_t>> dims;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] > 1) dims.emplace_back(strides[i], sizes[i]);
  }
  std::sort(dims.begin(), dims.end());
  int64_t reach = 0;
  for (auto [stride, size] : dims) {
    if (stride <= reach) return false;
    // Saturating: an empty view may have huge strides (its sizes > 1 still reach nothing).
    reach = saturatingAdd(reach, saturatingMul(stride, size - 1));
  }
  return true;
}

// `t` itself when it is its storage, whole and in order; otherwise a copy that is. as_strided
// addresses the storage, so the gradient rules apply it only to tensors of this kind.
Tensor wholeStorage(const Tensor& t) {
  return t.impl()->coversStorage() ? t : t.clone();
}

}  // namespace

Tensor Tensor::view(IntArrayRef size) const {
  Tensor out = detail::viewOf(*this, size);
  recordView(out, *this, "ViewBackward0", reshapeTo(*this));
  return out;
}

Tensor Tensor::reshape(IntArrayRef size) const {
  std::optional<Tensor> out = detail::viewIfPossible(*this, size);
  if (!out) return clone().view(size);
  recordView(*out, *this, "ViewBackward0", reshapeTo(*this));
  return *out;
}

Tensor Tensor::squeeze() const {
  Tensor out = detail::squeezeView(*this);
  recordView(out, *this, "SqueezeBackward0", reshapeTo(*this));
  return out;
}

Tensor Tensor::squeeze(int64_t d) const {
  Tensor out = detail::squeezeView(*this, d);
  if (out.sizes() == sizes()) {
    recordView(out, *this, "SqueezeBackward1", [](const Tensor& g) { return g; });
  } else {
    recordView(out, *this, "SqueezeBackward1", reshapeTo(*this));
  }
  return out;
}

Tensor Tensor::unsqueeze(int64_t d) const {
  Tensor out = detail::unsqueezeView(*this, d);
  recordView(out, *this, "UnsqueezeBackward0", [d](const Tensor& g) { return g.squeeze(d); });
  return out;
}

Tensor Tensor::permute(IntArrayRef dims) const {
  Tensor out = detail::permuteView(*this, dims);
  const int64_t n = dim();
  std::vector<int64_t> inverse(n);
  for (int64_t i = 0; i < n; ++i) inverse[detail::wrapDim(dims[i], n)] = i;
  recordView(out, *this, "PermuteBackward0",
             [inverse](const Tensor& g) { return g.permute(inverse); });
  return out;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  Tensor out = detail::transposeView(*this, d0, d1);
  recordView(out, *this, "TransposeBackward0",
             [d0, d1](const Tensor& g) { return g.transpose(d0, d1); });
  return out;
}

Tensor Tensor::t() const {
  Tensor out = detail::tView(*this);
  recordView(out, *this, "TBackward0", [](const Tensor& g) { return g.t(); });
  return out;
}

Tensor Tensor::expand(IntArrayRef size) const {
  Tensor out = detail::expandView(*this, size);
  recordView(out, *this, "ExpandBackward0",
             [in_sizes = sizes().vec()](const Tensor& g) { return autograd::sumTo(g, in_sizes); });
  return out;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  Tensor out = detail::narrowView(*this, d, start, length);
  recordView(out, *this, "SliceBackward0",
             embedAt(*this, [=](const Tensor& z) { return z.narrow(d, start, length); }));
  return out;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  Tensor out = detail::selectView(*this, d, index);
  recordView(out, *this, "SelectBackward0",
             embedAt(*this, [=](const Tensor& z) { return z.select(d, index); }));
  return out;
}

Tensor Tensor::index(const std::vector<indexing::TensorIndex>& indices) const {
  if (indices.empty()) {
    throw Error("Passing an empty index list to Tensor::index() is not valid syntax");
  }
  if (autograd::hasIndexTensors(indices)) return autograd::advancedIndex(*this, indices);
  const char* name = nullptr;
  Tensor out = detail::indexView(*this, indices, &name);
  recordView(out, *this, name, embedAt(*this, [=](const Tensor& z) { return z.index(indices); }));
  return out;
}

Tensor Tensor::operator[](const Scalar& index) const {
  if (!index.isIntegral(false)) throw Error("Can only index tensors with integral scalars");
  return (*this)[index.toLong()];
}

Tensor Tensor::operator[](const Tensor& index) const {
  if (!index.defined()) throw Error("Can only index with tensors that are defined");
  if (index.dim() != 0) throw Error("Can only index with tensors that are scalars (zero-dim)");
  return (*this)[index.item()];
}

Tensor& Tensor::operator=(const Tensor& src) && {
  return copy_(src);
}
Tensor& Tensor::operator=(Tensor&& src) && {
  return copy_(src);
}
Tensor& Tensor::operator=(const Scalar& value) && {
  return fill_(value);
}

Tensor Tensor::as_strided(IntArrayRef size, IntArrayRef stride,
                          std::optional<int64_t> storage_offset) const {
  Tensor out = detail::asStridedView(*this, size, stride, storage_offset);
  if (!autograd::needsGrad({this})) return out;

  // The gradient sums what each position received: first over the dimensions that read one
  // position many times (stride 0), then each remaining position is written once.
  const std::vector<int64_t> sz = size.vec(), st = stride.vec();
  const int64_t off = out.storage_offset();
  std::vector<int64_t> summed, once_sizes = sz;
  for (size_t i = 0; i < sz.size(); ++i) {
    if (st[i] == 0 && sz[i] > 1) {
      summed.push_back(static_cast<int64_t>(i));
      once_sizes[i] = 1;
    }
  }
  if (!nonOverlapping(once_sizes, st)) {
    throw Error(absl::StrCat("as_strided: the derivative of a view whose strides ", shapeText(st),
                             " reach one position through different indices is not supported "
                             "yet"));
  }
  std::vector<int64_t> in_sizes = sizes().vec(), in_strides = strides().vec();
  if (!nonOverlapping(in_sizes, in_strides)) {
    throw Error(absl::StrCat("as_strided: the derivative with respect to an input whose strides ",
                             shapeText(in_strides),
                             " overlap (an expanded tensor) is not supported yet"));
  }
  const int64_t in_offset = this->storage_offset();
  const int64_t storage_numel = impl()->storage->numel;
  const ScalarType t = dtype();
  recordView(out, *this, "AsStridedBackward0", [=](const Tensor& g) {
    Tensor once = summed.empty() ? g : g.sum(summed, /*keepdim=*/true);
    Tensor storage_grad = embedView(once, {storage_numel}, t, [=](const Tensor& z) {
      return wholeStorage(z).as_strided(once_sizes, st, off);
    });
    return storage_grad.as_strided(in_sizes, in_strides, in_offset);
  });
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = detail::cloneOf(*this);
  recordView(out, *this, "CloneBackward0", [](const Tensor& g) { return g; });
  return out;
}

Tensor clone(const Tensor& a, std::optional<MemoryFormat> memory_format) {
  return a.clone(memory_format);
}

Tensor Tensor::type_as(const Tensor& other) const {
  return to(other.options());
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  // Only skipped (1-D, empty) parts: an empty result that still records CatBackward0.
  const int64_t d = detail::catDim(tensors, dim).value_or(0);
  Tensor out = detail::concat(tensors, d);
  autograd::recordCat(out, tensors, d);
  return out;
}

}  // namespace kiln
