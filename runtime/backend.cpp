#include "runtime/backend.h"

namespace kiln::runtime {

std::string Target::key() const {
  return kiln::Device(device).str() + " " + arch;
}

}  // namespace kiln::runtime
