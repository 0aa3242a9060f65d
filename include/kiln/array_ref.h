#pragma once
// IntArrayRef: a non-owning list of int64 (sizes, strides, dims), as c10::IntArrayRef; ArrayRef<T>
// for other element types (TensorList is ArrayRef<Tensor>).
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

namespace kiln {

/// A view of contiguous int64 values. Accepts `{2, 3}`, a std::vector, or a single integer.
/// It does not own its data: a braced list lives until the end of the full expression.
class IntArrayRef {
 public:
  IntArrayRef() = default;
  IntArrayRef(const int64_t& single) : data_(&single), size_(1) {}
  IntArrayRef(const std::vector<int64_t>& v) : data_(v.data()), size_(v.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
  IntArrayRef(std::initializer_list<int64_t> l) : data_(l.begin()), size_(l.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  IntArrayRef(const int64_t* data, size_t size) : data_(data), size_(size) {}

  const int64_t* data() const {
    return data_;
  }
  size_t size() const {
    return size_;
  }
  bool empty() const {
    return size_ == 0;
  }
  const int64_t* begin() const {
    return data_;
  }
  const int64_t* end() const {
    return data_ + size_;
  }
  int64_t operator[](size_t i) const {
    return data_[i];
  }
  int64_t front() const {
    return data_[0];
  }
  int64_t back() const {
    return data_[size_ - 1];
  }
  std::vector<int64_t> vec() const {
    return {begin(), end()};
  }
  bool equals(IntArrayRef o) const;

 private:
  const int64_t* data_ = nullptr;
  size_t size_ = 0;
};

inline bool operator==(IntArrayRef a, IntArrayRef b) {
  return a.equals(b);
}
inline bool operator!=(IntArrayRef a, IntArrayRef b) {
  return !a.equals(b);
}
/// Prints as `[5, 3]`, as libtorch does.
std::ostream& operator<<(std::ostream& os, IntArrayRef a);

/// A view of contiguous values of type T, as c10::ArrayRef<T>: accepts one value, a braced list
/// or a std::vector, and owns nothing (a braced list lives until the end of the full expression).
template <typename T>
class ArrayRef {
 public:
  ArrayRef() = default;
  ArrayRef(const T& single) : data_(&single), size_(1) {}
  ArrayRef(const std::vector<T>& v) : data_(v.data()), size_(v.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
  ArrayRef(const std::initializer_list<T>& l) : data_(l.begin()), size_(l.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  ArrayRef(const T* data, size_t size) : data_(data), size_(size) {}

  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  const T& operator[](size_t i) const { return data_[i]; }
  std::vector<T> vec() const { return {begin(), end()}; }

 private:
  const T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kiln
