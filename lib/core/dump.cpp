#include "lib/core/dump.h"

#include <cstdlib>
#include <fstream>

namespace kiln::core {

std::string dumpDir() {
  const char* d = std::getenv("KILN_DUMP");
  return d ? std::string(d) : std::string();
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace kiln::core
