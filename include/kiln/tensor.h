#pragma once
// kiln::Tensor: a lazy tensor with libtorch's interface. Operations record graph nodes; values are
// computed (fused, compiled, cached, run) only when they are needed.
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "kiln/array_ref.h"
#include "kiln/device.h"
#include "kiln/indexing.h"
#include "kiln/options.h"
#include "kiln/scalar.h"
#include "kiln/scalar_type.h"

namespace kiln {

namespace detail {
struct TensorImpl;
}
namespace autograd {
class Node;
}

/// A handle to a tensor; copies share the same tensor (as in libtorch).
class Tensor {
 public:
  /// An undefined tensor (defined() is false).
  Tensor() = default;
  explicit Tensor(std::shared_ptr<detail::TensorImpl> impl);
  Tensor(const Tensor&) = default;
  Tensor(Tensor&&) noexcept = default;
  ~Tensor() = default;

  /// Assigning to a named tensor rebinds the handle, as in libtorch.
  Tensor& operator=(const Tensor&) & = default;
  Tensor& operator=(Tensor&&) & noexcept = default;
  /// Assigning to a temporary writes into it, as libtorch's `operator=(...) &&`: `t[0][1] = 1`
  /// fills, `t.index({0}) = other` copies (broadcasting), into t's storage (`copy_`, `fill_`).
  Tensor& operator=(const Tensor& src) &&;
  Tensor& operator=(Tensor&& src) &&;
  Tensor& operator=(const Scalar& value) &&;

  bool defined() const { return impl_ != nullptr; }

  // --- information (never forces computation) ---
  IntArrayRef sizes() const;
  IntArrayRef strides() const;
  /// Size of dimension `dim`; negative counts from the end.
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const;
  int64_t ndimension() const { return dim(); }
  int64_t numel() const;
  int64_t storage_offset() const;
  ScalarType dtype() const;
  ScalarType scalar_type() const { return dtype(); }
  Device device() const;
  /// This tensor's dtype and device (requires_grad is left unset, as in libtorch).
  TensorOptions options() const;
  bool is_contiguous() const;
  bool is_cuda() const { return device().is_cuda(); }
  bool is_floating_point() const;
  /// Whether the dtype holds negative numbers (all but kBool and kByte).
  bool is_signed() const { return dtype() != ScalarType::Bool && dtype() != ScalarType::Byte; }
  /// The CUDA device's index, -1 for the CPU.
  int64_t get_device() const { return device().is_cuda() ? device().index() : -1; }
  /// kStrided: kiln has no sparse layouts.
  Layout layout() const { return kStrided; }
  /// Whether both handles refer to the same tensor.
  bool is_same(const Tensor& other) const noexcept { return impl_ == other.impl_; }
  int64_t element_size() const;
  /// Whether the value is pending in the graph (not yet computed).
  bool is_lazy() const;

  // --- autograd (see kiln/autograd.h) ---
  bool requires_grad() const;
  const Tensor& requires_grad_(bool requires_grad = true) const;
  Tensor& set_requires_grad(bool requires_grad) {
    requires_grad_(requires_grad);
    return *this;
  }
  /// True for tensors not produced by a recorded op (created by the user, or not requiring grad).
  bool is_leaf() const;
  /// The backward function that produced this tensor, or null for leaves.
  std::shared_ptr<autograd::Node> grad_fn() const;
  /// The accumulated gradient (undefined until a backward pass reaches this tensor), as
  /// libtorch's a reference to the slot.
  const Tensor& grad() const;
  /// The gradient slot itself, for assignment (`t.mutable_grad() = ...`).
  Tensor& mutable_grad() const;
  /// Makes a non-leaf tensor keep its gradient in grad() during backward.
  void retain_grad() const;
  bool retains_grad() const;
  /// Computes gradients of this tensor with respect to the leaves that require grad and adds
  /// them to their grad(): kiln::autograd::backward({*this}, {gradient}, ...). `gradient` is
  /// required unless this tensor has one element; `inputs` (not empty) limits the tensors whose
  /// grad() is written to those.
  void backward(const Tensor& gradient = {}, std::optional<bool> retain_graph = std::nullopt,
                bool create_graph = false,
                std::optional<ArrayRef<Tensor>> inputs = std::nullopt) const;
  /// Which output of its grad_fn this tensor is (0 for leaves and single-output ops).
  int64_t output_nr() const;
  /// Makes this tensor a leaf that does not require grad (libtorch's error for a view).
  Tensor& detach_() const;
  /// Replaces this tensor's data (storage, sizes, dtype) by new_data's, keeping its autograd
  /// state, as libtorch's set_data.
  void set_data(const Tensor& new_data) const;
  /// The number of in-place modifications of this tensor's storage.
  uint32_t _version() const;

  // --- values out (these materialise) ---
  template <typename T>
  T item() const;
  Scalar item() const;
  template <typename T>
  T* data_ptr() const;
  void* data_ptr() const;
  /// Computes this tensor's value now.
  const Tensor& eval() const;

  // --- conversion (libtorch's overloads: a device, "cuda:0" or {kCUDA, 0} is a TensorOptions) ---
  /// The tensor with the dtype and device `options` set (the others kept): this tensor itself
  /// when nothing changes and `copy` is false. `options` may not set requires_grad (libtorch's
  /// error). memory_format: Contiguous and Preserve give kiln's contiguous copies.
  Tensor to(TensorOptions options = {}, bool non_blocking = false, bool copy = false,
            std::optional<MemoryFormat> memory_format = std::nullopt) const;
  Tensor to(Device device, ScalarType dtype, bool non_blocking = false, bool copy = false,
            std::optional<MemoryFormat> memory_format = std::nullopt) const;
  Tensor to(ScalarType dtype, bool non_blocking = false, bool copy = false,
            std::optional<MemoryFormat> memory_format = std::nullopt) const;
  /// The tensor with `other`'s dtype and device.
  Tensor to(const Tensor& other, bool non_blocking = false, bool copy = false,
            std::optional<MemoryFormat> memory_format = std::nullopt) const;
  /// This tensor with other's dtype and device: to(other.options()).
  Tensor type_as(const Tensor& other) const;
  Tensor cpu() const;
  Tensor clone() const;
  /// clone(); Contiguous and Preserve give kiln's contiguous copy, the channels-last formats
  /// throw "not supported yet".
  Tensor clone(std::optional<MemoryFormat> memory_format) const;
  Tensor detach() const;
  /// A tensor sharing this one's storage without its autograd history, as libtorch's data():
  /// unlike detach(), in-place changes through it are not counted by the version check of
  /// backward (it has a version counter of its own).
  Tensor data() const;
  Tensor contiguous() const;
  /// contiguous(); Preserve throws libtorch's error, the channels-last formats "not supported
  /// yet".
  Tensor contiguous(MemoryFormat memory_format) const;

  // --- views (share storage with this tensor) ---
  Tensor view(IntArrayRef size) const;
  Tensor reshape(IntArrayRef shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor permute(IntArrayRef dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;
  Tensor expand(IntArrayRef size) const;
  Tensor expand_as(const Tensor& other) const;
  Tensor view_as(const Tensor& other) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  /// A view of this tensor's storage with the given sizes, strides and storage offset (this
  /// tensor's offset when omitted), as torch.as_strided. Overlapping views (a stride 0 over a
  /// size > 1, as expand makes) are allowed; their gradient sums the overlapping positions.
  Tensor as_strided(IntArrayRef size, IntArrayRef stride,
                    std::optional<int64_t> storage_offset = std::nullopt) const;
  Tensor index(std::initializer_list<indexing::TensorIndex> indices) const;
  Tensor index(const std::vector<indexing::TensorIndex>& indices) const;
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, const Tensor& value);
  Tensor& index_put_(std::initializer_list<indexing::TensorIndex> indices, const Scalar& value);
  Tensor& index_put_(const std::vector<indexing::TensorIndex>& indices, const Tensor& value);
  Tensor& index_put_(const std::vector<indexing::TensorIndex>& indices, const Scalar& value);
  /// index_put_ that adds `values` at the indexed positions with `accumulate` (repeated
  /// positions add up), or stores them (one of the repeated positions' values stays).
  Tensor& index_put_(const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                     bool accumulate) const;
  /// A copy of this tensor with `values` stored at (or added to) the indexed positions.
  Tensor index_put(const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                   bool accumulate = false) const;

  // --- reading and writing the positions an index tensor holds (int64 indices) ---
  /// out[i][j] = self[index[i][j]][j] for dim 0 (torch.gather).
  Tensor gather(int64_t dim, const Tensor& index, bool sparse_grad = false) const;
  /// A copy with self[index[i][j]][j] = src[i][j] for dim 0 (torch.scatter); a repeated position
  /// keeps one of its values.
  Tensor scatter(int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor scatter(int64_t dim, const Tensor& index, const Scalar& value) const;
  Tensor& scatter_(int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor& scatter_(int64_t dim, const Tensor& index, const Scalar& value) const;
  /// scatter that adds: self[index[i][j]][j] += src[i][j] for dim 0.
  Tensor scatter_add(int64_t dim, const Tensor& index, const Tensor& src) const;
  Tensor& scatter_add_(int64_t dim, const Tensor& index, const Tensor& src) const;
  /// The slices at positions `index` (a vector of int32 or int64) along `dim`.
  Tensor index_select(int64_t dim, const Tensor& index) const;
  /// `value` where the bool `mask` (broadcast) is true, self elsewhere.
  Tensor masked_fill(const Tensor& mask, const Scalar& value) const;
  Tensor masked_fill(const Tensor& mask, const Tensor& value) const;
  Tensor& masked_fill_(const Tensor& mask, const Scalar& value) const;
  Tensor& masked_fill_(const Tensor& mask, const Tensor& value) const;
  /// The elements where the bool `mask` (broadcast with self) is true, as a 1-D tensor. Its size
  /// depends on the mask's values, which are read (materialised) now.
  Tensor masked_select(const Tensor& mask) const;
  /// The indices of the nonzero elements, one row each ([n, dim()], int64). Reads the values
  /// (materialises) now: the result's size depends on them.
  Tensor nonzero() const;

  // --- elementwise ---
  Tensor add(const Tensor& other, const Scalar& alpha = 1) const;
  Tensor add(const Scalar& other, const Scalar& alpha = 1) const;
  Tensor sub(const Tensor& other, const Scalar& alpha = 1) const;
  Tensor sub(const Scalar& other, const Scalar& alpha = 1) const;
  Tensor mul(const Tensor& other) const;
  Tensor mul(const Scalar& other) const;
  Tensor div(const Tensor& other) const;
  Tensor div(const Scalar& other) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor pow(const Scalar& exponent) const;
  /// kiln::floor_divide, kiln::remainder, kiln::fmod (see kiln/ops.h).
  Tensor floor_divide(const Tensor& other) const;
  Tensor floor_divide(const Scalar& other) const;
  Tensor remainder(const Tensor& other) const;
  Tensor remainder(const Scalar& other) const;
  Tensor fmod(const Tensor& other) const;
  Tensor fmod(const Scalar& other) const;
  // The unary functions of kiln/unary_ops.def, and their in-place forms: t.exp(), t.exp_(), ...
#define KILN_UNARY_OP(name, op) \
  Tensor name() const;          \
  Tensor& name##_() const;
#include "kiln/unary_ops.def"
#undef KILN_UNARY_OP
  Tensor clamp(std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt) const;
  Tensor maximum(const Tensor& other) const;
  Tensor minimum(const Tensor& other) const;
  Tensor eq(const Tensor& other) const;
  Tensor eq(const Scalar& other) const;
  Tensor ne(const Tensor& other) const;
  Tensor ne(const Scalar& other) const;
  Tensor lt(const Tensor& other) const;
  Tensor lt(const Scalar& other) const;
  Tensor le(const Tensor& other) const;
  Tensor le(const Scalar& other) const;
  Tensor gt(const Tensor& other) const;
  Tensor gt(const Scalar& other) const;
  Tensor ge(const Tensor& other) const;
  Tensor ge(const Scalar& other) const;
  /// kBool tensors: NaN, +-infinity, neither (integers are never NaN or infinite).
  Tensor isnan() const;
  Tensor isinf() const;
  Tensor isfinite() const;
  Tensor logical_and(const Tensor& other) const;
  Tensor logical_or(const Tensor& other) const;

  // --- in place (return *this; visible through every view of the same storage). As in libtorch
  // they are const members: a tensor is a handle, and writing through a const handle is allowed.
  Tensor& add_(const Tensor& other, const Scalar& alpha = 1) const;
  Tensor& add_(const Scalar& other, const Scalar& alpha = 1) const;
  Tensor& sub_(const Tensor& other, const Scalar& alpha = 1) const;
  Tensor& sub_(const Scalar& other, const Scalar& alpha = 1) const;
  Tensor& mul_(const Tensor& other) const;
  Tensor& mul_(const Scalar& other) const;
  Tensor& div_(const Tensor& other) const;
  Tensor& div_(const Scalar& other) const;
  Tensor& floor_divide_(const Tensor& other) const;
  Tensor& floor_divide_(const Scalar& other) const;
  Tensor& remainder_(const Tensor& other) const;
  Tensor& remainder_(const Scalar& other) const;
  Tensor& fmod_(const Tensor& other) const;
  Tensor& fmod_(const Scalar& other) const;
  Tensor& clamp_(std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt) const;
  Tensor& fill_(const Scalar& value) const;
  Tensor& fill_(const Tensor& value) const;
  Tensor& zero_() const;
  Tensor& copy_(const Tensor& src, bool non_blocking = false) const;

  // --- reductions ---
  Tensor sum(std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor sum(IntArrayRef dim, bool keepdim = false,
             std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor mean(std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor mean(IntArrayRef dim, bool keepdim = false,
              std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor prod(std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor prod(int64_t dim, bool keepdim = false,
              std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor amax(IntArrayRef dim = {}, bool keepdim = false) const;
  Tensor amin(IntArrayRef dim = {}, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  std::tuple<Tensor, Tensor> max(int64_t dim, bool keepdim = false) const;
  std::tuple<Tensor, Tensor> min(int64_t dim, bool keepdim = false) const;
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor argmin(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor var(bool unbiased = true) const;
  Tensor var(IntArrayRef dim, bool unbiased = true, bool keepdim = false) const;
  Tensor std(bool unbiased = true) const;
  Tensor std(IntArrayRef dim, bool unbiased = true, bool keepdim = false) const;
  /// var(0), std(0): an int is a dimension, not `unbiased` (libtorch's C++-only overloads).
  Tensor var(int dim) const {
    return var(IntArrayRef{dim});
  }
  Tensor std(int dim) const {
    return std(IntArrayRef{dim});
  }
  /// Whether every (any) element is nonzero, as a kBool tensor; over one dimension with `dim`.
  Tensor all() const;
  Tensor all(int64_t dim, bool keepdim = false) const;
  Tensor any() const;
  Tensor any(int64_t dim, bool keepdim = false) const;
  /// The p-norm (p = 2, 1, 0, +-inf or any other number) of all elements, or over `dim`.
  Tensor norm(const Scalar& p = 2) const;
  Tensor norm(std::optional<Scalar> p, IntArrayRef dim, bool keepdim = false) const;
  Tensor softmax(int64_t dim, std::optional<ScalarType> dtype = std::nullopt) const;
  Tensor log_softmax(int64_t dim, std::optional<ScalarType> dtype = std::nullopt) const;

  // --- linear algebra ---
  Tensor matmul(const Tensor& other) const;
  Tensor mm(const Tensor& mat2) const;
  Tensor bmm(const Tensor& mat2) const;

  // --- comparisons of whole tensors (these materialise) ---
  bool allclose(const Tensor& other, double rtol = 1e-05, double atol = 1e-08,
                bool equal_nan = false) const;
  bool equal(const Tensor& other) const;

  // --- indexing sugar, as libtorch's ---
  Tensor operator[](int64_t index) const {
    return select(0, index);
  }
  /// An integral number (a bool or a floating Scalar throws libtorch's error).
  Tensor operator[](const Scalar& index) const;
  /// A defined 0-dim tensor holding an integer.
  Tensor operator[](const Tensor& index) const;

  /// The graph of pending work behind this tensor, one SSA line per node.
  std::string graph_text() const;

  const std::shared_ptr<detail::TensorImpl>& impl() const {
    return impl_;
  }

 private:
  std::shared_ptr<detail::TensorImpl> impl_;
};

/// A list of tensors passed by reference, as libtorch's TensorList.
using TensorList = ArrayRef<Tensor>;

// --- operators, as in libtorch ---
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, const Scalar& b);
Tensor operator+(const Scalar& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Scalar& b);
Tensor operator-(const Scalar& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Scalar& b);
Tensor operator*(const Scalar& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Scalar& b);
Tensor operator/(const Scalar& a, const Tensor& b);
/// kiln::remainder (the remainder takes the divisor's sign).
Tensor operator%(const Tensor& a, const Tensor& b);
Tensor operator%(const Tensor& a, const Scalar& b);
Tensor operator%(const Scalar& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Scalar& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Scalar& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Scalar& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Scalar& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Scalar& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Scalar& b);
Tensor operator&&(const Tensor& a, const Tensor& b);
Tensor operator||(const Tensor& a, const Tensor& b);
Tensor operator!(const Tensor& a);
Tensor& operator+=(Tensor& a, const Tensor& b);
Tensor& operator+=(Tensor& a, const Scalar& b);
Tensor& operator-=(Tensor& a, const Tensor& b);
Tensor& operator-=(Tensor& a, const Scalar& b);
Tensor& operator*=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, const Scalar& b);
Tensor& operator/=(Tensor& a, const Tensor& b);
Tensor& operator/=(Tensor& a, const Scalar& b);

/// Prints as PyTorch's print(tensor) does; materialises the tensor.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace kiln
