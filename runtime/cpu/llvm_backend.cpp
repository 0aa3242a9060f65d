#include "runtime/cpu/llvm_backend.h"

#include <absl/strings/str_cat.h>
#include <dlfcn.h>
#include <llvm/ExecutionEngine/Orc/CompileUtils.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "codegen/llvm/cpu_schedule.h"
#include "codegen/llvm/emitter.h"
#include "kiln/error.h"
#include "runtime/fault_injection.h"
#include "runtime/thread_pool.h"

namespace kiln::runtime {
namespace {

std::string errorText(llvm::Error e) {
  std::string s;
  llvm::handleAllErrors(std::move(e), [&](const llvm::ErrorInfoBase& info) { s = info.message(); });
  return s;
}

// Every kernel the emitter produces has this C signature (codegen/llvm/emitter.h).
using KernelFn = void (*)(void* const* buffers, const uint64_t* args, int64_t begin, int64_t end);

std::atomic<int64_t> live_kernels{0};

// Debian's OpenBLAS, loaded at run time (never linked: without it, matrix products run kiln's
// own loops), for the gemm calls of matrix-product kernels (codegen::CpuSchedule::Contraction).
// KILN_BLAS=0 leaves it unloaded.
struct Blas {
  codegen::CpuLibraries gemm;
  void (*set_threads)(int) = nullptr;
  int (*get_threads)() = nullptr;
};

const Blas& blas() {
  static const Blas loaded = [] {
    Blas b;
    const char* env = std::getenv("KILN_BLAS");
    if (env != nullptr && std::strcmp(env, "0") == 0) return b;
    void* lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return b;
    b.gemm.sgemm = dlsym(lib, "cblas_sgemm");
    b.gemm.dgemm = dlsym(lib, "cblas_dgemm");
    b.set_threads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads"));
    b.get_threads = reinterpret_cast<int (*)()>(dlsym(lib, "openblas_get_num_threads"));
    if (!b.gemm.available() || b.set_threads == nullptr || b.get_threads == nullptr) {
      return Blas{};
    }
    // Single-threaded calls on blocks of rows that the engine's threads divide
    // (codegen::CpuSchedule::Contraction), so that results do not depend on the thread count.
    b.set_threads(1);
    return b;
  }();
  return loaded;
}

// Runs on the CPU stream, which executes work on the calling thread as it is given; the thread
// pool divides the loops that the CPU schedule splits. Owns its code in the JIT: destroying the
// last reference frees it.
class LlvmKernel final : public CompiledKernel {
 public:
  LlvmKernel(KernelFn fn, const codegen::Kernel& kernel, llvm::orc::ResourceTrackerSP code)
      : fn_(fn),
        schedule_(codegen::cpuSchedule(kernel, blas().gemm.available())),
        code_(std::move(code)) {
    // What the work measure needs of the kernel: its loops and phases.
    shape_.loops = kernel.loops;
    shape_.phases = kernel.phases;
    static_work_ = std::none_of(kernel.loops.begin(), kernel.loops.end(),
                                [](const codegen::Loop& l) { return l.extent_arg >= 0; });
    if (static_work_) work_ = schedule_.work(shape_, nullptr);
    live_kernels.fetch_add(1, std::memory_order_relaxed);
  }
  ~LlvmKernel() override {
    // Freeing can only fail if the JIT session is broken; then the code stays mapped.
    llvm::consumeError(code_->remove());
    live_kernels.fetch_sub(1, std::memory_order_relaxed);
  }
  LlvmKernel(const LlvmKernel&) = delete;
  LlvmKernel& operator=(const LlvmKernel&) = delete;

  void launch(void* const* buffers, const uint64_t* args, Stream&) const override {
    const codegen::CpuSchedule::Work w = static_work_ ? work_ : schedule_.work(shape_, args);
    if (w.units == 0) return;  // no outputs
    // Another user of the library in the process may have given it threads.
    if (schedule_.contraction && blas().get_threads() != 1) blas().set_threads(1);
    Call call{fn_, buffers, args};
    const int64_t min_chunk = (minPointsPerThread() + w.points_per_unit - 1) / w.points_per_unit;
    parallelFor(w.units, min_chunk, &Call::run, &call);
  }

 private:
  struct Call {
    KernelFn fn;
    void* const* buffers;
    const uint64_t* args;
    static void run(void* self, int64_t begin, int64_t end) {
      auto* c = static_cast<Call*>(self);
      c->fn(c->buffers, c->args, begin, end);
    }
  };

  KernelFn fn_;
  codegen::CpuSchedule schedule_;
  codegen::Kernel shape_;
  bool static_work_ = true;
  codegen::CpuSchedule::Work work_;
  llvm::orc::ResourceTrackerSP code_;
};

}  // namespace

// Compilations run concurrently: each emits and optimises its module with a target machine of
// its own, and the JIT compiles each module with a new one (ConcurrentIRCompiler); the JIT's
// session locks what it shares.
struct LlvmBackend::Session {
  std::unique_ptr<llvm::orc::JITTargetMachineBuilder> builder;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> machine;  // for targetMachine() (tools)
  Target target{DeviceType::CPU, ""};
};

LlvmBackend::LlvmBackend() : session_(std::make_unique<Session>()) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) throw Error("kiln: cannot detect the host CPU: " + errorText(jtmb.takeError()));
  jtmb->setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
  session_->target =
      Target(DeviceType::CPU, jtmb->getTargetTriple().getArchName().str() + " " + jtmb->getCPU() +
                                  " " + jtmb->getFeatures().getString());
  auto tm = jtmb->createTargetMachine();
  if (!tm) throw Error("kiln: no target machine: " + errorText(tm.takeError()));
  session_->machine = std::move(*tm);
  session_->builder = std::make_unique<llvm::orc::JITTargetMachineBuilder>(*jtmb);
  auto jit = llvm::orc::LLJITBuilder()
                 .setJITTargetMachineBuilder(std::move(*jtmb))
                 .setCompileFunctionCreator(
                     [](llvm::orc::JITTargetMachineBuilder builder)
                         -> llvm::Expected<std::unique_ptr<llvm::orc::IRCompileLayer::IRCompiler>> {
                       return std::make_unique<llvm::orc::ConcurrentIRCompiler>(std::move(builder));
                     })
                 .create();
  if (!jit) throw Error("kiln: cannot start the JIT: " + errorText(jit.takeError()));
  session_->jit = std::move(*jit);
  // Loop idioms may become memset/memcpy calls: resolve them from the host process.
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      session_->jit->getDataLayout().getGlobalPrefix());
  if (!gen) throw Error("kiln: " + errorText(gen.takeError()));
  session_->jit->getMainJITDylib().addGenerator(std::move(*gen));
}

LlvmBackend::~LlvmBackend() = default;

LlvmBackend& llvmBackend() {
  static LlvmBackend* backend = new LlvmBackend;  // kept until exit: compiled code may run from
                                                  // static destructors
  return *backend;
}

const Target& LlvmBackend::target() const {
  return session_->target;
}

llvm::TargetMachine& LlvmBackend::targetMachine() {
  return *session_->machine;
}

std::shared_ptr<const CompiledKernel> LlvmBackend::compile(const codegen::Kernel& kernel,
                                                           const CompileOptions& options) {
  auto failed = [&](llvm::Error e) {
    return Error(absl::StrCat("kiln: the JIT failed to compile kernel ", options.name, ": ",
                              errorText(std::move(e))));
  };
  auto machine = session_->builder->createTargetMachine();
  if (!machine) throw failed(machine.takeError());
  codegen::LlvmKernel k = codegen::emitLlvm(kernel, options.name, **machine, blas().gemm);
  codegen::optimizeLlvm(*k.module, **machine);
  if (options.code_dump) *options.code_dump = codegen::llvmText(*k.module);
  llvm::orc::ThreadSafeModule tsm(std::move(k.module), std::move(k.context));
  llvm::orc::ResourceTrackerSP code = session_->jit->getMainJITDylib().createResourceTracker();
  if (auto err = session_->jit->addIRModule(code, std::move(tsm))) throw failed(std::move(err));
  // The lookup is where the JIT compiles and links the module, and where it fails for want of
  // memory or symbols: an injected failure stands for one there.
  llvm::Expected<llvm::orc::ExecutorAddr> sym =
      FaultInjection::shouldFail(FaultInjection::Site::Compile)
          ? llvm::Expected<llvm::orc::ExecutorAddr>(llvm::make_error<llvm::StringError>(
                "injected JIT failure", llvm::inconvertibleErrorCode()))
          : session_->jit->lookup(options.name);
  if (!sym) {
    // A module that failed to materialise stays in the session until removed: a failed kernel
    // leaves no code behind.
    Error error = failed(sym.takeError());
    llvm::consumeError(code->remove());
    throw error;
  }
  return std::make_shared<LlvmKernel>(sym->toPtr<KernelFn>(), kernel, std::move(code));
}

int64_t LlvmBackend::liveKernels() {
  return live_kernels.load(std::memory_order_relaxed);
}

std::string LlvmBackend::scheduleText(const codegen::Kernel& kernel) const {
  return codegen::cpuSchedule(kernel, blas().gemm.available()).text(kernel);
}

const codegen::CpuLibraries& LlvmBackend::libraries() const {
  return blas().gemm;
}

}  // namespace kiln::runtime
