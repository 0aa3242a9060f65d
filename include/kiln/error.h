#pragma once
// The one exception type the library throws.
#include <stdexcept>
#include <string>

namespace kiln {

/// Thrown for every invalid use of the API; the message follows PyTorch's wording.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace kiln
