#pragma once
// A single number of any element type, as libtorch's c10::Scalar.
#include <cstdint>
#include <ostream>
#include <type_traits>

#include "kiln/scalar_type.h"

namespace kiln {

/// A dynamically typed number: bool, integral (int64) or floating (double).
class Scalar {
 public:
  Scalar() : Scalar(int64_t{0}) {}
  Scalar(bool v) : type_(ScalarType::Bool), i_(v) {}
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Scalar(T v) : type_(ScalarType::Long), i_(static_cast<int64_t>(v)) {}
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Scalar(T v) : type_(ScalarType::Double), d_(static_cast<double>(v)) {}
  Scalar(Half v) : type_(ScalarType::Double), d_(static_cast<float>(v)) {}
  Scalar(BFloat16 v) : type_(ScalarType::Double), d_(static_cast<float>(v)) {}

  /// kBool, kLong or kDouble: the kind of number held.
  ScalarType type() const { return type_; }
  bool isFloatingPoint() const { return type_ == ScalarType::Double; }
  bool isIntegral(bool includeBool) const {
    return type_ == ScalarType::Long || (includeBool && type_ == ScalarType::Bool);
  }
  bool isBoolean() const { return type_ == ScalarType::Bool; }

  /// The value converted to T, as a C++ cast would.
  template <typename T>
  T to() const {
    return type_ == ScalarType::Double ? static_cast<T>(d_) : static_cast<T>(i_);
  }
  double toDouble() const { return to<double>(); }
  float toFloat() const { return to<float>(); }
  int64_t toLong() const { return to<int64_t>(); }
  int toInt() const { return to<int>(); }
  int16_t toShort() const { return to<int16_t>(); }
  int8_t toChar() const { return to<int8_t>(); }
  uint8_t toByte() const { return to<uint8_t>(); }
  Half toHalf() const { return to<Half>(); }
  BFloat16 toBFloat16() const { return to<BFloat16>(); }
  bool toBool() const { return type_ == ScalarType::Double ? d_ != 0.0 : i_ != 0; }

 private:
  ScalarType type_;
  union {
    int64_t i_;
    double d_;
  };
};

std::ostream& operator<<(std::ostream& os, const Scalar& s);

}  // namespace kiln
