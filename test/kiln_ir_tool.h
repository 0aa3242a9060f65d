#pragma once
// Runs kiln's command-line tools (kiln-ir, kiln-bench) for their tests.
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

/// Runs `PROGRAM ARGS` through the shell (ARGS quoted as needed), with `environment`
/// ("NAME=value ...", or "") added to its environment, and collects its exit status, stdout and
/// stderr.
inline ToolResult runProgram(const std::string& program, const std::string& args,
                             const std::string& environment = "") {
  namespace fs = std::filesystem;
  static int seq = 0;
  const fs::path err_path =
      fs::temp_directory_path() /
      ("kiln_ir_tool_" + std::to_string(getpid()) + "_" + std::to_string(seq++) + ".err");
  const std::string cmd = (environment.empty() ? "" : "env " + environment + " ") + "'" + program +
                          "' " + args + " 2>'" + err_path.string() + "'";
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

#ifdef KILN_IR_TOOL
/// Runs `kiln-ir ARGS` (KILN_IR_TOOL, set by test/CMakeLists.txt).
inline ToolResult runTool(const std::string& args) {
  return runProgram(KILN_IR_TOOL, args);
}
#endif

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
