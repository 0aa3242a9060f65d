// `kiln-ir run --grad` against finite differences: each graph is run by the tool with --grad
// (kiln's backward rules, compiled), and every gradient element is compared with the central
// difference of the loss computed by the reference interpreter on the same graph in double
// precision. Also the gradient graph's text round trip and the request errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "lib/interp/reference.h"
#include "lib/ir/parse.h"
#include "test/kiln_ir_tool.h"
#include "tools/kiln-ir/npy.h"

namespace {

using kiln::ir::Graph;

using kiln::test_support::runTool;
using kiln::test_support::ToolResult;

std::string golden(const std::string& name) {
  return std::string(KILN_IR_GOLDEN_DIR) + "/" + name;
}

Graph load(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  kiln::ir::ParseResult r = kiln::ir::parseGraph(ss.str(), path);
  if (!r.graph) ADD_FAILURE() << r.error;
  return r.graph ? *r.graph : Graph{};
}

// The same graph computing in double: the finite differences then measure the function itself,
// not float rounding.
Graph inDouble(Graph g) {
  for (kiln::ir::Instr& in : g.instrs) {
    if (in.d.dtype == kiln::kFloat) in.d.dtype = kiln::kDouble;
  }
  return g;
}

std::vector<double> readValues(const std::string& path) {
  kiln::tools::NpyArray a;
  std::string error;
  EXPECT_TRUE(kiln::tools::readNpy(path, &a, &error)) << error;
  std::vector<double> v(a.numel());
  for (int64_t i = 0; i < a.numel(); ++i) {
    float f;
    std::memcpy(&f, a.data.data() + 4 * i, 4);
    v[i] = f;
  }
  return v;
}

class KilnIrGrad : public kiln::test_support::ToolTest {
 protected:
  // Runs FILE's gradient graph on float inputs in [0.5, 1.5) and checks the loss and every
  // gradient element of every float param against the reference interpreter.
  void expectFiniteDifferences(const std::string& file, double tol) {
    const Graph g = load(golden(file));
    const Graph g64 = inDouble(g);
    const int32_t params = g.paramCount();
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> dist(0.5, 1.5);
    std::vector<std::vector<double>> values(params);
    std::string args = "run '" + golden(file) + "' --grad";
    for (int32_t k = 0; k < params; ++k) {
      const kiln::ir::NodeDesc& d = g.instrs[g.paramInstr(k)].d;
      ASSERT_EQ(d.dtype, kiln::kFloat) << "these graphs take float params";
      kiln::tools::NpyArray a;
      a.dtype = kiln::kFloat;
      a.shape = d.shape;
      for (int64_t i = 0; i < d.numel(); ++i) {
        float f = static_cast<float>(dist(rng));
        values[k].push_back(f);  // the float the tool reads, exactly
        a.data.append(reinterpret_cast<const char*>(&f), 4);
      }
      const std::string input = path("in" + std::to_string(k) + ".npy");
      std::string error;
      ASSERT_TRUE(kiln::tools::writeNpy(input, a, &error)) << error;
      args += " --input " + std::to_string(k) + "='" + input + "'";
    }
    for (int32_t j = 0; j <= params; ++j)
      args +=
          " --output " + std::to_string(j) + "='" + path("out" + std::to_string(j) + ".npy") + "'";
    ToolResult r = runTool(args);
    ASSERT_EQ(r.status, 0) << r.err;

    auto loss = [&](const std::vector<std::vector<double>>& p) {
      return kiln::interp::interpret(g64, p)[g64.outputs[0].value][0];
    };
    const double want_loss = loss(values);
    const double got_loss = readValues(path("out0.npy"))[0];
    EXPECT_NEAR(got_loss, want_loss, 1e-5 * std::max(1.0, std::fabs(want_loss)));
    for (int32_t k = 0; k < params; ++k) {
      const std::vector<double> got = readValues(path("out" + std::to_string(k + 1) + ".npy"));
      ASSERT_EQ(got.size(), values[k].size()) << "the gradient has its param's elements";
      for (size_t i = 0; i < got.size(); ++i) {
        const double h = 1e-6;
        std::vector<std::vector<double>> moved = values;
        moved[k][i] = values[k][i] + h;
        const double up = loss(moved);
        moved[k][i] = values[k][i] - h;
        const double numeric = (up - loss(moved)) / (2 * h);
        EXPECT_NEAR(got[i], numeric, tol * std::max(1.0, std::fabs(numeric)))
            << file << ": param " << k << " element " << i;
      }
    }
  }
};

TEST_F(KilnIrGrad, ManyOpsMatchFiniteDifferences) {
  expectFiniteDifferences("grad.kir", 1e-4);
}

TEST_F(KilnIrGrad, MlpMatchesFiniteDifferences) {
  expectFiniteDifferences("mlp.kir", 1e-4);
}

// What `dump --grad --stage=recorded` prints is a graph file of its own: it parses, prints back
// the same, and says what its outputs are.
TEST_F(KilnIrGrad, GradientGraphRoundTrips) {
  ToolResult r = runTool("dump '" + golden("grad.kir") + "' --grad=0:2,0 --stage=recorded");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  kiln::ir::ParseResult parsed = kiln::ir::parseGraph(r.out, "grad");
  ASSERT_TRUE(parsed.graph) << parsed.error;
  const std::string text = parsed.graph->text();
  ASSERT_GE(r.out.size(), text.size());
  EXPECT_EQ(r.out.substr(r.out.size() - text.size()), text);
  EXPECT_NE(r.out.find("# outputs: 0 = the loss, 1 = d/d param 2, 2 = d/d param 0\n"),
            std::string::npos)
      << r.out;
  ASSERT_EQ(parsed.graph->outputs.size(), 3u);
  EXPECT_EQ(parsed.graph->paramCount(), 3) << "every param keeps its number";
  const Graph& gg = *parsed.graph;
  EXPECT_EQ(gg.instrs[gg.outputs[1].value].d.shape, std::vector<int64_t>{3});
  EXPECT_EQ(gg.instrs[gg.outputs[2].value].d.shape, std::vector<int64_t>{12});
}

TEST_F(KilnIrGrad, RequestsThatDoNotFitTheGraphFail) {
  const std::string file = "'" + golden("grad.kir") + "'";
  ToolResult r = runTool("dump " + file + " --grad=1 --stage=recorded");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "kiln-ir: error: grad can be implicitly created only for scalar outputs\n");
  r = runTool("dump " + file + " --grad=2 --stage=recorded");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "kiln-ir: error: --grad: the graph has 2 outputs, so there is no output 2\n");
  r = runTool("run " + file + " --grad=0:3");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "kiln-ir: error: --grad: the graph has 3 params, so there is no param 3\n");
  r = runTool("explain " + file + " --grad=0:");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--grad takes LOSS or LOSS:P,Q,..."), std::string::npos) << r.err;
}

}  // namespace
