// Materialisation: turns pending storages into computed buffers. The pipeline, in order:
// find a cached plan by the live nodes' structural hash and check the graph against it, or
// extract a Graph from the live nodes -> simplify -> schedule into kernels -> compile each
// kernel (or find it in the cache) -> run -> record the results back on the live nodes.
#include <absl/container/flat_hash_set.h>
#include <absl/strings/str_cat.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "kiln/error.h"
#include "kiln/profiler.h"
#include "kiln/runtime.h"
#include "lib/core/checked.h"
#include "lib/core/dump.h"
#include "lib/frontend/tensor_impl.h"
#include "lib/ir/extract.h"
#include "runtime/kernel_cache.h"
#include "runtime/plan.h"
#include "runtime/profiler.h"
#include "runtime/stats.h"
#include "runtime/thread_pool.h"

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

// What one materialisation works with, reused by the next (materialisations hold engineMutex):
// a plan-cache hit allocates none of it once it has grown.
struct Scratch {
  std::vector<Storage*> work;
  absl::flat_hash_set<Storage*> seen;
  // The extraction roots (each storage's value, then its owner if it has one), and per storage
  // the index of its value and of its owner (-1 if none) among them.
  std::vector<Node*> roots;
  std::vector<int32_t> value_root, owner_root;
  // The graph's live nodes, numbered as extraction numbers them.
  ir::LiveMatch live;
  std::vector<runtime::BufferPtr> params;
  std::vector<ir::Output> outputs;
  // Params added after extraction for destination buffers: type and element count.
  std::vector<std::pair<ScalarType, int64_t>> dest_params;
  std::vector<int32_t> held, in_refs;
  std::vector<uint8_t> feeds_external, has_dest;
  std::vector<runtime::BufferPtr> slots;
  std::vector<std::pair<NodeRef, int32_t>> intermediates;
  // Per storage, the buffer allocated for it before the run (see ownBuffers); per slot, whether
  // a storage without memory takes it.
  std::vector<runtime::BufferPtr> own;
  std::vector<uint8_t> claimed;

  // Lets go of buffers and nodes, keeping the memory of the vectors.
  void release() {
    params.clear();
    slots.clear();
    intermediates.clear();
    own.clear();
  }
};

Scratch& scratch() {
  static auto* s = new Scratch;
  return *s;
}

// The structural hash of what a materialisation of `work` extracts (Node::structuralHash):
// the plan index's key. It only narrows the search; the match decides.
uint64_t liveGraphHash(const std::vector<Storage*>& work) {
  uint64_t h = work.size();
  for (const Storage* s : work) {
    h = ir::mixHash(h, s->value->structuralHash());
    h = ir::mixHash(h, s->owner ? s->owner->structuralHash() : 1);
    h = ir::mixHash(h, s->buffer != nullptr);
  }
  return h;
}

// Before a storage's buffer is overwritten in place, the node holding its old contents must
// keep them if anything outside this materialisation can still read it (directly or through
// pending nodes that will stay pending): then it gets a copy. One pass over the graph for all
// storages together: a node "feeds an external reader" when some pending node that reads it,
// directly or through other pending nodes, is held outside this graph and is not being
// materialised; that is found backwards from the last instruction, so updating many
// parameters at once stays linear in the graph's size.
void protectOldContents(Scratch& sc, const std::vector<ir::Instr>& instrs) {
  bool any = false;
  for (const Storage* s : sc.work) any = any || (s->owner && s->owner != s->value);
  if (!any) return;
  const std::vector<Node*>& node_of = sc.live.node_of;
  const size_t n = node_of.size();
  // References that the storages being materialised and this graph's pending nodes hold.
  sc.held.assign(n, 0);
  sc.in_refs.assign(n, 0);
  sc.feeds_external.assign(n, 0);
  for (size_t k = 0; k < sc.work.size(); ++k) {
    ++sc.held[sc.live.root_instr[sc.value_root[k]]];
    if (sc.owner_root[k] >= 0) ++sc.held[sc.live.root_instr[sc.owner_root[k]]];
  }
  auto pending = [&](size_t i) { return node_of[i] != nullptr && !node_of[i]->realized(); };
  for (size_t i = 0; i < n; ++i) {
    if (!pending(i)) continue;
    for (int32_t o : instrs[i].operands) ++sc.in_refs[o];
  }
  auto external = [&](size_t i) { return node_of[i]->refs() > sc.in_refs[i] + sc.held[i]; };
  for (size_t i = n; i-- > 0;) {
    if (!pending(i)) continue;
    if (sc.feeds_external[i] || (sc.held[i] == 0 && external(i))) {
      for (int32_t o : instrs[i].operands) sc.feeds_external[o] = 1;
    }
  }
  for (size_t k = 0; k < sc.work.size(); ++k) {
    Node* old = sc.work[k]->owner.get();
    if (old == nullptr || old == sc.work[k]->value.get()) continue;
    const int32_t i = sc.live.root_instr[sc.owner_root[k]];
    if (external(i) || sc.feeds_external[i]) {
      old->rebind(runtime::Buffer::of(old->realized())->clone());
    }
  }
}

// Each storage's output, and the destination params to add for buffers the graph does not
// read (see ir::Output).
void computeOutputs(Scratch& sc, const std::vector<ir::Instr>& instrs) {
  sc.outputs.clear();
  sc.dest_params.clear();
  sc.has_dest.assign(sc.live.node_of.size(), 0);
  for (size_t k = 0; k < sc.work.size(); ++k) {
    const Storage* s = sc.work[k];
    const int32_t value = sc.live.root_instr[sc.value_root[k]];
    ir::Output o{value, -1};
    if (s->buffer && !sc.has_dest[value]) {
      // The owner's param is this storage's buffer (unless it was just given a snapshot).
      int32_t owner_instr = sc.owner_root[k] >= 0 ? sc.live.root_instr[sc.owner_root[k]] : -1;
      const ir::Instr* p = owner_instr >= 0 ? &instrs[owner_instr] : nullptr;
      if (p && p->d.op == ir::Op::Strided) p = &instrs[p->operands[0]];
      if (p && sc.params[p->d.ivalue] == s->buffer) {
        o.dest_param = static_cast<int32_t>(p->d.ivalue);
      } else {
        o.dest_param = static_cast<int32_t>(sc.params.size());
        sc.dest_params.emplace_back(s->dtype, s->numel);
        sc.params.push_back(s->buffer);
      }
      sc.has_dest[value] = 1;
    }
    sc.outputs.push_back(o);
  }
}

// Whether a plan's graph has the outputs and destination params just computed after the
// instructions that matched.
bool sameOutputs(const Scratch& sc, const ir::Graph& recorded) {
  const size_t walked = sc.live.node_of.size();
  if (recorded.instrs.size() != walked + sc.dest_params.size()) return false;
  for (size_t j = 0; j < sc.dest_params.size(); ++j) {
    const ir::NodeDesc& d = recorded.instrs[walked + j].d;
    if (d.op != ir::Op::Param || d.dtype != sc.dest_params[j].first || d.shape.size() != 1 ||
        d.shape[0] != sc.dest_params[j].second ||
        d.ivalue != static_cast<int64_t>(sc.live.param_node.size() + j)) {
      return false;
    }
  }
  if (recorded.outputs.size() != sc.outputs.size()) return false;
  for (size_t k = 0; k < sc.outputs.size(); ++k) {
    if (recorded.outputs[k].value != sc.outputs[k].value ||
        recorded.outputs[k].dest_param != sc.outputs[k].dest_param) {
      return false;
    }
  }
  return true;
}

// Allocates, before the run, a buffer for each storage without memory whose result is a buffer
// it cannot take: a param (another storage's memory, or the caller's) or a slot that an earlier
// storage takes. The run writes storages' buffers in place, so everything that can fail comes
// before it: a failed materialisation leaves every storage as it was.
void ownBuffers(Scratch& sc, const sched::Schedule& sch, runtime::Device& device) {
  sc.own.assign(sc.work.size(), nullptr);
  sc.claimed.assign(sch.slots.size(), 0);
  for (size_t k = 0; k < sc.work.size(); ++k) {
    if (sc.work[k]->buffer) continue;
    const int32_t slot = sch.output_slots[k];
    const sched::Slot& sl = sch.slots[slot];
    const runtime::Buffer* param = sl.param >= 0 ? sc.params[sl.param].get() : nullptr;
    if (sc.claimed[slot] || (param && (param->bound() || param->external()))) {
      sc.own[k] =
          device.allocate(param ? param->bytes() : saturatingMul(sl.numel, elementSize(sl.dtype)));
    }
    sc.claimed[slot] = 1;
  }
}

// Whether requested[i] appeared earlier in `requested`.
bool repeated(Scratch& sc, absl::Span<Storage* const> requested, size_t i) {
  constexpr size_t kLinear = 16;
  if (requested.size() <= kLinear) {
    for (size_t j = 0; j < i; ++j) {
      if (requested[j] == requested[i]) return true;
    }
    return false;
  }
  if (i == 0) sc.seen.clear();
  return !sc.seen.insert(requested[i]).second;
}

}  // namespace

void materialize(absl::Span<Storage* const> requested, const char* why) {
  std::lock_guard<std::mutex> lock(engineMutex());
  Scratch& sc = scratch();
  struct Release {
    Scratch& sc;
    ~Release() { sc.release(); }
  } release{sc};
  sc.work.clear();
  for (size_t i = 0; i < requested.size(); ++i) {
    Storage* s = requested[i];
    if (repeated(sc, requested, i)) continue;
    const ir::MemoryPtr& r = s->value->realized();
    if (r && r == s->buffer) continue;
    if (r && !s->buffer && !runtime::Buffer::of(r)->bound()) {
      // The value was computed by an earlier run into a buffer no storage owns: adopt it.
      runtime::BufferPtr b = runtime::Buffer::of(r);
      b->bind();
      s->buffer = std::move(b);
      s->owner = s->value;
      s->owner->forget();
      continue;
    }
    sc.work.push_back(s);
  }
  if (sc.work.empty()) return;
  runtime::counters().materializations.fetch_add(1);
  for (Storage* s : sc.work) {
    if (s->device != sc.work[0]->device) {
      throw Error("kiln: materialising tensors on " + sc.work[0]->device.str() + " and " +
                  s->device.str() + " together is not supported yet");
    }
  }
  runtime::Device& device = runtime::deviceFor(sc.work[0]->device);

  // Every storage's old owner goes into the graph as the destination param.
  sc.roots.clear();
  sc.value_root.clear();
  sc.owner_root.clear();
  for (Storage* s : sc.work) {
    sc.value_root.push_back(static_cast<int32_t>(sc.roots.size()));
    sc.roots.push_back(s->value.get());
    sc.owner_root.push_back(s->owner ? static_cast<int32_t>(sc.roots.size()) : -1);
    if (s->owner) sc.roots.push_back(s->owner.get());
  }

  // Read once, as KILN_EAGER is: the environment is no cheaper to search than a cache hit.
  static const std::string dump = core::dumpDir();
  // A plan cached for this structure is found by the hash kept on the nodes and checked against
  // the live graph in one walk; otherwise the graph is extracted and the plan looked up by its
  // full structural key, or built. Dumps always extract (they print the extracted graph).
  const uint64_t hash = liveGraphHash(sc.work);
  std::shared_ptr<const runtime::Plan> matched;
  if (dump.empty()) {
    for (auto& candidate : runtime::plansForHash(device, hash)) {
      if (ir::matchExtraction(sc.roots, candidate->recorded, candidate->exact, sc.live)) {
        matched = std::move(candidate);
        break;
      }
    }
  }
  ir::Extraction ex;
  if (!matched) {
    ex = ir::extract(sc.roots);
    sc.live.node_of = ex.node_of;
    sc.live.param_node = ex.param_node;
    sc.live.root_instr.clear();
    for (Node* root : sc.roots) sc.live.root_instr.push_back(ex.instr_of.at(root));
  }
  const std::vector<ir::Instr>& instrs = matched ? matched->recorded.instrs : ex.graph.instrs;
  protectOldContents(sc, instrs);
  // The rebinding above may have changed param buffers: read them now.
  sc.params.clear();
  for (Node* n : sc.live.param_node) {
    sc.params.push_back(runtime::Buffer::of(n->realized()));
    checkAllocated(*sc.params.back());
  }
  computeOutputs(sc, instrs);

  std::shared_ptr<const runtime::Plan> plan;
  if (matched && sameOutputs(sc, matched->recorded)) {
    plan = matched;
    runtime::countHit(*plan);
    runtime::counters().plans_matched.fetch_add(1);
  } else {
    // The nodes matched but the destinations differ: the same graph, other outputs.
    if (matched) ex = ir::extract(sc.roots);
    for (size_t j = 0; j < sc.dest_params.size(); ++j) {
      const size_t param = sc.live.param_node.size() + j;
      ex.addParam(sc.params[param], sc.dest_params[j].first, sc.dest_params[j].second);
    }
    ex.graph.outputs = sc.outputs;
    std::string dump_prefix;
    if (!dump.empty()) {
      static std::atomic<int64_t> dump_seq{0};
      std::filesystem::create_directories(dump);
      dump_prefix = absl::StrCat(dump, "/kiln-", dump_seq.fetch_add(1));
      core::writeFile(dump_prefix + ".recorded.kir",
                      absl::StrCat("# materialised for: ", why, "\n", ex.graph.text()));
    }
    plan = runtime::cachedPlan(ex.graph, device, dump_prefix);
    if (dump_prefix.empty()) runtime::rememberPlan(device, hash, plan);
  }
  const sched::Schedule& sch = plan->schedule;
  ownBuffers(sc, sch, device);
  const ir::Graph& graph = plan->recorded;
  const std::vector<Node*>& node_of = sc.live.node_of;
  runtime::runPlan(
      *plan,
      [&](int32_t i) -> const ir::NodeDesc& {
        Node* n = static_cast<size_t>(i) < node_of.size() ? node_of[i] : nullptr;
        return n != nullptr ? n->desc() : graph.instrs[i].d;
      },
      sc.params, sc.slots);

  // Record results on the live nodes: intermediate results (so that other pending work reuses
  // them instead of recomputing), then the storages' values. Realizing a node lets go of its
  // inputs, so every node to update is held until all are done.
  for (auto [instr, slot] : plan->intermediates) {
    Node* n = static_cast<size_t>(instr) < node_of.size() ? node_of[instr] : nullptr;
    if (n && !n->realized()) sc.intermediates.emplace_back(NodeRef::share(n), slot);
  }
  for (auto& [n, slot] : sc.intermediates) n->realize(sc.slots[slot]);
  for (size_t k = 0; k < sc.work.size(); ++k) {
    Storage* s = sc.work[k];
    runtime::BufferPtr result = sc.slots[sch.output_slots[k]];
    if (s->buffer && result != s->buffer) {
      device.copy(*result, *s->buffer, s->buffer->bytes());
      result = s->buffer;
    } else if (!s->buffer) {
      if (sc.own[k]) {
        if (result->bytes() > 0) device.copy(*result, *sc.own[k], result->bytes());
        result = sc.own[k];
      }
      result->bind();
      s->buffer = result;
    }
    if (!s->value->realized() || s->value->realized() == s->buffer ||
        !runtime::Buffer::of(s->value->realized())->bound()) {
      s->value->realize(s->buffer);
    } else {
      NodeRef own = Node::makeParam(s->buffer, s->dtype, s->numel);
      std::lock_guard<std::mutex> contents(s->mu);
      s->value = std::move(own);
    }
    s->owner = s->value;
    s->owner->forget();
  }
}

void assignAndRecord(const Tensor& t, ir::NodeRef value) {
  StorageSnapshot before;
  before.add(t);
  before.releaseOwners();
  assignNode(t, std::move(value));
  before.releaseReadByContents();
  try {
    afterRecord(t);
  } catch (...) {
    // A failed materialisation changed no storage's contents (see ownBuffers): putting the old
    // node back undoes the whole op.
    before.restore();
    throw;
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
  c.plans_matched = 0;
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

namespace profiler {

void enable() {
  runtime::profiler::setEnabled(true);
}
void disable() {
  runtime::profiler::setEnabled(false);
}
bool is_enabled() {
  return runtime::profiler::enabled();
}
void reset() {
  runtime::profiler::reset();
}
std::string table() {
  return runtime::profiler::table();
}
void write_trace(const std::string& path) {
  if (!runtime::profiler::writeTrace(path)) {
    throw Error("kiln::profiler::write_trace: cannot write " + path);
  }
}
void set_machine_limits(double gbytes_per_s, double gflops) {
  const bool clear = gbytes_per_s == 0 && gflops == 0;
  if (!clear && !(gbytes_per_s > 0 && gflops > 0)) {
    throw Error(absl::StrCat("kiln::profiler::set_machine_limits: expected positive limits, got ",
                             gbytes_per_s, " GB/s and ", gflops, " GFLOP/s"));
  }
  runtime::profiler::setMachineLimits({gbytes_per_s, gflops});
}

}  // namespace profiler

}  // namespace kiln
