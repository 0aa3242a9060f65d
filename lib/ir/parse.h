#pragma once
// Reading the graph text (docs/ir.md) back: print(parse(text)) == text for everything the
// printer emits. Errors name the place, `file:line:col: message`; no input crashes or aborts.
#include <optional>
#include <string>
#include <string_view>

#include "lib/ir/graph.h"

namespace kiln::ir {

struct ParseResult {
  std::optional<Graph> graph;
  std::string error;  // "file:line:col: message" when graph is empty
};

/// Parses and verifies one graph.
ParseResult parseGraph(std::string_view text, std::string_view filename = "<input>");

/// Checks a graph's invariants (operands precede uses, arities, shapes, dtypes, attributes,
/// in-bounds strided accesses, params numbered 0..n-1). Returns "" or the first problem, naming
/// the instruction as `%N`.
std::string verifyGraph(const Graph& g);

}  // namespace kiln::ir
