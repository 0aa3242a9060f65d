#pragma once
// The backend interface: a target compiles kernels of the backend-neutral kernel IR
// (codegen/kernel.h) into compiled kernels, launched with buffers and scalar arguments on a
// stream. LLVM for the host CPU (runtime/cpu/llvm_backend.h) is the first backend.
#include <cstdint>
#include <memory>
#include <string>

#include "codegen/kernel.h"
#include "kiln/device.h"
#include "runtime/device.h"

namespace kiln::runtime {

/// What code is compiled for: a device type and its architecture (the host CPU's name and
/// features, or a GPU's compute capability). Compiled code is only valid for its target, so
/// the target is part of every kernel and plan cache key.
class Target {
 public:
  /// `arch` e.g. "x86_64 znver4 +avx,+avx2,+avx512f,..." or "sm_90".
  Target(DeviceType device, std::string arch);

  DeviceType device() const { return device_; }
  const std::string& arch() const { return arch_; }
  /// The target as text, the device type then the architecture (computed once: every plan
  /// lookup uses it).
  const std::string& key() const { return key_; }

 private:
  DeviceType device_;
  std::string arch_;
  std::string key_;
};

/// A kernel compiled for one target.
class CompiledKernel {
 public:
  virtual ~CompiledKernel() = default;
  /// Runs the kernel on `stream`: buffers[i] is the data pointer of the kernel's buffer i (on
  /// the stream's device) and args[i] its scalar argument i (a double's bits for floating
  /// arguments, an int64 otherwise).
  virtual void launch(void* const* buffers, const uint64_t* args, Stream& stream) const = 0;
  /// Runs the kernel for `parts` parts in turn, with the results of as many launches in that
  /// order (sched::Step::parts): part p's buffers start at buffers[p * buffer_count] and its
  /// arguments at args[p * arg_count]. A backend may run them as one launch where its target
  /// allows (a GPU grid over the parts); by default, one launch after another.
  virtual void launchParts(int64_t parts, size_t buffer_count, size_t arg_count,
                           void* const* buffers, const uint64_t* args, Stream& stream) const {
    for (int64_t p = 0; p < parts; ++p) {
      launch(buffers + p * buffer_count, args + p * arg_count, stream);
    }
  }
};

struct CompileOptions {
  /// The kernel's symbol name (unique within the process).
  std::string name;
  /// When set, receives the optimised code as the backend prints it (LLVM IR for the CPU).
  std::string* code_dump = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const Target& target() const = 0;
  /// Compiles `kernel`. Thread-safe.
  virtual std::shared_ptr<const CompiledKernel> compile(const codegen::Kernel& kernel,
                                                        const CompileOptions& options) = 0;
  /// How this backend maps `kernel` onto its target (loop order, vectorisation, threads, or a
  /// GPU's grid and blocks), as one line that dumps and kiln-ir print under the kernel.
  virtual std::string scheduleText(const codegen::Kernel& kernel) const = 0;
};

}  // namespace kiln::runtime
