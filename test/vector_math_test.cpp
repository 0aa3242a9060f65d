// Accuracy and vectorisation tests for codegen/llvm/vector_math.
//
// Each case JIT-compiles `for (i < n) out[i] = f(in[i])` at O3 for the host CPU, checks that the
// optimised loop is vectorised with no library calls left, and compares the results against libm
// in higher precision (double for float, long double for double). Every measured maximum is
// printed as a "[ ulp ]" line (docs/vector-math.md quotes them) and asserted against a bound.
// Set KILN_VM_EXHAUSTIVE=1 to also sweep every float bit pattern for the float unary functions.
#include "codegen/llvm/vector_math.h"

#include <gtest/gtest.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace kiln::codegen {
namespace {

enum class Fn { Exp, Log, Tanh, Sigmoid, Sin, Cos, Pow };

const char* fnName(Fn fn) {
  switch (fn) {
    case Fn::Exp:
      return "exp";
    case Fn::Log:
      return "log";
    case Fn::Tanh:
      return "tanh";
    case Fn::Sigmoid:
      return "sigmoid";
    case Fn::Sin:
      return "sin";
    case Fn::Cos:
      return "cos";
    case Fn::Pow:
      return "pow";
  }
  return "?";
}

// ------------------------------------------------------------------------------ JIT plumbing

struct Host {
  std::unique_ptr<llvm::TargetMachine> tm;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::string cpu;
  std::string features;
  bool avx512 = false;
  bool avx2 = false;
  int counter = 0;
};

bool hasFeature(const std::string& features, const std::string& name) {
  return ("," + features + ",").find(",+" + name + ",") != std::string::npos;
}

std::string errorText(llvm::Error e) {
  return llvm::toString(std::move(e));
}

Host& host() {
  static Host* h = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    auto* h = new Host;
    auto jtmb = llvm::cantFail(llvm::orc::JITTargetMachineBuilder::detectHost());
#if LLVM_VERSION_MAJOR >= 18
    jtmb.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
#else
    jtmb.setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
#endif
    h->cpu = jtmb.getCPU();
    h->features = jtmb.getFeatures().getString();
    h->avx512 = hasFeature(h->features, "avx512f");
    h->avx2 = hasFeature(h->features, "avx2");
    h->tm = llvm::cantFail(jtmb.createTargetMachine());
    // Deliberately no DynamicLibrarySearchGenerator: a kernel that still needs a libm symbol
    // (for instance an intrinsic that the backend lowers to a call) fails to link.
    h->jit = llvm::cantFail(llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(jtmb).create());
    std::printf("[ host ] cpu=%s avx2=%d avx512f=%d fma=%d\n", h->cpu.c_str(), h->avx2, h->avx512,
                hasFeature(h->features, "fma"));
    return h;
  }();
  return *h;
}

void optimize(llvm::Module& module, llvm::TargetMachine& tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = true;
  pto.SLPVectorization = true;
  llvm::PassBuilder pb(&tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(module, mam);
}

struct Kernel {
  void* address = nullptr;
  bool binary = false;
  std::string error;               // set when building or linking failed
  std::string ir;                  // the optimised function
  unsigned maxLanes = 0;           // widest vector of the element type in the optimised IR
  std::vector<std::string> calls;  // callees that are not intrinsics
};

// Builds, optimises and JIT-links `out[i] = fn(in[i])` (or fn(x[i], y[i])) for float or double.
// noFma compiles the kernel for the host minus FMA (and so minus AVX-512): fmuladd then stays a
// separate multiply and add, the other rounding behaviour the algorithms must tolerate.
Kernel buildKernel(Fn fn, bool dbl, bool noFma) {
  Host& h = host();
  Kernel k;
  k.binary = fn == Fn::Pow;
  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto module = std::make_unique<llvm::Module>("vector_math_test", *ctx);
  module->setDataLayout(h.tm->createDataLayout());
  module->setTargetTriple(h.tm->getTargetTriple().str());
  llvm::Type* ty = dbl ? llvm::Type::getDoubleTy(*ctx) : llvm::Type::getFloatTy(*ctx);
  llvm::Type* ptr = llvm::PointerType::get(*ctx, 0);
  llvm::Type* i64 = llvm::Type::getInt64Ty(*ctx);
  std::vector<llvm::Type*> params = {ptr, ptr};
  if (k.binary) params.push_back(ptr);
  params.push_back(i64);
  auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(*ctx), params, false);
  std::string name = std::string("vm_") + fnName(fn) + (dbl ? "_f64" : "_f32") +
                     (noFma ? "_nofma_" : "_") + std::to_string(h.counter++);
  auto* f = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, name, *module);
  for (unsigned i = 0; i + 1 < params.size(); ++i) {
    f->addParamAttr(i, llvm::Attribute::NoAlias);
    f->addParamAttr(i, llvm::Attribute::NoCapture);
  }
  f->addFnAttr(llvm::Attribute::NoUnwind);
  f->addFnAttr("target-cpu", h.cpu);
  f->addFnAttr("target-features", noFma ? h.features + ",-fma" : h.features);
  if (h.avx512 && !noFma) f->addFnAttr("prefer-vector-width", "512");

  auto* entry = llvm::BasicBlock::Create(*ctx, "entry", f);
  auto* loop = llvm::BasicBlock::Create(*ctx, "loop", f);
  auto* exit = llvm::BasicBlock::Create(*ctx, "exit", f);
  llvm::IRBuilder<> b(entry);
  llvm::Value* n = f->getArg(static_cast<unsigned>(params.size() - 1));
  b.CreateCondBr(b.CreateICmpSGT(n, b.getInt64(0)), loop, exit);
  b.SetInsertPoint(loop);
  llvm::PHINode* i = b.CreatePHI(i64, 2);
  i->addIncoming(b.getInt64(0), entry);
  llvm::Value* x = b.CreateLoad(ty, b.CreateGEP(ty, f->getArg(1), i));
  llvm::Value* r = nullptr;
  switch (fn) {
    case Fn::Exp:
      r = emitExp(b, x);
      break;
    case Fn::Log:
      r = emitLog(b, x);
      break;
    case Fn::Tanh:
      r = emitTanh(b, x);
      break;
    case Fn::Sigmoid:
      r = emitSigmoid(b, x);
      break;
    case Fn::Sin:
      r = emitSin(b, x);
      break;
    case Fn::Cos:
      r = emitCos(b, x);
      break;
    case Fn::Pow:
      r = emitPow(b, x, b.CreateLoad(ty, b.CreateGEP(ty, f->getArg(2), i)));
      break;
  }
  b.CreateStore(r, b.CreateGEP(ty, f->getArg(0), i));
  llvm::Value* next = b.CreateAdd(i, b.getInt64(1), "", /*HasNUW=*/true, /*HasNSW=*/true);
  i->addIncoming(next, loop);
  b.CreateCondBr(b.CreateICmpSLT(next, n), loop, exit);
  b.SetInsertPoint(exit);
  b.CreateRetVoid();

  std::string verifyErrors;
  llvm::raw_string_ostream verifyOut(verifyErrors);
  if (llvm::verifyModule(*module, &verifyOut)) {
    k.error = "invalid IR: " + verifyOut.str();
    return k;
  }
  optimize(*module, *h.tm);
  llvm::raw_string_ostream irOut(k.ir);
  f->print(irOut);
  for (auto& bb : *f) {
    for (auto& inst : bb) {
      if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(inst.getType())) {
        if (vt->getElementType() == ty) k.maxLanes = std::max(k.maxLanes, vt->getNumElements());
      }
      if (auto* call = llvm::dyn_cast<llvm::CallBase>(&inst)) {
        llvm::Function* callee = call->getCalledFunction();
        if (callee == nullptr || !callee->isIntrinsic()) {
          k.calls.push_back(callee ? callee->getName().str() : "<indirect>");
        }
      }
    }
  }
  if (auto err =
          h.jit->addIRModule(llvm::orc::ThreadSafeModule(std::move(module), std::move(ctx)))) {
    k.error = errorText(std::move(err));
    return k;
  }
  auto addr = h.jit->lookup(name);
  if (!addr) {
    k.error = errorText(addr.takeError());
    return k;
  }
  k.address = addr->toPtr<void*>();
  return k;
}

template <class T>
void runInto(const Kernel& k, std::vector<T>& out, const std::vector<T>& x,
             const std::vector<T>* y = nullptr) {
  auto n = static_cast<int64_t>(x.size());
  if (k.binary) {
    reinterpret_cast<void (*)(T*, const T*, const T*, int64_t)>(k.address)(out.data(), x.data(),
                                                                           y->data(), n);
  } else {
    reinterpret_cast<void (*)(T*, const T*, int64_t)>(k.address)(out.data(), x.data(), n);
  }
}

template <class T>
std::vector<T> run(const Kernel& k, const std::vector<T>& x, const std::vector<T>* y = nullptr) {
  std::vector<T> out(x.size());
  runInto(k, out, x, y);
  return out;
}

// ------------------------------------------------------------------------------ measurement

using Real = long double;

template <class T>
Real refUnary(Fn fn, T x) {
  if constexpr (std::is_same_v<T, float>) {
    double d = x;
    switch (fn) {
      case Fn::Exp:
        return std::exp(d);
      case Fn::Log:
        return std::log(d);
      case Fn::Tanh:
        return std::tanh(d);
      case Fn::Sigmoid:
        return 1.0 / (1.0 + std::exp(-d));
      case Fn::Sin:
        return std::sin(d);
      case Fn::Cos:
        return std::cos(d);
      case Fn::Pow:
        break;
    }
  } else {
    Real d = x;
    switch (fn) {
      case Fn::Exp:
        return expl(d);
      case Fn::Log:
        return logl(d);
      case Fn::Tanh:
        return tanhl(d);
      case Fn::Sigmoid:
        return 1.0L / (1.0L + expl(-d));
      case Fn::Sin:
        return sinl(d);
      case Fn::Cos:
        return cosl(d);
      case Fn::Pow:
        break;
    }
  }
  return std::numeric_limits<Real>::quiet_NaN();
}

template <class T>
Real refPow(T x, T y) {
  if constexpr (std::is_same_v<T, float>) {
    return std::pow(static_cast<double>(x), static_cast<double>(y));
  } else {
    return powl(static_cast<Real>(x), static_cast<Real>(y));
  }
}

// |got - ref| in units of the last place of T at ref (subnormal spacing below the normal range).
// A reference that rounds to +-inf in T must be matched exactly; otherwise a result of +-inf
// counts as +-2^emax, so rounding just past T's max to inf costs less than 1 ulp.
template <class T>
double ulpError(T got, Real ref) {
  using L = std::numeric_limits<T>;
  if (std::isnan(ref)) return std::isnan(got) ? 0.0 : L::infinity();
  if (std::isnan(got)) return L::infinity();
  const Real top = std::ldexp(Real{1}, L::max_exponent);
  if (std::isinf(static_cast<T>(ref))) {
    if (static_cast<T>(ref) == got) return 0.0;
    ref = std::copysign(top, ref);
  }
  Real g = std::isinf(got) ? std::copysign(top, static_cast<Real>(got)) : static_cast<Real>(got);
  int e = ref == 0 ? L::min_exponent - 1 : std::ilogb(ref);
  e = std::clamp(e, L::min_exponent - 1, L::max_exponent - 1);
  Real ulp = std::ldexp(Real{1}, e - (L::digits - 1));
  return static_cast<double>(std::fabs(g - ref) / ulp);
}

template <class T>
struct Stat {
  double max = 0;
  T x{};
  T y{};
  T got{};
  Real ref = 0;
  size_t n = 0;
};

template <class T>
void report(Fn fn, const char* range, const Stat<T>& s, bool binary, bool noFma) {
  const char* type =
      std::is_same_v<T, float> ? (noFma ? "f32-nofma" : "f32") : (noFma ? "f64-nofma" : "f64");
  if (binary) {
    std::printf("[ ulp ] %-7s %-9s %-44s n=%-8zu max %8.3f ulp at x=%.17g y=%.17g\n", fnName(fn),
                type, range, s.n, s.max, static_cast<double>(s.x), static_cast<double>(s.y));
  } else {
    std::printf(
        "[ ulp ] %-7s %-9s %-44s n=%-8zu max %8.3f ulp at x=%.17g (got %.17g want %.20Lg)\n",
        fnName(fn), type, range, s.n, s.max, static_cast<double>(s.x), static_cast<double>(s.got),
        s.ref);
  }
  std::fflush(stdout);
}

template <class T>
Stat<T> measure(const Kernel& k, Fn fn, const std::vector<T>& xs) {
  Stat<T> s;
  std::vector<T> got = run(k, xs);
  s.n = xs.size();
  for (size_t i = 0; i < xs.size(); ++i) {
    Real ref = refUnary(fn, xs[i]);
    // A correctly rounded result is within 0.5 ulp: only the others can raise a maximum >= 0.5.
    if (s.max >= 0.5 && got[i] == static_cast<T>(ref)) continue;
    double e = ulpError(got[i], ref);
    if (e > s.max) s = {e, xs[i], T{}, got[i], ref, xs.size()};
  }
  return s;
}

template <class T>
Stat<T> measurePow(const Kernel& k, const std::vector<T>& xs, const std::vector<T>& ys) {
  Stat<T> s;
  std::vector<T> got = run(k, xs, &ys);
  s.n = xs.size();
  for (size_t i = 0; i < xs.size(); ++i) {
    Real ref = refPow(xs[i], ys[i]);
    double e = ulpError(got[i], ref);
    if (e > s.max) s = {e, xs[i], ys[i], got[i], ref, xs.size()};
  }
  return s;
}

// ---------------------------------------------------------------------------------- samples

template <class T>
using Bits = std::conditional_t<std::is_same_v<T, float>, uint32_t, uint64_t>;

// Maps floating values to integers in the same order (negative values below positive ones).
template <class T>
Bits<T> orderedKey(T x) {
  Bits<T> u = std::bit_cast<Bits<T>>(x);
  constexpr Bits<T> sign = Bits<T>{1} << (sizeof(T) * 8 - 1);
  return (u & sign) ? ~u : (u | sign);
}

template <class T>
T fromKey(Bits<T> key) {
  constexpr Bits<T> sign = Bits<T>{1} << (sizeof(T) * 8 - 1);
  return std::bit_cast<T>((key & sign) ? (key & ~sign) : ~key);
}

// n values evenly spaced in value.
template <class T>
std::vector<T> linspace(T lo, T hi, size_t n) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<T>(lo + (static_cast<Real>(hi) - lo) * static_cast<Real>(i) /
                                   static_cast<Real>(n - 1));
  }
  return v;
}

// n values evenly spaced in representation order: every binade gets the same share.
template <class T>
std::vector<T> sweep(T lo, T hi, size_t n) {
  Bits<T> a = orderedKey(lo);
  Bits<T> b = orderedKey(hi);
  std::vector<T> v;
  v.reserve(n + 1);
  Bits<T> step = std::max<Bits<T>>(1, (b - a) / n);
  for (Bits<T> key = a; key <= b && key >= a; key += step) {
    v.push_back(fromKey<T>(key));
    if (b - key < step) break;
  }
  v.push_back(hi);
  return v;
}

// Every value within `radius` representations of each centre.
template <class T>
std::vector<T> around(std::initializer_list<T> centres, int radius) {
  std::vector<T> v;
  for (T c : centres) {
    Bits<T> key = orderedKey(c);
    for (int d = -radius; d <= radius; ++d) v.push_back(fromKey<T>(key + static_cast<Bits<T>>(d)));
  }
  return v;
}

// The representable numbers nearest to k*pi/2 for k = kmin, kmin + stride, ... <= kmax: where the
// range reduction cancels the most.
template <class T>
std::vector<T> nearMultiplesOfHalfPi(int kmin, int kmax, int stride = 1) {
  const Real halfPi = 1.570796326794896619231321691639751442L;
  std::vector<T> v;
  for (int k = kmin; k <= kmax; k += stride) {
    T c = static_cast<T>(halfPi * k);
    for (T t : around<T>({c}, 1)) v.push_back(t);
  }
  return v;
}

template <class T>
std::vector<T> concat(std::initializer_list<std::vector<T>> parts) {
  std::vector<T> v;
  for (const auto& p : parts) v.insert(v.end(), p.begin(), p.end());
  return v;
}

// ------------------------------------------------------------------------------------ tests

struct Case {
  Fn fn;
  bool dbl;
  bool noFma;
};

std::string caseName(const ::testing::TestParamInfo<Case>& info) {
  std::string s = fnName(info.param.fn);
  s[0] = static_cast<char>(std::toupper(s[0]));
  return s + (info.param.dbl ? "F64" : "F32") + (info.param.noFma ? "NoFma" : "");
}

class VectorMath : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const Case& c = GetParam();
    if (c.noFma && !hasFeature(host().features, "fma")) GTEST_SKIP() << "host has no FMA anyway";
    kernel_ = buildKernel(c.fn, c.dbl, c.noFma);
    ASSERT_TRUE(kernel_.error.empty()) << kernel_.error;
    ASSERT_NE(kernel_.address, nullptr);
  }

  template <class T>
  void check(const char* range, const std::vector<T>& xs, double bound) {
    Stat<T> s = measure(kernel_, GetParam().fn, xs);
    report(GetParam().fn, range, s, false, GetParam().noFma);
    EXPECT_LE(s.max, bound) << fnName(GetParam().fn) << " " << range << " at x=" << s.x << " got "
                            << s.got << " want " << static_cast<double>(s.ref);
  }

  template <class T>
  void checkPow(const char* range, const std::vector<T>& xs, const std::vector<T>& ys,
                double bound) {
    Stat<T> s = measurePow(kernel_, xs, ys);
    report(Fn::Pow, range, s, true, GetParam().noFma);
    EXPECT_LE(s.max, bound) << "pow " << range << " at x=" << s.x << " y=" << s.y << " got "
                            << s.got << " want " << static_cast<double>(s.ref);
  }

  // Exact expectations: NaN-ness, infinities and signed zeros must match bit for bit.
  template <class T>
  void expectExact(T x, T got, T want) {
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << fnName(GetParam().fn) << "(" << x << ") = " << got;
    } else {
      EXPECT_EQ(got, want) << fnName(GetParam().fn) << "(" << x << ")";
      EXPECT_EQ(std::signbit(got), std::signbit(want)) << fnName(GetParam().fn) << "(" << x << ")";
    }
  }

  template <class T>
  void special(std::initializer_list<std::pair<T, T>> cases) {
    std::vector<T> xs;
    for (auto& c : cases) xs.push_back(c.first);
    std::vector<T> got = run(kernel_, xs);
    size_t i = 0;
    for (auto& c : cases) expectExact(c.first, got[i++], c.second);
  }

  template <class T>
  void unaryTest();
  template <class T>
  void powTest();

  Kernel kernel_;
};

// Asserted maximum ulp errors: the measured maxima (docs/vector-math.md, with and without FMA)
// plus a margin. A wrong coefficient or a lost reduction term exceeds them by far.
double ulpBound(Fn fn, bool dbl) {
  // Measured maxima, f32 / f64: exp 0.99 / 0.97, log 0.83 / 0.80, tanh 1.33 / 1.31,
  // sigmoid 2.40 / 1.99, sin and cos 1.26 / 0.78, pow 0.50 / 0.84 (f32 exhaustively where
  // docs/vector-math.md says so).
  switch (fn) {
    case Fn::Exp:
      return 1.25;
    case Fn::Log:
      return 1.25;
    case Fn::Tanh:
      return 1.75;
    case Fn::Sigmoid:
      return 3.0;
    case Fn::Sin:
      return dbl ? 1.0 : 1.5;
    case Fn::Cos:
      return dbl ? 1.0 : 1.5;
    case Fn::Pow:
      return dbl ? 1.25 : 0.75;
  }
  return 0;
}

template <class T>
void VectorMath::unaryTest() {
  using L = std::numeric_limits<T>;
  constexpr bool dbl = std::is_same_v<T, double>;
  const Fn fn = GetParam().fn;
  const T inf = L::infinity();
  const T nan = L::quiet_NaN();
  const T maxv = L::max();
  const T minNormal = L::min();
  const T denormMin = L::denorm_min();
  const size_t dense = dbl ? 400000 : 1000000;
  const double bound = ulpBound(fn, dbl);
  const std::vector<T> everything = sweep<T>(-maxv, maxv, dense);

  switch (fn) {
    case Fn::Exp: {
      const T lo = dbl ? T(-746) : T(-104);
      const T hi = dbl ? T(710) : T(89);
      check("[lo, hi] linear", linspace<T>(lo, hi, dense), bound);
      check("[lo, hi] all binades", sweep<T>(lo, hi, dense), bound);
      check("all finite", everything, bound);
      // Overflow threshold, the last normal result and the underflow to zero, with neighbours.
      check("thresholds +-64 ulp",
            around<T>({static_cast<T>(std::log(static_cast<Real>(maxv))),
                       static_cast<T>(std::log(static_cast<Real>(minNormal))),
                       static_cast<T>(std::log(static_cast<Real>(denormMin))),
                       static_cast<T>(std::log(static_cast<Real>(denormMin) / 2))},
                      64),
            bound);
      special<T>({{nan, nan},
                  {inf, inf},
                  {-inf, 0},
                  {0, 1},
                  {-T(0), 1},
                  {maxv, inf},
                  {-maxv, 0},
                  {denormMin, 1},
                  {T(1000), inf},
                  {T(-1000), 0}});
      break;
    }
    case Fn::Log: {
      check("(0, max] all binades incl. subnormals", sweep<T>(denormMin, maxv, dense), bound);
      check("[0.5, 2] linear", linspace<T>(T(0.5), T(2), dense), bound);
      check("1 +- 4096 ulp", around<T>({T(1)}, 4096), bound);
      special<T>({{nan, nan},
                  {inf, inf},
                  {-inf, nan},
                  {0, -inf},
                  {-T(0), -inf},
                  {T(-1), nan},
                  {-denormMin, nan},
                  {T(1), 0}});
      // Subnormal inputs follow the reference too (not clamped to log(min normal)).
      check("subnormals", sweep<T>(denormMin, minNormal, 100000), bound);
      break;
    }
    case Fn::Tanh: {
      check("[-10, 10] linear", linspace<T>(T(-10), T(10), dense), bound);
      check("[-0.7, 0.7] linear (branch switch)", linspace<T>(T(-0.7), T(0.7), dense), bound);
      check("all finite", everything, bound);
      special<T>({{nan, nan},
                  {inf, 1},
                  {-inf, -1},
                  {0, 0},
                  {-T(0), -T(0)},
                  {T(100), 1},
                  {T(-100), -1},
                  {denormMin, denormMin},
                  {-denormMin, -denormMin},
                  {T(1e-30), T(1e-30)}});
      break;
    }
    case Fn::Sigmoid: {
      const T lo = dbl ? T(-750) : T(-110);
      check("[lo, 40] linear", linspace<T>(lo, T(40), dense), bound);
      check("all finite", everything, bound);
      special<T>(
          {{nan, nan}, {inf, 1}, {-inf, 0}, {0, T(0.5)}, {-T(0), T(0.5)}, {maxv, 1}, {-maxv, 0}});
      break;
    }
    case Fn::Sin:
    case Fn::Cos: {
      // Accurate reduction limit: q * (pi/2 part) exact for q < 2^24 (float) or 2^20 (double).
      const T limit = dbl ? T(1.6e6) : T(2.6e7);
      check("[-pi, pi] linear", linspace<T>(T(-3.1415927), T(3.1415927), dense), bound);
      check("[-1e4, 1e4] linear", linspace<T>(T(-1e4), T(1e4), dense), bound);
      check("[-1e4, 1e4] all binades", sweep<T>(T(-1e4), T(1e4), dense), bound);
      check("nearest to k pi/2, k <= 1e4 / (pi/2)", nearMultiplesOfHalfPi<T>(1, 6366), bound);
      check(dbl ? "[1e4, 1.6e6] all binades" : "[1e4, 2.6e7] all binades",
            sweep<T>(T(1e4), limit, dense / 4), bound);
      check(dbl ? "nearest to k pi/2, k < 2^20 (every 37th k)"
                : "nearest to k pi/2, k < 2^24 (every 37th k)",
            nearMultiplesOfHalfPi<T>(6367, dbl ? (1 << 20) - 2 : (1 << 24) - 2, 37), bound);
      // Beyond the accurate range results only have to be finite and within [-1, 1].
      std::vector<T> far =
          concat<T>({sweep<T>(limit, maxv, 20000), sweep<T>(-maxv, -limit, 20000)});
      std::vector<T> got = run(kernel_, far);
      double worstAbs = 0;
      for (size_t i = 0; i < far.size(); ++i) {
        ASSERT_TRUE(std::isfinite(got[i]) && std::fabs(got[i]) <= 1)
            << fnName(fn) << "(" << far[i] << ") = " << got[i];
        worstAbs =
            std::max(worstAbs, static_cast<double>(std::fabs(got[i] - refUnary(fn, far[i]))));
      }
      std::printf(
          "[ ulp ] %-7s %-9s %-44s n=%-8zu bounded; max abs error %.3g\n", fnName(fn),
          dbl ? (GetParam().noFma ? "f64-nofma" : "f64") : (GetParam().noFma ? "f32-nofma" : "f32"),
          "|x| beyond the accurate range", far.size(), worstAbs);
      if (fn == Fn::Sin) {
        special<T>({{nan, nan},
                    {inf, nan},
                    {-inf, nan},
                    {0, 0},
                    {-T(0), -T(0)},
                    {denormMin, denormMin},
                    {-denormMin, -denormMin},
                    {T(1e-20), T(1e-20)}});
      } else {
        special<T>({{nan, nan}, {inf, nan}, {-inf, nan}, {0, 1}, {-T(0), 1}, {denormMin, 1}});
      }
      break;
    }
    case Fn::Pow:
      break;
  }

  if constexpr (!dbl) {
    if (std::getenv("KILN_VM_EXHAUSTIVE") == nullptr) return;
    // Every float bit pattern (NaNs included), in chunks; sin/cos only in their accurate range.
    Stat<T> worst;
    std::vector<T> chunk(1 << 22);
    for (uint64_t base = 0; base < (uint64_t{1} << 32); base += chunk.size()) {
      for (size_t i = 0; i < chunk.size(); ++i) {
        chunk[i] = std::bit_cast<T>(static_cast<uint32_t>(base + i));
        if ((fn == Fn::Sin || fn == Fn::Cos) && !(std::fabs(chunk[i]) < T(2.6e7))) chunk[i] = 0;
      }
      Stat<T> s = measure(kernel_, fn, chunk);
      if (s.max > worst.max) worst = s;
    }
    worst.n = uint64_t{1} << 32;
    report(fn, (fn == Fn::Sin || fn == Fn::Cos) ? "exhaustive |x| < 2.6e7" : "exhaustive", worst,
           false, GetParam().noFma);
    EXPECT_LE(worst.max, bound) << "exhaustive, at x=" << worst.x;
  }
}

template <class T>
void VectorMath::powTest() {
  using L = std::numeric_limits<T>;
  constexpr bool dbl = std::is_same_v<T, double>;
  const T inf = L::infinity();
  const T nan = L::quiet_NaN();
  const double bound = ulpBound(Fn::Pow, dbl);
  const size_t n = dbl ? 300000 : 600000;
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  {  // x in (0, 1e4] across binades, y in [-30, 30].
    std::vector<T> xs = sweep<T>(L::denorm_min(), T(1e4), n), ys;
    for (size_t i = 0; i < xs.size(); ++i) ys.push_back(static_cast<T>(-30 + 60 * unit(rng)));
    checkPow("x in (0, 1e4] binades, y in [-30, 30]", xs, ys, bound);
  }
  {  // Results spread over the whole range: y = L / log(x), L uniform over the exponent range.
    std::vector<T> xs, ys;
    const Real lmin = std::log(static_cast<Real>(L::denorm_min())) - 1;
    const Real lmax = std::log(static_cast<Real>(L::max())) + 1;
    std::uniform_int_distribution<Bits<T>> key(orderedKey(L::denorm_min()), orderedKey(L::max()));
    while (xs.size() < n) {
      T x = fromKey<T>(key(rng));
      if (x == 1) continue;
      xs.push_back(x);
      ys.push_back(
          static_cast<T>((lmin + (lmax - lmin) * unit(rng)) / std::log(static_cast<Real>(x))));
    }
    checkPow("any x > 0, y targeting all result magnitudes", xs, ys, bound);
  }
  {  // Negative bases with integer exponents (sign from parity).
    std::vector<T> xs, ys;
    for (size_t i = 0; i < n / 4; ++i) {
      xs.push_back(static_cast<T>(-(0.01 + 100 * unit(rng))));
      ys.push_back(static_cast<T>(std::floor(-40 + 81 * unit(rng))));
    }
    checkPow("x in [-100, -0.01], integer y in [-40, 40]", xs, ys, bound);
  }
  {  // x within a few thousand ulp of 1 with huge |y|: needs log(x) to more than T's precision.
    std::vector<T> xs = around<T>({T(1)}, 2000), ys;
    const double ymax = dbl ? 1e15 : 1e7;
    for (size_t i = 0; i < xs.size(); ++i) ys.push_back(static_cast<T>(ymax * (2 * unit(rng) - 1)));
    checkPow("x = 1 +- 2000 ulp, |y| up to 1e7 (f32) / 1e15 (f64)", xs, ys, bound);
  }

  // C99 Annex F special cases.
  const T z = 0;
  std::vector<std::array<T, 3>> cases = {
      {2, 0, 1},
      {nan, 0, 1},
      {nan, -z, 1},
      {inf, 0, 1},
      {1, nan, 1},
      {1, inf, 1},
      {1, -inf, 1},
      {-1, inf, 1},
      {-1, -inf, 1},
      {nan, 1, nan},
      {2, nan, nan},
      {z, 3, z},
      {-z, 3, -z},
      {-z, 2, z},
      {z, -3, inf},
      {-z, -3, -inf},
      {-z, -2, inf},
      {z, T(-0.5), inf},
      {-z, T(0.5), z},
      {z, inf, z},
      {z, -inf, inf},
      {T(0.5), inf, z},
      {T(0.5), -inf, inf},
      {2, inf, inf},
      {2, -inf, z},
      {-2, inf, inf},
      {T(-0.5), inf, z},
      {-2, -inf, z},
      {inf, 2, inf},
      {inf, -2, z},
      {inf, T(0.5), inf},
      {-inf, 3, -inf},
      {-inf, 2, inf},
      {-inf, -3, -z},
      {-inf, -2, z},
      {-inf, T(0.5), inf},
      {-inf, T(-0.5), z},
      {-2, 3, -8},
      {-2, 2, 4},
      {-2, -1, T(-0.5)},
      {-2, T(0.5), nan},
      {-8, T(1) / 3, nan},
      {-1, T(0.5), nan},
      {2, 10, 1024},
      {3, 2, 9},
      {-3, T(1e20), inf},
      {T(-0.5), T(1e20), z},
      {T(-0.5), T(1e20) + 1, z},
      {4, T(0.5), 2},
      {2, dbl ? T(1024) : T(128), inf},
      {2, dbl ? T(1023) : T(127), dbl ? T(0x1p1023) : T(0x1p127)},
      {2, dbl ? T(-1074) : T(-149), L::denorm_min()},
      {2, dbl ? T(-1200) : T(-200), z},
      {-2, dbl ? T(-1075) : T(-151), -z},
      {T(-0.5), dbl ? T(1075) : T(151), -z}};
  std::vector<T> xs, ys;
  for (auto& c : cases) {
    xs.push_back(c[0]);
    ys.push_back(c[1]);
  }
  std::vector<T> got = run(kernel_, xs, &ys);
  for (size_t i = 0; i < cases.size(); ++i) {
    const T want = cases[i][2];
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got[i])) << "pow(" << xs[i] << ", " << ys[i] << ") = " << got[i];
    } else {
      EXPECT_EQ(got[i], want) << "pow(" << xs[i] << ", " << ys[i] << ")";
      EXPECT_EQ(std::signbit(got[i]), std::signbit(want))
          << "pow(" << xs[i] << ", " << ys[i] << ")";
    }
  }
}

TEST_P(VectorMath, VectorisedWithoutCalls) {
  const Case& c = GetParam();
  const Host& h = host();
  std::printf("[ vec ] %-7s %s%s: widest vector <%u x %s>, %zu non-intrinsic calls\n", fnName(c.fn),
              c.dbl ? "f64" : "f32", c.noFma ? " (no FMA)" : "", kernel_.maxLanes,
              c.dbl ? "double" : "float", kernel_.calls.size());
  for (const auto& name : kernel_.calls) ADD_FAILURE() << "call to " << name << " left in the loop";
  // The loop must be vectorised at the native width: 16 floats / 8 doubles with AVX-512 (and
  // prefer-vector-width=512), 8 / 4 with AVX2, at least 4 / 2 with SSE.
  unsigned want = 16 / (c.dbl ? 2 : 1);
  if (!h.avx512 || c.noFma) want = h.avx2 ? want / 2 : want / 4;
  EXPECT_GE(kernel_.maxLanes, want) << kernel_.ir;
  if (!c.dbl) {
    std::string vecType = "<" + std::to_string(want) + " x float>";
    EXPECT_NE(kernel_.ir.find(vecType), std::string::npos) << kernel_.ir;
  }
  EXPECT_EQ(kernel_.ir.find("call void @"), std::string::npos);
}

TEST_P(VectorMath, Accuracy) {
  const Case& c = GetParam();
  if (c.fn == Fn::Pow) {
    if (c.dbl)
      powTest<double>();
    else
      powTest<float>();
  } else {
    if (c.dbl)
      unaryTest<double>();
    else
      unaryTest<float>();
  }
}

std::vector<Case> allCases() {
  std::vector<Case> cases;
  for (bool noFma : {false, true}) {
    for (Fn fn : {Fn::Exp, Fn::Log, Fn::Tanh, Fn::Sigmoid, Fn::Sin, Fn::Cos, Fn::Pow}) {
      for (bool dbl : {false, true}) cases.push_back({fn, dbl, noFma});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(All, VectorMath, ::testing::ValuesIn(allCases()), caseName);

// The functions accept scalars as well as vectors, ignore the builder's fast-math flags and leave
// them as they were.
TEST(VectorMathIr, ScalarAndVectorShapesAndFastMathFlagsRestored) {
  llvm::LLVMContext ctx;
  llvm::Module module("shapes", ctx);
  llvm::IRBuilder<> b(ctx);
  llvm::FastMathFlags fast;
  fast.setFast();
  b.setFastMathFlags(fast);
  int count = 0;
  for (llvm::Type* elem : {b.getFloatTy(), b.getDoubleTy()}) {
    for (llvm::Type* ty : {elem, static_cast<llvm::Type*>(llvm::FixedVectorType::get(elem, 4)),
                           static_cast<llvm::Type*>(llvm::FixedVectorType::get(elem, 16))}) {
      auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ty}, false);
      auto* f = llvm::Function::Create(fty, llvm::Function::ExternalLinkage,
                                       "f" + std::to_string(count++), module);
      b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", f));
      llvm::Value* x = f->getArg(0);
      for (llvm::Value* v : {emitExp(b, x), emitLog(b, x), emitTanh(b, x), emitSigmoid(b, x),
                             emitSin(b, x), emitCos(b, x), emitPow(b, x, x)}) {
        EXPECT_EQ(v->getType(), ty);
      }
      b.CreateRetVoid();
      for (auto& inst : f->getEntryBlock()) {
        if (llvm::isa<llvm::FPMathOperator>(inst)) {
          EXPECT_FALSE(inst.getFastMathFlags().any())
              << "fast-math flags on an emitted instruction";
        }
      }
    }
  }
  EXPECT_TRUE(b.getFastMathFlags().isFast());
  std::string errors;
  llvm::raw_string_ostream out(errors);
  EXPECT_FALSE(llvm::verifyModule(module, &out)) << out.str();
}

}  // namespace
}  // namespace kiln::codegen
