// The element types' names (one table) and promotion rules; the element access of
// lib/core/scalar_type.h.
#include "lib/core/scalar_type.h"

#include <iterator>

namespace kiln {

namespace {

// Every name of a type, in ScalarType order.
struct TypeNames {
  std::string_view torch;   // toString: "Float", as in libtorch's messages
  std::string_view python;  // pythonName: "float32", as in dtype=kiln.float32
  std::string_view ir;      // irName: "f32"
  std::string_view legacy;  // legacyTypeName: "torch.FloatTensor"
  std::string_view meta;    // typeMetaName: "float"
};
constexpr TypeNames kNames[] = {
    {"Bool", "bool", "i1", "torch.BoolTensor", "bool"},
    {"Int", "int32", "i32", "torch.IntTensor", "int"},
    {"Long", "int64", "i64", "torch.LongTensor", "long int"},
    {"Float", "float32", "f32", "torch.FloatTensor", "float"},
    {"Double", "float64", "f64", "torch.DoubleTensor", "double"},
};
static_assert(std::size(kNames) == static_cast<size_t>(ScalarType::Double) + 1);

const TypeNames& namesOf(ScalarType t) {
  return kNames[static_cast<int>(t)];
}

// torch.can_cast only forbids moving to a lower kind; widths within a kind do not matter.
int category(ScalarType t) {
  if (t == ScalarType::Bool) return 0;
  if (isIntegralType(t)) return 1;
  return 2;
}

}  // namespace

std::string_view toString(ScalarType t) {
  return namesOf(t).torch;
}

std::string_view pythonName(ScalarType t) {
  return namesOf(t).python;
}

std::string_view irName(ScalarType t) {
  return namesOf(t).ir;
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

namespace detail {

double loadElement(const void* base, ScalarType t, int64_t i) {
  return visitType(t, [&]<typename T>() { return static_cast<double>(loadAs<T>(base, i)); });
}

void storeElement(void* base, ScalarType t, int64_t i, double v) {
  visitType(t, [&]<typename T>() { storeAs<T>(base, i, static_cast<T>(v)); });
}

std::string_view legacyTypeName(ScalarType t) {
  return namesOf(t).legacy;
}

std::string_view typeMetaName(ScalarType t) {
  return namesOf(t).meta;
}

bool scalarTypeFromIrName(std::string_view name, ScalarType* out) {
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i].ir == name) {
      *out = static_cast<ScalarType>(i);
      return true;
    }
  }
  return false;
}

}  // namespace detail

}  // namespace kiln
