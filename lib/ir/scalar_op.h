#pragma once
// ScalarOp: the elementwise operations of the graph IR (elementwise nodes) and of the kernel IR
// (expression nodes), and what their table, lib/ir/ops.def, says about each of them.
#include <cstdint>
#include <string_view>

#include "kiln/scalar_type.h"

namespace kiln::ir {

enum class ScalarOp : uint8_t {
#define X(name, ...) name,
#include "lib/ir/ops.def"
#undef X
};

/// How an op's result type follows from the type of its operands.
enum class DtypeRule : uint8_t {
  Arith,    // operands and result share one type, any type
  Float,    // operands and result share one floating type (the front end computes integers
            // and bools in the default dtype, as PyTorch's true division and exp do)
  Compare,  // operands share one type; the result is kBool
  Logical,  // operands of any types (tested against zero); the result is kBool
  Cast,     // one operand of any type; the result is the node's type
  Select,   // where: a kBool condition, then two values of the result's type
};

/// What autograd does with an op (lib/autograd/rules.cpp).
enum class GradKind : uint8_t {
  None,            // not differentiable: its results never require grad
  Vjp,             // a unary op whose vector-Jacobian product is the formula in its row
  Custom,          // a rule of its own in lib/autograd/rules.cpp
  NotImplemented,  // its grad_fn fails in backward, as PyTorch's does
};

struct ScalarOpInfo {
  std::string_view name;
  int arity;
  DtypeRule dtype;
  GradKind grad;
};

const ScalarOpInfo& info(ScalarOp op);
/// The op whose text name is `name`, or false.
bool scalarOpFromName(std::string_view name, ScalarOp* out);
/// The type `op` computes in when its operands promote to `promoted` (the default dtype for
/// integers under the Float rule, else `promoted`).
ScalarType computeType(ScalarOp op, ScalarType promoted);
/// The type of `op`'s result when it computes in `compute` (kBool for comparisons and logic).
ScalarType resultType(ScalarOp op, ScalarType compute);

}  // namespace kiln::ir

namespace kiln {
using ir::ScalarOp;
}  // namespace kiln
