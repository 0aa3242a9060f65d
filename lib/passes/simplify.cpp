#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#include "lib/interp/reference.h"
#include "lib/passes/passes.h"

namespace kiln::passes {
namespace {

using ir::Graph;
using ir::Instr;
using ir::Op;

bool isConstValue(const Instr& in, double v) {
  if (in.d.op != Op::Const) return false;
  return isFloatingType(in.d.dtype) ? in.d.fvalue == v : in.d.ivalue == static_cast<int64_t>(v);
}

double constValue(const Instr& in) {
  return isFloatingType(in.d.dtype) ? in.d.fvalue : static_cast<double>(in.d.ivalue);
}

bool isIdentityView(const Instr& view, const Instr& src) {
  return view.d.shape == src.d.shape && view.d.offset == 0 &&
         view.d.ints == ir::contiguousStrides(view.d.shape);
}

struct Rewriter {
  const Graph& in;
  Graph out;
  std::vector<int32_t> origin;
  absl::flat_hash_map<size_t, std::vector<int32_t>> cse;

  int32_t emit(Instr instr, int32_t from) {
    size_t h = absl::HashOf(ir::hashDesc(instr.d), instr.operands);
    if (instr.d.op != Op::Param) {
      for (int32_t cand : cse[h]) {
        if (out.instrs[cand].d == instr.d && out.instrs[cand].operands == instr.operands)
          return cand;
      }
    }
    int32_t id = out.add(std::move(instr.d), std::move(instr.operands));
    origin.push_back(from);
    cse[h].push_back(id);
    return id;
  }

  // The value that a chain of plain reshapes (offset-0 contiguous views of as many elements)
  // ends at. A partial write reads its base as a flat array, so it may update that value
  // directly: an in-place update of part of a param then writes into the param's buffer, where
  // its reshaped view would have been copied out and back.
  int32_t reshapeSource(int32_t i) const {
    for (;;) {
      const Instr& v = out.instrs[i];
      if (v.d.op != Op::Strided || v.d.offset != 0 ||
          v.d.ints != ir::contiguousStrides(v.d.shape) ||
          v.d.numel() != out.instrs[v.operands[0]].d.numel()) {
        return i;
      }
      i = v.operands[0];
    }
  }

  // Returns an existing instruction equivalent to `instr`, or -1.
  int32_t algebra(const Instr& instr) {
    const auto& ops = instr.operands;
    if (instr.d.op == Op::Strided) {
      const Instr& src = out.instrs[ops[0]];
      if (isIdentityView(instr, src)) return ops[0];
      return -1;
    }
    if (instr.d.op == Op::Write) {
      // Writing a constant into a constant of the same value changes nothing (the zero
      // gradient that an overwritten view's old value gets, written into a zero gradient).
      const Instr& base = out.instrs[ops[0]];
      const Instr& value = out.instrs[ops[1]];
      if (base.d.op == Op::Const && value.d.op == Op::Const && base.d.dtype == value.d.dtype &&
          constValue(base) == constValue(value)) {
        return ops[0];
      }
      return -1;
    }
    if (instr.d.op != Op::Elementwise) return -1;
    auto same = [&](int32_t k) {
      const Instr& x = out.instrs[ops[k]];
      return x.d.dtype == instr.d.dtype && x.d.shape == instr.d.shape;
    };
    switch (instr.d.sop) {
      case ScalarOp::Add:
        if (isConstValue(out.instrs[ops[1]], 0) && same(0)) return ops[0];
        if (isConstValue(out.instrs[ops[0]], 0) && same(1)) return ops[1];
        break;
      case ScalarOp::Sub:
        if (isConstValue(out.instrs[ops[1]], 0) && same(0)) return ops[0];
        break;
      case ScalarOp::Mul:
        if (isConstValue(out.instrs[ops[1]], 1) && same(0)) return ops[0];
        if (isConstValue(out.instrs[ops[0]], 1) && same(1)) return ops[1];
        break;
      case ScalarOp::Div:
        if (isConstValue(out.instrs[ops[1]], 1) && same(0)) return ops[0];
        break;
      case ScalarOp::Cast:
        if (same(0)) return ops[0];
        break;
      case ScalarOp::Neg: {
        const Instr& x = out.instrs[ops[0]];
        if (x.d.op == Op::Elementwise && x.d.sop == ScalarOp::Neg) return x.operands[0];
        break;
      }
      default:
        break;
    }
    return -1;
  }

  // Folds elementwise ops of constants, and views of constants, into constants.
  bool fold(Instr& instr) {
    if (instr.d.op == Op::Strided && out.instrs[instr.operands[0]].d.op == Op::Const) {
      const ir::NodeDesc& c = out.instrs[instr.operands[0]].d;
      instr.d.op = Op::Const;
      instr.d.fvalue = c.fvalue;
      instr.d.ivalue = c.ivalue;
      instr.d.offset = 0;
      instr.d.ints.clear();
      instr.operands.clear();
      return true;
    }
    if (instr.d.op != Op::Elementwise) return false;
    for (int32_t k : instr.operands) {
      if (out.instrs[k].d.op != Op::Const) return false;
    }
    auto operandAt = [&](size_t k) -> const ir::NodeDesc* {
      return k < instr.operands.size() ? &out.instrs[instr.operands[k]].d : nullptr;
    };
    ScalarType operand = operandAt(instr.d.sop == ScalarOp::Where ? 1 : 0)->dtype;
    const ScalarType result = instr.d.dtype;
    // Integers fold exactly (a double holds them only up to 2^53); the rest in double.
    if (!isFloatingType(operand) && !isFloatingType(result)) {
      int64_t v[3] = {0, 0, 0};
      for (size_t k = 0; k < 3; ++k) v[k] = operandAt(k) ? operandAt(k)->ivalue : 0;
      instr.d.ivalue = interp::evalScalarExact(instr.d.sop, result, operand, v[0], v[1], v[2]);
      instr.d.fvalue = 0;
    } else {
      double v[3] = {0, 0, 0};
      for (size_t k = 0; k < instr.operands.size(); ++k)
        v[k] = constValue(out.instrs[instr.operands[k]]);
      double r = interp::evalScalar(instr.d.sop, result, operand, v[0], v[1], v[2]);
      instr.d.fvalue = isFloatingType(result) ? r : 0;
      instr.d.ivalue = isFloatingType(result) ? 0 : static_cast<int64_t>(r);
    }
    instr.d.op = Op::Const;
    instr.operands.clear();
    return true;
  }
};

}  // namespace

Simplified simplify(const Graph& g) {
  Rewriter rw{g, {}, {}, {}};
  std::vector<int32_t> map(g.instrs.size(), -1);
  for (size_t i = 0; i < g.instrs.size(); ++i) {
    Instr instr = g.instrs[i];
    for (int32_t& o : instr.operands) o = map[o];
    if (ir::writesIntoBase(instr.d.op)) instr.operands[0] = rw.reshapeSource(instr.operands[0]);
    int32_t same = rw.algebra(instr);
    if (same >= 0) {
      map[i] = same;
      continue;
    }
    rw.fold(instr);
    map[i] = rw.emit(std::move(instr), static_cast<int32_t>(i));
  }
  // Dead-code elimination: keep what the outputs reach, and every param.
  Graph& mid = rw.out;
  std::vector<bool> live(mid.instrs.size(), false);
  std::vector<int32_t> stack;
  for (const ir::Output& o : g.outputs) stack.push_back(map[o.value]);
  while (!stack.empty()) {
    int32_t i = stack.back();
    stack.pop_back();
    if (live[i]) continue;
    live[i] = true;
    for (int32_t o : mid.instrs[i].operands) stack.push_back(o);
  }
  Simplified result;
  std::vector<int32_t> renumber(mid.instrs.size(), -1);
  for (size_t i = 0; i < mid.instrs.size(); ++i) {
    if (!live[i] && mid.instrs[i].d.op != Op::Param) continue;
    Instr instr = mid.instrs[i];
    for (int32_t& o : instr.operands) o = renumber[o];
    renumber[i] = result.graph.add(std::move(instr.d), std::move(instr.operands));
    result.origin.push_back(rw.origin[i]);
  }
  for (const ir::Output& o : g.outputs)
    result.graph.outputs.push_back({renumber[map[o.value]], o.dest_param});
  return result;
}

}  // namespace kiln::passes
