#include "lib/ir/extract.h"

namespace kiln::ir {
namespace {

// A param instruction and, for a node that is not one-dimensional, the view giving it the
// node's shape. Returns the instruction that stands for the node.
int32_t addParamFor(Extraction& ex, Node* n, MemoryPtr memory) {
  ex.addParam(std::move(memory), n->dtype(), n->desc().numel());
  ex.param_node.back() = n;
  ex.node_of.back() = n;
  int32_t id = static_cast<int32_t>(ex.graph.instrs.size() - 1);
  if (n->shape() == ex.graph.instrs[id].d.shape) return id;
  NodeDesc v;
  v.op = Op::Strided;
  v.dtype = n->dtype();
  v.shape = n->shape();
  v.ints = contiguousStrides(n->shape());
  ex.node_of.back() = nullptr;
  ex.node_of.push_back(n);
  return ex.graph.add(std::move(v), {id});
}

}  // namespace

int32_t Extraction::addParam(MemoryPtr memory, ScalarType dtype, int64_t numel) {
  NodeDesc d;
  d.op = Op::Param;
  d.dtype = dtype;
  d.shape = {numel};
  d.ivalue = static_cast<int64_t>(param_node.size());
  param_node.push_back(nullptr);
  param_memory.push_back(std::move(memory));
  node_of.push_back(nullptr);
  graph.add(std::move(d), {});
  return static_cast<int32_t>(param_node.size() - 1);
}

Extraction extract(const std::vector<Node*>& roots, const std::vector<Node*>& leaves) {
  Extraction ex;
  for (Node* leaf : leaves) {
    if (!ex.instr_of.contains(leaf)) ex.instr_of.emplace(leaf, addParamFor(ex, leaf, nullptr));
  }
  struct Frame {
    Node* n;
    size_t next;
  };
  std::vector<Frame> stack;
  for (Node* root : roots) {
    if (!ex.instr_of.contains(root)) stack.push_back({root, 0});
    while (!stack.empty()) {
      Frame& f = stack.back();
      Node* n = f.n;
      if (ex.instr_of.contains(n)) {
        stack.pop_back();
        continue;
      }
      if (!n->realized() && f.next < n->inputs().size()) {
        Node* child = n->inputs()[f.next++].get();
        if (!ex.instr_of.contains(child)) stack.push_back({child, 0});
        continue;
      }
      int32_t id;
      if (n->realized()) {
        id = addParamFor(ex, n, n->realized());
      } else {
        std::vector<int32_t> operands;
        operands.reserve(n->inputs().size());
        for (const NodeRef& in : n->inputs()) operands.push_back(ex.instr_of.at(in.get()));
        id = ex.graph.add(n->desc(), std::move(operands));
        ex.node_of.push_back(n);
      }
      ex.instr_of.emplace(n, id);
      stack.pop_back();
    }
  }
  return ex;
}

}  // namespace kiln::ir
