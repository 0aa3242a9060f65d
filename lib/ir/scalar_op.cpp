#include "lib/ir/scalar_op.h"

#include <iterator>

namespace kiln::ir {
namespace {

// The grad column's kind (its formula, if any, is read by lib/autograd/rules.cpp).
#define KIND_None GradKind::None
#define KIND_Vjp(...) GradKind::Vjp
#define KIND_Custom GradKind::Custom
#define KIND_NotImplemented GradKind::NotImplemented
constexpr ScalarOpInfo kInfo[] = {
#define X(name, text, arity, dtype, grad, reference) {text, arity, DtypeRule::dtype, KIND_##grad},
#include "lib/ir/ops.def"
#undef X
};
#undef KIND_None
#undef KIND_Vjp
#undef KIND_Custom
#undef KIND_NotImplemented

}  // namespace

const ScalarOpInfo& info(ScalarOp op) {
  return kInfo[static_cast<int>(op)];
}

bool scalarOpFromName(std::string_view name, ScalarOp* out) {
  for (size_t i = 0; i < std::size(kInfo); ++i) {
    if (kInfo[i].name == name) {
      *out = static_cast<ScalarOp>(i);
      return true;
    }
  }
  return false;
}

ScalarType computeType(ScalarOp op, ScalarType promoted) {
  if (info(op).dtype == DtypeRule::Float && !isFloatingType(promoted))
    return get_default_dtype_as_scalartype();
  return promoted;
}

ScalarType resultType(ScalarOp op, ScalarType compute) {
  DtypeRule r = info(op).dtype;
  return r == DtypeRule::Compare || r == DtypeRule::Logical ? ScalarType::Bool : compute;
}

}  // namespace kiln::ir
