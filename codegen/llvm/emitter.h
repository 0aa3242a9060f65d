#pragma once
// Lowers a backend-neutral Kernel to an LLVM module and optimises it for the host CPU.
#include <memory>
#include <string>

#include "codegen/kernel.h"

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
}  // namespace llvm

namespace kiln::codegen {

/// The emitted function has the C signature `void name(void* const* buffers, const uint64_t*
/// args, int64_t begin, int64_t end)`: buffer i of the kernel is buffers[i]; scalar argument i is
/// args[i] (a double's bits for floating arguments, an int64 otherwise); it runs the iterations
/// [begin, end) of the loops that threads split (CpuSchedule::Work::units of them in all; with
/// no split loops, pass 0 and 1); begin < end.
struct LlvmKernel {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module;
  std::string name;
};

/// Library functions that kernels may call, by address (null: not available). A kernel whose CPU
/// schedule finds a matrix product calls the gemm of its type (CBLAS's interface, row-major).
struct CpuLibraries {
  const void* sgemm = nullptr;
  const void* dgemm = nullptr;
  bool available() const { return sgemm != nullptr && dgemm != nullptr; }
};

LlvmKernel emitLlvm(const Kernel& kernel, const std::string& name, llvm::TargetMachine& target,
                    const CpuLibraries& libraries = {});

/// Runs the O3 pipeline (with loop and SLP vectorisation) for the target machine.
void optimizeLlvm(llvm::Module& module, llvm::TargetMachine& target);

/// The module as text.
std::string llvmText(const llvm::Module& module);
/// The module compiled to the target's assembly.
std::string assemblyText(llvm::Module& module, llvm::TargetMachine& target);

}  // namespace kiln::codegen
