#pragma once
// The LLVM backend for the host CPU: a kernel is emitted as LLVM IR (codegen/llvm), optimised
// at O3 for the host's CPU name and features, and compiled in-process by one ORC LLJIT session.
#include <memory>

#include "codegen/llvm/emitter.h"
#include "runtime/backend.h"

namespace llvm {
class TargetMachine;
}  // namespace llvm

namespace kiln::runtime {

class LlvmBackend final : public Backend {
 public:
  const Target& target() const override;
  /// Compiles `kernel`; several threads may compile at once. The code is freed when the last
  /// reference to the compiled kernel goes.
  std::shared_ptr<const CompiledKernel> compile(const codegen::Kernel& kernel,
                                                const CompileOptions& options) override;
  /// How many compiled kernels hold code in the JIT now.
  static int64_t liveKernels();
  std::string scheduleText(const codegen::Kernel& kernel) const override;
  /// The library functions kernels call (OpenBLAS's gemm when it could be loaded).
  const codegen::CpuLibraries& libraries() const;
  /// The target machine kernels are emitted and optimised for (kiln-ir prints its stages with
  /// it). Not thread-safe: use it only while no kernel is being compiled elsewhere.
  llvm::TargetMachine& targetMachine();

  ~LlvmBackend() override;

 private:
  friend LlvmBackend& llvmBackend();
  LlvmBackend();
  struct Session;
  std::unique_ptr<Session> session_;
};

/// The process-wide LLVM backend, created on first use for the host CPU.
LlvmBackend& llvmBackend();

}  // namespace kiln::runtime
