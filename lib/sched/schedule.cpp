// The scheduler (see schedule.h): which values are realized, their slots, the order of the
// steps, and the lowering of each realized value to a kernel, with the copies in-place updates
// need.
#include "lib/sched/schedule.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <cstring>
#include <queue>
#include <stdexcept>

#include "codegen/builder.h"
#include "lib/core/checked.h"
#include "lib/core/scalar_type.h"

namespace kiln::sched {
namespace {

using codegen::KernelBuilder;
using codegen::Lin;
using ir::Graph;
using ir::Instr;
using ir::Op;

}  // namespace

uint64_t argValue(const ir::NodeDesc& d, const ArgSource& source) {
  switch (source.field) {
    case ArgSource::Field::Seed:
      return d.seed;
    case ArgSource::Field::Offset:
      return static_cast<uint64_t>(d.offset);
    case ArgSource::Field::ViewOffset:
      return static_cast<uint64_t>(d.offset / source.unit);
    case ArgSource::Field::Fixed:
      throw std::logic_error("scheduler: a fixed argument is read from its step");
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

// Thrown by a lowering that meets a row reduction it cannot compute as a phase of its kernel
// (codegen/kernel.h): the scheduler realizes that reduction and schedules again.
struct NotAPhase {
  int32_t instr;
};

// Thrown by a lowering of several values into one kernel (kernelGroups) that finds one of them
// cannot join the others there: the scheduler lowers that value by itself and schedules again.
struct NotGrouped {
  int32_t instr;
};

}  // namespace

// A matrix product's operands are best in memory, and it is best computed by a product routine
// (a library gemm on the CPU): it is a phase only of a kernel whose stores are its epilogue
// (productEpilogue), and otherwise a kernel of its own.
bool matrixProduct(const Graph& g, const Instr& in) {
  if (in.d.op != Op::Reduce || in.d.rop != ir::ReduceOp::Sum) return false;
  const Instr& term = g.instrs[in.operands[0]];
  if (term.d.op != Op::Elementwise || term.d.sop != ScalarOp::Mul) return false;
  for (int32_t operand : term.operands) {
    const Instr& v = g.instrs[operand];
    bool broadcast = false;
    for (size_t d = 0; v.d.op == Op::Strided && d < v.d.shape.size(); ++d) {
      broadcast = broadcast || (v.d.ints[d] == 0 && v.d.shape[d] > 1);
    }
    if (!broadcast) return false;
  }
  return true;
}

namespace {

// A reduction over trailing dimensions, with at least one dimension kept: its reader may compute
// it per row as a phase (softmax's max and sum, layernorm's mean and variance), when the reader
// runs over those rows as its outer loops.
bool rowReduction(const Graph& g, const Instr& in) {
  if (in.d.op != Op::Reduce) return false;
  const size_t rank = g.instrs[in.operands[0]].d.shape.size();
  std::vector<bool> reduced(rank, false);
  for (int64_t a : in.d.ints) reduced[a] = true;
  size_t first = rank;
  while (first > 0 && reduced[first - 1]) --first;
  return first >= 1 && first < rank && in.d.ints.size() == rank - first;
}

ir::Shape withoutUnitDims(const ir::Shape& shape) {
  ir::Shape out;
  for (int64_t e : shape) {
    if (e != 1) out.push_back(e);
  }
  return out;
}

// ---- long reductions in blocks ----
//
// A reduction whose (merged) index space has one Reduction loop, of at least kSplitMin terms and
// with no Parallel loop inside it (splitTerms), runs in two stages: stage 1 reduces each block of
// kReduceBlock consecutive terms into a partial result of its own (the blocks are a new Parallel
// loop, so the thread pool can split a single long sum), and stage 2 combines each output's
// partials. A float32 sum then adds short runs (accurate, as PyTorch's cascade sum), and the block
// loads stay affine in the loop variables (block * kReduceBlock + term), so the inner loop still
// vectorises. The cut depends on shapes only, so the order of combination, hence every bit of the
// result, is the same on any number of threads.
//
// The block size balances the two stages' chains of additions (the CPU backend vectorises a sum
// into 32 running sums: each adds kReduceBlock / 32 terms in stage 1, and a 32nd of the blocks in
// stage 2). Summing 10^7 float(0.1) was off by 10, 2.5, 0.42, 4.3 and 16 with blocks of 256,
// 1024, 4096, 16384 and 65536 terms (PyTorch: 0.57; unsplit: 2700), while the time stayed that
// of the unsplit kernel (memory bound) from 1024 to 65536.
constexpr int64_t kReduceBlock = 4096;
constexpr int64_t kSplitMin = 2 * kReduceBlock;

/// Which part of a split reduction a lowering computes: the whole reduction (no split), the full
/// blocks, or the last, shorter block. Stage 1 stores output o's partials in row o of
/// partials[outputs, columns]: full block k in column blocks-1-k, the tail in the last column.
/// The full blocks go backwards so that the block loop's store never has unit stride: a backend
/// may otherwise take the block loop for the one to vectorise and nest it inside the terms,
/// adding each block's terms one after another (the CPU's loop order,
/// codegen/llvm/cpu_schedule.h, does so when no load walks the terms, as in a sum of a
/// broadcast constant), which loses the accuracy that the blocks are for.
struct ReducePart {
  enum class Kind : uint8_t { Whole, Blocks, Tail } kind = Kind::Whole;
  int64_t blocks = 0;   // full blocks of kReduceBlock terms
  int64_t columns = 0;  // partials per output: the full blocks, and one for a tail
};

// Lowers one realized instruction to a kernel. Inlined producers are walked with an explicit
// stack (graphs can be deep); realized ones become loads from their slots.
class Lowering {
 public:
  /// `merge` says, per dimension of the index space, whether to fold it into the next one
  /// (one loop over both), as found by mergeableDims() of an earlier lowering.
  /// `part` says which part of a long reduction to compute; its partials go to `out_slot`.
  Lowering(const Graph& g, const std::vector<bool>& realized, std::vector<int32_t> read_slot,
           const std::vector<Slot>& slots, std::vector<bool> merge = {}, ReducePart part = {})
      : g_(g),
        realized_(realized),
        read_slot_(std::move(read_slot)),
        slots_(slots),
        merge_(std::move(merge)),
        part_(part) {}

  /// Lowers `roots` (one value, or a group of values over one index space: kernelGroups) to
  /// one kernel with a store per root, into `out_slots`; `best_slot` takes an arg reduction's
  /// running best values (a group of one).
  Step lower(const std::vector<int32_t>& roots, const std::vector<int32_t>& out_slots,
             int32_t best_slot) {
    const Instr& first = g_.instrs[roots[0]];
    Step step;
    step.instr = roots[0];
    group_ = roots;
    const bool reducing = (first.d.op == Op::Reduce || first.d.op == Op::ArgReduce) &&
                          !(roots.size() > 1 && matrixProduct(g_, first));
    root_reduces_ = reducing;
    std::vector<Lin> idx;
    for (size_t r = 0; r < roots.size(); ++r) {
      current_root_ = roots[r];
      try {
        if (reducing) {
          lowerReduction(roots[r], out_slots[r], best_slot, idx);
        } else if (first.d.op == Op::Write) {
          lowerWrite(roots[r], out_slots[r], idx);
        } else if (first.d.op == Op::Scatter || first.d.op == Op::ScatterAdd) {
          lowerScatter(roots[r], out_slots[r], idx);
        } else {
          lowerPlain(roots[r], out_slots[r], idx);
        }
      } catch (const NotAPhase&) {
        // The group's loops or phases do not suit this value: it gets a kernel of its own (and
        // a group whose first value fails loses a value, so that every retry makes progress).
        if (roots.size() == 1) throw;
        throw NotGrouped{roots[r == 0 ? 1 : r]};
      }
    }
    // A reducing kernel's phases serve one reduction (codegen/kernel.h).
    if (reducing && roots.size() > 1 && !b_.kernel().phases.empty()) throw NotGrouped{roots[1]};
    out_slots_ = out_slots;
    reduces_ = reducing;
    mergeable_ = computeMergeableDims();
    makeExtentsArguments();
    step.kernel = b_.take();
    step.slots = kernel_slots_;
    step.args = args_;
    step.arg_sources = sources_;
    return step;
  }

  // The index space of a group's first value, which the others share.
  void sharedIndexSpace(const ir::Shape& shape, const std::vector<bool>& reduced,
                        std::vector<Lin>& idx) {
    if (current_root_ != group_[0]) return;
    idx = indexSpace(shape, reduced);
    root_loops_ = static_cast<int32_t>(b_.kernel().loops.size());
  }

  void lowerReduction(int32_t root, int32_t out_slot, int32_t best_slot, std::vector<Lin>& idx) {
    const Instr& in = g_.instrs[root];
    const Instr& src = g_.instrs[in.operands[0]];
    std::vector<bool> reduced(src.d.shape.size(), false);
    if (in.d.op == Op::ArgReduce) {
      reduced[in.d.ivalue] = true;
    } else {
      for (int64_t a : in.d.ints) reduced[a] = true;
    }
    sharedIndexSpace(src.d.shape, reduced, idx);
    std::vector<Lin> out_idx = idx;
    for (size_t d = 0; d < idx.size(); ++d) {
      if (reduced[d]) out_idx[d] = Lin{};
    }
    codegen::Store st;
    st.buffer = bufferFor(out_slot, true);
    Lin lin = b_.linear(out_idx, ir::contiguousStrides(in.d.shape), 0);
    if (part_.kind != ReducePart::Kind::Whole) lin = b_.add(b_.scale(lin, part_.columns), column_);
    st.index = b_.materialize(lin);
    store_lins_.emplace_back(out_slot, lin);
    st.value = value(in.operands[0], idx);
    st.reduce = reduceKind(in.d);
    if (in.d.op == Op::ArgReduce) {
      st.best_buffer = bufferFor(best_slot, true);
      st.position = b_.materialize(idx[in.d.ivalue]);
    }
    b_.store(st);
  }

  void lowerWrite(int32_t root, int32_t out_slot, std::vector<Lin>& idx) {
    const Instr& in = g_.instrs[root];
    const Instr& val = g_.instrs[in.operands[1]];
    sharedIndexSpace(val.d.shape, std::vector<bool>(val.d.shape.size(), false), idx);
    codegen::Store st;
    st.buffer = bufferFor(out_slot, true);
    const Lin lin = b_.add(b_.linear(idx, in.d.ints, 0), offsetLin(root, 1));
    st.index = b_.materialize(lin);
    store_lins_.emplace_back(out_slot, lin);
    st.value = value(in.operands[1], idx);
    b_.store(st);
  }

  // The points of the index's shape each store their value at the position the index gives
  // along the axis (codegen/kernel.h: scattering stores).
  void lowerScatter(int32_t root, int32_t out_slot, std::vector<Lin>& idx) {
    const Instr& in = g_.instrs[root];
    const Instr& val = g_.instrs[in.operands[2]];
    sharedIndexSpace(val.d.shape, std::vector<bool>(val.d.shape.size(), false), idx);
    codegen::Store st;
    st.buffer = bufferFor(out_slot, true);
    std::vector<Lin> pos = idx;
    pos[in.d.ivalue] = indexAlong(value(in.operands[1], idx), in.d.ints.back());
    const std::vector<int64_t> strides(in.d.ints.begin(), in.d.ints.end() - 1);
    const Lin lin = b_.add(b_.linear(pos, strides, 0), offsetLin(root, 1));
    st.index = b_.materialize(lin);
    store_lins_.emplace_back(out_slot, lin);
    st.value = value(in.operands[2], idx);
    st.scatter = in.d.op == Op::Scatter ? codegen::ScatterKind::Assign : codegen::ScatterKind::Add;
    st.distinct_in_last_loop = distinctInLastLoop(lin);
    b_.store(st);
  }

  // Whether the position `lin` moves with the index space's last loop while nothing else in it
  // does: points that differ only in that loop then store distinct elements.
  bool distinctInLastLoop(const Lin& lin) const {
    const int32_t last = static_cast<int32_t>(b_.kernel().loops.size()) - 1;
    if (last < 0) return false;
    bool moves = false;
    for (auto [atom, c] : lin.terms) {
      const codegen::Expr& e = b_.kernel().exprs[atom];
      if (e.kind == codegen::ExprKind::LoopVar && e.i == last) {
        moves = c != 0;
      } else if (b_.loopsOf(atom)[last]) {
        return false;
      }
    }
    return moves;
  }

  // A gathered or scattered position along an axis of `extent`: the index value `index` (an
  // expression of an integral type), clamped into the axis so that no data reaches outside a
  // buffer (the front end refuses such an index first), as an atom of the index algebra.
  Lin indexAlong(int32_t index, int64_t extent) {
    int32_t i = index;
    if (b_.kernel().exprs[i].type != ScalarType::Long)
      i = b_.op(codegen::ScalarOp::Cast, ScalarType::Long, i);
    const int64_t last = std::max<int64_t>(extent - 1, 0);
    i = b_.op(codegen::ScalarOp::Maximum, ScalarType::Long, i, b_.intConst(0));
    i = b_.op(codegen::ScalarOp::Minimum, ScalarType::Long, i, b_.intConst(last));
    return b_.boundedLin(i, last);
  }

  // A value computed at each point of its own shape; the group's first value may stash a
  // phase's terms in its buffer. A group's values may differ in dimensions of size 1 (a matrix
  // product kept as [m, n, 1] and its readers' [m, n]): they share the loops of the dimensions
  // of other sizes.
  void lowerPlain(int32_t root, int32_t out_slot, std::vector<Lin>& idx) {
    const Instr& in = g_.instrs[root];
    const ir::Shape space = group_.size() > 1 ? withoutUnitDims(in.d.shape) : in.d.shape;
    sharedIndexSpace(space, std::vector<bool>(space.size(), false), idx);
    std::vector<Lin> own;
    for (size_t d = 0, j = 0; d < in.d.shape.size(); ++d)
      own.push_back(space.size() == in.d.shape.size() || in.d.shape[d] != 1 ? idx[j++] : Lin{});
    codegen::Store st;
    st.buffer = bufferFor(out_slot, true);
    const Lin lin = b_.linear(own, ir::contiguousStrides(in.d.shape), 0);
    st.index = b_.materialize(lin);
    store_lins_.emplace_back(out_slot, lin);
    if (root == group_[0]) stash_target_ = {st.buffer, internIndex(own), root, lin};
    st.value = value(root, own, /*inline_root=*/true);
    b_.store(st);
  }

  // Shape-generic kernels: the extent of every loop of the index space of more than one point
  // becomes an argument, so that one code serves every batch size (a last, smaller batch too),
  // and so does a matrix product's own loop (gemm takes it at launch; the batch is the length of
  // a weight gradient's product). Kept constant: a row reduction's loops (a row's length is what
  // its vectorised loop is built around),
  // the loops of a long reduction's blocks (the split fixes their sizes), and the last loop when
  // it is a parallel loop inside others (the contiguous run of results that the backend
  // vectorises, entered once per outer point: summing 2^20 x 16 over its rows took 1.4 to 1.7
  // times as long with its 16 columns as an argument). A batch is an outer or a reduction loop,
  // so it stays an argument. Everything the lowering decided from an extent (folded index
  // arithmetic, merged loops) shows in the text, so kernels of equal text are right for each
  // other's extents.
  void makeExtentsArguments() {
    if (part_.kind != ReducePart::Kind::Whole) return;
    for (int32_t l = 0; l < root_loops_; ++l) {
      const int64_t extent = b_.kernel().loops[l].extent;
      const bool innermost_result =
          l == root_loops_ - 1 && l > 0 && b_.kernel().loops[l].role == codegen::LoopRole::Parallel;
      if (extent < 2 || innermost_result) continue;
      makeExtentArgument(l);
    }
    if (product_phase_ < 0) return;
    for (int32_t l : b_.kernel().phases[0].loops) {
      if (b_.kernel().loops[l].extent >= 2) makeExtentArgument(l);
    }
  }

  void makeExtentArgument(int32_t l) {
    const int64_t extent = b_.kernel().loops[l].extent;
    b_.makeExtentArgument(l, b_.addArg(ScalarType::Long));
    sources_.push_back({ArgSource::Field::Fixed, -1});
    args_.push_back(static_cast<uint64_t>(extent));
  }

  /// Adjacent dimensions that can run as one loop: every index into memory is affine in the
  /// loop variables, with dimension d's stride equal to d+1's stride times d+1's extent (as for
  /// contiguous and broadcast operands). Valid for a lowering made without merges.
  std::vector<bool> mergeableDims() const { return mergeable_; }

  std::vector<bool> computeMergeableDims() const {
    const codegen::Kernel& k = b_.kernel();
    const size_t n = static_cast<size_t>(root_loops_);
    std::vector<bool> merge(n, n > 1);
    if (n < 2) return merge;
    merge[n - 1] = false;
    // The outer loops of phases stay apart from the rest (they may merge among themselves).
    if (k.outer > 0) merge[k.outer - 1] = false;
    std::vector<Lin> lins = index_lins_;
    for (const auto& [buffer, lin] : b_.loads()) lins.push_back(lin);
    for (const auto& [slot, lin] : store_lins_) lins.push_back(lin);
    for (const Lin& lin : lins) {
      std::vector<int64_t> coef(n, 0);
      for (auto [atom, c] : lin.terms) {
        const codegen::Expr& e = k.exprs[atom];
        if (e.kind != codegen::ExprKind::LoopVar) {
          // A term of no loop (a view offset's argument) moves with none of them.
          const std::vector<bool> loops = b_.loopsOf(atom);
          if (std::find(loops.begin(), loops.end(), true) == loops.end()) continue;
          return std::vector<bool>(n, false);
        }
        if (e.i >= root_loops_) continue;  // a phase's own loop
        coef[e.i] = c;
      }
      for (size_t d = 0; d + 1 < n; ++d) {
        // An overflowing product (huge extents beside an empty one) never equals a stride.
        int64_t inner;
        if (mulOverflows(coef[d + 1], k.loops[d + 1].extent, &inner) || coef[d] != inner)
          merge[d] = false;
      }
    }
    for (size_t d = 0; d + 1 < n; ++d) {
      if (k.loops[d].role != k.loops[d + 1].role) merge[d] = false;
    }
    return merge;
  }

  /// The slots whose old contents the kernel must read from a copy, each with why: it reads the
  /// slot at positions other than the ones it writes there, or it reduces into the slot (where a
  /// backend may accumulate: codegen/kernel.h) and reads it at all.
  std::vector<std::pair<int32_t, std::string>> outputHazards() const {
    std::vector<std::pair<int32_t, std::string>> hazards;
    const bool scatters = b_.kernel().scatters();
    for (const auto& [slot, store_lin] : store_lins_) {
      bool reads_output = false;
      std::string why;
      for (const auto& [buffer, lin] : b_.loads()) {
        if (kernel_slots_[buffer] != slot) continue;
        if (!(lin == store_lin))
          why = "the kernel reads the memory it overwrites at other positions";
        reads_output = true;
      }
      // Points that meet one element would read what an earlier point stored there.
      if (reads_output && scatters) why = "a scatter reads the memory it scatters into";
      if (why.empty() && reads_output && reduces_)
        why = "a reduction reads the memory it accumulates into";
      if (!why.empty()) hazards.emplace_back(slot, why);
    }
    return hazards;
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
      const int64_t extent = ir::numelOf(extents);
      Lin v;
      if (!reduced[d]) {
        v = b_.var(b_.addLoop(extent, codegen::LoopRole::Parallel));
      } else if (part_.kind == ReducePart::Kind::Blocks) {
        Lin block = b_.var(b_.addLoop(part_.blocks, codegen::LoopRole::Parallel));
        Lin term = b_.var(b_.addLoop(kReduceBlock, codegen::LoopRole::Reduction));
        v = b_.add(b_.scale(block, kReduceBlock), term);
        column_ = b_.add(Lin::constant(part_.blocks - 1), b_.scale(block, -1));
      } else if (part_.kind == ReducePart::Kind::Tail) {
        const int64_t start = part_.blocks * kReduceBlock;
        column_ = Lin::constant(part_.blocks);
        v = b_.add(Lin::constant(start),
                   b_.var(b_.addLoop(extent - start, codegen::LoopRole::Reduction)));
      } else {
        v = b_.var(b_.addLoop(extent, codegen::LoopRole::Reduction));
      }
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
    sources_.push_back({field, instr});
    args_.push_back(argValue(in.d, sources_.back()));
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
  std::vector<Lin> operandIndex(int32_t instr, const std::vector<Lin>& idx) {
    const Instr& in = g_.instrs[instr];
    if (in.d.op != Op::Strided) return idx;
    const Instr& src = g_.instrs[in.operands[0]];
    const int64_t unit = src.d.shape.size() < 2 || readsFlat(in.operands[0])
                             ? 1
                             : std::max<int64_t>(1, ir::contiguousStrides(src.d.shape)[0]);
    Lin flat = b_.add(b_.linear(idx, in.d.ints, 0), offsetLin(instr, unit));
    return b_.unravel(flat, src.d.shape);
  }

  // A view's element offset (of strided or write instruction `instr`) as a kernel argument, so
  // that windows at other offsets (x.select(0, i) in a loop, the batches of a dataset) run the
  // same code: offset = q * unit + r, with q an argument and r a constant of the code. Where the
  // view's source is unravelled in its shape, `unit` is the stride of its outermost dimension,
  // so that q moves whole rows and the index arithmetic within a row stays affine (windows along
  // the first dimension share code); where the source reads as a flat array, 1 (every window
  // does). Equal arguments are passed once, so that a kernel updating a window in place reads
  // and writes it at visibly equal positions.
  Lin offsetLin(int32_t instr, int64_t unit) {
    const int64_t offset = g_.instrs[instr].d.offset;
    if (offset == 0) return Lin{};
    const int64_t q = offset / unit;
    auto [it, added] = offset_arg_.try_emplace(std::make_pair(unit, q), -1);
    if (added) {
      it->second = b_.addArg(ScalarType::Long);
      sources_.push_back({ArgSource::Field::ViewOffset, instr, unit});
      args_.push_back(static_cast<uint64_t>(q));
    }
    return b_.add(Lin::constant(offset % unit), b_.scale(b_.argLin(it->second), unit));
  }

  // Whether the index algebra reads `instr` at a multi-index as it would read it as a flat array:
  // a realized value (its load ravels the multi-index back) or a plain reshape of one.
  bool readsFlat(int32_t instr) const {
    for (;;) {
      if (realized_[instr]) return true;
      const Instr& in = g_.instrs[instr];
      if (in.d.op != Op::Strided || in.d.offset != 0 ||
          in.d.ints != ir::contiguousStrides(in.d.shape)) {
        return false;
      }
      instr = in.operands[0];
    }
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
      // Another value of the group, not at the point where the kernel computes it.
      if (group_.size() > 1 && t.instr != root &&
          std::find(group_.begin(), group_.end(), t.instr) != group_.end()) {
        throw NotGrouped{current_root_};
      }
      const Instr& in = g_.instrs[t.instr];
      const std::vector<Lin> idx = indices_[t.index];
      int32_t result = -1;
      const int32_t stashed = isLeaf(t.instr) ? -1 : stashedTerm(t.instr, t.index);
      if (stashed >= 0) {
        result = stashed;
      } else if (isLeaf(t.instr)) {
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
      } else if (in.d.op == Op::Gather) {
        // The index at this point first, then the source where it points along the axis.
        const int64_t index_key = key(in.operands[1], t.index);
        if (!memo_.contains(index_key)) {
          stack.push_back({in.operands[1], t.index});
          continue;
        }
        std::vector<Lin> src_idx = idx;
        src_idx[in.d.ivalue] =
            indexAlong(memo_.at(index_key), g_.instrs[in.operands[0]].d.shape[in.d.ivalue]);
        const int32_t src_index = internIndex(src_idx);
        const int64_t src_key = key(in.operands[0], src_index);
        if (!memo_.contains(src_key)) {
          stack.push_back({in.operands[0], src_index});
          continue;
        }
        result = memo_.at(src_key);
      } else if (in.d.op == Op::Reduce) {
        const int32_t child_index = phaseInput(t.instr, t.index);
        const int64_t child_key = key(in.operands[0], child_index);
        if (!memo_.contains(child_key)) {
          stack.push_back({in.operands[0], child_index});
          continue;
        }
        const int32_t loop = phase_loop_.at(key(t.instr, t.index));
        if (matrixProduct(g_, in)) {
          if (!productEpilogue()) throw NotAPhase{t.instr};
          product_phase_ = t.instr;
        } else if (product_phase_ >= 0) {
          throw NotAPhase{product_phase_};
        } else if (!walksRowsInOrder(loop)) {
          throw NotAPhase{t.instr};
        }
        codegen::Phase phase;
        phase.loops = {loop};
        phase.reduce = reduceKind(in.d);
        phase.value = memo_.at(child_key);
        ScalarType type = b_.kernel().exprs[phase.value].type;
        const int32_t p = b_.addPhase(std::move(phase), outer_);
        phase_terms_.emplace(in.operands[0], PhaseTerms{p, child_index, loop});
        result = b_.acc(p, type);
      } else {
        std::vector<Lin> child_idx = operandIndex(t.instr, idx);
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

  // The index at which a row reduction's input is read when the reduction, read at `index`,
  // is computed as a phase: its kept dimensions at `index`, its reduced ones over a new loop of
  // the phase. Throws NotAPhase unless the kept dimensions' indices depend on exactly the first
  // k loops of the kernel's index space (k >= 1, all Parallel, the same k for every phase).
  int32_t phaseInput(int32_t instr, int32_t index) {
    const int64_t k = (int64_t{instr} << 32) | uint32_t(index);
    if (auto it = phase_input_.find(k); it != phase_input_.end()) return it->second;
    const Instr& in = g_.instrs[instr];
    const ir::Shape& src = g_.instrs[in.operands[0]].d.shape;
    std::vector<bool> reduced(src.size(), false);
    for (int64_t a : in.d.ints) reduced[a] = true;
    const std::vector<Lin> idx = indices_[index];
    std::vector<bool> deps(b_.kernel().loops.size(), false);
    for (size_t d = 0; d < src.size(); ++d) {
      if (reduced[d]) continue;
      for (auto [atom, c] : idx[d].terms) {
        std::vector<bool> loops = b_.loopsOf(atom);
        for (size_t l = 0; l < loops.size(); ++l) deps[l] = deps[l] || loops[l];
      }
    }
    int32_t outer = 0;
    while (outer < root_loops_ && deps[outer]) ++outer;
    const bool exact = std::find(deps.begin() + outer, deps.end(), true) == deps.end();
    if (!exact || outer == 0 || (outer_ != 0 && outer != outer_) || !phaseOuterLoops(outer))
      throw NotAPhase{instr};
    outer_ = outer;
    std::vector<int64_t> extents;
    for (size_t d = 0; d < src.size(); ++d) {
      if (reduced[d]) extents.push_back(src[d]);
    }
    int32_t loop = b_.addLoop(ir::numelOf(extents), codegen::LoopRole::Reduction);
    std::vector<Lin> parts = b_.unravel(b_.var(loop), extents);
    std::vector<Lin> child = idx;
    for (size_t d = 0, j = 0; d < src.size(); ++d) {
      if (reduced[d]) child[d] = parts[j++];
    }
    int32_t child_index = internIndex(child);
    phase_input_.emplace(k, child_index);
    phase_loop_.emplace(k, loop);
    return child_index;
  }

  // The terms of a phase, read again by the stores at the same positions (softmax's exponentials,
  // which its sum adds and its quotients divide), as the phase stashed them into the output
  // (codegen/kernel.h), or -1 where that does not apply: `instr` must be a phase's term, computed
  // (not a load), of the output's shape and type, and read by the stores at the output's own
  // element, which is the phase's term with a loop of the stores of the same extent in place of
  // the phase's loop.
  int32_t stashedTerm(int32_t instr, int32_t index) {
    auto it = phase_terms_.find(instr);
    if (it == phase_terms_.end() || index != stash_target_.index) return -1;
    const PhaseTerms& terms = it->second;
    const codegen::Kernel& k = b_.kernel();
    const codegen::Phase& phase = k.phases[terms.phase];
    const codegen::Expr& value = k.exprs[phase.value];
    const Instr& out = g_.instrs[stash_target_.root];
    // One stash per output: the stores read it back as one expression.
    if (stash_target_.used || value.kind != codegen::ExprKind::Op ||
        value.type != k.buffers[stash_target_.buffer].dtype ||
        g_.instrs[instr].d.shape != out.d.shape) {
      return -1;
    }
    const std::vector<Lin>& term = indices_[terms.index];
    const std::vector<Lin>& here = indices_[index];
    const Lin phase_var = b_.var(terms.loop);
    int32_t swapped = 0;
    for (size_t d = 0; d < term.size(); ++d) {
      if (term[d] == here[d]) continue;
      if (!(term[d] == phase_var) || here[d].c != 0 || here[d].terms.size() != 1) return -1;
      const codegen::Expr& v = k.exprs[here[d].terms[0].first];
      if (here[d].terms[0].second != 1 || v.kind != codegen::ExprKind::LoopVar ||
          v.i >= root_loops_ || k.loops[v.i].extent != k.loops[terms.loop].extent) {
        return -1;
      }
      ++swapped;
    }
    if (swapped != 1) return -1;
    const Lin at = b_.linear(term, ir::contiguousStrides(out.d.shape), 0);
    index_lins_.push_back(at);
    b_.stashPhase(terms.phase, stash_target_.buffer, b_.materialize(at));
    stash_target_.used = true;
    return b_.stashed(stash_target_.buffer, b_.materialize(stash_target_.lin));
  }

  // Whether a matrix product about to become this kernel's phase (phaseInput has set outer_) is
  // read by an epilogue: the kernel's only phase, read by plain stores at each point of an index
  // space of two loops, or three for a batched product (bias, scale, activation, the update of
  // an optimizer's buffer), so that a backend can run the product by its own routine and the
  // stores after it (the CPU: a gemm per block of rows, codegen/llvm/cpu_schedule.h).
  bool productEpilogue() const {
    return !root_reduces_ && (root_loops_ == 2 || root_loops_ == 3) && outer_ == root_loops_ &&
           b_.kernel().phases.empty();
  }

  // Whether loops [0, outer) can be a phase's outer loops (codegen/kernel.h): Parallel loops,
  // then Reduction loops only if no Parallel loop of the kernel is left outside them (a reduction
  // root whose terms are rows, as the mean of the per-row losses of a batch).
  bool phaseOuterLoops(int32_t outer) const {
    const std::vector<codegen::Loop>& loops = b_.kernel().loops;
    bool reduction = false;
    for (int32_t l = 0; l < outer; ++l) {
      if (loops[l].role == codegen::LoopRole::Reduction) {
        reduction = true;
      } else if (reduction) {
        return false;
      }
    }
    if (!reduction) return true;
    for (int32_t l = outer; l < root_loops_; ++l) {
      if (loops[l].role == codegen::LoopRole::Parallel) return false;
    }
    return true;
  }

  // Whether every load of the kernel reads with unit stride, or not at all, along a phase's loop.
  // A phase runs its loop innermost whatever the strides (it cannot be reordered as a stored
  // reduction's loops are: codegen/llvm/cpu_schedule.h); a strided one would read a column of a
  // matrix per row (g @ W in a backward pass), where the stored reduction reads rows.
  bool walksRowsInOrder(int32_t loop) const {
    const codegen::Kernel& k = b_.kernel();
    for (const auto& [buffer, lin] : b_.loads()) {
      for (auto [atom, c] : lin.terms) {
        const codegen::Expr& e = k.exprs[atom];
        if (e.kind == codegen::ExprKind::LoopVar) {
          if (e.i == loop && c != 1) return false;
        } else if (b_.loopsOf(atom)[loop]) {
          return false;
        }
      }
    }
    return true;
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
  absl::flat_hash_map<std::pair<int64_t, int64_t>, int32_t> offset_arg_;  // (unit, q) -> arg
  // Per instruction that is a phase's term: the phase, the index its term is read at, its loop.
  struct PhaseTerms {
    int32_t phase, index, loop;
  };
  absl::flat_hash_map<int32_t, PhaseTerms> phase_terms_;
  // A plain store's buffer, the index its root is evaluated at, and the root (-1: no stashing).
  struct StashTarget {
    int32_t buffer = -1, index = -1, root = -1;
    Lin lin;  // the store's index
    bool used = false;
  };
  StashTarget stash_target_;
  std::vector<std::vector<Lin>> indices_;
  absl::flat_hash_map<int64_t, int32_t> memo_;
  std::vector<std::pair<int32_t, Lin>> store_lins_;  // (slot, index) per store
  std::vector<Lin> index_lins_;                      // random-number counters
  std::vector<bool> merge_;
  ReducePart part_;
  Lin column_;  // a split reduction's column of partials (ReducePart)
  std::vector<bool> mergeable_;
  std::vector<int32_t> out_slots_;
  std::vector<int32_t> group_;  // the values this kernel stores, first one first
  int32_t current_root_ = -1;   // the one being lowered
  bool reduces_ = false;
  bool root_reduces_ = false;
  int32_t product_phase_ = -1;  // the matrix product that is this kernel's phase, if any
  int32_t root_loops_ = 0;      // loops of the index space (the phases' own come after them)
  int32_t outer_ = 0;           // the phases' outer loops, once a phase exists
  absl::flat_hash_map<int64_t, int32_t> phase_input_, phase_loop_;  // by (instr, index)
};

// ---- which values get a buffer of their own ----

/// Which values are realized (stored in a slot, read by later kernels as loads) rather than
/// inlined into their consumers, and why: the reason each kernel step prints.
struct Realized {
  explicit Realized(size_t n) : is(n, false), reason(n) {}
  /// Realizes value i; the first reason given is the one kept.
  void mark(int32_t i, std::string why) {
    if (!is[i]) reason[i] = std::move(why);
    is[i] = true;
  }
  std::vector<bool> is;
  std::vector<std::string> reason;
  /// An upper bound of the values each value's kernel inlines (realizeToBoundKernels).
  std::vector<int64_t> inlined;
};

// Values that end a kernel by what they are: params, reductions, partial writes and their
// bases, and the requested outputs.
void realizeBoundaries(const Graph& g, Realized& r) {
  for (int32_t i = 0; i < std::ssize(g.instrs); ++i) {
    const Instr& in = g.instrs[i];
    if (in.d.op == Op::Param) r.mark(i, "input buffer");
    if (matrixProduct(g, in) && !rowReduction(g, in)) {
      r.mark(i, "matrix product");
    } else if ((in.d.op == Op::Reduce && !rowReduction(g, in)) || in.d.op == Op::ArgReduce) {
      r.mark(i, "reduction");
    }
    if (in.d.op == Op::Write) r.mark(i, "write into part of a storage");
    if (in.d.op == Op::Scatter || in.d.op == Op::ScatterAdd)
      r.mark(i, "scatter (stores at positions that an index tensor holds)");
    if (ir::writesIntoBase(in.d.op)) r.mark(in.operands[0], "base of a partial write");
  }
  for (const ir::Output& o : g.outputs) {
    r.mark(o.value, g.instrs[o.value].d.op == Op::Reduce ? "reduction" : "requested output");
  }
}

// Whether computing value i inline loads from memory: it reaches a realized value of more than
// one element without passing a row reduction (computed once per row as a phase, so cheap to
// read per point; a single element, such as a loss's count, stays in a register).
bool readsMemory(const Graph& g, const Realized& r, int32_t i) {
  std::vector<int32_t> stack{i};
  std::vector<bool> seen(g.instrs.size(), false);
  while (!stack.empty()) {
    int32_t j = stack.back();
    stack.pop_back();
    if (seen[j]) continue;
    seen[j] = true;
    if (r.is[j] && g.instrs[j].d.numel() > 1) return true;
    if (r.is[j] || g.instrs[j].d.op == Op::Reduce) continue;
    for (int32_t o : g.instrs[j].operands) stack.push_back(o);
  }
  return false;
}

// Inside a reduction, a computed value read through a broadcast would be recomputed for every
// broadcast position (matmul's operands are read N times): compute it once instead. The operands
// of a matrix product (a sum of products) are computed once from 2 reads on: a backend runs the
// product best (a library gemm, a tiled kernel) on operands in memory, and the memory they take
// is small beside the product's work (a training step whose products read a ReLU or a bias add
// inline ran 1.4x as long as with them stored).
void realizeBroadcastReads(const Graph& g, Realized& r) {
  constexpr int64_t kRecomputeLimit = 16;
  constexpr int64_t kProductOperandLimit = 2;
  const size_t n = g.instrs.size();
  for (const Instr& in : g.instrs) {
    if (in.d.op != Op::Reduce && in.d.op != Op::ArgReduce) continue;
    const int64_t limit = matrixProduct(g, in) ? kProductOperandLimit : kRecomputeLimit;
    std::vector<int32_t> stack{in.operands[0]};
    std::vector<bool> seen(n, false);
    while (!stack.empty()) {
      int32_t j = stack.back();
      stack.pop_back();
      if (seen[j] || r.is[j]) continue;
      seen[j] = true;
      const Instr& x = g.instrs[j];
      if (x.d.op == Op::Strided) {
        // The computed value under this view, through any further views.
        int32_t src = x.operands[0];
        while (g.instrs[src].d.op == Op::Strided && !r.is[src]) src = g.instrs[src].operands[0];
        int64_t factor = 1;
        for (size_t k = 0; k < x.d.shape.size(); ++k) {
          if (x.d.ints[k] == 0) factor *= x.d.shape[k];
        }
        if (factor >= limit && !r.is[src] && g.instrs[src].d.op == Op::Elementwise &&
            readsMemory(g, r, src)) {
          r.mark(src, "read many times through a broadcast by a reduction");
          continue;
        }
      }
      for (int32_t o : x.operands) stack.push_back(o);
    }
  }
}

// A row reduction that several kernels would compute as a phase is computed once instead (each
// phase reads the rows from memory again); so is one that its reader could not compute per row
// (`not_phases`, found by an earlier attempt). Decided from the last value back: every path from
// a kernel's root down to a value passes only later values, whose fate is then known.
void realizeSharedRowReductions(const Graph& g, const std::vector<bool>& not_phases, Realized& r) {
  const int32_t n = static_cast<int32_t>(g.instrs.size());
  for (int32_t i = 0; i < n; ++i) {
    if (!not_phases[i]) continue;
    r.mark(i, matrixProduct(g, g.instrs[i]) ? "matrix product (its reader is not an epilogue)"
                                            : "reduction its reader cannot compute per row");
  }
  std::vector<int32_t> seen_by(n, -1);
  for (int32_t i = n - 1; i >= 0; --i) {
    if (r.is[i] || g.instrs[i].d.op != Op::Reduce) continue;
    int32_t readers = 0;
    for (int32_t root = i + 1; root < n && readers < 2; ++root) {
      if (!r.is[root] || g.instrs[root].d.op == Op::Param) continue;
      std::vector<int32_t> stack(g.instrs[root].operands.begin(), g.instrs[root].operands.end());
      bool reaches = false;
      while (!stack.empty() && !reaches) {
        int32_t j = stack.back();
        stack.pop_back();
        if (j < i || seen_by[j] == root || r.is[j]) continue;
        seen_by[j] = root;
        reaches = j == i;
        for (int32_t o : g.instrs[j].operands) stack.push_back(o);
      }
      readers += reaches;
    }
    if (readers > 1) {
      r.mark(i, matrixProduct(g, g.instrs[i]) ? "matrix product read by several kernels"
                                              : "reduction read by several kernels");
    }
  }
}

// ---- bounded kernels ----

// A kernel's compile time grows faster than its size (LLVM's passes relate pairs of memory
// accesses: one kernel summing 2,000 buffers took 7 s to compile, 10,000 took 230 s and 3 GB), so
// a wide graph is cut into kernels of at most kKernelValueLimit inlined values and
// kKernelBufferLimit buffers, each compiled in bounded time. The limits sit far above the kernels
// of real workloads (the MLP training step's largest has 40 expressions and reads 5 buffers); the
// parts of a wide, regular graph have few distinct structures, so the kernel cache compiles few
// of them (a pairwise sum of 10,000 or 30,000 scaled tensors: 11 kernels compiled).
constexpr int64_t kKernelValueLimit = 256;
constexpr int64_t kKernelBufferLimit = 64;

struct KernelSize {
  int64_t values = 0;
  int64_t buffers = 0;
  bool over() const { return values > kKernelValueLimit || buffers > kKernelBufferLimit; }
};

// The value under a chain of inlined views (a view is re-read where its source is stored).
int32_t underViews(const Graph& g, const Realized& r, int32_t j) {
  while (!r.is[j] && g.instrs[j].d.op == Op::Strided) j = g.instrs[j].operands[0];
  return j;
}

// Realizes values inside kernels that would pass the limits. Each value's size is first
// estimated from its operands' (an overcount where inlined values are shared), and counted
// exactly, by a walk that stops past the limits, only when the estimate is over: linear in the
// graph. A kernel over the limits stores its largest inlined operand (through views, so that a
// broadcast is not stored at its expanded size; below a value larger than every buffer the
// kernel reads, such as a matrix product's [M,N,K] terms, the cut goes deeper).
void realizeToBoundKernels(const Graph& g, Realized& r) {
  const int32_t n = static_cast<int32_t>(g.instrs.size());
  std::vector<KernelSize> size(n);
  std::vector<int32_t> seen_in(n, -1);
  int32_t walks = 0;
  auto estimate = [&](int32_t i) {
    KernelSize s{1, 0};
    for (int32_t o : g.instrs[i].operands) {
      if (r.is[o]) {
        ++s.buffers;
      } else {
        s.values += size[o].values;
        s.buffers += size[o].buffers;
      }
    }
    return s;
  };
  // The exact size of value i's kernel, counted until it passes the limits; `largest` gets the
  // largest buffer it reads.
  auto count = [&](int32_t i, int64_t& largest) {
    KernelSize s;
    const int32_t walk = walks++;
    std::vector<int32_t> stack{i};
    while (!stack.empty() && !s.over()) {
      const int32_t j = stack.back();
      stack.pop_back();
      if (seen_in[j] == walk) continue;
      seen_in[j] = walk;
      if (r.is[j] && j != i) {
        ++s.buffers;
        largest = std::max(largest, g.instrs[j].d.numel());
        continue;
      }
      ++s.values;
      for (int32_t o : g.instrs[j].operands) stack.push_back(o);
    }
    return s;
  };
  auto cutBelow = [&](int32_t i, int64_t largest_read) {
    const int64_t limit = std::max(g.instrs[i].d.numel(), largest_read);
    int32_t at = i;
    while (true) {
      int32_t best = -1;
      for (int32_t o : g.instrs[at].operands) {
        const int32_t s = underViews(g, r, o);
        if (r.is[s]) continue;
        if (best < 0 || size[s].values + size[s].buffers > size[best].values + size[best].buffers)
          best = s;
      }
      if (best < 0) return false;
      if (g.instrs[best].d.numel() <= limit) {
        r.mark(best, absl::StrCat("kernel size bound (a kernel inlines at most ", kKernelValueLimit,
                                  " values and reads at most ", kKernelBufferLimit, " buffers)"));
        return true;
      }
      at = best;
    }
  };
  for (int32_t i = 0; i < n; ++i) {
    if (g.instrs[i].d.op == Op::Param) continue;
    size[i] = estimate(i);
    while (size[i].over()) {
      int64_t largest_read = 0;
      const KernelSize exact = count(i, largest_read);
      if (!exact.over()) {
        size[i] = exact;
        break;
      }
      if (!cutBelow(i, largest_read)) break;
      size[i] = estimate(i);
    }
  }
  r.inlined.resize(n);
  for (int32_t i = 0; i < n; ++i) r.inlined[i] = size[i].values;
}

Realized chooseRealized(const Graph& g, const std::vector<bool>& not_phases) {
  Realized r(g.instrs.size());
  realizeBoundaries(g, r);
  realizeBroadcastReads(g, r);
  realizeToBoundKernels(g, r);
  realizeSharedRowReductions(g, not_phases, r);
  return r;
}

// ---- slots ----

std::vector<int32_t> useCounts(const Graph& g) {
  std::vector<int32_t> uses(g.instrs.size(), 0);
  for (const Instr& in : g.instrs) {
    for (int32_t o : in.operands) ++uses[o];
  }
  return uses;
}

// Creates a slot per param (the first slots); returns each param's.
std::vector<int32_t> paramSlots(const Graph& g, std::vector<Slot>& slots) {
  std::vector<int32_t> param_slot(g.paramCount(), -1);
  for (const Instr& in : g.instrs) {
    if (in.d.op != Op::Param) continue;
    param_slot[in.d.ivalue] = static_cast<int32_t>(slots.size());
    slots.push_back({in.d.dtype, in.d.numel(), static_cast<int32_t>(in.d.ivalue)});
  }
  return param_slot;
}

// Where values should land when they can (-1 elsewhere): an in-place output in its param's
// buffer, and so the bases of a chain of partial writes ending in one, when nothing else uses
// them: the chain then updates the param's buffer itself.
std::vector<int32_t> desiredSlots(const Graph& g, const std::vector<int32_t>& param_slot,
                                  const std::vector<int32_t>& uses) {
  std::vector<int32_t> desired(g.instrs.size(), -1);
  for (const ir::Output& o : g.outputs) {
    if (o.dest_param >= 0 && g.instrs[o.value].d.op != Op::Param)
      desired[o.value] = param_slot[o.dest_param];
  }
  for (int32_t i = std::ssize(g.instrs) - 1; i >= 0; --i) {
    const Instr& in = g.instrs[i];
    if (!ir::writesIntoBase(in.d.op) || desired[i] < 0) continue;
    int32_t base = in.operands[0];
    if (g.instrs[base].d.op == Op::Param) continue;
    if (uses[base] == 1) desired[base] = desired[i];
  }
  return desired;
}

// The slot of each realized value (-1 for inlined ones): its param's, the one it should land in,
// its partial-write base's when nothing else uses the base, or a new one.
std::vector<int32_t> assignSlots(const Graph& g, const std::vector<bool>& realized,
                                 const std::vector<int32_t>& uses,
                                 const std::vector<int32_t>& param_slot,
                                 const std::vector<int32_t>& desired, std::vector<Slot>& slots) {
  std::vector<int32_t> slot(g.instrs.size(), -1);
  for (int32_t i = 0; i < std::ssize(g.instrs); ++i) {
    const Instr& in = g.instrs[i];
    if (!realized[i]) continue;
    if (in.d.op == Op::Param) {
      slot[i] = param_slot[in.d.ivalue];
    } else if (desired[i] >= 0) {
      slot[i] = desired[i];
    } else if (ir::writesIntoBase(in.d.op) && uses[in.operands[0]] == 1 &&
               g.instrs[in.operands[0]].d.op != Op::Param) {
      slot[i] = slot[in.operands[0]];
    } else {
      slot[i] = static_cast<int32_t>(slots.size());
      slots.push_back({in.d.dtype, in.d.numel(), -1});
    }
  }
  return slot;
}

// ---- step order ----

/// The realized values each kernel reads, through the ones it inlines.
struct KernelInputs {
  std::vector<std::vector<int32_t>> computed;  // values of earlier kernels
  std::vector<std::vector<int32_t>> params;
};

KernelInputs kernelInputs(const Graph& g, const std::vector<bool>& realized) {
  const size_t n = g.instrs.size();
  KernelInputs inputs{std::vector<std::vector<int32_t>>(n), std::vector<std::vector<int32_t>>(n)};
  for (size_t i = 0; i < n; ++i) {
    if (!realized[i] || g.instrs[i].d.op == Op::Param) continue;
    std::vector<int32_t> stack(g.instrs[i].operands.begin(), g.instrs[i].operands.end());
    std::vector<bool> seen(n, false);
    while (!stack.empty()) {
      int32_t j = stack.back();
      stack.pop_back();
      if (seen[j]) continue;
      seen[j] = true;
      if (realized[j]) {
        (g.instrs[j].d.op == Op::Param ? inputs.params[i] : inputs.computed[i]).push_back(j);
        continue;
      }
      for (int32_t o : g.instrs[j].operands) stack.push_back(o);
    }
  }
  return inputs;
}

// ---- kernels with several outputs ----

// Values that one kernel computes, each with a store of its own, when they run over the same
// index space and read the same memory: sibling reductions over the same rows (the gradients of
// a layer's bias and of a norm's weight, both sums over the batch), or plain values of one shape
// (an optimizer's updates of a parameter and of its momentum, and the gradient product they
// read). The memory they share is read once and the loops run once. Members of a plain group
// read each other only at the points where the kernel computes them (else the lowering throws
// NotGrouped); members of a reducing group do not read each other; no member depends on another
// through a value outside the group, so that the group is one step. A matrix product joins a
// plain group as its phase (its epilogue then stores it beside the rest); on its own it stays
// a reducing kernel. Long reductions (split into blocks) and arg reductions stay alone.
std::vector<std::vector<int32_t>> kernelGroups(const Graph& g, const Realized& r,
                                               const KernelInputs& inputs,
                                               const std::vector<bool>& not_grouped) {
  constexpr size_t kMaxValues = 8;
  const int32_t n = static_cast<int32_t>(g.instrs.size());
  struct Group {
    std::vector<int32_t> values;
    absl::flat_hash_set<int32_t> reads;  // realized values of more than one element
    bool product = false;
    int64_t inlined = 0;  // at most, the values its kernel inlines
  };
  std::vector<Group> groups;
  absl::flat_hash_map<std::string, std::vector<int32_t>> groups_by_key;
  std::vector<int32_t> group_of(n, -1);
  // What decides the index space: a reduction's input shape and reduced dimensions, or a plain
  // value's shape; "" for values that stay alone.
  auto key = [&](const Instr& in) -> std::string {
    if (in.d.op == Op::Param || ir::writesIntoBase(in.d.op) || in.d.op == Op::ArgReduce ||
        in.d.numel() == 0) {
      return "";
    }
    if (in.d.op != Op::Reduce || matrixProduct(g, in))
      return absl::StrCat("plain ", absl::StrJoin(withoutUnitDims(in.d.shape), ","));
    const Instr& src = g.instrs[in.operands[0]];
    if (src.d.numel() / in.d.numel() >= kSplitMin) return "";
    return absl::StrCat("reduce ", absl::StrJoin(src.d.shape, ","), " over ",
                        absl::StrJoin(in.d.ints, ","));
  };
  auto readsOf = [&](int32_t i) {
    std::vector<int32_t> reads;
    for (const auto* list : {&inputs.computed[i], &inputs.params[i]}) {
      for (int32_t j : *list) {
        if (g.instrs[j].d.numel() > 1) reads.push_back(j);
      }
    }
    return reads;
  };
  // Whether value i reads a member of `group` through a value outside it (or, in a reducing
  // group, at all).
  auto dependsThroughOthers = [&](int32_t i, int32_t gi, bool reducing) {
    const int32_t lowest = groups[gi].values.front();
    std::vector<int32_t> stack;
    for (int32_t j : inputs.computed[i]) {
      if (group_of[j] == gi) {
        if (reducing) return true;
      } else if (j > lowest) {
        stack.push_back(j);
      }
    }
    absl::flat_hash_set<int32_t> seen;
    while (!stack.empty()) {
      const int32_t j = stack.back();
      stack.pop_back();
      if (!seen.insert(j).second) continue;
      for (int32_t d : inputs.computed[j]) {
        if (group_of[d] == gi) return true;
        if (d > lowest) stack.push_back(d);
      }
    }
    return false;
  };
  for (int32_t i = 0; i < n; ++i) {
    if (!r.is[i]) continue;
    const Instr& in = g.instrs[i];
    const std::string k = not_grouped[i] ? "" : key(in);
    const bool product = matrixProduct(g, in);
    const std::vector<int32_t> reads = readsOf(i);
    int32_t chosen = -1;
    if (!k.empty()) {
      for (int32_t gi : groups_by_key[k]) {
        Group& group = groups[gi];
        if (group.values.size() >= kMaxValues || (product && group.product) ||
            std::ssize(group.reads) + std::ssize(reads) > kKernelBufferLimit ||
            group.inlined + r.inlined[i] > kKernelValueLimit) {
          continue;
        }
        bool shares = false;
        for (int32_t j : reads) shares = shares || group.reads.contains(j) || group_of[j] == gi;
        if (!shares || dependsThroughOthers(i, gi, k[0] == 'r')) continue;
        chosen = gi;
        break;
      }
    }
    if (chosen < 0) {
      chosen = static_cast<int32_t>(groups.size());
      groups.emplace_back();
      if (!k.empty()) groups_by_key[k].push_back(chosen);
    }
    Group& group = groups[chosen];
    group.values.push_back(i);
    group.reads.insert(reads.begin(), reads.end());
    group.product = group.product || product;
    group.inlined += r.inlined[i];
    group_of[i] = chosen;
  }
  std::vector<std::vector<int32_t>> values;
  for (Group& group : groups) {
    if (g.instrs[group.values[0]].d.op != Op::Param) values.push_back(std::move(group.values));
  }
  return values;
}

// The order in which groups of realized values (other than params) are computed: dependencies
// first; updates of params' buffers as late as possible, so that readers of the old contents run
// before them; otherwise in graph order.
std::vector<std::vector<int32_t>> stepOrder(const Graph& g,
                                            std::vector<std::vector<int32_t>> groups,
                                            const KernelInputs& inputs,
                                            const std::vector<int32_t>& slot,
                                            const std::vector<Slot>& slots) {
  const int32_t count = static_cast<int32_t>(groups.size());
  std::vector<int32_t> group_of(g.instrs.size(), -1);
  for (int32_t gi = 0; gi < count; ++gi) {
    for (int32_t i : groups[gi]) group_of[i] = gi;
  }
  auto writesParam = [&](int32_t gi) {
    return std::any_of(groups[gi].begin(), groups[gi].end(),
                       [&](int32_t i) { return slots[slot[i]].param >= 0; });
  };
  std::vector<int32_t> pending(count, 0);
  std::vector<std::vector<int32_t>> users(count);
  for (int32_t gi = 0; gi < count; ++gi) {
    absl::flat_hash_set<int32_t> deps;
    for (int32_t i : groups[gi]) {
      for (int32_t d : inputs.computed[i]) {
        if (group_of[d] >= 0 && group_of[d] != gi) deps.insert(group_of[d]);
      }
    }
    for (int32_t d : deps) {
      ++pending[gi];
      users[d].push_back(gi);
    }
  }
  auto later = [&](int32_t a, int32_t b) {
    return std::make_pair(writesParam(a), groups[a][0]) >
           std::make_pair(writesParam(b), groups[b][0]);
  };
  std::priority_queue<int32_t, std::vector<int32_t>, decltype(later)> ready(later);
  for (int32_t gi = 0; gi < count; ++gi) {
    if (pending[gi] == 0) ready.push(gi);
  }
  std::vector<std::vector<int32_t>> order;
  while (!ready.empty()) {
    const int32_t gi = ready.top();
    ready.pop();
    order.push_back(groups[gi]);
    for (int32_t u : users[gi]) {
      if (--pending[u] == 0) ready.push(u);
    }
  }
  return order;
}

// ---- steps ----

Step copyStep(int32_t from, int32_t to, int32_t instr, std::string reason) {
  Step copy;
  copy.kind = Step::Kind::Copy;
  copy.slots = {from, to};
  copy.instr = instr;
  copy.reason = std::move(reason);
  return copy;
}

// Lowers `values` (a group: kernelGroups) once plainly (to find aliasing hazards and mergeable
// loops), then again with the loops merged. `hazards` gets the output slots whose old contents
// the kernel must read from a copy, with why; `merge` the dimensions merged.
Step lowerKernel(const Graph& g, const std::vector<bool>& realized,
                 const std::vector<int32_t>& read_slot, const std::vector<Slot>& slots,
                 const std::vector<int32_t>& values, const std::vector<int32_t>& out, int32_t best,
                 std::vector<std::pair<int32_t, std::string>>* hazards, std::vector<bool>* merge) {
  Lowering first(g, realized, read_slot, slots);
  Step st = first.lower(values, out, best);
  *hazards = first.outputHazards();
  *merge = first.mergeableDims();
  if (std::find(merge->begin(), merge->end(), true) == merge->end()) return st;
  return Lowering(g, realized, read_slot, slots, *merge).lower(values, out, best);
}

// The terms of the one Reduction loop of a Reduce's kernel `k` when the reduction should be split
// into blocks (ReducePart), else 0: there are at least kSplitMin terms, and no parallel loop
// (of more than one point) comes after the terms. Arg reductions are never split. Column sums
// (parallel loops inside the terms) are left whole: the CPU backend vectorises them along the
// terms, with gathers, and a block loop around that made narrow ones (16 or 32 columns) 1.8
// times slower.
int64_t splitTerms(const Instr& in, const Step& step) {
  if (in.d.op != Op::Reduce) return 0;
  const codegen::Kernel& k = step.kernel;
  int64_t terms = 0, reduction_loops = 0;
  for (int32_t l = 0; l < std::ssize(k.loops); ++l) {
    const int64_t extent = k.extentAt(l, step.args.data());
    if (k.loops[l].role == codegen::LoopRole::Reduction) {
      terms = extent;
      ++reduction_loops;
    } else if (reduction_loops > 0 && extent > 1) {
      return 0;
    }
  }
  return reduction_loops == 1 && terms >= kSplitMin ? terms : 0;
}

// Stage 2 of a split reduction: out[o] combines the partials of output o, row o of partials.
Step combinePartials(const std::vector<Slot>& slots, int32_t partials, int32_t out, int64_t outputs,
                     const ReducePart& part, codegen::ReduceKind reduce) {
  KernelBuilder b;
  const int32_t dst = b.addBuffer(slots[out].dtype, true);
  const int32_t src = b.addBuffer(slots[partials].dtype, false);
  const Lin o = b.var(b.addLoop(outputs, codegen::LoopRole::Parallel));
  const Lin c = b.var(b.addLoop(part.columns, codegen::LoopRole::Reduction));
  codegen::Store st;
  st.buffer = dst;
  st.index = b.materialize(o);
  st.value = b.load(src, b.add(b.scale(o, part.columns), c));
  st.reduce = reduce;
  b.store(st);
  Step step;
  step.kernel = b.take();
  step.slots = {out, partials};
  return step;
}

// Turns the realized values, in step order, into steps: a kernel for each, and the copies that
// in-place updates need. A param read after its buffer was overwritten reads a snapshot taken
// at the start; a partial write into a base that lives elsewhere gets a copy of the base first;
// a kernel that reads its own output slot elsewhere than it writes, or reduces into a slot it
// reads, gets a copy to read.
class StepLowering {
 public:
  StepLowering(const Graph& g, const Realized& realized, const std::vector<int32_t>& slot,
               const KernelInputs& inputs, std::vector<Slot>& slots)
      : g_(g),
        realized_(realized),
        slot_(slot),
        inputs_(inputs),
        slots_(slots),
        written_(slots.size(), false),
        snapshot_(slots.size(), -1) {}

  /// Lowers a group of values (kernelGroups) to its steps.
  void lower(const std::vector<int32_t>& values) {
    const int32_t i = values[0];
    const Instr& in = g_.instrs[i];
    if (in.d.numel() == 0) return;
    std::vector<int32_t> out;
    for (int32_t v : values) out.push_back(slot_[v]);
    if (ir::writesIntoBase(in.d.op)) copyPartialWriteBase(i);
    int32_t best = -1;
    if (in.d.op == Op::ArgReduce) {
      // The running best values of an arg reduction.
      best = newSlot({g_.instrs[in.operands[0]].d.dtype, in.d.numel(), -1});
    }
    std::vector<int32_t> read_slot = readSlots(values);
    std::vector<std::pair<int32_t, std::string>> hazards;
    std::vector<bool> merge;
    Step step =
        lowerKernel(g_, realized_.is, read_slot, slots_, values, out, best, &hazards, &merge);
    if (const int64_t terms = values.size() == 1 ? splitTerms(in, step) : 0; terms > 0) {
      lowerSplit(i, read_slot, merge, step.kernel, terms);
      written_[out[0]] = true;
      return;
    }
    if (!hazards.empty()) {
      // Apart, the order of the steps may make the copy unnecessary.
      if (values.size() > 1) throw NotGrouped{values.back()};
      for (const auto& [slot, why] : hazards) {
        const int32_t tmp = newSlotLike(slot);
        steps_.push_back(copyStep(slot, tmp, i, why));
        for (int32_t& s : read_slot) {
          if (s == slot) s = tmp;
        }
      }
      step = lowerKernel(g_, realized_.is, read_slot, slots_, values, out, best, &hazards, &merge);
    }
    step.reason = realized_.reason[i];
    for (size_t v = 1; v < values.size(); ++v)
      step.siblings.push_back({values[v], realized_.reason[values[v]]});
    steps_.push_back(std::move(step));
    for (int32_t s : out) written_[s] = true;
  }

  /// The steps: snapshots first, then the rest in order.
  std::vector<Step> finish() {
    std::vector<Step> all = std::move(snapshots_);
    for (Step& st : steps_) all.push_back(std::move(st));
    return all;
  }

 private:
  int32_t newSlot(Slot s) {
    slots_.push_back(s);
    written_.push_back(false);
    snapshot_.push_back(-1);
    return static_cast<int32_t>(slots_.size() - 1);
  }
  int32_t newSlotLike(int32_t src) {
    Slot copy = slots_[src];
    copy.param = -1;
    return newSlot(copy);
  }

  // Reduce i, whose `whole` kernel reduces `terms` terms, in blocks (ReducePart). Stage 1 stores
  // into a partials slot of its own and stage 2 reads only that slot, so neither kernel reads
  // memory that it writes, and the output slot needs no copy even where `whole` reads it.
  void lowerSplit(int32_t i, const std::vector<int32_t>& read_slot, const std::vector<bool>& merge,
                  const codegen::Kernel& whole, int64_t terms) {
    const codegen::Store& st = whole.stores[0];
    const int64_t outputs = g_.instrs[i].d.numel();
    ReducePart part;
    part.blocks = terms / kReduceBlock;
    part.columns = part.blocks + (terms % kReduceBlock != 0 ? 1 : 0);
    // Half and bfloat16 partial sums stay float32, as PyTorch accumulates them.
    const int32_t partials =
        newSlot({detail::accumulateType(whole.exprs[st.value].type), outputs * part.columns, -1});
    const std::string why = absl::StrCat("long reduction split into blocks of ", kReduceBlock);
    part.kind = ReducePart::Kind::Blocks;
    steps_.push_back(
        Lowering(g_, realized_.is, read_slot, slots_, merge, part).lower({i}, {partials}, -1));
    steps_.back().reason = why + " (stage 1 of 2)";
    if (part.columns > part.blocks) {
      part.kind = ReducePart::Kind::Tail;
      steps_.push_back(
          Lowering(g_, realized_.is, read_slot, slots_, merge, part).lower({i}, {partials}, -1));
      steps_.back().reason = why + " (stage 1 of 2, the last, shorter block)";
    }
    steps_.push_back(combinePartials(slots_, partials, slot_[i], outputs, part, st.reduce));
    steps_.back().instr = i;
    steps_.back().reason = why + " (stage 2 of 2)";
  }

  void copyPartialWriteBase(int32_t i) {
    int32_t base_slot = slot_[g_.instrs[i].operands[0]];
    int32_t out = slot_[i];
    if (base_slot == out) return;
    steps_.push_back(copyStep(base_slot, out, i, "a partial write needs its own copy of the base"));
    written_[out] = true;
  }

  // Where value i's kernel reads each realized value: its slot, or a snapshot of a param whose
  // buffer an earlier step overwrote.
  std::vector<int32_t> readSlots(const std::vector<int32_t>& values) {
    std::vector<int32_t> read_slot = slot_;
    for (int32_t i : values) {
      for (int32_t j : inputs_.params[i]) {
        const int32_t p = slot_[j];
        if (!written_[p]) continue;
        if (snapshot_[p] < 0) {
          snapshot_[p] = newSlotLike(p);
          snapshots_.push_back(
              copyStep(p, snapshot_[p], -1,
                       "snapshot of an input that is overwritten in place while still read"));
        }
        read_slot[j] = snapshot_[p];
      }
    }
    return read_slot;
  }

  const Graph& g_;
  const Realized& realized_;
  const std::vector<int32_t>& slot_;
  const KernelInputs& inputs_;
  std::vector<Slot>& slots_;
  std::vector<bool> written_;      // per slot: whether an earlier step stored into it
  std::vector<int32_t> snapshot_;  // per slot: the slot holding its snapshot, or -1
  std::vector<Step> snapshots_, steps_;
};

// The slot holding each value's final contents: a slot's final value belongs to the last
// value that wrote it (-1 for inlined values and params).
std::vector<int32_t> finalValueSlots(const Graph& g, const std::vector<int32_t>& order,
                                     const std::vector<int32_t>& slot, size_t slot_count) {
  std::vector<int32_t> value_slot(g.instrs.size(), -1);
  std::vector<int32_t> last_writer(slot_count, -1);
  for (int32_t i : order) last_writer[slot[i]] = i;
  for (int32_t i = 0; i < std::ssize(g.instrs); ++i) {
    if (slot[i] >= 0 && g.instrs[i].d.op != Op::Param && last_writer[slot[i]] == i)
      value_slot[i] = slot[i];
  }
  return value_slot;
}

// Each output's slot. An output that is an input param, unchanged, is copied into its
// destination param's buffer or a new slot, before anything overwrites the param's buffer.
void placeOutputs(const Graph& g, const std::vector<int32_t>& slot,
                  const std::vector<int32_t>& param_slot, Schedule& s) {
  for (const ir::Output& o : g.outputs) {
    int32_t v = o.value;
    if (g.instrs[v].d.op == Op::Param && o.dest_param != g.instrs[v].d.ivalue) {
      int32_t dst = o.dest_param >= 0 ? param_slot[o.dest_param] : -1;
      if (dst < 0) {
        dst = static_cast<int32_t>(s.slots.size());
        s.slots.push_back({g.instrs[v].d.dtype, g.instrs[v].d.numel(), -1});
      }
      s.steps.insert(s.steps.begin(),
                     copyStep(slot[v], dst, v, "requested output is an input buffer"));
      s.output_slots.push_back(dst);
    } else {
      s.output_slots.push_back(slot[v]);
    }
  }
}

// Consecutive kernel steps of one code and one reason become one step that runs the code for
// each of them in turn (Step::parts): a cat of N parts is N writes of one code into its result,
// and launching them as one step over a table of parts costs one launch, not N. The parts run in
// the order of the steps they replace, so each still sees what the ones before it stored.
// Kernels with several outputs stay alone (their siblings name what they store).
void batchParts(std::vector<Step>& steps) {
  std::vector<Step> batched;
  batched.reserve(steps.size());
  std::string head_text;  // the code of batched.back(), computed once a candidate meets it
  auto sameShape = [](const codegen::Kernel& a, const codegen::Kernel& b) {
    return a.buffers.size() == b.buffers.size() && a.args.size() == b.args.size() &&
           a.loops.size() == b.loops.size() && a.exprs.size() == b.exprs.size() &&
           a.stores.size() == b.stores.size() && a.phases.size() == b.phases.size();
  };
  for (Step& st : steps) {
    const bool candidate = st.kind == Step::Kind::Kernel && st.siblings.empty();
    if (candidate && !batched.empty()) {
      Step& head = batched.back();
      if (head.kind == Step::Kind::Kernel && head.siblings.empty() && head.reason == st.reason &&
          sameShape(head.kernel, st.kernel)) {
        if (head_text.empty()) head_text = head.kernel.text();
        if (st.kernel.text() == head_text) {
          head.parts.push_back(
              {st.instr, std::move(st.slots), std::move(st.args), std::move(st.arg_sources)});
          continue;
        }
      }
    }
    head_text.clear();
    batched.push_back(std::move(st));
  }
  steps = std::move(batched);
}

}  // namespace

namespace {

Schedule scheduleAttempt(const Graph& g, const std::vector<bool>& not_phases,
                         const std::vector<bool>& not_grouped) {
  Schedule s;
  const Realized realized = chooseRealized(g, not_phases);
  const std::vector<int32_t> uses = useCounts(g);
  const std::vector<int32_t> param_slot = paramSlots(g, s.slots);
  const std::vector<int32_t> slot =
      assignSlots(g, realized.is, uses, param_slot, desiredSlots(g, param_slot, uses), s.slots);
  const KernelInputs inputs = kernelInputs(g, realized.is);
  const std::vector<std::vector<int32_t>> order =
      stepOrder(g, kernelGroups(g, realized, inputs, not_grouped), inputs, slot, s.slots);
  StepLowering lowering(g, realized, slot, inputs, s.slots);
  std::vector<int32_t> values_in_order;
  for (const std::vector<int32_t>& values : order) {
    lowering.lower(values);
    values_in_order.insert(values_in_order.end(), values.begin(), values.end());
  }
  s.steps = lowering.finish();
  s.value_slot = finalValueSlots(g, values_in_order, slot, s.slots.size());
  placeOutputs(g, slot, param_slot, s);
  batchParts(s.steps);
  return s;
}

}  // namespace

Schedule schedule(const Graph& g) {
  std::vector<bool> not_phases(g.instrs.size(), false), not_grouped(g.instrs.size(), false);
  for (;;) {
    try {
      return scheduleAttempt(g, not_phases, not_grouped);
    } catch (const NotAPhase& e) {
      not_phases[e.instr] = true;
    } catch (const NotGrouped& e) {
      not_grouped[e.instr] = true;
    }
  }
}

namespace {

// "  args: arg0=1.5 arg1=4\n", or "" for a kernel without arguments.
std::string argsText(const codegen::Kernel& kernel, const std::vector<uint64_t>& args) {
  if (args.empty()) return "";
  std::string out = "  args:";
  for (size_t a = 0; a < args.size(); ++a) {
    const ScalarType t = kernel.args[a];
    std::string v;
    if (isFloatingType(t)) {
      double d;
      std::memcpy(&d, &args[a], sizeof d);
      v = absl::StrCat(d);
    } else if (t == ScalarType::Bool) {
      v = args[a] != 0 ? "true" : "false";
    } else {
      v = absl::StrCat(static_cast<int64_t>(args[a]));
    }
    absl::StrAppend(&out, " arg", a, "=", v);
  }
  return out + "\n";
}

}  // namespace

std::string Schedule::text(const std::function<std::string(const codegen::Kernel&)>& note) const {
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
                    absl::StrJoin(st.slots, ", "), "]",
                    st.parts.empty() ? "" : absl::StrCat(", run for ", st.partCount(), " parts"),
                    "  # ", st.reason, "\n");
    for (const Step::Sibling& sib : st.siblings)
      absl::StrAppend(&out, "  also stores %", sib.instr, "  # ", sib.reason, "\n");
    absl::StrAppend(&out, st.kernel.text());
    if (note) absl::StrAppend(&out, "  ", note(st.kernel), "\n");
    // The arguments' values for this graph (the kernel's text leaves them out).
    absl::StrAppend(&out, argsText(st.kernel, st.args));
    for (const Step::Part& part : st.parts) {
      absl::StrAppend(&out, "  part for %", part.instr, " slots [", absl::StrJoin(part.slots, ", "),
                      "]\n", argsText(st.kernel, part.args));
    }
  }
  return out;
}

}  // namespace kiln::sched
