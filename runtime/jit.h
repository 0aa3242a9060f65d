#pragma once
// The process-wide JIT session (LLVM ORC LLJIT) that turns optimised modules into callable code.
#include <cstdint>
#include <memory>
#include <string>

namespace llvm {
class LLVMContext;
class Module;
class TargetMachine;
}  // namespace llvm

namespace kiln::runtime {

/// Every compiled kernel has this signature (see codegen/llvm/emitter.h).
using KernelFn = void (*)(void* const* buffers, const uint64_t* args);

class Jit {
 public:
  /// The session, created on first use for the host CPU (its name and features detected).
  static Jit& instance();

  /// Adds a module and returns the address of its function `name`. Thread-safe.
  KernelFn add(std::unique_ptr<llvm::LLVMContext> context, std::unique_ptr<llvm::Module> module,
               const std::string& name);
  /// A target machine for the host, for emitting and optimising modules (use under lock()).
  llvm::TargetMachine& target();
  std::string cpuName() const;

  ~Jit();

 private:
  Jit();
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kiln::runtime
