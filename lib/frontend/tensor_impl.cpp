#include "lib/frontend/tensor_impl.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "kiln/error.h"
#include "kiln/warning.h"
#include "lib/core/checked.h"
#include "lib/core/scalar_type.h"

namespace kiln::detail {

int64_t TensorImpl::numel() const {
  return ir::numelOf(sizes);
}

bool TensorImpl::isContiguous() const {
  int64_t expected = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] == 1) continue;
    if (strides[d] != expected) return numel() == 0;
    // Saturating: an empty view's other sizes may multiply past the int64 range ([0, 2^62, 4]).
    expected = saturatingMul(expected, sizes[d]);
  }
  return true;
}

bool TensorImpl::coversStorage() const {
  return offset == 0 && numel() == storage->numel && isContiguous();
}

namespace {
[[noreturn]] void hostOutOfMemory(uint64_t bytes) {
  throw Error(absl::StrCat("DefaultCPUAllocator: not enough memory: you tried to allocate ", bytes,
                           " bytes."));
}
}  // namespace

int64_t checkedStorageBytes(const std::vector<int64_t>& sizes, ScalarType dtype) {
  int64_t bytes;
  if (productOverflows(sizes, &bytes) || mulOverflows(bytes, elementSize(dtype), &bytes)) {
    throw Error(absl::StrCat("Storage size calculation overflowed with sizes=[",
                             absl::StrJoin(sizes, ", "), "]"));
  }
  // An empty tensor's contiguous strides may pass the int64 range ([0, 2^62, 4]): PyTorch 1.13
  // accepts it (its strides wrap), and kiln's saturate (ir::contiguousStrides); they step
  // through no element.
  return bytes;
}

int64_t checkedStorageBytes(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                            ScalarType dtype) {
  int64_t extent = 1;
  bool overflow = false;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 0) return 0;
    int64_t span;
    overflow |= mulOverflows(strides[d], sizes[d] - 1, &span);
    overflow |= addOverflows(extent, span, &extent);
  }
  overflow |= mulOverflows(extent, elementSize(dtype), &extent);
  if (overflow) {
    throw Error(absl::StrCat("Storage size calculation overflowed with sizes=[",
                             absl::StrJoin(sizes, ", "), "] and strides=[",
                             absl::StrJoin(strides, ", "), "]"));
  }
  return extent;
}

void checkAllocated(const runtime::Buffer& buffer) {
  if (buffer.data() == nullptr && buffer.bytes() > 0) {
    throw Error(
        "The tensor has a non-zero number of elements, but its data is not allocated yet. Caffe2 "
        "uses a lazy allocation, so you will need to call mutable_data() or raw_mutable_data() "
        "to actually allocate memory.");
  }
}

Tensor fromNode(ir::NodeRef node, Device device) {
  checkedStorageBytes(node->shape(), node->dtype());
  auto storage = std::make_shared<Storage>();
  storage->dtype = node->dtype();
  storage->numel = node->desc().numel();
  storage->value = std::move(node);
  storage->device = device;
  auto impl = std::make_shared<TensorImpl>();
  impl->sizes = storage->value->shape();
  impl->strides = ir::contiguousStrides(impl->sizes);
  impl->storage = std::move(storage);
  return Tensor(std::move(impl));
}

Storage::~Storage() {
  if (!buffer || !buffer->external() || value == owner) return;
  try {
    materialize({this}, "a from_blob tensor's pending writes, as its last user goes");
  } catch (const std::exception& e) {
    // A destructor cannot throw: the failure (memory or a compilation) is reported as a warning.
    try {
      Warning::warn({"~Storage", __FILE__, static_cast<uint32_t>(__LINE__)},
                    std::string("kiln could not write the pending in-place results into from_blob "
                                "memory: ") +
                        e.what(),
                    false);
    } catch (...) {
      // A handler that escalates warnings to errors cannot be obeyed here.
    }
  }
}

Tensor makeView(const Tensor& base, std::vector<int64_t> sizes, std::vector<int64_t> strides,
                int64_t offset) {
  for (int64_t s : sizes) {
    if (s < 0) {
      throw Error(absl::StrCat("Trying to create tensor with negative dimension ", s, ": [",
                               absl::StrJoin(sizes, ", "), "]"));
    }
  }
  int64_t numel;
  if (productOverflows(sizes, &numel)) throw Error("numel: integer multiplication overflow");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->is_view = true;
  impl->view_base = base.impl()->view_base ? base.impl()->view_base : base.impl();
  impl->own_version = base.impl()->own_version;
  impl->view_version = impl->version();
  return Tensor(std::move(impl));
}

Tensor fromBuffer(runtime::BufferPtr buffer, ScalarType dtype, std::vector<int64_t> sizes,
                  std::vector<int64_t> strides, int64_t storage_numel) {
  int64_t numel;
  if (productOverflows(sizes, &numel)) throw Error("numel: integer multiplication overflow");
  auto storage = std::make_shared<Storage>();
  storage->dtype = dtype;
  storage->numel = storage_numel;
  storage->device = buffer->device().id();
  buffer->bind();
  storage->buffer = buffer;
  storage->value = ir::Node::makeParam(buffer, dtype, storage_numel);
  storage->owner = storage->value;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  return Tensor(std::move(impl));
}

ir::NodeRef readNode(const Tensor& t) {
  const TensorImpl& impl = *t.impl();
  ir::NodeRef value = impl.storage->contents();
  if (impl.coversStorage() && value->shape() == impl.sizes) return value;
  ir::NodeDesc d;
  d.op = ir::Op::Strided;
  d.dtype = impl.dtype();
  d.shape = impl.sizes;
  d.ints = impl.strides;
  d.offset = impl.offset;
  if (impl.coversStorage()) d.ints = ir::contiguousStrides(impl.sizes);
  return ir::Node::make(std::move(d), {value});
}

void assignNode(const Tensor& t, ir::NodeRef value) {
  const TensorImpl& impl = *t.impl();
  Storage& s = *impl.storage;
  if (impl.numel() == 0) {
    // An empty view names no element, but the write still counts, as in libtorch.
    ++impl.version();
    return;
  }
  for (size_t d = 0; d < impl.sizes.size(); ++d) {
    if (impl.sizes[d] > 1 && impl.strides[d] == 0) {
      throw Error(
          "unsupported operation: more than one element of the written-to tensor refers to a "
          "single "
          "memory location. Please clone() the tensor before performing the operation.");
    }
  }
  ++impl.version();
  if (impl.coversStorage()) {
    s.value = std::move(value);
    return;
  }
  ir::NodeDesc d;
  d.op = ir::Op::Write;
  d.dtype = s.dtype;
  d.shape = s.value->shape();
  d.ints = impl.strides;
  d.offset = impl.offset;
  s.value = ir::Node::make(std::move(d), {s.value, std::move(value)});
}

void assignWindow(const Tensor& t, const std::vector<int64_t>& sizes,
                  const std::vector<int64_t>& strides, int64_t offset, ir::NodeRef value) {
  Storage& s = *t.impl()->storage;
  ++s.version;
  ir::NodeDesc d;
  d.op = ir::Op::Write;
  d.dtype = s.dtype;
  d.shape = s.value->shape();
  d.ints = strides;
  d.offset = offset;
  if (offset == 0 && ir::numelOf(sizes) == s.numel && strides == ir::contiguousStrides(sizes)) {
    s.value = std::move(value);
    return;
  }
  s.value = ir::Node::make(std::move(d), {s.value, std::move(value)});
}

void StorageSnapshot::add(const Tensor& t) {
  const std::shared_ptr<Storage>& storage = t.impl()->storage;
  for (const Saved& s : saved_) {
    if (s.storage == storage) return;
  }
  saved_.push_back({storage, storage->value.get(), storage->value, storage->version});
}

void StorageSnapshot::releaseOwners() {
  for (Saved& s : saved_) {
    if (s.value == s.storage->owner.get()) s.held = ir::NodeRef();
  }
}

void StorageSnapshot::releaseReadByContents() {
  for (Saved& s : saved_) {
    if (!s.held) continue;
    for (const ir::NodeRef& in : s.storage->value->inputs()) {
      if (in.get() == s.value) {
        s.held = ir::NodeRef();
        break;
      }
    }
  }
}

void StorageSnapshot::restore() {
  for (Saved& s : saved_) {
    s.storage->value = s.held ? s.held : ir::NodeRef::share(s.value);
    s.storage->version = s.version;
  }
}

namespace {
// PyTorch's is_non_overlapping_and_dense: some order of the dimensions makes the view
// contiguous.
bool nonOverlappingAndDense(const TensorImpl& t) {
  std::vector<size_t> perm(t.sizes.size());
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
  std::sort(perm.begin(), perm.end(), [&](size_t a, size_t b) {
    if (t.sizes[a] < 2) return false;
    if (t.sizes[b] < 2) return true;
    return t.strides[a] < t.strides[b];
  });
  int64_t required = 1;
  for (size_t i : perm) {
    if (t.sizes[i] < 2) return true;
    if (t.strides[i] != required) return false;
    required = saturatingMul(required, t.sizes[i]);
  }
  return true;
}
}  // namespace

void checkNoPartialOverlap(const Tensor& written, const Tensor& read) {
  const TensorImpl& a = *written.impl();
  const TensorImpl& b = *read.impl();
  if (&a == &b || a.storage != b.storage || a.numel() == 0 || b.numel() == 0) return;
  if (!nonOverlappingAndDense(a) || !nonOverlappingAndDense(b)) return;
  const int64_t a_end = a.offset + a.numel(), b_end = b.offset + b.numel();
  const bool same = a.offset == b.offset && a_end == b_end && a.strides == b.strides;
  if (!same && a.offset < b_end && b.offset < a_end) {
    throw Error(
        "unsupported operation: some elements of the input tensor and the written-to tensor refer "
        "to a single memory location. Please clone() the tensor before performing the operation.");
  }
}

void* dataPointer(const Tensor& t) {
  const TensorImpl& impl = *t.impl();
  Storage& s = *impl.storage;
  materialize({&s}, "data_ptr()");
  checkAllocated(*s.buffer);
  // The caller may write through the pointer: a node that other tensors share (through
  // hash-consing) keeps its value in a copy, and the storage gets a node of its own.
  std::lock_guard<std::mutex> lock(engineMutex());
  if (s.value->refs() > 2) {
    s.value->rebind(s.buffer->clone());
    ir::NodeRef own = ir::Node::makeParam(s.buffer, s.dtype, s.numel);
    {
      std::lock_guard<std::mutex> contents(s.mu);
      s.value = own;
    }
    s.owner = std::move(own);
  }
  return static_cast<char*>(s.buffer->data()) + impl.offset * elementSize(impl.dtype());
}

namespace {
// Materializes t's storage and copies its elements out in row-major order, `per_element` Ts
// each: store(destination, storage base, element position). The copy may be far larger than the
// storage (an expanded view): it is refused as PyTorch's allocator would, rather than with
// std::bad_alloc.
template <typename T, typename Store>
std::vector<T> copyOut(const TensorImpl& impl, size_t per_element, Store store) {
  materialize({impl.storage.get()}, "reading values");
  checkAllocated(*impl.storage->buffer);
  const void* base = impl.storage->buffer->data();
  const int64_t n = impl.numel();
  uint64_t count, bytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(n), per_element, &count)) count = UINT64_MAX;
  if (__builtin_mul_overflow(count, sizeof(T), &bytes)) bytes = UINT64_MAX;
  if (count > std::vector<T>().max_size()) hostOutOfMemory(bytes);
  std::vector<T> out;
  try {
    out.resize(count);
  } catch (const std::bad_alloc&) {
    hostOutOfMemory(bytes);
  }
  std::vector<int64_t> idx(impl.sizes.size(), 0);
  for (int64_t f = 0; f < n; ++f) {
    int64_t pos = impl.offset;
    for (size_t d = 0; d < idx.size(); ++d) pos += idx[d] * impl.strides[d];
    store(out.data() + f * per_element, base, pos);
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < impl.sizes[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}
}  // namespace

std::vector<double> toDoubles(const Tensor& t) {
  const ScalarType dtype = t.impl()->dtype();
  return copyOut<double>(*t.impl(), 1, [&](double* to, const void* base, int64_t pos) {
    *to = loadElement(base, dtype, pos);
  });
}

std::vector<char> toBytes(const Tensor& t) {
  const size_t size = elementSize(t.impl()->dtype());
  return copyOut<char>(*t.impl(), size, [&](char* to, const void* base, int64_t pos) {
    std::memcpy(to, static_cast<const char*>(base) + pos * size, size);
  });
}

}  // namespace kiln::detail
