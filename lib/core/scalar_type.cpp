#include "kiln/scalar_type.h"

namespace kiln {

namespace {

// torch.can_cast only forbids moving to a lower kind; widths within a kind do not matter.
int category(ScalarType t) {
  if (t == ScalarType::Bool) return 0;
  if (isIntegralType(t)) return 1;
  return 2;
}

}  // namespace

std::string_view toString(ScalarType t) {
  switch (t) {
    case ScalarType::Bool:
      return "Bool";
    case ScalarType::Int:
      return "Int";
    case ScalarType::Long:
      return "Long";
    case ScalarType::Float:
      return "Float";
    case ScalarType::Double:
      return "Double";
  }
  return "Undefined";
}

std::string_view pythonName(ScalarType t) {
  switch (t) {
    case ScalarType::Bool:
      return "bool";
    case ScalarType::Int:
      return "int32";
    case ScalarType::Long:
      return "int64";
    case ScalarType::Float:
      return "float32";
    case ScalarType::Double:
      return "float64";
  }
  return "undefined";
}

std::string_view irName(ScalarType t) {
  switch (t) {
    case ScalarType::Bool:
      return "i1";
    case ScalarType::Int:
      return "i32";
    case ScalarType::Long:
      return "i64";
    case ScalarType::Float:
      return "f32";
    case ScalarType::Double:
      return "f64";
  }
  return "?";
}

ScalarType promoteTypes(ScalarType a, ScalarType b) {
  // The enum is declared in promotion order (bool < int32 < int64 < float32 < float64), and for
  // this subset torch.promote_types always picks the later one: int64 with float32 is float32.
  return static_cast<int8_t>(a) >= static_cast<int8_t>(b) ? a : b;
}

bool canCast(ScalarType from, ScalarType to) {
  return category(from) <= category(to);
}

std::ostream& operator<<(std::ostream& os, ScalarType t) {
  return os << toString(t);
}

}  // namespace kiln
