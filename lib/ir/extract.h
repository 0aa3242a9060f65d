#pragma once
// Graph extraction: the live lazy graph (Nodes) behind some values, as the flat SSA Graph that
// passes, the scheduler, the printer and the interpreters work on. The one walk that
// materialisation, the reference interpreter, pending-graph dumps and kiln-ir all use.
#include <absl/container/flat_hash_map.h>

#include <vector>

#include "lib/ir/graph.h"
#include "lib/ir/node.h"

namespace kiln::ir {

struct Extraction {
  Graph graph;
  /// The live node of each instruction (null for the reshaping views added after params).
  std::vector<Node*> node_of;
  /// Per param index: its live node, and the memory it reads (null for leaves, which have none).
  std::vector<Node*> param_node;
  std::vector<MemoryPtr> param_memory;
  /// The instruction computing each extracted node.
  absl::flat_hash_map<Node*, int32_t> instr_of;

  /// Adds a param of `numel` elements that no live node stands for (e.g. an output's destination
  /// buffer) and returns its param index.
  int32_t addParam(MemoryPtr memory, ScalarType dtype, int64_t numel);
};

/// Extracts the graph computing `roots`, walking iteratively in post order (no recursion, however
/// deep the graph). The nodes in `leaves` become params 0..n-1, in that order, whatever they
/// are; realized nodes become the next params, read as flat arrays (through a reshaping strided
/// view when the node is not one-dimensional). Pending nodes become instructions. The graph has
/// no outputs yet: callers add them (instr_of gives each root's instruction).
Extraction extract(const std::vector<Node*>& roots, const std::vector<Node*>& leaves = {});

}  // namespace kiln::ir
