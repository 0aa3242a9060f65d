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

/// The product of `sizes` into `out`; true when any partial product overflows (as c10's
/// safe_multiplies_u64, so [2^32, 2^32, 0] overflows although its product is 0).
inline bool productOverflows(const std::vector<int64_t>& sizes, int64_t* out) {
  int64_t p = 1;
  bool overflow = false;
  for (int64_t s : sizes) overflow |= mulOverflows(p, s, &p);
  *out = p;
  return overflow;
}

/// a * b, or the largest int64 when that overflows (for non-negative operands).
inline int64_t saturatingMul(int64_t a, int64_t b) {
  int64_t r;
  return mulOverflows(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

}  // namespace kiln
