// Materialisation: turns pending storages into computed buffers. The pipeline, in order:
// extract a Graph from the live nodes -> simplify -> schedule into kernels -> compile each
// kernel (or find it in the cache) -> run -> record the results back on the live nodes.
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/strings/str_cat.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "kiln/error.h"
#include "kiln/runtime.h"
#include "lib/core/dump.h"
#include "lib/frontend/tensor_impl.h"
#include "lib/ir/extract.h"
#include "runtime/thread_pool.h"
#include "runtime/kernel_cache.h"
#include "runtime/plan.h"
#include "runtime/stats.h"

namespace kiln::detail {

std::mutex& engineMutex() {
  static std::mutex mu;
  return mu;
}

namespace {

using ir::Node;
using ir::NodeRef;

bool envFlag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

std::atomic<bool>& eagerFlag() {
  static std::atomic<bool> flag{envFlag("KILN_EAGER")};
  return flag;
}

// A pending graph deeper than this is materialised as soon as it is recorded, so that a loop
// that never reads its values keeps bounded memory and bounded kernels.
constexpr int32_t kDepthBudget = 400;

// Before a storage's buffer is overwritten in place, the node holding its old contents must
// keep them if anything outside this materialisation can still read it (directly or through
// pending nodes that will stay pending): then it gets a copy.
void protectOldContents(Storage& s, const ir::Extraction& ex,
                        const absl::flat_hash_map<Node*, int32_t>& held_by_storages) {
  Node* old = s.owner.get();
  if (old == nullptr || old == s.value.get()) return;
  absl::flat_hash_map<Node*, int32_t> in_graph_refs;
  for (Node* n : ex.node_of) {
    if (n == nullptr || n->realized()) continue;
    for (const NodeRef& in : n->inputs()) ++in_graph_refs[in.get()];
  }
  auto external = [&](Node* n) {
    auto held = held_by_storages.find(n);
    int32_t known = in_graph_refs[n] + (held == held_by_storages.end() ? 0 : held->second);
    return n->refs() > known;
  };
  bool needs_copy = external(old);
  if (!needs_copy) {
    // Pending nodes of this graph that read the old contents and are held elsewhere.
    absl::flat_hash_set<Node*> reads_old{old};
    for (Node* n : ex.node_of) {
      if (n == nullptr || n->realized()) continue;
      bool reads = false;
      for (const NodeRef& in : n->inputs()) reads |= reads_old.contains(in.get());
      if (!reads) continue;
      reads_old.insert(n);
      bool is_root = held_by_storages.contains(n);
      if (!is_root && external(n)) needs_copy = true;
    }
  }
  if (needs_copy) old->rebind(runtime::Buffer::of(old->realized())->clone());
}

}  // namespace

void materialize(const std::vector<Storage*>& requested, const char* why) {
  std::lock_guard<std::mutex> lock(engineMutex());
  std::vector<Storage*> work;
  absl::flat_hash_set<Storage*> seen;
  for (Storage* s : requested) {
    if (!seen.insert(s).second) continue;
    runtime::BufferPtr r = runtime::Buffer::of(s->value->realized());
    if (r && r == s->buffer) continue;
    if (r && !s->buffer && !r->bound()) {
      // The value was computed by an earlier run into a buffer no storage owns: adopt it.
      r->bind();
      s->buffer = r;
      s->owner = s->value;
      s->owner->forget();
      continue;
    }
    work.push_back(s);
  }
  if (work.empty()) return;
  runtime::counters().materializations.fetch_add(1);
  for (Storage* s : work) {
    if (s->device != work[0]->device) {
      throw Error("kiln: materialising tensors on " + work[0]->device.str() + " and " +
                  s->device.str() + " together is not supported yet");
    }
  }
  runtime::Device& device = runtime::deviceFor(work[0]->device);

  // Every storage's old owner goes into the graph as the destination param.
  std::vector<Node*> roots;
  absl::flat_hash_map<Node*, int32_t> held;
  for (Storage* s : work) {
    roots.push_back(s->value.get());
    ++held[s->value.get()];
    if (s->owner) {
      roots.push_back(s->owner.get());
      ++held[s->owner.get()];
    }
  }
  ir::Extraction ex = ir::extract(roots);
  for (Storage* s : work) protectOldContents(*s, ex, held);
  // The rebinding above may have changed param buffers: read them now.
  std::vector<runtime::BufferPtr> params;
  params.reserve(ex.param_node.size());
  for (Node* n : ex.param_node) {
    params.push_back(runtime::Buffer::of(n->realized()));
    checkAllocated(*params.back());
  }

  absl::flat_hash_set<Node*> has_dest;
  for (Storage* s : work) {
    ir::Output o{ex.instr_of.at(s->value.get()), -1};
    if (s->buffer && !has_dest.contains(s->value.get())) {
      // The owner's param is this storage's buffer (unless it was just given a snapshot).
      int32_t owner_instr = s->owner ? ex.instr_of.at(s->owner.get()) : -1;
      const ir::Instr* p = owner_instr >= 0 ? &ex.graph.instrs[owner_instr] : nullptr;
      if (p && p->d.op == ir::Op::Strided) p = &ex.graph.instrs[p->operands[0]];
      if (p && params[p->d.ivalue] == s->buffer) {
        o.dest_param = static_cast<int32_t>(p->d.ivalue);
      } else {
        o.dest_param = ex.addParam(s->buffer, s->dtype, s->numel);
        params.push_back(s->buffer);
      }
      has_dest.insert(s->value.get());
    }
    ex.graph.outputs.push_back(o);
  }

  const std::string dump = core::dumpDir();
  std::string dump_prefix;
  if (!dump.empty()) {
    static std::atomic<int64_t> dump_seq{0};
    std::filesystem::create_directories(dump);
    dump_prefix = absl::StrCat(dump, "/kiln-", dump_seq.fetch_add(1));
    core::writeFile(dump_prefix + ".recorded.kir",
                    absl::StrCat("# materialised for: ", why, "\n", ex.graph.text()));
  }
  std::shared_ptr<const runtime::Plan> plan = runtime::cachedPlan(ex.graph, device, dump_prefix);
  std::vector<runtime::BufferPtr> slots = runtime::runPlan(*plan, ex.graph, params);
  const sched::Schedule& sch = plan->schedule;

  // Record results on the live nodes: intermediate results (so that other pending work reuses
  // them instead of recomputing), then the storages' values. Realizing a node lets go of its
  // inputs, so every node to update is held until all are done.
  std::vector<std::pair<NodeRef, int32_t>> intermediates;
  for (auto [instr, slot] : plan->intermediates) {
    if (Node* n = ex.node_of[instr]; n && !n->realized())
      intermediates.emplace_back(NodeRef::share(n), slot);
  }
  for (auto& [n, slot] : intermediates) n->realize(slots[slot]);
  for (size_t k = 0; k < work.size(); ++k) {
    Storage* s = work[k];
    runtime::BufferPtr result = slots[sch.output_slots[k]];
    if (s->buffer && result != s->buffer) {
      device.copy(*result, *s->buffer, s->buffer->bytes());
      result = s->buffer;
    } else if (!s->buffer) {
      if (result->bound() || result->external()) result = result->clone();
      result->bind();
      s->buffer = result;
    }
    if (!s->value->realized() || s->value->realized() == s->buffer ||
        !runtime::Buffer::of(s->value->realized())->bound()) {
      s->value->realize(s->buffer);
    } else {
      s->value = Node::makeParam(s->buffer, s->dtype, s->numel);
    }
    s->owner = s->value;
    s->owner->forget();
  }
}

namespace {
thread_local int eager_deferred = 0;
thread_local int keep_pending = 0;
}  // namespace

DeferEager::DeferEager() {
  ++eager_deferred;
}
DeferEager::~DeferEager() {
  --eager_deferred;
}

KeepPending::KeepPending() {
  ++keep_pending;
}
KeepPending::~KeepPending() {
  --keep_pending;
}

void afterRecord(const Tensor& t) {
  if (keep_pending > 0) return;
  Storage* s = t.impl()->storage.get();
  if (eagerFlag().load(std::memory_order_relaxed) && eager_deferred == 0) {
    materialize({s}, "eager mode");
  } else if (s->value->depth() > kDepthBudget) {
    runtime::counters().budget_materializations.fetch_add(1);
    materialize({s}, "pending graph exceeded the size budget");
  }
}

}  // namespace kiln::detail

namespace kiln {

void eval(const std::vector<Tensor>& tensors) {
  std::vector<detail::Storage*> storages;
  for (const Tensor& t : tensors) {
    if (t.defined()) storages.push_back(t.impl()->storage.get());
  }
  detail::materialize(storages, "kiln::eval");
}

Stats stats() {
  runtime::Counters& c = runtime::counters();
  Stats s;
  s.kernels_run = c.kernels_run.load();
  s.kernels_compiled = c.kernels_compiled.load();
  s.cache_hits = c.cache_hits.load();
  s.cache_misses = c.cache_misses.load();
  s.materializations = c.materializations.load();
  s.budget_materializations = c.budget_materializations.load();
  s.compile_ms = static_cast<double>(c.compile_ns.load()) / 1e6;
  return s;
}

void reset_stats() {
  runtime::Counters& c = runtime::counters();
  c.kernels_run = 0;
  c.kernels_compiled = 0;
  c.cache_hits = 0;
  c.cache_misses = 0;
  c.materializations = 0;
  c.budget_materializations = 0;
  c.compile_ns = 0;
}

void set_num_threads(int n) {
  runtime::setNumThreads(n);
}

int get_num_threads() {
  return runtime::numThreads();
}

void set_eager(bool eager) {
  detail::eagerFlag().store(eager);
}
bool is_eager() {
  return detail::eagerFlag().load();
}
void clear_kernel_cache() {
  std::lock_guard<std::mutex> lock(detail::engineMutex());
  runtime::clearPlans();
  runtime::clearKernelCache();
}

}  // namespace kiln
