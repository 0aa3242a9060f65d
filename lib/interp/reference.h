#pragma once
// The reference interpreter: evaluates a Graph node by node in double precision, with no JIT
// and no fusion. Tests use it as the independent reference for compiled kernels.
#include <cstdint>
#include <vector>

#include "lib/ir/graph.h"

namespace kiln::interp {

/// One elementwise op on doubles; `operand` is the operands' type, `result` the node's type.
/// Integral results are exact for magnitudes below 2^53 and wrap like their C++ type.
double evalScalar(ScalarOp op, ScalarType result, ScalarType operand, double a, double b = 0,
                  double c = 0);
/// One elementwise op on integers, exactly: `operand` is an integral or bool type and `result`
/// one too (the op's dtype rule is not Float); arithmetic wraps as int64 does and the result
/// wraps to `result` (constant folding uses it, so that integers stay exact past 2^53).
int64_t evalScalarExact(ScalarOp op, ScalarType result, ScalarType operand, int64_t a,
                        int64_t b = 0, int64_t c = 0);
/// Rounds a double to what a value of type t holds (float rounding, integer truncation, bool).
double roundTo(ScalarType t, double v);

/// Evaluates every instruction; params[i] holds param i's elements. Returns each
/// instruction's elements in row-major order (outputs are values[g.outputs[k].value]).
std::vector<std::vector<double>> interpret(const ir::Graph& g,
                                           const std::vector<std::vector<double>>& params);

}  // namespace kiln::interp
