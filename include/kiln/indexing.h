#pragma once
// Tensor indexing as in libtorch: x.index({Slice(), 1}), Slice(start, stop, step), None, Ellipsis
// (or "..."), integers and bools.
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "kiln/error.h"

namespace kiln {
class Tensor;
namespace detail {
struct TensorImpl;
}
}  // namespace kiln

namespace kiln::indexing {

/// The bounds an omitted Slice bound stands for, as libtorch's.
inline constexpr int64_t INDEX_MAX = std::numeric_limits<int64_t>::max();
inline constexpr int64_t INDEX_MIN = std::numeric_limits<int64_t>::min();

struct NoneIndexType {};
struct EllipsisIndexType {};
/// Inserts a new dimension of size 1, as Python's None.
inline constexpr NoneIndexType None{};
/// Stands for as many full slices as needed, as Python's `...`.
inline constexpr EllipsisIndexType Ellipsis{};

/// A slice bound: an integer, or absent (std::nullopt or None), as libtorch's optional bounds.
class SliceBound {
 public:
  SliceBound(int64_t v) : value_(v) {}
  SliceBound(int v) : value_(v) {}
  SliceBound(std::nullopt_t) {}
  SliceBound(NoneIndexType) {}
  SliceBound(std::optional<int64_t> v) : value_(v) {}
  std::optional<int64_t> value() const { return value_; }

 private:
  std::optional<int64_t> value_;
};

/// A Python-style slice, as at::indexing::Slice: an omitted step is 1 (a zero step throws), an
/// omitted start 0 (INDEX_MAX for a negative step) and an omitted stop INDEX_MAX (INDEX_MIN for a
/// negative step).
class Slice {
 public:
  Slice(SliceBound start = std::nullopt, SliceBound stop = std::nullopt,
        SliceBound step = std::nullopt) {
    step_ = step.value().value_or(1);
    if (step_ == 0) throw Error("slice step cannot be zero");
    // -INDEX_MAX stands for INDEX_MIN, so that negating a step never overflows.
    if (step_ < -INDEX_MAX) step_ = -INDEX_MAX;
    start_ = start.value().value_or(step_ < 0 ? INDEX_MAX : 0);
    stop_ = stop.value().value_or(step_ < 0 ? INDEX_MIN : INDEX_MAX);
  }
  int64_t start() const { return start_; }
  int64_t stop() const { return stop_; }
  int64_t step() const { return step_; }

 private:
  int64_t start_, stop_, step_;
};

/// One entry of an index list: an integer, a Slice, None, Ellipsis ("..." too) or a bool. A bool
/// index is only a real `bool`: a pointer or a string is not one.
class TensorIndex {
 public:
  enum class Kind { Integer, Slice, None, Ellipsis, Boolean, Tensor };
  TensorIndex(int64_t i) : kind_(Kind::Integer), integer_(i) {}
  TensorIndex(int i) : kind_(Kind::Integer), integer_(i) {}
  template <typename T, std::enable_if_t<std::is_same_v<T, bool>, int> = 0>
  TensorIndex(T b) : kind_(Kind::Boolean), integer_(b) {}
  TensorIndex(Slice s) : kind_(Kind::Slice), slice_(s) {}
  TensorIndex(NoneIndexType) : kind_(Kind::None) {}
  TensorIndex(std::nullopt_t) : kind_(Kind::None) {}
  TensorIndex(EllipsisIndexType) : kind_(Kind::Ellipsis) {}
  /// An index tensor (advanced indexing): integers select positions along a dimension, a bool
  /// (or uint8) mask selects the positions where it is true over as many dimensions as it has.
  template <typename T, std::enable_if_t<std::is_same_v<T, kiln::Tensor>, int> = 0>
  TensorIndex(const T& tensor) : kind_(Kind::Tensor), tensor_(tensor.impl()) {}
  /// "..." is Ellipsis; any other string throws libtorch's error.
  TensorIndex(const char* str) : kind_(Kind::Ellipsis) {
    if (std::strcmp(str, "...") != 0) {
      throw Error(std::string("Expected \"...\" to represent an ellipsis index, but got \"") + str +
                  "\"");
    }
  }

  Kind kind() const { return kind_; }
  bool is_integer() const { return kind_ == Kind::Integer; }
  bool is_slice() const { return kind_ == Kind::Slice; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_ellipsis() const { return kind_ == Kind::Ellipsis; }
  bool is_boolean() const { return kind_ == Kind::Boolean; }
  bool is_tensor() const { return kind_ == Kind::Tensor; }
  /// The index tensor's implementation (kiln::Tensor(impl) makes the tensor).
  const std::shared_ptr<detail::TensorImpl>& tensor_impl() const { return tensor_; }
  int64_t integer() const { return integer_; }
  bool boolean() const { return integer_ != 0; }
  const Slice& slice() const { return slice_; }

 private:
  Kind kind_;
  int64_t integer_ = 0;
  Slice slice_;
  std::shared_ptr<detail::TensorImpl> tensor_;
};

}  // namespace kiln::indexing
