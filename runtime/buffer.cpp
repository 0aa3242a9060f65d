#include "runtime/buffer.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

namespace kiln::runtime {
namespace {

// Freed large blocks are kept for reuse by size: a fresh multi-megabyte block costs a page
// fault per 4 KiB on first touch, which would otherwise dominate every streaming kernel.
class BlockCache {
 public:
  static constexpr size_t kMinBytes = size_t{1} << 16;
  static constexpr size_t kMaxCachedBytes = size_t{1} << 30;

  void* take(size_t rounded) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(rounded);
    if (it == free_.end()) return nullptr;
    void* p = it->second;
    free_.erase(it);
    cached_ -= rounded;
    return p;
  }
  void give(void* p, size_t rounded) {
    if (rounded >= kMinBytes) {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + rounded <= kMaxCachedBytes) {
        free_.emplace(rounded, p);
        cached_ += rounded;
        return;
      }
    }
    std::free(p);
  }

 private:
  std::mutex mu_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

BlockCache& blockCache() {
  static BlockCache* cache = new BlockCache;  // outlives buffers freed during exit
  return *cache;
}

size_t roundedSize(size_t bytes) {
  // 64-byte alignment lets the JIT's vector loads start on a cache line; never allocate 0 bytes.
  size_t rounded = (bytes + 63) / 64 * 64;
  return rounded == 0 ? 64 : rounded;
}

}  // namespace

std::shared_ptr<Buffer> Buffer::allocate(size_t bytes) {
  size_t rounded = roundedSize(bytes);
  void* p = blockCache().take(rounded);
  if (p == nullptr) p = std::aligned_alloc(64, rounded);
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
  if (!external_) blockCache().give(data_, roundedSize(bytes_));
}

}  // namespace kiln::runtime
