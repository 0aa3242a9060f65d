#pragma once
// The device interface: where tensors' memory lives and where kernels run. A device bundles its
// allocator, its copies, its default stream and the backend that compiles kernels for it, so
// that the plan runner (runtime/plan.h) works with any device without naming one. The CPU
// (runtime/cpu/cpu_device.h) is the first implementation.
#include <cstddef>
#include <memory>

#include "kiln/device.h"

namespace kiln::runtime {

class Backend;
class Buffer;
using BufferPtr = std::shared_ptr<Buffer>;

/// An ordered queue of work on one device: kernels and copies given to a stream run in the
/// order given. Host code may read what they wrote after synchronize(). The CPU's stream runs
/// each piece of work on the calling thread before returning.
class Stream {
 public:
  virtual ~Stream() = default;
  /// Waits until everything queued so far has finished.
  virtual void synchronize() = 0;
};

class Device {
 public:
  virtual ~Device() = default;

  /// Which device this is, as the public API names it.
  virtual kiln::Device id() const = 0;
  /// The backend compiling kernels for this device.
  virtual Backend& backend() = 0;
  /// The stream that work goes to unless another is given.
  virtual Stream& defaultStream() = 0;

  /// A buffer of `bytes` uninitialised bytes on this device, aligned for the widest vector
  /// access; PyTorch's "not enough memory" error when the memory cannot be had.
  virtual BufferPtr allocate(size_t bytes) = 0;
  /// Copies `bytes` bytes from host memory into the start of `dst` (a buffer of this device).
  virtual void copyFromHost(const void* src, Buffer& dst, size_t bytes) = 0;
  /// Copies the first `bytes` bytes of `src` (a buffer of this device) into host memory.
  virtual void copyToHost(const Buffer& src, void* dst, size_t bytes) = 0;
  /// Copies the first `bytes` bytes of `src` into the start of `dst`, both on this device.
  virtual void copy(const Buffer& src, Buffer& dst, size_t bytes) = 0;
  /// Waits until all work queued on this device has finished.
  virtual void synchronize() = 0;

 protected:
  friend class Buffer;
  /// Takes back memory that allocate() handed out, when its buffer is destroyed.
  virtual void release(void* data, size_t bytes) = 0;
};

/// The host CPU.
Device& cpuDevice();
/// The device that `device` names: the CPU, or kiln::Error ("not supported yet") for a device
/// type kiln has no backend for.
Device& deviceFor(const kiln::Device& device);

}  // namespace kiln::runtime
