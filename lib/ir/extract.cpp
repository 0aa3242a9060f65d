#include "lib/ir/extract.h"

#include <algorithm>
#include <mutex>

#include "lib/core/checked.h"

namespace kiln::ir {

// The scratch fields that matchExtraction keeps on nodes: which walk visited a node last, and
// the instruction standing for it in that walk. One walk at a time may use them.
struct WalkMarks {
  static std::mutex& mutex() {
    static auto* mu = new std::mutex;
    return *mu;
  }
  static uint64_t next_epoch;
  static int32_t get(const Node* n, uint64_t epoch) {
    return n->walk_epoch_ == epoch ? n->walk_instr_ : -1;
  }
  static void set(Node* n, uint64_t epoch, int32_t instr) {
    n->walk_epoch_ = epoch;
    n->walk_instr_ = instr;
  }
};
uint64_t WalkMarks::next_epoch = 1;

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

namespace {

bool isContiguousStrides(const std::vector<int64_t>& strides, const Shape& shape) {
  if (strides.size() != shape.size()) return false;
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (strides[i] != acc) return false;
    acc = saturatingMul(acc, std::max<int64_t>(shape[i], 1));
  }
  return true;
}

}  // namespace

bool matchExtraction(const std::vector<Node*>& roots, const Graph& expected,
                     const std::vector<bool>& exact, LiveMatch& out) {
  out.node_of.clear();
  out.param_node.clear();
  out.root_instr.clear();
  auto& stack = out.stack;
  stack.clear();
  std::lock_guard<std::mutex> lock(WalkMarks::mutex());
  const uint64_t epoch = WalkMarks::next_epoch++;
  const auto& instrs = expected.instrs;
  int32_t next = 0;  // the instruction the walk produces next
  // Params as addParamFor makes them: a flat param, and a view in the node's shape unless the
  // node is one-dimensional.
  auto matchParam = [&](Node* n) -> int32_t {
    if (next >= static_cast<int32_t>(instrs.size())) return -1;
    const NodeDesc& p = instrs[next].d;
    const int64_t numel = n->desc().numel();
    if (p.op != Op::Param || p.dtype != n->dtype() || p.shape.size() != 1 || p.shape[0] != numel ||
        p.ivalue != static_cast<int64_t>(out.param_node.size())) {
      return -1;
    }
    int32_t id = next++;
    out.param_node.push_back(n);
    out.node_of.push_back(n);
    if (n->shape().size() == 1 && n->shape()[0] == numel) return id;
    if (next >= static_cast<int32_t>(instrs.size())) return -1;
    const Instr& v = instrs[next];
    if (v.d.op != Op::Strided || v.d.dtype != n->dtype() || v.d.shape != n->shape() ||
        v.d.offset != 0 || !isContiguousStrides(v.d.ints, n->shape()) || v.operands.size() != 1 ||
        v.operands[0] != id) {
      return -1;
    }
    out.node_of.back() = nullptr;
    out.node_of.push_back(n);
    return next++;
  };
  auto matchPending = [&](Node* n) -> int32_t {
    if (next >= static_cast<int32_t>(instrs.size())) return -1;
    const Instr& e = instrs[next];
    const auto& inputs = n->inputs();
    if (e.operands.size() != inputs.size() ||
        !(structureOf(n->desc(), exact[next]) == structureOf(e.d, exact[next]))) {
      return -1;
    }
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (e.operands[k] != WalkMarks::get(inputs[k].get(), epoch)) return -1;
    }
    out.node_of.push_back(n);
    return next++;
  };
  for (Node* root : roots) {
    if (WalkMarks::get(root, epoch) < 0) stack.push_back({root, 0});
    while (!stack.empty()) {
      auto& [n, next_input] = stack.back();
      if (WalkMarks::get(n, epoch) >= 0) {
        stack.pop_back();
        continue;
      }
      if (!n->realized() && next_input < n->inputs().size()) {
        Node* child = n->inputs()[next_input++].get();
        if (WalkMarks::get(child, epoch) < 0) stack.push_back({child, 0});
        continue;
      }
      int32_t id = n->realized() ? matchParam(n) : matchPending(n);
      if (id < 0) return false;
      WalkMarks::set(n, epoch, id);
      stack.pop_back();
    }
  }
  for (Node* root : roots) out.root_instr.push_back(WalkMarks::get(root, epoch));
  return true;
}

}  // namespace kiln::ir
