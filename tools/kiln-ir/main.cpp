// kiln-ir: reads the graph text (docs/ir.md) that KILN_DUMP writes, shows every compiler stage,
// runs graphs on .npy inputs, draws the fusion and explains it. See docs/kiln-ir.md.
//
// Exit status: 0 on success, 1 when the work fails (unreadable file, malformed graph, bad input
// data), 2 for a usage error (unknown command or flag, missing argument). Only the requested
// output goes to stdout; messages and run statistics go to stderr.
#include <absl/strings/match.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <kiln/runtime.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/format.h"
#include "lib/core/scalar_type.h"
#include "runtime/plan.h"
#include "tools/kiln-ir/args.h"
#include "tools/kiln-ir/grad.h"
#include "tools/kiln-ir/inputs.h"
#include "tools/kiln-ir/npy.h"
#include "tools/kiln-ir/stages.h"

namespace kiln::tools {
namespace {

constexpr int kFailure = 1;
constexpr int kUsage = 2;

constexpr char kToolHelp[] = R"(kiln-ir: look at what kiln's compiler does with a graph

usage: kiln-ir COMMAND [options] FILE

FILE is a graph in kiln's text IR (docs/ir.md), such as the kiln-N.recorded.kir files that
KILN_DUMP=<dir> writes from a running program; '-' reads standard input.

commands:
  dump FILE --stage=STAGE   print one compiler stage (recorded, simplified, fusion, kernels,
                            llvm, llvm-opt, asm, all); --grad for the gradient graph's
  run FILE                  compile and execute the graph on .npy or random inputs
  dot FILE                  Graphviz DOT of the graph with each fused kernel as a cluster
  explain FILE              why each kernel boundary and each materialisation is where it is
  help [COMMAND]            this text, or a command's

'kiln-ir COMMAND --help' describes a command. Exit status: 0 on success, 1 when the work
fails (unreadable file, malformed graph, bad input), 2 for a usage error.
)";

constexpr char kDumpHelp[] = R"(usage: kiln-ir dump FILE --stage=STAGE

Prints one stage of the compilation of the graph in FILE:
  recorded     the graph as read, printed again (the parser and printer round trip)
  simplified   after the passes: constant folding, algebraic identities, CSE, dead code
  fusion       the fusion groups: for each kernel, the instruction it stores, the ones it
               inlines and the values it reads; the buffer slots
  kernels      the schedule: buffer slots, steps and each kernel's IR (codegen/kernel.h),
               with the CPU backend's loop order for it ('cpu: order=[...]')
  llvm         each kernel's LLVM IR before optimisation (function kiln_kernel_K)
  llvm-opt     the same after the O3 pipeline for the host CPU
  asm          the host machine assembly
  all          every stage above, each after a '==== STAGE ====' line

options:
  --stage=STAGE   the stage (required; '--stage STAGE' works too)
  --grad[=LOSS[:P,Q,...]]
                  show the stages of the gradient graph instead (see 'Gradients' below)
  --help          this text
)";

constexpr char kRunHelp[] =
    R"(usage: kiln-ir run FILE [--input K=x.npy]... [--output K=out.npy]... [--seed N]

Compiles the graph in FILE for the host CPU and executes it.

Inputs: param K of the graph (the 'param K' instruction, a flat buffer) is read from a NumPy
.npy file with '--input K=x.npy' (or '--input %K=x.npy'). The array may have any shape with the
param's number of elements, in C order; a different dtype is converted to the param's. Params
not given are filled with seeded random values: floats uniform in [0, 1), integers in [0, 10),
booleans 0 or 1.

Outputs: output K (the K-th value after 'return') is written with '--output K=out.npy', in the
output's shape and dtype. Outputs not written to a file are printed to stdout as PyTorch prints
tensors, each after an 'output K: %V TYPE' line.

.npy files: format version 1.0 or 2.0, C order, dtypes <f4 <f8 <i4 <i8 |b1.

The number of kernels compiled and run and the compile and run times go to stderr.

options:
  --input K=PATH    param K's values (repeatable)
  --output K=PATH   where to write output K (repeatable)
  --seed N          seed for the random inputs (default 0)
  --repeat N        run N times and report the mean run time (default 1)
  --grad[=LOSS[:P,Q,...]]
                    run the gradient graph instead: outputs 0 = the loss, 1... = gradients
  --help            this text
)";

constexpr char kDotHelp[] = R"(usage: kiln-ir dot FILE

Writes the simplified graph in FILE as Graphviz DOT: each fused kernel is a 'subgraph
cluster_K' holding the instructions it evaluates (the one it stores in bold), params are
cylinders, outputs ellipses. A value inlined into several kernels is drawn once in each.

  kiln-ir dot graph.kir | dot -Tsvg > graph.svg

options:
  --grad[=LOSS[:P,Q,...]]   draw the gradient graph, forward and backward fused
  --help                    this text
)";

constexpr char kExplainHelp[] = R"(usage: kiln-ir explain FILE

Explains the schedule of the graph in FILE: why the graph was materialised (from the
'# materialised for: ...' comment KILN_DUMP writes), and for each kernel why it ends where it
does (a reduction, a partial write, a requested output), what it fuses, what it reads and
recomputes, and why each copy is there (in-place updates).

options:
  --grad[=LOSS[:P,Q,...]]   explain the gradient graph's schedule
  --help                    this text
)";

// Every command but help takes --grad; its help follows each command's own.
constexpr char kGradHelp[] = R"(
Gradients: --grad[=LOSS[:P,Q,...]] replaces the graph by its gradient graph before anything
else: output LOSS (default 0; it must have one element) differentiated with respect to params
P, Q, ... (default: every param of a floating type) by kiln's own backward rules, as
backward() in a program would. Its outputs are the loss, then the gradient for each param in
turn, each as a flat array like the param; the params keep their numbers, so '--input K=...'
means the same param with or without --grad.
)";

void requireFile(const Args& a) {
  if (a.files.empty()) throw UsageError{"missing FILE (a graph in kiln's text IR, or '-')"};
}

bool loadOrReport(const std::string& path, Source* src) {
  std::string error;
  if (loadSource(path, src, &error)) return true;
  std::cerr << error << "\n";
  return false;
}

// FILE's graph, or with --grad its gradient graph (the loss and the gradients as outputs).
// kiln::Error from the gradient (PyTorch's words) reaches main's handler: exit status 1.
bool loadGraph(const Args& a, Source* src) {
  std::optional<std::string> grad = a.last("grad");
  GradRequest request;
  std::string error;
  if (grad && !parseGradRequest(*grad, &request, &error)) throw UsageError{error};
  requireFile(a);
  if (!loadOrReport(a.files.front(), src)) return false;
  if (!grad) return true;
  GradientGraph gg = gradientGraph(src->graph, request);
  src->graph = std::move(gg.graph);
  src->materialised_for = std::string(kGradReason);
  src->header = absl::StrCat("# materialised for: ", std::string(kGradReason), "\n", gg.header);
  return true;
}

int dumpCommand(int argc, char** argv) {
  Args a = parseArgs("dump", argc, argv, /*max_files=*/1, {"stage"}, {"grad"});
  if (a.help) {
    std::cout << kDumpHelp << kGradHelp;
    return 0;
  }
  static const std::vector<std::string> kStages = {"recorded", "simplified", "fusion", "kernels",
                                                   "llvm",     "llvm-opt",   "asm",    "all"};
  std::optional<std::string> stage = a.last("stage");
  if (!stage)
    throw UsageError{
        "dump needs --stage=STAGE (recorded, simplified, fusion, kernels, "
        "llvm, llvm-opt, asm, all)"};
  if (std::find(kStages.begin(), kStages.end(), *stage) == kStages.end()) {
    throw UsageError{absl::StrCat("unknown stage '", *stage,
                                  "' (recorded, simplified, fusion, kernels, llvm, llvm-opt, asm, "
                                  "all)")};
  }
  Source src;
  if (!loadGraph(a, &src)) return kFailure;
  if (*stage == "recorded") {
    std::cout << src.header << src.graph.text();
    return 0;
  }
  Pipeline p = runPipeline(src.graph);
  auto text = [&](const std::string& s) -> std::string {
    if (s == "recorded") return src.header + src.graph.text();
    if (s == "simplified") return p.simple.graph.text();
    if (s == "fusion") return fusionText(p);
    if (s == "kernels") return kernelsText(p);
    if (s == "llvm") return llvmStageText(p, LlvmStage::BeforeOpt);
    if (s == "llvm-opt") return llvmStageText(p, LlvmStage::AfterOpt);
    return llvmStageText(p, LlvmStage::Assembly);
  };
  if (*stage != "all") {
    std::cout << text(*stage);
    return 0;
  }
  for (const std::string& s : kStages) {
    if (s == "all") continue;
    std::cout << "==== " << s << " ====\n" << text(s);
  }
  return 0;
}

std::string tensorText(ScalarType dtype, const std::vector<int64_t>& shape, const void* data) {
  detail::FormatRequest r;
  r.dtype = dtype;
  r.sizes = shape;
  r.data = data;
  int64_t n = ir::numelOf(shape);
  const ScalarType default_dtype = get_default_dtype_as_scalartype();
  bool suffix =
      n > 0 ? dtype != default_dtype && dtype != ScalarType::Long && dtype != ScalarType::Bool
            : dtype != default_dtype;
  if (suffix) r.suffixes.push_back(absl::StrCat("dtype=kiln.", std::string(pythonName(dtype))));
  return detail::formatTensor(r);
}

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

int runCommand(int argc, char** argv) {
  Args a = parseArgs("run", argc, argv, /*max_files=*/1, {"input", "output", "seed", "repeat"},
                     {"grad"});
  if (a.help) {
    std::cout << kRunHelp << kGradHelp;
    return 0;
  }
  uint64_t seed = 0;
  if (auto s = a.last("seed"); s && !absl::SimpleAtoi(*s, &seed))
    throw UsageError{absl::StrCat("--seed takes a non-negative integer, got '", *s, "'")};
  int64_t repeat = 1;
  if (auto s = a.last("repeat"); s && (!absl::SimpleAtoi(*s, &repeat) || repeat < 1))
    throw UsageError{absl::StrCat("--repeat takes a positive integer, got '", *s, "'")};
  std::map<int64_t, std::string> inputs, outputs;
  for (const std::string& v : a.all("input"))
    inputs[indexedPath("input", v).first] = indexedPath("input", v).second;
  for (const std::string& v : a.all("output"))
    outputs[indexedPath("output", v).first] = indexedPath("output", v).second;
  Source src;
  if (!loadGraph(a, &src)) return kFailure;
  const ir::Graph& g = src.graph;
  for (const auto& [k, path] : outputs) {
    if (k >= static_cast<int64_t>(g.outputs.size())) {
      std::cerr << "kiln-ir: --output " << k << "=" << path << ": the graph has "
                << g.outputs.size() << (g.outputs.size() == 1 ? " output" : " outputs") << "\n";
      return kFailure;
    }
  }

  std::vector<runtime::BufferPtr> param_buffers;
  std::string error;
  if (!makeParamBuffers(g, inputs, seed, &param_buffers, &error)) {
    // A command-line mistake is the tool's message; a file's error names the file.
    std::cerr << (absl::StartsWith(error, "--input") ? "kiln-ir: " : "") << error << "\n";
    return kFailure;
  }

  const Stats before = kiln::stats();
  auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<const runtime::Plan> plan = runtime::buildPlan(g, runtime::cpuDevice());
  const double build_ms = msSince(t0);
  std::vector<runtime::BufferPtr> slots;
  double run_ms = 0;
  for (int64_t r = 0; r < repeat; ++r) {
    // In-place outputs overwrite params: every run starts from the same inputs.
    std::vector<runtime::BufferPtr> fresh = param_buffers;
    if (r + 1 < repeat) {
      for (auto& b : fresh) b = b->clone();
    }
    auto t1 = std::chrono::steady_clock::now();
    slots = runtime::runPlan(*plan, g, fresh);
    run_ms += msSince(t1);
  }
  const Stats after = kiln::stats();
  size_t copies = 0;
  for (const sched::Step& st : plan->schedule.steps) copies += st.kind == sched::Step::Kind::Copy;

  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const ir::NodeDesc& d = g.instrs[g.outputs[k].value].d;
    const runtime::BufferPtr& b = slots[plan->schedule.output_slots[k]];
    const size_t bytes = static_cast<size_t>(d.numel()) * elementSize(d.dtype);
    auto it = outputs.find(static_cast<int64_t>(k));
    if (it != outputs.end()) {
      NpyArray arr;
      arr.dtype = d.dtype;
      arr.shape = d.shape;
      arr.data.assign(static_cast<const char*>(b->data()), bytes);
      std::string error;
      if (!writeNpy(it->second, arr, &error)) {
        std::cerr << error << "\n";
        return kFailure;
      }
      continue;
    }
    std::cout << "output " << k << ": %" << g.outputs[k].value << " "
              << ir::typeText(d.dtype, d.shape) << "\n"
              << tensorText(d.dtype, d.shape, b->data()) << "\n";
  }
  std::cerr << absl::StrFormat(
      "kiln-ir: %s compiled, %s run%s; compile %.3f ms (plan %.3f ms), run %.3f ms%s\n",
      plural(after.kernels_compiled - before.kernels_compiled, "kernel", "kernels"),
      plural((after.kernels_run - before.kernels_run) / repeat, "kernel", "kernels"),
      copies ? absl::StrCat(" and ", plural(static_cast<int64_t>(copies), "copy", "copies")) : "",
      after.compile_ms - before.compile_ms, build_ms, run_ms / static_cast<double>(repeat),
      repeat > 1 ? absl::StrCat(" (mean of ", repeat, ")") : "");
  return 0;
}

int dotCommand(int argc, char** argv) {
  Args a = parseArgs("dot", argc, argv, /*max_files=*/1, {}, {"grad"});
  if (a.help) {
    std::cout << kDotHelp << kGradHelp;
    return 0;
  }
  Source src;
  if (!loadGraph(a, &src)) return kFailure;
  std::cout << dotText(runPipeline(src.graph));
  return 0;
}

int explainCommand(int argc, char** argv) {
  Args a = parseArgs("explain", argc, argv, /*max_files=*/1, {}, {"grad"});
  if (a.help) {
    std::cout << kExplainHelp << kGradHelp;
    return 0;
  }
  Source src;
  if (!loadGraph(a, &src)) return kFailure;
  std::cout << explainText(src, runPipeline(src.graph));
  return 0;
}

int helpFor(const std::string& command) {
  if (command == "dump")
    std::cout << kDumpHelp << kGradHelp;
  else if (command == "run")
    std::cout << kRunHelp << kGradHelp;
  else if (command == "dot")
    std::cout << kDotHelp << kGradHelp;
  else if (command == "explain")
    std::cout << kExplainHelp << kGradHelp;
  else
    throw UsageError{absl::StrCat("unknown command '", command, "'")};
  return 0;
}

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::cerr << kToolHelp;
      return kUsage;
    }
    std::string command = argv[1];
    if (command == "--help" || command == "-h") {
      std::cout << kToolHelp;
      return 0;
    }
    if (command == "help") {
      if (argc == 2) {
        std::cout << kToolHelp;
        return 0;
      }
      return helpFor(argv[2]);
    }
    if (command == "dump") return dumpCommand(argc - 2, argv + 2);
    if (command == "run") return runCommand(argc - 2, argv + 2);
    if (command == "dot") return dotCommand(argc - 2, argv + 2);
    if (command == "explain") return explainCommand(argc - 2, argv + 2);
    throw UsageError{
        absl::StrCat("unknown command '", command, "' (dump, run, dot, explain, help)")};
  } catch (const UsageError& e) {
    std::cerr << "kiln-ir: " << e.message << "\nTry 'kiln-ir --help'.\n";
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "kiln-ir: error: " << e.what() << "\n";
    return kFailure;
  }
}

}  // namespace
}  // namespace kiln::tools

int main(int argc, char** argv) {
  return kiln::tools::main(argc, argv);
}
