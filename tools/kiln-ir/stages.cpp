#include "tools/kiln-ir/stages.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "codegen/llvm/emitter.h"
#include "lib/ir/parse.h"
#include "runtime/cpu/llvm_backend.h"

namespace kiln::tools {
namespace {

constexpr std::string_view kMaterialisedFor = "# materialised for:";
// The reason lib/frontend/engine.cpp gives when the size budget forces a materialisation.
constexpr std::string_view kBudgetReason = "pending graph exceeded the size budget";

using ir::Op;

// The schedule does not record which values it realized, but every realized value other than a
// param is the root of a kernel step; the rule below (the scheduler's) also covers values with
// no elements, which get no step.
std::vector<bool> realizedValues(const ir::Graph& g, const sched::Schedule& s) {
  std::vector<bool> realized(g.instrs.size(), false);
  for (size_t i = 0; i < g.instrs.size(); ++i) {
    const ir::Instr& in = g.instrs[i];
    if (in.d.op == Op::Param || in.d.op == Op::ArgReduce) realized[i] = true;
    if (ir::writesIntoBase(in.d.op)) {
      realized[i] = true;
      realized[in.operands[0]] = true;
    }
  }
  for (const ir::Output& o : g.outputs) realized[o.value] = true;
  for (const sched::Step& st : s.steps) {
    if (st.kind != sched::Step::Kind::Kernel || st.instr < 0) continue;
    realized[st.instr] = true;
    for (const sched::Step::Sibling& sib : st.siblings) realized[sib.instr] = true;
  }
  return realized;
}

std::string valueName(const ir::Graph& g, int32_t v) {
  const ir::NodeDesc& d = g.instrs[v].d;
  if (d.op == Op::Param) return absl::StrCat("%", v, " (param ", d.ivalue, ")");
  return absl::StrCat("%", v);
}

std::string dotEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Why the scheduler ended a kernel or inserted a copy, in a sentence.
std::string boundaryExplanation(std::string_view reason) {
  if (reason == "reduction")
    return "a reduction: every result element combines many input elements, so the result is "
           "stored before anything reads it (its elementwise producers are inlined into it; "
           "reductions over trailing dimensions are instead computed row by row inside their "
           "reader's kernel, as phases, where they can)";
  if (reason == "matrix product")
    return "a matrix product (a sum of products of two operands read through broadcasts): "
           "computed in a kernel of its own, on operands in memory, which the CPU backend runs "
           "as calls of OpenBLAS's gemm where it could load the library";
  if (reason == "matrix product (its reader is not an epilogue)")
    return "a matrix product whose reader cannot take it as an epilogue (the reader reduces, "
           "reads it at other points than its own or through another row reduction, or is a "
           "batched product): computed in a kernel of its own (OpenBLAS's gemm on the CPU)";
  if (reason == "matrix product read by several kernels")
    return "a matrix product read by several kernels: computed once and stored rather than "
           "computed again as the epilogue of each";
  if (reason == "reduction its reader cannot compute per row")
    return "a row reduction that its reader cannot compute row by row (the reader does not run "
           "over the reduction's rows as its outer loops, e.g. another reduction over them), so "
           "the result is stored before the reader runs";
  if (reason == "reduction read by several kernels")
    return "a row reduction read by several kernels: computed once and stored rather than "
           "recomputed, rows read again from memory, as a phase of each reader";
  if (reason == "read many times through a broadcast by a reduction")
    return "a computed value that a reduction reads many times through a broadcast (as matmul "
           "reads its operands): computed once and stored rather than recomputed at every read";
  if (reason == "requested output")
    return "a requested output: the program asked for this value, so it gets a buffer of its own";
  if (reason == "write into part of a storage")
    return "an in-place write into part of a storage (a view's in-place op, index_put_, copy_): "
           "the kernel stores only the written positions, the rest keeps its contents";
  if (reason == "base of a partial write")
    return "the base of a partial write: the whole storage must exist in a buffer before part of "
           "it is overwritten";
  if (reason == "snapshot of an input that is overwritten in place while still read")
    return "a snapshot: a later step overwrites this input's buffer in place while work recorded "
           "before the in-place op still reads the old contents, so they are copied first";
  if (reason == "a partial write needs its own copy of the base")
    return "the partial write's base is still needed as it is (or lives in another buffer), so "
           "the write goes into a copy of it";
  if (reason == "the kernel reads the memory it overwrites at other positions")
    return "the kernel reads its own output buffer at positions other than the one it writes, so "
           "it reads from a copy taken first";
  if (reason == "a reduction reads the memory it accumulates into")
    return "the reduction reads its own output buffer, where a backend may keep partial results, "
           "so it reads from a copy taken first";
  if (reason == "requested output is an input buffer")
    return "the requested output is an input unchanged: it is copied into its own buffer";
  return std::string(reason);
}

std::string materialisationExplanation(std::string_view why) {
  if (why == "reading values")
    return "the program read values (printing, item(), comparisons, copying them out)";
  if (why == "Tensor::eval()") return "the program called Tensor::eval()";
  if (why == "kiln::eval")
    return "the program called kiln::eval({...}): every tensor listed is an output of this one "
           "graph, computed together";
  if (why == "data_ptr()")
    return "the program asked for the tensor's memory with data_ptr(), so its value had to be "
           "there";
  if (why == "eager mode")
    return "eager mode (kiln::set_eager(true) or KILN_EAGER=1) computes every op as it is "
           "recorded";
  if (why == kGradReason)
    return "kiln-ir --grad built this graph: the loss and its gradients, forward and backward "
           "computed together, as backward() on the program would compute them";
  if (why == kBudgetReason)
    return "the pending graph grew deeper than the size budget (400 nodes), so kiln computed it "
           "as it was recorded, to bound memory and compile time: this cut is the budget's, not "
           "a place where the program asked for a value";
  return std::string(why);
}

}  // namespace

std::string plural(int64_t n, std::string_view one, std::string_view many) {
  return absl::StrCat(n, " ", std::string(n == 1 ? one : many));
}

bool loadSource(const std::string& path, Source* out, std::string* error) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
      *error = absl::StrCat(path, ": cannot open file");
      return false;
    }
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) {
      *error = absl::StrCat(path, ": cannot read file");
      return false;
    }
    text = ss.str();
  }
  const std::string name = path == "-" ? "<stdin>" : path;
  ir::ParseResult r = ir::parseGraph(text, name);
  if (!r.graph) {
    *error = r.error;
    return false;
  }
  out->path = name;
  out->graph = std::move(*r.graph);
  out->materialised_for.clear();
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] != '#') {
      if (start != std::string::npos) break;  // comments before the graph only
      continue;
    }
    std::string_view rest = std::string_view(line).substr(start);
    if (rest.substr(0, kMaterialisedFor.size()) == kMaterialisedFor) {
      rest.remove_prefix(kMaterialisedFor.size());
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\r')) rest.remove_suffix(1);
      out->materialised_for = std::string(rest);
    }
  }
  return true;
}

Pipeline runPipeline(const ir::Graph& g) {
  Pipeline p;
  p.simple = passes::simplify(g);
  p.schedule = sched::schedule(p.simple.graph);
  const ir::Graph& sg = p.simple.graph;
  std::vector<bool> realized = realizedValues(sg, p.schedule);
  p.kernel_of.assign(sg.instrs.size(), -1);
  int32_t kernel = 0;
  for (size_t s = 0; s < p.schedule.steps.size(); ++s) {
    const sched::Step& st = p.schedule.steps[s];
    if (st.kind != sched::Step::Kind::Kernel) continue;
    FusionGroup fg;
    fg.kernel = kernel++;
    fg.step = static_cast<int32_t>(s);
    fg.root = st.instr;
    fg.roots = {st.instr};
    for (const sched::Step::Sibling& sib : st.siblings) fg.roots.push_back(sib.instr);
    for (const sched::Step::Part& part : st.parts) fg.roots.push_back(part.instr);
    std::vector<bool> seen(sg.instrs.size(), false);
    std::vector<int32_t> stack;
    for (int32_t root : fg.roots) {
      p.kernel_of[root] = fg.kernel;
      seen[root] = true;
      stack.insert(stack.end(), sg.instrs[root].operands.begin(), sg.instrs[root].operands.end());
    }
    while (!stack.empty()) {
      int32_t v = stack.back();
      stack.pop_back();
      if (seen[v]) continue;
      seen[v] = true;
      if (realized[v]) {
        fg.reads.push_back(v);
        continue;
      }
      fg.inlined.push_back(v);
      for (int32_t o : sg.instrs[v].operands) stack.push_back(o);
    }
    std::sort(fg.inlined.begin(), fg.inlined.end());
    std::sort(fg.reads.begin(), fg.reads.end());
    p.groups.push_back(std::move(fg));
  }
  return p;
}

std::string fusionText(const Pipeline& p) {
  const ir::Graph& g = p.simple.graph;
  const sched::Schedule& s = p.schedule;
  size_t copies = s.steps.size() - p.groups.size();
  std::string out = absl::StrCat("# ", plural(std::ssize(p.groups), "kernel", "kernels"), ", ",
                                 plural(static_cast<int64_t>(copies), "copy", "copies"),
                                 " (values are the simplified graph's)\n");
  for (size_t i = 0; i < s.slots.size(); ++i) {
    absl::StrAppend(&out, "slot ", i, ": ", ir::typeText(s.slots[i].dtype, {s.slots[i].numel}),
                    s.slots[i].param >= 0 ? absl::StrCat(" = param ", s.slots[i].param) : "", "\n");
  }
  size_t next_group = 0;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const sched::Step& st = s.steps[i];
    if (st.kind == sched::Step::Kind::Copy) {
      absl::StrAppend(&out, "copy (step ", i, "): slot ", st.slots[0], " -> slot ", st.slots[1],
                      "  # ", st.reason, "\n");
      continue;
    }
    const FusionGroup& fg = p.groups[next_group++];
    absl::StrAppend(&out, "kernel ", fg.kernel, " (step ", i, "): %", fg.root, " -> slot ",
                    st.slots.empty() ? -1 : st.slots[0],
                    st.parts.empty() ? "" : absl::StrCat(", run for ", st.partCount(), " parts"),
                    "  # ", st.reason, "\n");
    for (const sched::Step::Sibling& sib : st.siblings)
      absl::StrAppend(&out, "  and     %", sib.instr, "  # ", sib.reason, "\n");
    std::vector<std::string> reads;
    for (int32_t r : fg.reads) reads.push_back(valueName(g, r));
    absl::StrAppend(&out, "  reads   ", reads.empty() ? "nothing" : absl::StrJoin(reads, ", "),
                    "\n");
    // A reduction inside a kernel is computed per row before the stores (a phase).
    for (int32_t v : fg.inlined) {
      absl::StrAppend(&out, g.instrs[v].d.op == Op::Reduce ? "  phase   " : "  inlines ",
                      ir::instrText(g, v), "\n");
    }
    for (int32_t root : fg.roots) absl::StrAppend(&out, "  stores  ", ir::instrText(g, root), "\n");
  }
  return out;
}

std::string kernelsText(const Pipeline& p) {
  const runtime::Backend& backend = runtime::cpuDevice().backend();
  return p.schedule.text([&](const codegen::Kernel& k) { return backend.scheduleText(k); });
}

std::string llvmStageText(const Pipeline& p, LlvmStage stage) {
  llvm::TargetMachine& target = runtime::llvmBackend().targetMachine();
  std::string out;
  for (const FusionGroup& fg : p.groups) {
    const sched::Step& st = p.schedule.steps[fg.step];
    std::string name = absl::StrCat("kiln_kernel_", fg.kernel);
    codegen::LlvmKernel k =
        codegen::emitLlvm(st.kernel, name, target, runtime::llvmBackend().libraries());
    if (stage != LlvmStage::BeforeOpt) codegen::optimizeLlvm(*k.module, target);
    const char* comment = stage == LlvmStage::Assembly ? "#" : ";";
    absl::StrAppend(&out, comment, " kernel ", fg.kernel, " (step ", fg.step, "): %", fg.root,
                    "  # ", st.reason, "\n");
    absl::StrAppend(&out, stage == LlvmStage::Assembly ? codegen::assemblyText(*k.module, target)
                                                       : codegen::llvmText(*k.module));
  }
  return out;
}

std::string dotText(const Pipeline& p) {
  const ir::Graph& g = p.simple.graph;
  std::vector<bool> global(g.instrs.size(), false);  // drawn once, outside or as a root
  std::string out =
      "digraph kiln {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  auto label = [&](int32_t v) { return dotEscape(ir::instrText(g, v)); };
  for (size_t i = 0; i < g.instrs.size(); ++i) {
    if (g.instrs[i].d.op != Op::Param) continue;
    global[i] = true;
    absl::StrAppend(&out, "  v", i, " [label=\"", label(static_cast<int32_t>(i)),
                    "\", shape=cylinder];\n");
  }
  for (const FusionGroup& fg : p.groups) {
    for (int32_t root : fg.roots) global[root] = true;
  }
  std::string edges;
  for (const FusionGroup& fg : p.groups) {
    const sched::Step& st = p.schedule.steps[fg.step];
    absl::StrAppend(&out, "  subgraph cluster_", fg.kernel, " {\n    label=\"kernel ", fg.kernel,
                    " (step ", fg.step, "): ", dotEscape(st.reason),
                    "\";\n    style=rounded;\n    color=blue;\n");
    std::vector<bool> member(g.instrs.size(), false);
    for (int32_t v : fg.inlined) member[v] = true;
    // An inlined value is evaluated again in every kernel that reads it, so each kernel draws
    // its own copy.
    auto node = [&](int32_t v) {
      return member[v] ? absl::StrCat("k", fg.kernel, "_v", v) : absl::StrCat("v", v);
    };
    for (int32_t v : fg.inlined)
      absl::StrAppend(&out, "    ", node(v), " [label=\"", label(v), "\"];\n");
    for (int32_t root : fg.roots)
      absl::StrAppend(&out, "    v", root, " [label=\"", label(root), "\", style=bold];\n");
    absl::StrAppend(&out, "  }\n");
    std::vector<int32_t> members = fg.inlined;
    members.insert(members.end(), fg.roots.begin(), fg.roots.end());
    for (int32_t v : members) {
      std::string to = member[v] ? node(v) : absl::StrCat("v", v);
      for (int32_t o : g.instrs[v].operands)
        absl::StrAppend(&edges, "  ", node(o), " -> ", to, ";\n");
    }
  }
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const ir::Output& o = g.outputs[k];
    absl::StrAppend(&out, "  out", k, " [label=\"output ", k,
                    o.dest_param >= 0 ? absl::StrCat(" (into param ", o.dest_param, ")") : "",
                    "\", shape=ellipse];\n");
    if (global[o.value]) absl::StrAppend(&edges, "  v", o.value, " -> out", k, ";\n");
  }
  absl::StrAppend(&out, edges, "}\n");
  return out;
}

std::string explainText(const Source& src, const Pipeline& p) {
  const ir::Graph& g = p.simple.graph;
  const sched::Schedule& s = p.schedule;
  std::string out;
  if (src.materialised_for.empty()) {
    absl::StrAppend(&out,
                    "materialisation: not recorded (the file has no '# materialised for:' "
                    "comment; KILN_DUMP writes one at the top of kiln-N.recorded.kir)\n");
  } else {
    absl::StrAppend(&out, "materialisation: ", src.materialised_for,
                    "\n  why: ", materialisationExplanation(src.materialised_for), "\n");
  }
  absl::StrAppend(&out,
                  "graph: ", plural(std::ssize(src.graph.instrs), "instruction", "instructions"),
                  " recorded, ", g.instrs.size(),
                  " after simplification (constant folding, identities, CSE, dead code); ",
                  plural(std::ssize(g.outputs), "output", "outputs"), ", ",
                  plural(g.paramCount(), "param", "params"), "\n");
  size_t copies = s.steps.size() - p.groups.size();
  absl::StrAppend(&out, "schedule: ", plural(std::ssize(p.groups), "kernel", "kernels"), ", ",
                  plural(static_cast<int64_t>(copies), "copy", "copies"),
                  " (%N below are the simplified graph's values; 'recorded %M' the input's)\n");

  // Which kernels evaluate each inlined value (more than one means it is recomputed).
  std::vector<std::vector<int32_t>> inlined_in(g.instrs.size());
  std::vector<std::vector<int32_t>> readers(g.instrs.size());
  for (const FusionGroup& fg : p.groups) {
    for (int32_t v : fg.inlined) inlined_in[v].push_back(fg.kernel);
    for (int32_t v : fg.reads) readers[v].push_back(fg.kernel);
  }
  auto origin = [&](int32_t v) {
    int32_t o = v < static_cast<int32_t>(p.simple.origin.size()) ? p.simple.origin[v] : -1;
    return o >= 0 ? absl::StrCat(" (recorded %", o, ")") : std::string(" (a folded constant)");
  };
  size_t next_group = 0;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const sched::Step& st = s.steps[i];
    if (st.kind == sched::Step::Kind::Copy) {
      absl::StrAppend(&out, "\ncopy (step ", i, "): slot ", st.slots[0], " -> slot ", st.slots[1],
                      "\n  why: ", boundaryExplanation(st.reason), "\n");
      continue;
    }
    const FusionGroup& fg = p.groups[next_group++];
    std::string boundary = boundaryExplanation(st.reason);
    if (st.reason == "requested output" && src.materialised_for == kBudgetReason)
      boundary =
          "a requested output: the value where the size budget cut the pending graph; later "
          "work reads it from its buffer";
    absl::StrAppend(&out, "\nkernel ", fg.kernel, " (step ", i, "): ", ir::instrText(g, fg.root),
                    origin(fg.root), "\n  boundary: ", boundary, "\n");
    for (const sched::Step::Sibling& sib : st.siblings) {
      absl::StrAppend(&out, "  also stores ", ir::instrText(g, sib.instr), origin(sib.instr),
                      "\n    boundary: ", boundaryExplanation(sib.reason),
                      "\n    one kernel: it runs over the same loops as %", fg.root,
                      " and reads the same memory, so the kernel stores them in one pass (a "
                      "kernel with several outputs)\n");
    }
    if (!st.parts.empty()) {
      constexpr size_t kListed = 8;
      std::vector<std::string> names;
      for (size_t k = 0; k < std::min(st.parts.size(), kListed); ++k)
        names.push_back(absl::StrCat("%", st.parts[k].instr));
      if (st.parts.size() > kListed) names.push_back("...");
      absl::StrAppend(
          &out, "  runs for ", st.partCount(), " parts: this one, then ",
          absl::StrJoin(names, ", "),
          "\n    one launch: consecutive kernels of one code and one reason run as one "
          "step over a table of parts, each with its own buffers and arguments, in "
          "order (the parts of a cat or a stack; updates of parameters of one shape)\n");
    }
    for (int32_t root : fg.roots) {
      const std::string which = fg.roots.size() > 1 ? absl::StrCat(" (%", root, ")") : "";
      for (size_t k = 0; k < g.outputs.size(); ++k) {
        if (g.outputs[k].value != root) continue;
        absl::StrAppend(&out, "  output ", k, " of the graph", which,
                        g.outputs[k].dest_param >= 0
                            ? absl::StrCat(", stored in place into param ", g.outputs[k].dest_param)
                            : "",
                        "\n");
      }
      if (!readers[root].empty()) {
        std::vector<std::string> names;
        for (int32_t k : readers[root]) names.push_back(absl::StrCat("kernel ", k));
        absl::StrAppend(&out, "  read by ", absl::StrJoin(names, ", "), which, "\n");
      }
    }
    size_t views = 0;
    std::vector<std::string> shared;
    for (int32_t v : fg.inlined) {
      views += g.instrs[v].d.op == Op::Strided;
      if (inlined_in[v].size() > 1 && g.instrs[v].d.op != Op::Const &&
          g.instrs[v].d.op != Op::Strided)
        shared.push_back(absl::StrCat("%", v));
    }
    absl::StrAppend(
        &out, "  fuses ",
        plural(std::ssize(fg.inlined) + std::ssize(fg.roots), "instruction", "instructions"));
    if (views > 0)
      absl::StrAppend(&out, ", ", plural(static_cast<int64_t>(views), "view", "views"),
                      " among them (views and shape changes are index arithmetic and never end a "
                      "kernel)");
    absl::StrAppend(&out, "\n");
    const bool product = std::any_of(fg.inlined.begin(), fg.inlined.end(), [&](int32_t v) {
      return sched::matrixProduct(g, g.instrs[v]);
    });
    if (product) {
      absl::StrAppend(&out,
                      "  computes a matrix product inside the kernel, its stores being the "
                      "product's epilogue (the CPU backend calls gemm per block of rows and runs "
                      "the stores over each block while it is in cache)\n");
    } else if (!st.kernel.phases.empty()) {
      absl::StrAppend(&out, "  computes ",
                      plural(std::ssize(st.kernel.phases), "row reduction", "row reductions"),
                      " per row inside the kernel, as phases before its stores (the rows are read "
                      "from memory once)\n");
    }
    if (!shared.empty())
      absl::StrAppend(&out, "  recomputes ", absl::StrJoin(shared, ", "),
                      " (also inlined into other kernels: cheap values are recomputed where they "
                      "are read rather than stored)\n");
    std::vector<std::string> reads;
    for (int32_t r : fg.reads) {
      const ir::NodeDesc& d = g.instrs[r].d;
      reads.push_back(d.op == Op::Param ? valueName(g, r)
                                        : absl::StrCat("%", r, " (kernel ", p.kernel_of[r], ")"));
    }
    if (!reads.empty()) absl::StrAppend(&out, "  reads ", absl::StrJoin(reads, ", "), "\n");
  }
  return out;
}

}  // namespace kiln::tools
