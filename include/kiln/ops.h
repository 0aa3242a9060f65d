#pragma once
// Free functions: tensor creation and the kiln:: forms of every operation (libtorch's names).
#include <cstdint>
#include <functional>
#include <optional>
#include <tuple>
#include <vector>

#include "kiln/tensor.h"
#include "kiln/tensor_data.h"

namespace kiln {

// --- creation ---
/// Uninitialised memory, allocated at once.
Tensor empty(IntArrayRef size, TensorOptions options = {});
Tensor zeros(IntArrayRef size, TensorOptions options = {});
Tensor ones(IntArrayRef size, TensorOptions options = {});
Tensor full(IntArrayRef size, const Scalar& fill_value, TensorOptions options = {});
/// Uniform on [0, 1), from the counter-based generator (see manual_seed).
Tensor rand(IntArrayRef size, TensorOptions options = {});
/// Standard normal, from the counter-based generator.
Tensor randn(IntArrayRef size, TensorOptions options = {});
/// Integers uniform on [low, high); kLong unless options say otherwise.
Tensor randint(int64_t low, int64_t high, IntArrayRef size, TensorOptions options = kLong);
Tensor randint(int64_t high, IntArrayRef size, TensorOptions options = kLong);
Tensor arange(const Scalar& end, TensorOptions options = {});
Tensor arange(const Scalar& start, const Scalar& end, TensorOptions options = {});
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step,
              TensorOptions options = {});
Tensor linspace(const Scalar& start, const Scalar& end, int64_t steps, TensorOptions options = {});
Tensor eye(int64_t n, TensorOptions options = {});
Tensor eye(int64_t n, int64_t m, TensorOptions options = {});
// The *_like forms: t's sizes, dtype and device unless `options` say otherwise. kiln's results
// are contiguous: memory_format Contiguous or Preserve; the channels-last formats throw "not
// supported yet".
Tensor empty_like(const Tensor& t, TensorOptions options = {},
                  std::optional<MemoryFormat> memory_format = std::nullopt);
Tensor zeros_like(const Tensor& t, TensorOptions options = {},
                  std::optional<MemoryFormat> memory_format = std::nullopt);
Tensor ones_like(const Tensor& t, TensorOptions options = {},
                 std::optional<MemoryFormat> memory_format = std::nullopt);
Tensor full_like(const Tensor& t, const Scalar& fill_value, TensorOptions options = {},
                 std::optional<MemoryFormat> memory_format = std::nullopt);
Tensor rand_like(const Tensor& t, TensorOptions options = {},
                 std::optional<MemoryFormat> memory_format = std::nullopt);
Tensor randn_like(const Tensor& t, TensorOptions options = {},
                  std::optional<MemoryFormat> memory_format = std::nullopt);
/// Seeds the generator used by rand/randn/randint; the same seed gives the same numbers
/// whatever the fusion.
void manual_seed(uint64_t seed);

/// Nested braced lists of numbers: tensor({5.5, 3.0}), tensor({{1, 2}, {3, 4}}). Integers give
/// kLong, floating numbers kFloat, bools kBool, unless options give a dtype.

Tensor tensor(const TensorDataContainer& data, TensorOptions options = {});

/// Wraps caller memory without copying. Pending work reads it when it is materialised, and
/// in-place results land in it when they are materialised, or at the latest when the last tensor
/// on it goes. The memory must stay valid while a tensor or pending work reads it.
Tensor from_blob(void* data, IntArrayRef sizes, TensorOptions options = {});
Tensor from_blob(void* data, IntArrayRef sizes, IntArrayRef strides, TensorOptions options = {});
/// from_blob that hands the memory back: `deleter(data)` runs once, when no tensor and no pending
/// work reads the memory any more (work recorded on the tensor may outlive it).
Tensor from_blob(void* data, IntArrayRef sizes, const std::function<void(void*)>& deleter,
                 TensorOptions options = {});
Tensor from_blob(void* data, IntArrayRef sizes, IntArrayRef strides,
                 const std::function<void(void*)>& deleter, TensorOptions options = {});

// --- elementwise ---
Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha = 1);
Tensor add(const Tensor& a, const Scalar& b, const Scalar& alpha = 1);
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha = 1);
Tensor sub(const Tensor& a, const Scalar& b, const Scalar& alpha = 1);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Scalar& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Scalar& b);
Tensor pow(const Tensor& a, const Tensor& exponent);
Tensor pow(const Tensor& a, const Scalar& exponent);
Tensor pow(const Scalar& a, const Tensor& exponent);
// The unary functions of kiln/unary_ops.def: neg, abs, exp, log, sqrt, ... (one per row).
#define KILN_UNARY_OP(name, op) Tensor name(const Tensor& a);
#include "kiln/unary_ops.def"
#undef KILN_UNARY_OP
Tensor clamp(const Tensor& a, std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
/// The functions of the Tensor members of the same names (kiln/tensor.h).
Tensor gather(const Tensor& self, int64_t dim, const Tensor& index, bool sparse_grad = false);
Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& self, int64_t dim, const Tensor& index, const Scalar& value);
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index);
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Scalar& value);
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Tensor& value);
Tensor masked_select(const Tensor& self, const Tensor& mask);
Tensor nonzero(const Tensor& self);
Tensor index_put(const Tensor& self, const std::vector<indexing::TensorIndex>& indices,
                 const Tensor& values, bool accumulate = false);
/// The rows of `weight` at `indices` (int32 or int64): a tensor of indices' shape + [D]. Row
/// `padding_idx` (when >= 0) gets no gradient. scale_grad_by_freq and sparse are not supported
/// yet.
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx = -1,
                 bool scale_grad_by_freq = false, bool sparse = false);
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Scalar& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, const Scalar& b);
Tensor where(const Tensor& condition, const Scalar& a, const Scalar& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
/// The quotient rounded toward negative infinity (Python's //), in the promoted type. Dividing
/// integers by the number 0 throws ZeroDivisionError, as in libtorch; an integer divided by a
/// zero element of a tensor gives 0 (a kernel cannot raise).
Tensor floor_divide(const Tensor& a, const Tensor& b);
Tensor floor_divide(const Tensor& a, const Scalar& b);
/// a - b * floor_divide(a, b): the remainder takes the divisor's sign (Python's %, the `%`
/// operator). Integer division by zero as floor_divide.
Tensor remainder(const Tensor& a, const Tensor& b);
Tensor remainder(const Tensor& a, const Scalar& b);
Tensor remainder(const Scalar& a, const Tensor& b);
/// C's fmod: the remainder of the quotient truncated toward zero, taking the dividend's sign.
/// Integer division by zero as floor_divide.
Tensor fmod(const Tensor& a, const Tensor& b);
Tensor fmod(const Tensor& a, const Scalar& b);

// --- out= forms (libtorch order: out first) ---
Tensor& add_out(Tensor& out, const Tensor& a, const Tensor& b, const Scalar& alpha = 1);
Tensor& sub_out(Tensor& out, const Tensor& a, const Tensor& b, const Scalar& alpha = 1);
Tensor& mul_out(Tensor& out, const Tensor& a, const Tensor& b);
Tensor& div_out(Tensor& out, const Tensor& a, const Tensor& b);

// --- shape ---
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor reshape(const Tensor& a, IntArrayRef shape);
Tensor flatten(const Tensor& a, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor squeeze(const Tensor& a);
Tensor squeeze(const Tensor& a, int64_t dim);
Tensor unsqueeze(const Tensor& a, int64_t dim);
Tensor permute(const Tensor& a, IntArrayRef dims);
Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1);
Tensor t(const Tensor& a);
Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& a, int64_t dim, int64_t index);
Tensor as_strided(const Tensor& a, IntArrayRef size, IntArrayRef stride,
                  std::optional<int64_t> storage_offset = std::nullopt);

// --- reductions ---
Tensor sum(const Tensor& a, std::optional<ScalarType> dtype = std::nullopt);
Tensor sum(const Tensor& a, IntArrayRef dim, bool keepdim = false,
           std::optional<ScalarType> dtype = std::nullopt);
Tensor mean(const Tensor& a, std::optional<ScalarType> dtype = std::nullopt);
Tensor mean(const Tensor& a, IntArrayRef dim, bool keepdim = false,
            std::optional<ScalarType> dtype = std::nullopt);
Tensor prod(const Tensor& a, std::optional<ScalarType> dtype = std::nullopt);
Tensor prod(const Tensor& a, int64_t dim, bool keepdim = false,
            std::optional<ScalarType> dtype = std::nullopt);
Tensor amax(const Tensor& a, IntArrayRef dim = {}, bool keepdim = false);
Tensor amin(const Tensor& a, IntArrayRef dim = {}, bool keepdim = false);
Tensor max(const Tensor& a);
Tensor min(const Tensor& a);
std::tuple<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim = false);
std::tuple<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& a, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& a, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor var(const Tensor& a, bool unbiased = true);
Tensor var(const Tensor& a, IntArrayRef dim, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& a, bool unbiased = true);
Tensor std(const Tensor& a, IntArrayRef dim, bool unbiased = true, bool keepdim = false);
/// var(x, 0), std(x, 0): an int is a dimension, not `unbiased`, as in libtorch.
inline Tensor var(const Tensor& a, int dim) {
  return var(a, IntArrayRef{dim});
}
inline Tensor std(const Tensor& a, int dim) {
  return std(a, IntArrayRef{dim});
}
/// (var, mean) and (std, mean) of the same elements. Their gradients are var's (std's) and
/// mean's, recorded as VarBackward0 (StdBackward0) and MeanBackward0 where libtorch records one
/// VarMeanBackward0 (StdMeanBackward0).
std::tuple<Tensor, Tensor> var_mean(const Tensor& a, bool unbiased = true);
std::tuple<Tensor, Tensor> var_mean(const Tensor& a, IntArrayRef dim, bool unbiased = true,
                                    bool keepdim = false);
std::tuple<Tensor, Tensor> std_mean(const Tensor& a, bool unbiased = true);
std::tuple<Tensor, Tensor> std_mean(const Tensor& a, IntArrayRef dim, bool unbiased = true,
                                    bool keepdim = false);
inline std::tuple<Tensor, Tensor> var_mean(const Tensor& a, int dim) {
  return var_mean(a, IntArrayRef{dim});
}
inline std::tuple<Tensor, Tensor> std_mean(const Tensor& a, int dim) {
  return std_mean(a, IntArrayRef{dim});
}
/// The p-norm of all elements (NormBackward0), or over `dim` (NormBackward1), as torch::norm.
Tensor norm(const Tensor& a, const Scalar& p = 2);
Tensor norm(const Tensor& a, std::optional<Scalar> p, IntArrayRef dim, bool keepdim = false);
/// Whether every (any) element is nonzero, as a kBool tensor.
Tensor all(const Tensor& a);
Tensor all(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor any(const Tensor& a);
Tensor any(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor isnan(const Tensor& a);
Tensor isinf(const Tensor& a);
Tensor isfinite(const Tensor& a);
/// A copy in new memory, as a.clone() (kiln's copies are contiguous whatever the format).
Tensor clone(const Tensor& a, std::optional<MemoryFormat> memory_format = std::nullopt);
Tensor softmax(const Tensor& a, int64_t dim, std::optional<ScalarType> dtype = std::nullopt);
Tensor log_softmax(const Tensor& a, int64_t dim, std::optional<ScalarType> dtype = std::nullopt);

// --- linear algebra ---
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);

// --- comparisons of whole tensors ---
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-05, double atol = 1e-08,
              bool equal_nan = false);
bool equal(const Tensor& a, const Tensor& b);

/// torch.promote_types and torch.can_cast (kiln::promoteTypes and kiln::canCast).
ScalarType promote_types(ScalarType a, ScalarType b);
bool can_cast(ScalarType from, ScalarType to);
/// The dtype PyTorch's type promotion gives for an op on these operands (torch.result_type).
ScalarType result_type(const Tensor& a, const Tensor& b);
ScalarType result_type(const Tensor& a, const Scalar& b);

}  // namespace kiln
