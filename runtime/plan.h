#pragma once
// Plans: a graph compiled for execution on one device (simplified, scheduled, every kernel
// compiled by the device's backend), cached by the target and the graph's structure, and run on
// given input buffers: allocation and copies go through the device, kernels through the backend.
// Used by materialisation and by kiln-ir.
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
  ir::Graph simplified;
  sched::Schedule schedule;
  std::vector<std::shared_ptr<const CompiledKernel>> kernels;  // per step (null for copies)
  std::vector<std::vector<int32_t>> arg_instr;  // per step and argument: graph instr, or -1
  std::vector<std::pair<int32_t, int32_t>> intermediates;  // (graph instr, slot) worth keeping
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

/// Drops every cached plan.
void clearPlans();

/// Runs a plan for `g` (a graph of the plan's structure) on the plan's device's default stream,
/// with params[k] (buffers on that device) as param k's buffer, and waits for it; returns the
/// buffer of every slot (outputs are at plan.schedule.output_slots).
std::vector<BufferPtr> runPlan(const Plan& plan, const ir::Graph& g,
                               const std::vector<BufferPtr>& params);

}  // namespace kiln::runtime
