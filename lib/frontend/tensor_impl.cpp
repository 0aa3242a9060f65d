#include "lib/frontend/tensor_impl.h"

#include <cstring>

#include "kiln/error.h"
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
    expected *= sizes[d];
  }
  return true;
}

bool TensorImpl::coversStorage() const {
  return offset == 0 && numel() == storage->numel && isContiguous();
}

Tensor fromNode(ir::NodeRef node, Device device) {
  auto storage = std::make_shared<Storage>();
  storage->dtype = node->dtype();
  storage->numel = node->desc().numel();
  storage->value = std::move(node);
  auto impl = std::make_shared<TensorImpl>();
  impl->sizes = storage->value->shape();
  impl->strides = ir::contiguousStrides(impl->sizes);
  impl->storage = std::move(storage);
  impl->device = device;
  return Tensor(std::move(impl));
}

Tensor makeView(const Tensor& base, std::vector<int64_t> sizes, std::vector<int64_t> strides,
                int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->device = base.impl()->device;
  impl->is_view = true;
  impl->view_base = base.impl()->view_base ? base.impl()->view_base : base.impl();
  return Tensor(std::move(impl));
}

Tensor fromBuffer(runtime::BufferPtr buffer, ScalarType dtype, std::vector<int64_t> sizes,
                  std::vector<int64_t> strides, int64_t storage_numel) {
  auto storage = std::make_shared<Storage>();
  storage->dtype = dtype;
  storage->numel = storage_numel;
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
  const ir::NodeRef& value = impl.storage->value;
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
  if (impl.numel() == 0) return;  // an empty view names no element
  for (size_t d = 0; d < impl.sizes.size(); ++d) {
    if (impl.sizes[d] > 1 && impl.strides[d] == 0) {
      throw Error(
          "unsupported operation: more than one element of the written-to tensor refers to a "
          "single "
          "memory location. Please clone() the tensor before performing the operation.");
    }
  }
  ++s.version;
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

void* dataPointer(const Tensor& t) {
  const TensorImpl& impl = *t.impl();
  Storage& s = *impl.storage;
  materialize({&s}, "data_ptr()");
  // The caller may write through the pointer: a node that other tensors share (through
  // hash-consing) keeps its value in a copy, and the storage gets a node of its own.
  std::lock_guard<std::mutex> lock(engineMutex());
  if (s.value->refs() > 2) {
    s.value->rebind(s.buffer->clone());
    s.value = ir::Node::makeParam(s.buffer, s.dtype, s.numel);
    s.owner = s.value;
  }
  return static_cast<char*>(impl.storage->buffer->data()) + impl.offset * elementSize(impl.dtype());
}

std::vector<double> toDoubles(const Tensor& t) {
  const TensorImpl& impl = *t.impl();
  materialize({impl.storage.get()}, "reading values");
  const void* base = impl.storage->buffer->data();
  const int64_t n = impl.numel();
  std::vector<double> out(n);
  std::vector<int64_t> idx(impl.sizes.size(), 0);
  for (int64_t f = 0; f < n; ++f) {
    int64_t pos = impl.offset;
    for (size_t d = 0; d < idx.size(); ++d) pos += idx[d] * impl.strides[d];
    out[f] = loadElement(base, impl.dtype(), pos);
    for (size_t d = idx.size(); d-- > 0;) {
      if (++idx[d] < impl.sizes[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace kiln::detail
