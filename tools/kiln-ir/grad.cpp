#include "tools/kiln-ir/grad.h"

#include <absl/container/flat_hash_map.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>

#include <algorithm>
#include <utility>

#include "kiln/autograd.h"
#include "kiln/error.h"
#include "kiln/ops.h"
#include "lib/frontend/common.h"
#include "lib/frontend/tensor_impl.h"
#include "lib/ir/extract.h"
#include "tools/kiln-ir/replay.h"

namespace kiln::tools {
namespace {

using ir::Op;

bool parseIndex(std::string text, int32_t* out) {
  if (!text.empty() && text.front() == '%') text.erase(0, 1);
  return !text.empty() && absl::SimpleAtoi(text, out) && *out >= 0;
}

// The graph computing `outputs`, with `params` as params 0..n-1 whether they are read or not.
ir::Graph extract(const std::vector<Tensor>& params, const std::vector<Tensor>& outputs) {
  std::vector<ir::NodeRef> held;  // the nodes readNode makes for views live while we walk
  std::vector<ir::Node*> leaves, roots;
  for (const Tensor& p : params) leaves.push_back(held.emplace_back(detail::readNode(p)).get());
  for (const Tensor& t : outputs) roots.push_back(held.emplace_back(detail::readNode(t)).get());
  ir::Extraction ex = ir::extract(roots, leaves);
  if (ex.param_node.size() != leaves.size()) {
    throw Error(
        "kiln-ir --grad: a value was computed while the gradient graph was built (an internal "
        "error: replaying records without materialising)");
  }
  for (ir::Node* root : roots) ex.graph.outputs.push_back({ex.instr_of.at(root), -1});
  return std::move(ex.graph);
}

}  // namespace

bool parseGradRequest(std::string_view text, GradRequest* out, std::string* error) {
  *out = GradRequest{};
  if (text.empty()) return true;
  const std::string spec(text);
  const size_t colon = spec.find(':');
  bool ok = parseIndex(spec.substr(0, colon), &out->loss);
  if (ok && colon != std::string::npos) {
    const std::vector<std::string> params = absl::StrSplit(spec.substr(colon + 1), ',');
    for (const std::string& p : params) {
      int32_t k = 0;
      ok = ok && parseIndex(p, &k);
      if (ok && std::find(out->params.begin(), out->params.end(), k) == out->params.end())
        out->params.push_back(k);
    }
  }
  if (!ok) {
    *error = absl::StrCat(
        "--grad takes LOSS or LOSS:P,Q,... (an output number, then param numbers), got '", spec,
        "'");
  }
  return ok;
}

GradientGraph gradientGraph(const ir::Graph& g, const GradRequest& request) {
  const int32_t param_count = g.paramCount();
  if (request.loss >= static_cast<int32_t>(g.outputs.size())) {
    throw Error(absl::StrCat("--grad: the graph has ", g.outputs.size(),
                             g.outputs.size() == 1 ? " output" : " outputs",
                             ", so there is no output ", request.loss));
  }
  GradientGraph r;
  r.params = request.params;
  if (r.params.empty()) {
    for (int32_t k = 0; k < param_count; ++k) {
      if (isFloatingType(g.instrs[g.paramInstr(k)].d.dtype)) r.params.push_back(k);
    }
    if (r.params.empty()) throw Error("--grad: the graph has no param of a floating type");
  }
  for (int32_t k : r.params) {
    if (k >= param_count) {
      throw Error(absl::StrCat("--grad: the graph has ", param_count,
                               param_count == 1 ? " param" : " params", ", so there is no param ",
                               k));
    }
  }

  // Recording only: params have memory (zeros) that nothing reads, and nothing is computed.
  detail::KeepPending keep_pending;
  std::vector<Tensor> params;
  for (int32_t k = 0; k < param_count; ++k) {
    const ir::NodeDesc& d = g.instrs[g.paramInstr(k)].d;
    params.push_back(paramTensor(
        runtime::cpuDevice().allocate(static_cast<size_t>(d.numel()) * elementSize(d.dtype)), d));
  }
  std::vector<Tensor> wrt;
  for (int32_t k : r.params) {
    params[k].requires_grad_(true);
    wrt.push_back(params[k]);
  }
  std::vector<Tensor> values = replayGraph(g, params);
  const int32_t loss_value = g.outputs[request.loss].value;
  Tensor loss = values[loss_value];
  if (loss.numel() != 1) throw Error("grad can be implicitly created only for scalar outputs");
  std::vector<Tensor> grads = autograd::grad({loss}, wrt, {}, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
  std::vector<std::string> unused, names;
  std::vector<Tensor> outputs{loss};
  for (size_t j = 0; j < grads.size(); ++j) {
    names.push_back(absl::StrCat(j + 1, " = d/d param ", r.params[j]));
    if (grads[j].defined()) {
      outputs.push_back(grads[j]);
    } else {
      unused.push_back(absl::StrCat("param ", r.params[j]));
      outputs.push_back(zeros_like(params[r.params[j]]));
    }
  }
  r.graph = extract(params, outputs);
  std::vector<std::string> wrt_names;
  for (int32_t k : r.params) wrt_names.push_back(absl::StrCat("param ", k));
  r.header =
      absl::StrCat("# gradient graph (kiln-ir --grad): output ", request.loss, " (%", loss_value,
                   ") differentiated with respect to ", absl::StrJoin(wrt_names, ", "),
                   "\n# outputs: 0 = the loss, ", absl::StrJoin(names, ", "), "\n");
  if (!unused.empty()) {
    absl::StrAppend(&r.header, "# the loss does not depend on ", absl::StrJoin(unused, ", "),
                    ": its gradient is zero\n");
  }
  return r;
}

}  // namespace kiln::tools
