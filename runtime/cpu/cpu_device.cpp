// The host CPU as a device: host memory from a caching allocator, memcpy copies, and a stream
// that runs each kernel on the calling thread. Its backend is LLVM (runtime/cpu/llvm_backend.h).
#include <absl/container/flat_hash_map.h>
#include <absl/strings/str_cat.h>

#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <vector>

#include "kiln/error.h"
#include "runtime/buffer.h"
#include "runtime/cpu/llvm_backend.h"
#include "runtime/fault_injection.h"

namespace kiln::runtime {
namespace {

// Freed blocks are kept for reuse by size, small and large alike. A fresh multi-megabyte block
// costs a page fault per 4 KiB on first touch, which would otherwise dominate every streaming
// kernel; a small one costs an aligned malloc and free, which would dominate a small graph run
// from the plan cache (a [5, 3] loop allocates a block per run). Each size keeps a stack of
// blocks, so that once a size has been seen, taking and giving back cost no allocation. Small
// sizes come in a few classes (roundedSize), so that a program whose small shapes keep
// changing reuses its blocks instead of keeping one of every size.
class BlockCache {
 public:
  static constexpr size_t kMaxCachedBytes = size_t{1} << 30;

  void* take(size_t rounded) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(rounded);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= rounded;
    return p;
  }
  void give(void* p, size_t rounded) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + rounded <= kMaxCachedBytes) {
        free_[rounded].push_back(p);
        cached_ += rounded;
        return;
      }
    }
    std::free(p);
  }

 private:
  std::mutex mu_;
  absl::flat_hash_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

// The size of the block that holds `bytes`: a multiple of 64 (the JIT's vector loads start on a
// cache line; never 0 bytes). From 1 KiB to 64 KiB, four classes per power of two (at most a
// quarter wasted); larger blocks are kept by their exact size, which a loop repeats.
size_t roundedSize(size_t bytes) {
  constexpr size_t kClassesFrom = size_t{1} << 10, kClassesTo = size_t{1} << 16;
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded == 0) return 64;
  if (rounded <= kClassesFrom || rounded > kClassesTo) return rounded;
  const size_t step = (std::bit_floor(rounded - 1)) / 4;
  return (rounded + step - 1) / step * step;
}

// Work runs on the calling thread as it is given, so there is never anything to wait for.
class CpuStream final : public Stream {
 public:
  void synchronize() override {}
};

class CpuDevice final : public Device {
 public:
  kiln::Device id() const override { return kiln::Device(DeviceType::CPU); }
  Backend& backend() override { return llvmBackend(); }
  Stream& defaultStream() override { return stream_; }

  BufferPtr allocate(size_t bytes) override {
    if (bytes > std::numeric_limits<size_t>::max() - 64) outOfMemory(bytes);
    // Before the block cache: a test's failure hits cached small blocks as well as new ones.
    if (FaultInjection::shouldFail(FaultInjection::Site::Allocation)) outOfMemory(bytes);
    size_t rounded = roundedSize(bytes);
    void* p = blocks_.take(rounded);
    if (p == nullptr) p = std::aligned_alloc(64, rounded);
    if (p == nullptr) outOfMemory(bytes);
    return Buffer::adopt(*this, p, bytes);
  }
  void copyFromHost(const void* src, Buffer& dst, size_t bytes) override {
    std::memcpy(dst.data(), src, bytes);
  }
  void copyToHost(const Buffer& src, void* dst, size_t bytes) override {
    std::memcpy(dst, src.data(), bytes);
  }
  void copy(const Buffer& src, Buffer& dst, size_t bytes) override {
    std::memcpy(dst.data(), src.data(), bytes);
  }
  void synchronize() override {}

 protected:
  void release(void* data, size_t bytes) override { blocks_.give(data, roundedSize(bytes)); }

 private:
  [[noreturn]] static void outOfMemory(size_t bytes) {
    throw Error(absl::StrCat("DefaultCPUAllocator: not enough memory: you tried to allocate ",
                             bytes, " bytes."));
  }

  BlockCache blocks_;
  CpuStream stream_;
};

}  // namespace

Device& cpuDevice() {
  static CpuDevice* device = new CpuDevice;  // outlives buffers freed during exit
  return *device;
}

}  // namespace kiln::runtime
