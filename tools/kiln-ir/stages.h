#pragma once
// The stages kiln-ir shows, each as text: the graph as read, after the passes, its fusion groups,
// the schedule with each kernel's IR, LLVM IR before and after optimisation, host assembly, a
// Graphviz drawing of the fusion and an explanation of every kernel boundary.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lib/ir/graph.h"
#include "lib/passes/passes.h"
#include "lib/sched/schedule.h"

namespace kiln::tools {

/// A graph file as read: the graph and what the `# materialised for: ...` comment that KILN_DUMP
/// writes says (empty when the file has none).
struct Source {
  std::string path;
  ir::Graph graph;
  std::string materialised_for;
  /// Comment lines printed before the graph (what --grad's outputs are), or "".
  std::string header;
};

/// What a graph built by `--grad` says it was materialised for.
inline constexpr std::string_view kGradReason = "kiln-ir --grad";

/// Reads and parses FILE ("-" reads standard input). On failure, `error` is the parser's
/// `file:line:col: message` or says why the file could not be read.
bool loadSource(const std::string& path, Source* out, std::string* error);

/// One kernel step and the graph instructions it evaluates.
struct FusionGroup {
  int32_t kernel = 0;  // numbered among kernel steps
  int32_t step = 0;
  int32_t root = 0;              // the instruction the kernel stores
  std::vector<int32_t> roots;    // all it stores: `root`, then its siblings (sched::Step)
  std::vector<int32_t> inlined;  // evaluated inside the kernel, in graph order
  std::vector<int32_t> reads;    // realized values it loads (params, earlier kernels' results)
};

/// The graph taken through the passes and the scheduler, as materialisation does.
struct Pipeline {
  passes::Simplified simple;
  sched::Schedule schedule;
  std::vector<FusionGroup> groups;
  /// Per instruction of the simplified graph: the kernel whose result it is, or -1.
  std::vector<int32_t> kernel_of;
};

Pipeline runPipeline(const ir::Graph& g);

std::string fusionText(const Pipeline& p);
/// The schedule: buffer slots, steps, each kernel's IR and boundary reason, and under each
/// kernel the CPU backend's schedule for it (codegen/llvm/cpu_schedule.h).
std::string kernelsText(const Pipeline& p);

enum class LlvmStage { BeforeOpt, AfterOpt, Assembly };
/// Every kernel lowered by the LLVM emitter for the host CPU, as kiln_kernel_K.
std::string llvmStageText(const Pipeline& p, LlvmStage stage);

std::string dotText(const Pipeline& p);
std::string explainText(const Source& src, const Pipeline& p);

/// "1 kernel", "2 kernels".
std::string plural(int64_t n, std::string_view one, std::string_view many);

}  // namespace kiln::tools
