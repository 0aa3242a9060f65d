#include "codegen/kernel.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "lib/core/scalar_type.h"

namespace kiln::codegen {

bool Expr::operator==(const Expr& o) const {
  return kind == o.kind && sop == o.sop && type == o.type && a == o.a && b == o.b && c == o.c &&
         i == o.i && std::memcmp(&f, &o.f, sizeof f) == 0;
}

namespace {
std::string_view reduceText(ReduceKind k) {
  switch (k) {
    case ReduceKind::None:
      return "";
    case ReduceKind::Sum:
      return "sum";
    case ReduceKind::Prod:
      return "prod";
    case ReduceKind::Max:
      return "max";
    case ReduceKind::Min:
      return "min";
    case ReduceKind::ArgMax:
      return "argmax";
    case ReduceKind::ArgMin:
      return "argmin";
  }
  return "?";
}

std::string exprText(const Expr& e) {
  std::string t(irName(e.type));
  switch (e.kind) {
    case ExprKind::Op: {
      std::string s = absl::StrCat(std::string(ir::info(e.sop).name), ".", t, " $", e.a);
      if (e.b >= 0) absl::StrAppend(&s, ", $", e.b);
      if (e.c >= 0) absl::StrAppend(&s, ", $", e.c);
      return s;
    }
    case ExprKind::LoopVar:
      return absl::StrCat("loop ", e.i);
    case ExprKind::IntConst:
      return absl::StrCat("int.", t, " ", e.i);
    case ExprKind::FloatConst:
      return absl::StrFormat("float.%s %.17g", t, e.f);
    case ExprKind::Arg:
      return absl::StrCat("arg.", t, " ", e.i);
    case ExprKind::Load:
      return absl::StrCat("load.", t, " buf", e.i, "[$", e.a, "]");
    case ExprKind::RandUniform:
      return absl::StrCat("rand.uniform.", t, " counter=$", e.a, " key=$", e.b);
    case ExprKind::RandNormal:
      return absl::StrCat("rand.normal.", t, " counter=$", e.a, " key=$", e.b);
    case ExprKind::Acc:
      return absl::StrCat("acc.", t, " ", e.i);
    case ExprKind::Stashed:
      return absl::StrCat("stashed.", t, " buf", e.i, "[$", e.a, "]");
  }
  return "?";
}
}  // namespace

std::string Kernel::text() const {
  std::string s = "kernel(";
  for (size_t i = 0; i < buffers.size(); ++i) {
    absl::StrAppend(&s, i ? ", " : "", "buf", i, ": ", std::string(irName(buffers[i].dtype)),
                    buffers[i].written ? " out" : "");
  }
  for (size_t i = 0; i < args.size(); ++i) {
    absl::StrAppend(&s, ", arg", i, ": ", std::string(irName(args[i])));
  }
  absl::StrAppend(&s, ")\n  loops");
  for (size_t l = 0; l < loops.size(); ++l) {
    const std::string extent = loops[l].extent_arg >= 0 ? absl::StrCat("arg", loops[l].extent_arg)
                                                        : absl::StrCat(loops[l].extent);
    absl::StrAppend(&s, " ", l, ":", extent, loops[l].role == LoopRole::Reduction ? "r" : "");
  }
  if (outer > 0) absl::StrAppend(&s, "\n  outer ", outer);
  absl::StrAppend(&s, "\n");
  for (size_t i = 0; i < exprs.size(); ++i) {
    absl::StrAppend(&s, "  $", i, " = ", exprText(exprs[i]), "\n");
  }
  for (size_t p = 0; p < phases.size(); ++p) {
    absl::StrAppend(&s, "  phase ", p, " loops ", absl::StrJoin(phases[p].loops, ","), " ",
                    std::string(reduceText(phases[p].reduce)), " $", phases[p].value);
    if (phases[p].stash_buffer >= 0) {
      absl::StrAppend(&s, " stash buf", phases[p].stash_buffer, "[$", phases[p].stash_index, "]");
    }
    absl::StrAppend(&s, "\n");
  }
  for (const Store& st : stores) {
    const char* scatter = st.scatter == ScatterKind::Assign ? ".scatter"
                          : st.scatter == ScatterKind::Add  ? ".scatter_add"
                                                            : "";
    absl::StrAppend(&s, "  store", scatter, st.reduce == ReduceKind::None ? "" : ".",
                    std::string(reduceText(st.reduce)), " buf", st.buffer, "[$", st.index, "] = $",
                    st.value);
    if (st.best_buffer >= 0) {
      absl::StrAppend(&s, " best=buf", st.best_buffer, " position=$", st.position);
    }
    if (st.distinct_in_last_loop) absl::StrAppend(&s, " distinct-in-last-loop");
    absl::StrAppend(&s, "\n");
  }
  return s;
}

bool Kernel::reduces() const {
  return std::any_of(stores.begin(), stores.end(),
                     [](const Store& st) { return st.reduce != ReduceKind::None; });
}

bool Kernel::isPhaseLoop(int32_t l) const {
  for (const Phase& p : phases) {
    if (std::find(p.loops.begin(), p.loops.end(), l) != p.loops.end()) return true;
  }
  return false;
}

double reduceIdentity(ReduceKind k, ScalarType t) {
  const bool fp = isFloatingType(t);
  // An integer type's (or bool's) least and greatest values.
  auto limit = [t](bool greatest) {
    return detail::visitType(t, [greatest]<typename T>() -> double {
      if constexpr (std::is_integral_v<T>) {
        return static_cast<double>(greatest ? std::numeric_limits<T>::max()
                                            : std::numeric_limits<T>::lowest());
      } else {
        return 0;
      }
    });
  };
  switch (k) {
    case ReduceKind::Sum:
      return 0;
    case ReduceKind::Prod:
      return 1;
    case ReduceKind::Max:
    case ReduceKind::ArgMax:
      return fp ? -std::numeric_limits<double>::infinity() : limit(false);
    case ReduceKind::Min:
    case ReduceKind::ArgMin:
      return fp ? std::numeric_limits<double>::infinity() : limit(true);
    case ReduceKind::None:
      return 0;
  }
  return 0;
}

}  // namespace kiln::codegen
