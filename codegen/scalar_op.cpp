#include "codegen/scalar_op.h"

#include <iterator>

namespace kiln::codegen {
namespace {
constexpr ScalarOpInfo kInfo[] = {
#define X(name, text, arity, result) {text, arity, ScalarResult::result},
#include "codegen/scalar_ops.def"
#undef X
};
}  // namespace

const ScalarOpInfo& info(ScalarOp op) {
  return kInfo[static_cast<int>(op)];
}

bool scalarOpFromName(std::string_view name, ScalarOp* out) {
  for (size_t i = 0; i < std::size(kInfo); ++i) {
    if (kInfo[i].name == name) {
      *out = static_cast<ScalarOp>(i);
      return true;
    }
  }
  return false;
}

}  // namespace kiln::codegen
