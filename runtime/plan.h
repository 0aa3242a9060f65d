#pragma once
// Plans: a graph compiled for execution on one device (simplified, scheduled, every kernel
// compiled by the device's backend), cached by the target and the graph's structure, and run on
// given input buffers: allocation and copies go through the device, kernels through the backend.
// Used by materialisation and by kiln-ir.
#include <absl/container/inlined_vector.h>
#include <absl/functional/function_ref.h>

#include <memory>
#include <string>
#include <vector>

#include "lib/ir/graph.h"
#include "lib/sched/schedule.h"
#include "runtime/backend.h"
#include "runtime/buffer.h"

namespace kiln::runtime {

/// One graph structure compiled. Graphs that differ only in constant values and random seeds
/// share it: their values reach the kernels as arguments.
struct Plan {
  Device* device = nullptr;
  /// The graph the plan was built for, and which of its constants are exact
  /// (ir::exactConstants): what a live graph is checked against before it uses the plan.
  ir::Graph recorded;
  std::vector<bool> exact;
  int64_t kernel_count = 0;
  ir::Graph simplified;
  sched::Schedule schedule;
  std::vector<std::shared_ptr<const CompiledKernel>> kernels;  // per step (null for copies)
  /// Per step, for each part and argument (part-major): the graph instr it comes from, or -1.
  std::vector<std::vector<int32_t>> arg_instr;
  std::vector<std::pair<int32_t, int32_t>> intermediates;  // (graph instr, slot) worth keeping
  /// Per step, the value it computes in the simplified graph, e.g. "%34 reduce.sum f32[256,512]"
  /// (the profiler's rows name it; made once here rather than at every profiled launch).
  std::vector<std::string> step_instr;
};

/// Everything that decides the schedule and the code: the structure, and the constants that
/// simplification looks at (whether a constant is 0 or 1, and the exact value of constants
/// that get folded).
std::string structuralKey(const ir::Graph& g);

/// Simplifies, schedules and compiles for `device` (through the kernel cache). With a dump
/// prefix, writes PREFIX.simplified.kir, PREFIX.schedule.txt and each newly compiled kernel's
/// code beside it.
std::shared_ptr<const Plan> buildPlan(const ir::Graph& g, Device& device,
                                      const std::string& dump_prefix = "");

/// The cached plan for the device's target and the graph's structure, built on a miss (counted
/// as kernel cache hits and misses). A dump prefix forces a rebuild so that the files get written.
std::shared_ptr<const Plan> cachedPlan(const ir::Graph& g, Device& device,
                                       const std::string& dump_prefix = "");

/// The plans remembered for a structural hash of live graphs on `device` (rememberPlan), most
/// recent first. A hash only narrows the search: the caller checks a plan's `recorded` graph
/// against its own (ir::matchExtraction) before using it, and then counts the hit (countHit).
absl::InlinedVector<std::shared_ptr<const Plan>, 2> plansForHash(const Device& device,
                                                                 uint64_t hash);
/// Remembers `plan` under a structural hash (a few plans per hash, the oldest dropped).
void rememberPlan(const Device& device, uint64_t hash, std::shared_ptr<const Plan> plan);
/// Counts a plan found by plansForHash as the kernel cache hits that cachedPlan counts.
void countHit(const Plan& plan);

/// Drops every cached plan.
void clearPlans();

/// Runs a plan on the plan's device's default stream, with the constants and random seeds of
/// desc_of(i), instruction i of a graph of the plan's structure, and params[k] (buffers on that
/// device) as param k's buffer, and waits for it. `slots` receives the buffer of every slot
/// (outputs are at plan.schedule.output_slots).
void runPlan(const Plan& plan, absl::FunctionRef<const ir::NodeDesc&(int32_t)> desc_of,
             const std::vector<BufferPtr>& params, std::vector<BufferPtr>& slots);
/// The same for the graph `g`, returning the slots.
std::vector<BufferPtr> runPlan(const Plan& plan, const ir::Graph& g,
                               const std::vector<BufferPtr>& params);

}  // namespace kiln::runtime
