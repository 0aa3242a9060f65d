#pragma once
// Tensor indexing as in libtorch: x.index({Slice(), 1}), Slice(start, stop, step), None, Ellipsis.
#include <cstdint>
#include <initializer_list>
#include <optional>

#include "kiln/error.h"

namespace kiln::indexing {

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

/// A Python-style slice; omitted bounds cover the whole dimension.
class Slice {
 public:
  Slice(SliceBound start = std::nullopt, SliceBound stop = std::nullopt,
        SliceBound step = std::nullopt)
      : start_(start.value()), stop_(stop.value()), step_(step.value()) {
    // As libtorch's Slice, which refuses a zero step when it is built.
    if (step_ == 0) throw Error("slice step cannot be zero");
  }
  std::optional<int64_t> start() const { return start_; }
  std::optional<int64_t> stop() const { return stop_; }
  std::optional<int64_t> step() const { return step_; }

 private:
  std::optional<int64_t> start_, stop_, step_;
};

/// One entry of an index list: an integer, a Slice, None, Ellipsis or a bool.
class TensorIndex {
 public:
  enum class Kind { Integer, Slice, None, Ellipsis, Boolean };
  TensorIndex(int64_t i) : kind_(Kind::Integer), integer_(i) {}
  TensorIndex(int i) : kind_(Kind::Integer), integer_(i) {}
  TensorIndex(bool b) : kind_(Kind::Boolean), integer_(b) {}
  TensorIndex(Slice s) : kind_(Kind::Slice), slice_(s) {}
  TensorIndex(NoneIndexType) : kind_(Kind::None) {}
  TensorIndex(EllipsisIndexType) : kind_(Kind::Ellipsis) {}

  Kind kind() const { return kind_; }
  int64_t integer() const { return integer_; }
  const Slice& slice() const { return slice_; }

 private:
  Kind kind_;
  int64_t integer_ = 0;
  Slice slice_;
};

}  // namespace kiln::indexing
