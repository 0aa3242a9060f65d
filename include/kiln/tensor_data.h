#pragma once
// TensorDataContainer: nested braced lists for kiln::tensor({{1, 2}, {3, 4}}).
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "kiln/scalar.h"
#include "kiln/scalar_type.h"

namespace kiln {

/// A scalar or a nested list of scalars; every list at one depth must have the same length.
class TensorDataContainer {
 public:
  TensorDataContainer(bool v) : scalar_(v), is_scalar_(true) {}
  TensorDataContainer(int v) : scalar_(v), is_scalar_(true) {}
  TensorDataContainer(int64_t v) : scalar_(v), is_scalar_(true) {}
  TensorDataContainer(float v) : scalar_(v), is_scalar_(true) {}
  TensorDataContainer(double v) : scalar_(v), is_scalar_(true) {}
  TensorDataContainer(std::initializer_list<TensorDataContainer> list)
      : elements_(list), is_scalar_(false) {}
  template <typename T>
  TensorDataContainer(const std::vector<T>& v) : is_scalar_(false) {
    elements_.reserve(v.size());
    for (const T& x : v) elements_.emplace_back(x);
  }

  bool is_scalar() const { return is_scalar_; }
  const Scalar& scalar() const { return scalar_; }
  const std::vector<TensorDataContainer>& elements() const { return elements_; }

 private:
  Scalar scalar_;
  std::vector<TensorDataContainer> elements_;
  bool is_scalar_;
};

}  // namespace kiln
