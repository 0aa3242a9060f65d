// Tensor information, values out, conversion, printing. The autograd fields are read here;
// what runs or extends the backward graph (backward(), retain_grad(), to(dtype)) is in
// lib/autograd/tensor_autograd.cpp.
#include <absl/strings/str_cat.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <type_traits>

#include "kiln/autograd.h"
#include "kiln/ops.h"
#include "kiln/runtime.h"
#include "kiln/warning.h"
#include "lib/core/format.h"
#include "lib/core/scalar_type.h"
#include "lib/frontend/common.h"
#include "lib/ir/graph.h"

namespace kiln {

using detail::TensorImpl;

Tensor::Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

namespace {
const TensorImpl& implOf(const Tensor& t) {
  if (!t.defined()) throw Error("kiln: the tensor is undefined");
  return *t.impl();
}
// The autograd fields of `t`, a view's history first brought up to date with its base's.
const TensorImpl& historyOf(const Tensor& t) {
  if (!t.defined()) throw Error("kiln: the tensor is undefined");
  detail::refreshViewHistory(t.impl());
  return *t.impl();
}
}  // namespace

IntArrayRef Tensor::sizes() const {
  return implOf(*this).sizes;
}
IntArrayRef Tensor::strides() const {
  return implOf(*this).strides;
}
namespace {
// size(d) and stride(d) wrap d as PyTorch's maybe_wrap_dim without wrap_scalar: a 0-dim tensor
// has no dimension to name (wrapDim would accept 0 and -1 there, as reductions do).
int64_t wrapAccessorDim(int64_t d, int64_t ndim) {
  if (ndim == 0) {
    throw Error(absl::StrCat("Dimension specified as ", d, " but tensor has no dimensions"));
  }
  return detail::wrapDim(d, ndim);
}
}  // namespace

int64_t Tensor::size(int64_t d) const {
  return implOf(*this).sizes[wrapAccessorDim(d, dim())];
}
int64_t Tensor::stride(int64_t d) const {
  return implOf(*this).strides[wrapAccessorDim(d, dim())];
}
int64_t Tensor::dim() const {
  return static_cast<int64_t>(implOf(*this).sizes.size());
}
int64_t Tensor::numel() const {
  return implOf(*this).numel();
}
int64_t Tensor::storage_offset() const {
  return implOf(*this).offset;
}
ScalarType Tensor::dtype() const {
  return implOf(*this).dtype();
}
Device Tensor::device() const {
  return implOf(*this).storage->device;
}
TensorOptions Tensor::options() const {
  return TensorOptions(dtype()).device(device());
}
bool Tensor::is_contiguous() const {
  return implOf(*this).isContiguous();
}
bool Tensor::is_floating_point() const {
  return isFloatingType(dtype());
}
int64_t Tensor::element_size() const {
  return elementSize(dtype());
}
bool Tensor::is_lazy() const {
  const auto& s = *implOf(*this).storage;
  std::lock_guard<std::mutex> lock(detail::engineMutex());
  return !s.value->realized() || s.value->realized() != s.buffer;
}

bool Tensor::requires_grad() const {
  const TensorImpl& impl = historyOf(*this);
  return impl.requires_grad || impl.grad_fn != nullptr;
}
const Tensor& Tensor::requires_grad_(bool r) const {
  if (!is_leaf()) {
    throw Error(
        "you can only change requires_grad flags of leaf variables. If you want to use a computed "
        "variable in a subgraph that doesn't require differentiation use var_no_grad = "
        "var.detach().");
  }
  if (r && !isFloatingType(dtype())) {
    throw Error("only Tensors of floating point and complex dtype can require gradients");
  }
  impl_->requires_grad = r;
  return *this;
}
bool Tensor::is_leaf() const {
  return historyOf(*this).grad_fn == nullptr;
}
std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  return historyOf(*this).grad_fn;
}
const Tensor& Tensor::grad() const {
  const Tensor& g = implOf(*this).grad;
  if (!g.defined() && !is_leaf() && !retains_grad()) {
    Warning::warn(
        {"grad", __FILE__, static_cast<uint32_t>(__LINE__)},
        "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
        "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
        "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf "
        "Tensor. If you access the non-leaf Tensor by mistake, make sure you access the leaf "
        "Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more informations.",
        /*verbatim=*/false);
  }
  return g;
}
Tensor& Tensor::mutable_grad() const {
  return impl_->grad;
}
bool Tensor::retains_grad() const {
  return implOf(*this).retains_grad;
}
int64_t Tensor::output_nr() const {
  return historyOf(*this).output_nr;
}
Tensor& Tensor::detach_() const {
  if (impl_->view_base) {
    throw Error(
        "Can't detach views in-place. Use detach() instead. If you are using "
        "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as True, "
        "gradients are views of DDP buckets, and hence detach_() cannot be called on these "
        "gradients. To fix this error, please refer to the Optimizer.zero_grad() function in "
        "torch/optim/optimizer.py as the solution.");
  }
  impl_->grad_fn = nullptr;
  impl_->output_nr = 0;
  impl_->requires_grad = false;
  return const_cast<Tensor&>(*this);
}
void Tensor::set_data(const Tensor& new_data) const {
  // The tensor takes new_data's storage and geometry (its dtype too) and keeps its own autograd
  // state (requires_grad, grad, history), as libtorch's Variable::set_data.
  const TensorImpl& from = implOf(new_data);
  impl_->storage = from.storage;
  impl_->sizes = from.sizes;
  impl_->strides = from.strides;
  impl_->offset = from.offset;
}
uint32_t Tensor::_version() const {
  return implOf(*this).version();
}

Tensor Tensor::data() const {
  Tensor out = detach();
  // libtorch's variable_data: no autograd relationship, and a version counter of its own.
  out.impl()->view_base = nullptr;
  out.impl()->is_view = false;
  out.impl()->own_version = std::make_shared<uint32_t>(0);
  out.impl()->view_version = 0;
  return out;
}

const Tensor& Tensor::eval() const {
  detail::materialize({implOf(*this).storage.get()}, "Tensor::eval()");
  return *this;
}

void* Tensor::data_ptr() const {
  return detail::dataPointer(*this);
}

template <typename T>
T* Tensor::data_ptr() const {
  constexpr ScalarType expected = detail::ScalarTypeOf<T>::value;
  if (dtype() != expected) {
    throw Error(absl::StrCat("expected scalar type ", std::string(toString(expected)),
                             " but found ", std::string(toString(dtype()))));
  }
  return static_cast<T*>(detail::dataPointer(*this));
}

Scalar Tensor::item() const {
  if (numel() != 1) {
    throw Error(absl::StrCat("a Tensor with ", numel(), " elements cannot be converted to Scalar"));
  }
  const void* p = detail::dataPointer(*this);
  return detail::visitType(dtype(), [&]<typename T>() { return Scalar(detail::loadAs<T>(p, 0)); });
}

namespace {
// c10's checked_convert: a value outside T's range is refused rather than wrapped; infinities
// convert to floating types, and NaN to any type that has one. Any value converts to bool
// (nonzero is true).
template <typename T>
bool overflows(const Scalar& s) {
  using Limit = std::numeric_limits<T>;
  if constexpr (std::is_same_v<T, bool>) return false;
  if (s.isFloatingPoint()) {
    double f = s.toDouble();
    if (Limit::has_infinity && std::isinf(f)) return false;
    if (std::isnan(f)) return !Limit::has_quiet_NaN;
    // The largest int64 rounds up to 2^63 as a double: bound signed integers by -lowest too.
    bool past_signed =
        std::is_integral_v<T> && Limit::is_signed && f >= -static_cast<double>(Limit::lowest());
    return f < static_cast<double>(Limit::lowest()) || f > static_cast<double>(Limit::max()) ||
           past_signed;
  }
  if (s.isBoolean()) return false;
  int64_t i = s.toLong();
  if constexpr (std::is_integral_v<T>) {
    return i < static_cast<int64_t>(Limit::lowest()) || i > static_cast<int64_t>(Limit::max());
  }
  return false;
}

template <typename T>
constexpr const char* kTypeName = "";
template <>
constexpr const char* kTypeName<float> = "float";
template <>
constexpr const char* kTypeName<double> = "double";
template <>
constexpr const char* kTypeName<int32_t> = "int32_t";
template <>
constexpr const char* kTypeName<int64_t> = "int64_t";
template <>
constexpr const char* kTypeName<bool> = "bool";
template <>
constexpr const char* kTypeName<uint8_t> = "uint8_t";
template <>
constexpr const char* kTypeName<int8_t> = "int8_t";
template <>
constexpr const char* kTypeName<int16_t> = "int16_t";
template <>
constexpr const char* kTypeName<Half> = "at::Half";
template <>
constexpr const char* kTypeName<BFloat16> = "at::BFloat16";
}  // namespace

template <typename T>
T Tensor::item() const {
  Scalar s = item();
  if (overflows<T>(s)) {
    throw Error(
        absl::StrCat("value cannot be converted to type ", kTypeName<T>, " without overflow"));
  }
  return s.to<T>();
}
#define KILN_INSTANTIATE(type, name)             \
  template type* Tensor::data_ptr<type>() const; \
  template type Tensor::item<type>() const;
KILN_FORALL_SCALAR_TYPES(KILN_INSTANTIATE)
#undef KILN_INSTANTIATE

Tensor Tensor::to(Device d, ScalarType t, bool nb, bool copy,
                  std::optional<MemoryFormat> memory_format) const {
  if (d.is_cuda()) {
    throw Error(
        "kiln: moving a tensor to CUDA is not supported yet (the CUDA backend has not landed; "
        "kiln::cuda::is_available() is false)");
  }
  return to(t, nb, copy, memory_format);
}
Tensor Tensor::to(TensorOptions o, bool nb, bool copy,
                  std::optional<MemoryFormat> memory_format) const {
  // libtorch refuses it in every op that takes TensorOptions, rather than ignore it.
  if (o.requires_grad()) {
    throw Error(
        "Operators taking TensorOptions cannot take a TensorOptions with options.requires_grad "
        "set as true. This isn't implemented yet.");
  }
  return to(o.has_device() ? o.device() : device(), o.has_dtype() ? o.dtype() : dtype(), nb, copy,
            memory_format);
}
Tensor Tensor::to(const Tensor& other, bool nb, bool copy,
                  std::optional<MemoryFormat> memory_format) const {
  return to(other.device(), other.dtype(), nb, copy, memory_format);
}
Tensor Tensor::cpu() const {
  return to(kCPU);
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  std::vector<int64_t> shape = detail::broadcastShapes(a.sizes().vec(), b.sizes().vec());
  std::vector<double> x = detail::toDoubles(a.expand(shape)),
                      y = detail::toDoubles(b.expand(shape));
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i]) || std::isnan(y[i])) {
      if (!(equal_nan && std::isnan(x[i]) && std::isnan(y[i]))) return false;
      continue;
    }
    if (x[i] == y[i]) continue;
    if (std::fabs(x[i] - y[i]) > atol + rtol * std::fabs(y[i])) return false;
  }
  return true;
}

bool equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  // Integers compare exactly (a double holds them only up to 2^53).
  if (a.dtype() == b.dtype() && !isFloatingType(a.dtype())) {
    return detail::toBytes(a) == detail::toBytes(b);
  }
  std::vector<double> x = detail::toDoubles(a), y = detail::toDoubles(b);
  return x == y;
}

bool Tensor::allclose(const Tensor& o, double rtol, double atol, bool equal_nan) const {
  return kiln::allclose(*this, o, rtol, atol, equal_nan);
}
bool Tensor::equal(const Tensor& o) const {
  return kiln::equal(*this, o);
}

ScalarType promote_types(ScalarType a, ScalarType b) {
  return promoteTypes(a, b);
}
bool can_cast(ScalarType from, ScalarType to) {
  return canCast(from, to);
}
ScalarType result_type(const Tensor& a, const Tensor& b) {
  return detail::resultType({a, b});
}
ScalarType result_type(const Tensor& a, const Scalar& b) {
  return detail::resultType({a, b});
}

std::string Tensor::graph_text() const {
  return detail::pendingGraphText(*this);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "[ Tensor (undefined) ]";
  detail::FormatRequest r;
  r.dtype = t.dtype();
  r.sizes = t.sizes().vec();
  std::vector<char> bytes = detail::toBytes(t);
  r.data = bytes.data();
  if (t.device().is_cuda()) r.suffixes.push_back(absl::StrCat("device='", t.device().str(), "'"));
  // Python's _str_intern: the dtype is shown unless it is the default dtype, int64 or bool,
  // and always for an empty tensor of another type than the default dtype.
  const ScalarType default_dtype = get_default_dtype_as_scalartype();
  bool default_kind = t.dtype() == default_dtype || t.dtype() == kLong || t.dtype() == kBool;
  if (!default_kind || (t.numel() == 0 && t.dtype() != default_dtype)) {
    r.suffixes.push_back(absl::StrCat("dtype=kiln.", std::string(pythonName(t.dtype()))));
  }
  if (t.grad_fn()) {
    r.suffixes.push_back(absl::StrCat("grad_fn=<", t.grad_fn()->name(), ">"));
  } else if (t.requires_grad()) {
    r.suffixes.push_back("requires_grad=True");
  }
  return os << detail::formatTensor(r);
}

}  // namespace kiln
