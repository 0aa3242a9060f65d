#include "codegen/builder.h"

#include <absl/hash/hash.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace kiln::codegen {

size_t KernelBuilder::ExprHash::operator()(const Expr& e) const {
  uint64_t fbits;
  std::memcpy(&fbits, &e.f, sizeof fbits);
  return absl::HashOf(static_cast<int>(e.kind), static_cast<int>(e.sop), static_cast<int>(e.type),
                      e.a, e.b, e.c, e.i, fbits);
}

int32_t KernelBuilder::addLoop(int64_t extent, LoopRole role) {
  kernel_.loops.push_back({extent, role});
  return static_cast<int32_t>(kernel_.loops.size() - 1);
}

int32_t KernelBuilder::addBuffer(ScalarType dtype, bool written) {
  kernel_.buffers.push_back({dtype, written});
  return static_cast<int32_t>(kernel_.buffers.size() - 1);
}

int32_t KernelBuilder::addArg(ScalarType type) {
  kernel_.args.push_back(type);
  return static_cast<int32_t>(kernel_.args.size() - 1);
}

int32_t KernelBuilder::expr(const Expr& e) {
  auto it = memo_.find(e);
  if (it != memo_.end()) return it->second;
  kernel_.exprs.push_back(e);
  int32_t id = static_cast<int32_t>(kernel_.exprs.size() - 1);
  memo_.emplace(e, id);
  return id;
}

int32_t KernelBuilder::op(ScalarOp sop, ScalarType type, int32_t a, int32_t b, int32_t c) {
  Expr e;
  e.kind = ExprKind::Op;
  e.sop = sop;
  e.type = type;
  e.a = a;
  e.b = b;
  e.c = c;
  return expr(e);
}

int32_t KernelBuilder::intConst(int64_t v, ScalarType type) {
  Expr e;
  e.kind = ExprKind::IntConst;
  e.type = type;
  e.i = v;
  return expr(e);
}

int32_t KernelBuilder::floatConst(double v, ScalarType type) {
  Expr e;
  e.kind = ExprKind::FloatConst;
  e.type = type;
  e.f = v;
  return expr(e);
}

int32_t KernelBuilder::arg(int32_t index) {
  Expr e;
  e.kind = ExprKind::Arg;
  e.type = kernel_.args[index];
  e.i = index;
  return expr(e);
}

int32_t KernelBuilder::load(int32_t buffer, const Lin& index) {
  loads_.emplace_back(buffer, index);
  Expr e;
  e.kind = ExprKind::Load;
  e.type = kernel_.buffers[buffer].dtype;
  e.i = buffer;
  e.a = materialize(index);
  return expr(e);
}

int32_t KernelBuilder::randUniform(ScalarType type, int32_t counter, int32_t key) {
  Expr e;
  e.kind = ExprKind::RandUniform;
  e.type = type;
  e.a = counter;
  e.b = key;
  return expr(e);
}

int32_t KernelBuilder::randNormal(ScalarType type, int32_t counter, int32_t key) {
  Expr e;
  e.kind = ExprKind::RandNormal;
  e.type = type;
  e.a = counter;
  e.b = key;
  return expr(e);
}

int32_t KernelBuilder::addPhase(Phase p, int32_t outer) {
  kernel_.phases.push_back(std::move(p));
  kernel_.outer = outer;
  return static_cast<int32_t>(kernel_.phases.size() - 1);
}

int32_t KernelBuilder::stashed(int32_t buffer, int32_t index) {
  Expr e;
  e.kind = ExprKind::Stashed;
  e.type = kernel_.buffers[buffer].dtype;
  e.i = buffer;
  e.a = index;
  return expr(e);
}

int32_t KernelBuilder::acc(int32_t phase, ScalarType type) {
  Expr e;
  e.kind = ExprKind::Acc;
  e.type = type;
  e.i = phase;
  return expr(e);
}

std::vector<bool> KernelBuilder::loopsOf(int32_t root) const {
  const std::vector<Expr>& exprs = kernel_.exprs;
  std::vector<bool> loops(kernel_.loops.size(), false), seen(exprs.size(), false);
  std::vector<int32_t> stack{root};
  while (!stack.empty()) {
    int32_t e = stack.back();
    stack.pop_back();
    if (seen[e]) continue;
    seen[e] = true;
    if (exprs[e].kind == ExprKind::LoopVar) loops[exprs[e].i] = true;
    for (int32_t o : {exprs[e].a, exprs[e].b, exprs[e].c}) {
      if (o >= 0) stack.push_back(o);
    }
  }
  return loops;
}

Kernel KernelBuilder::take() {
  std::vector<Expr>& exprs = kernel_.exprs;
  std::vector<bool> used(exprs.size(), false);
  std::vector<int32_t> stack;
  for (const Store& st : kernel_.stores) {
    for (int32_t e : {st.index, st.value, st.position}) {
      if (e >= 0) stack.push_back(e);
    }
  }
  for (const Phase& p : kernel_.phases) {
    stack.push_back(p.value);
    if (p.stash_index >= 0) stack.push_back(p.stash_index);
  }
  while (!stack.empty()) {
    int32_t e = stack.back();
    stack.pop_back();
    if (used[e]) continue;
    used[e] = true;
    for (int32_t o : {exprs[e].a, exprs[e].b, exprs[e].c}) {
      if (o >= 0) stack.push_back(o);
    }
  }
  // Operands always precede their users, so one forward pass renumbers.
  std::vector<int32_t> renumber(exprs.size(), -1);
  std::vector<Expr> kept;
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (!used[i]) continue;
    Expr e = exprs[i];
    for (int32_t* o : {&e.a, &e.b, &e.c}) {
      if (*o >= 0) *o = renumber[*o];
    }
    renumber[i] = static_cast<int32_t>(kept.size());
    kept.push_back(e);
  }
  exprs = std::move(kept);
  for (Store& st : kernel_.stores) {
    for (int32_t* e : {&st.index, &st.value, &st.position}) {
      if (*e >= 0) *e = renumber[*e];
    }
  }
  for (Phase& p : kernel_.phases) {
    p.value = renumber[p.value];
    if (p.stash_index >= 0) p.stash_index = renumber[p.stash_index];
  }
  for (Loop& l : kernel_.loops) {
    if (l.extent_arg >= 0) l.extent = -1;
  }
  memo_.clear();
  atoms_.clear();
  return std::move(kernel_);
}

Lin KernelBuilder::var(int32_t loop) {
  Expr e;
  e.kind = ExprKind::LoopVar;
  e.type = ScalarType::Long;
  e.i = loop;
  return atomLin(expr(e));
}

std::pair<int64_t, int64_t> KernelBuilder::atomRange(int32_t atom) const {
  const Expr& e = kernel_.exprs[atom];
  if (e.kind == ExprKind::LoopVar) return {0, kernel_.loops[e.i].extent - 1};
  if (auto bound = bounds_.find(atom); bound != bounds_.end()) return {0, bound->second};
  auto it = atoms_.find(atom);
  if (it == atoms_.end()) return {0, std::numeric_limits<int64_t>::max() / 4};
  auto [lo, hi] = range(it->second.src);
  if (it->second.is_mod) return {0, std::min(hi, it->second.divisor - 1)};
  return {lo / it->second.divisor, hi / it->second.divisor};
}

std::pair<int64_t, int64_t> KernelBuilder::range(const Lin& a) const {
  int64_t lo = a.c, hi = a.c;
  for (auto [atom, coef] : a.terms) {
    auto [alo, ahi] = atomRange(atom);
    if (coef >= 0) {
      lo += coef * alo;
      hi += coef * ahi;
    } else {
      lo += coef * ahi;
      hi += coef * alo;
    }
  }
  return {lo, hi};
}

Lin KernelBuilder::normalize(std::vector<std::pair<int32_t, int64_t>> terms, int64_t c) {
  // Merge k*d*floor(X/d) + k*(X mod d) back into k*X, repeatedly (nested unravels).
  for (bool changed = true; changed;) {
    changed = false;
    std::map<int32_t, int64_t> merged;
    for (auto [atom, coef] : terms) merged[atom] += coef;
    terms.assign(merged.begin(), merged.end());
    std::erase_if(terms, [](const auto& t) { return t.second == 0; });
    for (size_t i = 0; i < terms.size() && !changed; ++i) {
      auto mod_it = atoms_.find(terms[i].first);
      if (mod_it == atoms_.end() || !mod_it->second.is_mod) continue;
      const Atom& m = mod_it->second;
      int64_t k = terms[i].second;
      for (size_t j = 0; j < terms.size(); ++j) {
        auto div_it = atoms_.find(terms[j].first);
        if (div_it == atoms_.end() || div_it->second.is_mod) continue;
        const Atom& d = div_it->second;
        if (d.divisor != m.divisor || !(d.src == m.src) || terms[j].second != k * m.divisor) {
          continue;
        }
        Lin src = m.src;
        terms[i].second = 0;
        terms[j].second = 0;
        for (auto [atom, coef] : src.terms) terms.emplace_back(atom, coef * k);
        c += src.c * k;
        changed = true;
        break;
      }
    }
  }
  return Lin{c, std::move(terms)};
}

Lin KernelBuilder::add(const Lin& a, const Lin& b) {
  auto terms = a.terms;
  terms.insert(terms.end(), b.terms.begin(), b.terms.end());
  return normalize(std::move(terms), a.c + b.c);
}

Lin KernelBuilder::scale(const Lin& a, int64_t k) {
  if (k == 0) return Lin{};
  Lin r = a;
  r.c *= k;
  for (auto& t : r.terms) t.second *= k;
  return r;
}

int32_t KernelBuilder::divModAtom(const Lin& src, int64_t d, bool is_mod) {
  int32_t x = materialize(src);
  int32_t id = op(is_mod ? ScalarOp::Mod : ScalarOp::FloorDiv, ScalarType::Long, x, intConst(d));
  atoms_.try_emplace(id, Atom{src, d, is_mod});
  return id;
}

Lin KernelBuilder::floorDiv(const Lin& a, int64_t d) {
  if (d == 1) return a;
  // a = d*q + r with r's coefficients in [0, d): if r stays below d, a/d is just q.
  std::vector<std::pair<int32_t, int64_t>> q, r;
  for (auto [atom, coef] : a.terms) {
    int64_t qc = coef / d, rc = coef % d;
    if (qc) q.emplace_back(atom, qc);
    if (rc) r.emplace_back(atom, rc);
  }
  int64_t qconst = a.c / d, rconst = a.c % d;
  Lin rest{rconst, r};
  auto [lo, hi] = range(rest);
  Lin quotient = normalize(q, qconst);
  if (lo >= 0 && hi < d) return quotient;
  return add(quotient, atomLin(divModAtom(rest, d, false)));
}

Lin KernelBuilder::mod(const Lin& a, int64_t d) {
  if (d == 1) return Lin{};
  std::vector<std::pair<int32_t, int64_t>> r;
  for (auto [atom, coef] : a.terms) {
    if (coef % d) r.emplace_back(atom, coef % d);
  }
  Lin rest{a.c % d, r};
  auto [lo, hi] = range(rest);
  if (lo >= 0 && hi < d) return rest;
  return atomLin(divModAtom(rest, d, true));
}

Lin KernelBuilder::linear(const std::vector<Lin>& idx, const std::vector<int64_t>& strides,
                          int64_t offset) {
  Lin r = Lin::constant(offset);
  for (size_t d = 0; d < idx.size(); ++d) r = add(r, scale(idx[d], strides[d]));
  return r;
}

std::vector<Lin> KernelBuilder::unravel(const Lin& flat, const std::vector<int64_t>& shape) {
  std::vector<Lin> idx(shape.size());
  Lin rest = flat;
  for (size_t d = shape.size(); d-- > 0;) {
    if (d == 0) {
      idx[d] = rest;
    } else if (shape[d] == 0) {
      // An empty shape is never read: the index space that reads it runs no point of it.
      idx[d] = Lin{};
    } else {
      idx[d] = mod(rest, shape[d]);
      rest = floorDiv(rest, shape[d]);
    }
  }
  return idx;
}

int32_t KernelBuilder::materialize(const Lin& a) {
  int32_t acc = -1;
  for (auto [atom, coef] : a.terms) {
    int32_t t = coef == 1 ? atom : op(ScalarOp::Mul, ScalarType::Long, atom, intConst(coef));
    acc = acc < 0 ? t : op(ScalarOp::Add, ScalarType::Long, acc, t);
  }
  if (acc < 0) return intConst(a.c);
  if (a.c != 0) acc = op(ScalarOp::Add, ScalarType::Long, acc, intConst(a.c));
  return acc;
}

}  // namespace kiln::codegen
