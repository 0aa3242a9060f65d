// The element types' names (one table) and promotion rules; the element access of
// lib/core/scalar_type.h.
#include "lib/core/scalar_type.h"

#include <atomic>
#include <iterator>

#include "kiln/error.h"

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
    {"Byte", "uint8", "u8", "torch.ByteTensor", "unsigned char"},
    {"Char", "int8", "i8", "torch.CharTensor", "signed char"},
    {"Short", "int16", "i16", "torch.ShortTensor", "short int"},
    {"Half", "float16", "f16", "torch.HalfTensor", "c10::Half"},
    {"BFloat16", "bfloat16", "bf16", "torch.BFloat16Tensor", "c10::BFloat16"},
};
static_assert(std::size(kNames) == static_cast<size_t>(ScalarType::BFloat16) + 1);

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
  // torch.promote_types's table (c10/core/ScalarType.h) as its rules: bool gives way to any
  // type; a floating type beats any integer; within a kind the wider wins, except that uint8
  // with a signed integer needs the next signed width (int16 at least), and half with bfloat16
  // meet in float32, neither holding the other.
  if (a == b) return a;
  if (a == ScalarType::Bool) return b;
  if (b == ScalarType::Bool) return a;
  if (isFloatingType(a) != isFloatingType(b)) return isFloatingType(a) ? a : b;
  if (detail::isReducedFloat(a) && detail::isReducedFloat(b)) return ScalarType::Float;
  if (a == ScalarType::Byte || b == ScalarType::Byte) {
    ScalarType other = a == ScalarType::Byte ? b : a;
    return elementSize(other) < 2 ? ScalarType::Short : other;
  }
  return elementSize(a) >= elementSize(b) ? a : b;
}

bool canCast(ScalarType from, ScalarType to) {
  return category(from) <= category(to);
}

std::ostream& operator<<(std::ostream& os, ScalarType t) {
  return os << toString(t);
}

std::string_view TypeMeta::name() const {
  return detail::typeMetaName(type_);
}

std::ostream& operator<<(std::ostream& os, TypeMeta t) {
  return os << t.name();
}

namespace {
std::atomic<ScalarType> default_dtype{ScalarType::Float};
}  // namespace

void set_default_dtype(TypeMeta t) {
  if (!isFloatingType(t.toScalarType())) {
    throw Error("only floating-point types are supported as the default type");
  }
  default_dtype.store(t.toScalarType(), std::memory_order_relaxed);
}

TypeMeta get_default_dtype() {
  return get_default_dtype_as_scalartype();
}

ScalarType get_default_dtype_as_scalartype() {
  return default_dtype.load(std::memory_order_relaxed);
}

namespace detail {

double loadElement(const void* base, ScalarType t, int64_t i) {
  return visitType(t, [&]<typename T>() { return static_cast<double>(loadAs<T>(base, i)); });
}

void storeElement(void* base, ScalarType t, int64_t i, double v) {
  visitType(t, [&]<typename T>() { storeAs<T>(base, i, castTo<T>(v)); });
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
