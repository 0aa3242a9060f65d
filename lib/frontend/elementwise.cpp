// The elementwise ops as graph nodes: each is one ScalarOp node (or a few, for add with alpha and
// clamp), typed by its row of lib/ir/ops.def. Autograd is attached by lib/autograd.
#include "lib/frontend/elementwise.h"

#include <absl/strings/str_cat.h>

namespace kiln::detail {
namespace {

std::vector<int64_t> shapeOf(const Operand& o) {
  return o.tensor ? o.tensor->sizes().vec() : std::vector<int64_t>{};
}

// floor_divide, remainder and fmod: PyTorch has no bool kernels for them, and refuses an integer
// division by zero ("ZeroDivisionError"). A zero divisor that is a number is refused here; one
// inside a tensor gives 0, since a lazy kernel cannot raise.
void checkDivision(ScalarOp op, const Operand& a, const Operand& b) {
  ScalarType t = resultType({a, b});
  if (t == kBool) {
    const char* kernel = op == ScalarOp::FloorDiv ? "div_floor_cpu"
                         : op == ScalarOp::Mod    ? "remainder_cpu"
                                                  : "fmod_cpu";
    throw Error(absl::StrCat("\"", kernel, "\" not implemented for 'Bool'"));
  }
  // An empty tensor reaches no kernel, and nothing divides by zero.
  const bool empty = a.tensor && a.tensor->numel() == 0;
  if (!isFloatingType(t) && !b.tensor && b.scalar.toDouble() == 0 && !empty) {
    throw Error("ZeroDivisionError");
  }
}

// PyTorch's refusals that depend on the op and its operands' types, before any node is made.
void checkOperands(ScalarOp op, const Operand& a, const Operand& b) {
  auto isBool = [](const Operand& o) { return o.tensor && o.tensor->dtype() == kBool; };
  auto boolOperand = [](const Operand& o) {
    return o.tensor ? o.tensor->dtype() == kBool : o.scalar.isBoolean();
  };
  switch (op) {
    case ScalarOp::Neg:
      if (isBool(a)) {
        throw Error(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
            "invert a mask, use the `~` or `logical_not()` operator instead.");
      }
      break;
    case ScalarOp::Relu:
      if (isBool(a)) throw Error("Boolean inputs not supported for relu");
      break;
    case ScalarOp::Abs:
      if (isBool(a)) throw Error("\"abs_cpu\" not implemented for 'Bool'");
      break;
    case ScalarOp::Sub:
      // PyTorch's sub_check, after wrapping a number in a tensor of its kind.
      if (boolOperand(a) && boolOperand(b)) {
        throw Error(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
            "or `logical_xor()` operator instead.");
      }
      if (boolOperand(a) || boolOperand(b)) {
        throw Error(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead.");
      }
      break;
    case ScalarOp::Pow:
      if (a.tensor && !isFloatingType(a.tensor->dtype()) && !b.tensor &&
          !b.scalar.isFloatingPoint() && b.scalar.toLong() < 0) {
        throw Error("Integers to negative integer powers are not allowed.");
      }
      break;
    default:
      break;
  }
}

// The refusals of PyTorch's kernels, which run after its TensorIterator has broadcast the
// operands (a shape error comes first).
void checkKernel(ScalarOp op, const Operand& a, const Operand& b) {
  switch (op) {
    case ScalarOp::FloorDiv:
    case ScalarOp::Mod:
    case ScalarOp::Fmod:
      checkDivision(op, a, b);
      break;
    case ScalarOp::Pow:
      if (resultType({a, b}) == kBool) throw Error("\"pow\" not implemented for 'Bool'");
      break;
    default:
      break;
  }
}

ir::NodeRef binaryNode(ScalarOp op, const Operand& a, const Operand& b) {
  ScalarType t = ir::computeType(op, resultType({a, b}));
  std::vector<int64_t> shape = broadcastShapes(shapeOf(a), shapeOf(b));
  return elementwiseNode(op, t, {operandNode(a, t, shape), operandNode(b, t, shape)});
}

// The device of a binary op's tensor operands (one or two).
Device operandsDevice(ScalarOp op, const Operand& a, const Operand& b) {
  return commonDevice(ir::info(op).name.data(), {a.tensor, b.tensor});
}

void checkAlpha(const Tensor& a, const Operand& b, const Scalar& alpha) {
  // PyTorch's alpha_check: a bool alpha needs a bool result; an integral (or bool) result needs
  // an integral (or bool) alpha.
  ScalarType t = resultType({a, b});
  if (alpha.isBoolean() && t != ScalarType::Bool) {
    throw Error("Boolean alpha only supported for Boolean results.");
  }
  if (!isFloatingType(t) && !alpha.isIntegral(true)) {
    throw Error("For integral input tensors, argument alpha must not be a floating point number.");
  }
}

}  // namespace

Tensor unaryOp(ScalarOp op, const Tensor& a) {
  Device device = commonDevice(ir::info(op).name.data(), {&a});
  checkOperands(op, a, Scalar());
  ScalarType t = ir::computeType(op, a.dtype());
  return record(elementwiseNode(op, t, {castNode(readNode(a), t)}), device);
}

Tensor binaryOp(ScalarOp op, const Operand& a, const Operand& b) {
  Device device = operandsDevice(op, a, b);
  checkOperands(op, a, b);
  broadcastShapes(shapeOf(a), shapeOf(b));
  checkKernel(op, a, b);
  return record(binaryNode(op, a, b), device);
}

Tensor addOp(ScalarOp op, const Tensor& a, const Operand& b, const Scalar& alpha) {
  Device device = operandsDevice(op, a, b);
  checkOperands(op, a, b);
  checkAlpha(a, b, alpha);
  if (alpha.toDouble() == 1.0) return record(binaryNode(op, a, b), device);
  ScalarType t = resultType({a, b});
  std::vector<int64_t> shape = broadcastShapes(a.sizes().vec(), shapeOf(b));
  ir::NodeRef scaled =
      elementwiseNode(ScalarOp::Mul, t, {operandNode(b, t, shape), constantNode(alpha, t, shape)});
  return record(elementwiseNode(op, t, {operandNode(a, t, shape), scaled}), device);
}

Tensor clampOp(const Tensor& a, std::optional<Scalar> min, std::optional<Scalar> max) {
  if (!min && !max) throw Error("torch.clamp: At least one of 'min' or 'max' must not be None");
  ScalarType t = a.dtype();
  if (min) t = resultType({a, *min});
  if (max) t = promoteTypes(t, resultType({a, *max}));
  std::vector<int64_t> shape = a.sizes().vec();
  ir::NodeRef v = castNode(readNode(a), t);
  // The bound first: maximum and minimum give their second operand where the two are equal, so
  // a -0.0 at a bound of 0 stays -0.0, as PyTorch's clamp keeps it.
  if (min) v = elementwiseNode(ScalarOp::Maximum, t, {constantNode(*min, t, shape), v});
  if (max) v = elementwiseNode(ScalarOp::Minimum, t, {constantNode(*max, t, shape), v});
  return record(std::move(v), a.device());
}

Tensor whereOp(const Tensor& cond, const Operand& a, const Operand& b) {
  Device device = commonDevice("where", {&cond, a.tensor, b.tensor});
  ScalarType t = resultType({a, b});
  // The condition first, then each operand, as PyTorch's TensorIterator meets them.
  std::vector<int64_t> shape =
      broadcastShapes(broadcastShapes(cond.sizes().vec(), shapeOf(a)), shapeOf(b));
  ir::NodeRef c = operandNode(cond, kBool, shape);
  return record(
      elementwiseNode(ScalarOp::Where, t, {c, operandNode(a, t, shape), operandNode(b, t, shape)}),
      device);
}

Tensor instructionOp(ScalarOp op, ScalarType dtype, const std::vector<Tensor>& inputs) {
  std::vector<ir::NodeRef> nodes;
  for (const Tensor& t : inputs) nodes.push_back(readNode(t));
  return record(elementwiseNode(op, dtype, std::move(nodes)), inputs[0].device());
}

}  // namespace kiln::detail
