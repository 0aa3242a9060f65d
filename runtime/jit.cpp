#include "runtime/jit.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>

#include <mutex>
#include <stdexcept>

namespace kiln::runtime {

struct Jit::State {
  std::mutex mu;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> target;
  std::string cpu;
};

namespace {
std::string errorText(llvm::Error e) {
  std::string s;
  llvm::handleAllErrors(std::move(e), [&](const llvm::ErrorInfoBase& info) { s = info.message(); });
  return s;
}
}  // namespace

Jit::Jit() : state_(std::make_unique<State>()) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb)
    throw std::runtime_error("kiln: cannot detect the host CPU: " + errorText(jtmb.takeError()));
  jtmb->setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
  state_->cpu = jtmb->getCPU();
  auto tm = jtmb->createTargetMachine();
  if (!tm) throw std::runtime_error("kiln: no target machine: " + errorText(tm.takeError()));
  state_->target = std::move(*tm);
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*jtmb)).create();
  if (!jit) throw std::runtime_error("kiln: cannot start the JIT: " + errorText(jit.takeError()));
  state_->jit = std::move(*jit);
  // Loop idioms may become memset/memcpy calls: resolve them from the host process.
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      state_->jit->getDataLayout().getGlobalPrefix());
  if (!gen) throw std::runtime_error("kiln: " + errorText(gen.takeError()));
  state_->jit->getMainJITDylib().addGenerator(std::move(*gen));
}

Jit::~Jit() = default;

Jit& Jit::instance() {
  static Jit* jit = new Jit;  // kept until exit: compiled code may run from static destructors
  return *jit;
}

llvm::TargetMachine& Jit::target() {
  return *state_->target;
}
std::string Jit::cpuName() const {
  return state_->cpu;
}

KernelFn Jit::add(std::unique_ptr<llvm::LLVMContext> context, std::unique_ptr<llvm::Module> module,
                  const std::string& name) {
  std::lock_guard<std::mutex> lock(state_->mu);
  llvm::orc::ThreadSafeModule tsm(std::move(module), std::move(context));
  if (auto err = state_->jit->addIRModule(std::move(tsm))) {
    throw std::runtime_error("kiln: JIT rejected kernel " + name + ": " +
                             errorText(std::move(err)));
  }
  auto sym = state_->jit->lookup(name);
  if (!sym)
    throw std::runtime_error("kiln: JIT lookup of " + name + ": " + errorText(sym.takeError()));
  return sym->toPtr<KernelFn>();
}

}  // namespace kiln::runtime
