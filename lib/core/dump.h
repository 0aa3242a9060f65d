#pragma once
// KILN_DUMP: the directory where materialisations, backward passes and compiled kernels write
// their intermediate forms (see README).
#include <string>

namespace kiln::core {

/// The directory named by KILN_DUMP, or "".
std::string dumpDir();
/// Writes a text file (best effort: dumps never fail the computation).
void writeFile(const std::string& path, const std::string& text);

}  // namespace kiln::core
