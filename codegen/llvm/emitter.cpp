#include "codegen/llvm/emitter.h"

#include <llvm/Analysis/CGSCCPassManager.h>
#include <llvm/Analysis/LoopAnalysisManager.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <vector>

#include "codegen/llvm/cpu_schedule.h"
#include "codegen/llvm/vector_math.h"
#include "lib/core/scalar_type.h"
#include "lib/ir/philox.h"

namespace kiln::codegen {
namespace {

using llvm::IRBuilder;
using llvm::Value;

class Emitter {
 public:
  Emitter(const Kernel& k, llvm::LLVMContext& ctx, llvm::Module& m, const CpuLibraries& libraries)
      : k_(k), ctx_(ctx), m_(m), b_(ctx), libraries_(libraries) {}

  void run(const std::string& name, bool avx512) {
    auto* ptr = llvm::PointerType::get(ctx_, 0);
    auto* voidTy = llvm::Type::getVoidTy(ctx_);
    // The body takes each buffer as a separate noalias pointer: the scheduler guarantees that
    // distinct kernel buffers never overlap, and telling LLVM so is what lets it vectorise.
    std::vector<llvm::Type*> bodyParams(k_.buffers.size() + 1, ptr);
    bodyParams.push_back(b_.getInt64Ty());
    bodyParams.push_back(b_.getInt64Ty());
    auto* bodyTy = llvm::FunctionType::get(voidTy, bodyParams, false);
    auto* body =
        llvm::Function::Create(bodyTy, llvm::Function::InternalLinkage, name + ".body", m_);
    for (size_t i = 0; i <= k_.buffers.size(); ++i) body->addParamAttr(i, llvm::Attribute::NoAlias);
    body->addFnAttr(llvm::Attribute::AlwaysInline);
    body->addFnAttr(llvm::Attribute::NoUnwind);
    if (avx512) body->addFnAttr("prefer-vector-width", "512");

    auto* entryTy =
        llvm::FunctionType::get(voidTy, {ptr, ptr, b_.getInt64Ty(), b_.getInt64Ty()}, false);
    auto* entry = llvm::Function::Create(entryTy, llvm::Function::ExternalLinkage, name, m_);
    entry->addFnAttr(llvm::Attribute::NoUnwind);
    if (avx512) entry->addFnAttr("prefer-vector-width", "512");
    {
      b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", entry));
      std::vector<Value*> callArgs;
      for (size_t i = 0; i < k_.buffers.size(); ++i) {
        Value* slot = b_.CreateConstGEP1_64(ptr, entry->getArg(0), i);
        callArgs.push_back(b_.CreateLoad(ptr, slot));
      }
      for (unsigned i = 1; i < 4; ++i) callArgs.push_back(entry->getArg(i));
      b_.CreateCall(body, callArgs);
      b_.CreateRetVoid();
    }

    fn_ = body;
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", body));
    allocaBlock_ = &body->getEntryBlock();
    for (size_t i = 0; i < k_.buffers.size(); ++i) buffers_.push_back(body->getArg(i));
    Value* argsPtr = body->getArg(k_.buffers.size());
    for (size_t i = 0; i < k_.args.size(); ++i) {
      Value* raw =
          b_.CreateLoad(b_.getInt64Ty(), b_.CreateConstGEP1_64(b_.getInt64Ty(), argsPtr, i));
      args_.push_back(fromRawArg(raw, k_.args[i]));
    }
    begin_ = body->getArg(k_.buffers.size() + 1);
    end_ = body->getArg(k_.buffers.size() + 2);
    loopVars_.assign(k_.loops.size(), nullptr);

    const CpuSchedule cpu = cpuSchedule(k_, libraries_.available());
    split_ = cpu.split_loops;
    // A scatter whose last loop never stores one element twice runs that loop's memory
    // accesses as independent (llvm.loop.parallel_accesses), so that it vectorises.
    if (k_.scatters() && k_.stores[0].distinct_in_last_loop && !cpu.order.empty() &&
        cpu.order.back() == static_cast<int32_t>(k_.loops.size()) - 1) {
      parallel_loop_ = cpu.order.back();
    }
    // Phases run as soon as the stores' nest has opened the kernel's outer loops.
    store_order_ = &cpu.order;
    phase_depth_ = k_.phases.empty() ? 0 : static_cast<size_t>(k_.outer);
    if (cpu.contraction) emitGemmCall(*cpu.contraction);
    switch (cpu.accumulate) {
      case CpuSchedule::Accumulate::None:
        emitRangeNest(cpu.order, cpu.order.size(), [&] { emitPlainStores(); });
        break;
      case CpuSchedule::Accumulate::Registers:
        emitRangeNest(cpu.order, cpu.outer_parallel,
                      [&] { emitRegisterReduction(cpu.order, cpu.outer_parallel); });
        break;
      case CpuSchedule::Accumulate::Memory:
        emitMemoryReduction(cpu.order);
        break;
    }
    b_.CreateRetVoid();
  }

 private:
  // ---- types and constants ----
  // A value's type in registers. Half and bfloat16 live in float registers, as PyTorch's CPU
  // kernels compute them in float32: every op of that type rounds its result to 16 bits
  // (narrow), as eager PyTorch rounds after each op, and memory holds the 16 bits (memoryType).
  llvm::Type* valueType(ScalarType t) {
    switch (t) {
      case ScalarType::Bool:
        return b_.getInt1Ty();
      case ScalarType::Byte:
      case ScalarType::Char:
        return b_.getInt8Ty();
      case ScalarType::Short:
        return b_.getInt16Ty();
      case ScalarType::Int:
        return b_.getInt32Ty();
      case ScalarType::Long:
        return b_.getInt64Ty();
      case ScalarType::Half:
      case ScalarType::BFloat16:
      case ScalarType::Float:
        return b_.getFloatTy();
      case ScalarType::Double:
        return b_.getDoubleTy();
    }
    return nullptr;
  }
  llvm::Type* memoryType(ScalarType t) {
    if (t == ScalarType::Bool) return b_.getInt8Ty();
    if (detail::isReducedFloat(t)) return b_.getInt16Ty();
    return valueType(t);
  }
  // Bool and uint8 compare, divide and widen as unsigned numbers.
  static bool isUnsigned(ScalarType t) { return t == ScalarType::Bool || t == ScalarType::Byte; }

  // A float rounded to half or bfloat16 (nearest even, NaN kept) and back. Half uses fptrunc,
  // which x86's F16C turns into vcvtps2ph (and AVX512-FP16 folds with the op into vaddph and
  // the like, the same bits); without F16C, LLVM calls __truncsfhf2 and __extendhfsf2, which
  // libgcc_s exports since GCC 12 and the JIT looks up in the process. bfloat16 is integer
  // arithmetic on the bits, as c10::BFloat16 rounds: LLVM 16's x86 backend has no conversion
  // to bfloat.
  Value* narrow(Value* v, ScalarType t) {
    if (t == ScalarType::Half)
      return b_.CreateFPExt(b_.CreateFPTrunc(v, b_.getHalfTy()), v->getType());
    if (t != ScalarType::BFloat16) return v;
    auto* i32 = b_.getInt32Ty();
    Value* bits = b_.CreateBitCast(v, i32);
    Value* odd = b_.CreateAnd(b_.CreateLShr(bits, 16), b_.getInt32(1));
    Value* rounded = b_.CreateAnd(b_.CreateAdd(bits, b_.CreateAdd(odd, b_.getInt32(0x7FFF))),
                                  b_.getInt32(0xFFFF0000u));
    Value* nan = b_.CreateFCmpUNO(v, v);
    return b_.CreateBitCast(b_.CreateSelect(nan, b_.getInt32(0x7FC00000), rounded), v->getType());
  }
  // The 16 bits of a rounded half or bfloat16 value in a float register, and back.
  Value* toBits16(Value* v, ScalarType t) {
    if (t == ScalarType::Half)
      return b_.CreateBitCast(b_.CreateFPTrunc(v, b_.getHalfTy()), b_.getInt16Ty());
    return b_.CreateTrunc(b_.CreateLShr(b_.CreateBitCast(v, b_.getInt32Ty()), 16), b_.getInt16Ty());
  }
  Value* fromBits16(Value* bits, ScalarType t) {
    if (t == ScalarType::Half)
      return b_.CreateFPExt(b_.CreateBitCast(bits, b_.getHalfTy()), b_.getFloatTy());
    return b_.CreateBitCast(b_.CreateShl(b_.CreateZExt(bits, b_.getInt32Ty()), 16),
                            b_.getFloatTy());
  }

  Value* fromRawArg(Value* raw, ScalarType t) {
    if (isFloatingType(t)) {
      Value* d = b_.CreateBitCast(raw, b_.getDoubleTy());
      return t == ScalarType::Double ? d : narrow(b_.CreateFPTrunc(d, b_.getFloatTy()), t);
    }
    if (t == ScalarType::Bool) return b_.CreateICmpNE(raw, b_.getInt64(0));
    return b_.CreateTrunc(raw, valueType(t));
  }
  // A constant of type t: floating values rounded to t first, integers wrapped to t's width.
  Value* constant(ScalarType t, double f, int64_t i, bool isFloat) {
    llvm::Type* ty = valueType(t);
    const double v = isFloat ? f : static_cast<double>(i);
    if (isFloatingType(t)) {
      return llvm::ConstantFP::get(ty, detail::visitType(t, [&]<typename T>() {
                                     return static_cast<double>(detail::castTo<T>(v));
                                   }));
    }
    const int64_t n = isFloat ? static_cast<int64_t>(f) : i;
    const unsigned bits = ty->getIntegerBitWidth();
    const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    return llvm::ConstantInt::get(ty, static_cast<uint64_t>(n) & mask);
  }
  Value* identity(ReduceKind k, ScalarType t) {
    llvm::Type* ty = valueType(t);
    if (isFloatingType(t)) return llvm::ConstantFP::get(ty, reduceIdentity(k, t));
    unsigned bits = ty->getIntegerBitWidth();
    const bool u = isUnsigned(t);
    switch (k) {
      case ReduceKind::Sum:
        return llvm::ConstantInt::get(ty, 0);
      case ReduceKind::Prod:
        return llvm::ConstantInt::get(ty, 1);
      case ReduceKind::Max:
      case ReduceKind::ArgMax:
        return llvm::ConstantInt::get(
            ctx_, u ? llvm::APInt::getMinValue(bits) : llvm::APInt::getSignedMinValue(bits));
      case ReduceKind::Min:
      case ReduceKind::ArgMin:
        return llvm::ConstantInt::get(
            ctx_, u ? llvm::APInt::getMaxValue(bits) : llvm::APInt::getSignedMaxValue(bits));
      case ReduceKind::None:
        break;
    }
    return llvm::ConstantInt::get(ty, 0);
  }

  // ---- loops ----
  // A loop over l from `lo` to `end` (exclusive; lo < end) around `body`.
  template <typename F>
  void emitLoop(int32_t l, Value* lo, Value* end, F body) {
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* header = llvm::BasicBlock::Create(ctx_, "loop" + std::to_string(l), fn_);
    auto* exit = llvm::BasicBlock::Create(ctx_, "after" + std::to_string(l), fn_);
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    llvm::PHINode* iv = b_.CreatePHI(b_.getInt64Ty(), 2, "i" + std::to_string(l));
    iv->addIncoming(lo, pre);
    Value* saved = loopVars_[l];
    loopVars_[l] = iv;
    const int loops_before = loops_emitted_++;
    if (l == parallel_loop_) access_group_ = llvm::MDNode::getDistinct(ctx_, {});
    body(iv);
    Value* next = b_.CreateAdd(iv, b_.getInt64(1), "", true, true);
    iv->addIncoming(next, b_.GetInsertBlock());
    auto* latch = b_.CreateCondBr(b_.CreateICmpSLT(next, end), header, exit);
    // A loop around other loops is never unrolled: fully unrolling it copies every loop inside
    // (a matmul's 10-term reduction around its vectorised columns took a second to compile),
    // for no measured gain once the innermost loops are vectorised and interleaved. Innermost
    // loops keep LLVM's unrolling: without it a long float sum ran 1.4x slower.
    if (fallback_) {
      latch->setMetadata(llvm::LLVMContext::MD_loop, plainLoop());
    } else if (loops_emitted_ > loops_before + 1) {
      latch->setMetadata(llvm::LLVMContext::MD_loop, noUnroll());
    } else if (l == parallel_loop_ && access_group_) {
      latch->setMetadata(llvm::LLVMContext::MD_loop, parallelAccesses(access_group_));
    }
    if (l == parallel_loop_) access_group_ = nullptr;
    b_.SetInsertPoint(exit);
    loopVars_[l] = saved;
  }

  // Loop metadata saying that the memory accesses of `group` carry no dependence from one
  // iteration to another.
  llvm::MDNode* parallelAccesses(llvm::MDNode* group) {
    llvm::Metadata* parallel =
        llvm::MDNode::get(ctx_, {llvm::MDString::get(ctx_, "llvm.loop.parallel_accesses"), group});
    llvm::MDNode* id = llvm::MDNode::getDistinct(ctx_, {nullptr, parallel});
    id->replaceOperandWith(0, id);
    return id;
  }

  // Loop metadata that turns unrolling off (a distinct node whose first operand is itself).
  llvm::MDNode* noUnroll() {
    llvm::Metadata* disable =
        llvm::MDNode::get(ctx_, llvm::MDString::get(ctx_, "llvm.loop.unroll.disable"));
    llvm::MDNode* id = llvm::MDNode::getDistinct(ctx_, {nullptr, disable});
    id->replaceOperandWith(0, id);
    return id;
  }

  // Loop metadata that turns unrolling, vectorisation and interleaving off: a gemm kernel's own
  // loops only run where the library cannot (extents beyond its integers, no scratch memory), so
  // they are compiled plainly. Vectorised, they made the first training step's 15 kernels take
  // 432 ms to compile at 1 thread, against 306 ms for the loops alone.
  llvm::MDNode* plainLoop() {
    auto flag = [&](const char* name, llvm::Metadata* value) -> llvm::Metadata* {
      return llvm::MDNode::get(ctx_, {llvm::MDString::get(ctx_, name), value});
    };
    llvm::Metadata* off = llvm::ConstantAsMetadata::get(b_.getFalse());
    llvm::Metadata* one = llvm::ConstantAsMetadata::get(b_.getInt32(1));
    llvm::MDNode* id = llvm::MDNode::getDistinct(
        ctx_,
        {nullptr, llvm::MDNode::get(ctx_, llvm::MDString::get(ctx_, "llvm.loop.unroll.disable")),
         flag("llvm.loop.vectorize.enable", off), flag("llvm.loop.interleave.count", one)});
    id->replaceOperandWith(0, id);
    return id;
  }

  // Loops order[from..to), outermost first, around `body`.
  template <typename F>
  void emitNest(const std::vector<int32_t>& order, size_t from, size_t to, F body) {
    if (from == to) {
      body();
      return;
    }
    int32_t l = order[from];
    auto loop = [&] {
      emitLoop(l, b_.getInt64(0), extent(l), [&](Value*) {
        if (&order == store_order_ && from + 1 == phase_depth_) emitPhases();
        emitNest(order, from + 1, to, body);
      });
    };
    // An empty index space runs nothing (the loops run at least once).
    if (k_.loops[l].extent_arg < 0) {
      if (k_.loops[l].extent > 0) loop();
      return;
    }
    auto* run = llvm::BasicBlock::Create(ctx_, "run" + std::to_string(l), fn_);
    auto* skip = llvm::BasicBlock::Create(ctx_, "skip" + std::to_string(l), fn_);
    b_.CreateCondBr(b_.CreateICmpSGT(extent(l), b_.getInt64(0)), run, skip);
    b_.SetInsertPoint(run);
    loop();
    b_.CreateBr(skip);
    b_.SetInsertPoint(skip);
  }

  // Loop l's extent: a constant, or the argument that carries it.
  Value* extent(int32_t l) {
    const Loop& loop = k_.loops[l];
    return loop.extent_arg >= 0 ? args_[loop.extent_arg] : b_.getInt64(loop.extent);
  }

  // Loops order[0..to) around `body`, where the first split_ of them (the threads' split,
  // cpu_schedule.h) run only the flat subrange [begin, end) of their combined index space, the
  // last of them varying fastest. Each split loop starts at the subrange's first index while
  // every loop outside it is at its own first index, and ends likewise, so the innermost loop
  // keeps plain bounds that the vectoriser handles. The caller guarantees begin < end.
  template <typename F>
  void emitRangeNest(const std::vector<int32_t>& order, size_t to, F body) {
    if (split_ == 0) return emitNest(order, 0, to, body);
    std::vector<Value*> first(split_), last(split_);
    Value* b = begin_;
    Value* e = b_.CreateSub(end_, b_.getInt64(1));
    for (size_t j = split_; j-- > 0;) {
      Value* n = extent(order[j]);
      first[j] = j == 0 ? b : b_.CreateURem(b, n);
      last[j] = j == 0 ? e : b_.CreateURem(e, n);
      b = b_.CreateUDiv(b, n);
      e = b_.CreateUDiv(e, n);
    }
    emitRangeLevel(order, 0, to, first, last, b_.getTrue(), b_.getTrue(), body);
  }

  template <typename F>
  void emitRangeLevel(const std::vector<int32_t>& order, size_t j, size_t to,
                      const std::vector<Value*>& first, const std::vector<Value*>& last,
                      Value* atFirst, Value* atLast, F body) {
    if (j == split_) return emitNest(order, j, to, body);
    int32_t l = order[j];
    Value* lo = b_.CreateSelect(atFirst, first[j], b_.getInt64(0));
    Value* end = b_.CreateAdd(
        b_.CreateSelect(atLast, last[j], b_.CreateSub(extent(l), b_.getInt64(1))), b_.getInt64(1));
    emitLoop(l, lo, end, [&](Value* iv) {
      Value* innerFirst = atFirst;
      Value* innerLast = atLast;
      if (j + 1 < split_) {
        innerFirst = b_.CreateAnd(atFirst, b_.CreateICmpEQ(iv, first[j]));
        innerLast = b_.CreateAnd(atLast, b_.CreateICmpEQ(iv, last[j]));
      }
      if (&order == store_order_ && j + 1 == phase_depth_) emitPhases();
      emitRangeLevel(order, j + 1, to, first, last, innerFirst, innerLast, body);
    });
  }

  // ---- matrix products ----
  // C = A B by the library's gemm when the extents fit, one call per block of rows: this call's
  // blocks (the split range, or all of them), then a return. The kernel's loops follow, for this
  // call's rows, for extents the library cannot take (a leading dimension below the extent it
  // spans, or extents beyond its 32-bit integers). With an epilogue, each block goes to a
  // scratch block that the stores then read, row by row.
  void emitGemmCall(const CpuSchedule::Contraction& c) {
    const bool f64 = k_.exprs[c.a].type == ScalarType::Double;
    const void* gemm = f64 ? libraries_.dgemm : libraries_.sgemm;
    if (gemm == nullptr) return;
    Value* m = extent(c.m);
    Value* n = extent(c.n);
    Value* kk = extent(c.k);
    Value* rows_per_block = b_.getInt64(CpuSchedule::Contraction::kRows);
    Value* blocks = b_.CreateUDiv(b_.CreateAdd(m, b_.getInt64(CpuSchedule::Contraction::kRows - 1)),
                                  rows_per_block);
    auto atLeast = [&](int64_t ld, Value* e) { return b_.CreateICmpSGE(b_.getInt64(ld), e); };
    Value* limit = b_.getInt64(std::numeric_limits<int32_t>::max());
    Value* fits = b_.CreateAnd(b_.CreateICmpSLE(n, limit), b_.CreateICmpSLE(kk, limit));
    for (Value* e : {m, n, kk}) fits = b_.CreateAnd(fits, b_.CreateICmpSGT(e, b_.getInt64(0)));
    fits = b_.CreateAnd(fits, atLeast(c.lda, c.a_trans ? m : kk));
    fits = b_.CreateAnd(fits, atLeast(c.ldb, c.b_trans ? kk : n));
    if (!c.epilogue) fits = b_.CreateAnd(fits, atLeast(c.ldc, n));
    auto* call = llvm::BasicBlock::Create(ctx_, "gemm", fn_);
    auto* loops = llvm::BasicBlock::Create(ctx_, "loops", fn_);
    b_.CreateCondBr(fits, call, loops);
    b_.SetInsertPoint(call);
    const Store& st = k_.stores[0];
    llvm::Type* elem = valueType(k_.exprs[c.a].type);
    auto* ptr = llvm::PointerType::get(ctx_, 0);
    // The epilogue's scratch: one block of rows, from malloc (a failed allocation runs the
    // loops instead).
    Value* scratch = nullptr;
    if (c.epilogue) {
      const uint64_t elem_bytes = f64 ? sizeof(double) : sizeof(float);
      Value* bytes = b_.CreateMul(b_.CreateMul(rows_per_block, n), b_.getInt64(elem_bytes));
      scratch =
          b_.CreateCall(llvm::FunctionType::get(ptr, {b_.getInt64Ty()}, false),
                        functionPointer(reinterpret_cast<const void*>(&std::malloc)), {bytes});
      auto* have = llvm::BasicBlock::Create(ctx_, "scratch", fn_);
      b_.CreateCondBr(b_.CreateIsNull(scratch), loops, have);
      b_.SetInsertPoint(have);
    }
    constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
    auto* i32 = b_.getInt32Ty();
    // cblas_?gemm(order, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
    auto* fnTy = llvm::FunctionType::get(
        b_.getVoidTy(), {i32, i32, i32, i32, i32, i32, elem, ptr, i32, ptr, i32, elem, ptr, i32},
        false);
    Value* callee = functionPointer(gemm);
    // The threads' units: blocks of rows, batch after batch (cpu_schedule.h).
    emitLoop(c.m, begin_, end_, [&](Value* unit) {
      Value* block = unit;
      if (c.batch >= 0) {
        loopVars_[c.batch] = b_.CreateUDiv(unit, blocks);
        block = b_.CreateURem(unit, blocks);
      }
      // Each operand's first element in this block: its index at the block's first row, where
      // n and k are 0.
      Value* first_row = b_.CreateMul(block, rows_per_block);
      Value* rows = b_.CreateSelect(b_.CreateICmpSLT(b_.CreateSub(m, first_row), rows_per_block),
                                    b_.CreateSub(m, first_row), rows_per_block);
      loopVars_[c.m] = first_row;
      loopVars_[c.n] = b_.getInt64(0);
      loopVars_[c.k] = b_.getInt64(0);
      memo_.assign(k_.exprs.size(), nullptr);
      auto at = [&](int32_t buffer, int32_t index) {
        return b_.CreateGEP(elem, buffers_[buffer], eval(index));
      };
      Value* a = at(static_cast<int32_t>(k_.exprs[c.a].i), k_.exprs[c.a].a);
      Value* bm = at(static_cast<int32_t>(k_.exprs[c.b].i), k_.exprs[c.b].a);
      Value* out = c.epilogue ? scratch : at(st.buffer, st.index);
      auto i32Of = [&](Value* v) { return b_.CreateTrunc(v, i32); };
      Value* ldc = c.epilogue ? i32Of(n) : b_.getInt32(static_cast<int32_t>(c.ldc));
      b_.CreateCall(
          fnTy, callee,
          {b_.getInt32(kRowMajor), b_.getInt32(c.a_trans ? kTrans : kNoTrans),
           b_.getInt32(c.b_trans ? kTrans : kNoTrans), i32Of(rows), i32Of(n), i32Of(kk),
           llvm::ConstantFP::get(elem, 1.0), a, b_.getInt32(static_cast<int32_t>(c.lda)), bm,
           b_.getInt32(static_cast<int32_t>(c.ldb)), llvm::ConstantFP::get(elem, 0.0), out, ldc});
      if (c.epilogue) emitEpilogue(c, first_row, rows, n, scratch, elem);
    });
    memo_.assign(k_.exprs.size(), nullptr);
    for (int32_t l : {c.n, c.k, c.batch}) {
      if (l >= 0) loopVars_[l] = nullptr;
    }
    if (c.epilogue) {
      b_.CreateCall(llvm::FunctionType::get(b_.getVoidTy(), {ptr}, false),
                    functionPointer(reinterpret_cast<const void*>(&std::free)), {scratch});
    }
    b_.CreateRetVoid();
    b_.SetInsertPoint(loops);
    fallback_ = true;
    // The loops run this call's rows: the units' range as a range of [batch,] row indices.
    auto rowsOf = [&](Value* unit) {
      Value* block = c.batch >= 0 ? b_.CreateURem(unit, blocks) : unit;
      Value* row = b_.CreateMul(block, rows_per_block);
      row = b_.CreateSelect(b_.CreateICmpSLT(row, m), row, m);
      if (c.batch < 0) return row;
      return b_.CreateAdd(b_.CreateMul(b_.CreateUDiv(unit, blocks), m), row);
    };
    begin_ = rowsOf(begin_);
    end_ = rowsOf(end_);
  }

  // The stores over one block's rows, reading the product from the scratch block as phase 0's
  // accumulator.
  void emitEpilogue(const CpuSchedule::Contraction& c, Value* first_row, Value* rows, Value* n,
                    Value* scratch, llvm::Type* elem) {
    emitLoop(c.m, first_row, b_.CreateAdd(first_row, rows), [&](Value* row) {
      Value* scratch_row = b_.CreateMul(b_.CreateSub(row, first_row), n);
      emitLoop(c.n, b_.getInt64(0), n, [&](Value* col) {
        memo_.assign(k_.exprs.size(), nullptr);
        accs_.assign(k_.phases.size(), nullptr);
        accs_[0] = b_.CreateLoad(
            elem, b_.CreateInBoundsGEP(elem, scratch, b_.CreateAdd(scratch_row, col)));
        emitPlainStores();
      });
    });
  }

  Value* functionPointer(const void* f) {
    return b_.CreateIntToPtr(b_.getInt64(reinterpret_cast<uint64_t>(f)),
                             llvm::PointerType::get(ctx_, 0));
  }

  // ---- register accumulators ----
  // A running reduction in registers (allocas that SROA turns into phis). Floating max and min
  // accumulate with maxnum/minnum, which the loop vectoriser turns into vector reductions (it
  // cannot vectorise the NaN-propagating compare-and-select of `maximum`), beside a flag that
  // records whether a NaN was seen and makes the result NaN at the end.
  struct RegisterAcc {
    ReduceKind kind;
    ScalarType type;
    llvm::AllocaInst* value;
    llvm::AllocaInst* nan = nullptr;
  };

  static bool splitsNan(ReduceKind k, ScalarType t) {
    return isFloatingType(t) && (k == ReduceKind::Max || k == ReduceKind::Min);
  }

  RegisterAcc startAcc(ReduceKind k, ScalarType t) {
    RegisterAcc acc{k, t, entryAlloca(valueType(t))};
    b_.CreateStore(identity(k, t), acc.value);
    if (splitsNan(k, t)) {
      acc.nan = entryAlloca(b_.getInt1Ty());
      b_.CreateStore(b_.getFalse(), acc.nan);
    }
    return acc;
  }

  void accumulate(const RegisterAcc& acc, Value* v) {
    Value* cur = b_.CreateLoad(valueType(acc.type), acc.value);
    if (!acc.nan) {
      b_.CreateStore(combine(acc.kind, acc.type, cur, v), acc.value);
      return;
    }
    // nnan and nsz are what the vectoriser asks of a min/max reduction: a NaN makes the value
    // poison, but the flag then discards it, and the sign of a zero maximum is unspecified.
    auto id = acc.kind == ReduceKind::Max ? llvm::Intrinsic::maxnum : llvm::Intrinsic::minnum;
    llvm::FastMathFlags flags;
    flags.setNoNaNs();
    flags.setNoSignedZeros();
    Value* next = b_.CreateBinaryIntrinsic(id, cur, v);
    llvm::cast<llvm::Instruction>(next)->setFastMathFlags(flags);
    b_.CreateStore(next, acc.value);
    Value* seen = b_.CreateLoad(b_.getInt1Ty(), acc.nan);
    b_.CreateStore(b_.CreateOr(seen, b_.CreateFCmpUNO(v, v)), acc.nan);
  }

  Value* accResult(const RegisterAcc& acc) {
    Value* v = b_.CreateLoad(valueType(acc.type), acc.value);
    if (!acc.nan) return v;
    Value* nan = llvm::ConstantFP::getNaN(valueType(acc.type));
    return b_.CreateSelect(b_.CreateLoad(b_.getInt1Ty(), acc.nan), nan, v);
  }

  // ---- phases ----
  // Each phase's accumulator at the current point of the outer loops, in registers like a
  // register reduction; later phases and the stores read it as `acc p`.
  void emitPhases() {
    accs_.assign(k_.phases.size(), nullptr);
    for (size_t p = 0; p < k_.phases.size(); ++p) {
      const Phase& ph = k_.phases[p];
      RegisterAcc acc = startAcc(ph.reduce, k_.exprs[ph.value].type);
      emitNest(ph.loops, 0, ph.loops.size(), [&] {
        memo_.assign(k_.exprs.size(), nullptr);
        Value* term = eval(ph.value);
        accumulate(acc, term);
        if (ph.stash_buffer >= 0) storeBuffer(ph.stash_buffer, eval(ph.stash_index), term);
      });
      accs_[p] = accResult(acc);
    }
  }

  // ---- stores ----
  Value* address(int32_t buffer, Value* index) {
    return b_.CreateInBoundsGEP(memoryType(k_.buffers[buffer].dtype), buffers_[buffer], index);
  }
  Value* loadBuffer(int32_t buffer, Value* index) {
    ScalarType t = k_.buffers[buffer].dtype;
    llvm::LoadInst* v = b_.CreateLoad(memoryType(t), address(buffer, index));
    if (access_group_) v->setMetadata(llvm::LLVMContext::MD_access_group, access_group_);
    if (detail::isReducedFloat(t)) return fromBits16(v, t);
    return t == ScalarType::Bool ? b_.CreateICmpNE(v, b_.getInt8(0)) : v;
  }
  // Stores v, whose register type is the buffer's, except that a float32 buffer may take a half
  // or bfloat16 value (the partial sums of a long reduction, accumulated in float32). A half or
  // bfloat16 buffer rounds what it stores: a reduction's float32 accumulator arrives unrounded.
  void storeBuffer(int32_t buffer, Value* index, Value* v) {
    const ScalarType t = k_.buffers[buffer].dtype;
    if (t == ScalarType::Bool) v = b_.CreateZExt(v, b_.getInt8Ty());
    if (detail::isReducedFloat(t)) v = toBits16(narrow(v, t), t);
    llvm::StoreInst* st = b_.CreateStore(v, address(buffer, index));
    if (access_group_) st->setMetadata(llvm::LLVMContext::MD_access_group, access_group_);
  }

  // Every store's index and value first: a point's loads read the buffers as the kernel found
  // them, also where another store of the same point writes the element they read (an
  // optimizer's update of a parameter beside the update of its momentum).
  void emitPlainStores() {
    memo_.assign(k_.exprs.size(), nullptr);
    std::vector<std::pair<Value*, Value*>> stored;
    for (const Store& s : k_.stores) stored.emplace_back(eval(s.index), eval(s.value));
    for (size_t i = 0; i < k_.stores.size(); ++i) {
      const Store& s = k_.stores[i];
      Value* v = stored[i].second;
      if (s.scatter == ScatterKind::Add) {
        // In order, one point after another: the element as the points before this one left it.
        Value* old = loadBuffer(s.buffer, stored[i].first);
        const ScalarType t = k_.buffers[s.buffer].dtype;
        v = isFloatingType(t)       ? b_.CreateFAdd(old, v)
            : t == ScalarType::Bool ? b_.CreateOr(old, v)
                                    : b_.CreateAdd(old, v);
      }
      storeBuffer(s.buffer, stored[i].first, v);
    }
  }

  Value* combine(ReduceKind k, ScalarType t, Value* acc, Value* v) {
    bool fp = isFloatingType(t);
    llvm::FastMathFlags reassoc;
    reassoc.setAllowReassoc();
    switch (k) {
      case ReduceKind::Sum: {
        if (!fp) return t == ScalarType::Bool ? b_.CreateOr(acc, v) : b_.CreateAdd(acc, v);
        auto* r = b_.CreateFAdd(acc, v);
        llvm::cast<llvm::Instruction>(r)->setFastMathFlags(reassoc);
        return r;
      }
      case ReduceKind::Prod: {
        if (!fp) return t == ScalarType::Bool ? b_.CreateAnd(acc, v) : b_.CreateMul(acc, v);
        auto* r = b_.CreateFMul(acc, v);
        llvm::cast<llvm::Instruction>(r)->setFastMathFlags(reassoc);
        return r;
      }
      case ReduceKind::Max:
        return maximum(t, acc, v);
      case ReduceKind::Min:
        return minimum(t, acc, v);
      default:
        throw std::logic_error("combine: arg reductions are handled separately");
    }
  }

  // Whether v replaces the running best in an arg reduction: strictly better (first index wins
  // ties), or NaN where the best is not NaN (PyTorch's argmax points at the first NaN).
  Value* argBetter(ReduceKind k, ScalarType t, Value* best, Value* v) {
    if (isFloatingType(t)) {
      Value* better =
          k == ReduceKind::ArgMax ? b_.CreateFCmpOGT(v, best) : b_.CreateFCmpOLT(v, best);
      Value* newNan = b_.CreateAnd(b_.CreateFCmpUNO(v, v), b_.CreateFCmpORD(best, best));
      return b_.CreateOr(better, newNan);
    }
    if (isUnsigned(t))
      return k == ReduceKind::ArgMax ? b_.CreateICmpUGT(v, best) : b_.CreateICmpULT(v, best);
    return k == ReduceKind::ArgMax ? b_.CreateICmpSGT(v, best) : b_.CreateICmpSLT(v, best);
  }

  static bool isArg(ReduceKind k) { return k == ReduceKind::ArgMax || k == ReduceKind::ArgMin; }

  llvm::AllocaInst* entryAlloca(llvm::Type* ty) {
    IRBuilder<> eb(allocaBlock_, allocaBlock_->begin());
    return eb.CreateAlloca(ty);
  }

  // Reduction loops inside the parallel ones: the accumulator lives in a register (SROA turns
  // the alloca into a phi), and the loop vectoriser can split it across lanes.
  void emitRegisterReduction(const std::vector<int32_t>& order, size_t parallel) {
    std::vector<llvm::AllocaInst*> acc(k_.stores.size()), best(k_.stores.size());
    std::vector<RegisterAcc> plain;
    for (size_t i = 0; i < k_.stores.size(); ++i) {
      const Store& s = k_.stores[i];
      ScalarType vt = k_.exprs[s.value].type;
      if (isArg(s.reduce)) {
        acc[i] = entryAlloca(b_.getInt64Ty());
        best[i] = entryAlloca(valueType(vt));
        b_.CreateStore(b_.getInt64(0), acc[i]);
        b_.CreateStore(identity(s.reduce, vt), best[i]);
        plain.push_back({});
      } else {
        plain.push_back(startAcc(s.reduce, vt));
      }
    }
    emitNest(order, parallel, order.size(), [&] {
      memo_.assign(k_.exprs.size(), nullptr);
      for (size_t i = 0; i < k_.stores.size(); ++i) {
        const Store& s = k_.stores[i];
        ScalarType vt = k_.exprs[s.value].type;
        Value* v = eval(s.value);
        if (isArg(s.reduce)) {
          Value* cur = b_.CreateLoad(valueType(vt), best[i]);
          Value* take = argBetter(s.reduce, vt, cur, v);
          b_.CreateStore(b_.CreateSelect(take, v, cur), best[i]);
          Value* pos = b_.CreateLoad(b_.getInt64Ty(), acc[i]);
          b_.CreateStore(b_.CreateSelect(take, eval(s.position), pos), acc[i]);
        } else {
          accumulate(plain[i], v);
        }
      }
    });
    memo_.assign(k_.exprs.size(), nullptr);
    for (size_t i = 0; i < k_.stores.size(); ++i) {
      const Store& s = k_.stores[i];
      Value* index = eval(s.index);
      if (isArg(s.reduce)) {
        storeBuffer(s.buffer, index, b_.CreateLoad(b_.getInt64Ty(), acc[i]));
        storeBuffer(s.best_buffer, index,
                    b_.CreateLoad(valueType(k_.exprs[s.value].type), best[i]));
      } else {
        storeBuffer(s.buffer, index, accResult(plain[i]));
      }
    }
  }

  // Reduction loops around parallel ones (e.g. matmul's k outside j): initialise the outputs,
  // then accumulate in memory, which keeps the innermost loop contiguous.
  void emitMemoryReduction(const std::vector<int32_t>& order) {
    std::vector<int32_t> parallelOrder;
    for (int32_t l : order) {
      if (k_.loops[l].role == LoopRole::Parallel) parallelOrder.push_back(l);
    }
    emitRangeNest(parallelOrder, parallelOrder.size(), [&] {
      memo_.assign(k_.exprs.size(), nullptr);
      for (const Store& s : k_.stores) {
        ScalarType vt = k_.exprs[s.value].type;
        Value* index = eval(s.index);
        if (isArg(s.reduce)) {
          storeBuffer(s.buffer, index, b_.getInt64(0));
          storeBuffer(s.best_buffer, index, identity(s.reduce, vt));
        } else {
          storeBuffer(s.buffer, index, identity(s.reduce, vt));
        }
      }
    });
    emitRangeNest(order, order.size(), [&] {
      memo_.assign(k_.exprs.size(), nullptr);
      for (const Store& s : k_.stores) {
        ScalarType vt = k_.exprs[s.value].type;
        Value* index = eval(s.index);
        Value* v = eval(s.value);
        if (isArg(s.reduce)) {
          Value* cur = loadBuffer(s.best_buffer, index);
          Value* take = argBetter(s.reduce, vt, cur, v);
          storeBuffer(s.best_buffer, index, b_.CreateSelect(take, v, cur));
          Value* pos = loadBuffer(s.buffer, index);
          storeBuffer(s.buffer, index, b_.CreateSelect(take, eval(s.position), pos));
        } else {
          storeBuffer(s.buffer, index, combine(s.reduce, vt, loadBuffer(s.buffer, index), v));
        }
      }
    });
  }

  // ---- expressions ----
  // NaN-propagating max/min as compare-and-select: LLVM 16's x86 backend cannot select
  // llvm.maximum, and selects vectorise everywhere. a + b is the NaN when either is one.
  Value* maximum(ScalarType t, Value* a, Value* b) {
    if (isFloatingType(t))
      return b_.CreateSelect(b_.CreateFCmpUNO(a, b), b_.CreateFAdd(a, b),
                             b_.CreateSelect(b_.CreateFCmpOGT(a, b), a, b));
    return b_.CreateSelect(isUnsigned(t) ? b_.CreateICmpUGT(a, b) : b_.CreateICmpSGT(a, b), a, b);
  }
  Value* minimum(ScalarType t, Value* a, Value* b) {
    if (isFloatingType(t))
      return b_.CreateSelect(b_.CreateFCmpUNO(a, b), b_.CreateFAdd(a, b),
                             b_.CreateSelect(b_.CreateFCmpOLT(a, b), a, b));
    return b_.CreateSelect(isUnsigned(t) ? b_.CreateICmpULT(a, b) : b_.CreateICmpSLT(a, b), a, b);
  }

  Value* toBool(Value* v, ScalarType t) {
    if (t == ScalarType::Bool) return v;
    if (isFloatingType(t)) return b_.CreateFCmpUNE(v, llvm::ConstantFP::get(v->getType(), 0.0));
    return b_.CreateICmpNE(v, llvm::ConstantInt::get(v->getType(), 0));
  }

  // v of type `from` as type `to`, as PyTorch's static_cast (a half or bfloat16 result is
  // rounded by eval's narrow).
  Value* cast(Value* v, ScalarType from, ScalarType to) {
    if (from == to) return v;
    llvm::Type* ty = valueType(to);
    if (to == ScalarType::Bool) return toBool(v, from);
    if (isFloatingType(from)) {
      if (isFloatingType(to)) return v->getType() == ty ? v : b_.CreateFPCast(v, ty);
      // To 8 and 16 bits through int64, as x86 code of C++'s cast does: -1.5 gives 255 as uint8.
      if (elementSize(to) < 4) return b_.CreateTrunc(b_.CreateFPToSI(v, b_.getInt64Ty()), ty);
      return b_.CreateFPToSI(v, ty);
    }
    if (isFloatingType(to))
      return isUnsigned(from) ? b_.CreateUIToFP(v, ty) : b_.CreateSIToFP(v, ty);
    return isUnsigned(from) ? b_.CreateZExtOrTrunc(v, ty) : b_.CreateSExtOrTrunc(v, ty);
  }

  Value* compare(ScalarOp op, ScalarType t, Value* a, Value* b) {
    using P = llvm::CmpInst::Predicate;
    if (isFloatingType(t)) {
      P p = op == ScalarOp::Eq   ? P::FCMP_OEQ
            : op == ScalarOp::Ne ? P::FCMP_UNE
            : op == ScalarOp::Lt ? P::FCMP_OLT
            : op == ScalarOp::Le ? P::FCMP_OLE
            : op == ScalarOp::Gt ? P::FCMP_OGT
                                 : P::FCMP_OGE;
      return b_.CreateFCmp(p, a, b);
    }
    bool u = isUnsigned(t);
    P p = op == ScalarOp::Eq   ? P::ICMP_EQ
          : op == ScalarOp::Ne ? P::ICMP_NE
          : op == ScalarOp::Lt ? (u ? P::ICMP_ULT : P::ICMP_SLT)
          : op == ScalarOp::Le ? (u ? P::ICMP_ULE : P::ICMP_SLE)
          : op == ScalarOp::Gt ? (u ? P::ICMP_UGT : P::ICMP_SGT)
                               : (u ? P::ICMP_UGE : P::ICMP_SGE);
    return b_.CreateICmp(p, a, b);
  }

  // Integer pow by exponent squaring over at most 64 steps, unrolled so it stays branch-free;
  // negative exponents follow PyTorch (1 for base 1, +-1 for base -1, 0 otherwise).
  Value* intPow(Value* base, Value* exp) {
    llvm::Type* ty = base->getType();
    unsigned bits = ty->getIntegerBitWidth();
    Value* result = llvm::ConstantInt::get(ty, 1);
    Value* e = exp;
    Value* sq = base;
    for (unsigned i = 0; i < bits; ++i) {
      Value* bit = b_.CreateICmpNE(b_.CreateAnd(e, llvm::ConstantInt::get(ty, 1)),
                                   llvm::ConstantInt::get(ty, 0));
      result = b_.CreateSelect(bit, b_.CreateMul(result, sq), result);
      sq = b_.CreateMul(sq, sq);
      e = b_.CreateLShr(e, llvm::ConstantInt::get(ty, 1));
    }
    Value* negExp = b_.CreateICmpSLT(exp, llvm::ConstantInt::get(ty, 0));
    Value* one = llvm::ConstantInt::get(ty, 1);
    Value* isOne = b_.CreateICmpEQ(base, one);
    Value* isMinusOne = b_.CreateICmpEQ(base, llvm::ConstantInt::get(ty, -1, true));
    Value* odd = b_.CreateICmpNE(b_.CreateAnd(exp, one), llvm::ConstantInt::get(ty, 0));
    Value* negResult = b_.CreateSelect(
        isOne, one,
        b_.CreateSelect(isMinusOne, b_.CreateSelect(odd, llvm::ConstantInt::get(ty, -1, true), one),
                        llvm::ConstantInt::get(ty, 0)));
    return b_.CreateSelect(negExp, negResult, result);
  }

  Value* philoxLanes(Value* counter, Value* key, Value** lanes) {
    auto* i32 = b_.getInt32Ty();
    auto* i64 = b_.getInt64Ty();
    Value* c0 = b_.CreateTrunc(counter, i32);
    Value* c1 = b_.CreateTrunc(b_.CreateLShr(counter, 32), i32);
    Value* c2 = b_.getInt32(0);
    Value* c3 = b_.getInt32(0);
    Value* k0 = b_.CreateTrunc(key, i32);
    Value* k1 = b_.CreateTrunc(b_.CreateLShr(key, 32), i32);
    for (int r = 0; r < ir::philox::kRounds; ++r) {
      Value* p0 = b_.CreateMul(b_.CreateZExt(c0, i64), b_.getInt64(ir::philox::kMul0));
      Value* p1 = b_.CreateMul(b_.CreateZExt(c2, i64), b_.getInt64(ir::philox::kMul1));
      Value* hi0 = b_.CreateTrunc(b_.CreateLShr(p0, 32), i32);
      Value* lo0 = b_.CreateTrunc(p0, i32);
      Value* hi1 = b_.CreateTrunc(b_.CreateLShr(p1, 32), i32);
      Value* lo1 = b_.CreateTrunc(p1, i32);
      c0 = b_.CreateXor(b_.CreateXor(hi1, c1), k0);
      c1 = lo1;
      c2 = b_.CreateXor(b_.CreateXor(hi0, c3), k1);
      c3 = lo0;
      k0 = b_.CreateAdd(k0, b_.getInt32(ir::philox::kBump0));
      k1 = b_.CreateAdd(k1, b_.getInt32(ir::philox::kBump1));
    }
    lanes[0] = c0;
    lanes[1] = c1;
    lanes[2] = c2;
    lanes[3] = c3;
    return c0;
  }

  Value* uniformFrom(Value* hi, Value* lo, ScalarType t) {
    auto* i64 = b_.getInt64Ty();
    if (t == ScalarType::Double) {
      Value* bits = b_.CreateLShr(
          b_.CreateOr(b_.CreateShl(b_.CreateZExt(hi, i64), 32), b_.CreateZExt(lo, i64)), 11);
      return b_.CreateFMul(b_.CreateUIToFP(bits, b_.getDoubleTy()),
                           llvm::ConstantFP::get(b_.getDoubleTy(), 0x1p-53));
    }
    Value* bits = b_.CreateLShr(hi, 8);
    return b_.CreateFMul(b_.CreateUIToFP(bits, b_.getFloatTy()),
                         llvm::ConstantFP::get(b_.getFloatTy(), 0x1p-24));
  }

  Value* eval(int32_t id) {
    if (memo_[id]) return memo_[id];
    const Expr& e = k_.exprs[id];
    Value* v = nullptr;
    switch (e.kind) {
      case ExprKind::LoopVar:
        v = loopVars_[e.i];
        break;
      case ExprKind::IntConst:
        v = constant(e.type, 0, e.i, false);
        break;
      case ExprKind::FloatConst:
        v = constant(e.type, e.f, 0, true);
        break;
      case ExprKind::Arg:
        v = args_[e.i];
        break;
      case ExprKind::Load:
      case ExprKind::Stashed:
        v = loadBuffer(static_cast<int32_t>(e.i), eval(e.a));
        break;
      case ExprKind::RandUniform:
      case ExprKind::RandNormal: {
        Value* lanes[4];
        philoxLanes(eval(e.a), eval(e.b), lanes);
        if (e.kind == ExprKind::RandUniform) {
          v = uniformFrom(lanes[0], lanes[1], e.type);
        } else {
          llvm::Type* ty = valueType(e.type);
          Value* u1 = b_.CreateFSub(llvm::ConstantFP::get(ty, 1.0),
                                    uniformFrom(lanes[0], lanes[1], e.type));
          Value* u2 = uniformFrom(lanes[2], lanes[3], e.type);
          Value* radius = b_.CreateUnaryIntrinsic(
              llvm::Intrinsic::sqrt,
              b_.CreateFMul(llvm::ConstantFP::get(ty, -2.0), emitLog(b_, u1)));
          v = b_.CreateFMul(
              radius, emitCos(b_, b_.CreateFMul(llvm::ConstantFP::get(ty, 6.283185307179586), u2)));
        }
        break;
      }
      case ExprKind::Acc:
        v = accs_[e.i];
        break;
      case ExprKind::Op:
        v = evalOp(e);
        break;
    }
    // A half or bfloat16 value is rounded to its type where it is computed: an op's result, a
    // random number, a phase's float32 accumulator as it is read. Loads, arguments and
    // constants hold such values already.
    const bool computed = e.kind == ExprKind::Op || e.kind == ExprKind::RandUniform ||
                          e.kind == ExprKind::RandNormal || e.kind == ExprKind::Acc;
    if (computed && detail::isReducedFloat(e.type)) v = narrow(v, e.type);
    memo_[id] = v;
    return v;
  }

  // ---- scalar ops: one lowering per row of lib/ir/ops.def ----
  // One op's operands, evaluated: `t` and `bt` are the types of the first two (for where, the
  // condition's and the values'), `result` the expression's type.
  struct Operands {
    Value* a;
    Value* b;
    Value* c;
    ScalarType t, bt, result;
    bool fp;  // whether `t` is a floating type
  };

  Value* intAbs(Value* a, ScalarType t) {
    if (isUnsigned(t)) return a;
    return b_.CreateSelect(b_.CreateICmpSLT(a, llvm::ConstantInt::get(a->getType(), 0)),
                           b_.CreateNeg(a), a);
  }
  Value* relu(Value* a, ScalarType t) {
    Value* zero = llvm::Constant::getNullValue(a->getType());
    if (isFloatingType(t)) return b_.CreateSelect(b_.CreateFCmpOLT(a, zero), zero, a);
    if (isUnsigned(t)) return a;
    return b_.CreateSelect(b_.CreateICmpSLT(a, zero), zero, a);
  }
  Value* sqrt(Value* a) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, a); }

  // Floor division, remainder (the divisor's sign) and fmod (the dividend's sign) as PyTorch
  // computes them. For integers they never trap where x86's idiv would fault: a zero divisor
  // gives 0, and the most negative value divided by -1 wraps (lib/interp/reference.cpp agrees).
  enum class Division { Floor, Remainder, Fmod };
  Value* intDivision(Division kind, Value* a, Value* b, ScalarType t) {
    if (isUnsigned(t)) {
      // Bools (0 and 1 here, not i1's 0 and -1) and uint8s divide as signed numbers a size up.
      llvm::Type* wide = t == ScalarType::Bool ? b_.getInt8Ty() : b_.getInt16Ty();
      Value* r =
          intDivision(kind, b_.CreateZExt(a, wide), b_.CreateZExt(b, wide), ScalarType::Short);
      return b_.CreateTrunc(r, a->getType());
    }
    llvm::Type* ty = a->getType();
    Value* zero = llvm::ConstantInt::get(ty, 0);
    Value* isZero = b_.CreateICmpEQ(b, zero);
    Value* isMinusOne = b_.CreateICmpEQ(b, llvm::ConstantInt::get(ty, -1, true));
    // Both special divisors divide by 1 instead, whose remainder, 0, is what they give too.
    Value* safe =
        b_.CreateSelect(b_.CreateOr(isZero, isMinusOne), llvm::ConstantInt::get(ty, 1), b);
    Value* rem = b_.CreateSRem(a, safe);
    // The truncated quotient is one above the floor when the remainder has the other sign.
    Value* moves =
        b_.CreateAnd(b_.CreateICmpNE(rem, zero), b_.CreateICmpSLT(b_.CreateXor(rem, safe), zero));
    switch (kind) {
      case Division::Floor: {
        Value* q = b_.CreateSub(b_.CreateSDiv(a, safe), b_.CreateZExt(moves, ty));
        return b_.CreateSelect(isMinusOne, b_.CreateNeg(a), b_.CreateSelect(isZero, zero, q));
      }
      case Division::Remainder:
        return b_.CreateSelect(moves, b_.CreateAdd(rem, safe), rem);
      case Division::Fmod:
        return rem;
    }
    return rem;
  }
  Value* floatDivision(Division kind, Value* a, Value* b) {
    llvm::Type* ty = a->getType();
    auto c = [&](double v) { return llvm::ConstantFP::get(ty, v); };
    Value* mod = b_.CreateFRem(a, b);
    if (kind == Division::Fmod) return mod;
    Value* moves =
        b_.CreateAnd(b_.CreateFCmpUNE(mod, c(0)),
                     b_.CreateXor(b_.CreateFCmpOLT(b, c(0)), b_.CreateFCmpOLT(mod, c(0))));
    if (kind == Division::Remainder) return b_.CreateSelect(moves, b_.CreateFAdd(mod, b), mod);
    // a - mod is a multiple of b, so the quotient below is an integer up to rounding.
    Value* div = b_.CreateFDiv(b_.CreateFSub(a, mod), b);
    div = b_.CreateSelect(moves, b_.CreateFSub(div, c(1)), div);
    Value* below = b_.CreateUnaryIntrinsic(llvm::Intrinsic::floor, div);
    below = b_.CreateSelect(b_.CreateFCmpOGT(b_.CreateFSub(div, below), c(0.5)),
                            b_.CreateFAdd(below, c(1)), below);
    Value* quotient = b_.CreateFDiv(a, b);
    Value* signedZero = b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, c(0), quotient);
    Value* floor = b_.CreateSelect(b_.CreateFCmpUNE(div, c(0)), below, signedZero);
    return b_.CreateSelect(b_.CreateFCmpOEQ(b, c(0)), quotient, floor);
  }
  Value* division(Division kind, const Operands& x) {
    return x.fp ? floatDivision(kind, x.a, x.b) : intDivision(kind, x.a, x.b, x.t);
  }

  Value* lowerNeg(const Operands& x) { return x.fp ? b_.CreateFNeg(x.a) : b_.CreateNeg(x.a); }
  Value* lowerAbs(const Operands& x) {
    return x.fp ? b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x.a) : intAbs(x.a, x.t);
  }
  Value* lowerExp(const Operands& x) { return emitExp(b_, x.a); }
  Value* lowerLog(const Operands& x) { return emitLog(b_, x.a); }
  Value* lowerSqrt(const Operands& x) { return sqrt(x.a); }
  Value* lowerRsqrt(const Operands& x) {
    return b_.CreateFDiv(llvm::ConstantFP::get(x.a->getType(), 1.0), sqrt(x.a));
  }
  Value* lowerSin(const Operands& x) { return emitSin(b_, x.a); }
  Value* lowerCos(const Operands& x) { return emitCos(b_, x.a); }
  Value* lowerTanh(const Operands& x) { return emitTanh(b_, x.a); }
  Value* lowerSigmoid(const Operands& x) { return emitSigmoid(b_, x.a); }
  Value* lowerRelu(const Operands& x) { return relu(x.a, x.t); }
  Value* lowerReciprocal(const Operands& x) {
    return b_.CreateFDiv(llvm::ConstantFP::get(x.a->getType(), 1.0), x.a);
  }
  Value* lowerNot(const Operands& x) { return b_.CreateNot(toBool(x.a, x.t)); }
  Value* lowerCast(const Operands& x) { return cast(x.a, x.t, x.result); }
  Value* lowerAdd(const Operands& x) {
    if (x.fp) return b_.CreateFAdd(x.a, x.b);
    return x.t == ScalarType::Bool ? b_.CreateOr(x.a, x.b) : b_.CreateAdd(x.a, x.b);
  }
  Value* lowerSub(const Operands& x) {
    return x.fp ? b_.CreateFSub(x.a, x.b) : b_.CreateSub(x.a, x.b);
  }
  Value* lowerMul(const Operands& x) {
    if (x.fp) return b_.CreateFMul(x.a, x.b);
    return x.t == ScalarType::Bool ? b_.CreateAnd(x.a, x.b) : b_.CreateMul(x.a, x.b);
  }
  Value* lowerDiv(const Operands& x) {
    return x.fp ? b_.CreateFDiv(x.a, x.b) : b_.CreateSDiv(x.a, x.b);
  }
  Value* lowerPow(const Operands& x) {
    if (x.fp) {
      // As PyTorch: x ** 0.5 is sqrt(x) and x ** -0.5 is 1 / sqrt(x) (they keep -0.0's sign).
      auto c = [&](double v) { return llvm::ConstantFP::get(x.a->getType(), v); };
      Value* root = sqrt(x.a);
      Value* p = emitPow(b_, x.a, x.b);
      p = b_.CreateSelect(b_.CreateFCmpOEQ(x.b, c(0.5)), root, p);
      return b_.CreateSelect(b_.CreateFCmpOEQ(x.b, c(-0.5)), b_.CreateFDiv(c(1), root), p);
    }
    if (x.t != ScalarType::Byte) return intPow(x.a, x.b);
    // uint8 exponents are never negative: as int16s, whose products agree modulo 256.
    auto* i16 = b_.getInt16Ty();
    return b_.CreateTrunc(intPow(b_.CreateZExt(x.a, i16), b_.CreateZExt(x.b, i16)), x.a->getType());
  }
  Value* lowerMaximum(const Operands& x) { return maximum(x.t, x.a, x.b); }
  Value* lowerMinimum(const Operands& x) { return minimum(x.t, x.a, x.b); }
  Value* lowerEq(const Operands& x) { return compare(ScalarOp::Eq, x.t, x.a, x.b); }
  Value* lowerNe(const Operands& x) { return compare(ScalarOp::Ne, x.t, x.a, x.b); }
  Value* lowerLt(const Operands& x) { return compare(ScalarOp::Lt, x.t, x.a, x.b); }
  Value* lowerLe(const Operands& x) { return compare(ScalarOp::Le, x.t, x.a, x.b); }
  Value* lowerGt(const Operands& x) { return compare(ScalarOp::Gt, x.t, x.a, x.b); }
  Value* lowerGe(const Operands& x) { return compare(ScalarOp::Ge, x.t, x.a, x.b); }
  Value* lowerAnd(const Operands& x) { return b_.CreateAnd(toBool(x.a, x.t), toBool(x.b, x.bt)); }
  Value* lowerOr(const Operands& x) { return b_.CreateOr(toBool(x.a, x.t), toBool(x.b, x.bt)); }
  Value* lowerFloorDiv(const Operands& x) { return division(Division::Floor, x); }
  Value* lowerMod(const Operands& x) { return division(Division::Remainder, x); }
  Value* lowerFmod(const Operands& x) { return division(Division::Fmod, x); }
  Value* lowerWhere(const Operands& x) { return b_.CreateSelect(x.a, x.b, x.c); }

  Value* evalOp(const Expr& e) {
    using Lowering = Value* (Emitter::*)(const Operands&);
    static constexpr Lowering kLowerings[] = {
#define X(name, ...) &Emitter::lower##name,
#include "lib/ir/ops.def"
#undef X
    };
    ScalarType at = k_.exprs[e.a].type;
    Operands x{eval(e.a),
               e.b >= 0 ? eval(e.b) : nullptr,
               e.c >= 0 ? eval(e.c) : nullptr,
               at,
               e.b >= 0 ? k_.exprs[e.b].type : at,
               e.type,
               isFloatingType(at)};
    return (this->*kLowerings[static_cast<int>(e.sop)])(x);
  }

  const Kernel& k_;
  llvm::LLVMContext& ctx_;
  llvm::Module& m_;
  IRBuilder<> b_;
  CpuLibraries libraries_;
  llvm::Function* fn_ = nullptr;
  llvm::BasicBlock* allocaBlock_ = nullptr;
  Value* begin_ = nullptr;  // the subrange of the split loops that this call runs
  Value* end_ = nullptr;
  size_t split_ = 0;
  int loops_emitted_ = 0;
  bool fallback_ = false;  // emitting the loops that run where the gemm call cannot
  const std::vector<int32_t>* store_order_ = nullptr;  // the stores' loop nest
  // A scatter's last loop, whose accesses are independent (distinct_in_last_loop), and the
  // access group of its memory instructions while it is being emitted.
  int32_t parallel_loop_ = -1;
  llvm::MDNode* access_group_ = nullptr;
  size_t phase_depth_ = 0;  // phases run inside the first phase_depth_ loops of it (0: none)
  std::vector<Value*> buffers_, args_, loopVars_, memo_, accs_;
};

}  // namespace

LlvmKernel emitLlvm(const Kernel& kernel, const std::string& name, llvm::TargetMachine& target,
                    const CpuLibraries& libraries) {
  LlvmKernel out;
  out.context = std::make_unique<llvm::LLVMContext>();
  out.module = std::make_unique<llvm::Module>(name, *out.context);
  out.module->setDataLayout(target.createDataLayout());
  out.module->setTargetTriple(target.getTargetTriple().str());
  out.name = name;
  bool avx512 = target.getTargetFeatureString().contains("+avx512f");
  Emitter(kernel, *out.context, *out.module, libraries).run(name, avx512);
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*out.module, &os))
    throw std::logic_error("invalid kernel IR: " + os.str());
  return out;
}

void optimizeLlvm(llvm::Module& module, llvm::TargetMachine& target) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder pb(&target, tuning);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(module, mam);
}

std::string llvmText(const llvm::Module& module) {
  std::string s;
  llvm::raw_string_ostream os(s);
  module.print(os, nullptr);
  return os.str();
}

std::string assemblyText(llvm::Module& module, llvm::TargetMachine& target) {
  llvm::SmallString<0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager pm;
  if (target.addPassesToEmitFile(pm, os, nullptr, llvm::CGFT_AssemblyFile)) {
    return "; the target cannot emit assembly\n";
  }
  std::unique_ptr<llvm::Module> clone = llvm::CloneModule(module);
  pm.run(*clone);
  return std::string(buffer.str());
}

}  // namespace kiln::codegen
