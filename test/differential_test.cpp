// Randomised differential test: random graphs of elementwise ops, scalars, casts, broadcasting,
// views, reductions and in-place updates through views, each computed by the JIT and compared
// with the reference interpreter (kiln::detail::referenceValues) evaluated before anything of the
// final graph is materialised.
//
// Discrete ops (comparisons, casts to integer or bool, argmax) only see values that both sides
// must compute bit for bit: each value carries a bound on its magnitude and on its binary
// fraction digits, and stays "exact" while magnitude and fraction fit the dtype's mantissa, so
// no rounding happens whatever the evaluation order or FMA contraction. Other float values are
// compared with a float32 tolerance.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "lib/frontend/tensor_impl.h"
#include "runtime/thread_pool.h"

namespace {

using kiln::ScalarType;
using kiln::Tensor;
using kiln::indexing::Slice;
using kiln::indexing::TensorIndex;
using Shape = std::vector<int64_t>;

constexpr uint64_t kDefaultSeed = 20240611;
constexpr int kDefaultGraphs = 1000;

int64_t numelOf(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shapeStr(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  return os.str() + "]";
}

bool isIntegral(ScalarType t) {
  return kiln::isIntegralType(t);
}

struct Val {
  Tensor t;
  double mag = 0;  // bound on |element|
  int frac = 0;    // binary fraction digits of every element, while exact
  bool exact = true;
};

// Mantissa bits available for exact values.
int budget(ScalarType t) {
  switch (t) {
    case ScalarType::Float:
      return 23;
    case ScalarType::Double:
      return 50;
    case ScalarType::Int:
      return 30;
    case ScalarType::Long:
      return 50;
    case ScalarType::Half:
      return 10;
    case ScalarType::BFloat16:
      return 7;
    case ScalarType::Short:
      return 14;
    case ScalarType::Char:
      return 6;
    case ScalarType::Byte:
      return 0;  // its negative numbers wrap: never exact, so never fed to a discrete op
    case ScalarType::Bool:
      return 1;
  }
  return 0;
}

class GraphGen {
 public:
  GraphGen(uint64_t seed, bool no_empty_views) : rng_(seed), no_empty_views_(no_empty_views) {}

  std::string log() const { return log_.str(); }
  // Whether a half or bfloat16 value took part: their inexact values compare with their own
  // precision (each op rounds to 8 or 11 bits, and the kernels' float32 functions may round
  // the other way from the reference's double ones).
  bool sixteen_bit() const { return sixteen_bit_; }

  Val gen(int depth, const Shape& s) {
    if (depth <= 0 || chance(0.15)) return leaf(s);
    int pick = uni(0, 99);
    if (pick < 36) return unary(depth, s);
    if (pick < 62) return binary(depth, s);
    if (pick < 80) return view(depth, s);
    if (pick < 90) return reduction(depth, s);
    if (pick < 95) return gathered(depth, s);
    return inPlace(depth, s);
  }

  // A value of shape s that is exact (for ops whose result is discrete).
  Val genExact(int depth, const Shape& s) {
    Val v = gen(depth, s);
    while (!v.exact) v = leaf(s);
    return v;
  }

 private:
  std::mt19937_64 rng_;
  bool no_empty_views_;
  bool sixteen_bit_ = false;
  std::ostringstream log_;
  int next_id_ = 0;

  int uni(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  std::string note(const std::string& what, const Tensor& t) {
    std::string id = "v" + std::to_string(next_id_++);
    log_ << id << " = " << what << "  -> " << shapeStr(t.sizes().vec()) << " " << t.dtype() << "\n";
    return id;
  }

  static int bits(const Val& v) {
    if (v.t.dtype() == kiln::kBool) return 0;
    int mag_bits = static_cast<int>(std::ceil(std::log2(std::max(v.mag, 1.0) + 1)));
    return mag_bits + (isIntegral(v.t.dtype()) ? 0 : v.frac);
  }

  Val fin(Tensor t, double mag, int frac, bool exact, const std::string& what) {
    Val v{std::move(t), mag, frac, exact};
    if (v.t.dtype() == kiln::kHalf || v.t.dtype() == kiln::kBFloat16) sixteen_bit_ = true;
    if (isIntegral(v.t.dtype())) v.frac = 0;
    if (v.t.dtype() == kiln::kBool) {
      v.mag = 1;
      v.frac = 0;
    }
    if (bits(v) > budget(v.t.dtype())) v.exact = false;
    note(what, v.t);
    return v;
  }

  ScalarType randomDtype() {
    int p = uni(0, 99);
    if (p < 41) return kiln::kFloat;
    if (p < 43) return kiln::kHalf;
    if (p < 45) return kiln::kBFloat16;
    if (p < 60) return kiln::kDouble;
    if (p < 75) return kiln::kLong;
    if (p < 85) return kiln::kInt;
    if (p < 89) return kiln::kShort;
    if (p < 92) return kiln::kChar;
    if (p < 94) return kiln::kByte;
    return kiln::kBool;
  }

  Val leaf(const Shape& s) {
    ScalarType dt = randomDtype();
    int64_t n = numelOf(s);
    int kind = uni(0, 9);
    if (kind == 0 && kiln::isFloatingType(dt)) {
      // Lazy random numbers: the reference must reproduce the counter-based generator.
      Tensor r = kiln::rand(s, dt);
      return fin(r, 1, dt == kiln::kDouble ? 53 : 24, true, "rand" + shapeStr(s));
    }
    if (kind == 1 && dt != kiln::kBool && n > 0) {
      Tensor a = kiln::arange(n, dt).reshape(s) - static_cast<int64_t>(n / 2);
      return fin(a, static_cast<double>(n), 0, true, "arange" + shapeStr(s));
    }
    if (kind == 2) {
      int c = uni(-3, 3);
      Tensor f = kiln::full(s, dt == kiln::kBool ? kiln::Scalar(c > 0) : kiln::Scalar(c), dt);
      return fin(f, 3, 0, true, "full" + shapeStr(s) + "=" + std::to_string(c));
    }
    std::vector<double> data;
    std::ostringstream os;
    for (int64_t i = 0; i < n; ++i) {
      double v;
      if (dt == kiln::kBool) {
        v = uni(0, 1);
      } else if (isIntegral(dt)) {
        v = uni(-5, 5);
      } else {
        v = uni(-12, 12) / 4.0;
      }
      data.push_back(v);
      os << (i ? "," : "") << v;
    }
    Tensor t = kiln::tensor(data, dt).view(s);
    double mag = dt == kiln::kBool ? 1 : isIntegral(dt) ? 5 : 3;
    return fin(t, mag, 2, true, "tensor{" + os.str() + "}" + shapeStr(s));
  }

  kiln::Scalar smallScalar(ScalarType like, double* mag, int* frac) {
    if (kiln::isFloatingType(like) && chance(0.5)) {
      double v = uni(-8, 8) / 4.0;
      *mag = std::fabs(v);
      *frac = 2;
      return v;
    }
    int v = uni(-4, 4);
    *mag = std::abs(v);
    *frac = 0;
    return v;
  }

  // Clamps v to +-limit when its bound is larger (keeping the dtype with integer bounds).
  Val bound(Val v, double limit) {
    if (v.t.dtype() == kiln::kBool || v.mag <= limit) return v;
    int64_t l = static_cast<int64_t>(limit);
    return fin(v.t.clamp(-l, l), static_cast<double>(l), v.frac, v.exact, "clamp");
  }

  Val nonBool(Val v) {
    if (v.t.dtype() != kiln::kBool) return v;
    return fin(v.t.to(kiln::kLong), 1, 0, v.exact, "to(Long)");
  }

  Val unary(int depth, const Shape& s) {
    Val x = gen(depth - 1, s);
    switch (uni(0, 15)) {
      case 0: {
        x = nonBool(x);
        return fin(-x.t, x.mag, x.frac, x.exact, "neg");
      }
      case 1: {
        x = nonBool(x);
        return fin(x.t.abs(), x.mag, x.frac, x.exact, "abs");
      }
      case 2: {
        x = nonBool(x);
        return fin(kiln::relu(x.t), x.mag, x.frac, x.exact, "relu");
      }
      case 3: {
        x = nonBool(x);
        double m1, m2;
        int f1, f2;
        kiln::Scalar lo = smallScalar(x.t.dtype(), &m1, &f1);
        kiln::Scalar hi = smallScalar(x.t.dtype(), &m2, &f2);
        if (chance(0.3))
          return fin(x.t.clamp(lo), std::max(x.mag, m1), std::max(x.frac, f1), x.exact,
                     "clamp(min)");
        return fin(kiln::clamp(x.t, lo, hi), std::max(m1, m2), std::max({x.frac, f1, f2}), x.exact,
                   "clamp");
      }
      case 4: {
        x = nonBool(x);
        Tensor c = x.t.clamp(-3, 3);
        return fin(c.exp(), std::exp(3.0), 0, false, "exp(clamp)");
      }
      case 5: {
        Tensor p = nonBool(x).t.abs() + 0.5;
        return fin(kiln::log(p), std::log(x.mag + 0.5) + 1, 0, false, "log(abs+0.5)");
      }
      case 6: {
        Tensor p = nonBool(x).t.abs() + 0.25;
        return fin(p.sqrt(), std::sqrt(x.mag + 0.25), 0, false, "sqrt(abs+0.25)");
      }
      case 7: {
        Tensor p = nonBool(x).t.abs() + 0.5;
        return fin(p.rsqrt(), 1.5, 0, false, "rsqrt(abs+0.5)");
      }
      case 8:
        return fin(uni(0, 1) ? x.t.sin() : x.t.cos(), 1, 0, false, "sin|cos");
      case 9:
        return fin(uni(0, 1) ? x.t.tanh() : x.t.sigmoid(), 1, 0, false, "tanh|sigmoid");
      case 10: {
        ScalarType to = randomDtype();
        bool discrete = isIntegral(to) || to == kiln::kBool;
        if (discrete && !x.exact) x = leaf(s);
        if (to == kiln::kInt) x = bound(x, 1 << 20);
        bool exact = x.exact;
        int frac = x.frac;
        if (isIntegral(to) && !isIntegral(x.t.dtype()) && x.t.dtype() != kiln::kBool) frac = 0;
        return fin(x.t.to(to), x.mag, frac, exact,
                   std::string("to(") + std::string(kiln::toString(to)) + ")");
      }
      case 11: {
        if (!x.exact) x = leaf(s);
        return fin(x.t.logical_not(), 1, 0, true, "logical_not");
      }
      case 12: {
        x = nonBool(bound(x, 8));
        if (isIntegral(x.t.dtype())) {
          Tensor c = x.t.clamp(-3, 3);
          return fin(c.pow(2), 9, 0, true, "pow(clamp,2)");
        }
        Tensor b = x.t.abs() + 0.5;
        double e = uni(0, 2) == 0 ? 0.5 : uni(0, 1) ? 2.0 : -1.0;
        return fin(b.pow(e), std::pow(x.mag + 0.5, std::fabs(e)) + 2, 0, false, "pow(abs+0.5, e)");
      }
      case 13: {
        x = bound(x, 64);
        double m;
        int f;
        kiln::Scalar c = smallScalar(x.t.dtype(), &m, &f);
        switch (uni(0, 4)) {
          case 0:
            return fin(x.t + c, x.mag + m, std::max(x.frac, f), x.exact, "add scalar");
          case 1:
            return fin(c - nonBool(x).t, x.mag + m, std::max(x.frac, f), x.exact, "scalar - x");
          case 2:
            return fin(x.t * c, x.mag * std::max(m, 1.0), x.frac + f, x.exact, "mul scalar");
          case 3:
            return fin(x.t / 4, x.mag / 4, x.frac + 2, x.exact, "div 4");
          default: {
            Tensor d = nonBool(x).t.abs() + 0.5;
            return fin(2.0 / d, 4, 0, false, "2/(abs+0.5)");
          }
        }
      }
      case 14: {
        x = nonBool(bound(x, 64));
        Val y = nonBool(bound(gen(depth - 1, s), 64));
        bool fl = kiln::isFloatingType(kiln::result_type(x.t, y.t));
        int alpha = uni(-2, 3);
        double a = std::max(1, std::abs(alpha));
        if (uni(0, 1) || !fl) {
          return fin(kiln::add(x.t, y.t, alpha), x.mag + a * y.mag, std::max(x.frac, y.frac),
                     x.exact && y.exact, "add alpha");
        }
        return fin(kiln::sub(x.t, y.t, 0.5), x.mag + y.mag, std::max(x.frac, y.frac + 1),
                   x.exact && y.exact, "sub alpha 0.5");
      }
      default: {
        // Integer true division: a float result.
        if (!x.exact) x = genExact(0, s);
        Tensor i = x.t.clamp(-100, 100).to(kiln::kInt);
        return fin(i / 2, 50, 1, true, "int / 2");
      }
    }
  }

  // A shape that broadcasts to s: some dims set to 1, some leading dims dropped.
  Shape broadcastable(const Shape& s) {
    Shape b = s;
    for (auto& d : b)
      if (chance(0.25)) d = 1;
    size_t drop = chance(0.3) ? static_cast<size_t>(uni(0, static_cast<int>(b.size()))) : 0;
    return Shape(b.begin() + static_cast<std::ptrdiff_t>(drop), b.end());
  }

  Val binary(int depth, const Shape& s) {
    Shape sa = chance(0.6) ? s : broadcastable(s);
    Shape sb = sa == s ? broadcastable(s) : s;
    if (chance(0.5)) std::swap(sa, sb);
    int op = uni(0, 9);
    if (op <= 2) {
      Val a = bound(gen(depth - 1, sa), 256), b = bound(gen(depth - 1, sb), 256);
      bool ex = a.exact && b.exact;
      if (op == 0) return fin(a.t + b.t, a.mag + b.mag, std::max(a.frac, b.frac), ex, "add");
      if (op == 1) {
        a = nonBool(a);
        b = nonBool(b);
        return fin(a.t - b.t, a.mag + b.mag, std::max(a.frac, b.frac), ex, "sub");
      }
      a = bound(a, 32);
      b = bound(b, 32);
      return fin(a.t * b.t, std::max(a.mag, 1.0) * std::max(b.mag, 1.0), a.frac + b.frac, ex,
                 "mul");
    }
    if (op == 3) {
      Val a = gen(depth - 1, sa), b = gen(depth - 1, sb);
      Tensor d = nonBool(b).t.abs() + 0.5;
      return fin(a.t / d, 2 * a.mag + 1, 0, false, "div(abs+0.5)");
    }
    if (op == 4) {
      Val a = gen(depth - 1, sa), b = gen(depth - 1, sb);
      bool mx = uni(0, 1);
      if (a.t.dtype() == kiln::kBool && b.t.dtype() == kiln::kBool) a = nonBool(a);
      return fin(mx ? kiln::maximum(a.t, b.t) : kiln::minimum(a.t, b.t), std::max(a.mag, b.mag),
                 std::max(a.frac, b.frac), a.exact && b.exact, mx ? "maximum" : "minimum");
    }
    if (op <= 6) {
      Val a = genExact(depth - 1, sa), b = genExact(depth - 1, sb);
      Tensor r;
      switch (uni(0, 5)) {
        case 0:
          r = a.t == b.t;
          break;
        case 1:
          r = a.t != b.t;
          break;
        case 2:
          r = a.t < b.t;
          break;
        case 3:
          r = a.t <= b.t;
          break;
        case 4:
          r = a.t > b.t;
          break;
        default:
          r = a.t >= b.t;
          break;
      }
      return fin(r, 1, 0, true, "compare");
    }
    if (op == 7) {
      Val a = genExact(depth - 1, sa), b = genExact(depth - 1, sb);
      bool land = uni(0, 1);
      return fin(land ? (a.t && b.t) : kiln::logical_or(a.t, b.t), 1, 0, true, land ? "and" : "or");
    }
    if (op == 8) {
      Val c = genExact(depth - 1, broadcastable(s));
      Val a = gen(depth - 1, sa), b = gen(depth - 1, sb);
      Tensor cond = c.t.dtype() == kiln::kBool ? c.t : c.t > 0;
      return fin(kiln::where(cond, a.t, b.t), std::max(a.mag, b.mag), std::max(a.frac, b.frac),
                 a.exact && b.exact, "where");
    }
    // A comparison against a scalar, or where with a scalar branch.
    Val a = genExact(depth - 1, s);
    if (uni(0, 1)) return fin(a.t > 0, 1, 0, true, "gt 0");
    Val b = gen(depth - 1, sb);
    return fin(kiln::where(a.t.dtype() == kiln::kBool ? a.t : a.t < 1, b.t, 0.5),
               std::max(b.mag, 0.5), std::max(b.frac, 1), b.exact, "where scalar");
  }

  Val view(int depth, const Shape& s) {
    const int n = static_cast<int>(s.size());
    switch (uni(0, 8)) {
      case 0:
        if (n >= 2) {
          std::vector<int64_t> perm(n);
          for (int i = 0; i < n; ++i) perm[i] = i;
          std::shuffle(perm.begin(), perm.end(), rng_);
          Shape src(n);
          for (int i = 0; i < n; ++i) src[perm[i]] = s[i];
          // Permuting src by inv gives s: result dim i = src dim perm[i].
          Val x = gen(depth - 1, src);
          return fin(x.t.permute(perm), x.mag, x.frac, x.exact, "permute");
        }
        break;
      case 1:
        if (n >= 2) {
          int i = uni(0, n - 1), j = uni(0, n - 1);
          Shape src = s;
          std::swap(src[i], src[j]);
          Val x = gen(depth - 1, src);
          return fin(x.t.transpose(i - (chance(0.3) ? n : 0), j), x.mag, x.frac, x.exact,
                     "transpose");
        }
        break;
      case 2:
        if (n >= 1) {
          int d = uni(0, n - 1);
          int extra = uni(1, 2);
          Shape src = s;
          src[d] += extra;
          int start = uni(0, extra);
          Val x = gen(depth - 1, src);
          return fin(x.t.narrow(d, start, s[d]), x.mag, x.frac, x.exact, "narrow");
        }
        break;
      case 3: {
        int d = uni(0, n);
        int64_t r = uni(1, 3);
        Shape src = s;
        src.insert(src.begin() + d, r);
        int64_t idx = uni(0, static_cast<int>(r) - 1) - (chance(0.5) ? r : 0);
        Val x = gen(depth - 1, src);
        Tensor t = chance(0.5) ? x.t.select(d, idx) : x.t.index(selectIndex(d, idx));
        return fin(t, x.mag, x.frac, x.exact, "select");
      }
      case 4: {
        Shape src = s;
        for (auto& d : src)
          if (chance(0.5)) d = 1;
        size_t drop = static_cast<size_t>(uni(0, n));
        src.erase(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(drop));
        Val x = gen(depth - 1, src);
        return fin(x.t.expand(s), x.mag, x.frac, x.exact, "expand");
      }
      case 5: {
        if (n == 2 && chance(0.4)) {
          // Reshaping a transposed tensor needs a copy.
          Val x = gen(depth - 1, {s[1], s[0]});
          return fin(x.t.t().reshape({-1}).reshape(s), x.mag, x.frac, x.exact, "t().reshape");
        }
        Shape src = chance(0.5) ? Shape{numelOf(s)} : Shape(s.rbegin(), s.rend());
        Val x = gen(depth - 1, src);
        return fin(x.t.reshape(s), x.mag, x.frac, x.exact, "reshape");
      }
      case 6:
        if (n >= 1) {
          int d = uni(0, n - 1);
          int64_t step = uni(2, 3);
          int64_t start = uni(0, 1);
          Shape src = s;
          src[d] = start + (s[d] - 1) * step + 1 + uni(0, static_cast<int>(step) - 1);
          if (s[d] == 0) src[d] = start;
          Val x = gen(depth - 1, src);
          std::vector<TensorIndex> ix;
          for (int k = 0; k < d; ++k) ix.emplace_back(Slice());
          ix.emplace_back(Slice(start, std::nullopt, step));
          return fin(x.t.index(ix), x.mag, x.frac, x.exact, "slice step");
        }
        break;
      case 7: {
        for (int d = 0; d < n; ++d) {
          if (s[d] == 1) {
            Shape src = s;
            src.erase(src.begin() + d);
            Val x = gen(depth - 1, src);
            return fin(x.t.unsqueeze(d), x.mag, x.frac, x.exact, "unsqueeze");
          }
        }
        int d = uni(0, n);
        Shape src = s;
        src.insert(src.begin() + d, 1);
        Val x = gen(depth - 1, src);
        return fin(chance(0.5) ? x.t.squeeze(d) : x.t.squeeze(d - n - 1), x.mag, x.frac, x.exact,
                   "squeeze");
      }
      default:
        if (n >= 1) {
          int d = uni(0, n - 1);
          Shape src = s;
          src.insert(src.begin() + d + 1, 1);
          Val x = gen(depth - 1, src);
          return fin(x.t.flatten(d, d + 1), x.mag, x.frac, x.exact, "flatten");
        }
        break;
    }
    return unary(depth, s);
  }

  std::vector<TensorIndex> selectIndex(int d, int64_t idx) {
    std::vector<TensorIndex> ix;
    for (int k = 0; k < d; ++k) ix.emplace_back(Slice());
    ix.emplace_back(idx);
    return ix;
  }

  Val floatOf(Val v) {
    if (kiln::isFloatingType(v.t.dtype())) return v;
    return fin(v.t.to(kiln::kFloat), v.mag, 0, v.exact, "to(Float)");
  }

  Val reduction(int depth, const Shape& s) {
    const int n = static_cast<int>(s.size());
    int kind = uni(0, 11);
    if (kind == 0 && n >= 1) {
      Val x = floatOf(bound(gen(depth - 1, s), 16));
      int d = uni(0, n - 1) - (chance(0.4) ? n : 0);
      bool log = uni(0, 1);
      return fin(log ? x.t.log_softmax(d) : kiln::softmax(x.t, d), log ? 40 : 1, 0, false,
                 "softmax");
    }
    if (kind == 1 && n == 2) {
      int64_t k = uni(1, 4);
      Val a = floatOf(bound(gen(depth - 1, {s[0], k}), 16));
      Val b = floatOf(bound(gen(depth - 1, {k, s[1]}), 16));
      if (a.t.dtype() != b.t.dtype()) b = fin(b.t.to(a.t.dtype()), b.mag, b.frac, b.exact, "to");
      return fin(kiln::matmul(a.t, b.t),
                 static_cast<double>(k) * std::max(a.mag, 1.0) * std::max(b.mag, 1.0),
                 a.frac + b.frac, a.exact && b.exact, "matmul");
    }
    // Reduce one inserted dim (keepdim false), or a size-1 dim of s with keepdim.
    Shape src = s;
    int d;
    bool keepdim = false;
    int64_t r = uni(1, 4);
    std::vector<int> ones;
    for (int k = 0; k < n; ++k)
      if (s[k] == 1) ones.push_back(k);
    if (!ones.empty() && chance(0.4)) {
      d = ones[static_cast<size_t>(uni(0, static_cast<int>(ones.size()) - 1))];
      src[d] = r;
      keepdim = true;
    } else {
      d = uni(0, n);
      src.insert(src.begin() + d, r);
    }
    const int sn = static_cast<int>(src.size());
    int64_t dim = d - (chance(0.4) ? sn : 0);
    bool whole = n == 0 && chance(0.5);
    switch (uni(0, 7)) {
      case 0:
      case 1: {
        Val x = bound(gen(depth - 1, src), 1024);
        Tensor t = whole ? x.t.sum() : x.t.sum({dim}, keepdim);
        return fin(t, x.mag * static_cast<double>(r), x.frac, x.exact, "sum");
      }
      case 2: {
        Val x = floatOf(bound(gen(depth - 1, src), 1024));
        Tensor t = whole ? x.t.mean() : kiln::mean(x.t, {dim}, keepdim);
        bool pow2 = (r & (r - 1)) == 0;
        return fin(t, x.mag, x.frac + 2, x.exact && pow2, "mean");
      }
      case 3: {
        Val x = nonBool(gen(depth - 1, src));
        bool mx = uni(0, 1);
        Tensor t = whole ? (mx ? x.t.amax() : x.t.min())
                         : (mx ? x.t.amax({dim}, keepdim) : kiln::amin(x.t, {dim}, keepdim));
        return fin(t, x.mag, x.frac, x.exact, mx ? "amax" : "amin|min");
      }
      case 4: {
        Val x = nonBool(bound(gen(depth - 1, src), 2));
        Tensor t = whole ? x.t.prod() : x.t.prod(dim, keepdim);
        return fin(t, std::pow(std::max(x.mag, 1.0), static_cast<double>(r)),
                   x.frac * static_cast<int>(r), x.exact, "prod");
      }
      case 5: {
        Val x = nonBool(genExact(depth - 1, src));
        if (whole)
          return fin(uni(0, 1) ? x.t.argmax() : x.t.argmin(), 32, 0, true, "argmax|argmin all");
        auto [v, i] = uni(0, 1) ? x.t.max(dim, keepdim) : kiln::min(x.t, dim, keepdim);
        if (uni(0, 1)) return fin(i, 4, 0, true, "max|min indices");
        return fin(v, x.mag, x.frac, x.exact, "max|min values");
      }
      case 6: {
        if (r < 2) break;
        Val x = floatOf(bound(gen(depth - 1, src), 16));
        bool unbiased = uni(0, 1);
        bool sd = uni(0, 1);
        Tensor t = whole ? (sd ? x.t.std(unbiased) : x.t.var(unbiased))
                         : (sd ? x.t.std({dim}, unbiased, keepdim)
                               : kiln::var(x.t, {dim}, unbiased, keepdim));
        return fin(t, 1024, 0, false, "var|std");
      }
      default: {
        Val x = nonBool(genExact(depth - 1, src));
        Tensor t = whole ? x.t.argmax() : x.t.argmax(dim, keepdim);
        return fin(t, 32, 0, true, "argmax");
      }
    }
    return unary(depth, s);
  }

  // A random int64 index tensor of `shape` with values in [0, range), from the test's own
  // generator (so the graph is reproducible from its seed).
  Tensor indexTensor(const Shape& shape, int64_t range) {
    std::vector<int64_t> values;
    int64_t n = 1;
    for (int64_t e : shape) n *= e;
    for (int64_t i = 0; i < n; ++i) values.push_back(uni(0, static_cast<int>(range) - 1));
    Tensor t = kiln::tensor(values).view(shape);
    note("index tensor", t);
    return t;
  }

  // A value of shape s read through an index tensor from a source whose dimension d has r
  // elements: index_select, gather or advanced indexing (values move, so exactness stays).
  Val gathered(int depth, const Shape& s) {
    const int n = static_cast<int>(s.size());
    if (n == 0) return unary(depth, s);
    const int d = uni(0, n - 1);
    Shape src = s;
    src[d] = uni(1, 4);
    Val x = gen(depth - 1, src);
    Tensor t;
    std::string what;
    switch (uni(0, 2)) {
      case 0:
        t = x.t.index_select(d, indexTensor({s[d]}, src[d]));
        what = "index_select";
        break;
      case 1:
        t = x.t.gather(d, indexTensor(s, src[d]));
        what = "gather";
        break;
      default: {
        std::vector<TensorIndex> ix(static_cast<size_t>(d), TensorIndex(Slice()));
        ix.emplace_back(indexTensor({s[d]}, src[d]));
        t = x.t.index(ix);
        what = "index with a tensor";
        break;
      }
    }
    return fin(t, x.mag, x.frac, x.exact, what + " along " + std::to_string(d));
  }

  Val inPlace(int depth, const Shape& s) {
    Val base = gen(depth - 1, s);
    if (base.t.dtype() == kiln::kBool) base = nonBool(base);
    base = bound(base, 256);
    Tensor buf = base.t.clone();
    note("clone", buf);
    if (chance(0.3)) buf.eval();
    std::optional<Val> old;
    if (chance(0.4)) old = fin(buf * 1, base.mag, base.frac, base.exact, "capture old (buf * 1)");
    // A view of buf to update.
    Tensor target = buf;
    const int n = static_cast<int>(s.size());
    if (n >= 1 && chance(0.7)) {
      int d = uni(0, n - 1);
      switch (uni(0, 3)) {
        case 0:
          if (s[d] >= 1) target = buf.narrow(d, uni(0, static_cast<int>(s[d]) - 1), 1);
          break;
        case 1:
          if (s[d] >= 1) target = buf.select(d, uni(0, static_cast<int>(s[d]) - 1));
          break;
        case 2:
          target = buf.index(stepIndex(d));
          break;
        default:
          if (n >= 2) target = buf.transpose(0, n - 1);
          break;
      }
    }
    Shape ts = target.sizes().vec();
    double mag = base.mag;
    int frac = base.frac;
    bool exact = base.exact;
    std::string what;
    switch (uni(0, 6)) {
      case 6: {
        // Rows of the target at random positions (repeats allowed) stored or accumulated.
        if (ts.empty() || ts[0] == 0) break;
        const int64_t rows = uni(1, 3);
        Shape vs = ts;
        vs[0] = rows;
        Val o = genExact(depth - 1, vs);
        o = bound(o, 256);
        if (o.t.dtype() != target.dtype())
          o = fin(o.t.to(target.dtype()), o.mag, o.frac, o.exact, "to");
        const bool accumulate = target.dtype() != kiln::kBool && chance(0.5);
        target.index_put_({indexTensor({rows}, ts[0])}, o.t, accumulate);
        mag = accumulate ? mag + static_cast<double>(rows) * o.mag : std::max(mag, o.mag);
        frac = std::max(frac, kiln::isFloatingType(target.dtype()) ? o.frac : 0);
        // Repeated positions keep one of their values: the same one on both sides only where
        // the order of the stores is the same, which the reference and the kernel share.
        exact = exact && o.exact;
        what = accumulate ? "index_put_ accumulate" : "index_put_";
        break;
      }
      case 0:
      case 1: {
        Val o = nonBool(bound(gen(depth - 1, chance(0.5) ? ts : broadcastable(ts)), 256));
        if (!kiln::canCast(kiln::result_type(target, o.t), target.dtype()))
          o = nonBool(leaf(o.t.sizes().vec()));
        if (!kiln::canCast(kiln::result_type(target, o.t), target.dtype())) {
          o = fin(o.t.to(target.dtype()), o.mag, o.frac, o.exact, "to");
        }
        if (!o.exact && isIntegral(target.dtype())) {
          target.fill_(3);
          mag = std::max(mag, 3.0);
          what = "fill_ 3";
          break;
        }
        if (uni(0, 1)) {
          target.add_(o.t);
          what = "add_";
        } else {
          target.sub_(o.t);
          what = "sub_";
        }
        mag += o.mag;
        frac = std::max(frac, o.frac);
        exact = exact && o.exact;
        break;
      }
      case 2:
        target.mul_(uni(-2, 2));
        mag *= 2;
        what = "mul_";
        break;
      case 3: {
        int v = uni(-4, 4);
        target.fill_(v);
        mag = std::max(mag, 4.0);
        what = "fill_";
        break;
      }
      case 4: {
        Val o = genExact(depth - 1, chance(0.5) ? ts : broadcastable(ts));
        o = bound(o, 256);
        target.copy_(o.t);
        mag = std::max(mag, o.mag);
        frac = std::max(frac, kiln::isFloatingType(target.dtype()) ? o.frac : 0);
        what = "copy_";
        break;
      }
      default:
        if (uni(0, 1)) {
          target.clamp_(-1, 2);
          what = "clamp_";
        } else {
          target.neg_();
          what = "neg_";
        }
        break;
    }
    Val updated = fin(buf, mag, frac, exact, what + " through view " + shapeStr(ts));
    if (old) {
      return fin(old->t - updated.t, old->mag + updated.mag, std::max(old->frac, updated.frac),
                 old->exact && updated.exact, "old - updated");
    }
    return updated;
  }

  std::vector<TensorIndex> stepIndex(int d) {
    std::vector<TensorIndex> ix;
    for (int k = 0; k < d; ++k) ix.emplace_back(Slice());
    int64_t start = uni(0, 1);
    if (no_empty_views_) start = 0;
    ix.emplace_back(Slice(start, std::nullopt, 2));
    return ix;
  }
};

const std::vector<Shape>& shapePool() {
  static const std::vector<Shape> pool{{4},       {3, 4}, {2, 3, 4}, {5, 1}, {1, 4},
                                       {2, 1, 3}, {},     {6},       {4, 4}, {3}};
  return pool;
}

uint64_t envOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Reads t's values through one of the public paths, chosen by `how`.
std::vector<double> compiledValues(const Tensor& t, int how) {
  if (how == 1) {
    Tensor d = t.contiguous().to(kiln::kDouble);
    const double* p = d.data_ptr<double>();
    return std::vector<double>(p, p + t.numel());
  }
  if (how == 2 && t.numel() <= 6) {
    Tensor flat = t.reshape({-1});
    std::vector<double> out;
    for (int64_t i = 0; i < t.numel(); ++i) out.push_back(flat[i].item<double>());
    return out;
  }
  return kiln::detail::toDoubles(t);
}

TEST(Differential, RandomGraphsMatchReference) {
  const uint64_t seed = envOr("KILN_DIFF_SEED", kDefaultSeed);
  const int graphs = static_cast<int>(envOr("KILN_DIFF_GRAPHS", kDefaultGraphs));
  std::cout << "[ differential ] seed " << seed << ", " << graphs
            << " graphs (override with KILN_DIFF_SEED / KILN_DIFF_GRAPHS)\n";
  auto start = std::chrono::steady_clock::now();
  // Prints every graph before it runs, to find one that crashes.
  const bool verbose = envOr("KILN_DIFF_VERBOSE", 0) != 0;
  // Leaves out in-place updates through empty views, to look past failures they cause.
  const bool no_empty_views = envOr("KILN_DIFF_NO_EMPTY_VIEWS", 0) != 0;
  int failures = 0;
  int compared_exact = 0, compared_tol = 0;
  for (int g = 0; g < graphs && failures < 5; ++g) {
    const uint64_t graph_seed = seed * 1000003 + static_cast<uint64_t>(g);
    GraphGen gen(graph_seed, no_empty_views);
    std::mt19937 pick(static_cast<uint32_t>(graph_seed));
    const Shape& s = shapePool()[pick() % shapePool().size()];
    int depth = 2 + static_cast<int>(pick() % 4);
    Val v = gen.gen(depth, s);
    const std::string graph = v.t.graph_text();
    if (verbose) std::cerr << "graph " << g << ":\n" << gen.log() << graph << std::endl;
    std::vector<double> ref = kiln::detail::referenceValues(v.t);
    std::vector<double> got = compiledValues(v.t, static_cast<int>(pick() % 3));

    auto fail = [&](const std::string& why) {
      ++failures;
      ADD_FAILURE() << "graph " << g << " (KILN_DIFF_SEED=" << seed << ", graph seed " << graph_seed
                    << "): " << why << "\nresult " << shapeStr(v.t.sizes().vec()) << " "
                    << v.t.dtype() << (v.exact ? " exact" : " inexact") << "\nrecorded ops:\n"
                    << gen.log() << "pending graph:\n"
                    << graph;
    };
    if (v.t.sizes().vec() != s) {
      fail("generator produced shape " + shapeStr(v.t.sizes().vec()) + ", wanted " + shapeStr(s));
      continue;
    }
    if (ref.size() != got.size()) {
      fail("reference has " + std::to_string(ref.size()) + " elements, compiled " +
           std::to_string(got.size()));
      continue;
    }
    const bool discrete = !kiln::isFloatingType(v.t.dtype());
    const bool exact = discrete || v.exact;
    (exact ? compared_exact : compared_tol)++;
    for (size_t i = 0; i < ref.size(); ++i) {
      bool ok;
      if (std::isnan(ref[i]) || std::isnan(got[i])) {
        ok = std::isnan(ref[i]) && std::isnan(got[i]);
      } else if (exact) {
        ok = ref[i] == got[i];
      } else {
        const double rel = gen.sixteen_bit() ? 3e-2 : 1e-4, abs = gen.sixteen_bit() ? 1e-2 : 1e-5;
        ok = std::fabs(ref[i] - got[i]) <= rel * std::fabs(ref[i]) + abs * std::max(1.0, v.mag);
      }
      if (!ok) {
        std::ostringstream os;
        os.precision(17);
        os << "element " << i << ": compiled " << got[i] << ", reference " << ref[i];
        fail(os.str());
        break;
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ differential ] " << compared_exact << " exact and " << compared_tol
            << " tolerance comparisons in " << secs << " s\n";
  EXPECT_EQ(failures, 0);
}

// Threads divide a kernel's outer parallel loops only (codegen/llvm/cpu_schedule.h), so every
// thread count must give the same bits. The grain is set to one point so that even these small
// graphs split, into chunks that cut the loops at every possible place.
TEST(Differential, ThreadCountsGiveIdenticalBits) {
  const uint64_t seed = envOr("KILN_DIFF_SEED", kDefaultSeed) + 7;
  const int graphs = static_cast<int>(envOr("KILN_DIFF_GRAPHS", kDefaultGraphs) / 4);
  const int saved_threads = kiln::get_num_threads();
  const int64_t saved_grain = kiln::runtime::minPointsPerThread();
  kiln::runtime::setMinPointsPerThread(1);
  std::vector<Shape> shapes = shapePool();
  // Long rows: reductions over them run in blocks (lib/sched), with a shorter last block.
  for (Shape s : {Shape{37, 129}, Shape{5, 7, 33}, Shape{4099}, Shape{2, 3, 4, 5}, Shape{3, 9001}})
    shapes.push_back(s);
  int failures = 0;
  for (int g = 0; g < graphs && failures < 5; ++g) {
    const uint64_t graph_seed = seed * 1000003 + static_cast<uint64_t>(g);
    std::vector<std::vector<double>> results;
    std::string log;
    for (int threads : {1, 2, 3}) {
      kiln::set_num_threads(threads);
      kiln::manual_seed(graph_seed);
      GraphGen gen(graph_seed, false);
      std::mt19937 pick(static_cast<uint32_t>(graph_seed));
      const Shape& s = shapes[pick() % shapes.size()];
      Val v = gen.gen(2 + static_cast<int>(pick() % 4), s);
      results.push_back(kiln::detail::toDoubles(v.t));
      log = gen.log();
    }
    for (size_t t = 1; t < results.size(); ++t) {
      if (results[t].size() != results[0].size() ||
          std::memcmp(results[t].data(), results[0].data(), results[0].size() * sizeof(double))) {
        ++failures;
        ADD_FAILURE() << "graph " << g << " (graph seed " << graph_seed << "): " << t + 1
                      << " threads differ from 1 thread\nrecorded ops:\n"
                      << log;
      }
    }
  }
  kiln::runtime::setMinPointsPerThread(saved_grain);
  kiln::set_num_threads(saved_threads);
  EXPECT_EQ(failures, 0);
}

}  // namespace
