#pragma once
// The scheduler: splits a Graph into kernels. Elementwise, movement, random and constant nodes
// are inlined into their consumers (fusion); reductions, writes and outputs end a kernel. It
// assigns every realized value a buffer slot, orders the steps, and inserts the copies that
// in-place updates need so that no kernel reads memory it overwrites.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "codegen/kernel.h"
#include "lib/ir/graph.h"

namespace kiln::sched {

struct Slot {
  ScalarType dtype;
  int64_t numel;
  int32_t param = -1;  // the graph param whose buffer this is, or -1 for a new buffer
};

/// Where a kernel's scalar argument comes from, so that a cached schedule can be run again
/// with the constants and random seeds of a new graph of the same structure.
struct ArgSource {
  /// A constant's value, a random op's seed or counter offset, a view's element offset divided
  /// by `unit` (the kernel multiplies it back: see the scheduler's view offsets), or a value that
  /// the graph's structure fixes (a loop's extent: the step's own argument, instr -1).
  enum class Field : uint8_t { Value, Seed, Offset, ViewOffset, Fixed } field;
  int32_t instr;  // the graph instruction holding it
  int64_t unit = 1;
};

struct Step {
  enum class Kind { Kernel, Copy } kind = Kind::Kernel;
  codegen::Kernel kernel;              // Kernel steps
  std::vector<int32_t> slots;          // Kernel: the slot of each kernel buffer; Copy: {src, dst}
  std::vector<uint64_t> args;          // Kernel: raw scalar arguments
  std::vector<ArgSource> arg_sources;  // Kernel: where each argument came from
  int32_t instr = -1;  // the graph instruction this step computes (-1 for snapshots)
  std::string reason;  // why this is a separate step
  /// The other values a kernel stores beside `instr` (values over the same loops that read the
  /// same memory: kernelGroups in schedule.cpp), each with why it is stored.
  struct Sibling {
    int32_t instr;
    std::string reason;
  };
  std::vector<Sibling> siblings;
  /// A kernel step may run its kernel for several parts in turn, each part with buffers and
  /// arguments of its own: consecutive steps of one code and one reason (the writes of a cat's
  /// or a stack's parts; updates of parameters of one shape) become one step, launched once
  /// over a table of parts (batchParts in schedule.cpp). `instr`, `slots`, `args` and
  /// `arg_sources` above are the first part's; `parts` holds the others, in the order they run.
  struct Part {
    int32_t instr;
    std::vector<int32_t> slots;
    std::vector<uint64_t> args;
    std::vector<ArgSource> arg_sources;
  };
  std::vector<Part> parts;
  /// How many parts the step runs (1 for an ordinary step).
  int64_t partCount() const { return 1 + static_cast<int64_t>(parts.size()); }
};

struct Schedule {
  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::vector<int32_t> output_slots;  // per graph output
  /// The slot holding each instruction's final value, or -1 where it was inlined or its slot
  /// was overwritten later in the run.
  std::vector<int32_t> value_slot;
  /// The slots, then the steps with each kernel's IR. `note`, when given, adds a line of its own
  /// under each kernel (kiln-ir shows a backend's decisions there).
  std::string text(const std::function<std::string(const codegen::Kernel&)>& note = {}) const;
};

Schedule schedule(const ir::Graph& g);

/// Whether instruction `in` of `g` is a matrix product: a sum of the products of two operands
/// that are each read through a broadcast (matmul's A[m, 1, k] * B[1, n, k]). Such a product is
/// a kernel of its own, or the one phase of a kernel whose stores are its epilogue.
bool matrixProduct(const ir::Graph& g, const ir::Instr& in);

/// The raw 64 bits a kernel receives for the argument `source` describes, taken from `d`.
uint64_t argValue(const ir::NodeDesc& d, const ArgSource& source);

}  // namespace kiln::sched
