// The ops that read or write the positions an index tensor holds: advanced indexing (index and
// index_put_ with integer tensors, masks and literal bools), gather, scatter, scatter_add,
// index_select, masked_fill, masked_select, nonzero and embedding. Each is a lazy gather or scatter
// node (lib/frontend/gather.cpp) that fuses with what produces its source and what reads its
// result, plus its backward rule, which is a scatter for a gather and a gather for a scatter.
//
// Index values are data, but PyTorch refuses an index out of range when the op is called, so
// these ops read their index tensors then (materialising them if they are pending); the source
// and the result stay lazy. An op whose result's size depends on the data (masked_select, a mask
// index, nonzero) also reads its mask then.
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <cstring>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "kiln/warning.h"
#include "lib/autograd/function.h"
#include "lib/autograd/in_place.h"
#include "lib/autograd/rules.h"
#include "lib/core/checked.h"
#include "lib/core/scalar_type.h"
#include "lib/frontend/common.h"
#include "lib/frontend/raw_ops.h"

namespace kiln {

using detail::shapeText;
using indexing::TensorIndex;

namespace {

std::string typeName(ScalarType t) {
  return std::string(toString(t));
}

bool isMaskType(ScalarType t) {
  return t == kBool || t == kByte;
}

// A mask as kBool: a uint8 one is read as (mask != 0) after PyTorch's deprecation warning.
Tensor boolMask(const Tensor& mask, const char* function, const char* warning) {
  if (mask.dtype() != kByte) return mask;
  Warning::warn({function, __FILE__, static_cast<uint32_t>(__LINE__)}, warning,
                /*verbatim=*/false);
  NoGradGuard no_grad;
  return mask != 0;
}

// masked_fill's mask: bool, or uint8 (deprecated).
Tensor fillMask(const Tensor& mask) {
  if (!isMaskType(mask.dtype())) {
    throw Error(absl::StrCat("masked_fill_ only supports boolean masks, but got mask with dtype ",
                             std::string(pythonName(mask.dtype()))));
  }
  return boolMask(mask, "masked_fill_impl_cpu",
                  "masked_fill_ received a mask with dtype torch.uint8, this behavior is now "
                  "deprecated,please use a mask with dtype torch.bool instead.");
}

Tensor indexMask(const Tensor& mask) {
  return boolMask(mask, "expandTensors",
                  "indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                  "torch.bool instead.");
}

// ---- advanced indexing ----

// An index list split into its basic part, applied as a view, and its index tensors.
struct Advanced {
  Tensor view;                  // the tensor after the basic indices (each tensor's dim kept)
  std::vector<Tensor> tensors;  // the index tensors, kLong, broadcast to `shape`, in range
  std::vector<int64_t> dims;    // the dimension of `view` each indexes (increasing)
  std::vector<int64_t> shape;   // their broadcast shape
};

// The positions (in `basic`) of the placeholders standing for index tensors, mapped to the
// dimensions of the basic view they keep, as libtorch's basic indexing walks them.
std::vector<int64_t> placeholderDims(const std::vector<TensorIndex>& basic,
                                     const std::vector<size_t>& positions, int64_t ndim) {
  using Kind = TensorIndex::Kind;
  int64_t specified = 0;
  for (const TensorIndex& ix : basic)
    specified += ix.kind() == Kind::Integer || ix.kind() == Kind::Slice ? 1 : 0;
  std::vector<int64_t> dim_at(basic.size(), -1);
  int64_t d = 0;
  for (size_t p = 0; p < basic.size(); ++p) {
    dim_at[p] = d;
    switch (basic[p].kind()) {
      case Kind::Slice:
      case Kind::None:
        ++d;
        break;
      case Kind::Ellipsis:
        d += ndim - specified;
        break;
      default:
        break;
    }
  }
  std::vector<int64_t> dims;
  for (size_t p : positions) dims.push_back(dim_at[p]);
  return dims;
}

Advanced splitIndices(const Tensor& self, const std::vector<TensorIndex>& indices) {
  NoGradGuard no_grad;
  std::vector<TensorIndex> basic;
  std::vector<size_t> positions;  // of the placeholders, one per index tensor or mask dimension
  struct Given {
    Tensor tensor;
    bool mask;
  };
  std::vector<Given> given;
  for (const TensorIndex& ix : indices) {
    if (ix.is_boolean()) {
      // A literal bool indexes a new dimension of size 1: all of it, or none of it.
      positions.push_back(basic.size());
      basic.emplace_back(indexing::None);
      given.push_back({ix.boolean() ? zeros({1}, kLong) : zeros({0}, kLong), false});
      continue;
    }
    if (!ix.is_tensor()) {
      basic.push_back(ix);
      continue;
    }
    Tensor t(ix.tensor_impl());
    if (!t.defined()) throw Error("Can only index with tensors that are defined");
    if (isMaskType(t.dtype())) {
      t = indexMask(t);
      given.push_back({t, true});
      for (int64_t k = 0; k < std::max<int64_t>(t.dim(), 1); ++k) {
        positions.push_back(basic.size());
        basic.emplace_back(k < t.dim() ? TensorIndex(indexing::Slice()) : indexing::None);
      }
    } else if (t.dtype() == kLong) {
      given.push_back({t, false});
      positions.push_back(basic.size());
      basic.emplace_back(indexing::Slice());
    } else {
      throw Error("tensors used as indices must be long, byte or bool tensors");
    }
  }
  Advanced a;
  a.view = detail::indexView(self, basic);
  const std::vector<int64_t> placeholder_dims = placeholderDims(basic, positions, self.dim());
  size_t next = 0;
  for (const Given& g : given) {
    const int64_t first = placeholder_dims[next];
    if (!g.mask) {
      a.tensors.push_back(g.tensor);
      a.dims.push_back(first);
      ++next;
      continue;
    }
    // A mask names the positions where it is true over as many dimensions as it has (a 0-dim
    // mask a new dimension of size 1, like a literal bool).
    const std::vector<int64_t> sizes = a.view.sizes().vec();
    for (int64_t k = 0; k < g.tensor.dim(); ++k) {
      if (first + k >= static_cast<int64_t>(sizes.size()) || g.tensor.size(k) != sizes[first + k]) {
        throw Error(absl::StrCat("The shape of the mask ", shapeText(g.tensor.sizes().vec()),
                                 " at index ", k,
                                 " does not match the shape of the indexed tensor ",
                                 shapeText(sizes), " at index ", first + k));
      }
    }
    Tensor where_true = g.tensor.dim() == 0 ? g.tensor.reshape({1}).nonzero() : g.tensor.nonzero();
    for (int64_t k = 0; k < std::max<int64_t>(g.tensor.dim(), 1); ++k) {
      a.tensors.push_back(where_true.select(1, k));
      a.dims.push_back(first + k);
    }
    next += static_cast<size_t>(std::max<int64_t>(g.tensor.dim(), 1));
  }
  // Broadcast together, as PyTorch's expandTensors.
  std::vector<int64_t> shape = a.tensors[0].sizes().vec();
  try {
    for (const Tensor& t : a.tensors) shape = detail::broadcastShapes(shape, t.sizes().vec());
  } catch (const Error&) {
    std::vector<std::string> shapes;
    for (const Tensor& t : a.tensors) shapes.push_back(shapeText(t.sizes().vec()));
    throw Error(absl::StrCat(
        "shape mismatch: indexing tensors could not be broadcast together with shapes ",
        absl::StrJoin(shapes, ", ")));
  }
  a.shape = shape;
  for (size_t j = 0; j < a.tensors.size(); ++j) {
    const int64_t size = a.view.size(a.dims[j]);
    const bool negative =
        detail::checkIndexRange(a.tensors[j], size, /*negatives_wrap=*/true, [&](int64_t i) {
          // PyTorch's own words for an empty dimension.
          if (size == 0) return std::string("index is out of bounds for dimension with size 0");
          return absl::StrCat("index ", i, " is out of bounds for dimension ", j, " with size ",
                              size);
        });
    Tensor t = a.tensors[j];
    if (negative) t = where(t < 0, t + size, t);
    a.tensors[j] = t.expand(shape);
  }
  return a;
}

// Whether the indexed dimensions are adjacent: the result then keeps the index tensors' shape
// in their place, otherwise it comes first (PyTorch's rule).
bool adjacent(const std::vector<int64_t>& dims) {
  for (size_t j = 1; j < dims.size(); ++j) {
    if (dims[j] != dims[j - 1] + 1) return false;
  }
  return true;
}

// The indexing result's layout: the dimensions of `view` before the indexed ones (none when they
// are not adjacent), the index shape, then the other dimensions, each with its size and stride.
struct Layout {
  int64_t at = 0;  // where the index shape starts
  std::vector<int64_t> before, before_strides, after, after_strides;
  std::vector<int64_t> order;  // the view's dimensions: before, the indexed ones, after
};

Layout layoutOf(const Advanced& a) {
  Layout l;
  const bool adj = adjacent(a.dims);
  std::vector<int64_t> after_dims;
  for (int64_t d = 0; d < a.view.dim(); ++d) {
    const bool indexed = std::find(a.dims.begin(), a.dims.end(), d) != a.dims.end();
    if (indexed) continue;
    const bool before = adj && d < a.dims.front();
    (before ? l.before : l.after).push_back(a.view.size(d));
    (before ? l.before_strides : l.after_strides).push_back(a.view.stride(d));
    (before ? l.order : after_dims).push_back(d);
  }
  l.at = static_cast<int64_t>(l.before.size());
  l.order.insert(l.order.end(), a.dims.begin(), a.dims.end());
  l.order.insert(l.order.end(), after_dims.begin(), after_dims.end());
  return l;
}

std::vector<int64_t> resultShape(const Layout& l, const std::vector<int64_t>& index_shape) {
  std::vector<int64_t> r = l.before;
  r.insert(r.end(), index_shape.begin(), index_shape.end());
  r.insert(r.end(), l.after.begin(), l.after.end());
  return r;
}

// One index of the merged indexed dimensions: sum_j t_j * weight_j, as a lazy kLong tensor of
// the index shape.
Tensor combined(const Advanced& a, const std::vector<int64_t>& weights) {
  Tensor f;
  for (size_t j = 0; j < a.tensors.size(); ++j) {
    Tensor term = weights[j] == 1 ? a.tensors[j] : a.tensors[j] * weights[j];
    f = f.defined() ? f + term : term;
  }
  return f;
}

// `t` (of the index shape, or [1] for a 0-dim one) placed at `l.at` of the result's dimensions
// and expanded over them.
Tensor spread(const Tensor& t, const Layout& l, const std::vector<int64_t>& result) {
  std::vector<int64_t> shape(l.before.size(), 1);
  const std::vector<int64_t> s = t.sizes().vec();
  shape.insert(shape.end(), s.begin(), s.end());
  shape.insert(shape.end(), l.after.size(), 1);
  return t.reshape(shape).expand(result);
}

// x.index(indices) without autograd: a gather from the view, its indexed dimensions merged
// into one (moved first when they are not adjacent).
Tensor gatherIndexed(const Advanced& a) {
  NoGradGuard no_grad;
  const Layout l = layoutOf(a);
  const int64_t k = static_cast<int64_t>(a.dims.size());
  // An empty result reads nothing (and its merged dimensions may not fit an int64).
  const std::vector<int64_t> shown = resultShape(l, a.shape);
  if (std::find(shown.begin(), shown.end(), 0) != shown.end())
    return zeros(shown, a.view.options());
  // The view with the indexed dimensions together at l.at.
  Tensor v = a.view.permute(l.order);
  std::vector<int64_t> weights(k, 1);
  int64_t n = 1;
  for (int64_t j = k - 1; j >= 0; --j) {
    weights[j] = n;
    n = saturatingMul(n, a.view.size(a.dims[j]));
  }
  // [before..., n, after...]
  std::vector<int64_t> merged = l.before;
  merged.push_back(n);
  merged.insert(merged.end(), l.after.begin(), l.after.end());
  Tensor source = v.reshape(merged);
  std::vector<int64_t> index_shape = a.shape.empty() ? std::vector<int64_t>{1} : a.shape;
  std::vector<int64_t> result = resultShape(l, index_shape);
  // The source broadcast over the index shape's other dimensions.
  std::vector<int64_t> src_shape = l.before;
  src_shape.push_back(n);
  src_shape.insert(src_shape.end(), index_shape.size() - 1, 1);
  src_shape.insert(src_shape.end(), l.after.begin(), l.after.end());
  std::vector<int64_t> src_expanded = result;
  src_expanded[l.at] = n;
  source = source.reshape(src_shape).expand(src_expanded);
  Tensor f = combined(a, weights);
  if (a.shape.empty()) f = f.reshape({1});
  Tensor out = detail::gatherAlong(source, l.at, spread(f, l, result));
  return a.shape.empty() ? out.squeeze(l.at) : out;
}

// Stores (or with `accumulate` adds) `values` into `out` (a fresh tensor only the caller sees)
// at the positions `indices` name: a scatter through the indexed view's strides, the indexed
// dimensions combined into one offset.
void scatterIndexed(const Tensor& out, const std::vector<TensorIndex>& indices,
                    const Tensor& values, bool accumulate) {
  NoGradGuard no_grad;
  const Advanced a = splitIndices(out, indices);
  const Layout l = layoutOf(a);
  std::vector<int64_t> index_shape = a.shape.empty() ? std::vector<int64_t>{1} : a.shape;
  const std::vector<int64_t> result = resultShape(l, index_shape);
  const std::vector<int64_t> shown = resultShape(l, a.shape);
  // The value broadcast to the indexing result, as PyTorch's index_put_.
  Tensor v = values;
  try {
    if (detail::broadcastShapes(v.sizes().vec(), shown) != shown) throw Error("");
  } catch (const Error&) {
    throw Error(
        absl::StrCat("shape mismatch: value tensor of shape ", shapeText(values.sizes().vec()),
                     " cannot be broadcast to indexing result of shape ", shapeText(shown)));
  }
  v = v.expand(shown).reshape(result);
  std::vector<int64_t> weights;
  int64_t extent = 1;
  for (size_t j = 0; j < a.dims.size(); ++j) {
    weights.push_back(a.view.stride(a.dims[j]));
    extent = saturatingAdd(
        extent, saturatingMul(std::max<int64_t>(a.view.size(a.dims[j]) - 1, 0), weights.back()));
  }
  Tensor f = combined(a, weights);
  if (a.shape.empty()) f = f.reshape({1});
  detail::ScatterGeometry at;
  at.axis = l.at;
  at.extent = extent;
  at.strides = l.before_strides;
  at.strides.push_back(1);
  at.strides.insert(at.strides.end(), index_shape.size() - 1, 0);
  at.strides.insert(at.strides.end(), l.after_strides.begin(), l.after_strides.end());
  at.offset = a.view.storage_offset();
  detail::recordScatter(out, at, spread(f, l, result), v, accumulate);
}

bool hasAdvanced(const std::vector<TensorIndex>& indices) {
  return std::any_of(indices.begin(), indices.end(),
                     [](const TensorIndex& ix) { return ix.is_tensor() || ix.is_boolean(); });
}

// The single mask index over leading dimensions of `self`, where index_put_ of one number is a
// select that needs no positions (the mask stays lazy).
bool leadingMask(const Tensor& self, const std::vector<TensorIndex>& indices) {
  if (indices.size() != 1 || !indices[0].is_tensor()) return false;
  Tensor m(indices[0].tensor_impl());
  if (!m.defined() || !isMaskType(m.dtype()) || m.dim() == 0 || m.dim() > self.dim()) return false;
  for (int64_t k = 0; k < m.dim(); ++k) {
    if (m.size(k) != self.size(k)) return false;
  }
  return true;
}

// index_put without autograd: `self` with `values` stored at (or added to) the indexed positions.
Tensor indexPutRaw(const Tensor& self, const std::vector<TensorIndex>& indices,
                   const Tensor& values, bool accumulate) {
  NoGradGuard no_grad;
  if (values.dtype() != self.dtype()) {
    throw Error(absl::StrCat("Index put requires the source and destination dtypes match, got ",
                             typeName(self.dtype()), " for the destination and ",
                             typeName(values.dtype()), " for the source."));
  }
  if (!accumulate && values.numel() == 1 && values.dim() <= 1 && leadingMask(self, indices)) {
    Tensor m = indexMask(Tensor(indices[0].tensor_impl()));
    std::vector<int64_t> shape = m.sizes().vec();
    shape.resize(static_cast<size_t>(self.dim()), 1);
    return where(m.reshape(shape), values.reshape({}), self);
  }
  Tensor out = self.clone();
  scatterIndexed(out, indices, values, accumulate);
  return out;
}

void checkIndexType(const char* op, const Tensor& index) {
  if (index.dtype() != kLong) {
    throw Error(absl::StrCat(op, "(): Expected dtype int64 for index"));
  }
}

// gather's and scatter's checks of the index against self (and src).
void checkGatherShapes(int64_t dim, const Tensor& self, const Tensor& index) {
  if (index.dim() != self.dim() && !(index.dim() <= 1 && self.dim() <= 1)) {
    throw Error("Index tensor must have the same number of dimensions as input tensor");
  }
  for (int64_t d = 0; d < index.dim(); ++d) {
    if (d != dim && index.size(d) > self.size(d)) {
      throw Error(absl::StrCat("Size does not match at dimension ", d, " expected index ",
                               shapeText(index.sizes().vec()), " to be smaller than self ",
                               shapeText(self.sizes().vec()), " apart from dimension ", dim));
    }
  }
}

void checkScatterShapes(int64_t dim, const Tensor& self, const Tensor& index, const Tensor* src) {
  if (index.dim() != self.dim() && !(index.dim() <= 1 && self.dim() <= 1)) {
    throw Error("Index tensor must have the same number of dimensions as self tensor");
  }
  if (src && src->dim() != index.dim() && !(index.dim() <= 1 && src->dim() <= 1)) {
    throw Error("Index tensor must have the same number of dimensions as src tensor");
  }
  for (int64_t d = 0; d < index.dim(); ++d) {
    const bool beyond_self = d != dim && index.size(d) > self.size(d);
    const bool beyond_src = src && index.size(d) > src->size(d);
    if (beyond_self || beyond_src) {
      if (src) {
        throw Error(absl::StrCat("Expected index ", shapeText(index.sizes().vec()),
                                 " to be smaller than self ", shapeText(self.sizes().vec()),
                                 " apart from dimension ", dim, " and to be smaller size than src ",
                                 shapeText(src->sizes().vec())));
      }
      throw Error(absl::StrCat("Expected index ", shapeText(index.sizes().vec()),
                               " to be smaller than self ", shapeText(self.sizes().vec()),
                               " apart from dimension ", dim));
    }
  }
}

void checkGatherRange(const Tensor& index, int64_t dim, int64_t size) {
  detail::checkIndexRange(index, size, /*negatives_wrap=*/false, [&](int64_t i) {
    return absl::StrCat("index ", i, " is out of bounds for dimension ", dim, " with size ", size);
  });
}

// `t` narrowed to the first sizes[d] elements of each dimension.
Tensor narrowTo(const Tensor& t, IntArrayRef sizes) {
  Tensor v = t;
  for (int64_t d = 0; d < static_cast<int64_t>(sizes.size()); ++d) {
    if (v.size(d) != sizes[d]) v = detail::narrowView(v, d, 0, sizes[d]);
  }
  return v;
}

// A gradient for a tensor of `sizes` that only its leading window of `window` sizes receives.
Tensor padTo(const Tensor& g, IntArrayRef sizes) {
  if (g.sizes() == sizes) return g;
  const std::vector<int64_t> window = g.sizes().vec();
  return autograd::embedView(g, sizes, g.dtype(), [window](const Tensor& z) {
    Tensor v = z;
    for (int64_t d = 0; d < static_cast<int64_t>(window.size()); ++d) v = v.narrow(d, 0, window[d]);
    return v;
  });
}

// The raw scatter: a copy of `self` with `src` (narrowed to index's shape) stored or added
// along `dim`.
Tensor scatterRaw(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
                  bool add) {
  NoGradGuard no_grad;
  Tensor out = self.clone();
  if (index.numel() == 0) return out;
  detail::ScatterGeometry at;
  at.axis = self.dim() == 0 ? 0 : dim;
  at.extent = self.dim() == 0 ? 1 : self.size(dim);
  at.strides = self.dim() == 0 ? std::vector<int64_t>{1} : out.strides().vec();
  Tensor idx = index.dim() == 0 ? index.reshape({1}) : index;
  Tensor value = src.dim() == 0 ? src.reshape({1}) : src;
  detail::recordScatter(out, at, idx, narrowTo(value, idx.sizes()), add);
  return out;
}

Tensor scatterChecked(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src,
                      bool add, const char* name) {
  const int64_t d = detail::wrapDim(dim, self.dim());
  checkIndexType("scatter", index);
  if (src.dtype() != self.dtype())
    throw Error("scatter(): Expected self.dtype to be equal to src.dtype");
  checkScatterShapes(d, self, index, &src);
  checkGatherRange(index, d, self.dim() == 0 ? 1 : self.size(d));
  Tensor out = scatterRaw(self, d, index, src, add);
  autograd::record(
      out, name, {self, src}, {index},
      [d, add, src_sizes = src.sizes().vec()](const Tensor& g, const std::vector<Tensor>& saved) {
        const Tensor& idx = saved[0];
        Tensor grad_self = add ? g : g.scatter(d, idx, 0);
        return std::vector<Tensor>{grad_self, padTo(g.gather(d, idx), src_sizes)};
      });
  return out;
}

}  // namespace

// ---- advanced indexing ----

bool autograd::hasIndexTensors(const std::vector<TensorIndex>& indices) {
  return hasAdvanced(indices);
}

Tensor autograd::advancedIndex(const Tensor& self, const std::vector<TensorIndex>& indices) {
  const Advanced a = splitIndices(self, indices);
  Tensor out = gatherIndexed(a);
  autograd::record(out, "IndexBackward0", {self}, {},
                   [indices, sizes = self.sizes().vec(), dtype = self.dtype()](
                       const Tensor& g, const std::vector<Tensor>&) {
                     return std::vector<Tensor>{
                         zeros(sizes, g.options()).index_put(indices, g, /*accumulate=*/true)};
                   });
  return out;
}

Tensor Tensor::index_put(const std::vector<TensorIndex>& indices, const Tensor& values,
                         bool accumulate) const {
  if (indices.empty())
    throw Error("Passing an empty index list to Tensor::index_put_() is not valid syntax");
  Tensor out = indexPutRaw(*this, indices, values, accumulate);
  autograd::record(
      out, "IndexPutBackward0", {*this, values}, {},
      [indices, accumulate, value_sizes = values.sizes().vec()](const Tensor& g,
                                                                const std::vector<Tensor>&) {
        Tensor grad_self = accumulate ? g : g.index_put(indices, zeros({}, g.options()));
        return std::vector<Tensor>{grad_self, autograd::sumTo(g.index(indices), value_sizes)};
      });
  return out;
}

Tensor& Tensor::index_put_(const std::vector<indexing::TensorIndex>& indices, const Tensor& value) {
  if (indices.empty()) {
    throw Error("Passing an empty index list to Tensor::index_put_() is not valid syntax");
  }
  if (hasAdvanced(indices)) return index_put_(indices, value, false);
  // As PyTorch's setitem (copy_to): a value of the target's shape is copied, a 0-dim value
  // fills, and any other value loses its leading 1s and is expanded to the target's shape
  // (expand's error where it cannot be).
  Tensor target = index(indices);
  if (target.sizes() == value.sizes()) {
    target.copy_(value);
  } else if (value.dim() == 0) {
    target.fill_(value);
  } else {
    std::vector<int64_t> trimmed = value.sizes().vec();
    size_t ones = 0;
    while (ones < trimmed.size() && trimmed[ones] == 1) ++ones;
    trimmed.erase(trimmed.begin(), trimmed.begin() + static_cast<std::ptrdiff_t>(ones));
    target.copy_(value.reshape(trimmed).expand(target.sizes()));
  }
  return *this;
}
Tensor& Tensor::index_put_(const std::vector<indexing::TensorIndex>& indices, const Scalar& value) {
  if (indices.empty()) {
    throw Error("Passing an empty index list to Tensor::index_put_() is not valid syntax");
  }
  if (hasAdvanced(indices)) return index_put_(indices, full({}, value, options()), false);
  Tensor target = index(indices);
  target.fill_(value);
  return *this;
}

Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, const Tensor& values,
                           bool accumulate) const {
  return autograd::inPlace(
      *this, [&](const Tensor& old) { return old.index_put(indices, values, accumulate); });
}

Tensor Tensor::gather(int64_t dim, const Tensor& index, bool sparse_grad) const {
  if (sparse_grad) throw Error("gather(): sparse_grad=true is not supported yet");
  const int64_t d = detail::wrapDim(dim, this->dim());
  checkIndexType("gather", index);
  checkGatherShapes(d, *this, index);
  checkGatherRange(index, d, this->dim() == 0 ? 1 : size(d));
  Tensor out;
  {
    NoGradGuard no_grad;
    if (this->dim() == 0) {
      out = detail::gatherAlong(reshape({1}), 0, index.reshape({1})).reshape(index.sizes());
    } else {
      std::vector<int64_t> window = index.sizes().vec();
      window[d] = size(d);
      out = index.numel() == 0 ? zeros(index.sizes(), options())
                               : detail::gatherAlong(narrowTo(*this, window), d, index);
    }
  }
  autograd::record(
      out, "GatherBackward0", {*this}, {index},
      [d, sizes = sizes().vec()](const Tensor& g, const std::vector<Tensor>& saved) {
        return std::vector<Tensor>{zeros(sizes, g.options()).scatter_add(d, saved[0], g)};
      });
  return out;
}

Tensor Tensor::scatter(int64_t dim, const Tensor& index, const Tensor& src) const {
  return scatterChecked(*this, dim, index, src, /*add=*/false, "ScatterBackward0");
}

Tensor Tensor::scatter(int64_t dim, const Tensor& index, const Scalar& value) const {
  const int64_t d = detail::wrapDim(dim, this->dim());
  checkIndexType("scatter", index);
  checkScatterShapes(d, *this, index, nullptr);
  checkGatherRange(index, d, this->dim() == 0 ? 1 : size(d));
  Tensor out = scatterRaw(*this, d, index, full(index.sizes(), value, options()), false);
  autograd::record(out, "ScatterBackward1", {*this}, {index},
                   [d](const Tensor& g, const std::vector<Tensor>& saved) {
                     return std::vector<Tensor>{g.scatter(d, saved[0], 0)};
                   });
  return out;
}

Tensor Tensor::scatter_add(int64_t dim, const Tensor& index, const Tensor& src) const {
  return scatterChecked(*this, dim, index, src, /*add=*/true, "ScatterAddBackward0");
}

Tensor& Tensor::scatter_(int64_t dim, const Tensor& index, const Tensor& src) const {
  return autograd::inPlace(*this, [&](const Tensor& old) { return old.scatter(dim, index, src); });
}

Tensor& Tensor::scatter_(int64_t dim, const Tensor& index, const Scalar& value) const {
  return autograd::inPlace(*this,
                           [&](const Tensor& old) { return old.scatter(dim, index, value); });
}

Tensor& Tensor::scatter_add_(int64_t dim, const Tensor& index, const Tensor& src) const {
  return autograd::inPlace(*this,
                           [&](const Tensor& old) { return old.scatter_add(dim, index, src); });
}

Tensor Tensor::index_select(int64_t dim, const Tensor& index) const {
  const int64_t d = detail::wrapDim(dim, this->dim());
  if (index.dtype() != kLong && index.dtype() != kInt)
    throw Error("index_select(): Expected dtype int32 or int64 for index");
  if (index.dim() > 1) throw Error("index_select(): Index is supposed to be a vector");
  const int64_t extent = this->dim() == 0 ? 1 : size(d);
  detail::checkIndexRange(index, extent, /*negatives_wrap=*/false,
                          [](int64_t) { return std::string("index out of range in self"); });
  const int64_t n = index.numel();
  std::vector<int64_t> shape = this->dim() == 0 ? std::vector<int64_t>{1} : sizes().vec();
  shape[d] = n;
  Tensor spread_index;
  Tensor out;
  {
    NoGradGuard no_grad;
    std::vector<int64_t> column(shape.size(), 1);
    column[d] = n;
    spread_index = index.to(kLong).reshape(column).expand(shape);
    Tensor source = this->dim() == 0 ? reshape({1}) : *this;
    out = n == 0 ? zeros(shape, options()) : detail::gatherAlong(source, d, spread_index);
    if (this->dim() == 0) out = out.reshape(index.sizes());
  }
  autograd::record(
      out, "IndexSelectBackward0", {*this}, {spread_index},
      [d, sizes = sizes().vec(), shape](const Tensor& g, const std::vector<Tensor>& saved) {
        Tensor flat = zeros(sizes.empty() ? std::vector<int64_t>{1} : sizes, g.options());
        return std::vector<Tensor>{flat.scatter_add(d, saved[0], g.reshape(shape)).reshape(sizes)};
      });
  return out;
}

Tensor Tensor::masked_fill(const Tensor& given_mask, const Tensor& value) const {
  if (value.dim() != 0) {
    throw Error(absl::StrCat(
        "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with ",
        value.dim(), " dimension(s)."));
  }
  const Tensor mask = fillMask(given_mask);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = where(mask, value.to(dtype()), *this);
  }
  autograd::record(out, "MaskedFillBackward0", {*this, value}, {mask},
                   [sizes = sizes().vec()](const Tensor& g, const std::vector<Tensor>& saved) {
                     const Tensor& m = saved[0];
                     return std::vector<Tensor>{autograd::sumTo(g.masked_fill(m, 0), sizes),
                                                where(m, g, zeros({}, g.options())).sum()};
                   });
  return out;
}

Tensor Tensor::masked_fill(const Tensor& given_mask, const Scalar& value) const {
  const Tensor mask = fillMask(given_mask);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = where(mask, full({}, value, options()), *this);
  }
  autograd::record(out, "MaskedFillBackward0", {*this}, {mask},
                   [sizes = sizes().vec()](const Tensor& g, const std::vector<Tensor>& saved) {
                     return std::vector<Tensor>{autograd::sumTo(g.masked_fill(saved[0], 0), sizes)};
                   });
  return out;
}

Tensor& Tensor::masked_fill_(const Tensor& mask, const Scalar& value) const {
  return autograd::inPlace(*this, [&](const Tensor& old) { return old.masked_fill(mask, value); });
}

Tensor& Tensor::masked_fill_(const Tensor& mask, const Tensor& value) const {
  return autograd::inPlace(*this, [&](const Tensor& old) { return old.masked_fill(mask, value); });
}

Tensor Tensor::masked_select(const Tensor& given_mask) const {
  if (!isMaskType(given_mask.dtype()))
    throw Error("masked_select: expected BoolTensor or ByteTensor for mask");
  const Tensor mask = boolMask(given_mask, "masked_select_out_impl_cpu",
                               "masked_select received a mask with dtype torch.uint8, this "
                               "behavior is now deprecated,please use a mask with dtype "
                               "torch.bool instead.");
  const std::vector<int64_t> shape = detail::broadcastShapes(sizes().vec(), mask.sizes().vec());
  Tensor expanded_mask = mask.expand(shape);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = autograd::advancedIndex(expand(shape), {TensorIndex(expanded_mask)});
  }
  autograd::record(
      out, "MaskedSelectBackward0", {*this}, {expanded_mask},
      [shape, sizes = sizes().vec()](const Tensor& g, const std::vector<Tensor>& saved) {
        return std::vector<Tensor>{autograd::sumTo(
            zeros(shape, g.options()).index_put({TensorIndex(saved[0])}, g), sizes)};
      });
  return out;
}

Tensor Tensor::nonzero() const {
  NoGradGuard no_grad;
  const std::vector<double> values = detail::toDoubles(*this);
  const int64_t n = this->dim();
  std::vector<int64_t> positions;
  std::vector<int64_t> at(static_cast<size_t>(n), 0);
  const std::vector<int64_t> sz = sizes().vec();
  for (double v : values) {
    if (v != 0) positions.insert(positions.end(), at.begin(), at.end());
    for (int64_t d = n - 1; d >= 0; --d) {
      if (++at[d] < sz[d]) break;
      at[d] = 0;
    }
  }
  int64_t count = 0;
  for (double v : values) count += v != 0 ? 1 : 0;
  Tensor out = empty({count, n}, TensorOptions(kLong).device(device()));
  if (!positions.empty()) {
    std::memcpy(out.data_ptr<int64_t>(), positions.data(), positions.size() * sizeof(int64_t));
  }
  return out;
}

Tensor gather(const Tensor& self, int64_t dim, const Tensor& index, bool sparse_grad) {
  return self.gather(dim, index, sparse_grad);
}
Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  return self.scatter(dim, index, src);
}
Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Scalar& value) {
  return self.scatter(dim, index, value);
}
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  return self.scatter_add(dim, index, src);
}
Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index) {
  return self.index_select(dim, index);
}
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Scalar& value) {
  return self.masked_fill(mask, value);
}
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Tensor& value) {
  return self.masked_fill(mask, value);
}
Tensor masked_select(const Tensor& self, const Tensor& mask) {
  return self.masked_select(mask);
}
Tensor nonzero(const Tensor& self) {
  return self.nonzero();
}
Tensor index_put(const Tensor& self, const std::vector<TensorIndex>& indices, const Tensor& values,
                 bool accumulate) {
  return self.index_put(indices, values, accumulate);
}

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx,
                 bool scale_grad_by_freq, bool sparse) {
  if (indices.dtype() != kLong && indices.dtype() != kInt) {
    throw Error(absl::StrCat(
        "Expected tensor for argument #1 'indices' to have one of the following scalar types: "
        "Long, Int; but got ",
        std::string(detail::legacyTypeName(indices.dtype())),
        " instead (while checking arguments for embedding)"));
  }
  if (weight.dim() != 2) throw Error("'weight' must be 2-D");
  if (scale_grad_by_freq) throw Error("embedding: scale_grad_by_freq=true is not supported yet");
  if (sparse) throw Error("embedding: sparse=true is not supported yet");
  const int64_t rows = weight.size(0), width = weight.size(1);
  detail::checkIndexRange(indices, rows, /*negatives_wrap=*/false,
                          [](int64_t) { return std::string("index out of range in self"); });
  const int64_t n = indices.numel();
  std::vector<int64_t> shape = indices.sizes().vec();
  shape.push_back(width);
  Tensor spread_index;
  Tensor out;
  {
    NoGradGuard no_grad;
    spread_index = indices.to(kLong).reshape({n, 1}).expand({n, width});
    out =
        n == 0 ? zeros({0, width}, weight.options()) : detail::gatherAlong(weight, 0, spread_index);
    out = out.reshape(shape);
  }
  autograd::record(
      out, "EmbeddingBackward0", {weight}, {spread_index},
      [rows, width, n, padding_idx](const Tensor& g, const std::vector<Tensor>& saved) {
        Tensor rows_grad = g.reshape({n, width});
        // The padding row receives no gradient, as in PyTorch.
        if (padding_idx >= 0) rows_grad = rows_grad.masked_fill(saved[0] == padding_idx, 0);
        return std::vector<Tensor>{
            zeros({rows, width}, g.options()).scatter_add(0, saved[0], rows_grad)};
      });
  return out;
}

}  // namespace kiln
