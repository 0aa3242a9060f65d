#include "tools/kiln-ir/args.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>

#include <algorithm>

namespace kiln::tools {

std::optional<std::string> Args::last(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

const std::vector<std::string>& Args::all(const std::string& name) const {
  static const std::vector<std::string> none;
  auto it = options.find(name);
  return it == options.end() ? none : it->second;
}

Args parseArgs(const std::string& command, int argc, char** argv, int max_files,
               const std::vector<std::string>& with_value, const std::vector<std::string>& flags) {
  Args a;
  bool options_done = false;
  auto member = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (!options_done && arg == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && (arg == "--help" || arg == "-h")) {
      a.help = true;
      continue;
    }
    if (!options_done && arg.size() > 1 && arg[0] == '-') {
      std::string name = arg.substr(arg[1] == '-' ? 2 : 1), value;
      size_t eq = name.find('=');
      bool has_value = eq != std::string::npos;
      if (has_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (member(with_value, name)) {
        if (!has_value) {
          if (i + 1 >= argc) throw UsageError{absl::StrCat("option --", name, " needs a value")};
          value = argv[++i];
        }
      } else if (!member(flags, name)) {
        throw UsageError{absl::StrCat("unknown option '", arg, "'",
                                      command.empty() ? "" : absl::StrCat(" for '", command, "'"))};
      }
      a.options[name].push_back(value);
      continue;
    }
    if (max_files >= 0 && static_cast<int>(a.files.size()) >= max_files) {
      throw UsageError{absl::StrCat("unexpected argument '", arg, "' (",
                                    max_files == 1 ? "one FILE only" : "too many FILEs", ")")};
    }
    a.files.push_back(arg);
  }
  return a;
}

std::pair<int64_t, std::string> indexedPath(const std::string& option, const std::string& value) {
  size_t eq = value.find('=');
  std::string index = value.substr(0, eq == std::string::npos ? 0 : eq);
  if (!index.empty() && index[0] == '%') index.erase(0, 1);
  int64_t k = -1;
  if (eq == std::string::npos || !absl::SimpleAtoi(index, &k) || k < 0 || eq + 1 == value.size())
    throw UsageError{absl::StrCat("--", option, " takes K=PATH (K a number), got '", value, "'")};
  return {k, value.substr(eq + 1)};
}

}  // namespace kiln::tools
