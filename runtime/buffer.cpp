#include "runtime/buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace kiln::runtime {

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes) {
  // 64-byte alignment lets the JIT's vector loads start on a cache line; never allocate 0 bytes.
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) throw std::bad_alloc();
  return std::shared_ptr<Buffer>(new Buffer(p, bytes, false));
}

std::shared_ptr<Buffer> Buffer::wrap(void* data, size_t bytes) {
  return std::shared_ptr<Buffer>(new Buffer(data, bytes, true));
}

std::shared_ptr<Buffer> Buffer::clone() const {
  auto copy = allocate(bytes_);
  if (bytes_ > 0) std::memcpy(copy->data(), data_, bytes_);
  return copy;
}

Buffer::~Buffer() {
  if (!external_) std::free(data_);
}

}  // namespace kiln::runtime
