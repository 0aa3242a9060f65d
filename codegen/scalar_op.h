#pragma once
// ScalarOp: the elementwise operations (see scalar_ops.def for the table and how to add one).
#include <cstdint>
#include <string_view>

namespace kiln::codegen {

enum class ScalarOp : uint8_t {
#define X(name, text, arity, result) name,
#include "codegen/scalar_ops.def"
#undef X
};

enum class ScalarResult : uint8_t { Same, Bool, Node };

struct ScalarOpInfo {
  std::string_view name;
  int arity;
  ScalarResult result;
};

const ScalarOpInfo& info(ScalarOp op);
/// The op whose text name is `name`, or false.
bool scalarOpFromName(std::string_view name, ScalarOp* out);

}  // namespace kiln::codegen
