#include "runtime/plan.h"

#include <absl/container/flat_hash_map.h>
#include <absl/strings/str_cat.h>

#include <exception>
#include <mutex>

#include "kiln/error.h"
#include "lib/core/checked.h"
#include "lib/core/dump.h"
#include "lib/passes/passes.h"
#include "runtime/kernel_cache.h"
#include "runtime/profiler.h"
#include "runtime/stats.h"
#include "runtime/thread_pool.h"

namespace kiln::runtime {
namespace {

template <typename T>
void appendRaw(std::string& key, const T& v) {
  key.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Per target (its key), then per graph structure; and by the structural hash of live graphs.
struct PlanCache {
  std::mutex mu;
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, std::shared_ptr<const Plan>>>
      plans;
  absl::flat_hash_map<std::pair<const Device*, uint64_t>,
                      absl::InlinedVector<std::shared_ptr<const Plan>, 2>>
      by_hash;
  size_t count = 0;
};
PlanCache& planCache() {
  static auto* cache = new PlanCache;
  return *cache;
}

}  // namespace

std::string structuralKey(const ir::Graph& g) {
  const std::vector<bool> exact = ir::exactConstants(g);
  std::string key;
  key.reserve(g.instrs.size() * 48);
  for (size_t i = 0; i < g.instrs.size(); ++i) {
    const ir::Structure st = ir::structureOf(g.instrs[i].d, exact[i]);
    appendRaw(key, st.head);
    appendRaw(key, st.fbits);
    appendRaw(key, st.ivalue);
    appendRaw(key, st.offset);
    appendRaw(key, static_cast<uint32_t>(st.shape->size()));
    for (int64_t x : *st.shape) appendRaw(key, x);
    if (st.ints != nullptr) {
      appendRaw(key, static_cast<uint32_t>(st.ints->size()));
      for (int64_t x : *st.ints) appendRaw(key, x);
    }
    appendRaw(key, static_cast<uint32_t>(g.instrs[i].operands.size()));
    for (int32_t o : g.instrs[i].operands) appendRaw(key, o);
  }
  for (const ir::Output& o : g.outputs) {
    appendRaw(key, o.value);
    appendRaw(key, o.dest_param);
  }
  return key;
}

namespace {

// Compiles (or finds in the kernel cache) every kernel step of `plan`, several at a time on the
// thread pool: the first training step compiles dozens of kernels.
void compileKernels(Plan& plan, Backend& backend, const std::string& dump) {
  struct Work {
    Plan& plan;
    Backend& backend;
    const std::string& dump;
    std::vector<size_t> steps;
    std::mutex mu;
    std::exception_ptr error;
  } work{plan, backend, dump, {}, {}, {}};
  for (size_t i = 0; i < plan.schedule.steps.size(); ++i) {
    if (plan.schedule.steps[i].kind == sched::Step::Kind::Kernel) work.steps.push_back(i);
  }
  parallelFor(
      static_cast<int64_t>(work.steps.size()), 1,
      [](void* context, int64_t begin, int64_t end) {
        auto& w = *static_cast<Work*>(context);
        for (int64_t k = begin; k < end; ++k) {
          const size_t i = w.steps[k];
          try {
            w.plan.kernels[i] = cachedKernel(w.backend, w.plan.schedule.steps[i].kernel, w.dump);
          } catch (const Error& e) {
            // The backend names its symbol; the value the kernel computes is what a user
            // recognises (the dumps and the profiler name it so).
            std::lock_guard<std::mutex> lock(w.mu);
            if (!w.error) {
              w.error = std::make_exception_ptr(Error(
                  absl::StrCat(e.what(), " (the kernel computing ", w.plan.step_instr[i], ")")));
            }
          } catch (...) {
            std::lock_guard<std::mutex> lock(w.mu);
            if (!w.error) w.error = std::current_exception();
          }
        }
      },
      &work);
  if (work.error) std::rethrow_exception(work.error);
}

}  // namespace

std::shared_ptr<const Plan> buildPlan(const ir::Graph& graph, Device& device,
                                      const std::string& dump_prefix) {
  passes::Simplified simple = passes::simplify(graph);
  auto plan = std::make_shared<Plan>();
  plan->device = &device;
  plan->recorded = graph;
  plan->exact = ir::exactConstants(graph);
  plan->schedule = sched::schedule(simple.graph);
  const std::string dump = dump_prefix.empty() ? std::string() : core::dumpDir();
  if (!dump_prefix.empty()) {
    core::writeFile(dump_prefix + ".simplified.kir", simple.graph.text());
    Backend& backend = device.backend();
    core::writeFile(
        dump_prefix + ".schedule.txt",
        plan->schedule.text([&](const codegen::Kernel& k) { return backend.scheduleText(k); }));
  }
  const auto& steps = plan->schedule.steps;
  plan->kernels.assign(steps.size(), nullptr);
  plan->arg_instr.resize(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const sched::Step& st = steps[i];
    if (st.kind != sched::Step::Kind::Kernel) continue;
    ++plan->kernel_count;
    auto addArgInstrs = [&](const std::vector<sched::ArgSource>& sources) {
      for (const sched::ArgSource& src : sources) {
        int32_t from = src.field == sched::ArgSource::Field::Fixed ? -1 : simple.origin[src.instr];
        bool same_kind =
            from >= 0 && graph.instrs[from].d.op == simple.graph.instrs[src.instr].d.op;
        plan->arg_instr[i].push_back(same_kind ? from : -1);
      }
    };
    addArgInstrs(st.arg_sources);
    for (const sched::Step::Part& part : st.parts) addArgInstrs(part.arg_sources);
  }
  plan->step_instr.resize(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const int32_t v = steps[i].instr;
    if (v < 0) continue;
    const ir::NodeDesc& d = simple.graph.instrs[v].d;
    plan->step_instr[i] =
        absl::StrCat("%", v, " ", ir::mnemonic(d), " ", ir::typeText(d.dtype, d.shape));
  }
  compileKernels(*plan, device.backend(), dump);
  for (size_t i = 0; i < simple.graph.instrs.size(); ++i) {
    int32_t sl = plan->schedule.value_slot[i];
    int32_t from = simple.origin[i];
    if (sl < 0 || from < 0 || plan->schedule.slots[sl].param >= 0) continue;
    if (graph.instrs[from].d.shape != simple.graph.instrs[i].d.shape) continue;
    plan->intermediates.emplace_back(from, sl);
  }
  plan->simplified = std::move(simple.graph);
  return plan;
}

std::shared_ptr<const Plan> cachedPlan(const ir::Graph& graph, Device& device,
                                       const std::string& dump_prefix) {
  // Bounded: a program that keeps producing new structures does not grow it without limit
  // (kernels stay cached separately).
  constexpr size_t kMaxPlans = 4096;
  PlanCache& cache = planCache();
  const std::string& target = device.backend().target().key();
  std::string key = structuralKey(graph);
  {
    std::lock_guard<std::mutex> lock(cache.mu);
    auto& plans = cache.plans[target];
    auto it = plans.find(key);
    if (it != plans.end() && dump_prefix.empty()) {
      countHit(*it->second);
      return it->second;
    }
  }
  std::shared_ptr<const Plan> plan = buildPlan(graph, device, dump_prefix);
  std::lock_guard<std::mutex> lock(cache.mu);
  if (cache.count >= kMaxPlans) {
    cache.plans.clear();
    cache.by_hash.clear();
    cache.count = 0;
  }
  auto [it, added] = cache.plans[target].insert_or_assign(std::move(key), plan);
  cache.count += added;
  return plan;
}

absl::InlinedVector<std::shared_ptr<const Plan>, 2> plansForHash(const Device& device,
                                                                 uint64_t hash) {
  PlanCache& cache = planCache();
  std::lock_guard<std::mutex> lock(cache.mu);
  auto it = cache.by_hash.find(std::make_pair(&device, hash));
  if (it == cache.by_hash.end()) return {};
  return it->second;
}

void rememberPlan(const Device& device, uint64_t hash, std::shared_ptr<const Plan> plan) {
  // A structure reached through histories of different hashes is remembered under each (the
  // hash of a node depends on when its inputs were realized), so this index is bounded apart
  // from the plan map.
  constexpr size_t kMaxHashes = 4096;
  constexpr size_t kPlansPerHash = 4;
  PlanCache& cache = planCache();
  std::lock_guard<std::mutex> lock(cache.mu);
  if (cache.by_hash.size() >= kMaxHashes) cache.by_hash.clear();
  auto& plans = cache.by_hash[std::make_pair(&device, hash)];
  for (const auto& p : plans) {
    if (p == plan) return;
  }
  if (plans.size() == kPlansPerHash) plans.pop_back();
  plans.insert(plans.begin(), std::move(plan));
}

void countHit(const Plan& plan) {
  counters().cache_hits.fetch_add(plan.kernel_count);
}

void clearPlans() {
  PlanCache& cache = planCache();
  std::lock_guard<std::mutex> lock(cache.mu);
  cache.plans.clear();
  cache.by_hash.clear();
  cache.count = 0;
}

std::vector<BufferPtr> runPlan(const Plan& plan, const ir::Graph& g,
                               const std::vector<BufferPtr>& params) {
  std::vector<BufferPtr> slots;
  runPlan(
      plan, [&](int32_t i) -> const ir::NodeDesc& { return g.instrs[i].d; }, params, slots);
  return slots;
}

void runPlan(const Plan& plan, absl::FunctionRef<const ir::NodeDesc&(int32_t)> desc_of,
             const std::vector<BufferPtr>& params, std::vector<BufferPtr>& slots) {
  const sched::Schedule& sch = plan.schedule;
  Device& device = *plan.device;
  Stream& stream = device.defaultStream();
  slots.resize(sch.slots.size());
  for (size_t i = 0; i < sch.slots.size(); ++i) {
    const sched::Slot& sl = sch.slots[i];
    slots[i] = sl.param >= 0 ? params[sl.param]
                             : device.allocate(saturatingMul(sl.numel, elementSize(sl.dtype)));
  }
  // Reused by every run on this thread: a run allocates only its slots' buffers.
  thread_local std::vector<void*> ptrs;
  thread_local std::vector<uint64_t> args;
  thread_local std::vector<int64_t> buffer_bytes;
  // Read once per run: off, the profiler costs nothing more. The times are the host's: CPU
  // kernels and copies finish within launch() and copy().
  const bool profiling = profiler::enabled();
  if (profiling) profiler::countRun();
  for (size_t i = 0; i < sch.steps.size(); ++i) {
    const sched::Step& st = sch.steps[i];
    if (st.kind == sched::Step::Kind::Copy) {
      const Buffer& src = *slots[st.slots[0]];
      if (!profiling) {
        device.copy(src, *slots[st.slots[1]], src.bytes());
        continue;
      }
      profiler::Launch copy;
      copy.step = &st;
      copy.instr = plan.step_instr[i];
      copy.copy_bytes = static_cast<int64_t>(src.bytes());
      copy.start = profiler::Clock::now();
      device.copy(src, *slots[st.slots[1]], src.bytes());
      copy.end = profiler::Clock::now();
      profiler::record(copy);
      continue;
    }
    // Part p's buffers and arguments (the step's own for part 0), at the end of ptrs and args.
    const size_t arg_count = st.args.size();
    auto appendPart = [&](int64_t p) {
      const std::vector<int32_t>& part_slots = p == 0 ? st.slots : st.parts[p - 1].slots;
      const std::vector<uint64_t>& part_args = p == 0 ? st.args : st.parts[p - 1].args;
      for (int32_t sl : part_slots) ptrs.push_back(slots[sl]->data());
      const size_t first = args.size();
      args.insert(args.end(), part_args.begin(), part_args.end());
      const std::vector<sched::ArgSource>& sources =
          p == 0 ? st.arg_sources : st.parts[p - 1].arg_sources;
      for (size_t k = 0; k < arg_count; ++k) {
        const int32_t from = plan.arg_instr[i][p * arg_count + k];
        if (from >= 0) args[first + k] = sched::argValue(desc_of(from), sources[k]);
      }
    };
    ptrs.clear();
    args.clear();
    if (!profiling) {
      for (int64_t p = 0; p < st.partCount(); ++p) appendPart(p);
      if (st.parts.empty()) {
        plan.kernels[i]->launch(ptrs.data(), args.data(), stream);
      } else {
        plan.kernels[i]->launchParts(st.partCount(), st.slots.size(), arg_count, ptrs.data(),
                                     args.data(), stream);
      }
    } else {
      // Each part is a row's call of its own, timed with its own arguments and buffers.
      for (int64_t p = 0; p < st.partCount(); ++p) {
        ptrs.clear();
        args.clear();
        appendPart(p);
        buffer_bytes.clear();
        for (int32_t sl : p == 0 ? st.slots : st.parts[p - 1].slots)
          buffer_bytes.push_back(static_cast<int64_t>(slots[sl]->bytes()));
        profiler::Launch launch;
        launch.kernel = &plan.kernels[i];
        launch.step = &st;
        launch.instr = plan.step_instr[i];
        launch.args = args.data();
        launch.buffer_bytes = buffer_bytes.data();
        launch.start = profiler::Clock::now();
        plan.kernels[i]->launch(ptrs.data(), args.data(), stream);
        launch.end = profiler::Clock::now();
        profiler::record(launch);
      }
    }
    counters().kernels_run.fetch_add(1);
  }
  stream.synchronize();
}

}  // namespace kiln::runtime
