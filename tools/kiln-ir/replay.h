#pragma once
// A graph file's instructions replayed through kiln's front end as a program would record them:
// `kiln-ir --grad` replays with params that require grad so that autograd records the backward
// pass, and `kiln-bench` replays a .kir file in lazy and in eager mode to compare the two.
#include <vector>

#include "kiln/tensor.h"
#include "lib/ir/graph.h"
#include "runtime/buffer.h"

namespace kiln::tools {

/// A tensor of param `desc`'s dtype whose storage is `buffer` (a flat array of its elements, as
/// params are).
Tensor paramTensor(runtime::BufferPtr buffer, const ir::NodeDesc& desc);

/// Every instruction of `g`, in order, through the front end (views become as_strided views,
/// writes in-place copies into a clone of the base, so that autograd records each one); param K
/// is `params[K]`. Returns one tensor per instruction. In eager mode each op runs as it is
/// recorded; otherwise nothing runs until a result is read.
std::vector<Tensor> replayGraph(const ir::Graph& g, const std::vector<Tensor>& params);

}  // namespace kiln::tools
