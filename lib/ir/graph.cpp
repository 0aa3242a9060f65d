#include "lib/ir/graph.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

namespace kiln::ir {

int32_t Graph::paramCount() const {
  int32_t n = 0;
  for (const Instr& i : instrs) n += i.d.op == Op::Param;
  return n;
}

int32_t Graph::paramInstr(int32_t index) const {
  for (size_t i = 0; i < instrs.size(); ++i) {
    if (instrs[i].d.op == Op::Param && instrs[i].d.ivalue == index) return static_cast<int32_t>(i);
  }
  return -1;
}

std::vector<bool> exactConstants(const Graph& g) {
  const size_t n = g.instrs.size();
  std::vector<bool> foldable(n, false), exact(n, false);
  for (size_t i = 0; i < n; ++i) {
    const Instr& in = g.instrs[i];
    if (in.d.op == Op::Const) {
      foldable[i] = true;
    } else if (in.d.op == Op::Elementwise || in.d.op == Op::Strided) {
      bool all = true;
      for (int32_t o : in.operands) all = all && foldable[o];
      foldable[i] = all;
      if (all) {
        for (int32_t o : in.operands) exact[o] = g.instrs[o].d.op == Op::Const;
      }
    }
  }
  return exact;
}

namespace {
// %.17g round-trips every double; integral values keep a trailing ".0" so the text says float.
std::string floatText(double v) {
  std::string s = absl::StrFormat("%.17g", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}
}  // namespace

std::string instrText(const Graph& g, int32_t index) {
  const Instr& in = g.instrs[index];
  std::string s = absl::StrCat("%", index, " = ", mnemonic(in.d));
  if (in.d.op == Op::Param) {
    absl::StrAppend(&s, " ", in.d.ivalue);
  } else if (in.d.op == Op::Const) {
    absl::StrAppend(
        &s, " ", isFloatingType(in.d.dtype) ? floatText(in.d.fvalue) : absl::StrCat(in.d.ivalue));
  }
  for (size_t k = 0; k < in.operands.size(); ++k) {
    absl::StrAppend(&s, k == 0 ? " %" : ", %", in.operands[k]);
  }
  absl::StrAppend(&s, attrText(in.d), " : ", typeText(in.d.dtype, in.d.shape));
  return s;
}

std::string Graph::text() const {
  std::string s = "graph {\n";
  for (size_t i = 0; i < instrs.size(); ++i) {
    absl::StrAppend(&s, "  ", instrText(*this, static_cast<int32_t>(i)), "\n");
  }
  absl::StrAppend(&s, "  return");
  for (size_t k = 0; k < outputs.size(); ++k) {
    absl::StrAppend(&s, k == 0 ? " %" : ", %", outputs[k].value);
    if (outputs[k].dest_param >= 0) absl::StrAppend(&s, " into param ", outputs[k].dest_param);
  }
  absl::StrAppend(&s, "\n}\n");
  return s;
}

}  // namespace kiln::ir
