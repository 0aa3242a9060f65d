// The reference interpreter run on a tensor's pending graph, for tests:
// kiln::detail::referenceValues and pendingGraphText.
#include <mutex>

#include "lib/core/scalar_type.h"
#include "lib/frontend/tensor_impl.h"
#include "lib/interp/reference.h"
#include "lib/ir/extract.h"

namespace kiln::detail {
namespace {

// The pending graph computing `root`, with `root` as its one output.
ir::Extraction extractPending(const ir::NodeRef& root) {
  ir::Extraction ex = ir::extract({root.get()});
  ex.graph.outputs.push_back({ex.instr_of.at(root.get()), -1});
  return ex;
}

}  // namespace

std::vector<double> referenceValues(const Tensor& t) {
  ir::NodeRef root = readNode(t);
  // Another thread's materialisation may realize nodes of this graph meanwhile, and write the
  // buffers of realized ones (in-place updates).
  std::lock_guard<std::mutex> lock(engineMutex());
  ir::Extraction ex = extractPending(root);
  std::vector<std::vector<double>> params;
  for (ir::Node* param : ex.param_node) {
    runtime::BufferPtr b = runtime::Buffer::of(param->realized());
    int64_t n = static_cast<int64_t>(b->bytes() / elementSize(param->dtype()));
    std::vector<double> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = loadElement(b->data(), param->dtype(), i);
    params.push_back(std::move(v));
  }
  return interp::interpret(ex.graph, params)[ex.graph.outputs[0].value];
}

std::string pendingGraphText(const Tensor& t) {
  ir::NodeRef root = readNode(t);
  std::lock_guard<std::mutex> lock(engineMutex());
  return extractPending(root).graph.text();
}

}  // namespace kiln::detail
