#include "lib/interp/reference.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "lib/core/scalar_type.h"
#include "lib/ir/philox.h"

namespace kiln::interp {

using ir::Op;

double roundTo(ScalarType t, double v) {
  // As libtorch's conversions (detail::castTo): integers wrap to their width, half and bfloat16
  // round through float32.
  return detail::visitType(t,
                           [&]<typename T>() { return static_cast<double>(detail::castTo<T>(v)); });
}

namespace {

int64_t asInt(double v) {
  if (v >= 0x1p63) return std::numeric_limits<int64_t>::max();
  if (v < -0x1p63) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

// An int64 whose arithmetic wraps (two's complement), as PyTorch's integer kernels do: the
// reference column of lib/ir/ops.def evaluated on Ints is exact for every integral value.
struct Int {
  int64_t v;
  Int(int64_t x = 0) : v(x) {}  // NOLINT: the table's literals (0, bools) convert implicitly
  friend auto operator<=>(Int, Int) = default;
  friend bool operator==(Int, Int) = default;
};
Int operator-(Int a) {
  return static_cast<int64_t>(0 - static_cast<uint64_t>(a.v));
}
Int operator+(Int a, Int b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a.v) + static_cast<uint64_t>(b.v));
}
Int operator-(Int a, Int b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a.v) - static_cast<uint64_t>(b.v));
}
Int operator*(Int a, Int b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a.v) * static_cast<uint64_t>(b.v));
}

// The table's helpers, once for each number type. Integers divided by zero give 0 (the compiled
// kernels never trap), and the most negative integer divided by -1 wraps.
Int absolute(Int a) {
  return a < 0 ? -a : a;
}
double absolute(double a) {
  return std::fabs(a);
}

Int maximum(Int a, Int b) {
  return a < b ? b : a;
}
double maximum(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
}
Int minimum(Int a, Int b) {
  return b < a ? b : a;
}
double minimum(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
}

Int power(Int base, Int exp, ScalarType) {
  if (exp < 0) return base == 1 ? 1 : base == -1 ? (exp.v % 2 ? -1 : 1) : 0;
  Int r = 1, b = base;
  for (int64_t e = exp.v; e > 0; e >>= 1) {
    if (e & 1) r = r * b;
    b = b * b;
  }
  return r;
}
// PyTorch computes x ** 0.5 as sqrt(x) and x ** -0.5 as 1 / sqrt(x), which differ from pow at
// -0.0 (-0.0 and -inf where pow gives +0.0 and +inf).
double power(double a, double b, ScalarType t) {
  if (!isFloatingType(t)) return static_cast<double>(power(Int(asInt(a)), Int(asInt(b)), t).v);
  if (b == 0.5) return std::sqrt(a);
  if (b == -0.5) return 1 / std::sqrt(a);
  return std::pow(a, b);
}

// a // b and a % b as PyTorch's floor_divide and remainder compute them (the quotient rounded
// toward -inf, the remainder taking the divisor's sign).
Int floorDivide(Int a, Int b, ScalarType) {
  if (b == 0) return 0;
  if (b == -1) return -a;
  int64_t q = a.v / b.v;
  return a.v % b.v != 0 && (a < 0) != (b < 0) ? q - 1 : q;
}
double floorDivide(double a, double b, ScalarType t) {
  if (!isFloatingType(t))
    return static_cast<double>(floorDivide(Int(asInt(a)), Int(asInt(b)), t).v);
  if (b == 0) return a / b;
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && (b < 0) != (mod < 0)) div -= 1;
  if (div == 0) return std::copysign(0.0, a / b);
  double below = std::floor(div);
  return div - below > 0.5 ? below + 1 : below;
}

Int floorRemainder(Int a, Int b, ScalarType) {
  if (b == 0 || b == -1) return 0;
  int64_t r = a.v % b.v;
  return r != 0 && (r < 0) != (b < 0) ? r + b.v : r;
}
double floorRemainder(double a, double b, ScalarType t) {
  if (!isFloatingType(t))
    return static_cast<double>(floorRemainder(Int(asInt(a)), Int(asInt(b)), t).v);
  double mod = std::fmod(a, b);
  return mod != 0 && (b < 0) != (mod < 0) ? mod + b : mod;
}

// C's fmod: the remainder of the quotient truncated toward zero, taking the dividend's sign.
Int truncRemainder(Int a, Int b, ScalarType) {
  if (b == 0 || b == -1) return 0;
  return a.v % b.v;
}
double truncRemainder(double a, double b, ScalarType t) {
  if (!isFloatingType(t))
    return static_cast<double>(truncRemainder(Int(asInt(a)), Int(asInt(b)), t).v);
  return std::fmod(a, b);
}

// Each op's meaning: the reference column of lib/ir/ops.def, on the operands a, b, c and their
// type t, in double precision (V = double) or exactly on integers (V = Int). Ops whose results
// are always floating (the Float dtype rule) have no integer form.
template <typename V>
using Evaluate = V (*)(V a, V b, V c, ScalarType t);
template <typename V>
constexpr Evaluate<V> kEvaluate[] = {
#define X(name, text, arity, dtype, grad, reference)                                      \
  [](V a, V b, V c, ScalarType t) -> V {                                                  \
    if constexpr (std::is_same_v<V, Int> && ir::DtypeRule::dtype == ir::DtypeRule::Float) \
      return V();                                                                         \
    else                                                                                  \
      return reference;                                                                   \
  },
#include "lib/ir/ops.def"
#undef X
};
}  // namespace

double evalScalar(ScalarOp op, ScalarType result, ScalarType operand, double a, double b,
                  double c) {
  return roundTo(result, kEvaluate<double>[static_cast<int>(op)](a, b, c, operand));
}

int64_t evalScalarExact(ScalarOp op, ScalarType result, ScalarType operand, int64_t a, int64_t b,
                        int64_t c) {
  int64_t r = kEvaluate<Int>[static_cast<int>(op)](a, b, c, operand).v;
  // Wrapped to the result's width: each integer type holds its values in range, so uint8s are
  // the non-negative int64s whose unsigned arithmetic this is.
  return detail::visitType(result, [&]<typename T>() -> int64_t {
    if constexpr (std::is_same_v<T, bool>) {
      return r != 0;
    } else if constexpr (std::is_integral_v<T>) {
      return static_cast<T>(r);
    } else {
      return r;
    }
  });
}

std::vector<std::vector<double>> interpret(const ir::Graph& g,
                                           const std::vector<std::vector<double>>& params) {
  std::vector<std::vector<double>> values(g.instrs.size());
  for (size_t i = 0; i < g.instrs.size(); ++i) {
    const ir::Instr& in = g.instrs[i];
    const ir::NodeDesc& d = in.d;
    const int64_t n = d.numel();
    std::vector<double>& out = values[i];
    out.assign(n, 0);
    const std::vector<int64_t> cstrides = ir::contiguousStrides(d.shape);
    auto unravel = [&](int64_t flat, std::vector<int64_t>& idx) {
      for (size_t k = 0; k < d.shape.size(); ++k) {
        idx[k] = d.shape[k] ? (flat / cstrides[k]) % d.shape[k] : 0;
      }
    };
    std::vector<int64_t> idx(d.shape.size());
    switch (d.op) {
      case Op::Param: {
        const auto& p = params.at(d.ivalue);
        if (static_cast<int64_t>(p.size()) != n)
          throw std::invalid_argument("interpret: param size mismatch");
        out = p;
        break;
      }
      case Op::Const:
        for (double& v : out)
          v = isFloatingType(d.dtype) ? roundTo(d.dtype, d.fvalue)
                                      : roundTo(d.dtype, double(d.ivalue));
        break;
      case Op::Iota:
        for (int64_t f = 0; f < n; ++f) {
          unravel(f, idx);
          out[f] = roundTo(d.dtype, static_cast<double>(idx[d.ivalue]));
        }
        break;
      case Op::Rand:
      case Op::Randn:
        for (int64_t f = 0; f < n; ++f) {
          uint64_t counter = static_cast<uint64_t>(d.offset + f);
          bool dbl = d.dtype == ScalarType::Double;
          double v = d.op == Op::Rand ? ir::philox::uniform(counter, d.seed, dbl)
                                      : ir::philox::normal(counter, d.seed, dbl);
          out[f] = roundTo(d.dtype, v);
        }
        break;
      case Op::Elementwise: {
        ScalarType operand = g.instrs[in.operands[0]].d.dtype;
        if (d.sop == ScalarOp::Where) operand = g.instrs[in.operands[1]].d.dtype;
        for (int64_t f = 0; f < n; ++f) {
          double a = values[in.operands[0]][f];
          double b = in.operands.size() > 1 ? values[in.operands[1]][f] : 0;
          double c = in.operands.size() > 2 ? values[in.operands[2]][f] : 0;
          out[f] = evalScalar(d.sop, ir::resultType(d.sop, d.dtype), operand, a, b, c);
        }
        break;
      }
      case Op::Strided: {
        const auto& src = values[in.operands[0]];
        for (int64_t f = 0; f < n; ++f) {
          unravel(f, idx);
          int64_t pos = d.offset;
          for (size_t k = 0; k < idx.size(); ++k) pos += idx[k] * d.ints[k];
          out[f] = src.at(pos);
        }
        break;
      }
      case Op::Reduce:
      case Op::ArgReduce: {
        const ir::Instr& src = g.instrs[in.operands[0]];
        const auto& sv = values[in.operands[0]];
        const auto sstrides = ir::contiguousStrides(src.d.shape);
        std::vector<bool> reduced(src.d.shape.size(), false);
        if (d.op == Op::ArgReduce) {
          reduced[d.ivalue] = true;
        } else {
          for (int64_t a : d.ints) reduced[a] = true;
        }
        const bool is_max = d.rop == ir::ReduceOp::Max;
        std::vector<double> best(n), pos(n, 0);
        for (int64_t f = 0; f < n; ++f) {
          switch (d.rop) {
            case ir::ReduceOp::Sum:
              best[f] = 0;
              break;
            case ir::ReduceOp::Prod:
              best[f] = 1;
              break;
            case ir::ReduceOp::Max:
              best[f] = -INFINITY;
              break;
            case ir::ReduceOp::Min:
              best[f] = INFINITY;
              break;
          }
        }
        std::vector<int64_t> sidx(src.d.shape.size());
        const int64_t sn = src.d.numel();
        for (int64_t f = 0; f < sn; ++f) {
          int64_t o = 0;
          for (size_t k = 0; k < sidx.size(); ++k) {
            sidx[k] = (f / sstrides[k]) % src.d.shape[k];
            if (!reduced[k]) o += sidx[k] * cstrides[k];
          }
          double v = sv[f];
          if (d.op == Op::ArgReduce) {
            bool take = is_max ? v > best[o] : v < best[o];
            take = take || (std::isnan(v) && !std::isnan(best[o]));
            if (take) {
              best[o] = v;
              pos[o] = static_cast<double>(sidx[d.ivalue]);
            }
            continue;
          }
          switch (d.rop) {
            case ir::ReduceOp::Sum:
              best[o] += v;
              break;
            case ir::ReduceOp::Prod:
              best[o] *= v;
              break;
            case ir::ReduceOp::Max:
              best[o] = (std::isnan(v) || v > best[o]) && !std::isnan(best[o]) ? v : best[o];
              break;
            case ir::ReduceOp::Min:
              best[o] = (std::isnan(v) || v < best[o]) && !std::isnan(best[o]) ? v : best[o];
              break;
          }
        }
        for (int64_t f = 0; f < n; ++f)
          out[f] = d.op == Op::ArgReduce ? pos[f] : roundTo(d.dtype, best[f]);
        break;
      }
      case Op::Write: {
        out = values[in.operands[0]];
        const ir::Instr& val = g.instrs[in.operands[1]];
        const auto& vv = values[in.operands[1]];
        const auto vstrides = ir::contiguousStrides(val.d.shape);
        std::vector<int64_t> vidx(val.d.shape.size());
        for (int64_t f = 0; f < val.d.numel(); ++f) {
          int64_t p = d.offset;
          for (size_t k = 0; k < vidx.size(); ++k)
            p += ((f / vstrides[k]) % val.d.shape[k]) * d.ints[k];
          out.at(p) = vv[f];
        }
        break;
      }
      case Op::Gather: {
        const ir::Instr& src = g.instrs[in.operands[0]];
        const auto& sv = values[in.operands[0]];
        const auto& iv = values[in.operands[1]];
        const auto sstrides = ir::contiguousStrides(src.d.shape);
        const int64_t extent = src.d.shape[d.ivalue];
        for (int64_t f = 0; f < n; ++f) {
          unravel(f, idx);
          idx[d.ivalue] = std::clamp<int64_t>(static_cast<int64_t>(iv[f]), 0, extent - 1);
          int64_t p = 0;
          for (size_t k = 0; k < idx.size(); ++k) p += idx[k] * sstrides[k];
          out[f] = sv.at(p);
        }
        break;
      }
      case Op::Scatter:
      case Op::ScatterAdd: {
        out = values[in.operands[0]];
        const ir::Instr& val = g.instrs[in.operands[2]];
        const auto& iv = values[in.operands[1]];
        const auto& vv = values[in.operands[2]];
        const auto vstrides = ir::contiguousStrides(val.d.shape);
        const int64_t extent = d.ints.back();
        for (int64_t f = 0; f < val.d.numel(); ++f) {
          int64_t p = d.offset;
          for (size_t k = 0; k < val.d.shape.size(); ++k) {
            int64_t q = (f / vstrides[k]) % val.d.shape[k];
            if (static_cast<int64_t>(k) == d.ivalue)
              q = std::clamp<int64_t>(static_cast<int64_t>(iv[f]), 0, extent - 1);
            p += q * d.ints[k];
          }
          out.at(p) = d.op == Op::Scatter ? vv[f] : roundTo(d.dtype, out.at(p) + vv[f]);
        }
        break;
      }
    }
  }
  return values;
}

}  // namespace kiln::interp
