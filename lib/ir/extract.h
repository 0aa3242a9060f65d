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

/// A live graph found to have the structure of an earlier extraction (matchExtraction), numbered
/// as extract() would number it.
struct LiveMatch {
  /// As Extraction::node_of and Extraction::param_node, for the matched instructions.
  std::vector<Node*> node_of;
  std::vector<Node*> param_node;
  /// The instruction of each root.
  std::vector<int32_t> root_instr;
  /// The walk's stack (kept only to reuse its memory).
  std::vector<std::pair<Node*, size_t>> stack;
};

/// Whether extract(roots) would give the first instructions of `expected` up to structure
/// (ir::structureOf, `exact` being exactConstants(expected)): the same ops, types, shapes,
/// structural attributes, operands and params, in the same order. Instructions of `expected`
/// after those are not looked at (params that materialisation adds for destinations). On a
/// match, `out` says what an Extraction would; it reuses its memory, so that a match visits each
/// node once and allocates nothing once `out` has grown. Walks are serialised internally.
bool matchExtraction(const std::vector<Node*>& roots, const Graph& expected,
                     const std::vector<bool>& exact, LiveMatch& out);

/// Extracts the graph computing `roots`, walking iteratively in post order (no recursion, however
/// deep the graph). The nodes in `leaves` become params 0..n-1, in that order, whatever they
/// are; realized nodes become the next params, read as flat arrays (through a reshaping strided
/// view when the node is not one-dimensional). Pending nodes become instructions. The graph has
/// no outputs yet: callers add them (instr_of gives each root's instruction).
Extraction extract(const std::vector<Node*>& roots, const std::vector<Node*>& leaves = {});

}  // namespace kiln::ir
