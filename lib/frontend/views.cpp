// Views share their base's storage: each is a new (sizes, strides, offset) over it. The raw
// view ops (lib/frontend/raw_ops.h) compute the geometry; lib/autograd/view_ops.cpp makes them
// the differentiable Tensor methods. The compositions of those methods are here.
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <stdexcept>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "lib/core/checked.h"
#include "lib/frontend/common.h"
#include "lib/frontend/raw_ops.h"

namespace kiln {

using detail::makeView;
using detail::shapeText;
using detail::wrapDim;

namespace {

// PyTorch's infer_size, with the product of the known sizes exact: a 0 among them makes it 0
// however large the others ([3, 2^62, 0] views an empty tensor), and a product past the int64
// range fits no tensor (an empty one only gets its -1 inferred as 0).
std::vector<int64_t> inferSize(IntArrayRef shape, int64_t numel) {
  std::vector<int64_t> out = shape.vec();
  std::vector<int64_t> known_sizes;
  int infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) throw Error("only one dimension can be inferred");
      infer = static_cast<int>(i);
    } else if (out[i] < 0) {
      throw Error(absl::StrCat("invalid shape dimension ", out[i]));
    } else {
      known_sizes.push_back(out[i]);
    }
  }
  int64_t known;
  const bool has_zero = std::find(known_sizes.begin(), known_sizes.end(), 0) != known_sizes.end();
  if (has_zero) {
    known = 0;
  } else if (productOverflows(known_sizes, &known)) {
    if (infer >= 0 && numel == 0) {
      out[infer] = 0;
      return out;
    }
    throw Error(
        absl::StrCat("shape '", shapeText(shape.vec()), "' is invalid for input of size ", numel));
  }
  if (numel == known || (infer >= 0 && known > 0 && numel % known == 0)) {
    if (infer >= 0) {
      if (known == 0) {
        throw Error(absl::StrCat("cannot reshape tensor of 0 elements into shape ",
                                 shapeText(shape.vec()),
                                 " because the unspecified dimension size -1 can be any value and "
                                 "is ambiguous"));
      }
      out[infer] = numel / known;
    }
    return out;
  }
  throw Error(
      absl::StrCat("shape '", shapeText(shape.vec()), "' is invalid for input of size ", numel));
}

// The offset of element `index` along a dimension of stride `stride`, from `offset`. Only an
// empty view's offsets can overflow (a view with elements lies inside its storage), and a view
// without elements reads nothing: it keeps `offset` then.
int64_t offsetAlong(int64_t offset, int64_t index, int64_t stride) {
  int64_t step, out;
  if (mulOverflows(index, stride, &step) || addOverflows(offset, step, &out)) return offset;
  return out;
}

// PyTorch's computeStride: strides for viewing (sizes, strides) as `shape` without a copy, if
// every new dimension stays inside one contiguous run of the old ones.
std::optional<std::vector<int64_t>> viewStrides(const std::vector<int64_t>& old_sizes,
                                                const std::vector<int64_t>& old_strides,
                                                const std::vector<int64_t>& shape) {
  std::vector<int64_t> out(shape.size(), 0);
  if (old_sizes.empty()) return std::vector<int64_t>(shape.size(), 1);
  int64_t numel = ir::numelOf(old_sizes);
  if (numel == 0) {
    if (old_sizes == shape) return old_strides;
    return ir::contiguousStrides(shape);
  }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_sizes.size()) - 1; tensor_d >= 0; tensor_d--) {
    tensor_numel *= old_sizes[tensor_d];
    if (tensor_d == 0 || (old_sizes[tensor_d - 1] != 1 &&
                          old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

}  // namespace

namespace detail {

std::optional<Tensor> viewIfPossible(const Tensor& self, IntArrayRef size) {
  std::vector<int64_t> shape = inferSize(size, self.numel());
  auto st = viewStrides(self.sizes().vec(), self.strides().vec(), shape);
  if (!st) return std::nullopt;
  return makeView(self, shape, *st, self.storage_offset());
}

Tensor viewOf(const Tensor& self, IntArrayRef size) {
  std::optional<Tensor> out = viewIfPossible(self, size);
  if (!out) {
    throw Error(
        "view size is not compatible with input tensor's size and stride (at least one dimension "
        "spans across two contiguous subspaces). Use .reshape(...) instead.");
  }
  return *out;
}

Tensor squeezeView(const Tensor& self) {
  std::vector<int64_t> sz, st;
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (self.size(d) != 1) {
      sz.push_back(self.size(d));
      st.push_back(self.stride(d));
    }
  }
  return makeView(self, sz, st, self.storage_offset());
}

Tensor squeezeView(const Tensor& self, int64_t d) {
  int64_t w = wrapDim(d, self.dim());
  std::vector<int64_t> sz = self.sizes().vec(), st = self.strides().vec();
  if (self.dim() > 0 && sz[w] == 1) {
    sz.erase(sz.begin() + w);
    st.erase(st.begin() + w);
  }
  return makeView(self, sz, st, self.storage_offset());
}

Tensor unsqueezeView(const Tensor& self, int64_t d) {
  int64_t w = wrapDim(d, self.dim() + 1);
  std::vector<int64_t> sz = self.sizes().vec(), st = self.strides().vec();
  // Saturating: the stride of a size-1 dimension is never used to step, and an empty view's
  // size times stride may pass the int64 range ([3, 2^62, 0] unsqueezed at 0).
  int64_t new_stride = w >= self.dim() ? 1 : saturatingMul(sz[w], st[w]);
  sz.insert(sz.begin() + w, 1);
  st.insert(st.begin() + w, new_stride);
  return makeView(self, sz, st, self.storage_offset());
}

Tensor permuteView(const Tensor& self, IntArrayRef dims) {
  int64_t n = self.dim();
  if (static_cast<int64_t>(dims.size()) != n) {
    throw Error(
        absl::StrCat("permute(sparse_coo): number of dimensions in the tensor input does not match "
                     "the length of the desired ordering of dimensions i.e. input.dim() = ",
                     n, " is not equal to len(dims) = ", dims.size()));
  }
  std::vector<int64_t> sz(n), st(n);
  std::vector<bool> seen(n, false);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrapDim(dims[i], n);
    if (seen[d]) throw Error("permute(): duplicate dims are not allowed.");
    seen[d] = true;
    sz[i] = self.size(d);
    st[i] = self.stride(d);
  }
  return makeView(self, sz, st, self.storage_offset());
}

Tensor transposeView(const Tensor& self, int64_t d0, int64_t d1) {
  int64_t n = self.dim();
  std::vector<int64_t> sz = self.sizes().vec(), st = self.strides().vec();
  int64_t a = wrapDim(d0, n), b = wrapDim(d1, n);
  if (n > 0) {
    std::swap(sz[a], sz[b]);
    std::swap(st[a], st[b]);
  }
  return makeView(self, sz, st, self.storage_offset());
}

Tensor tView(const Tensor& self) {
  if (self.dim() > 2) {
    throw Error(
        absl::StrCat("t() expects a tensor with <= 2 dimensions, but self is ", self.dim(), "D"));
  }
  std::vector<int64_t> sz = self.sizes().vec(), st = self.strides().vec();
  if (self.dim() == 2) {
    std::swap(sz[0], sz[1]);
    std::swap(st[0], st[1]);
  }
  return makeView(self, sz, st, self.storage_offset());
}

Tensor expandView(const Tensor& self, IntArrayRef size) {
  std::vector<int64_t> target = size.vec();
  int64_t n = static_cast<int64_t>(target.size());
  if (n < self.dim()) {
    throw Error(absl::StrCat(
        "expand(CPU", std::string(toString(self.dtype())), "Type{", shapeText(self.sizes().vec()),
        "}, size=", shapeText(target), "): the number of sizes provided (", n,
        ") must be greater or equal to the number of dimensions in the tensor (", self.dim(), ")"));
  }
  if (self.dim() == 0) {
    // libtorch's expand of a 0-dim tensor fails on a negative size before its geometry check,
    // in computing the result's numel.
    for (int64_t s : target) {
      if (s < 0) throw Error("numel: integer multiplication overflow");
    }
  }
  std::vector<int64_t> st(n);
  for (int64_t i = n - 1; i >= 0; --i) {
    int64_t od = i - (n - self.dim());
    int64_t osz = od >= 0 ? self.size(od) : 1;
    int64_t ost = od >= 0 ? self.stride(od) : 0;
    if (od < 0 && target[i] < 0) {
      throw Error(absl::StrCat("The expanded size of the tensor (", target[i],
                               ") isn't allowed in a leading, non-existing dimension ", i));
    }
    if (target[i] == -1) target[i] = osz;
    if (osz == target[i]) {
      st[i] = ost;
    } else if (osz == 1) {
      st[i] = 0;
    } else {
      throw Error(absl::StrCat(
          "The expanded size of the tensor (", target[i], ") must match the existing size (", osz,
          ") at non-singleton dimension ", i, ".  Target sizes: ", shapeText(size.vec()),
          ".  Tensor sizes: ", shapeText(self.sizes().vec())));
    }
  }
  return makeView(self, target, st, self.storage_offset());
}

Tensor narrowView(const Tensor& self, int64_t d, int64_t start, int64_t length) {
  if (self.dim() == 0) throw Error("narrow() cannot be applied to a 0-dim tensor.");
  // PyTorch 1.13's checks and messages: start is wrapped as a dimension index would be (its end,
  // start == size, is allowed), and a negative length is reported as exceeding the size.
  int64_t w = wrapDim(d, self.dim());
  int64_t cur = self.size(w);
  if (start != cur) start = wrapDim(start, cur);
  if (length < 0 || start > cur - length) {
    throw Error(absl::StrCat("start (", start, ") + length (", length, ") exceeds dimension size (",
                             cur, ")."));
  }
  std::vector<int64_t> sz = self.sizes().vec();
  sz[w] = length;
  return makeView(self, sz, self.strides().vec(),
                  offsetAlong(self.storage_offset(), start, self.stride(w)));
}

Tensor selectView(const Tensor& self, int64_t d, int64_t index) {
  if (self.dim() == 0) throw Error("select() cannot be applied to a 0-dim tensor.");
  int64_t w = wrapDim(d, self.dim());
  int64_t cur = self.size(w);
  if (index < -cur || index >= cur) {
    throw Error(absl::StrCat("select(): index ", index, " out of range for tensor of size ",
                             shapeText(self.sizes().vec()), " at dimension ", w));
  }
  if (index < 0) index += cur;
  std::vector<int64_t> sz = self.sizes().vec(), st = self.strides().vec();
  int64_t off = offsetAlong(self.storage_offset(), index, st[w]);
  sz.erase(sz.begin() + w);
  st.erase(st.begin() + w);
  return makeView(self, sz, st, off);
}

Tensor asStridedView(const Tensor& self, IntArrayRef size, IntArrayRef stride,
                     std::optional<int64_t> storage_offset) {
  std::vector<int64_t> sz = size.vec(), st = stride.vec();
  const int64_t off = storage_offset.value_or(self.storage_offset());
  if (sz.size() != st.size()) throw Error("mismatch in length of strides and shape");
  for (int64_t x : sz) {
    if (x < 0)
      throw Error(
          absl::StrCat("Trying to create tensor with negative dimension ", x, ": ", shapeText(sz)));
  }
  for (int64_t x : st) {
    if (x < 0)
      throw Error(absl::StrCat(
          "as_strided: Negative strides are not supported at the moment, got strides: ",
          shapeText(st)));
  }
  if (off < 0) throw Error(absl::StrCat("Tensor: invalid storage offset ", off));
  const int64_t storage_numel = self.impl()->storage->numel;
  const int64_t item = elementSize(self.dtype());
  int64_t required = detail::checkedStorageBytes(sz, st, self.dtype());
  if (required > 0) {
    int64_t offset_bytes;
    if (mulOverflows(off, item, &offset_bytes) || addOverflows(required, offset_bytes, &required)) {
      throw Error(absl::StrCat("Storage size calculation overflowed with sizes=", shapeText(sz),
                               " and strides=", shapeText(st)));
    }
    if (required > storage_numel * item) {
      throw Error(absl::StrCat("setStorage: sizes ", shapeText(sz), ", strides ", shapeText(st),
                               ", storage offset ", off, ", and itemsize ", item,
                               " requiring a storage size of ", required,
                               " are out of bounds for storage of size ", storage_numel * item));
    }
  }
  return makeView(self, sz, st, off);
}

// libtorch's basic indexing (at::indexing::get_item), one index after another: an integer
// selects, a slice narrows with a step, None inserts a dimension, Ellipsis skips the dimensions
// no other index names. Checks and messages come in libtorch's order; `grad_name` receives the
// grad_fn name of the last op libtorch applies (a full slice among several indices is skipped,
// and an index that changes nothing is an alias).
Tensor indexView(const Tensor& self, const std::vector<indexing::TensorIndex>& indices,
                 const char** grad_name) {
  using Kind = indexing::TensorIndex::Kind;
  int64_t specified = 0;
  int ellipses = 0;
  for (const auto& ix : indices) {
    if (ix.kind() == Kind::Integer || ix.kind() == Kind::Slice) ++specified;
    if (ix.kind() == Kind::Ellipsis) ++ellipses;
  }
  // libtorch's C++ indexing does not check this (a second "..." skips dimensions again); kiln
  // refuses it with Python's message.
  if (ellipses > 1) throw Error("an index can only have a single ellipsis ('...')");
  const int64_t ndim = self.dim();
  const bool single = indices.size() == 1;
  // A single integer goes straight to select, as in libtorch (a 0-dim tensor's message below).
  if (specified > ndim && !(single && indices[0].kind() == Kind::Integer)) {
    throw Error(absl::StrCat("too many indices for tensor of dimension ", ndim));
  }
  std::vector<int64_t> sz = self.sizes().vec(), st = self.strides().vec();
  int64_t off = self.storage_offset();
  size_t d = 0;  // the dimension of the result so far that the next index applies to
  const char* last = nullptr;
  for (size_t pos = 0; pos < indices.size(); ++pos) {
    const auto& ix = indices[pos];
    switch (ix.kind()) {
      case Kind::Integer: {
        const int64_t i = ix.integer();
        if (sz.empty()) {
          throw Error(
              "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
              "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number");
        }
        const int64_t cur = sz[d];
        if (i < -cur || i >= cur) {
          throw Error(absl::StrCat("index ", i, " is out of bounds for dimension ", pos,
                                   " with size ", cur));
        }
        off = offsetAlong(off, i < 0 ? i + cur : i, st[d]);
        sz.erase(sz.begin() + static_cast<std::ptrdiff_t>(d));
        st.erase(st.begin() + static_cast<std::ptrdiff_t>(d));
        last = "SelectBackward0";
        break;
      }
      case Kind::Slice: {
        const int64_t step = ix.slice().step();
        if (step <= 0) throw Error("step must be greater than zero");
        const int64_t cur = sz[d];
        int64_t start = ix.slice().start(), stop = ix.slice().stop();
        if (single || start != 0 || stop != cur || step != 1) {
          if (start < 0) start += cur;
          if (stop < 0) stop += cur;
          start = std::clamp<int64_t>(start, 0, cur);
          stop = std::clamp<int64_t>(stop, start, cur);
          // Rounded-up length / step, without overflow for any step.
          sz[d] = stop == start ? 0 : (stop - start - 1) / step + 1;
          // A step past the end leaves at most one element, for which any stride reads the
          // same; the step times the stride overflows only then.
          off = offsetAlong(off, start, st[d]);
          int64_t stride;
          if (!mulOverflows(st[d], step, &stride)) st[d] = stride;
          last = "SliceBackward0";
        }
        ++d;
        break;
      }
      case Kind::None: {
        const int64_t stride = d < sz.size() ? st[d] * sz[d] : 1;
        sz.insert(sz.begin() + static_cast<std::ptrdiff_t>(d), 1);
        st.insert(st.begin() + static_cast<std::ptrdiff_t>(d), stride);
        last = "UnsqueezeBackward0";
        ++d;
        break;
      }
      case Kind::Ellipsis:
        d += static_cast<size_t>(ndim - specified);
        break;
      case Kind::Boolean:
      case Kind::Tensor:
        // Advanced indexing (lib/autograd/index_ops.cpp) applies these after the basic indices.
        throw std::logic_error("indexView: an index tensor or bool reached basic indexing");
    }
  }
  if (grad_name) *grad_name = last ? last : "AliasBackward0";
  return makeView(self, sz, st, off);
}

Tensor cloneOf(const Tensor& self) {
  return record(readNode(self), self.device());
}

Tensor castTo(const Tensor& self, ScalarType dtype) {
  return record(castNode(readNode(self), dtype), self.device());
}

std::optional<int64_t> catDim(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw Error("torch.cat(): expected a non-empty list of Tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].dim() == 0) {
      throw Error(
          absl::StrCat("zero-dimensional tensor (at position ", i, ") cannot be concatenated"));
    }
  }
  for (const Tensor& t : tensors) {
    // PyTorch skips 1-D empty tensors, a legacy allowance.
    if (!(t.dim() == 1 && t.numel() == 0)) return wrapDim(dim, t.dim());
  }
  return std::nullopt;
}

Tensor concat(const std::vector<Tensor>& tensors, int64_t d) {
  for (const Tensor& x : tensors) commonDevice("cat", {&tensors[0], &x});
  const Tensor* ref = &tensors[0];  // when every part is skipped: an empty 1-D result
  for (const Tensor& t : tensors) {
    if (!(t.dim() == 1 && t.numel() == 0)) {
      ref = &t;
      break;
    }
  }
  ScalarType t = tensors[0].dtype();
  for (const Tensor& x : tensors) t = promoteTypes(t, x.dtype());
  std::vector<int64_t> shape = ref->sizes().vec();
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& x = tensors[i];
    if (x.dim() == 1 && x.numel() == 0) continue;
    if (x.dim() != ref->dim()) {
      throw Error(absl::StrCat("Tensors must have same number of dimensions: got ", ref->dim(),
                               " and ", x.dim()));
    }
    for (int64_t k = 0; k < x.dim(); ++k) {
      if (k != d && x.size(k) != shape[k]) {
        throw Error(absl::StrCat("Sizes of tensors must match except in dimension ", d,
                                 ". Expected size ", shape[k], " but got size ", x.size(k),
                                 " for tensor number ", i, " in the list."));
      }
    }
    // PyTorch adds the sizes without a check: a sum past the int64 range wraps negative and
    // zeros() below then refuses it with the negative-dimension error, as PyTorch's does.
    total = static_cast<int64_t>(static_cast<uint64_t>(total) + static_cast<uint64_t>(x.size(d)));
  }
  shape[d] = total;
  Tensor out;
  {
    NoGradGuard no_grad;
    out = zeros(shape, TensorOptions(t).device(ref->device()));
    // Only this function sees `out`: each part is recorded as a write straight into its storage,
    // without the view tensor, checks and undo record of a user's copy_ (a failure discards
    // `out`). Eager mode materialises the whole cat once, below; the size budget still cuts a
    // long chain of writes.
    DeferEager whole_cat;
    const std::vector<int64_t> strides = out.strides().vec();
    const int64_t step = out.stride(d);
    int64_t at = 0;
    for (const Tensor& x : tensors) {
      if (x.dim() == 1 && x.numel() == 0) continue;
      if (x.numel() > 0) {
        assignWindow(out, x.sizes().vec(), strides, at * step, castNode(readNode(x), t));
        afterRecord(out);
      }
      at += x.size(d);
    }
  }
  afterRecord(out);
  out.impl()->is_view = false;
  return out;
}

}  // namespace detail

Tensor Tensor::view_as(const Tensor& other) const {
  return view(other.sizes());
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  int64_t n = dim();
  if (n == 0) {
    wrapDim(start_dim, n);
    wrapDim(end_dim, n);
    return reshape({1});
  }
  int64_t s = wrapDim(start_dim, n), e = wrapDim(end_dim, n);
  if (s > e) throw Error("flatten() has invalid args: start_dim cannot come after end_dim");
  if (s == e) return *this;
  std::vector<int64_t> shape;
  for (int64_t d = 0; d < s; ++d) shape.push_back(size(d));
  // An empty tensor's flattened dims may multiply past the int64 range. PyTorch's product wraps
  // and reshape refuses a negative one ("invalid shape dimension -4611686018427387904" for a
  // [3, 2^62, 0] flattened over dims 0 and 1): that error, and a refusal too where its product
  // wraps to a positive (wrong) size.
  std::vector<int64_t> flattened(sizes().begin() + s, sizes().begin() + e + 1);
  int64_t flat = 0;
  const bool has_zero = std::find(flattened.begin(), flattened.end(), 0) != flattened.end();
  if (!has_zero && productOverflows(flattened, &flat)) {
    int64_t wrapped = 1;
    for (int64_t x : flattened) wrapped = wrappingMul(wrapped, x);
    if (wrapped < 0) throw Error(absl::StrCat("invalid shape dimension ", wrapped));
    throw Error("numel: integer multiplication overflow");
  }
  shape.push_back(flat);
  for (int64_t d = e + 1; d < n; ++d) shape.push_back(size(d));
  return reshape(shape);
}

Tensor Tensor::expand_as(const Tensor& other) const {
  return expand(other.sizes());
}

Tensor Tensor::index(std::initializer_list<indexing::TensorIndex> indices) const {
  return index(std::vector<indexing::TensorIndex>(indices));
}

Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices,
                           const Tensor& value) {
  return index_put_(std::vector<indexing::TensorIndex>(indices), value);
}
Tensor& Tensor::index_put_(std::initializer_list<indexing::TensorIndex> indices,
                           const Scalar& value) {
  return index_put_(std::vector<indexing::TensorIndex>(indices), value);
}
Tensor Tensor::contiguous() const {
  return is_contiguous() ? *this : clone();
}
Tensor Tensor::detach() const {
  Tensor out = makeView(*this, sizes().vec(), strides().vec(), storage_offset());
  out.impl()->view_base = nullptr;  // shares memory, but autograd does not see through it
  return out;
}

// ---- free-function forms ----
Tensor reshape(const Tensor& a, IntArrayRef shape) {
  return a.reshape(shape);
}
Tensor flatten(const Tensor& a, int64_t s, int64_t e) {
  return a.flatten(s, e);
}
Tensor squeeze(const Tensor& a) {
  return a.squeeze();
}
Tensor squeeze(const Tensor& a, int64_t d) {
  return a.squeeze(d);
}
Tensor unsqueeze(const Tensor& a, int64_t d) {
  return a.unsqueeze(d);
}
Tensor permute(const Tensor& a, IntArrayRef dims) {
  return a.permute(dims);
}
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) {
  return a.transpose(d0, d1);
}
Tensor t(const Tensor& a) {
  return a.t();
}
Tensor narrow(const Tensor& a, int64_t d, int64_t s, int64_t l) {
  return a.narrow(d, s, l);
}
Tensor select(const Tensor& a, int64_t d, int64_t i) {
  return a.select(d, i);
}
Tensor as_strided(const Tensor& a, IntArrayRef size, IntArrayRef stride,
                  std::optional<int64_t> storage_offset) {
  return a.as_strided(size, stride, storage_offset);
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw Error("stack expects a non-empty TensorList");
  for (size_t i = 1; i < tensors.size(); ++i) {
    if (tensors[i].sizes() != tensors[0].sizes()) {
      throw Error(absl::StrCat("stack expects each tensor to be equal size, but got ",
                               shapeText(tensors[0].sizes().vec()), " at entry 0 and ",
                               shapeText(tensors[i].sizes().vec()), " at entry ", i));
    }
  }
  int64_t d = wrapDim(dim, tensors[0].dim() + 1);
  std::vector<Tensor> parts;
  for (const Tensor& x : tensors) parts.push_back(x.unsqueeze(d));
  return cat(parts, d);
}

}  // namespace kiln
