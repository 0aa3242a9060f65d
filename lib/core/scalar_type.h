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
/// int32_t, int64_t, float, double), as PyTorch's AT_DISPATCH macros do.
template <typename F>
decltype(auto) visitType(ScalarType t, F&& f) {
  switch (t) {
    case ScalarType::Bool:
      return f.template operator()<bool>();
    case ScalarType::Int:
      return f.template operator()<int32_t>();
    case ScalarType::Long:
      return f.template operator()<int64_t>();
    case ScalarType::Float:
      return f.template operator()<float>();
    case ScalarType::Double:
      break;
  }
  return f.template operator()<double>();
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

/// Element i of an array of type t, as a double.
double loadElement(const void* base, ScalarType t, int64_t i);
/// Stores v as element i of an array of type t, converted as static_cast does (bool: v != 0).
void storeElement(void* base, ScalarType t, int64_t i, double v);

/// libtorch's legacy tensor type name: "torch.FloatTensor".
std::string_view legacyTypeName(ScalarType t);
/// The C++ type name PyTorch's messages print (caffe2::TypeMeta::name()): "float", "long int".
std::string_view typeMetaName(ScalarType t);
/// The type whose IR name (f32, i64, ...) is `name`, or false.
bool scalarTypeFromIrName(std::string_view name, ScalarType* out);

}  // namespace kiln::detail
