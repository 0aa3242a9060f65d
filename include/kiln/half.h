#pragma once
// kiln::Half and kiln::BFloat16: the 16-bit floating element types as values, like c10::Half and
// c10::BFloat16. Both convert to and from float; the conversion to 16 bits rounds to nearest even
// and keeps infinities and NaN, bit for bit as c10's does.
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>

namespace kiln {

namespace detail {
inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float floatFromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace detail

/// IEEE binary16: 1 sign bit, 5 exponent bits, 10 mantissa bits (largest finite 65504).
struct alignas(2) Half {
  uint16_t x = 0;

  struct from_bits_t {};
  static constexpr from_bits_t from_bits() { return {}; }

  Half() = default;
  constexpr Half(uint16_t bits, from_bits_t) : x(bits) {}
  // c10's fp16_ieee_from_fp32_value: the float is scaled so that the hardware's own rounding of
  // an addition rounds the mantissa to 10 bits, nearest even, subnormals included.
  Half(float f) {  // NOLINT: implicit, as c10::Half's
    const float magnitude = detail::floatFromBits(detail::floatBits(f) & 0x7FFFFFFFu);
    const float base0 = (magnitude * detail::floatFromBits(0x77800000)) *  // 0x1p+112
                        detail::floatFromBits(0x08800000);                 // 0x1p-110
    const uint32_t w = detail::floatBits(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    const float base = detail::floatFromBits((bias >> 1) + 0x07800000u) + base0;
    const uint32_t bits = detail::floatBits(base);
    const uint32_t nonsign = ((bits >> 13) & 0x00007C00u) + (bits & 0x00000FFFu);
    x = static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
  }
  // c10's fp16_ieee_to_fp32_value (exact: every half is a float).
  operator float() const {  // NOLINT: implicit, as c10::Half's
    const uint32_t w = static_cast<uint32_t>(x) << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const float normalized =
        detail::floatFromBits((two_w >> 4) + (0xE0u << 23)) * detail::floatFromBits(0x07800000);
    const float denormalized = detail::floatFromBits((two_w >> 17) | (126u << 23)) - 0.5f;
    return detail::floatFromBits(sign | (two_w < (1u << 27) ? detail::floatBits(denormalized)
                                                            : detail::floatBits(normalized)));
  }
};

/// bfloat16: the upper 16 bits of a float (8 exponent bits, 7 mantissa bits).
struct alignas(2) BFloat16 {
  uint16_t x = 0;

  struct from_bits_t {};
  static constexpr from_bits_t from_bits() { return {}; }

  BFloat16() = default;
  constexpr BFloat16(uint16_t bits, from_bits_t) : x(bits) {}
  // c10's round_to_nearest_even: NaN becomes the quiet NaN 0x7FC0.
  BFloat16(float f) {  // NOLINT: implicit, as c10::BFloat16's
    const uint32_t u = detail::floatBits(f);
    x = f != f ? uint16_t{0x7FC0} : static_cast<uint16_t>((u + (((u >> 16) & 1u) + 0x7FFFu)) >> 16);
  }
  operator float() const {  // NOLINT: implicit, as c10::BFloat16's
    return detail::floatFromBits(static_cast<uint32_t>(x) << 16);
  }
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);

/// Prints the value as a float, as c10 does.
inline std::ostream& operator<<(std::ostream& os, Half h) {
  return os << static_cast<float>(h);
}
inline std::ostream& operator<<(std::ostream& os, BFloat16 h) {
  return os << static_cast<float>(h);
}

}  // namespace kiln

namespace kiln::detail {
// The limits of a 16-bit floating type T with `digits` significand bits, from the bit patterns
// of its smallest normal, lowest, largest, epsilon, infinity and quiet NaN values.
template <typename T, int Digits, uint16_t Min, uint16_t Lowest, uint16_t Max, uint16_t Epsilon,
          uint16_t Infinity, uint16_t QuietNaN>
struct Float16Limits {
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr int digits = Digits;
  static constexpr T min() { return {Min, T::from_bits()}; }
  static constexpr T lowest() { return {Lowest, T::from_bits()}; }
  static constexpr T max() { return {Max, T::from_bits()}; }
  static constexpr T epsilon() { return {Epsilon, T::from_bits()}; }
  static constexpr T infinity() { return {Infinity, T::from_bits()}; }
  static constexpr T quiet_NaN() { return {QuietNaN, T::from_bits()}; }
};
}  // namespace kiln::detail

// The limits c10 gives both types, so that generic code (checked conversions) can ask them.
template <>
class std::numeric_limits<kiln::Half>
    : public kiln::detail::Float16Limits<kiln::Half, 11, 0x0400, 0xFBFF, 0x7BFF, 0x1400, 0x7C00,
                                         0x7E00> {};
template <>
class std::numeric_limits<kiln::BFloat16>
    : public kiln::detail::Float16Limits<kiln::BFloat16, 8, 0x0080, 0xFF7F, 0x7F7F, 0x3C00, 0x7F80,
                                         0x7FC0> {};
