#pragma once
// Command-line arguments as kiln's tools take them: options `--name=value` or `--name value`,
// flags `--name` (or `--name=value`), `--help`/`-h`, `--` before operands that start with '-',
// and FILE operands. Shared by kiln-ir and kiln-bench.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln::tools {

/// A usage error: the tool prints the message with a pointer to --help and exits with status 2.
struct UsageError {
  std::string message;
};

struct Args {
  std::vector<std::string> files;
  std::map<std::string, std::vector<std::string>> options;
  bool help = false;

  /// The value of the last `--name`, if any.
  std::optional<std::string> last(const std::string& name) const;
  /// Every value given for `--name`, in order.
  const std::vector<std::string>& all(const std::string& name) const;
};

/// Parses argv[0..argc). `with_value`: options that take a value; `flags`: options that may
/// take one only as `=value`. Throws UsageError for an unknown option (naming `command` when it
/// is not empty), an option without its value, or more than `max_files` FILEs (-1: any number).
Args parseArgs(const std::string& command, int argc, char** argv, int max_files,
               const std::vector<std::string>& with_value, const std::vector<std::string>& flags);

/// `K=PATH` or `%K=PATH` (K a non-negative number), the value of option `--option`; throws
/// UsageError otherwise.
std::pair<int64_t, std::string> indexedPath(const std::string& option, const std::string& value);

}  // namespace kiln::tools
