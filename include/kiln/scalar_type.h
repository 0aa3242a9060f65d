#pragma once
// Element types (libtorch's ScalarType subset) and their promotion rules.
#include <cstdint>
#include <ostream>
#include <string_view>

namespace kiln {

/// Element type of a tensor. Names follow libtorch (`kiln::kFloat` is `torch::kFloat`).
enum class ScalarType : int8_t { Bool = 0, Int = 1, Long = 2, Float = 3, Double = 4 };

inline constexpr ScalarType kBool = ScalarType::Bool;
inline constexpr ScalarType kInt = ScalarType::Int;
inline constexpr ScalarType kInt32 = ScalarType::Int;
inline constexpr ScalarType kLong = ScalarType::Long;
inline constexpr ScalarType kInt64 = ScalarType::Long;
inline constexpr ScalarType kFloat = ScalarType::Float;
inline constexpr ScalarType kFloat32 = ScalarType::Float;
inline constexpr ScalarType kDouble = ScalarType::Double;
inline constexpr ScalarType kFloat64 = ScalarType::Double;

/// Bytes per element.
constexpr int elementSize(ScalarType t) {
  switch (t) {
    case ScalarType::Bool:
      return 1;
    case ScalarType::Int:
      return 4;
    case ScalarType::Long:
      return 8;
    case ScalarType::Float:
      return 4;
    case ScalarType::Double:
      return 8;
  }
  return 0;
}
/// True for kFloat and kDouble.
constexpr bool isFloatingType(ScalarType t) {
  return t == ScalarType::Float || t == ScalarType::Double;
}
/// True for kInt and kLong (not kBool), as libtorch's isIntegralType(t, false).
constexpr bool isIntegralType(ScalarType t) {
  return t == ScalarType::Int || t == ScalarType::Long;
}
/// libtorch's name for the type, as used in error messages: "Float", "Long", ...
std::string_view toString(ScalarType t);
/// Python's name, as printed in `dtype=kiln.float64`: "float64", "int64", "bool", ...
std::string_view pythonName(ScalarType t);
/// Short IR name: f32, f64, i32, i64, i1.
std::string_view irName(ScalarType t);
/// The smallest type both can be cast to without losing kind (torch.promote_types).
ScalarType promoteTypes(ScalarType a, ScalarType b);
/// Whether a value of type `from` may be written into a tensor of type `to` (torch.can_cast).
bool canCast(ScalarType from, ScalarType to);

std::ostream& operator<<(std::ostream& os, ScalarType t);

}  // namespace kiln
