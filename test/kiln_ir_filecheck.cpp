// Runs one golden file of test/ir/ in the manner of LLVM's lit + FileCheck, without needing
// either (nor Python): usage `kiln_ir_filecheck TOOL FILE.kir`.
//
// In FILE, comment lines hold the test:
//   # RUN: kiln-ir dump %s --stage=fusion | FileCheck --check-prefix=FUSION
//   # FUSION: kernel 0 (step 0)
//   # FUSION-NEXT:   reads   %0 (param 0)
// RUN lines are shell commands: `kiln-ir` becomes TOOL, `%s` the file, `%S` its folder, `%t` a
// fresh temporary path. A leading `not` expects a non-zero exit (otherwise it must be zero). A
// trailing `| FileCheck [--check-prefix=P]` checks the command's stdout against the P lines
// (default CHECK); without it only the exit status is checked. Directives, per prefix P:
//   P: pat          the next line at or after the last match that contains pat
//   P-NEXT: pat     the line right after the last match
//   P-SAME: pat     the line of the last match
//   P-EMPTY:        the line right after the last match is empty
//   P-NOT: pat      no line between the neighbouring positive matches contains pat
// `{{re}}` inside a pattern is an ECMAScript regular expression; the rest is literal. The graph
// itself ignores `#` comments, so the same file is the tool's input.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Directive {
  enum Kind { Check, Next, Same, Empty, Not } kind;
  std::string pattern;
  int line;  // in the golden file, for messages
};

struct Run {
  std::string command;
  bool expect_failure = false;
  bool filecheck = false;
  std::string prefix = "CHECK";
  int line;
};

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
}

bool contains(const std::string& line, const std::string& pattern) {
  if (pattern.find("{{") == std::string::npos) return line.find(pattern) != std::string::npos;
  std::string re;
  size_t pos = 0;
  while (pos < pattern.size()) {
    size_t open = pattern.find("{{", pos);
    size_t close = open == std::string::npos ? open : pattern.find("}}", open + 2);
    std::string literal = pattern.substr(
        pos,
        open == std::string::npos || close == std::string::npos ? std::string::npos : open - pos);
    for (char c : literal) {
      if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) re.push_back('\\');
      re.push_back(c);
    }
    if (open == std::string::npos || close == std::string::npos) break;
    // A regex ending in a brace (`[0-9]{4}`) closes with `}}}`: the last two close the pattern.
    while (close + 2 < pattern.size() && pattern[close + 2] == '}') ++close;
    re += "(?:" + pattern.substr(open + 2, close - open - 2) + ")";
    pos = close + 2;
  }
  try {
    return std::regex_search(line, std::regex(re));
  } catch (const std::regex_error& e) {
    std::cerr << "bad regular expression in '" << pattern << "': " << e.what() << "\n";
    std::exit(2);
  }
}

// Runs `command` with sh; returns its stdout, sets `status` to the exit status.
std::string capture(const std::string& command, int* status) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int raw = pclose(p);
  *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
  return out;
}

std::vector<std::string> splitLines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// Returns "" or what went wrong.
std::string check(const std::vector<std::string>& out, const std::vector<Directive>& ds,
                  const std::string& file) {
  int last = -1;  // line of the last positive match
  size_t from = 0;
  std::vector<const Directive*> nots;
  auto where = [&](const Directive& d) { return file + ":" + std::to_string(d.line) + ": "; };
  auto checkNots = [&](size_t begin, size_t end) -> std::string {
    for (const Directive* n : nots) {
      for (size_t i = begin; i < end && i < out.size(); ++i) {
        if (contains(out[i], n->pattern))
          return where(*n) + "excluded pattern '" + n->pattern + "' found in output line " +
                 std::to_string(i + 1) + ": " + out[i];
      }
    }
    nots.clear();
    return "";
  };
  for (const Directive& d : ds) {
    switch (d.kind) {
      case Directive::Not:
        nots.push_back(&d);
        break;
      case Directive::Check: {
        size_t i = from;
        while (i < out.size() && !contains(out[i], d.pattern)) ++i;
        if (i == out.size())
          return where(d) + "expected '" + d.pattern + "' at or after output line " +
                 std::to_string(from + 1);
        if (auto e = checkNots(from, i); !e.empty()) return e;
        last = static_cast<int>(i);
        from = i + 1;
        break;
      }
      case Directive::Next:
      case Directive::Empty: {
        size_t i = static_cast<size_t>(last + 1);
        if (auto e = checkNots(from, i); !e.empty()) return e;
        bool ok = i < out.size() &&
                  (d.kind == Directive::Empty ? trim(out[i]).empty() : contains(out[i], d.pattern));
        if (!ok)
          return where(d) + "expected " +
                 (d.kind == Directive::Empty ? std::string("an empty line")
                                             : "'" + d.pattern + "'") +
                 " on output line " + std::to_string(i + 1) +
                 ", got: " + (i < out.size() ? out[i] : std::string("<end of output>"));
        last = static_cast<int>(i);
        from = i + 1;
        break;
      }
      case Directive::Same:
        if (last < 0 || !contains(out[last], d.pattern))
          return where(d) + "expected '" + d.pattern + "' on the line of the last match";
        break;
    }
  }
  return checkNots(from, out.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: kiln_ir_filecheck TOOL FILE.kir\n";
    return 2;
  }
  const std::string tool = argv[1], file = argv[2];
  std::ifstream in(file);
  if (!in) {
    std::cerr << file << ": cannot open\n";
    return 2;
  }
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);

  std::vector<Run> runs;
  std::vector<std::pair<std::string, Directive>> directives;  // (prefix, directive)
  const std::regex run_re(R"(^\s*#\s*RUN:\s*(.*)$)");
  const std::regex directive_re(R"(^\s*#\s*([A-Z][A-Z0-9_]*)(-NEXT|-SAME|-EMPTY|-NOT)?:(.*)$)");
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    const int line = static_cast<int>(i + 1);
    if (std::regex_match(lines[i], m, run_re)) {
      Run r;
      r.line = line;
      std::string cmd = trim(m[1]);
      if (cmd.rfind("not ", 0) == 0) {
        r.expect_failure = true;
        cmd = trim(cmd.substr(4));
      }
      std::smatch fc;
      if (std::regex_search(cmd, fc,
                            std::regex(R"(\|\s*FileCheck(\s+--check-prefix=(\S+))?\s*$)"))) {
        r.filecheck = true;
        if (fc[2].matched) r.prefix = fc[2];
        cmd = trim(cmd.substr(0, fc.position(0)));
      }
      r.command = cmd;
      runs.push_back(r);
      continue;
    }
    if (std::regex_match(lines[i], m, directive_re)) {
      std::string prefix = m[1], suffix = m[2];
      if (prefix == "RUN") continue;
      std::string pattern = m[3];
      if (!pattern.empty() && pattern[0] == ' ') pattern.erase(0, 1);
      while (!pattern.empty() && (pattern.back() == ' ' || pattern.back() == '\r'))
        pattern.pop_back();
      Directive d{suffix == "-NEXT"    ? Directive::Next
                  : suffix == "-SAME"  ? Directive::Same
                  : suffix == "-EMPTY" ? Directive::Empty
                  : suffix == "-NOT"   ? Directive::Not
                                       : Directive::Check,
                  pattern, line};
      directives.emplace_back(prefix, d);
    }
  }
  if (runs.empty()) {
    std::cerr << file << ": no RUN lines\n";
    return 1;
  }
  const std::string dir = std::filesystem::path(file).parent_path().string();
  const std::string tmp =
      (std::filesystem::temp_directory_path() / ("kiln_ir_" + std::to_string(getpid()))).string();
  int failures = 0;
  for (size_t k = 0; k < runs.size(); ++k) {
    const Run& r = runs[k];
    std::string cmd = " " + r.command + " ";
    replaceAll(cmd, " kiln-ir ", " '" + tool + "' ");
    replaceAll(cmd, "%s", "'" + file + "'");
    replaceAll(cmd, "%S", "'" + dir + "'");
    replaceAll(cmd, "%t", "'" + tmp + "." + std::to_string(k) + "'");
    int status = 0;
    std::string out = capture(cmd, &status);
    std::string problem;
    if (r.expect_failure ? status == 0 : status != 0) {
      problem = "exit status " + std::to_string(status) +
                (r.expect_failure ? ", expected a failure" : ", expected 0");
    } else if (r.filecheck) {
      std::vector<Directive> ds;
      for (const auto& [prefix, d] : directives) {
        if (prefix == r.prefix) ds.push_back(d);
      }
      if (ds.empty()) {
        problem = "no " + r.prefix + ": lines for this RUN line";
      } else {
        problem = check(splitLines(out), ds, file);
      }
    }
    if (!problem.empty()) {
      ++failures;
      std::cerr << file << ":" << r.line << ": RUN: " << r.command << "\n  " << problem
                << "\n--- output ---\n"
                << out << "--- end of output ---\n";
    }
  }
  for (size_t k = 0; k < runs.size(); ++k) {
    std::error_code ec;
    std::filesystem::remove(tmp + "." + std::to_string(k), ec);
  }
  std::cout << file << ": " << runs.size() - failures << " of " << runs.size()
            << " RUN lines passed\n";
  return failures ? 1 : 0;
}
