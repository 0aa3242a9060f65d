#pragma once
// A buffer: one storage's elements in the memory of one device, either allocated by that device
// or wrapped caller memory (from_blob) that is never freed here (the deleter given with it, if
// any, is called instead). It is also the memory a realized graph node holds (ir::Memory), which
// is how the graph IR keeps computed values without knowing about devices.
#include <cstddef>
#include <functional>
#include <memory>

#include "lib/ir/node.h"
#include "runtime/device.h"

namespace kiln::runtime {

class Buffer final : public ir::Memory {
 public:
  /// Memory that `device` allocated and takes back when the buffer dies (for devices' allocate()).
  static BufferPtr adopt(Device& device, void* data, size_t bytes);
  /// Caller memory on `device`; the caller keeps it alive and frees it.
  static BufferPtr wrap(Device& device, void* data, size_t bytes);
  /// Caller memory that the buffer hands back through `deleter(data)` when it dies (from_blob
  /// with a deleter: the last tensor or pending node reading it has gone).
  static BufferPtr wrap(Device& device, void* data, size_t bytes,
                        std::function<void(void*)> deleter);
  /// The buffer behind a realized node's memory (every ir::Memory is a Buffer).
  static BufferPtr of(const ir::MemoryPtr& memory) {
    return std::static_pointer_cast<Buffer>(memory);
  }

  /// A new buffer on the same device holding a copy of this one's bytes.
  BufferPtr clone() const;

  ~Buffer() override;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  Device& device() const { return *device_; }
  /// The first byte, in the device's address space (host memory for the CPU).
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  bool external() const { return external_; }

  /// Set once a storage adopts the buffer; a bound buffer is never shared by two storages.
  bool bound() const { return bound_; }
  void bind() { bound_ = true; }

 private:
  // Only adopt() and wrap() can name it, so only they construct buffers (through make_shared,
  // one allocation for the buffer and its count).
  struct Token {};

 public:
  Buffer(Token, Device& device, void* data, size_t bytes, bool external)
      : device_(&device), data_(data), bytes_(bytes), external_(external) {}

 private:
  Device* device_;
  void* data_;
  size_t bytes_;
  bool external_;
  bool bound_ = false;
  std::function<void(void*)> deleter_;
};

}  // namespace kiln::runtime
