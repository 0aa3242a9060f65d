#pragma once
// Plans: a graph compiled for execution (simplified, scheduled, every kernel compiled), cached by
// the graph's structure, and run on given input buffers. Used by materialisation and by kiln-ir.
#include <memory>
#include <string>
#include <vector>

#include "lib/ir/graph.h"
#include "lib/sched/schedule.h"
#include "runtime/buffer.h"
#include "runtime/jit.h"

namespace kiln::exec {

/// One graph structure compiled. Graphs that differ only in constant values and random seeds
/// share it: their values reach the kernels as arguments.
struct Plan {
  ir::Graph simplified;
  sched::Schedule schedule;
  std::vector<runtime::KernelFn> fns;           // per step (null for copies)
  std::vector<std::vector<int32_t>> arg_instr;  // per step and argument: graph instr, or -1
  std::vector<std::pair<int32_t, int32_t>> intermediates;  // (graph instr, slot) worth keeping
};

/// Everything that decides the schedule and the code: the structure, and the constants that
/// simplification looks at (whether a constant is 0 or 1, and the exact value of constants
/// that get folded).
std::string structuralKey(const ir::Graph& g);

/// Simplifies, schedules and compiles (through the kernel cache). With a dump prefix, writes
/// PREFIX.simplified.kir, PREFIX.schedule.txt and each newly compiled kernel's LLVM IR beside it.
std::shared_ptr<const Plan> buildPlan(const ir::Graph& g, const std::string& dump_prefix = "");

/// The cached plan for the graph's structure, built on a miss (counted as kernel cache hits and
/// misses). A dump prefix forces a rebuild so that the files get written.
std::shared_ptr<const Plan> cachedPlan(const ir::Graph& g, const std::string& dump_prefix = "");

/// Drops every cached plan.
void clearPlans();

/// Runs a plan for `g` (a graph of the plan's structure) with params[k] as param k's buffer;
/// returns the buffer of every slot (outputs are at plan.schedule.output_slots).
std::vector<runtime::BufferPtr> runPlan(const Plan& plan, const ir::Graph& g,
                                        const std::vector<runtime::BufferPtr>& params);

/// The directory named by KILN_DUMP, or "".
std::string dumpDir();
/// Writes a text file (best effort: dumps never fail the computation).
void writeFile(const std::string& path, const std::string& text);

}  // namespace kiln::exec
