#pragma once
// The differentiable elementwise ops (lib/autograd/elementwise_ops.cpp defines the public ones,
// declared in kiln/ops.h and kiln/tensor.h); this header adds what tools need beyond them.
#include <vector>

#include "kiln/tensor.h"
#include "lib/ir/scalar_op.h"

namespace kiln::autograd {

/// The graph's elementwise instruction `op` applied to tensors of one shape and of the types the
/// op takes (a graph instruction, as kiln-ir replays it), with the op's backward rule.
Tensor elementwiseOp(ScalarOp op, ScalarType dtype, const std::vector<Tensor>& inputs);

}  // namespace kiln::autograd
