// The layering rules of docs/architecture.md, checked against every #include in the engine's
// sources: the doc's `layers` block is the specification, so the doc and the code cannot drift.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kRoot = KILN_SOURCE_DIR;

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// component -> the paths (components or single files) it may include directly.
using Rules = std::map<std::string, std::vector<std::string>>;

Rules parseRules() {
  std::string doc = readFile(kRoot / "docs/architecture.md");
  size_t begin = doc.find("```layers\n");
  EXPECT_NE(begin, std::string::npos) << "docs/architecture.md has no ```layers block";
  size_t end = doc.find("```", begin + 10);
  std::istringstream block(doc.substr(begin + 10, end - begin - 10));
  Rules rules;
  std::string line;
  while (std::getline(block, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream rest(line.substr(colon + 1));
    std::vector<std::string> allowed;
    for (std::string w; rest >> w;) allowed.push_back(w);
    rules[line.substr(0, colon)] = allowed;
  }
  return rules;
}

bool under(const std::string& path, const std::string& prefix) {
  return path == prefix || path.rfind(prefix + "/", 0) == 0;
}

// The component a file belongs to: the longest rule name that is a prefix of its path.
std::string componentOf(const Rules& rules, const std::string& path) {
  std::string best;
  for (const auto& [name, allowed] : rules) {
    if (under(path, name) && name.size() > best.size()) best = name;
  }
  return best;
}

// Everything `component` may include: itself, the paths its rule names, and (transitively)
// whatever the components of those paths may include.
std::set<std::string> closure(const Rules& rules, const std::string& component) {
  std::set<std::string> out{component};
  std::vector<std::string> todo{component};
  while (!todo.empty()) {
    std::string c = todo.back();
    todo.pop_back();
    auto it = rules.find(c);
    if (it == rules.end()) continue;
    for (const std::string& p : it->second) {
      if (!out.insert(p).second) continue;
      todo.push_back(componentOf(rules, p));
    }
  }
  return out;
}

TEST(Layers, EveryIncludePointsTheWayTheArchitectureSays) {
  Rules rules = parseRules();
  ASSERT_FALSE(rules.empty());
  const std::regex include_re(R"(^\s*#\s*include\s+"([^"]+)\")");
  std::vector<std::string> violations;
  int files = 0;
  for (const char* top : {"include", "lib", "codegen", "runtime", "tools"}) {
    for (const auto& entry : fs::recursive_directory_iterator(kRoot / top)) {
      std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cpp" && ext != ".def") continue;
      ++files;
      std::string path = fs::relative(entry.path(), kRoot).generic_string();
      std::string component = componentOf(rules, path);
      if (component.empty()) {
        violations.push_back(path + ": in no layer of docs/architecture.md");
        continue;
      }
      std::set<std::string> allowed = closure(rules, component);
      std::istringstream lines(readFile(entry.path()));
      std::string line;
      for (int n = 1; std::getline(lines, line); ++n) {
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        std::string target = m[1];
        // Public headers are included as "kiln/x.h"; the rest by their path from the root.
        if (target.rfind("kiln/", 0) == 0) target = "include/" + target;
        bool ok = std::any_of(allowed.begin(), allowed.end(),
                              [&](const std::string& a) { return under(target, a); });
        if (!ok) {
          violations.push_back(path + ":" + std::to_string(n) + ": " + component +
                               " may not include " + m[1].str());
        }
      }
    }
  }
  EXPECT_GT(files, 50);
  std::string all;
  for (const std::string& v : violations) all += v + "\n";
  EXPECT_TRUE(violations.empty()) << all;
}

}  // namespace
