#pragma once
// The backend-neutral kernel IR: what one compiled kernel computes, and nothing about how a
// target runs it. Emitters (codegen/llvm, later a GPU one) turn a Kernel into code; its text()
// is also the compiled-code cache key.
//
// THE CONTRACT. A producer (lib/sched) guarantees it and every backend may rely on it.
//
// Index space. The loops span the points (i_0, ..., i_n-1), 0 <= i_l < loops[l].extent. Each loop
// says what it is, not where it runs: a Parallel loop indexes independent results, a Reduction
// loop indexes the terms that a reducing store combines. A Kernel carries no loop order; each
// backend chooses its own order and mapping (the CPU one: codegen/llvm/cpu_schedule.h). A loop of
// extent 0 makes the index space empty: nothing is evaluated (but see reductions below).
//
// Expressions. A DAG in which operands precede their users ($k uses only $j, j < k), evaluated
// at a point: `loop l` is i_l; loads, arithmetic and random numbers are pure functions of the
// point, the arguments and the buffers' contents when the kernel starts (Philox random numbers
// depend only on counter and key: lib/ir/philox.h). Load and store indices are i64 counts of
// elements of the buffer's dtype, always in bounds. A bool buffer holds one byte per element,
// 0 or 1.
//
// Buffers never alias. Distinct buffer params never overlap in memory: the scheduler gives each
// param a distinct slot of its schedule, and every slot (and every graph param) has memory of its
// own. A buffer not marked `written` is only read. A kernel reads a buffer it writes only if its
// stores are plain, and then only at the very element that the same point stores (an in-place
// update such as x.add_(1)); the scheduler gives any other read of memory that a kernel
// overwrites a copy of its own first. So backends may declare the buffers restrict/noalias.
//
// Several stores. A kernel may store several values over its one index space (sibling reductions
// over the same rows; an optimizer's updates of a parameter and of its momentum): each store
// reads the buffers as the kernel found them, also where another store of the same point writes
// the element it reads, so a backend evaluates a point's values before it stores any of them.
//
// Plain stores (reduce == None). Every point stores buffer[index] = value. The kernel's loops are
// then all Parallel, and distinct points store distinct elements (in-place writes through
// overlapping views are rejected by the front end), so the points may run in any order and in
// parallel.
//
// Reducing stores (reduce != None). A kernel's stores are either all plain or all reducing. The
// store's index depends on the Parallel loops only. For each point p of the Parallel loops, once
// the kernel has finished:
//   buffer[index(p)] = identity (+) value(p, r_1) (+) value(p, r_2) (+) ...
// over every point r of the Reduction loops, with (+) the reduce kind's combine and `identity`
// its reduceIdentity() (so an empty reduction stores the identity). Sum and prod of floats may
// be combined in any order (rounding may differ from a sequential loop); max and min propagate
// NaN; bool sum is `or` and bool prod `and`. Arg reductions (the scheduler gives them exactly one
// Reduction loop) store into best_buffer[index] the best value (argmax: the largest, argmin: the
// smallest, a NaN beating any number) and into buffer[index] the i64 `position` expression at
// the first point, in increasing order of the Reduction loop, that holds it: ties keep the
// earliest. Only the final contents are specified: a backend may accumulate in registers and
// store once per point of the Parallel loops, or initialise the outputs and accumulate in the
// buffers themselves (a reducing kernel never reads the buffers it stores into). Parallel points
// never share an output element, so they may run in any order and in parallel; the terms of one
// element may also be split among workers and combined in any order the rules above allow.
//
// Scattering stores (scatter != None: a gather's backward, index_put_, scatter_add). The store's
// index depends on loaded data, so distinct points may store the same element. Such a kernel has
// that one store, with reduce == None, and only Parallel loops; its points run one after another
// in the order of the loops (loop 0 outermost), which a backend may neither split among threads
// nor reorder, and each point stores buffer[index] = value (Assign: where points meet an
// element, the last one's value stays) or buffer[index] = buffer[index] + value (Add; for bool,
// or), reading the element as the points before it left it. The kernel never loads from the
// buffer it scatters into. Indices are in bounds, as everywhere. With `distinct_in_last_loop`,
// the producer guarantees that points differing only in the kernel's last loop store distinct
// elements (an embedding gradient's rows: the row comes from data, the column is the loop), so
// that loop's points may run in any order or together (a backend may vectorise it).
//
// Phases (row reductions fused with their consumers). A kernel may compute reductions per point
// of its `outer` loops (loops[0..outer): Parallel ones, then possibly Reduction ones, but then
// every Parallel loop of the kernel is among them) before its stores: phase p is
//   acc_p(o) = identity (+) value_p(o, r_1) (+) value_p(o, r_2) (+) ...
// over every point r of the phase's own loops (Reduction loops that no other phase and no store
// uses), with (+) its reduce kind's combine as for reducing stores (Sum, Prod, Max, Min). The
// expression `acc p` is acc_p at the current point of the outer loops; phase p's value may read
// the outer loops, its own loops and the accumulators of phases before it; the stores may read
// the outer loops, the loops of no phase and every accumulator. Every store index depends on all
// outer Parallel loops, so a phase is computed once per point, and threads split only the outer
// loops; with outer Reduction loops the phases run inside them, per term (cross-entropy: per
// row of the batch whose losses the kernel sums):
// a softmax row (max, then the sum of exponentials, then the quotients) is one kernel that reads
// the row from memory once. The stores of a phased kernel are plain, or reducing over Reduction
// loops of their own.
//
// Stashed terms. A phase may also store each of its terms into a buffer that the kernel's plain
// stores write (Phase::stash_buffer, at the i64 index stash_index), at elements that the stores
// of the same point of the outer loops write; the stores read them back with `stashed` (its
// index one the phase wrote at that point), before they overwrite them. Softmax stores each
// exponential once in its row, then divides it in place, instead of computing it twice.
//
// Arguments. Scalar argument i is passed at launch as 64 raw bits: a double's bits for a floating
// argument (a float argument is that double rounded to float), the integer for integral ones, and
// nonzero for true; so kernels that differ only in constants share code.
//
// Extents. A loop's extent is a constant of the code, or a scalar argument (Loop::extent_arg), so
// that a kernel runs for every batch size, a last partial batch included. Nothing but the loop's
// trip count may depend on it: a backend reads it at launch (for its loop bounds and its split
// among threads) and must run an argument extent of 0 as an empty loop.
//
// Cache key. text() lists everything above (buffers, arguments, each loop's extent or extent
// argument and its role, every expression and store). A backend's choices (such as the CPU loop
// order) are computed from the kernel alone, so equal texts still mean equal compiled code.
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/scalar_type.h"
#include "lib/ir/scalar_op.h"

namespace kiln::codegen {

using ir::ScalarOp;

enum class ExprKind : uint8_t {
  Op,           // sop applied to a, b, c
  LoopVar,      // the index of loop i
  IntConst,     // i (any integral or bool type)
  FloatConst,   // f
  Arg,          // scalar argument i, passed at launch (so constants don't change the code)
  Load,         // buffer i at element index a
  RandUniform,  // uniform [0,1) of `type`, Philox4x32-10 at counter a with key = arg b
  RandNormal,   // standard normal of `type` (Box-Muller on one Philox block)
  Acc,          // the accumulator of phase i at the current point of the outer loops
  Stashed,      // buffer i at element index a, as a phase stashed it (see Phases)
};

struct Expr {
  ExprKind kind = ExprKind::IntConst;
  ScalarOp sop = ScalarOp::Add;
  ScalarType type = ScalarType::Long;
  int32_t a = -1, b = -1, c = -1;
  int64_t i = 0;
  double f = 0;
  bool operator==(const Expr& o) const;
};

enum class ReduceKind : uint8_t { None, Sum, Prod, Max, Min, ArgMax, ArgMin };
/// How a store meets the stores of other points: never (None), or as a scattering store.
enum class ScatterKind : uint8_t { None, Assign, Add };

/// buffer[index] = value at every point, or (reduce != None) the combination across the
/// Reduction loops described above; arg reductions also store the best value in `best_buffer`.
struct Store {
  int32_t buffer = 0;
  int32_t index = -1;
  int32_t value = -1;
  ReduceKind reduce = ReduceKind::None;
  int32_t best_buffer = -1;
  int32_t position = -1;
  ScatterKind scatter = ScatterKind::None;
  bool distinct_in_last_loop = false;  // scattering stores only (see above)
};

struct BufferParam {
  ScalarType dtype;
  bool written = false;
};

/// What a loop indexes: independent results, or the terms of a reduction.
enum class LoopRole : uint8_t { Parallel, Reduction };

struct Loop {
  int64_t extent = 1;
  LoopRole role = LoopRole::Parallel;
  /// When >= 0, the extent is scalar argument `extent_arg` (an i64 >= 0 passed at launch) and
  /// `extent` is -1: one code serves every extent (see "Extents" above).
  int32_t extent_arg = -1;
};

/// A reduction computed per point of the kernel's outer loops before its stores (see above).
struct Phase {
  std::vector<int32_t> loops;  // its own Reduction loops, outermost first
  ReduceKind reduce = ReduceKind::Sum;
  int32_t value = -1;
  /// When >= 0, each term is also stored: stash_buffer[stash_index] = value (see above).
  int32_t stash_buffer = -1;
  int32_t stash_index = -1;
};

struct Kernel {
  std::vector<BufferParam> buffers;
  std::vector<ScalarType> args;
  std::vector<Loop> loops;
  std::vector<Expr> exprs;
  std::vector<Store> stores;
  /// Loops [0, outer) are the ones the phases are computed per point of (0 without phases).
  int32_t outer = 0;
  std::vector<Phase> phases;

  /// Readable listing; equal texts mean equal code, so it is the cache key.
  std::string text() const;
  /// Whether the stores are reducing ones (then all of them are).
  bool reduces() const;
  /// Whether the store is a scattering one (then it is the only store).
  bool scatters() const { return stores.size() == 1 && stores[0].scatter != ScatterKind::None; }
  /// Whether loop l belongs to a phase.
  bool isPhaseLoop(int32_t l) const;
  /// Loop l's extent for a launch with scalar arguments `args` (raw, as passed).
  int64_t extentAt(int32_t l, const uint64_t* args) const {
    const Loop& loop = loops[l];
    return loop.extent_arg >= 0 ? static_cast<int64_t>(args[loop.extent_arg]) : loop.extent;
  }
};

/// Identity of a reduction for a type (0, 1, -inf, +inf, ...), as raw bits of that type's value.
double reduceIdentity(ReduceKind k, ScalarType t);

}  // namespace kiln::codegen
