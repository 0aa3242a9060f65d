#include "lib/frontend/common.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <type_traits>

#include "lib/core/scalar_type.h"
#include "runtime/device.h"

namespace kiln::detail {

std::string shapeText(const std::vector<int64_t>& s) {
  return absl::StrCat("[", absl::StrJoin(s, ", "), "]");
}

int64_t wrapDim(int64_t dim, int64_t ndim) {
  int64_t n = std::max<int64_t>(ndim, 1);
  if (dim < -n || dim >= n) {
    throw Error(absl::StrCat("Dimension out of range (expected to be in range of [", -n, ", ",
                             n - 1, "], but got ", dim, ")"));
  }
  return dim < 0 ? dim + n : dim;
}

std::vector<int64_t> broadcastShapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  // From the last dimension to the first, as PyTorch's infer_size: a mismatch names the
  // trailing mismatching dimension.
  size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = n; i-- > 0;) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw Error(absl::StrCat("The size of tensor a (", da, ") must match the size of tensor b (",
                               db, ") at non-singleton dimension ", i));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

ScalarType defaultTypeFor(const Scalar& s) {
  if (s.isFloatingPoint()) return get_default_dtype_as_scalartype();
  if (s.isBoolean()) return ScalarType::Bool;
  return ScalarType::Long;
}

namespace {
// PyTorch's combine_categories (c10/core/ScalarType.h, at::native::result_type).
std::optional<ScalarType> combine(std::optional<ScalarType> higher,
                                  std::optional<ScalarType> lower) {
  if (!higher) return lower;
  if (!lower) return higher;
  if (isFloatingType(*higher)) return higher;
  if (*higher == ScalarType::Bool || isFloatingType(*lower)) return promoteTypes(*higher, *lower);
  return higher;
}
std::optional<ScalarType> promoteOpt(std::optional<ScalarType> a, ScalarType b) {
  return a ? promoteTypes(*a, b) : b;
}
}  // namespace

ScalarType resultType(std::initializer_list<Operand> operands) {
  std::optional<ScalarType> dim, zero, wrapped;
  for (const Operand& o : operands) {
    if (o.tensor) {
      if (o.tensor->dim() > 0) {
        dim = promoteOpt(dim, o.tensor->dtype());
      } else {
        zero = promoteOpt(zero, o.tensor->dtype());
      }
    } else {
      wrapped = promoteOpt(wrapped, defaultTypeFor(o.scalar));
    }
  }
  return combine(dim, combine(zero, wrapped)).value_or(ScalarType::Float);
}

ir::NodeRef constantNode(const Scalar& value, ScalarType dtype, const std::vector<int64_t>& shape) {
  ir::NodeDesc d;
  d.op = ir::Op::Const;
  d.dtype = dtype;
  d.shape = shape;
  // The value as an element of the type: floating values rounded to it, integers wrapped to its
  // width (uint8 + 300 adds 44, as libtorch's).
  detail::visitType(dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, bool>) {
      d.ivalue = value.toBool();
    } else if constexpr (std::is_integral_v<T>) {
      d.ivalue = static_cast<T>(value.toLong());
    } else {
      d.fvalue = static_cast<double>(detail::castTo<T>(value.toDouble()));
    }
  });
  return ir::Node::make(std::move(d), {});
}

ir::NodeRef castNode(ir::NodeRef n, ScalarType dtype) {
  if (n->dtype() == dtype) return n;
  ir::NodeDesc d;
  d.op = ir::Op::Elementwise;
  d.sop = ScalarOp::Cast;
  d.dtype = dtype;
  d.shape = n->shape();
  return ir::Node::make(std::move(d), {std::move(n)});
}

ir::NodeRef expandNode(ir::NodeRef n, const std::vector<int64_t>& shape) {
  if (n->shape() == shape) return n;
  const auto& src = n->shape();
  if (n->op() == ir::Op::Const) {
    ir::NodeDesc d = n->desc();
    d.shape = shape;
    return ir::Node::make(std::move(d), {});
  }
  std::vector<int64_t> cs = ir::contiguousStrides(src);
  std::vector<int64_t> strides(shape.size(), 0);
  size_t lead = shape.size() - src.size();
  for (size_t i = 0; i < src.size(); ++i) strides[lead + i] = src[i] == 1 ? 0 : cs[i];
  ir::NodeDesc d;
  d.op = ir::Op::Strided;
  d.dtype = n->dtype();
  d.shape = shape;
  d.ints = std::move(strides);
  return ir::Node::make(std::move(d), {std::move(n)});
}

ir::NodeRef elementwiseNode(ScalarOp op, ScalarType dtype, absl::Span<const ir::NodeRef> inputs) {
  ir::NodeDesc d;
  d.op = ir::Op::Elementwise;
  d.sop = op;
  d.dtype = ir::resultType(op, dtype);
  d.shape = inputs[0]->shape();
  return ir::Node::make(std::move(d), inputs);
}

ir::NodeRef operandNode(const Operand& o, ScalarType dtype, const std::vector<int64_t>& shape) {
  if (!o.tensor) return constantNode(o.scalar, dtype, shape);
  return expandNode(castNode(readNode(*o.tensor), dtype), shape);
}

Tensor record(ir::NodeRef n, Device device) {
  Tensor t = fromNode(std::move(n), device);
  afterRecord(t);
  return t;
}

void checkCastable(ScalarType from, ScalarType to) {
  if (!canCast(from, to)) {
    throw Error(absl::StrCat("result type ", std::string(toString(from)),
                             " can't be cast to the desired output type ",
                             std::string(toString(to))));
  }
}

Device commonDevice(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;  // the first tensor that is not a CPU scalar, else the first
  for (const Tensor* t : tensors) {
    if (t == nullptr) continue;
    if (!t->defined())
      throw Error(absl::StrCat(op, ": expected a defined tensor, but got an undefined one"));
    if (first == nullptr || (first->dim() == 0 && first->device().is_cpu())) first = t;
  }
  for (const Tensor* t : tensors) {
    if (t == nullptr || t->device() == first->device() || (t->dim() == 0 && t->device().is_cpu()))
      continue;
    throw Error(absl::StrCat(
        "Expected all tensors to be on the same device, but found at least two devices, ",
        first->device().str(), " and ", t->device().str(), "!"));
  }
  runtime::deviceFor(first->device());  // a device without a backend says so now
  return first->device();
}

void checkMemoryFormat(std::optional<MemoryFormat> memory_format) {
  if (memory_format == MemoryFormat::ChannelsLast ||
      memory_format == MemoryFormat::ChannelsLast3d) {
    throw Error("kiln: the channels-last memory formats are not supported yet");
  }
}

}  // namespace kiln::detail
