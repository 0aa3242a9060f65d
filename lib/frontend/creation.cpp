// Tensor creation. Constant, random and range tensors are nodes like any other (they fuse);
// only empty(), tensor() and from_blob() hold memory from the start.
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>

#include "kiln/ops.h"
#include "lib/core/scalar_type.h"
#include "lib/frontend/common.h"

namespace kiln {

using detail::constantNode;
using detail::record;

namespace {

std::vector<int64_t> checkedSize(IntArrayRef size) {
  for (int64_t s : size) {
    if (s < 0)
      throw Error(absl::StrCat("Trying to create tensor with negative dimension ", s, ": ",
                               detail::shapeText(size.vec())));
  }
  return size.vec();
}

void checkDeviceOption(const TensorOptions& o) {
  if (o.device().is_cuda()) {
    throw Error(
        "kiln: CUDA tensors are not supported yet (the CUDA backend has not landed; "
        "kiln::cuda::is_available() is false)");
  }
}

Tensor withGrad(Tensor t, const TensorOptions& o) {
  if (o.requires_grad()) t.requires_grad_(true);
  return t;
}

struct Generator {
  std::atomic<uint64_t> seed{67280421310721ull};
  std::atomic<uint64_t> offset{0};
};
Generator& generator() {
  static Generator g;
  return g;
}

ir::NodeRef randomNode(ir::Op op, ScalarType dtype, const std::vector<int64_t>& shape) {
  ir::NodeDesc d;
  d.op = op;
  d.dtype = dtype;
  d.shape = shape;
  Generator& g = generator();
  d.seed = g.seed.load();
  d.offset = static_cast<int64_t>(g.offset.fetch_add(static_cast<uint64_t>(ir::numelOf(shape))));
  return ir::Node::make(std::move(d), {});
}

ir::NodeRef iotaNode(int64_t axis, ScalarType dtype, const std::vector<int64_t>& shape) {
  ir::NodeDesc d;
  d.op = ir::Op::Iota;
  d.dtype = dtype;
  d.shape = shape;
  d.ivalue = axis;
  return ir::Node::make(std::move(d), {});
}

// The elements in order (the container checked the lists are rectangular when it was built).
void flatten(const TensorDataContainer& c, std::vector<Scalar>& flat) {
  if (c.is_scalar()) {
    flat.push_back(c.scalar());
    return;
  }
  for (const auto& e : c.elements()) flatten(e, flat);
}

// c10's printing of a std::vector in messages: the elements separated by spaces.
std::string spaced(const std::vector<int64_t>& v) {
  return absl::StrJoin(v, " ");
}

}  // namespace

void manual_seed(uint64_t seed) {
  generator().seed.store(seed);
  generator().offset.store(0);
}

Tensor empty(IntArrayRef size, TensorOptions options) {
  checkDeviceOption(options);
  std::vector<int64_t> shape = checkedSize(size);
  int64_t n = ir::numelOf(shape);
  auto buffer = runtime::cpuDevice().allocate(detail::checkedStorageBytes(shape, options.dtype()));
  return withGrad(
      detail::fromBuffer(buffer, options.dtype(), shape, ir::contiguousStrides(shape), n), options);
}

Tensor full(IntArrayRef size, const Scalar& value, TensorOptions options) {
  checkDeviceOption(options);
  ScalarType t = options.has_dtype() ? options.dtype() : detail::defaultTypeFor(value);
  return withGrad(record(constantNode(value, t, checkedSize(size))), options);
}
Tensor zeros(IntArrayRef size, TensorOptions options) {
  return full(size, 0, options.dtype(options.dtype()));
}
Tensor ones(IntArrayRef size, TensorOptions options) {
  return full(size, 1, options.dtype(options.dtype()));
}

Tensor rand(IntArrayRef size, TensorOptions options) {
  checkDeviceOption(options);
  if (!isFloatingType(options.dtype())) {
    throw Error(absl::StrCat("\"check_uniform_bounds\" not implemented for '",
                             std::string(toString(options.dtype())), "'"));
  }
  return withGrad(record(randomNode(ir::Op::Rand, options.dtype(), checkedSize(size))), options);
}

Tensor randn(IntArrayRef size, TensorOptions options) {
  checkDeviceOption(options);
  if (!isFloatingType(options.dtype())) {
    throw Error(absl::StrCat("\"normal_kernel_cpu\" not implemented for '",
                             std::string(toString(options.dtype())), "'"));
  }
  return withGrad(record(randomNode(ir::Op::Randn, options.dtype(), checkedSize(size))), options);
}

Tensor randint(int64_t low, int64_t high, IntArrayRef size, TensorOptions options) {
  checkDeviceOption(options);
  if (low >= high) {
    throw Error(absl::StrCat("random_ expects 'from' to be less than 'to', but got from=", low,
                             " >= to=", high));
  }
  std::vector<int64_t> shape = checkedSize(size);
  // floor(u * (high - low)) + low with a double uniform u: exact for ranges below 2^53.
  ir::NodeRef u = randomNode(ir::Op::Rand, kDouble, shape);
  // high - low in unsigned arithmetic: the range of [INT64_MIN, INT64_MAX) does not fit an int64.
  const double range =
      static_cast<double>(static_cast<uint64_t>(high) - static_cast<uint64_t>(low));
  ir::NodeRef scaled =
      detail::elementwiseNode(ScalarOp::Mul, kDouble, {u, constantNode(range, kDouble, shape)});
  ir::NodeRef ints = detail::castNode(scaled, kLong);
  ir::NodeRef shifted =
      detail::elementwiseNode(ScalarOp::Add, kLong, {ints, constantNode(low, kLong, shape)});
  return record(detail::castNode(shifted, options.dtype()));
}
Tensor randint(int64_t high, IntArrayRef size, TensorOptions options) {
  return randint(0, high, size, options);
}

Tensor arange(const Scalar& end, TensorOptions options) {
  return arange(0, end, 1, options);
}
Tensor arange(const Scalar& start, const Scalar& end, TensorOptions options) {
  return arange(start, end, 1, options);
}
namespace {
// Scalar::to<int64_t> as c10 checks it: a floating value that does not fit is refused.
int64_t checkedLong(const Scalar& v) {
  if (v.isFloatingPoint() && !(v.toDouble() >= -0x1p63 && v.toDouble() < 0x1p63)) {
    throw Error("value cannot be converted to type int64_t without overflow");
  }
  return v.toLong();
}

// arange of int64s, as PyTorch computes it: bounds and step converted to int64 first, and the
// length and the values in exact integer arithmetic (a double holds them only up to 2^53).
Tensor longArange(const Scalar& start, const Scalar& end, const Scalar& step,
                  TensorOptions options) {
  int64_t s = checkedLong(start), e = checkedLong(end), st = checkedLong(step);
  if (st == 0) throw Error("step must be nonzero");
  if ((st > 0 && e < s) || (st < 0 && e > s))
    throw Error("upper bound and larger bound inconsistent with step sign");
  const __int128 sgn = st > 0 ? 1 : -1;
  const __int128 size = (static_cast<__int128>(e) - s + st - sgn) / st;
  if (size > std::numeric_limits<int64_t>::max()) throw Error("invalid size, possible overflow?");
  std::vector<int64_t> shape{static_cast<int64_t>(size)};
  ir::NodeRef i = iotaNode(0, kLong, shape);
  ir::NodeRef v = detail::elementwiseNode(
      ScalarOp::Add, kLong,
      {detail::elementwiseNode(ScalarOp::Mul, kLong, {i, constantNode(st, kLong, shape)}),
       constantNode(s, kLong, shape)});
  return withGrad(record(std::move(v)), options);
}
}  // namespace

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions options) {
  checkDeviceOption(options);
  bool floating = start.isFloatingPoint() || end.isFloatingPoint() || step.isFloatingPoint();
  ScalarType t = options.has_dtype() ? options.dtype()
                                     : (floating ? get_default_dtype_as_scalartype() : kLong);
  if (t == kLong) return longArange(start, end, step, options);
  double s = start.toDouble(), e = end.toDouble(), st = step.toDouble();
  if (st == 0) throw Error("step must be nonzero");
  if (!std::isfinite(s) || !std::isfinite(e))
    throw Error(absl::StrCat("unsupported range: ", s, " -> ", e));
  if ((st > 0 && e < s) || (st < 0 && e > s))
    throw Error("upper bound and larger bound inconsistent with step sign");
  double size = std::ceil((e - s) / st);
  if (!(size >= 0 && size < std::ldexp(1.0, 63))) {
    throw Error("invalid size, possible overflow?");
  }
  int64_t n = static_cast<int64_t>(size);
  std::vector<int64_t> shape{n};
  ir::NodeRef i = iotaNode(0, kDouble, shape);
  ir::NodeRef v = detail::elementwiseNode(
      ScalarOp::Add, kDouble,
      {detail::elementwiseNode(ScalarOp::Mul, kDouble, {i, constantNode(st, kDouble, shape)}),
       constantNode(s, kDouble, shape)});
  return withGrad(record(detail::castNode(v, t)), options);
}

Tensor linspace(const Scalar& start, const Scalar& end, int64_t steps, TensorOptions options) {
  checkDeviceOption(options);
  if (steps < 0) throw Error("number of steps must be non-negative");
  ScalarType t = options.dtype();
  std::vector<int64_t> shape{steps};
  double s = start.toDouble(), e = end.toDouble();
  if (steps <= 1) return withGrad(full(shape, s, options.dtype(t)), options);
  double step = (e - s) / static_cast<double>(steps - 1);
  // As PyTorch's CPU kernel: the first half counts up from start, the second down from end,
  // so both ends are exact.
  ir::NodeRef i = iotaNode(0, kDouble, shape);
  auto c = [&](double v) { return constantNode(v, kDouble, shape); };
  ir::NodeRef up = detail::elementwiseNode(
      ScalarOp::Add, kDouble,
      {c(s), detail::elementwiseNode(ScalarOp::Mul, kDouble, {i, c(step)})});
  ir::NodeRef back =
      detail::elementwiseNode(ScalarOp::Sub, kDouble, {c(static_cast<double>(steps - 1)), i});
  ir::NodeRef down = detail::elementwiseNode(
      ScalarOp::Sub, kDouble,
      {c(e), detail::elementwiseNode(ScalarOp::Mul, kDouble, {back, c(step)})});
  ir::NodeRef first =
      detail::elementwiseNode(ScalarOp::Lt, kDouble, {i, c(static_cast<double>(steps / 2))});
  ir::NodeRef v = detail::elementwiseNode(ScalarOp::Where, kDouble, {first, up, down});
  return withGrad(record(detail::castNode(v, t)), options);
}

Tensor eye(int64_t n, TensorOptions options) {
  return eye(n, n, options);
}
Tensor eye(int64_t n, int64_t m, TensorOptions options) {
  checkDeviceOption(options);
  if (n < 0) throw Error(absl::StrCat("n must be greater or equal to 0, got ", n));
  if (m < 0) throw Error(absl::StrCat("m must be greater or equal to 0, got ", m));
  std::vector<int64_t> shape{n, m};
  ir::NodeRef diag = detail::elementwiseNode(
      ScalarOp::Eq, kLong, {iotaNode(0, kLong, shape), iotaNode(1, kLong, shape)});
  return withGrad(record(detail::castNode(diag, options.dtype())), options);
}

namespace {
TensorOptions likeOptions(const Tensor& t, TensorOptions o) {
  TensorOptions r = o;
  if (!o.has_dtype()) r = r.dtype(t.dtype());
  if (!o.has_device()) r = r.device(t.device());
  return r;
}
}  // namespace

Tensor empty_like(const Tensor& t, TensorOptions o, std::optional<MemoryFormat> f) {
  detail::checkMemoryFormat(f);
  return empty(t.sizes(), likeOptions(t, o));
}
Tensor zeros_like(const Tensor& t, TensorOptions o, std::optional<MemoryFormat> f) {
  detail::checkMemoryFormat(f);
  return zeros(t.sizes(), likeOptions(t, o));
}
Tensor ones_like(const Tensor& t, TensorOptions o, std::optional<MemoryFormat> f) {
  detail::checkMemoryFormat(f);
  return ones(t.sizes(), likeOptions(t, o));
}
Tensor full_like(const Tensor& t, const Scalar& v, TensorOptions o,
                 std::optional<MemoryFormat> f) {
  detail::checkMemoryFormat(f);
  return full(t.sizes(), v, likeOptions(t, o));
}
Tensor rand_like(const Tensor& t, TensorOptions o, std::optional<MemoryFormat> f) {
  detail::checkMemoryFormat(f);
  return rand(t.sizes(), likeOptions(t, o));
}
Tensor randn_like(const Tensor& t, TensorOptions o, std::optional<MemoryFormat> f) {
  detail::checkMemoryFormat(f);
  return randn(t.sizes(), likeOptions(t, o));
}

void TensorDataContainer::checkList() {
  if (elements_.empty()) {
    // `{}` picks the default constructor; an empty list reaches here only as a std::vector.
    sizes_ = {0};
    return;
  }
  const TensorDataContainer& first = elements_.front();
  for (const TensorDataContainer& e : elements_) {
    if (e.sizes() != first.sizes()) {
      std::ostringstream os;
      os << "Expected all sub-lists to have sizes: " << spaced(first.sizes()) << " (e.g. " << first
         << "), but got sub-list " << e << " with sizes: " << spaced(e.sizes());
      throw Error(os.str());
    }
    if (e.scalar_type() != first.scalar_type()) {
      throw Error(absl::StrCat(
          "Expected all elements of the tensor to have the same scalar type: ",
          std::string(toString(first.scalar_type())),
          ", but got element of scalar type: ", std::string(toString(e.scalar_type()))));
    }
  }
  scalar_type_ = first.scalar_type();
  sizes_.clear();
  sizes_.push_back(static_cast<int64_t>(elements_.size()));
  sizes_.insert(sizes_.end(), first.sizes().begin(), first.sizes().end());
}

std::ostream& operator<<(std::ostream& os, const TensorDataContainer& c) {
  if (c.is_scalar()) {
    const Scalar& s = c.scalar();
    // One-byte integers print as numbers, not characters.
    detail::visitType(c.scalar_type(), [&]<typename T>() {
      if constexpr (std::is_integral_v<T> && sizeof(T) == 1) {
        os << static_cast<int>(s.to<T>());
      } else {
        os << s.to<T>();
      }
    });
    return os;
  }
  os << "{";
  for (size_t i = 0; i < c.elements().size(); ++i) os << (i ? ", " : "") << c.elements()[i];
  return os << "}";
}

Tensor tensor(const TensorDataContainer& data, TensorOptions options) {
  checkDeviceOption(options);
  const std::vector<int64_t>& sizes = data.sizes();
  std::vector<Scalar> flat;
  flatten(data, flat);
  // libtorch's compute_desired_dtype: int and long literals give kLong, float and double ones
  // the default dtype, the others (bool, uint8_t, int16_t, Half, ...) their own type.
  const ScalarType literal = data.scalar_type();
  const ScalarType inferred = literal == kInt || literal == kLong ? kLong
                              : literal == kFloat || literal == kDouble
                                  ? get_default_dtype_as_scalartype()
                                  : literal;
  ScalarType t = options.has_dtype() ? options.dtype() : inferred;
  int64_t n = static_cast<int64_t>(flat.size());
  auto buffer = runtime::cpuDevice().allocate(n * elementSize(t));
  // Each number converted straight to the element type: int64 values beyond 2^53 stay exact.
  detail::visitType(t, [&]<typename T>() {
    for (int64_t i = 0; i < n; ++i) detail::storeAs<T>(buffer->data(), i, flat[i].to<T>());
  });
  return withGrad(detail::fromBuffer(buffer, t, sizes, ir::contiguousStrides(sizes), n), options);
}

namespace {
// The from_blob overloads: `deleter` (possibly empty) goes with the wrapped memory.
Tensor wrapBlob(void* data, IntArrayRef sizes, std::optional<IntArrayRef> strides,
                const std::function<void(void*)>& deleter, const TensorOptions& options) {
  checkDeviceOption(options);
  std::vector<int64_t> shape = checkedSize(sizes);
  std::vector<int64_t> st = strides ? strides->vec() : std::vector<int64_t>();
  if (!strides) {
    detail::checkedStorageBytes(shape, options.dtype());
    st = ir::contiguousStrides(shape);
  }
  if (st.size() != shape.size()) {
    throw Error(absl::StrCat("from_blob: expected ", shape.size(), " strides, got ", st.size()));
  }
  for (int64_t s : st) {
    if (s < 0) {
      throw Error(
          absl::StrCat("from_blob: Negative strides are not supported at the moment, got strides: ",
                       detail::shapeText(st)));
    }
  }
  const int64_t bytes = detail::checkedStorageBytes(shape, st, options.dtype());
  const int64_t extent = bytes / elementSize(options.dtype());
  auto buffer = deleter ? runtime::Buffer::wrap(runtime::cpuDevice(), data, bytes, deleter)
                        : runtime::Buffer::wrap(runtime::cpuDevice(), data, bytes);
  return withGrad(detail::fromBuffer(buffer, options.dtype(), shape, std::move(st), extent),
                  options);
}
}  // namespace

Tensor from_blob(void* data, IntArrayRef sizes, TensorOptions options) {
  return wrapBlob(data, sizes, std::nullopt, {}, options);
}
Tensor from_blob(void* data, IntArrayRef sizes, IntArrayRef strides, TensorOptions options) {
  return wrapBlob(data, sizes, strides, {}, options);
}
Tensor from_blob(void* data, IntArrayRef sizes, const std::function<void(void*)>& deleter,
                 TensorOptions options) {
  return wrapBlob(data, sizes, std::nullopt, deleter, options);
}
Tensor from_blob(void* data, IntArrayRef sizes, IntArrayRef strides,
                 const std::function<void(void*)>& deleter, TensorOptions options) {
  return wrapBlob(data, sizes, strides, deleter, options);
}

}  // namespace kiln
