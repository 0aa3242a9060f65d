#pragma once
// Element types (libtorch's ScalarType subset), their promotion rules, and the default dtype.
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "kiln/half.h"

namespace kiln {

/// Every element type, in ScalarType order, as _(C++ type, Name): the one list that the enum,
/// the element sizes and the type switch (lib/core/scalar_type.h, visitType) follow, as c10's
/// AT_FORALL_SCALAR_TYPES. Its names table is lib/core/scalar_type.cpp (kNames).
#define KILN_FORALL_SCALAR_TYPES(_) \
  _(bool, Bool)                     \
  _(int32_t, Int)                   \
  _(int64_t, Long)                  \
  _(float, Float)                   \
  _(double, Double)                 \
  _(uint8_t, Byte)                  \
  _(int8_t, Char)                   \
  _(int16_t, Short)                 \
  _(::kiln::Half, Half)             \
  _(::kiln::BFloat16, BFloat16)

/// Element type of a tensor. Names follow libtorch (`kiln::kFloat` is `torch::kFloat`).
enum class ScalarType : int8_t {
#define KILN_SCALAR_TYPE_ENUM(type, name) name,
  KILN_FORALL_SCALAR_TYPES(KILN_SCALAR_TYPE_ENUM)
#undef KILN_SCALAR_TYPE_ENUM
};

inline constexpr ScalarType kBool = ScalarType::Bool;
inline constexpr ScalarType kByte = ScalarType::Byte;
inline constexpr ScalarType kUInt8 = ScalarType::Byte;
inline constexpr ScalarType kChar = ScalarType::Char;
inline constexpr ScalarType kInt8 = ScalarType::Char;
inline constexpr ScalarType kShort = ScalarType::Short;
inline constexpr ScalarType kInt16 = ScalarType::Short;
inline constexpr ScalarType kInt = ScalarType::Int;
inline constexpr ScalarType kInt32 = ScalarType::Int;
inline constexpr ScalarType kLong = ScalarType::Long;
inline constexpr ScalarType kInt64 = ScalarType::Long;
inline constexpr ScalarType kHalf = ScalarType::Half;
inline constexpr ScalarType kFloat16 = ScalarType::Half;
inline constexpr ScalarType kBFloat16 = ScalarType::BFloat16;
inline constexpr ScalarType kFloat = ScalarType::Float;
inline constexpr ScalarType kFloat32 = ScalarType::Float;
inline constexpr ScalarType kDouble = ScalarType::Double;
inline constexpr ScalarType kFloat64 = ScalarType::Double;

/// Bytes per element.
constexpr int elementSize(ScalarType t) {
  switch (t) {
#define KILN_SCALAR_TYPE_SIZE(type, name) \
  case ScalarType::name:                  \
    return static_cast<int>(sizeof(type));
    KILN_FORALL_SCALAR_TYPES(KILN_SCALAR_TYPE_SIZE)
#undef KILN_SCALAR_TYPE_SIZE
  }
  return 0;
}
/// True for kHalf, kBFloat16, kFloat and kDouble.
constexpr bool isFloatingType(ScalarType t) {
  return t == ScalarType::Float || t == ScalarType::Double || t == ScalarType::Half ||
         t == ScalarType::BFloat16;
}
/// True for the integer types (not kBool), as libtorch's isIntegralType(t, false).
constexpr bool isIntegralType(ScalarType t) {
  return t == ScalarType::Int || t == ScalarType::Long || t == ScalarType::Byte ||
         t == ScalarType::Char || t == ScalarType::Short;
}
/// libtorch's name for the type, as used in error messages: "Float", "Long", ...
std::string_view toString(ScalarType t);
/// Python's name, as printed in `dtype=kiln.float64`: "float64", "int64", "bool", ...
std::string_view pythonName(ScalarType t);
/// Short IR name: f32, f64, f16, bf16, i64, i32, i16, i8, u8, i1.
std::string_view irName(ScalarType t);
/// The smallest type both can be cast to without losing kind (torch.promote_types).
ScalarType promoteTypes(ScalarType a, ScalarType b);
/// Whether a value of type `from` may be written into a tensor of type `to` (torch.can_cast).
bool canCast(ScalarType from, ScalarType to);

std::ostream& operator<<(std::ostream& os, ScalarType t);

/// A type's identity as libtorch passes it to set_default_dtype (caffe2::TypeMeta): made from a
/// ScalarType (implicitly here, by scalarTypeToTypeMeta in libtorch), printed by its C++ name.
class TypeMeta {
 public:
  constexpr TypeMeta(ScalarType t = ScalarType::Float) : type_(t) {}  // NOLINT: implicit
  constexpr ScalarType toScalarType() const { return type_; }
  /// The C++ name: "float", "long int", "c10::Half", as caffe2::TypeMeta::name().
  std::string_view name() const;
  constexpr size_t itemsize() const { return static_cast<size_t>(elementSize(type_)); }
  friend constexpr bool operator==(TypeMeta a, TypeMeta b) { return a.type_ == b.type_; }

 private:
  ScalarType type_;
};
std::ostream& operator<<(std::ostream& os, TypeMeta t);
constexpr TypeMeta scalarTypeToTypeMeta(ScalarType t) {
  return TypeMeta(t);
}
constexpr ScalarType typeMetaToScalarType(TypeMeta t) {
  return t.toScalarType();
}

/// Sets the dtype that floating numbers, float literals of kiln::tensor and creation functions
/// without a dtype take (kFloat at start), as torch::set_default_dtype. Only floating types are
/// accepted (Python's torch.set_default_dtype refuses the others; libtorch's C++ does not check).
void set_default_dtype(TypeMeta t);
/// The default dtype (torch::get_default_dtype).
TypeMeta get_default_dtype();
ScalarType get_default_dtype_as_scalartype();

}  // namespace kiln
