#pragma once
// KernelBuilder: constructs a Kernel with hash-consed expressions and a small symbolic algebra for
// index arithmetic. Indices are kept as linear forms (Lin) over atoms (loop variables and
// floor-div/mod expressions), so that the unravel-then-ravel of a reshape cancels back to the
// plain loop variable and loads stay affine where they can (which is what vectorises).
#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "codegen/kernel.h"

namespace kiln::codegen {

/// c + sum(coef * atom), atoms are expression ids of non-negative i64 values, sorted by id.
struct Lin {
  int64_t c = 0;
  std::vector<std::pair<int32_t, int64_t>> terms;
  bool operator==(const Lin& o) const { return c == o.c && terms == o.terms; }
  static Lin constant(int64_t v) { return Lin{v, {}}; }
};

class KernelBuilder {
 public:
  /// Adds a loop; its variable is available as var(index).
  int32_t addLoop(int64_t extent, LoopRole role);
  int32_t addBuffer(ScalarType dtype, bool written);
  int32_t addArg(ScalarType type);
  void markWritten(int32_t buffer) { kernel_.buffers[buffer].written = true; }
  /// Makes loop l's extent scalar argument `arg` (an i64). Until take(), the index algebra still
  /// reads the loop's range from the extent it was added with: decisions made from it are
  /// visible in the kernel's text, so they hold for every kernel of that text.
  void makeExtentArgument(int32_t loop, int32_t arg) { kernel_.loops[loop].extent_arg = arg; }

  int32_t expr(const Expr& e);
  int32_t op(ScalarOp sop, ScalarType type, int32_t a, int32_t b = -1, int32_t c = -1);
  int32_t intConst(int64_t v, ScalarType type = ScalarType::Long);
  int32_t floatConst(double v, ScalarType type);
  int32_t arg(int32_t index);
  int32_t load(int32_t buffer, const Lin& index);
  int32_t randUniform(ScalarType type, int32_t counter, int32_t key);
  int32_t randNormal(ScalarType type, int32_t counter, int32_t key);
  void store(Store s) { kernel_.stores.push_back(s); }
  /// Adds a phase computed per point of loops [0, outer) (codegen/kernel.h); returns its index.
  int32_t addPhase(Phase p, int32_t outer);
  /// Makes phase p also store each term at `index` (an expression) of `buffer`.
  void stashPhase(int32_t phase, int32_t buffer, int32_t index) {
    kernel_.phases[phase].stash_buffer = buffer;
    kernel_.phases[phase].stash_index = index;
  }
  /// Element `index` of `buffer` as a phase stashed it.
  int32_t stashed(int32_t buffer, int32_t index);
  /// The accumulator of phase p, of type `type`.
  int32_t acc(int32_t phase, ScalarType type);
  /// The loops that expression e depends on, as a bit per loop (e through its operands).
  std::vector<bool> loopsOf(int32_t e) const;

  // Index algebra (all values non-negative).
  Lin var(int32_t loop);
  /// Scalar argument `index` (a non-negative i64) as an index term.
  Lin argLin(int32_t index) { return atomLin(arg(index)); }
  /// Expression `e` (an i64 known to lie in [0, hi], such as a clamped index read from memory)
  /// as an index term.
  Lin boundedLin(int32_t e, int64_t hi) {
    bounds_[e] = hi;
    return atomLin(e);
  }
  Lin add(const Lin& a, const Lin& b);
  Lin scale(const Lin& a, int64_t k);
  Lin floorDiv(const Lin& a, int64_t d);
  Lin mod(const Lin& a, int64_t d);
  /// Row-major flat index of `idx` in a tensor of `shape` with `strides`, plus offset.
  Lin linear(const std::vector<Lin>& idx, const std::vector<int64_t>& strides, int64_t offset);
  /// The multi-index of flat position `flat` in a contiguous tensor of `shape`.
  std::vector<Lin> unravel(const Lin& flat, const std::vector<int64_t>& shape);
  /// [min, max] of a linear form.
  std::pair<int64_t, int64_t> range(const Lin& a) const;
  /// The i64 expression computing a linear form.
  int32_t materialize(const Lin& a);

  const Kernel& kernel() const { return kernel_; }
  /// The finished kernel, without expressions that no store uses (index algebra leaves some
  /// behind when it folds a div/mod pair back into a plain variable).
  Kernel take();
  /// Loads of `buffer`, with their index forms (for aliasing checks by the scheduler).
  const std::vector<std::pair<int32_t, Lin>>& loads() const { return loads_; }

 private:
  struct ExprHash {
    size_t operator()(const Expr& e) const;
  };
  struct Atom {
    Lin src;
    int64_t divisor;
    bool is_mod;
  };
  Lin atomLin(int32_t atom) const { return Lin{0, {{atom, 1}}}; }
  Lin normalize(std::vector<std::pair<int32_t, int64_t>> terms, int64_t c);
  int32_t divModAtom(const Lin& src, int64_t d, bool is_mod);
  std::pair<int64_t, int64_t> atomRange(int32_t atom) const;

  Kernel kernel_;
  absl::flat_hash_map<Expr, int32_t, ExprHash> memo_;
  absl::flat_hash_map<int32_t, Atom> atoms_;      // div/mod atoms by expression id
  absl::flat_hash_map<int32_t, int64_t> bounds_;  // upper bounds of boundedLin's atoms
  std::vector<std::pair<int32_t, Lin>> loads_;
};

}  // namespace kiln::codegen
