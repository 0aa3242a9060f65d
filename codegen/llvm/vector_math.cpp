#include "codegen/llvm/vector_math.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include <bit>
#include <cassert>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <utility>

// Sources of the algorithms and coefficients (all permissively licensed; the numbers are facts):
//  - SLEEF 3.x (Boost licence): exp/expf reduction constants and minimax polynomials.
//  - Cephes (S. Moshier): logf, tanhf/tanh, sinf/cosf polynomials on [-pi/4, pi/4].
//  - fdlibm / musl (Sun Microsystems, freely redistributable): double log, __rem_pio2 three-part
//    pi/2, __kernel_sin/__kernel_cos, and e_pow.c's extra-precise log2 and exp2.
// Everything is rewritten branch-free: each special case is computed on sanitised inputs and
// patched in with a select, so a vectorised loop runs one straight-line body for all lanes.

namespace kiln::codegen {
namespace {

using llvm::Value;

double fromBits(uint64_t bits) {
  return std::bit_cast<double>(bits);
}

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// IR helpers on one floating shape (float or double; scalar or fixed vector) and the integer
// shape of the same width (i32 or i64 lanes) for bit manipulation.
class Math {
 public:
  Math(llvm::IRBuilderBase& builder, llvm::Type* type) : b(builder), ft(type) {
    llvm::Type* elem = type->getScalarType();
    assert((elem->isFloatTy() || elem->isDoubleTy()) && "vector math needs float or double");
    dbl = elem->isDoubleTy();
    bits = dbl ? 64 : 32;
    mant = dbl ? 52 : 23;
    bias = dbl ? 1023 : 127;
    it = type->getWithNewType(llvm::IntegerType::get(type->getContext(), bits));
    i32t = type->getWithNewType(llvm::IntegerType::get(type->getContext(), 32));
  }

  // The same lane count with double lanes (float kernels do some steps in double).
  llvm::Type* doubleShape() const {
    return ft->getWithNewType(llvm::Type::getDoubleTy(ft->getContext()));
  }

  Value* f(double v) const { return llvm::ConstantFP::get(ft, v); }
  Value* i(int64_t v) const { return llvm::ConstantInt::get(it, static_cast<uint64_t>(v), true); }
  Value* i32(int64_t v) const {
    return llvm::ConstantInt::get(i32t, static_cast<uint64_t>(v), true);
  }

  Value* add(Value* x, Value* y) const { return b.CreateFAdd(x, y); }
  Value* sub(Value* x, Value* y) const { return b.CreateFSub(x, y); }
  Value* mul(Value* x, Value* y) const { return b.CreateFMul(x, y); }
  Value* div(Value* x, Value* y) const { return b.CreateFDiv(x, y); }
  Value* fma(Value* x, Value* y, Value* z) const {
    return b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {ft}, {x, y, z});
  }
  // Horner's scheme; coefficients from the highest degree down.
  Value* poly(Value* x, std::initializer_list<double> coeffs) const {
    auto c = coeffs.begin();
    Value* acc = f(*c);
    for (++c; c != coeffs.end(); ++c) acc = fma(acc, x, f(*c));
    return acc;
  }
  Value* abs(Value* x) const { return b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  Value* rint(Value* x) const { return b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, x); }
  Value* floor(Value* x) const { return b.CreateUnaryIntrinsic(llvm::Intrinsic::floor, x); }

  Value* olt(Value* x, Value* y) const { return b.CreateFCmpOLT(x, y); }
  Value* ogt(Value* x, Value* y) const { return b.CreateFCmpOGT(x, y); }
  Value* oeq(Value* x, Value* y) const { return b.CreateFCmpOEQ(x, y); }
  Value* une(Value* x, Value* y) const { return b.CreateFCmpUNE(x, y); }
  Value* isNaN(Value* x) const { return b.CreateFCmpUNO(x, x); }
  Value* sel(Value* c, Value* x, Value* y) const { return b.CreateSelect(c, x, y); }

  // Knuth's TwoSum: {s, e} with s = fl(x + y) and s + e = x + y exactly, for any magnitudes.
  std::pair<Value*, Value*> twoSum(Value* x, Value* y) const {
    Value* s = add(x, y);
    Value* bb = sub(s, x);
    return {s, add(sub(x, sub(s, bb)), sub(y, bb))};
  }

  // Clamps to [lo, hi] and maps NaN to lo, so that later float->int conversions are defined.
  Value* clamp(Value* x, double lo, double hi) const {
    Value* v = sel(b.CreateFCmpULT(x, f(lo)), f(lo), x);
    return sel(ogt(v, f(hi)), f(hi), v);
  }

  Value* asInt(Value* x) const { return b.CreateBitCast(x, it); }
  Value* asFp(Value* x) const { return b.CreateBitCast(x, ft); }
  // Zeroes the low 32 bits of a double (fdlibm's SET_LOW_WORD(x, 0)): the result has at most 21
  // significant bits, so products of two such values are exact in double.
  Value* clearLow(Value* x) const { return asFp(b.CreateAnd(asInt(x), i(~int64_t{0xffffffff}))); }
  Value* toI32(Value* x) const { return b.CreateFPToSI(x, i32t); }
  Value* fromI32(Value* x) const { return b.CreateSIToFP(x, ft); }
  Value* extI32(Value* x) const { return dbl ? b.CreateSExt(x, it) : x; }

  // 2^n for integer n within the normal exponent range, built from its bit pattern.
  Value* pow2(Value* n32) const {
    return asFp(b.CreateShl(b.CreateAdd(extI32(n32), i(bias)), static_cast<uint64_t>(mant)));
  }
  // p * 2^n for |n| up to about twice the exponent bias (the callers need -1100..1100 at most):
  // two power-of-two factors that are both normal (SLEEF's ldexp2k), so a result that overflows
  // becomes inf and one in the subnormal range is rounded once, by the last multiplication.
  Value* ldexp(Value* p, Value* n32) const {
    Value* h = b.CreateAShr(n32, 1);
    return mul(mul(p, pow2(h)), pow2(b.CreateSub(n32, h)));
  }

  llvm::IRBuilderBase& b;
  llvm::Type* ft;
  llvm::Type* it;
  llvm::Type* i32t;
  bool dbl;
  unsigned bits, mant;
  int64_t bias;
};

// Ignores (and restores) the caller's fast-math flags: nnan/ninf would delete the special-case
// selects and reassoc would undo the Cody-Waite and double-double arithmetic.
class StrictFp {
 public:
  explicit StrictFp(llvm::IRBuilderBase& b) : guard_(b) { b.clearFastMathFlags(); }

 private:
  llvm::IRBuilderBase::FastMathFlagGuard guard_;
};

// ---------------------------------------------------------------------------------------- exp
// x = n ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 in two parts, the first with enough trailing
// zero bits that n * hi is exact even without FMA), e^x = 2^n (1 + r + r^2 P(r)) with SLEEF's
// minimax P. The input is clamped just beyond the overflow/underflow thresholds so that the
// scaling itself produces inf or 0.
Value* expImpl(const Math& m, Value* x) {
  Value* xc = m.dbl ? m.clamp(x, -746.0, 710.0) : m.clamp(x, -104.0, 89.0);
  Value* n = m.rint(m.mul(xc, m.f(1.4426950408889634)));
  Value* r;
  Value* u;
  if (m.dbl) {
    r = m.fma(n, m.f(-fromBits(0x3fe62e42fee00000)), xc);  // ln2 high 32 bits (fdlibm ln2_hi)
    r = m.fma(n, m.f(-fromBits(0x3dea39ef35793c76)), r);   // ln2 - ln2_hi
    // SLEEF xexp, degree 11 on [-ln2/2, ln2/2].
    u = m.poly(r, {2.08860621107283687536341e-09, 2.51112930892876518610661e-08,
                   2.75573911234900471893338e-07, 2.75572362911928827629423e-06,
                   2.4801587159235472998791e-05, 0.000198412698960509205564975,
                   0.00138888888889774492207962, 0.00833333333331652721664984,
                   0.0416666666666665047591422, 0.166666666666666851703837, 0.5});
  } else {
    r = m.fma(n, m.f(-0.693145751953125), xc);  // SLEEF L2Uf: 15 significant bits
    r = m.fma(n, m.f(-1.428606765330187045e-06), r);
    // SLEEF xexpf, degree 7 overall.
    u = m.poly(r, {0.000198527617612853646278381, 0.00139304355252534151077271,
                   0.00833336077630519866943359, 0.0416664853692054748535156,
                   0.166666671633720397949219, 0.5});
  }
  // 1 + (r + r^2 u): the small terms are summed first so only the final add rounds near 1.
  Value* e = m.add(m.f(1.0), m.fma(m.mul(r, r), u, r));
  Value* res = m.ldexp(e, m.toI32(n));
  return m.sel(m.isNaN(x), x, res);
}

// ---------------------------------------------------------------------------------------- log
// x = 2^k m with m in [sqrt(1/2), sqrt(2)) by integer arithmetic on the bit pattern (musl's
// normalisation; subnormals are first scaled into the normal range), then log x = k ln2 + log m.
// Float: Cephes logf, a degree-9 polynomial in f = m - 1 (no division). Double: fdlibm/musl log,
// log(1+f) = f - f^2/2 + s (f^2/2 + R(s^2)) with s = f / (2 + f), < 1 ulp.
Value* logImpl(const Math& m, Value* x) {
  auto& b = m.b;
  double minNormal = m.dbl ? 0x1p-1022 : 0x1p-126;
  Value* sub = m.olt(x, m.f(minNormal));
  Value* xs = m.sel(sub, m.mul(x, m.f(m.dbl ? 0x1p54 : 0x1p25)), x);
  Value* kAdj = m.sel(sub, m.i(m.dbl ? -54 : -25), m.i(0));
  // Offsetting by the bits of sqrt(1/2) makes the exponent field roll over at sqrt(2)*2^k.
  int64_t sqrtHalf = m.dbl ? int64_t{0x3fe6a09e} << 32 : 0x3f3504f3;
  int64_t one = m.dbl ? int64_t{0x3ff00000} << 32 : 0x3f800000;
  Value* hx = b.CreateAdd(m.asInt(xs), m.i(one - sqrtHalf));
  Value* k = b.CreateAdd(b.CreateSub(b.CreateAShr(hx, m.mant), m.i(m.bias)), kAdj);
  int64_t mantMask = (int64_t{1} << m.mant) - 1;
  Value* mm = m.asFp(b.CreateAdd(b.CreateAnd(hx, m.i(mantMask)), m.i(sqrtHalf)));
  Value* f = m.sub(mm, m.f(1.0));
  Value* dk = m.fromI32(m.dbl ? b.CreateTrunc(k, m.i32t) : k);
  Value* res;
  if (m.dbl) {
    Value* hfsq = m.mul(m.mul(m.f(0.5), f), f);
    Value* s = m.div(f, m.add(m.f(2.0), f));
    Value* z = m.mul(s, s);
    Value* w = m.mul(z, z);
    Value* t1 = m.mul(w, m.poly(w, {1.531383769920937332e-01, 2.222219843214978396e-01,
                                    3.999999999940941908e-01}));
    Value* t2 = m.mul(z, m.poly(w, {1.479819860511658591e-01, 1.818357216161805012e-01,
                                    2.857142874366239149e-01, 6.666666666666735130e-01}));
    Value* rr = m.add(t2, t1);
    // musl: s*(hfsq+R) + dk*ln2_lo - hfsq + f + dk*ln2_hi, summed smallest first.
    res = m.fma(s, m.add(hfsq, rr), m.mul(dk, m.f(fromBits(0x3dea39ef35793c76))));
    res = m.add(m.add(m.sub(res, hfsq), f), m.mul(dk, m.f(fromBits(0x3fe62e42fee00000))));
  } else {
    Value* z = m.mul(f, f);
    Value* p = m.poly(
        f, {7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
            -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1});
    Value* y = m.mul(m.mul(f, z), p);
    // Cephes' two-part ln2 (0.693359375 has 9 bits, so k * hi is exact) with the -z/2 term last.
    y = m.fma(dk, m.f(-2.12194440e-4), y);
    y = m.fma(z, m.f(-0.5), y);
    res = m.add(f, y);
    res = m.fma(dk, m.f(0.693359375), res);
  }
  res = m.sel(m.oeq(x, m.f(kInf)), m.f(kInf), res);
  res = m.sel(m.oeq(x, m.f(0.0)), m.f(-kInf), res);
  return m.sel(b.CreateFCmpULT(x, m.f(0.0)), m.f(kNaN), res);  // x < 0 or NaN
}

// --------------------------------------------------------------------------------------- tanh
// Cephes tanhf/tanh: for |x| < 0.625 an odd polynomial (float) or rational function (double) in
// x^2; otherwise 1 - 2 / (e^{2|x|} + 1), which has no cancellation there (tanh >= 0.55) and goes
// to exactly 1 when e^{2|x|} overflows. Both branches share one division.
Value* tanhImpl(const Math& m, Value* x) {
  Value* ax = m.abs(x);
  Value* small = m.olt(ax, m.f(0.625));
  Value* z = m.mul(ax, ax);
  Value* e = expImpl(m, m.add(ax, ax));
  Value* res;
  if (m.dbl) {
    Value* p = m.poly(
        z, {-9.64399179425052238628E-1, -9.92877231001918586564E1, -1.61468768441708447952E3});
    Value* q = m.poly(
        z, {1.0, 1.12811678491632931402E2, 2.23548839060100448583E3, 4.84406305325125486048E3});
    Value* ratio = m.div(m.sel(small, p, m.f(2.0)), m.sel(small, q, m.add(e, m.f(1.0))));
    res = m.sel(small, m.fma(m.mul(ax, z), ratio, ax), m.sub(m.f(1.0), ratio));
  } else {
    Value* p = m.poly(z, {-5.70498872745E-3, 2.06390887954E-2, -5.37397155531E-2, 1.33314422036E-1,
                          -3.33332819422E-1});
    Value* lo = m.fma(m.mul(ax, z), p, ax);
    Value* hi = m.sub(m.f(1.0), m.div(m.f(2.0), m.add(e, m.f(1.0))));
    res = m.sel(small, lo, hi);
  }
  // Computed on |x|; the sign is put back so that tanh(-0) = -0. NaN stays NaN.
  return m.b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, res, x);
}

// ------------------------------------------------------------------------------------ sigmoid
// With e = e^{-|x|} <= 1 (never overflows): sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) for x < 0.
// The negative side keeps full relative accuracy down to the subnormals instead of rounding
// 1/(1 + e^{-x}) to 0 where e^{-x} overflows.
Value* sigmoidImpl(const Math& m, Value* x) {
  Value* e = expImpl(m, m.sub(m.f(-0.0), m.abs(x)));
  Value* num = m.sel(m.olt(x, m.f(0.0)), e, m.f(1.0));
  return m.div(num, m.add(m.f(1.0), e));
}

// ---------------------------------------------------------------------------------- sin / cos
// Reduction |x| = q pi/2 + r, |r| <= pi/4 (sin(-x) = -sin x and cos(-x) = cos x, so the sign of
// x is applied last, which also keeps sin(-0) = -0), then sin or cos of r by quadrant q mod 4.
//
// Float: the reduction runs in double. The nearest float to a multiple of pi/2 below 1e4 is only
// 4.2e-9 away from it (x = 252.898, q = 161), so float Cody-Waite would need more than three
// parts to keep r accurate to a few ulp; in double, three parts of pi/2 (29, 29 and 53 bits, so
// q * part is exact for q < 2^24) leave r with a relative error near 2^-52 for |x| < 2^24 pi/2.
// Cephes sinf/cosf polynomials are then evaluated in float.
//
// Double: the constants of fdlibm's __rem_pio2 medium case, pi/2 in three 33-bit parts and a
// tail (exact products for q < 2^20). Instead of its data-dependent extra rounds, every
// subtraction is a TwoSum and the rounding errors are summed into the tail, giving r as a
// double-double (y0, y1) that fdlibm's __kernel_sin/__kernel_cos take directly.
//
// Past those ranges the products stop being exact and r loses accuracy; r is clamped so that the
// result stays within [-1, 1], and q mod 4 is taken in floating point so it is always defined.
Value* sinCosImpl(llvm::IRBuilderBase& b, Value* x, bool cosine) {
  Math m(b, x->getType());
  Math d(b, m.doubleShape());
  Value* ax = m.abs(x);
  Value* finite = m.olt(ax, m.f(kInf));
  ax = m.sel(finite, ax, m.f(0.0));
  Value* xd = m.dbl ? ax : b.CreateFPExt(ax, d.ft);
  Value* q = d.rint(d.mul(xd, d.f(0.63661977236758134308)));
  // q mod 4, exactly, for any finite q.
  Value* quadrant = d.toI32(d.fma(d.floor(d.mul(q, d.f(0.25))), d.f(-4.0), q));

  Value* sinR;
  Value* cosR;
  if (m.dbl) {
    // pi/2 = P1 + P2 + P3 + P4 (fdlibm pio2_1, pio2_2, pio2_3, pio2_3t); q * P1..P3 are exact.
    Value* r = d.fma(q, d.f(-fromBits(0x3ff921fb54400000)), xd);  // exact (Sterbenz)
    auto [s1, e1] = d.twoSum(r, d.mul(q, d.f(-fromBits(0x3dd0b4611a600000))));
    auto [s2, e2] = d.twoSum(s1, d.mul(q, d.f(-fromBits(0x3ba3198a2e000000))));
    Value* low = d.fma(q, d.f(-fromBits(0x397b839a252049c1)), d.add(e1, e2));
    Value* y0 = d.add(s2, low);
    Value* y1 = d.add(d.sub(s2, y0), low);
    y0 = d.clamp(y0, -1.0, 1.0);
    y1 = d.clamp(y1, -0x1p-53, 0x1p-53);
    Value* z = d.mul(y0, y0);
    Value* v = d.mul(z, y0);
    // __kernel_sin: y0 - ((z (y1/2 - v R) - y1) - v S1).
    Value* rs = d.poly(
        z, {1.58969099521155010221e-10, -2.50507602534068634195e-08, 2.75573137070700676789e-06,
            -1.98412698298579493134e-04, 8.33333333332248946124e-03});
    Value* inner = d.sub(d.mul(z, d.sub(d.mul(d.f(0.5), y1), d.mul(v, rs))), y1);
    sinR = d.sub(y0, d.sub(inner, d.mul(v, d.f(-1.66666666666666324348e-01))));
    // __kernel_cos (musl): w + (((1 - w) - z/2) + (z R - y0 y1)) with w = 1 - z/2.
    Value* w2 = d.mul(z, z);
    Value* rc = d.add(
        d.mul(z, d.poly(z, {2.48015872894767294178e-05, -1.38888888888741095749e-03,
                            4.16666666666666019037e-02})),
        d.mul(d.mul(w2, w2), d.poly(z, {-1.13596475577881948265e-11, 2.08757232129817482790e-09,
                                        -2.75573143513906633035e-07})));
    Value* hz = d.mul(d.f(0.5), z);
    Value* wc = d.sub(d.f(1.0), hz);
    Value* corr = d.add(d.sub(d.sub(d.f(1.0), wc), hz), d.sub(d.mul(z, rc), d.mul(y0, y1)));
    cosR = d.add(wc, corr);
  } else {
    // pi/2 = P1 + P2 + P3; P1 and P2 have 29 significant bits.
    Value* r = d.fma(q, d.f(-0x1.921fb54p+0), xd);
    r = d.fma(q, d.f(-0x1.10b4612p-30), r);
    r = d.fma(q, d.f(0x1.676733ae8fe48p-60), r);
    r = d.clamp(r, -1.0, 1.0);
    // r = rf + rlo in float. The tail matters where sin or cos r lies just below a power of two
    // that r is above (e.g. r = 0.2527, sin r = 0.2500): rounding r alone costs a full result ulp.
    Value* rf = b.CreateFPTrunc(r, m.ft);
    Value* rlo = b.CreateFPTrunc(d.sub(r, b.CreateFPExt(rf, d.ft)), m.ft);
    Value* z = m.mul(rf, rf);
    Value* ps = m.poly(z, {-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1});
    // sin(rf + rlo) ~ rf + rlo + rf^3 P(rf^2) (rlo cos r ~ rlo to within rlo r^2/2).
    sinR = m.add(rf, m.fma(m.mul(z, rf), ps, rlo));
    Value* pc =
        m.poly(z, {2.443315711809948E-005, -1.388731625493765E-003, 4.166664568298827E-002});
    // cos(rf + rlo) ~ 1 - rf^2/2 + rf^4 P(rf^2) - rf rlo.
    Value* small = m.fma(z, m.f(-0.5), m.mul(m.sub(m.f(-0.0), rf), rlo));
    cosR = m.add(m.fma(m.mul(z, z), pc, small), m.f(1.0));
  }

  // sin(q pi/2 + r) = {sin r, cos r, -sin r, -cos r}[q mod 4]; cos is sin shifted by one.
  Value* odd = b.CreateICmpNE(b.CreateAnd(quadrant, m.i32(1)), m.i32(0));
  Value* res = cosine ? m.sel(odd, sinR, cosR) : m.sel(odd, cosR, sinR);
  Value* negate = b.CreateAnd(cosine ? b.CreateAdd(quadrant, m.i32(1)) : quadrant, m.i32(2));
  Value* flip = b.CreateShl(m.dbl ? b.CreateZExt(negate, m.it) : negate, m.bits - 2);
  if (!cosine) flip = b.CreateXor(flip, b.CreateAnd(m.asInt(x), m.i(int64_t{1} << (m.bits - 1))));
  res = m.asFp(b.CreateXor(m.asInt(res), flip));
  return m.sel(finite, res, m.f(kNaN));
}

// ---------------------------------------------------------------------------------------- pow
// fdlibm e_pow.c for 0 < ax < inf and finite y: log2(ax) = t1 + t2 to about 70 bits (from
// s = (ax - bp)/(ax + bp), bp in {1, 1.5}, with 21-bit high parts so the products are exact),
// y * log2(ax) = z as p_h + p_l, then 2^z = 2^n * 2^(z - n) with a rational approximation.
// Overall < 1 ulp in fdlibm's analysis. Over/underflow is decided on z.
Value* powCoreDouble(const Math& m, Value* ax, Value* y) {
  auto& b = m.b;
  Value* sub = m.olt(ax, m.f(0x1p-1022));
  ax = m.sel(sub, m.mul(ax, m.f(0x1p53)), ax);
  Value* axBits = m.asInt(ax);
  Value* ix = b.CreateLShr(axBits, 32);  // high word
  Value* n =
      b.CreateAdd(b.CreateSub(b.CreateLShr(ix, 20), m.i(0x3ff)), m.sel(sub, m.i(-53), m.i(0)));
  Value* j = b.CreateAnd(ix, m.i(0x000fffff));
  // Interval of the mantissa: [1, sqrt(3/2)] -> k = 0, (sqrt(3/2), sqrt(3)) -> k = 1 (bp = 1.5),
  // [sqrt(3), 2) -> k = 0 with the mantissa halved.
  Value* k1 = b.CreateAnd(b.CreateICmpSGT(j, m.i(0x3988E)), b.CreateICmpSLT(j, m.i(0xBB67A)));
  Value* top = b.CreateICmpSGE(j, m.i(0xBB67A));
  n = b.CreateAdd(n, b.CreateZExt(top, m.it));
  Value* ixn = b.CreateSub(b.CreateOr(j, m.i(0x3ff00000)), m.sel(top, m.i(0x00100000), m.i(0)));
  Value* a = m.asFp(b.CreateOr(b.CreateShl(ixn, 32), b.CreateAnd(axBits, m.i(0xffffffff))));
  Value* k = b.CreateZExt(k1, m.it);
  Value* bp = m.sel(k1, m.f(1.5), m.f(1.0));
  Value* dpH = m.sel(k1, m.f(fromBits(0x3FE2B80340000000)), m.f(0.0));
  Value* dpL = m.sel(k1, m.f(fromBits(0x3E4CFDEB43CFD006)), m.f(0.0));

  // ss = s_h + s_l = (a - bp) / (a + bp).
  Value* u = m.sub(a, bp);
  Value* v = m.div(m.f(1.0), m.add(a, bp));
  Value* ss = m.mul(u, v);
  Value* sH = m.clearLow(ss);
  // t_h = a + bp rounded to its high word, built directly from the bits.
  Value* tHbits =
      b.CreateAdd(b.CreateAdd(b.CreateOr(b.CreateLShr(ixn, 1), m.i(0x20000000)), m.i(0x00080000)),
                  b.CreateShl(k, 18));
  Value* tH = m.asFp(b.CreateShl(tHbits, 32));
  Value* tL = m.sub(a, m.sub(tH, bp));
  Value* sL = m.mul(v, m.sub(m.sub(u, m.mul(sH, tH)), m.mul(sH, tL)));
  // log(a) = 2s + 2/3 s^3 + s^5 L(s^2) ... scaled by 3/2 as in fdlibm.
  Value* s2 = m.mul(ss, ss);
  Value* r =
      m.mul(m.mul(s2, s2), m.poly(s2, {2.06975017800338417784e-01, 2.30660745775561754067e-01,
                                       2.72728123808534006489e-01, 3.33333329818377432918e-01,
                                       4.28571428578550184252e-01, 5.99999999999994648725e-01}));
  r = m.add(r, m.mul(sL, m.add(sH, ss)));
  s2 = m.mul(sH, sH);
  tH = m.clearLow(m.add(m.add(m.f(3.0), s2), r));
  tL = m.sub(r, m.sub(m.sub(tH, m.f(3.0)), s2));
  u = m.mul(sH, tH);
  v = m.add(m.mul(sL, tH), m.mul(tL, ss));
  Value* pH = m.clearLow(m.add(u, v));
  Value* pL = m.sub(v, m.sub(pH, u));
  // log2(ax) = n + dp_h + z_h + z_l with cp = 2/(3 ln2) split in cp_h + cp_l.
  Value* zH = m.mul(m.f(fromBits(0x3FEEC709E0000000)), pH);
  Value* zL = m.add(m.add(m.mul(m.f(fromBits(0xBE3E2FE0145B01F5)), pH),
                          m.mul(pL, m.f(fromBits(0x3FEEC709DC3A03FD)))),
                    dpL);
  Value* t = m.fromI32(b.CreateTrunc(n, m.i32t));
  Value* t1 = m.clearLow(m.add(m.add(m.add(zH, zL), dpH), t));
  Value* t2 = m.sub(zL, m.sub(m.sub(m.sub(t1, t), dpH), zH));

  // y * log2(ax) = p_h + p_l with y = y1 + (y - y1), y1 of 21 bits: y1 * t1 is exact.
  Value* y1 = m.clearLow(y);
  pL = m.add(m.mul(m.sub(y, y1), t1), m.mul(y, t2));
  pH = m.mul(y1, t1);
  Value* zz = m.add(pL, pH);
  Value* over = m.ogt(zz, m.f(1100.0));
  Value* under = m.olt(zz, m.f(-1100.0));
  Value* nf = m.rint(m.clamp(zz, -1100.0, 1100.0));
  pH = m.sub(pH, nf);  // exact (Sterbenz)

  // 2^(p_h + p_l) for |p_h + p_l| <= 1/2: t = rounded sum, z + w = (p_h + p_l) ln2 exactly
  // enough, then e^z by fdlibm's Remez rational form, w folded in as a first-order correction.
  t = m.clearLow(m.add(pL, pH));
  u = m.mul(t, m.f(fromBits(0x3FE62E4300000000)));
  v = m.add(m.mul(m.sub(pL, m.sub(t, pH)), m.f(fromBits(0x3FE62E42FEFA39EF))),
            m.mul(t, m.f(fromBits(0xBE205C610CA86C39))));
  Value* z = m.add(u, v);
  Value* w = m.sub(v, m.sub(z, u));
  t = m.mul(z, z);
  t1 = m.sub(z, m.mul(t, m.poly(t, {4.13813679705723846039e-08, -1.65339022054652515390e-06,
                                    6.61375632143793436117e-05, -2.77777777770155933842e-03,
                                    1.66666666666666019037e-01})));
  r = m.sub(m.div(m.mul(z, t1), m.sub(t1, m.f(2.0))), m.add(w, m.mul(z, w)));
  z = m.sub(m.f(1.0), m.sub(r, z));
  Value* res = m.ldexp(z, m.toI32(nf));
  res = m.sel(over, m.f(kInf), res);
  return m.sel(under, m.f(0.0), res);
}

Value* powImpl(llvm::IRBuilderBase& b, Value* x, Value* y) {
  Math m(b, x->getType());
  assert(x->getType() == y->getType() && "pow operands must have the same type");
  Value* ax = m.abs(x);
  Value* ay = m.abs(y);
  Value* one = m.f(1.0);
  Value* zero = m.f(0.0);
  Value* inf = m.f(kInf);
  // The core only sees 0 < ax < inf and finite y; other lanes get harmless stand-ins.
  Value* axOk = b.CreateAnd(m.ogt(ax, zero), m.olt(ax, inf));
  Value* axs = m.sel(axOk, ax, one);
  // |y| > 2^64 over/underflows unless ax == 1 (handled below), and clamping keeps y*log2(ax)
  // finite.
  Value* ys = m.clamp(m.sel(m.olt(ay, inf), y, zero), -0x1p64, 0x1p64);
  Value* res;
  if (m.dbl) {
    res = powCoreDouble(m, axs, ys);
  } else {
    // Float: e^{y log x} entirely in double. The double log and exp are within about 1 ulp of
    // double, so y log x (|y log x| < 104 whenever the float result is finite and nonzero) is
    // accurate to ~1e-14 and the float rounding of the result dominates.
    Math d(b, m.doubleShape());
    Value* l = logImpl(d, b.CreateFPExt(axs, d.ft));
    Value* e = expImpl(d, d.mul(b.CreateFPExt(ys, d.ft), l));
    res = b.CreateFPTrunc(e, m.ft);
  }

  Value* yNeg = m.olt(y, zero);
  Value* yPos = m.ogt(y, zero);
  // y = +-inf: 1 for |x| = 1, else 0 or inf depending on whether |x| < 1 and the sign of y.
  Value* yInf = m.oeq(ay, inf);
  Value* infRes = m.sel(b.CreateICmpEQ(m.olt(ax, one), yPos), zero, inf);
  res = m.sel(yInf, m.sel(m.oeq(ax, one), one, infRes), res);
  // |x| = 0 or inf.
  res = m.sel(m.oeq(ax, zero), m.sel(yNeg, inf, zero), res);
  res = m.sel(m.oeq(ax, inf), m.sel(yNeg, zero, inf), res);
  // Negative x (including -0 and -inf) to an odd integer power is negative.
  Value* yInt = m.oeq(m.rint(y), y);  // true for +-inf, false for NaN
  Value* halfY = m.mul(y, m.f(0.5));
  Value* yOdd = b.CreateAnd(yInt, m.une(m.rint(halfY), halfY));
  Value* signX = b.CreateAnd(m.asInt(x), m.i(int64_t{1} << (m.bits - 1)));
  Value* flip = m.sel(yOdd, signX, m.i(0));
  res = m.asFp(b.CreateXor(m.asInt(res), flip));
  // NaN operands, and finite negative x to a non-integer power.
  Value* negFinite = b.CreateAnd(m.olt(x, zero), m.ogt(x, m.f(-kInf)));
  Value* nan =
      b.CreateOr(b.CreateOr(m.isNaN(x), m.isNaN(y)), b.CreateAnd(negFinite, b.CreateNot(yInt)));
  res = m.sel(nan, m.f(kNaN), res);
  // pow(x, +-0) = 1 and pow(1, y) = 1, even for NaN.
  return m.sel(b.CreateOr(m.oeq(y, zero), m.oeq(x, one)), one, res);
}

}  // namespace

Value* emitExp(llvm::IRBuilderBase& b, Value* x) {
  StrictFp strict(b);
  return expImpl(Math(b, x->getType()), x);
}

Value* emitLog(llvm::IRBuilderBase& b, Value* x) {
  StrictFp strict(b);
  return logImpl(Math(b, x->getType()), x);
}

Value* emitTanh(llvm::IRBuilderBase& b, Value* x) {
  StrictFp strict(b);
  return tanhImpl(Math(b, x->getType()), x);
}

Value* emitSigmoid(llvm::IRBuilderBase& b, Value* x) {
  StrictFp strict(b);
  return sigmoidImpl(Math(b, x->getType()), x);
}

Value* emitSin(llvm::IRBuilderBase& b, Value* x) {
  StrictFp strict(b);
  return sinCosImpl(b, x, /*cosine=*/false);
}

Value* emitCos(llvm::IRBuilderBase& b, Value* x) {
  StrictFp strict(b);
  return sinCosImpl(b, x, /*cosine=*/true);
}

Value* emitPow(llvm::IRBuilderBase& b, Value* x, Value* y) {
  StrictFp strict(b);
  return powImpl(b, x, y);
}

}  // namespace kiln::codegen
