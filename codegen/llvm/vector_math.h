#pragma once
// Elementary functions emitted as straight-line LLVM IR, so that the loop vectoriser can widen a
// kernel that uses them to any vector width without calling libm (the approach of XLA's CPU
// backend). Algorithms and measured accuracy: docs/vector-math.md.
//
// Every function accepts a float or double scalar, or a fixed-width vector of either, and returns
// a value of the same type. The emitted code is branch-free and contains no calls other than
// intrinsics that lower to instructions on x86-64 with SSE4.1 (fabs, rint, floor, fmuladd,
// copysign); it reads no memory and needs no symbol from the JIT. It ignores the builder's
// fast-math flags (they would license rewrites that break the range reductions and special-case
// handling), so callers must not run the result under "unsafe-fp-math"/"no-nans-fp-math" function
// attributes. fmuladd fuses where the target has FMA; the algorithms are accurate with or without
// fusion.

namespace llvm {
class IRBuilderBase;
class Value;
}  // namespace llvm

namespace kiln::codegen {

/// e^x. Overflows to +inf, underflows through the subnormals to +0.
llvm::Value* emitExp(llvm::IRBuilderBase& b, llvm::Value* x);
/// Natural log: log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf; subnormal inputs at full
/// accuracy.
llvm::Value* emitLog(llvm::IRBuilderBase& b, llvm::Value* x);
/// tanh(x), odd (keeps the sign of zero), +-1 for large |x|.
llvm::Value* emitTanh(llvm::IRBuilderBase& b, llvm::Value* x);
/// 1 / (1 + e^-x) without overflow: 0 at -inf, 1 at +inf, subnormal results for x << 0.
llvm::Value* emitSigmoid(llvm::IRBuilderBase& b, llvm::Value* x);
/// sin(x): accurate (a few ulp) for |x| < 2^24 * pi/2 (float) and 2^20 * pi/2 (double); beyond,
/// finite and within [-1, 1] but with growing absolute error. NaN for +-inf.
llvm::Value* emitSin(llvm::IRBuilderBase& b, llvm::Value* x);
/// cos(x), same ranges as emitSin.
llvm::Value* emitCos(llvm::IRBuilderBase& b, llvm::Value* x);
/// pow(x, y) with C99 Annex F special cases (pow(x, +-0) = 1, pow(1, y) = 1 even for NaN,
/// pow(x < 0, non-integer) = NaN, odd integer powers of negative numbers and of -0 are negative).
/// x and y must have the same type.
llvm::Value* emitPow(llvm::IRBuilderBase& b, llvm::Value* x, llvm::Value* y);

}  // namespace kiln::codegen
