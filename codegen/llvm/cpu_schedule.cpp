// The CPU loop-nest decision (see cpu_schedule.h).
#include "codegen/llvm/cpu_schedule.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <numeric>

#include "lib/core/scalar_type.h"

namespace kiln::codegen {
namespace {

// Adds `scale` times the affine part of index expression `e` to the per-loop coefficients: sums
// and products with constants are looked through, anything else is an opaque term.
void addCoefficients(const Kernel& k, int32_t e, int64_t scale, std::vector<int64_t>& coef) {
  const Expr& x = k.exprs[e];
  if (x.kind == ExprKind::LoopVar) {
    coef[x.i] += scale;
    return;
  }
  if (x.kind != ExprKind::Op) return;
  if (x.sop == ScalarOp::Add) {
    addCoefficients(k, x.a, scale, coef);
    addCoefficients(k, x.b, scale, coef);
  } else if (x.sop == ScalarOp::Mul) {
    if (k.exprs[x.b].kind == ExprKind::IntConst) {
      addCoefficients(k, x.a, scale * k.exprs[x.b].i, coef);
    } else if (k.exprs[x.a].kind == ExprKind::IntConst) {
      addCoefficients(k, x.b, scale * k.exprs[x.a].i, coef);
    }
  }
}

std::vector<int32_t> accessScores(const Kernel& k) {
  std::vector<int32_t> score(k.loops.size(), 0);
  auto count = [&](int32_t index) {
    std::vector<int64_t> coef(k.loops.size(), 0);
    addCoefficients(k, index, 1, coef);
    for (size_t l = 0; l < coef.size(); ++l) score[l] += coef[l] == 1 ? 2 : coef[l] == 0 ? 1 : 0;
  };
  for (const Expr& e : k.exprs) {
    if (e.kind == ExprKind::Load) count(e.a);
  }
  for (const Store& st : k.stores) count(st.index);
  return score;
}

// Whether index expression `e` is affine in the loops: sums of loop variables, integer constants
// and arguments (view offsets), each possibly times a constant.
bool affine(const Kernel& k, int32_t e) {
  const Expr& x = k.exprs[e];
  switch (x.kind) {
    case ExprKind::LoopVar:
    case ExprKind::IntConst:
      return true;
    case ExprKind::Arg:
      return x.type == ScalarType::Long;
    case ExprKind::Op:
      if (x.sop == ScalarOp::Add) return affine(k, x.a) && affine(k, x.b);
      if (x.sop == ScalarOp::Mul) {
        return (k.exprs[x.b].kind == ExprKind::IntConst && affine(k, x.a)) ||
               (k.exprs[x.a].kind == ExprKind::IntConst && affine(k, x.b));
      }
      return false;
    default:
      return false;
  }
}

// The product C[batch, m, n] = sum over k of A[batch, m, k] B[batch, n, k], with the loops
// given, or nothing when the accesses do not fit a gemm call per batch: A moves along m and k
// only, B along n and k, C along m and n (any stride along the batch, 0 too: a broadcast
// operand), each operand with unit stride along one of its two loops.
std::optional<CpuSchedule::Contraction> assignLoops(const Kernel& k, const Expr& product,
                                                    int32_t batch, int32_t m, int32_t n, int32_t kl,
                                                    bool epilogue) {
  const Store& st = k.stores[0];
  auto coefficients = [&](int32_t index) -> std::optional<std::vector<int64_t>> {
    if (!affine(k, index)) return std::nullopt;
    std::vector<int64_t> coef(k.loops.size(), 0);
    addCoefficients(k, index, 1, coef);
    if (batch >= 0 && coef[batch] < 0) return std::nullopt;
    return coef;
  };
  CpuSchedule::Contraction c;
  c.batch = batch;
  c.m = m;
  c.n = n;
  c.k = kl;
  c.epilogue = epilogue;
  if (!epilogue) {
    const auto out = coefficients(st.index);
    if (!out || (*out)[kl] != 0 || (*out)[n] != 1 || (*out)[m] < 1) return std::nullopt;
    c.ldc = (*out)[m];
  }
  for (int32_t operand : {product.a, product.b}) {
    const Expr& load = k.exprs[operand];
    if (load.kind != ExprKind::Load || load.type != product.type) return std::nullopt;
    const auto coef = coefficients(load.a);
    if (!coef) return std::nullopt;
    const int64_t along_m = (*coef)[m], along_n = (*coef)[n], along_k = (*coef)[kl];
    if (along_n == 0 && along_m > 0 && along_k > 0 && c.a < 0) {
      c.a = operand;
      c.a_trans = along_k != 1;
      c.lda = c.a_trans ? along_k : along_m;
      if (c.a_trans && along_m != 1) return std::nullopt;
    } else if (along_m == 0 && along_n > 0 && along_k > 0 && c.b < 0) {
      c.b = operand;
      c.b_trans = along_n != 1;
      c.ldb = c.b_trans ? along_n : along_k;
      if (c.b_trans && along_k != 1) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  return c;
}

// The product's terms: a stored sum's value, or the value of a phase that plain stores read
// (its epilogue). Of the ways to name the parallel loops batch, m and n, the one kept has the
// stores contiguous along n (with an epilogue, where some has), then the smallest lda (A's rows
// along m rather than along the batch).
std::optional<CpuSchedule::Contraction> findContraction(const Kernel& k) {
  const bool epilogue = !k.phases.empty();
  // Without an epilogue the product is the one store; an epilogue may store several values.
  if (k.stores.empty() || (k.stores.size() != 1 && !epilogue) ||
      (k.loops.size() != 3 && k.loops.size() != 4)) {
    return std::nullopt;
  }
  const Store& st = k.stores[0];
  std::vector<int32_t> parallel;
  int32_t kl = -1;
  for (int32_t l = 0; l < std::ssize(k.loops); ++l) {
    if (k.loops[l].role == LoopRole::Parallel) {
      parallel.push_back(l);
    } else if (kl >= 0) {
      return std::nullopt;
    } else {
      kl = l;
    }
  }
  if (kl < 0) return std::nullopt;
  if (epilogue) {
    const Phase& p = k.phases[0];
    if (k.phases.size() != 1 || k.outer != std::ssize(parallel) || p.loops.size() != 1 ||
        p.loops[0] != kl || p.stash_buffer >= 0 || p.reduce != ReduceKind::Sum ||
        st.reduce != ReduceKind::None) {
      return std::nullopt;
    }
  } else if (st.reduce != ReduceKind::Sum) {
    return std::nullopt;
  }
  const Expr& v = k.exprs[epilogue ? k.phases[0].value : st.value];
  if (v.kind != ExprKind::Op || v.sop != ScalarOp::Mul ||
      (v.type != ScalarType::Float && v.type != ScalarType::Double)) {
    return std::nullopt;
  }
  std::vector<int64_t> out(k.loops.size(), 0);
  if (affine(k, st.index)) addCoefficients(k, st.index, 1, out);
  std::optional<CpuSchedule::Contraction> best;
  auto rank = [&](const CpuSchedule::Contraction& c) {
    return std::make_pair(out[c.n] == 1 ? 0 : 1, c.lda);
  };
  std::sort(parallel.begin(), parallel.end());
  do {
    const bool batched = parallel.size() == 3;
    const int32_t batch = batched ? parallel[0] : -1;
    const int32_t m = parallel[batched ? 1 : 0], n = parallel[batched ? 2 : 1];
    auto c = assignLoops(k, v, batch, m, n, kl, epilogue);
    if (c && (!best || rank(*c) < rank(*best))) best = c;
  } while (std::next_permutation(parallel.begin(), parallel.end()));
  return best;
}

}  // namespace

CpuSchedule cpuSchedule(const Kernel& k, bool gemm) {
  CpuSchedule s;
  // The stores' nest: every loop but the phases' own, which run inside the outer loops, each
  // phase's in its own order.
  for (int32_t l = 0; l < std::ssize(k.loops); ++l) {
    if (!k.isPhaseLoop(l)) s.order.push_back(l);
  }
  const size_t n = s.order.size();
  s.access_score = accessScores(k);
  // The outer loops of a phased kernel stay outermost, and a phased kernel's reducing stores
  // keep their reduction loops innermost (the phases live where the register accumulators do).
  const size_t movable_from = static_cast<size_t>(k.outer);
  // So do the reduction loops of a half or bfloat16 reduction, which accumulates in float32
  // registers as PyTorch's does (accumulating in memory would round every term to 16 bits).
  const bool narrow_sum = std::any_of(k.stores.begin(), k.stores.end(), [&](const Store& st) {
    return st.reduce != ReduceKind::None && detail::isReducedFloat(k.exprs[st.value].type);
  });
  // A scattering store's points run in the loops' own order, on one thread (codegen/kernel.h).
  const bool may_move = (k.phases.empty() || !k.reduces()) && !narrow_sum && !k.scatters();
  if (!may_move) {
    std::stable_partition(s.order.begin() + static_cast<std::ptrdiff_t>(movable_from),
                          s.order.end(),
                          [&](int32_t l) { return k.loops[l].role == LoopRole::Parallel; });
  }
  if (n >= 2 && may_move) {
    const size_t last = n - 1;
    size_t best = last;
    for (size_t i = movable_from; i < last; ++i) {
      int32_t l = s.order[i];
      const bool long_enough = k.loops[l].extent_arg >= 0 || k.loops[l].extent > 1;
      if (s.access_score[l] > s.access_score[s.order[best]] && long_enough) best = i;
    }
    if (best != last) {
      int32_t l = s.order[best];
      s.order.erase(s.order.begin() + static_cast<std::ptrdiff_t>(best));
      s.order.push_back(l);
      s.moved = true;
    }
  }
  auto parallel = [&](int32_t l) { return k.loops[l].role == LoopRole::Parallel; };
  s.outer_parallel = static_cast<size_t>(
      std::find_if_not(s.order.begin(), s.order.end(), parallel) - s.order.begin());
  s.split_loops = k.phases.empty() ? s.outer_parallel
                                   : std::min(s.outer_parallel, static_cast<size_t>(k.outer));
  if (k.scatters()) s.split_loops = 0;
  // The gemm calls take blocks of rows: threads split m alone, so m goes outermost (the loops
  // that run instead of the library keep the others' order).
  if (gemm) s.contraction = findContraction(k);
  if (s.contraction) {
    // Threads split [batch,] m: the batch goes outermost, m next.
    for (int32_t l : {s.contraction->m, s.contraction->batch}) {
      if (l < 0) continue;
      const auto at = std::find(s.order.begin(), s.order.end(), l);
      std::rotate(s.order.begin(), at, at + 1);
    }
    s.outer_parallel = static_cast<size_t>(
        std::find_if_not(s.order.begin(), s.order.end(), parallel) - s.order.begin());
    s.split_loops = s.contraction->batch >= 0 ? 2 : 1;
  }
  if (k.reduces()) {
    bool inside = std::all_of(s.order.begin() + s.outer_parallel, s.order.end(),
                              [&](int32_t l) { return !parallel(l); });
    s.accumulate = inside ? CpuSchedule::Accumulate::Registers : CpuSchedule::Accumulate::Memory;
  }
  return s;
}

CpuSchedule::Work CpuSchedule::work(const Kernel& k, const uint64_t* args) const {
  Work w;
  if (contraction) {
    const Contraction& c = *contraction;
    w.units = (k.extentAt(c.m, args) + Contraction::kRows - 1) / Contraction::kRows;
    if (c.batch >= 0) w.units *= k.extentAt(c.batch, args);
    w.points_per_unit =
        std::max<int64_t>(1, Contraction::kRows * k.extentAt(c.n, args) * k.extentAt(c.k, args));
    return w;
  }
  for (size_t i = 0; i < split_loops; ++i) w.units *= k.extentAt(order[i], args);
  // The stores' inner nest plus each phase's loops.
  int64_t per_unit = 1;
  for (size_t i = split_loops; i < order.size(); ++i) per_unit *= k.extentAt(order[i], args);
  for (const Phase& p : k.phases) {
    int64_t phase_points = 1;
    for (int32_t l : p.loops) phase_points *= k.extentAt(l, args);
    per_unit += phase_points;
  }
  w.points_per_unit = std::max<int64_t>(1, per_unit);
  return w;
}

std::string CpuSchedule::text(const Kernel& k) const {
  std::string out = absl::StrCat("cpu: order=[", absl::StrJoin(order, ","), "]");
  if (order.size() >= 2) {
    absl::StrAppend(&out, " (innermost loop ", order.back(),
                    moved ? ": best access score of [" : ": kept last, access scores [",
                    absl::StrJoin(access_score, ","), "])");
  }
  if (accumulate == Accumulate::Registers) absl::StrAppend(&out, ", reduction in registers");
  if (accumulate == Accumulate::Memory) absl::StrAppend(&out, ", reduction in memory");
  if (contraction) {
    const Contraction& c = *contraction;
    absl::StrAppend(&out, ", gemm ",
                    c.batch >= 0 ? absl::StrCat("per batch of loop ", c.batch, ": ") : "", "C[",
                    c.m, ",", c.n, "] = A", c.a_trans ? "^T" : "", " B", c.b_trans ? "^T" : "",
                    " over loop ", c.k, " (lda ", c.lda, ", ldb ", c.ldb);
    if (c.epilogue) {
      absl::StrAppend(&out, ") per ", Contraction::kRows, " rows into scratch, then the stores");
    } else {
      absl::StrAppend(&out, ", ldc ", c.ldc, ") per ", Contraction::kRows, " rows");
    }
  }
  if (split_loops > 0) {
    // The units' count: the static extents' product, times each argument extent.
    int64_t fixed = 1;
    std::vector<std::string> factors;
    for (size_t i = 0; i < split_loops; ++i) {
      const Loop& l = k.loops[order[i]];
      if (l.extent_arg >= 0) {
        factors.push_back(absl::StrCat("arg", l.extent_arg));
      } else {
        fixed *= l.extent;
      }
    }
    if (fixed != 1 || factors.empty()) factors.insert(factors.begin(), absl::StrCat(fixed));
    absl::StrAppend(&out, ", threads split loops [",
                    absl::StrJoin(order.begin(), order.begin() + split_loops, ","), "] (",
                    absl::StrJoin(factors, "*"), " units)");
  }
  return out;
}

}  // namespace kiln::codegen
