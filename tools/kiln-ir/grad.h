#pragma once
// kiln-ir --grad: the gradient graph of a graph. Its instructions are replayed through kiln's
// front end with the chosen params requiring grad, so the library's own backward rules derive
// the gradients (lib/autograd/rules.cpp), exactly as backward() on the program would; forward and
// backward are then extracted as one graph, the unit the later stages compile.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/ir/graph.h"

namespace kiln::tools {

/// What to differentiate: output `loss` of the graph with respect to `params` (empty: every
/// param of a floating type).
struct GradRequest {
  int32_t loss = 0;
  std::vector<int32_t> params;
};

/// Parses `--grad`'s value: "" (output 0, every floating param), "LOSS", or "LOSS:P,Q,..."
/// (`%` before a number is allowed). False, with `error` set, when it is malformed.
bool parseGradRequest(std::string_view text, GradRequest* out, std::string* error);

struct GradientGraph {
  /// Every param of the input graph, numbered as there; outputs: the loss, then its gradient
  /// with respect to each param of `params`, in that order.
  ir::Graph graph;
  std::vector<int32_t> params;
  /// Comment lines (each starting with '#') that say what the outputs are.
  std::string header;
};

/// Builds the gradient graph. Throws kiln::Error with PyTorch's words when the request does not
/// fit the graph: an output or param that does not exist, a param that cannot require grad, a
/// loss with more than one element, or one that does not depend on any of the params.
GradientGraph gradientGraph(const ir::Graph& g, const GradRequest& request);

}  // namespace kiln::tools
