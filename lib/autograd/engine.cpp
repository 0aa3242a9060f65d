// The backward pass: one iterative walk of the backward graph in dependency order, summing the
// gradients that reach each function and applying its rule. The rules record lazy ops only:
// nothing is computed here.
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "kiln/ops.h"
#include "lib/autograd/function.h"
#include "lib/core/dump.h"
#include "lib/core/scalar_type.h"
#include "lib/frontend/common.h"

namespace kiln::autograd {

using detail::TensorImpl;

namespace {

const char* kSecondBackward =
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.";

// A leaf that several threads use (a model's weights) has one accumulator, whichever thread
// records the first op on it: created under this lock.
std::mutex accumulator_mutex;
// Backward passes run by several threads whose graphs share a leaf add their gradients to its
// grad() one at a time, as libtorch's AccumulateGrad does: under this lock. Recording the sum
// may create accumulators (under create_graph), so it is not the lock above.
std::mutex leaf_grad_mutex;

// The edge through which gradients reach tensor `t`.
Edge gradientEdge(const Tensor& t) {
  const auto& impl = t.impl();
  detail::refreshViewHistory(impl);
  if (impl->grad_fn) return {functionOf(impl->grad_fn), impl->output_nr};
  if (!impl->requires_grad) return {};
  std::lock_guard<std::mutex> lock(accumulator_mutex);
  std::shared_ptr<GradFunction> acc = functionOf(impl->grad_accumulator.lock());
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(impl);
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

// Before a pass over `graph`: a retained tensor whose grad_fn has changed since retain_grad()
// (an in-place op gave it a new history) now retains the gradient of its new grad_fn, as
// PyTorch moves the retains_grad hook; entries of freed tensors go.
void followRetained(
    const absl::flat_hash_map<GradFunction*, std::shared_ptr<GradFunction>>& graph) {
  for (const auto& entry : graph) {
    GradFunction* f = entry.first;
    // Leaves' accumulators, which other threads' passes may share, retain nothing: only read.
    if (f->retained.empty()) continue;
    std::vector<std::weak_ptr<TensorImpl>> kept;
    for (std::weak_ptr<TensorImpl>& w : f->retained) {
      std::shared_ptr<TensorImpl> impl = w.lock();
      if (!impl) continue;
      if (impl->grad_fn.get() == f) {
        kept.push_back(std::move(w));
      } else if (impl->grad_fn) {
        functionOf(impl->grad_fn)->retained.push_back(std::move(w));
      }
    }
    f->retained = std::move(kept);
  }
}

// Adds `g`, the gradient of f's output, to the grad() of the tensors retaining it: a copy the
// first time (so that it aliases no other gradient), differentiable under create_graph.
void retainGradient(GradFunction* f, const Tensor& g) {
  std::lock_guard<std::mutex> lock(leaf_grad_mutex);
  for (const std::weak_ptr<TensorImpl>& w : f->retained) {
    std::shared_ptr<TensorImpl> impl = w.lock();
    if (!impl || impl->grad_fn.get() != f) continue;
    impl->grad = impl->grad.defined() ? impl->grad + g : g.clone();
  }
}
}  // namespace

bool needsGrad(std::initializer_list<const Tensor*> inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor* t : inputs) {
    if (t && t->defined() && t->requires_grad()) return true;
  }
  return false;
}

bool needsGrad(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

void record(Tensor& out, std::string name, const std::vector<Tensor>& inputs,
            std::vector<Tensor> saved, Rule rule, int saved_output_index) {
  if (!needsGrad(inputs)) return;
  std::vector<SavedTensor> kept;
  for (size_t i = 0; i < saved.size(); ++i) {
    SavedTensor s;
    s.is_output = static_cast<int>(i) == saved_output_index;
    if (saved[i].defined()) {
      s.version = saved[i].impl()->version();
      // An output is saved as a plain alias: keeping its grad_fn would be a reference cycle.
      s.value = s.is_output ? saved[i].detach() : saved[i];
    }
    kept.push_back(std::move(s));
  }
  auto fn = std::make_shared<RuleFunction>(std::move(name), std::move(rule), std::move(kept));
  for (const Tensor& in : inputs) fn->next.push_back(in.defined() ? gradientEdge(in) : Edge{});
  out.impl()->grad_fn = fn;
  out.impl()->output_nr = 0;
  out.impl()->requires_grad = false;
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
  std::shared_ptr<TensorImpl> leaf = leaf_.lock();
  if (!leaf) return {};
  Tensor incoming = is_grad_enabled() ? grad_output : grad_output.detach();
  std::lock_guard<std::mutex> lock(leaf_grad_mutex);
  Tensor& g = leaf->grad;
  g = g.defined() ? g + incoming : incoming;
  return {};
}

std::vector<Tensor> RuleFunction::apply(const Tensor& grad_output) {
  if (released_ && !saved_.empty()) throw Error(kSecondBackward);
  std::vector<Tensor> values;
  for (const SavedTensor& s : saved_) {
    if (!s.value.defined()) {
      values.emplace_back();
      continue;
    }
    uint32_t now = s.value.impl()->version();
    if (now != s.version) {
      // PyTorch names the function whose output the tensor is: this one for a saved result,
      // the tensor's current grad_fn (the in-place op that changed it) for a saved input.
      const Tensor& v = s.value;
      std::shared_ptr<detail::TensorImpl> view = s.view.lock();
      std::shared_ptr<Node> fn = view ? Tensor(view).grad_fn() : v.grad_fn();
      std::string which =
          s.is_output && !view ? absl::StrCat(", which is output 0 of ", name_, ",")
          : fn ? absl::StrCat(", which is output ", v.impl()->output_nr, " of ", fn->name(), ",")
               : std::string();
      throw Error(absl::StrCat(
          "one of the variables needed for gradient computation has been modified by an inplace "
          "operation: [",
          std::string(detail::legacyTypeName(v.dtype())), " [",
          absl::StrJoin(v.sizes().vec(), ", "), "]]", which, " is at version ", now,
          "; expected version ", s.version,
          " instead. Hint: enable anomaly detection to find the operation that failed to compute "
          "its gradient, with torch.autograd.set_detect_anomaly(True)."));
    }
    if (s.is_output && is_grad_enabled()) {
      // For create_graph: the saved output is differentiable again, through this function.
      Tensor alias = s.value.detach();
      alias.impl()->grad_fn = shared_from_this();
      values.push_back(alias);
    } else {
      values.push_back(s.value);
    }
  }
  return rule_(grad_output, values);
}

void RuleFunction::resultMovedTo(const detail::Storage* result, const Tensor& self) {
  for (SavedTensor& s : saved_) {
    if (s.is_output && s.value.defined() && s.value.impl()->storage.get() == result) {
      s.value = self.detach();
      s.version = self.impl()->version();
      if (self.impl()->view_base) s.view = self.impl();
    }
  }
}

void RuleFunction::release() {
  released_ = true;
  for (SavedTensor& s : saved_) s.value = Tensor();
}

Tensor rootGradient(const Tensor& grad, const Tensor& output, size_t index) {
  if (grad.sizes() == output.sizes()) return grad;
  // Whether the output's shape expands to the gradient's (trailing dimensions equal or 1).
  const int64_t lead = grad.dim() - output.dim();
  bool expandable = lead >= 0;
  for (int64_t d = 0; expandable && d < output.dim(); ++d) {
    expandable = output.size(d) == 1 || output.size(d) == grad.size(d + lead);
  }
  if (!expandable) {
    throw Error(absl::StrCat(
        "invalid gradient at index ", index, " - got ", detail::shapeText(grad.sizes().vec()),
        " but expected shape compatible with ", detail::shapeText(output.sizes().vec())));
  }
  return sumTo(grad, output.sizes());
}

Tensor sumTo(const Tensor& grad, IntArrayRef shape) {
  if (grad.sizes() == shape) return grad;
  int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead || (shape[d - lead] == 1 && grad.size(d) != 1)) dims.push_back(d);
  }
  Tensor r = dims.empty() ? grad : grad.sum(dims, true);
  return r.reshape(shape);
}

// The gradients a pass over `graph` may write (its leaves' and its retained tensors'), as they
// are before it.
std::vector<std::pair<std::shared_ptr<TensorImpl>, Tensor>> gradientsBefore(
    const absl::flat_hash_map<GradFunction*, std::shared_ptr<GradFunction>>& graph) {
  std::vector<std::pair<std::shared_ptr<TensorImpl>, Tensor>> before;
  // Other threads' passes may be adding into the same leaves.
  std::lock_guard<std::mutex> lock(leaf_grad_mutex);
  for (const auto& entry : graph) {
    if (auto* acc = dynamic_cast<AccumulateGrad*>(entry.first)) {
      if (auto leaf = acc->leaf()) before.emplace_back(leaf, leaf->grad);
    }
    for (const std::weak_ptr<TensorImpl>& w : entry.first->retained) {
      if (auto impl = w.lock()) before.emplace_back(impl, impl->grad);
    }
  }
  return before;
}

// With KILN_DUMP, writes the gradient graph: what each gradient produced by this pass is, as
// pending IR, before anything is computed.
void dumpGradients(const std::vector<GradFunction*>& ran, const std::vector<Tensor>& captured) {
  std::string dir = core::dumpDir();
  if (dir.empty()) return;
  static std::atomic<int64_t> seq{0};
  std::string text;
  auto add = [&](const std::string& what, const Tensor& g) {
    if (g.defined()) absl::StrAppend(&text, "# ", what, "\n", detail::pendingGraphText(g), "\n");
  };
  for (GradFunction* f : ran) {
    if (auto* acc = dynamic_cast<AccumulateGrad*>(f)) {
      if (auto leaf = acc->leaf()) {
        Tensor g;
        {
          std::lock_guard<std::mutex> lock(leaf_grad_mutex);
          g = leaf->grad;
        }
        add("gradient of a leaf", g);
      }
    }
  }
  for (size_t i = 0; i < captured.size(); ++i)
    add(absl::StrCat("gradient of input ", i), captured[i]);
  std::filesystem::create_directories(dir);
  core::writeFile(absl::StrCat(dir, "/kiln-grad-", seq.fetch_add(1), ".kir"), text);
}

std::vector<Tensor> runBackward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                                bool retain_graph, bool create_graph,
                                const std::vector<Tensor>& capture, bool allow_unused,
                                bool accumulate) {
  AutoGradMode mode(create_graph);
  // Dependencies: how many edges lead into each function from the part of the graph we run.
  absl::flat_hash_map<GradFunction*, int> deps;
  absl::flat_hash_map<GradFunction*, std::shared_ptr<GradFunction>> keep;
  std::vector<GradFunction*> stack;
  std::vector<Edge> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = gradientEdge(roots[i]);
    if (!e.fn) {
      throw Error(absl::StrCat("element ", i,
                               " of tensors does not require grad and does not have a grad_fn"));
    }
    root_edges.push_back(e);
    if (keep.emplace(e.fn.get(), e.fn).second) stack.push_back(e.fn.get());
  }
  while (!stack.empty()) {
    GradFunction* f = stack.back();
    stack.pop_back();
    for (const Edge& e : f->next) {
      if (!e.fn) continue;
      ++deps[e.fn.get()];
      if (keep.emplace(e.fn.get(), e.fn).second) stack.push_back(e.fn.get());
    }
  }
  followRetained(keep);
  // Where captured gradients arrive: at a leaf's accumulator, or at a function's output.
  absl::flat_hash_map<GradFunction*, size_t> capture_at;
  for (size_t i = 0; i < capture.size(); ++i) {
    Edge e = gradientEdge(capture[i]);
    if (!e.fn) throw Error("One of the differentiated Tensors does not require grad");
    capture_at[e.fn.get()] = i;
  }
  std::vector<Tensor> captured(capture.size());
  // A backward pass limited to some inputs runs only the functions through which a gradient
  // reaches one of them, as libtorch's engine does (its exec_info): the others, and the leaves
  // outside `capture`, see no gradient.
  absl::flat_hash_set<GradFunction*> needed;
  if (accumulate && !capture.empty()) {
    absl::flat_hash_map<GradFunction*, std::vector<GradFunction*>> callers;
    for (const auto& entry : keep) {
      for (const Edge& e : entry.first->next) {
        if (e.fn) callers[e.fn.get()].push_back(entry.first);
      }
    }
    for (const auto& entry : capture_at) {
      if (keep.contains(entry.first) && needed.insert(entry.first).second) {
        stack.push_back(entry.first);
      }
    }
    while (!stack.empty()) {
      GradFunction* f = stack.back();
      stack.pop_back();
      for (GradFunction* c : callers[f]) {
        if (needed.insert(c).second) stack.push_back(c);
      }
    }
  }
  auto runs = [&](GradFunction* f) { return needed.empty() ? true : needed.contains(f); };

  absl::flat_hash_map<GradFunction*, Tensor> pending;
  auto add = [&](GradFunction* f, const Tensor& g) {
    Tensor& slot = pending[f];
    slot = slot.defined() ? slot + g : g;
  };
  std::vector<GradFunction*> ready;
  for (size_t i = 0; i < root_edges.size(); ++i) add(root_edges[i].fn.get(), grads[i]);
  for (const Edge& e : root_edges) {
    if (deps[e.fn.get()] == 0 && std::find(ready.begin(), ready.end(), e.fn.get()) == ready.end()) {
      ready.push_back(e.fn.get());
    }
  }
  std::vector<GradFunction*> ran;
  // A pass that fails part-way (a saved value changed in place, a materialisation short of
  // memory) puts back the gradients it wrote: a backward that throws has changed none.
  const std::vector<std::pair<std::shared_ptr<TensorImpl>, Tensor>> before = gradientsBefore(keep);
  try {
    while (!ready.empty()) {
      GradFunction* f = ready.back();
      ready.pop_back();
      ran.push_back(f);
      Tensor g = pending[f];
      pending.erase(f);
      if (auto c = capture_at.find(f); c != capture_at.end()) captured[c->second] = g;
      if (!runs(f)) g = Tensor();
      if (g.defined()) retainGradient(f, g);
      std::vector<Tensor> outs;
      if (auto* acc = dynamic_cast<AccumulateGrad*>(f)) {
        if ((capture.empty() || accumulate) && g.defined()) acc->apply(g);
      } else if (g.defined()) {
        outs = f->apply(g);
      }
      for (size_t k = 0; k < f->next.size(); ++k) {
        const Edge& e = f->next[k];
        if (!e.fn) continue;
        if (k < outs.size() && outs[k].defined()) add(e.fn.get(), outs[k]);
        if (--deps[e.fn.get()] == 0) ready.push_back(e.fn.get());
      }
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(leaf_grad_mutex);
    for (const auto& [impl, g] : before) impl->grad = g;
    throw;
  }
  if (!retain_graph) {
    for (GradFunction* f : ran) f->release();
  }
  dumpGradients(ran, captured);
  for (size_t i = 0; i < captured.size(); ++i) {
    if (!captured[i].defined() && !allow_unused && !accumulate) {
      throw Error(
          "One of the differentiated Tensors appears to not have been used in the graph. Set "
          "allow_unused=True if this is the desired behavior.");
    }
  }
  return captured;
}

namespace {
// libtorch's _make_grads: the given gradients (their number must match), with ones for a
// one-element output that requires grad and has none. An output that does not require grad
// and has no gradient gets no entry: run_backward then refuses it.
std::vector<Tensor> makeGrads(const variable_list& outputs, const variable_list& grad_outputs) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size()) {
    throw Error(
        absl::StrCat("got ", outputs.size(), " tensors and ", grad_outputs.size(), " gradients"));
  }
  std::vector<Tensor> gs;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!grad_outputs.empty() && grad_outputs[i].defined()) {
      gs.push_back(grad_outputs[i]);
    } else if (outputs[i].requires_grad()) {
      if (outputs[i].numel() != 1)
        throw Error("grad can be implicitly created only for scalar outputs");
      gs.push_back(ones_like(outputs[i]));
    }
  }
  return gs;
}

// run_backward's first check: every output has a grad_fn.
void checkRoots(const variable_list& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (!gradientEdge(outputs[i]).fn) {
      throw Error(absl::StrCat("element ", i,
                               " of tensors does not require grad and does not have a grad_fn"));
    }
  }
}

// The engine's first check (validate_outputs): every gradient suits its output.
std::vector<Tensor> validated(const variable_list& outputs, const std::vector<Tensor>& grads) {
  std::vector<Tensor> checked;
  for (size_t i = 0; i < grads.size(); ++i)
    checked.push_back(rootGradient(grads[i], outputs[i], i));
  return checked;
}
}  // namespace

void backward(const variable_list& tensors, const variable_list& grad_tensors,
              std::optional<bool> retain_graph, bool create_graph, const variable_list& inputs) {
  std::vector<Tensor> gs = makeGrads(tensors, grad_tensors);
  checkRoots(tensors);
  // libtorch makes each input retain its gradient (a no-op for leaves; it refuses a tensor that
  // does not require grad) before the engine runs.
  for (const Tensor& in : inputs) in.retain_grad();
  runBackward(tensors, validated(tensors, gs), retain_graph.value_or(create_graph), create_graph,
              inputs, /*allow_unused=*/true, /*accumulate=*/true);
}

variable_list grad(const variable_list& outputs, const variable_list& inputs,
                   const variable_list& grad_outputs, std::optional<bool> retain_graph,
                   bool create_graph, bool allow_unused) {
  std::vector<Tensor> gs = makeGrads(outputs, grad_outputs);
  checkRoots(outputs);
  gs = validated(outputs, gs);
  if (inputs.empty()) throw Error("grad requires non-empty inputs.");
  return runBackward(outputs, gs, retain_graph.value_or(create_graph), create_graph, inputs,
                     allow_unused, /*accumulate=*/false);
}

}  // namespace kiln::autograd
