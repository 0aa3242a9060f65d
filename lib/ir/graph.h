#pragma once
// Graph: a flat SSA form of one materialisation's work, the unit that passes, the scheduler,
// the printer and the reference interpreter work on. Instructions only refer to earlier ones.
#include <cstdint>
#include <string>
#include <vector>

#include "lib/ir/desc.h"

namespace kiln::ir {

struct Instr {
  NodeDesc d;
  std::vector<int32_t> operands;
};

struct Output {
  int32_t value;
  /// The param whose buffer receives this output in place (an in-place update of a storage
  /// that already has memory), or -1 for a fresh buffer.
  int32_t dest_param = -1;
};

struct Graph {
  std::vector<Instr> instrs;
  std::vector<Output> outputs;

  int32_t add(NodeDesc d, std::vector<int32_t> operands) {
    instrs.push_back({std::move(d), std::move(operands)});
    return static_cast<int32_t>(instrs.size() - 1);
  }
  /// Number of param instructions (their ivalue numbers them 0..n-1).
  int32_t paramCount() const;
  /// The instruction index of param `index`, or -1.
  int32_t paramInstr(int32_t index) const;
  /// One line per instruction, `%3 = mul %1, %2 : f32[5,3]`, inside `graph { ... }`.
  std::string text() const;
};

/// Per instruction, whether it is a constant whose exact value simplification may fold: an
/// operand of an elementwise or strided instruction all of whose operands are constants or
/// such instructions themselves (the `exact` of ir::structureOf).
std::vector<bool> exactConstants(const Graph& g);

/// The text of a single instruction (without the leading indentation).
std::string instrText(const Graph& g, int32_t index);

}  // namespace kiln::ir
