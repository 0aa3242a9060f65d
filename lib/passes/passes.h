#pragma once
// Graph-to-graph passes run before scheduling: constant folding, algebraic simplification,
// common-subexpression elimination and dead-code elimination, as one rewrite to a fixed point.
#include <cstdint>
#include <vector>

#include "lib/ir/graph.h"

namespace kiln::passes {

struct Simplified {
  ir::Graph graph;
  /// For each instruction of the new graph, the instruction of the input graph it stands for
  /// (-1 for folded constants that had no counterpart).
  std::vector<int32_t> origin;
};

Simplified simplify(const ir::Graph& g);

}  // namespace kiln::passes
