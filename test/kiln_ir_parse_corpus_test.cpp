// The parser and kiln-ir on whole corpora: the golden inputs (test/ir), every input the parser
// fuzzer keeps (fuzz/corpus, and fuzz/crashes: inputs that once crashed it), and every graph the
// tutorial dumps with KILN_DUMP.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/ir/parse.h"

namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The graph lines of a file: everything but comments and blank lines.
std::string graphLines(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    out += line + "\n";
  }
  return out;
}

std::vector<fs::path> filesIn(const fs::path& dir, const std::string& ext = "") {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && (ext.empty() || e.path().extension() == ext))
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(KilnIrCorpus, GoldenInputsRoundTrip) {
  std::vector<fs::path> files = filesIn(KILN_IR_GOLDEN_DIR, ".kir");
  ASSERT_GE(files.size(), 6u);
  for (const fs::path& f : files) {
    const std::string text = readFile(f);
    kiln::ir::ParseResult r = kiln::ir::parseGraph(text, f.string());
    ASSERT_TRUE(r.graph) << r.error;
    EXPECT_EQ(r.graph->text(), graphLines(text)) << f;
  }
}

// Whatever the fuzzer kept: no crash (this runs under ASan and UBSan in CI), and what parses
// prints to text that parses to the same text.
TEST(KilnIrCorpus, FuzzCorpusAndCrashesParseOrFailCleanly) {
  size_t n = 0;
  for (const char* sub : {"corpus", "crashes"}) {
    for (const fs::path& f : filesIn(fs::path(KILN_FUZZ_DIR) / sub)) {
      ++n;
      const std::string text = readFile(f);
      kiln::ir::ParseResult r = kiln::ir::parseGraph(text, "fuzz");
      if (!r.graph) {
        EXPECT_EQ(r.error.rfind("fuzz:", 0), 0u) << f << ": " << r.error;
        continue;
      }
      const std::string printed = r.graph->text();
      kiln::ir::ParseResult again = kiln::ir::parseGraph(printed, "printed");
      ASSERT_TRUE(again.graph) << f << ": " << again.error << "\n" << printed;
      EXPECT_EQ(again.graph->text(), printed) << f;
    }
  }
  EXPECT_GT(n, 0u) << "fuzz/corpus is empty";
}

#ifdef KILN_TUTORIAL
int run(const std::string& cmd, std::string* out) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int raw = pclose(p);
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

// The tool reads every graph a real program dumps, and its stages are the ones the library
// itself dumps for those graphs.
TEST(KilnIrCorpus, EveryGraphTheTutorialDumps) {
  const fs::path dir = fs::temp_directory_path() / ("kiln_ir_tutorial_" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::string out;
  ASSERT_EQ(run("KILN_DUMP='" + dir.string() + "' '" + KILN_TUTORIAL + "'", &out), 0);
  const std::string tool = std::string("'") + KILN_IR_TOOL + "'";
  size_t graphs = 0, graded = 0;
  for (const fs::path& f : filesIn(dir, ".kir")) {
    const std::string name = f.filename().string();
    const std::string suffix = ".recorded.kir";
    if (name.rfind("kiln-grad-", 0) == 0) {
      // Gradient graphs (autograd's dumps) go through every stage too.
      std::string ignored;
      for (const char* cmd : {" dump --stage=all ", " dot ", " explain ", " run "}) {
        EXPECT_EQ(run(tool + cmd + "'" + f.string() + "' 2>/dev/null", &ignored), 0) << cmd << f;
      }
      continue;
    }
    if (name.size() < suffix.size() || name.substr(name.size() - suffix.size()) != suffix) continue;
    ++graphs;
    const std::string stem = (dir / name.substr(0, name.size() - suffix.size())).string();
    const std::string file = "'" + f.string() + "'";
    std::string recorded, simplified, kernels, ignored;
    EXPECT_EQ(run(tool + " dump " + file + " --stage=recorded", &recorded), 0) << f;
    EXPECT_EQ(recorded, graphLines(readFile(f))) << f;
    EXPECT_EQ(run(tool + " dump " + file + " --stage=simplified", &simplified), 0) << f;
    EXPECT_EQ(simplified, readFile(stem + ".simplified.kir")) << f;
    EXPECT_EQ(run(tool + " dump " + file + " --stage=kernels", &kernels), 0) << f;
    EXPECT_EQ(kernels, readFile(stem + ".schedule.txt")) << f;
    for (const char* cmd : {" dump --stage=all ", " dot ", " explain ", " run "}) {
      EXPECT_EQ(run(tool + cmd + file + " 2>/dev/null", &ignored), 0) << cmd << f;
    }
    std::string explained;
    run(tool + " explain " + file, &explained);
    EXPECT_EQ(explained.rfind("materialisation: reading values", 0), 0u) << explained;
    // --grad works wherever the graph has a one-element output 0 and a float param; elsewhere
    // it fails with a message (exit status 1), never a crash.
    std::string grad_out;
    int grad_status = run(tool + " dump " + file + " --grad --stage=kernels 2>&1", &grad_out);
    if (grad_status == 0) {
      ++graded;
    } else {
      EXPECT_EQ(grad_status, 1) << f;
      EXPECT_EQ(grad_out.rfind("kiln-ir: error: ", 0), 0u) << grad_out;
    }
  }
  EXPECT_GT(graphs, 3u);
  EXPECT_GT(graded, 0u);
  fs::remove_all(dir);
}
#endif

}  // namespace
