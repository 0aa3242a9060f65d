#include <absl/container/flat_hash_map.h>

#include <cstring>

#include "lib/core/scalar_type.h"
#include "lib/frontend/tensor_impl.h"
#include "lib/interp/reference.h"
#include "lib/ir/graph.h"

namespace kiln::detail {
namespace {

struct Pending {
  ir::Graph graph;
  std::vector<runtime::BufferPtr> params;
  std::vector<ScalarType> param_types;
};

// Iterative walk from `root`; realized nodes become params (read as flat arrays).
Pending extractPending(const ir::NodeRef& root) {
  Pending p;
  absl::flat_hash_map<const ir::Node*, int32_t> id;
  std::vector<std::pair<const ir::Node*, size_t>> stack{{root.get(), 0}};
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (id.contains(n)) {
      stack.pop_back();
      continue;
    }
    if (!n->realized() && next < n->inputs().size()) {
      const ir::Node* c = n->inputs()[next++].get();
      if (!id.contains(c)) stack.push_back({c, 0});
      continue;
    }
    int32_t i;
    if (n->realized()) {
      ir::NodeDesc d;
      d.op = ir::Op::Param;
      d.dtype = n->dtype();
      d.shape = {n->desc().numel()};
      d.ivalue = static_cast<int64_t>(p.params.size());
      p.params.push_back(n->realized());
      p.param_types.push_back(n->dtype());
      i = p.graph.add(std::move(d), {});
      if (n->shape() != p.graph.instrs[i].d.shape) {
        ir::NodeDesc v;
        v.op = ir::Op::Strided;
        v.dtype = n->dtype();
        v.shape = n->shape();
        v.ints = ir::contiguousStrides(n->shape());
        i = p.graph.add(std::move(v), {i});
      }
    } else {
      std::vector<int32_t> ops;
      for (const ir::NodeRef& in : n->inputs()) ops.push_back(id.at(in.get()));
      i = p.graph.add(n->desc(), std::move(ops));
    }
    id.emplace(n, i);
    stack.pop_back();
  }
  p.graph.outputs.push_back({id.at(root.get()), -1});
  return p;
}

}  // namespace

std::vector<double> referenceValues(const Tensor& t) {
  Pending p = extractPending(readNode(t));
  std::vector<std::vector<double>> params;
  for (size_t k = 0; k < p.params.size(); ++k) {
    int64_t n = static_cast<int64_t>(p.params[k]->bytes() / elementSize(p.param_types[k]));
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = loadElement(p.params[k]->data(), p.param_types[k], i);
    params.push_back(std::move(v));
  }
  return interp::interpret(p.graph, params)[p.graph.outputs[0].value];
}

std::string pendingGraphText(const Tensor& t) {
  return extractPending(readNode(t)).graph.text();
}

}  // namespace kiln::detail
