#pragma once
// The CPU backend's scheduling decision for one Kernel: the order in which the LLVM emitter nests
// its loops and where a reduction accumulates. The kernel IR says only which loops are parallel
// and which reduce (codegen/kernel.h); this is the CPU's choice, computed from the Kernel alone
// and deterministically, so Kernel::text() stays a complete cache key. kiln-ir prints it with
// each kernel (`cpu: order=[1,0] ...`).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "codegen/kernel.h"

namespace kiln::codegen {

struct CpuSchedule {
  /// Where a reducing kernel accumulates: in registers when every Reduction loop is nested
  /// inside every Parallel one, otherwise in the output buffers (initialised first).
  enum class Accumulate : uint8_t { None, Registers, Memory };

  /// The stores' loop nest, outermost first: a permutation of the kernel's loops other than the
  /// phases' own (which run, each phase's in its own order, inside the outer loops).
  std::vector<int32_t> order;
  /// Per loop, how cheap the kernel's memory accesses are with that loop innermost: 2 per access
  /// that the loop walks with unit stride, 1 per access it leaves in place, 0 per strided one.
  std::vector<int32_t> access_score;
  /// Whether the innermost loop was moved there (otherwise the loops keep their own order).
  bool moved = false;
  Accumulate accumulate = Accumulate::None;
  /// How many loops at the start of `order` are Parallel (the register accumulators live inside
  /// them).
  size_t outer_parallel = 0;
  /// Threads: the first `split_loops` loops of `order` (the outer Parallel ones) form one range
  /// of units (Work::units) that the kernel runs a subrange of, so threads divide it (an output
  /// element is then computed by one thread, in the same order as on one thread, and results do
  /// not depend on the thread count). 0 loops (and 1 unit) when nothing can be split.
  size_t split_loops = 0;

  /// The size of the split range (for a contraction, its blocks of rows), and the points
  /// evaluated per unit of it (the stores' inner nest and every phase's loops): the work measure
  /// that decides whether threads pay. Known at launch, since extents may be arguments.
  struct Work {
    int64_t units = 1;
    int64_t points_per_unit = 1;
  };
  Work work(const Kernel& k, const uint64_t* args) const;

  /// A matrix product C[m, n] = sum_k A[m, k] * B[k, n] (float32 or float64, each operand a
  /// plain load with unit stride along one of its two loops, the result contiguous in n, threads
  /// splitting m if anything) that a BLAS gemm call can compute: when the backend has one and the
  /// extents fit its leading dimensions at launch, the kernel calls it (single-threaded) once per
  /// block of kRows rows, and runs its loops otherwise. Threads divide the blocks. A batched
  /// product (bmm, matmul with batch dimensions, an operand broadcast along them) has a batch
  /// loop outside m: one call per batch and block, threads dividing both. The blocks
  /// depend on the shape alone, so every element comes from the same call whatever the thread
  /// count: the library's results depend on the size of the product it is given (OpenBLAS
  /// picks its kernels by size: splitting the rows of a product differently changed the last bits
  /// of 1 element in 20), so its own threads would make them depend on their count.
  /// With `epilogue`, the product is the kernel's one phase (outer loops m and n, its loop k)
  /// and the plain stores read it: each block's product goes to a scratch block of rows (ldc
  /// n's extent), and the stores run over that block reading it as the phase's accumulator
  /// (bias, activation, an optimizer's update: one pass over the output, in cache).
  struct Contraction {
    static constexpr int64_t kRows = 128;
    int32_t m = -1, n = -1, k = -1;  // the loops
    int32_t batch = -1;              // a batched product's other parallel loop, or -1
    int32_t a = -1, b = -1;          // the load expressions of A and B
    bool a_trans = false, b_trans = false;
    int64_t lda = 0, ldb = 0, ldc = 0;  // ldc: without an epilogue
    bool epilogue = false;
  };
  std::optional<Contraction> contraction;

  /// One line, e.g. "cpu: order=[1,0] (innermost loop 0: best access score of [4,2]), threads
  /// split loops [1] (64 units)"; `k` gives the extents (an argument extent prints as argN).
  std::string text(const Kernel& k) const;
};

/// The loops nest in their own order, except that the loop (of extent above 1, or an argument
/// extent) with the highest
/// access score, if it beats the last loop's, moves innermost (the first such loop on ties).
/// This runs matmul's inner loop along the columns of its right operand and its output, and
/// keeps row reductions contiguous. Threads split the Parallel loops outside every Reduction
/// loop. An access's stride along a loop is the loop's coefficient
/// in the affine part of the index (terms under floor-div or mod count as not moving); each
/// load expression and each store's index is one access.
/// With `gemm`, the backend can call a BLAS gemm: matrix products are found (Contraction).
CpuSchedule cpuSchedule(const Kernel& k, bool gemm = false);

}  // namespace kiln::codegen
