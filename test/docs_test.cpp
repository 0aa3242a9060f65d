// The docs against the code: docs/adding-an-op.md names files, identifiers in them, and shows a
// real commit's diff; all of it must still be true of the source tree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kSource = KILN_SOURCE_DIR;

std::string readFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool isPath(const std::string& token) {
  static const std::regex path(R"([\w./-]+/[\w.-]+\.(h|cpp|def|md|kir|txt))");
  return std::regex_match(token, path);
}

bool isIdentifier(const std::string& token) {
  static const std::regex ident(R"([A-Za-z_]\w*(::[A-Za-z_]\w*)*)");
  return std::regex_match(token, ident);
}

// The `code spans` of a line, in order (outside fenced blocks).
std::vector<std::string> codeSpans(const std::string& line) {
  std::vector<std::string> spans;
  size_t at = 0;
  for (;;) {
    size_t open = line.find('`', at);
    if (open == std::string::npos) break;
    size_t close = line.find('`', open + 1);
    if (close == std::string::npos) break;
    spans.push_back(line.substr(open + 1, close - open - 1));
    at = close + 1;
  }
  return spans;
}

class AddingAnOp : public ::testing::Test {
 protected:
  std::vector<std::string> doc = linesOf(readFile(kSource / "docs/adding-an-op.md"));
};

// Every file named exists, and every identifier named after a file on the same line occurs in
// that file (`lib/interp/reference.cpp` (`kEvaluate`) promises kEvaluate is there).
TEST_F(AddingAnOp, NamedFilesAndIdentifiersExist) {
  ASSERT_GT(doc.size(), 20u);
  int paths = 0, identifiers = 0;
  bool fenced = false;
  for (const std::string& line : doc) {
    if (line.rfind("```", 0) == 0) fenced = !fenced;
    if (fenced) continue;
    std::string file;
    for (const std::string& span : codeSpans(line)) {
      if (isPath(span)) {
        ++paths;
        EXPECT_TRUE(fs::exists(kSource / span)) << span << "\nin: " << line;
        file = fs::exists(kSource / span) ? readFile(kSource / span) : "";
      } else if (!file.empty() && isIdentifier(span)) {
        ++identifiers;
        std::string last =
            span.substr(span.rfind(':') == std::string::npos ? 0 : span.rfind(':') + 1);
        EXPECT_NE(file.find(last), std::string::npos)
            << span << " is not in the file before it in: " << line;
      }
    }
  }
  EXPECT_GT(paths, 20);
  EXPECT_GT(identifiers, 15);
}

// The example's diff is the code as it is: every line it adds is still a line of its file, and
// it touches as many files as the section's title says.
TEST_F(AddingAnOp, ExampleDiffIsInTheCode) {
  bool in_diff = false;
  std::string file;
  std::vector<std::string> files;
  int added = 0;
  for (const std::string& line : doc) {
    if (line == "```diff") {
      in_diff = true;
      continue;
    }
    if (!in_diff) continue;
    if (line == "```") break;
    if (line.rfind("+++ b/", 0) == 0) {
      files.push_back(line.substr(6));
      ASSERT_TRUE(fs::exists(kSource / files.back())) << files.back();
      file = readFile(kSource / files.back());
      continue;
    }
    if (line.rfind("--- a/", 0) == 0 || line.rfind("@@", 0) == 0) continue;
    if (line.rfind("+", 0) == 0) {
      ++added;
      std::vector<std::string> lines = linesOf(file);
      EXPECT_NE(std::find(lines.begin(), lines.end(), line.substr(1)), lines.end())
          << "not in " << files.back() << ": " << line.substr(1);
    }
  }
  EXPECT_EQ(files.size(), 3u);
  EXPECT_GE(added, 3);
  bool titled = false;
  for (const std::string& line : doc) titled |= line == "## A unary elementwise op: three places";
  EXPECT_TRUE(titled);
}

}  // namespace
