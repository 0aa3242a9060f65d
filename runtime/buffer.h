#pragma once
// Host memory holding one storage's elements: owned (aligned, allocated here) or external
// (from_blob: the caller's memory, never freed here).
#include <cstddef>
#include <memory>

namespace kiln::runtime {

class Buffer {
 public:
  /// Allocates `bytes` (64-byte aligned, uninitialised).
  static std::shared_ptr<Buffer> allocate(size_t bytes);
  /// Wraps caller memory; the caller keeps it alive.
  static std::shared_ptr<Buffer> wrap(void* data, size_t bytes);
  /// A new owned buffer holding a copy of this one's bytes.
  std::shared_ptr<Buffer> clone() const;

  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  bool external() const { return external_; }

  /// Set once a storage adopts the buffer; a bound buffer is never shared by two storages.
  bool bound() const { return bound_; }
  void bind() { bound_ = true; }

 private:
  Buffer(void* data, size_t bytes, bool external)
      : data_(data), bytes_(bytes), external_(external) {}
  void* data_;
  size_t bytes_;
  bool external_;
  bool bound_ = false;
};

using BufferPtr = std::shared_ptr<Buffer>;

}  // namespace kiln::runtime
