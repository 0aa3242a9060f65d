#pragma once
// Overflow-checked integer arithmetic for sizes, strides, offsets and byte counts. A wrapped
// product is undefined behaviour in C++ and, worse, a plausible-looking small size: every such
// computation on user-given numbers goes through these, and the caller reports PyTorch's error.
#include <cstdint>
#include <limits>
#include <vector>

namespace kiln {

/// a * b into `out`; true when the exact result does not fit in an int64.
inline bool mulOverflows(int64_t a, int64_t b, int64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}
/// a + b into `out`; true when the exact result does not fit in an int64.
inline bool addOverflows(int64_t a, int64_t b, int64_t* out) {
  return __builtin_add_overflow(a, b, out);
}

/// The product of `sizes` into `out`; true when it does not fit in an int64 or any partial
/// product of the (non-negative) sizes overflows a uint64, as c10's safe_multiplies_u64: so
/// [3, 2^62, 0] is an empty shape, as in PyTorch, but [2^32, 2^32, 0] overflows although its
/// product is 0. Sizes with a negative entry are multiplied as int64s (the callers refuse the
/// negative size itself first, or report an overflow).
inline bool productOverflows(const std::vector<int64_t>& sizes, int64_t* out) {
  bool negative = false;
  for (int64_t s : sizes) negative |= s < 0;
  if (negative) {
    int64_t p = 1;
    bool overflow = false;
    for (int64_t s : sizes) overflow |= mulOverflows(p, s, &p);
    *out = p;
    return overflow;
  }
  uint64_t p = 1;
  bool overflow = false;
  for (int64_t s : sizes) overflow |= __builtin_mul_overflow(p, static_cast<uint64_t>(s), &p);
  overflow |= p > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  *out = static_cast<int64_t>(p);
  return overflow;
}

/// a * b, or the largest int64 when that overflows (for non-negative operands).
inline int64_t saturatingMul(int64_t a, int64_t b) {
  int64_t r;
  return mulOverflows(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

/// a * b wrapped to an int64 as two's complement, without undefined behaviour: PyTorch multiplies
/// some sizes unchecked (flatten's new size, matmul's folded rows) and its messages print the
/// wrapped number.
inline int64_t wrappingMul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

/// a + b, or the largest int64 when that overflows (for non-negative operands).
inline int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  return addOverflows(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

}  // namespace kiln
