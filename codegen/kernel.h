#pragma once
// The backend-neutral kernel IR: what one compiled kernel computes. A kernel is a loop nest over
// an index space (parallel loops and reduction loops), a DAG of scalar expressions evaluated per
// point (loads through index expressions, arithmetic, random numbers), and stores into buffers,
// optionally combined across reduction loops. Emitters (codegen/llvm, later codegen/cuda) turn
// a Kernel into code; its text() is also the compiled-code cache key.
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

/// buffer[index] = value, or buffer[index] = combine(buffer[index], value) across the reduction
/// loops. Arg reductions keep the running best value in `best_buffer` and store `position`.
struct Store {
  int32_t buffer = 0;
  int32_t index = -1;
  int32_t value = -1;
  ReduceKind reduce = ReduceKind::None;
  int32_t best_buffer = -1;
  int32_t position = -1;
};

struct BufferParam {
  ScalarType dtype;
  bool written = false;
};

struct Loop {
  int64_t extent = 1;
  bool reduce = false;
};

struct Kernel {
  std::vector<BufferParam> buffers;
  std::vector<ScalarType> args;
  std::vector<Loop> loops;
  /// Loop nesting, outermost first (a permutation of loop indices).
  std::vector<int32_t> order;
  std::vector<Expr> exprs;
  std::vector<Store> stores;

  /// Readable listing; equal texts mean equal code, so it is the cache key.
  std::string text() const;
  /// Whether the reduction loops are all nested inside the parallel ones (accumulate in a
  /// register) rather than around them (accumulate in memory).
  bool reductionInnermost() const;
};

/// Identity of a reduction for a type (0, 1, -inf, +inf, ...), as raw bits of that type's value.
double reduceIdentity(ReduceKind k, ScalarType t);

}  // namespace kiln::codegen
