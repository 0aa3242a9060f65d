#include "runtime/buffer.h"

namespace kiln::runtime {

BufferPtr Buffer::adopt(Device& device, void* data, size_t bytes) {
  return std::make_shared<Buffer>(Token{}, device, data, bytes, false);
}

BufferPtr Buffer::wrap(Device& device, void* data, size_t bytes) {
  return std::make_shared<Buffer>(Token{}, device, data, bytes, true);
}

BufferPtr Buffer::wrap(Device& device, void* data, size_t bytes,
                       std::function<void(void*)> deleter) {
  BufferPtr buffer = std::make_shared<Buffer>(Token{}, device, data, bytes, true);
  buffer->deleter_ = std::move(deleter);
  return buffer;
}

BufferPtr Buffer::clone() const {
  BufferPtr copy = device_->allocate(bytes_);
  if (bytes_ > 0) device_->copy(*this, *copy, bytes_);
  return copy;
}

Buffer::~Buffer() {
  if (!external_) {
    device_->release(data_, bytes_);
  } else if (deleter_) {
    deleter_(data_);
  }
}

}  // namespace kiln::runtime
