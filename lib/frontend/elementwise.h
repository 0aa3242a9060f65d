#pragma once
// The elementwise ops as the front end records them: graph nodes only, with the op's dtype rule
// (lib/ir/ops.def), type promotion, broadcasting and PyTorch's argument checks, and no autograd.
// The public, differentiable functions (kiln::exp, operator+, add_, ...) are in
// lib/autograd/elementwise_ops.cpp: each calls one of these, then attaches its backward rule.
#include <optional>
#include <vector>

#include "kiln/scalar.h"
#include "kiln/tensor.h"
#include "lib/frontend/common.h"

namespace kiln::detail {

/// `op` on one tensor, computed in the type its dtype rule gives for a's type.
Tensor unaryOp(ScalarOp op, const Tensor& a);
/// `op` on two operands (tensors or wrapped numbers), promoted as torch.result_type does, then
/// converted by the op's dtype rule, and broadcast.
Tensor binaryOp(ScalarOp op, const Operand& a, const Operand& b);
/// add or sub: a + alpha * b or a - alpha * b, with PyTorch's checks of alpha.
Tensor addOp(ScalarOp op, const Tensor& a, const Operand& b, const Scalar& alpha);
/// max(min(a, max), min) for the bounds given, in the type promoted with them.
Tensor clampOp(const Tensor& a, std::optional<Scalar> min, std::optional<Scalar> max);
/// cond ? a : b, broadcast to one shape, values promoted.
Tensor whereOp(const Tensor& cond, const Operand& a, const Operand& b);
/// The graph's elementwise instruction `op` applied to tensors of one shape and of the types the
/// op takes, with a result of type `dtype` (a graph instruction as kiln-ir replays it).
Tensor instructionOp(ScalarOp op, ScalarType dtype, const std::vector<Tensor>& inputs);

}  // namespace kiln::detail
