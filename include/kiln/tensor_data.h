#pragma once
// TensorDataContainer: nested braced lists for kiln::tensor({{1, 2}, {3, 4}}), with the rules of
// libtorch's torch::detail::TensorDataContainer.
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <type_traits>
#include <vector>

#include "kiln/scalar.h"
#include "kiln/scalar_type.h"

namespace kiln {

/// A scalar, a std::vector of scalars, or a braced list of these. As in libtorch, each scalar
/// keeps the type of its C++ literal (bool, int, int64_t, float, double), and a list whose
/// elements differ in sizes or in that type throws when it is built (`{1, 2.5}` mixes int and
/// double and is refused, as libtorch refuses it). An empty list `{}` is a float tensor of size 0.
class TensorDataContainer {
 public:
  TensorDataContainer() : sizes_({0}), scalar_type_(ScalarType::Float), is_scalar_(false) {}
  TensorDataContainer(bool v) : scalar_(v), scalar_type_(ScalarType::Bool), is_scalar_(true) {}
  TensorDataContainer(uint8_t v) : scalar_(v), scalar_type_(ScalarType::Byte), is_scalar_(true) {}
  TensorDataContainer(int8_t v) : scalar_(v), scalar_type_(ScalarType::Char), is_scalar_(true) {}
  TensorDataContainer(int16_t v) : scalar_(v), scalar_type_(ScalarType::Short), is_scalar_(true) {}
  TensorDataContainer(int v) : scalar_(v), scalar_type_(ScalarType::Int), is_scalar_(true) {}
  TensorDataContainer(int64_t v) : scalar_(v), scalar_type_(ScalarType::Long), is_scalar_(true) {}
  TensorDataContainer(float v) : scalar_(v), scalar_type_(ScalarType::Float), is_scalar_(true) {}
  TensorDataContainer(double v) : scalar_(v), scalar_type_(ScalarType::Double), is_scalar_(true) {}
  TensorDataContainer(Half v) : scalar_(v), scalar_type_(ScalarType::Half), is_scalar_(true) {}
  TensorDataContainer(BFloat16 v)
      : scalar_(v), scalar_type_(ScalarType::BFloat16), is_scalar_(true) {}
  TensorDataContainer(std::initializer_list<TensorDataContainer> list)
      : elements_(list), is_scalar_(false) {
    checkList();
  }
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_same_v<T, Half> ||
                                             std::is_same_v<T, BFloat16>,
                                         int> = 0>
  TensorDataContainer(const std::vector<T>& v)
      : sizes_({static_cast<int64_t>(v.size())}), scalar_type_(typeOf<T>()), is_scalar_(false) {
    elements_.reserve(v.size());
    for (const T& x : v) elements_.emplace_back(static_cast<Literal<T>>(x));
  }

  bool is_scalar() const { return is_scalar_; }
  const Scalar& scalar() const { return scalar_; }
  const std::vector<TensorDataContainer>& elements() const { return elements_; }
  /// The sizes of the tensor this container makes ({} for a scalar).
  const std::vector<int64_t>& sizes() const { return sizes_; }
  /// The type of the literals (int and long literals give kInt and kLong).
  ScalarType scalar_type() const { return scalar_type_; }

 private:
  // The literal type a std::vector's elements are held as: its own where it is an element type,
  // else the int, int64_t or double it converts to.
  template <typename T>
  using Literal =
      std::conditional_t<std::is_same_v<T, bool> || std::is_same_v<T, uint8_t> ||
                             std::is_same_v<T, int8_t> || std::is_same_v<T, int16_t> ||
                             std::is_same_v<T, float> || std::is_same_v<T, Half> ||
                             std::is_same_v<T, BFloat16>,
                         T,
                         std::conditional_t<std::is_floating_point_v<T>, double,
                                            std::conditional_t<(sizeof(T) <= 4), int, int64_t>>>;
  template <typename T>
  static constexpr ScalarType typeOf() {
    using L = Literal<T>;
#define KILN_LITERAL_TYPE(type, name) \
  if constexpr (std::is_same_v<L, type>) return ScalarType::name;
    KILN_FORALL_SCALAR_TYPES(KILN_LITERAL_TYPE)
#undef KILN_LITERAL_TYPE
    return ScalarType::Long;
  }
  // Sets sizes and type from the first element; throws libtorch's error for an element whose
  // sizes or type differ from the first's.
  void checkList();

  Scalar scalar_;
  std::vector<TensorDataContainer> elements_;
  std::vector<int64_t> sizes_;
  ScalarType scalar_type_ = ScalarType::Float;
  bool is_scalar_;
};

/// Prints the container as libtorch does in its messages: `{1, 2}`, `{{1.5, 2}}`.
std::ostream& operator<<(std::ostream& os, const TensorDataContainer& c);

}  // namespace kiln
