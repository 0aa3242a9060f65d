#pragma once
// What kiln knows about each element type beyond the public kiln/scalar_type.h: the C++ type that
// holds an element, and the other names PyTorch's messages use. The names are one table
// (lib/core/scalar_type.cpp), and visitType is the one switch over types that code needing an
// element's C++ type goes through.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "kiln/scalar_type.h"

namespace kiln::detail {

/// Returns f.template operator()<T>() with T the C++ type of an element of type t (bool,
/// uint8_t, int64_t, kiln::Half, ...), as PyTorch's AT_DISPATCH macros do.
template <typename F>
decltype(auto) visitType(ScalarType t, F&& f) {
  switch (t) {
#define KILN_VISIT_TYPE(type, name) \
  case ScalarType::name:            \
    return f.template operator()<type>();
    KILN_FORALL_SCALAR_TYPES(KILN_VISIT_TYPE)
#undef KILN_VISIT_TYPE
  }
  return f.template operator()<float>();
}

/// The ScalarType whose elements are T (uint8_t: kByte, kiln::Half: kHalf).
template <typename T>
struct ScalarTypeOf;
#define KILN_TYPE_OF(type, name)                          \
  template <>                                             \
  struct ScalarTypeOf<type> {                             \
    static constexpr ScalarType value = ScalarType::name; \
  };
KILN_FORALL_SCALAR_TYPES(KILN_TYPE_OF)
#undef KILN_TYPE_OF

/// kHalf and kBFloat16: stored in 16 bits, computed in float32 (as PyTorch's CPU kernels do) and
/// rounded back to 16 bits after each op.
constexpr bool isReducedFloat(ScalarType t) {
  return t == ScalarType::Half || t == ScalarType::BFloat16;
}
/// The type a sum of elements of type t accumulates in where that differs from t: float32 for
/// the 16-bit floating types, as PyTorch's reductions.
constexpr ScalarType accumulateType(ScalarType t) {
  return isReducedFloat(t) ? ScalarType::Float : t;
}

/// Element i of an array of T (memcpy: the array need not be aligned; a bool is any nonzero byte).
template <typename T>
T loadAs(const void* base, int64_t i) {
  const char* p = static_cast<const char*>(base) + i * static_cast<int64_t>(sizeof(T));
  if constexpr (std::is_same_v<T, bool>) {
    uint8_t byte;
    std::memcpy(&byte, p, 1);
    return byte != 0;
  } else {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
}
/// Stores v as element i of an array of T.
template <typename T>
void storeAs(void* base, int64_t i, T v) {
  std::memcpy(static_cast<char*>(base) + i * static_cast<int64_t>(sizeof(T)), &v, sizeof v);
}

/// v converted to T as libtorch's static_cast does on x86-64: a floating value to an integer type
/// through int64 (so -1.5 gives 255 as uint8 and 300.0 gives 44; NaN and values beyond int64
/// give 0 instead of C++'s undefined behaviour), to a 16-bit float through float.
template <typename T>
T castTo(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T>) {
    if (!(v >= -0x1p63 && v < 0x1p63)) return 0;
    return static_cast<T>(static_cast<int64_t>(v));
  } else if constexpr (std::is_same_v<T, double>) {
    return v;
  } else {
    return T(static_cast<float>(v));
  }
}

/// Element i of an array of type t, as a double (exact for every type but int64 beyond 2^53).
double loadElement(const void* base, ScalarType t, int64_t i);
/// Stores v as element i of an array of type t, converted as castTo does.
void storeElement(void* base, ScalarType t, int64_t i, double v);

/// libtorch's legacy tensor type name: "torch.FloatTensor".
std::string_view legacyTypeName(ScalarType t);
/// The C++ type name PyTorch's messages print (caffe2::TypeMeta::name()): "float", "long int".
std::string_view typeMetaName(ScalarType t);
/// The type whose IR name (f32, i64, ...) is `name`, or false.
bool scalarTypeFromIrName(std::string_view name, ScalarType* out);

}  // namespace kiln::detail
