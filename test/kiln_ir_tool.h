#pragma once
// Runs the kiln-ir binary (KILN_IR_TOOL, set by test/CMakeLists.txt) for the kiln-ir tests.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace kiln::test_support {

struct ToolResult {
  int status = -1;  // the exit status, or -1 when the tool did not exit normally
  std::string out, err;
};

/// Runs `kiln-ir ARGS` through the shell (ARGS quoted as needed) and collects its exit status,
/// stdout and stderr.
inline ToolResult runTool(const std::string& args) {
  namespace fs = std::filesystem;
  static int seq = 0;
  const fs::path err_path =
      fs::temp_directory_path() /
      ("kiln_ir_tool_" + std::to_string(getpid()) + "_" + std::to_string(seq++) + ".err");
  const std::string cmd =
      std::string("'") + KILN_IR_TOOL + "' " + args + " 2>'" + err_path.string() + "'";
  ToolResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream e(err_path);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  fs::remove(err_path);
  return r;
}

/// A test with a folder of its own for the files it hands the tool, removed afterwards.
class ToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("kiln_ir_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  /// The path of `name` in the test's folder.
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

}  // namespace kiln::test_support
