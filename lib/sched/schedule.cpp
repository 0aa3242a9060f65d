#include "lib/sched/schedule.h"

#include <absl/container/flat_hash_map.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <cstring>
#include <queue>
#include <stdexcept>

#include "codegen/builder.h"

namespace kiln::sched {
namespace {

using codegen::KernelBuilder;
using codegen::Lin;
using ir::Graph;
using ir::Instr;
using ir::Op;

}  // namespace

uint64_t argValue(const ir::NodeDesc& d, ArgSource::Field field) {
  switch (field) {
    case ArgSource::Field::Seed:
      return d.seed;
    case ArgSource::Field::Offset:
      return static_cast<uint64_t>(d.offset);
    case ArgSource::Field::Value:
      break;
  }
  if (!isFloatingType(d.dtype)) return static_cast<uint64_t>(d.ivalue);
  uint64_t bits;
  std::memcpy(&bits, &d.fvalue, sizeof bits);
  return bits;
}

namespace {

codegen::ReduceKind reduceKind(const ir::NodeDesc& d) {
  using codegen::ReduceKind;
  if (d.op == Op::ArgReduce)
    return d.rop == ir::ReduceOp::Max ? ReduceKind::ArgMax : ReduceKind::ArgMin;
  switch (d.rop) {
    case ir::ReduceOp::Sum:
      return ReduceKind::Sum;
    case ir::ReduceOp::Prod:
      return ReduceKind::Prod;
    case ir::ReduceOp::Max:
      return ReduceKind::Max;
    case ir::ReduceOp::Min:
      return ReduceKind::Min;
  }
  return ReduceKind::Sum;
}

// Lowers one realized instruction to a kernel. Inlined producers are walked with an explicit
// stack (graphs can be deep); realized ones become loads from their slots.
class Lowering {
 public:
  /// `merge` says, per dimension of the index space, whether to fold it into the next one
  /// (one loop over both), as found by mergeableDims() of an earlier lowering.
  Lowering(const Graph& g, const std::vector<bool>& realized, std::vector<int32_t> read_slot,
           const std::vector<Slot>& slots, std::vector<bool> merge = {})
      : g_(g),
        realized_(realized),
        read_slot_(std::move(read_slot)),
        slots_(slots),
        merge_(std::move(merge)) {}

  Step lower(int32_t root, int32_t out_slot, int32_t best_slot) {
    const Instr& in = g_.instrs[root];
    Step step;
    step.instr = root;
    std::vector<Lin> idx;
    if (in.d.op == Op::Reduce || in.d.op == Op::ArgReduce) {
      const Instr& src = g_.instrs[in.operands[0]];
      std::vector<bool> reduced(src.d.shape.size(), false);
      if (in.d.op == Op::ArgReduce) {
        reduced[in.d.ivalue] = true;
      } else {
        for (int64_t a : in.d.ints) reduced[a] = true;
      }
      idx = indexSpace(src.d.shape, reduced);
      std::vector<Lin> out_idx = idx;
      for (size_t d = 0; d < idx.size(); ++d) {
        if (reduced[d]) out_idx[d] = Lin{};
      }
      codegen::Store st;
      st.buffer = bufferFor(out_slot, true);
      st.index = b_.materialize(b_.linear(out_idx, ir::contiguousStrides(in.d.shape), 0));
      store_lin_ = b_.linear(out_idx, ir::contiguousStrides(in.d.shape), 0);
      st.value = value(in.operands[0], idx);
      st.reduce = reduceKind(in.d);
      if (in.d.op == Op::ArgReduce) {
        st.best_buffer = bufferFor(best_slot, true);
        st.position = b_.materialize(idx[in.d.ivalue]);
      }
      b_.store(st);
    } else if (in.d.op == Op::Write) {
      const Instr& val = g_.instrs[in.operands[1]];
      idx = indexSpace(val.d.shape, std::vector<bool>(val.d.shape.size(), false));
      codegen::Store st;
      st.buffer = bufferFor(out_slot, true);
      store_lin_ = b_.linear(idx, in.d.ints, in.d.offset);
      st.index = b_.materialize(store_lin_);
      st.value = value(in.operands[1], idx);
      b_.store(st);
    } else {
      idx = indexSpace(in.d.shape, std::vector<bool>(in.d.shape.size(), false));
      codegen::Store st;
      st.buffer = bufferFor(out_slot, true);
      store_lin_ = b_.linear(idx, ir::contiguousStrides(in.d.shape), 0);
      st.index = b_.materialize(store_lin_);
      st.value = value(root, idx, /*inline_root=*/true);
      b_.store(st);
    }
    out_slot_ = out_slot;
    chooseInnermost();
    mergeable_ = computeMergeableDims();
    step.kernel = b_.take();
    step.slots = kernel_slots_;
    step.args = args_;
    step.arg_sources = sources_;
    return step;
  }

  /// Adjacent dimensions that can run as one loop: every index into memory is affine in the
  /// loop variables, with dimension d's stride equal to d+1's stride times d+1's extent (as for
  /// contiguous and broadcast operands). Valid for a lowering made without merges.
  std::vector<bool> mergeableDims() const { return mergeable_; }

  std::vector<bool> computeMergeableDims() const {
    const codegen::Kernel& k = b_.kernel();
    const size_t n = k.loops.size();
    std::vector<bool> merge(n, n > 1);
    if (n < 2) return merge;
    merge[n - 1] = false;
    std::vector<Lin> lins = index_lins_;
    for (const auto& [buffer, lin] : b_.loads()) lins.push_back(lin);
    lins.push_back(store_lin_);
    for (const Lin& lin : lins) {
      std::vector<int64_t> coef(n, 0);
      for (auto [atom, c] : lin.terms) {
        const codegen::Expr& e = k.exprs[atom];
        if (e.kind != codegen::ExprKind::LoopVar) return std::vector<bool>(n, false);
        coef[e.i] = c;
      }
      for (size_t d = 0; d + 1 < n; ++d) {
        if (coef[d] != coef[d + 1] * k.loops[d + 1].extent) merge[d] = false;
      }
    }
    for (size_t d = 0; d + 1 < n; ++d) {
      if (k.loops[d].reduce != k.loops[d + 1].reduce) merge[d] = false;
    }
    return merge;
  }

  /// Whether the kernel reads its output slot at a position other than the one it writes
  /// (then the old contents must be copied first).
  bool readsOutputElsewhere() const {
    for (const auto& [buffer, lin] : b_.loads()) {
      if (kernel_slots_[buffer] == out_slot_ && !(lin == store_lin_)) return true;
    }
    return false;
  }

 private:
  // One loop per group of merged dimensions; each dimension's index is recovered from its
  // group's variable (the index algebra folds it back to affine form where addresses use it).
  std::vector<Lin> indexSpace(const ir::Shape& shape, const std::vector<bool>& reduced) {
    std::vector<Lin> idx;
    for (size_t d = 0; d < shape.size();) {
      size_t end = d;
      while (end < merge_.size() && merge_[end] && end + 1 < shape.size()) ++end;
      std::vector<int64_t> extents(shape.begin() + d, shape.begin() + end + 1);
      Lin v = b_.var(b_.addLoop(ir::numelOf(extents), reduced[d]));
      for (Lin& part : b_.unravel(v, extents)) idx.push_back(std::move(part));
      d = end + 1;
    }
    return idx;
  }

  int32_t bufferFor(int32_t slot, bool written) {
    for (size_t i = 0; i < kernel_slots_.size(); ++i) {
      if (kernel_slots_[i] == slot) {
        if (written) b_.markWritten(static_cast<int32_t>(i));
        return static_cast<int32_t>(i);
      }
    }
    kernel_slots_.push_back(slot);
    return b_.addBuffer(slots_[slot].dtype, written);
  }

  int32_t argFor(int32_t instr, ArgSource::Field field) {
    int64_t key = int64_t{instr} * 4 + static_cast<int>(field);
    auto it = arg_of_.find(key);
    if (it != arg_of_.end()) return it->second;
    const Instr& in = g_.instrs[instr];
    ScalarType type = field == ArgSource::Field::Value ? in.d.dtype : ScalarType::Long;
    int32_t a = b_.addArg(type);
    args_.push_back(argValue(in.d, field));
    sources_.push_back({field, instr});
    arg_of_.emplace(key, a);
    return a;
  }

  int32_t internIndex(const std::vector<Lin>& idx) {
    for (size_t i = 0; i < indices_.size(); ++i) {
      if (indices_[i] == idx) return static_cast<int32_t>(i);
    }
    indices_.push_back(idx);
    return static_cast<int32_t>(indices_.size() - 1);
  }

  // The index at which operand `k` of `instr` is read when `instr` is evaluated at `idx`.
  std::vector<Lin> operandIndex(const Instr& in, const std::vector<Lin>& idx) {
    if (in.d.op != Op::Strided) return idx;
    const Instr& src = g_.instrs[in.operands[0]];
    Lin flat = b_.linear(idx, in.d.ints, in.d.offset);
    return b_.unravel(flat, src.d.shape);
  }

  int32_t value(int32_t root, const std::vector<Lin>& root_idx, bool inline_root = false) {
    struct Task {
      int32_t instr;
      int32_t index;
    };
    std::vector<Task> stack{{root, internIndex(root_idx)}};
    auto key = [](int32_t instr, int32_t index) {
      return (int64_t{instr} << 32) | uint32_t(index);
    };
    auto isLeaf = [&](int32_t instr) {
      return realized_[instr] && !(inline_root && instr == root);
    };
    while (!stack.empty()) {
      Task t = stack.back();
      if (memo_.contains(key(t.instr, t.index))) {
        stack.pop_back();
        continue;
      }
      const Instr& in = g_.instrs[t.instr];
      const std::vector<Lin> idx = indices_[t.index];
      int32_t result = -1;
      if (isLeaf(t.instr)) {
        int32_t buf = bufferFor(read_slot_[t.instr], false);
        result = b_.load(buf, b_.linear(idx, ir::contiguousStrides(in.d.shape), 0));
      } else if (in.d.op == Op::Const) {
        result = b_.arg(argFor(t.instr, ArgSource::Field::Value));
      } else if (in.d.op == Op::Iota) {
        int32_t i = b_.materialize(idx[in.d.ivalue]);
        result = in.d.dtype == ScalarType::Long ? i : b_.op(codegen::ScalarOp::Cast, in.d.dtype, i);
      } else if (in.d.op == Op::Rand || in.d.op == Op::Randn) {
        Lin flat_lin = b_.linear(idx, ir::contiguousStrides(in.d.shape), 0);
        index_lins_.push_back(flat_lin);
        int32_t flat = b_.materialize(flat_lin);
        int32_t counter = b_.op(codegen::ScalarOp::Add, ScalarType::Long, flat,
                                b_.arg(argFor(t.instr, ArgSource::Field::Offset)));
        int32_t key_arg = b_.arg(argFor(t.instr, ArgSource::Field::Seed));
        result = in.d.op == Op::Rand ? b_.randUniform(in.d.dtype, counter, key_arg)
                                     : b_.randNormal(in.d.dtype, counter, key_arg);
      } else {
        std::vector<Lin> child_idx = operandIndex(in, idx);
        int32_t child_index = internIndex(child_idx);
        bool missing = false;
        for (int32_t operand : in.operands) {
          if (!memo_.contains(key(operand, child_index))) {
            stack.push_back({operand, child_index});
            missing = true;
          }
        }
        if (missing) continue;
        std::vector<int32_t> ops;
        for (int32_t operand : in.operands) ops.push_back(memo_.at(key(operand, child_index)));
        if (in.d.op == Op::Strided) {
          result = ops[0];
        } else if (in.d.op == Op::Elementwise) {
          ScalarType t = ir::resultType(in.d.sop, in.d.dtype);
          result = b_.op(in.d.sop, t, ops[0], ops.size() > 1 ? ops[1] : -1,
                         ops.size() > 2 ? ops[2] : -1);
        } else {
          throw std::logic_error(absl::StrCat("scheduler: cannot inline ", ir::mnemonic(in.d)));
        }
      }
      memo_.emplace(key(t.instr, t.index), result);
      stack.pop_back();
    }
    return memo_.at(key(root, internIndex(root_idx)));
  }

  // Put innermost the loop along which memory accesses are cheapest: unit stride best, then
  // invariant (a register), strided worst. This makes matmul's inner loop run along the columns
  // of both its right operand and its output, and keeps row reductions contiguous.
  void chooseInnermost() {
    const codegen::Kernel& k = b_.kernel();
    if (k.loops.size() < 2) return;
    std::vector<int> score(k.loops.size(), 0);
    auto count = [&](const Lin& lin) {
      std::vector<int64_t> coef(k.loops.size(), 0);
      for (auto [atom, c] : lin.terms) {
        const codegen::Expr& e = k.exprs[atom];
        if (e.kind == codegen::ExprKind::LoopVar) coef[e.i] = c;
      }
      for (size_t l = 0; l < coef.size(); ++l) score[l] += coef[l] == 1 ? 2 : coef[l] == 0 ? 1 : 0;
    };
    for (const auto& [buffer, lin] : b_.loads()) count(lin);
    count(store_lin_);
    std::vector<int32_t> order = k.order;
    int32_t inner = order.back();
    int32_t best = inner;
    for (int32_t l : order) {
      if (score[l] > score[best] && k.loops[l].extent > 1) best = l;
    }
    if (best == inner) return;
    order.erase(std::find(order.begin(), order.end(), best));
    order.push_back(best);
    b_.setOrder(order);
  }

  const Graph& g_;
  const std::vector<bool>& realized_;
  std::vector<int32_t> read_slot_;
  const std::vector<Slot>& slots_;
  KernelBuilder b_;
  std::vector<int32_t> kernel_slots_;
  std::vector<uint64_t> args_;
  std::vector<ArgSource> sources_;
  absl::flat_hash_map<int64_t, int32_t> arg_of_;
  std::vector<std::vector<Lin>> indices_;
  absl::flat_hash_map<int64_t, int32_t> memo_;
  Lin store_lin_;
  std::vector<Lin> index_lins_;  // random-number counters
  std::vector<bool> merge_;
  std::vector<bool> mergeable_;
  int32_t out_slot_ = -1;
};

}  // namespace

Schedule schedule(const Graph& g) {
  const int32_t n = static_cast<int32_t>(g.instrs.size());
  Schedule s;
  std::vector<int32_t> uses(n, 0);
  for (const Instr& in : g.instrs) {
    for (int32_t o : in.operands) ++uses[o];
  }
  std::vector<bool> realized(n, false);
  std::vector<std::string> reason(n);
  auto realize = [&](int32_t i, std::string why) {
    if (!realized[i]) reason[i] = std::move(why);
    realized[i] = true;
  };
  for (int32_t i = 0; i < n; ++i) {
    const Instr& in = g.instrs[i];
    if (in.d.op == Op::Param) realize(i, "input buffer");
    if (in.d.op == Op::Reduce || in.d.op == Op::ArgReduce) realize(i, "reduction");
    if (in.d.op == Op::Write) {
      realize(i, "write into part of a storage");
      realize(in.operands[0], "base of a partial write");
    }
  }
  for (const ir::Output& o : g.outputs) realize(o.value, "requested output");
  // Inside a reduction, a computed value read through a broadcast would be recomputed for
  // every broadcast position (matmul's operands are read N times): compute it once instead.
  constexpr int64_t kRecomputeLimit = 16;
  for (int32_t i = 0; i < n; ++i) {
    const Instr& in = g.instrs[i];
    if (in.d.op != Op::Reduce && in.d.op != Op::ArgReduce) continue;
    std::vector<int32_t> stack{in.operands[0]};
    std::vector<bool> seen(n, false);
    while (!stack.empty()) {
      int32_t j = stack.back();
      stack.pop_back();
      if (seen[j] || realized[j]) continue;
      seen[j] = true;
      const Instr& x = g.instrs[j];
      if (x.d.op == Op::Strided) {
        // The computed value under this view, through any further views.
        int32_t src = x.operands[0];
        while (g.instrs[src].d.op == Op::Strided && !realized[src]) src = g.instrs[src].operands[0];
        int64_t factor = 1;
        for (size_t k = 0; k < x.d.shape.size(); ++k) {
          if (x.d.ints[k] == 0) factor *= x.d.shape[k];
        }
        if (factor >= kRecomputeLimit && !realized[src] && g.instrs[src].d.op == Op::Elementwise) {
          realize(src, "read many times through a broadcast by a reduction");
          continue;
        }
      }
      for (int32_t o : x.operands) stack.push_back(o);
    }
  }

  // Slots: params first, then where each realized value should land. A write chain ending in
  // an in-place output updates the param's buffer itself.
  std::vector<int32_t> param_slot(g.paramCount(), -1);
  for (int32_t i = 0; i < n; ++i) {
    const Instr& in = g.instrs[i];
    if (in.d.op != Op::Param) continue;
    param_slot[in.d.ivalue] = static_cast<int32_t>(s.slots.size());
    s.slots.push_back({in.d.dtype, in.d.numel(), static_cast<int32_t>(in.d.ivalue)});
  }
  std::vector<int32_t> desired(n, -1);
  for (const ir::Output& o : g.outputs) {
    if (o.dest_param >= 0 && g.instrs[o.value].d.op != Op::Param)
      desired[o.value] = param_slot[o.dest_param];
  }
  for (int32_t i = n - 1; i >= 0; --i) {
    const Instr& in = g.instrs[i];
    if (in.d.op != Op::Write || desired[i] < 0) continue;
    int32_t base = in.operands[0];
    const Instr& b = g.instrs[base];
    if (b.d.op == Op::Param) continue;
    if (uses[base] == 1) desired[base] = desired[i];
  }
  std::vector<int32_t> slot(n, -1);
  for (int32_t i = 0; i < n; ++i) {
    const Instr& in = g.instrs[i];
    if (!realized[i]) continue;
    if (in.d.op == Op::Param) {
      slot[i] = param_slot[in.d.ivalue];
    } else if (desired[i] >= 0) {
      slot[i] = desired[i];
    } else if (in.d.op == Op::Write && uses[in.operands[0]] == 1 &&
               g.instrs[in.operands[0]].d.op != Op::Param) {
      slot[i] = slot[in.operands[0]];
    } else {
      slot[i] = static_cast<int32_t>(s.slots.size());
      s.slots.push_back({in.d.dtype, in.d.numel(), -1});
    }
  }

  // Dependencies between realized instructions, through inlined ones.
  std::vector<std::vector<int32_t>> deps(n);
  std::vector<std::vector<int32_t>> param_reads(n);  // params each kernel reads, through inlining
  for (int32_t i = 0; i < n; ++i) {
    if (!realized[i] || g.instrs[i].d.op == Op::Param) continue;
    std::vector<int32_t> stack(g.instrs[i].operands.begin(), g.instrs[i].operands.end());
    std::vector<bool> seen(n, false);
    while (!stack.empty()) {
      int32_t j = stack.back();
      stack.pop_back();
      if (seen[j]) continue;
      seen[j] = true;
      if (realized[j]) {
        (g.instrs[j].d.op == Op::Param ? param_reads[i] : deps[i]).push_back(j);
        continue;
      }
      for (int32_t o : g.instrs[j].operands) stack.push_back(o);
    }
  }
  // Order: dependencies first; updates of params' buffers as late as possible, so that readers
  // of the old contents run before them.
  auto writesParam = [&](int32_t i) { return s.slots[slot[i]].param >= 0; };
  std::vector<int32_t> pending(n, 0);
  std::vector<std::vector<int32_t>> users(n);
  for (int32_t i = 0; i < n; ++i) {
    for (int32_t d : deps[i]) {
      ++pending[i];
      users[d].push_back(i);
    }
  }
  auto later = [&](int32_t a, int32_t b) {
    return std::make_pair(writesParam(a), a) > std::make_pair(writesParam(b), b);
  };
  std::priority_queue<int32_t, std::vector<int32_t>, decltype(later)> ready(later);
  for (int32_t i = 0; i < n; ++i) {
    if (realized[i] && g.instrs[i].d.op != Op::Param && pending[i] == 0) ready.push(i);
  }
  std::vector<int32_t> order;
  while (!ready.empty()) {
    int32_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int32_t u : users[i]) {
      if (--pending[u] == 0) ready.push(u);
    }
  }

  // Lower in order. A param read after its buffer was overwritten reads a snapshot taken at the
  // start; a kernel that reads its own output slot elsewhere than it writes gets a copy first.
  std::vector<bool> slot_written(s.slots.size(), false);
  std::vector<int32_t> snapshot(s.slots.size(), -1);
  std::vector<Step> snapshots, steps;
  auto newSlotLike = [&](int32_t src) {
    Slot copy = s.slots[src];
    copy.param = -1;
    s.slots.push_back(copy);
    slot_written.push_back(false);
    snapshot.push_back(-1);
    return static_cast<int32_t>(s.slots.size() - 1);
  };
  for (int32_t i : order) {
    const Instr& in = g.instrs[i];
    if (in.d.numel() == 0) continue;
    int32_t out = slot[i];
    if (in.d.op == Op::Write) {
      int32_t base_slot = slot[in.operands[0]];
      if (base_slot != out) {
        Step copy;
        copy.kind = Step::Kind::Copy;
        copy.slots = {base_slot, out};
        copy.instr = i;
        copy.reason = "a partial write needs its own copy of the base";
        steps.push_back(std::move(copy));
        slot_written[out] = true;
      }
    }
    if (g.instrs[i].d.op == Op::Param) continue;
    int32_t best = -1;
    if (in.d.op == Op::ArgReduce) {
      const Instr& src = g.instrs[in.operands[0]];
      best = static_cast<int32_t>(s.slots.size());
      s.slots.push_back({src.d.dtype, in.d.numel(), -1});
      slot_written.push_back(false);
      snapshot.push_back(-1);
    }
    std::vector<int32_t> read_slot = slot;
    for (int32_t j : param_reads[i]) {
      if (!slot_written[slot[j]]) continue;
      int32_t p = slot[j];
      if (snapshot[p] < 0) {
        snapshot[p] = newSlotLike(p);
        Step copy;
        copy.kind = Step::Kind::Copy;
        copy.slots = {p, snapshot[p]};
        copy.reason = "snapshot of an input that is overwritten in place while still read";
        snapshots.push_back(std::move(copy));
      }
      read_slot[j] = snapshot[p];
    }
    // Lower once plainly (to find aliasing hazards and mergeable loops), then again with the
    // loops merged.
    auto lowerStep = [&](const std::vector<int32_t>& reads, bool* hazard) {
      Lowering first(g, realized, reads, s.slots);
      Step st = first.lower(i, out, best);
      *hazard = first.readsOutputElsewhere();
      std::vector<bool> merge = first.mergeableDims();
      if (std::find(merge.begin(), merge.end(), true) == merge.end()) return st;
      return Lowering(g, realized, reads, s.slots, merge).lower(i, out, best);
    };
    bool hazard = false;
    Step step = lowerStep(read_slot, &hazard);
    if (hazard) {
      int32_t tmp = newSlotLike(out);
      Step copy;
      copy.kind = Step::Kind::Copy;
      copy.slots = {out, tmp};
      copy.instr = i;
      copy.reason = "the kernel reads the memory it overwrites at other positions";
      steps.push_back(std::move(copy));
      for (int32_t j = 0; j < n; ++j) {
        if (read_slot[j] == out) read_slot[j] = tmp;
      }
      step = lowerStep(read_slot, &hazard);
    }
    step.reason = reason[i];
    steps.push_back(std::move(step));
    slot_written[out] = true;
  }
  s.steps = std::move(snapshots);
  for (Step& st : steps) s.steps.push_back(std::move(st));

  // A slot's final value belongs to the last instruction that wrote it.
  s.value_slot.assign(n, -1);
  std::vector<int32_t> last_writer(s.slots.size(), -1);
  for (int32_t i : order) last_writer[slot[i]] = i;
  for (int32_t i = 0; i < n; ++i) {
    if (slot[i] >= 0 && g.instrs[i].d.op != Op::Param && last_writer[slot[i]] == i)
      s.value_slot[i] = slot[i];
  }
  for (const ir::Output& o : g.outputs) {
    int32_t v = o.value;
    if (g.instrs[v].d.op == Op::Param && o.dest_param != g.instrs[v].d.ivalue) {
      int32_t dst = o.dest_param >= 0 ? param_slot[o.dest_param] : -1;
      if (dst < 0) {
        dst = static_cast<int32_t>(s.slots.size());
        s.slots.push_back({g.instrs[v].d.dtype, g.instrs[v].d.numel(), -1});
      }
      Step copy;
      copy.kind = Step::Kind::Copy;
      copy.slots = {slot[v], dst};
      copy.instr = v;
      copy.reason = "requested output is an input buffer";
      // The param's old contents: copy them before anything overwrites that buffer.
      s.steps.insert(s.steps.begin(), std::move(copy));
      s.output_slots.push_back(dst);
    } else {
      s.output_slots.push_back(slot[v]);
    }
  }
  return s;
}

std::string Schedule::text() const {
  std::string out;
  for (size_t i = 0; i < slots.size(); ++i) {
    absl::StrAppend(&out, "slot ", i, ": ", std::string(irName(slots[i].dtype)), "[",
                    slots[i].numel, "]",
                    slots[i].param >= 0 ? absl::StrCat(" = param ", slots[i].param) : "", "\n");
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& st = steps[i];
    if (st.kind == Step::Kind::Copy) {
      absl::StrAppend(&out, "step ", i, ": copy slot ", st.slots[0], " -> slot ", st.slots[1],
                      "  # ", st.reason, "\n");
      continue;
    }
    absl::StrAppend(&out, "step ", i, ": kernel for %", st.instr, " slots [",
                    absl::StrJoin(st.slots, ", "), "]  # ", st.reason, "\n", st.kernel.text());
  }
  return out;
}

}  // namespace kiln::sched
