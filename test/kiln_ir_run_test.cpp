// `kiln-ir run` computes what the library computes in-process for the same graph: each case
// builds tensors, writes the pending graph of the result (the text KILN_DUMP would write) and its
// inputs as .npy, runs the tool, and compares the output .npy with the materialised result.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "lib/frontend/tensor_impl.h"
#include "lib/ir/parse.h"
#include "test/kiln_ir_tool.h"
#include "tools/kiln-ir/npy.h"

namespace {

using kiln::Tensor;

using kiln::test_support::runTool;
using kiln::test_support::ToolResult;

class KilnIrRun : public kiln::test_support::ToolTest {
 protected:
  static kiln::tools::NpyArray toNpy(const Tensor& t) {
    Tensor c = t.contiguous();
    kiln::tools::NpyArray a;
    a.dtype = c.scalar_type();
    a.shape.assign(c.sizes().begin(), c.sizes().end());
    const auto* p = static_cast<const char*>(c.data_ptr());
    a.data.assign(p, p + c.numel() * kiln::elementSize(a.dtype));
    return a;
  }

  // Writes `result`'s pending graph and `inputs` (materialised, contiguous tensors whose
  // storages are the graph's params, told apart by dtype and size), runs the tool and checks its
  // output against `result` computed in-process.
  void expectSameAsLibrary(const Tensor& result, const std::vector<Tensor>& inputs) {
    const std::string text = kiln::detail::pendingGraphText(result);
    const std::string graph_path = path("graph.kir");
    std::ofstream(graph_path) << text;
    kiln::ir::ParseResult parsed = kiln::ir::parseGraph(text);
    ASSERT_TRUE(parsed.graph) << parsed.error;
    const kiln::ir::Graph& g = *parsed.graph;
    std::string args = "run '" + graph_path + "'";
    for (int32_t k = 0; k < g.paramCount(); ++k) {
      const kiln::ir::NodeDesc& d = g.instrs[g.paramInstr(k)].d;
      int match = -1;
      for (size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].scalar_type() == d.dtype && inputs[i].numel() == d.numel()) {
          ASSERT_EQ(match, -1) << "param " << k << " matches two inputs: make their sizes differ";
          match = static_cast<int>(i);
        }
      }
      ASSERT_GE(match, 0) << "param " << k << " matches no input\n" << text;
      const std::string npy = path("in" + std::to_string(k) + ".npy");
      std::string error;
      ASSERT_TRUE(kiln::tools::writeNpy(npy, toNpy(inputs[match]), &error)) << error;
      args += " --input " + std::to_string(k) + "='" + npy + "'";
    }
    const std::string out = path("out.npy");
    ToolResult r = runTool(args + " --output 0='" + out + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "") << "outputs written to files are not printed";
    EXPECT_NE(r.err.find("kernel"), std::string::npos) << r.err;

    kiln::tools::NpyArray got;
    std::string error;
    ASSERT_TRUE(kiln::tools::readNpy(out, &got, &error)) << error;
    kiln::tools::NpyArray want = toNpy(result);
    ASSERT_EQ(got.dtype, want.dtype);
    ASSERT_EQ(got.numel(), want.numel());
    ASSERT_EQ(got.data.size(), want.data.size());
    const int64_t n = want.numel();
    for (int64_t i = 0; i < n; ++i) {
      double a = 0, b = 0;
      if (want.dtype == kiln::kFloat) {
        float x, y;
        std::memcpy(&x, got.data.data() + 4 * i, 4);
        std::memcpy(&y, want.data.data() + 4 * i, 4);
        a = x;
        b = y;
      } else if (want.dtype == kiln::kDouble) {
        std::memcpy(&a, got.data.data() + 8 * i, 8);
        std::memcpy(&b, want.data.data() + 8 * i, 8);
      } else {
        EXPECT_EQ(got.data, want.data);
        break;
      }
      // The same graph gives the same kernels: the values agree to the last bit or nearly.
      EXPECT_NEAR(a, b, 1e-6 * std::max(1.0, std::abs(b))) << "element " << i << "\n" << text;
    }
  }
};

TEST_F(KilnIrRun, SeedChain) {
  kiln::manual_seed(1);
  Tensor x = kiln::rand({5, 3});
  Tensor y = kiln::rand({1, 3});  // broadcast: a different size tells the params apart
  kiln::eval({x, y});
  Tensor z = kiln::tanh((x + y) * 0.5) + kiln::exp(-(x * x)) * 0.25;
  expectSameAsLibrary(z, {x, y});
}

TEST_F(KilnIrRun, Softmax) {
  kiln::manual_seed(2);
  Tensor x = kiln::randn({4, 10}, kiln::kDouble);
  x.eval();
  expectSameAsLibrary(kiln::softmax(x, 1), {x});
}

TEST_F(KilnIrRun, LayerNormWithAViewOfALargerStorage) {
  kiln::manual_seed(3);
  Tensor x = kiln::randn({4, 6});
  Tensor gamma = kiln::rand({6});
  Tensor storage = kiln::rand({12});
  kiln::eval({x, gamma, storage});
  Tensor beta = storage.narrow(0, 3, 6);  // the param is the whole 12-element storage
  Tensor mu = x.mean({1}, true);
  Tensor xc = x - mu;
  Tensor var = (xc * xc).mean({1}, true);
  expectSameAsLibrary(xc * kiln::rsqrt(var + 1e-5) * gamma + beta, {x, gamma, storage});
}

TEST_F(KilnIrRun, MlpForward) {
  kiln::manual_seed(4);
  Tensor x = kiln::randn({4, 8});
  Tensor w1 = kiln::randn({8, 16});
  Tensor b1 = kiln::randn({16});
  Tensor w2 = kiln::randn({16, 10});
  Tensor b2 = kiln::randn({10});
  kiln::eval({x, w1, b1, w2, b2});
  Tensor h = kiln::relu(kiln::matmul(x, w1) + b1);
  Tensor loss = -kiln::log_softmax(kiln::matmul(h, w2) + b2, 1).mean();
  expectSameAsLibrary(loss, {x, w1, b1, w2, b2});
}

TEST_F(KilnIrRun, RandomNumbersInsideTheGraph) {
  kiln::manual_seed(5);
  Tensor r = kiln::randn({3, 7}) * 2 + kiln::rand({3, 7});
  expectSameAsLibrary(r, {});
}

TEST_F(KilnIrRun, IntegerAndBoolResults) {
  Tensor x = kiln::arange(12).view({3, 4});
  x.eval();
  expectSameAsLibrary(x.argmax(1), {x});
  expectSameAsLibrary(kiln::logical_and(x > 5, x < 9), {x});
}

TEST_F(KilnIrRun, PrintsLikeTheLibrary) {
  kiln::manual_seed(6);
  Tensor x = kiln::randn({3, 4}, kiln::kDouble);
  x.eval();
  Tensor y = kiln::softmax(x, 0);
  std::ofstream(path("g.kir")) << kiln::detail::pendingGraphText(y);
  std::string error;
  ASSERT_TRUE(kiln::tools::writeNpy(path("x.npy"), toNpy(x), &error)) << error;
  ToolResult r = runTool("run '" + path("g.kir") + "' --input %0='" + path("x.npy") + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  std::ostringstream want;
  want << "output 0: %"
       << kiln::ir::parseGraph(kiln::detail::pendingGraphText(y)).graph->outputs[0].value
       << " f64[3,4]\n"
       << y << "\n";
  EXPECT_EQ(r.out, want.str());
}

TEST_F(KilnIrRun, SeededRandomInputsAreReproducible) {
  std::ofstream(path("g.kir")) << "graph {\n  %0 = param 0 : f32[6]\n  %1 = exp %0 : f32[6]\n"
                                  "  return %1\n}\n";
  ToolResult a = runTool("run '" + path("g.kir") + "' --seed 3");
  ToolResult b = runTool("run '" + path("g.kir") + "' --seed=3");
  ToolResult c = runTool("run '" + path("g.kir") + "' --seed 4");
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

TEST_F(KilnIrRun, ConvertsInputDtypes) {
  // A float64 array (NumPy's default) feeds a float32 param.
  std::ofstream(path("g.kir")) << "graph {\n  %0 = param 0 : f32[3]\n  return %0\n}\n";
  kiln::tools::NpyArray a;
  a.dtype = kiln::kDouble;
  a.shape = {3};
  double v[3] = {1.5, -2, 3.25};
  a.data.assign(reinterpret_cast<const char*>(v), sizeof v);
  std::string error;
  ASSERT_TRUE(kiln::tools::writeNpy(path("x.npy"), a, &error));
  ToolResult r = runTool("run '" + path("g.kir") + "' --input 0='" + path("x.npy") + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "output 0: %0 f32[3]\ntensor([ 1.5000, -2.0000,  3.2500])\n");
}

// The 8- and 16-bit types read and write as NumPy's '|u1', '|i1', '<i2' and '<f2'; bfloat16, which
// NumPy lacks, is refused.
TEST_F(KilnIrRun, SmallTypesInNpyFiles) {
  std::ofstream(path("g.kir")) << "graph {\n  %0 = param 0 : u8[3]\n  %1 = cast %0 : f16[3]\n"
                                  "  %2 = const 3 : f16[3]\n  %3 = div %1, %2 : f16[3]\n"
                                  "  %4 = cast %3 : bf16[3]\n  %5 = cast %0 : i8[3]\n"
                                  "  %6 = cast %0 : i16[3]\n  return %3, %4, %5, %6\n}\n";
  kiln::tools::NpyArray a;
  a.dtype = kiln::kByte;
  a.shape = {3};
  a.data = std::string("\x01\x02\xc8", 3);  // 1, 2, 200
  std::string error;
  ASSERT_TRUE(kiln::tools::writeNpy(path("x.npy"), a, &error));
  std::ifstream raw(path("x.npy"), std::ios::binary);
  std::string header((std::istreambuf_iterator<char>(raw)), std::istreambuf_iterator<char>());
  EXPECT_NE(header.find("'descr': '|u1'"), std::string::npos) << header;
  const std::string run = "run '" + path("g.kir") + "' --input 0='" + path("x.npy") + "'";
  ToolResult r = runTool(run + " --output 0='" + path("h.npy") + "' --output 2='" + path("c.npy") +
                         "' --output 3='" + path("s.npy") + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  kiln::tools::NpyArray h, c, s;
  ASSERT_TRUE(kiln::tools::readNpy(path("h.npy"), &h, &error)) << error;
  ASSERT_TRUE(kiln::tools::readNpy(path("c.npy"), &c, &error)) << error;
  ASSERT_TRUE(kiln::tools::readNpy(path("s.npy"), &s, &error)) << error;
  ASSERT_EQ(h.dtype, kiln::kHalf);
  std::vector<uint16_t> bits(3);
  std::memcpy(bits.data(), h.data.data(), 6);
  // 1/3, 2/3 and 200/3 rounded to half, worked out by hand.
  EXPECT_EQ(bits, (std::vector<uint16_t>{0x3555, 0x3955, 0x542B}));
  EXPECT_EQ(c.dtype, kiln::kChar);
  EXPECT_EQ(c.data, std::string("\x01\x02\xc8", 3));  // 200 is -56 as int8
  EXPECT_EQ(s.dtype, kiln::kShort);
  EXPECT_EQ(s.data, std::string("\x01\x00\x02\x00\xc8\x00", 6));
  ToolResult bf = runTool(run + " --output 1='" + path("b.npy") + "'");
  EXPECT_EQ(bf.status, 1);
  EXPECT_EQ(bf.err,
            "kiln-ir: error: cannot write a bfloat16 array as .npy: NumPy has no bfloat16 dtype\n");
  EXPECT_FALSE(std::ifstream(path("b.npy")).good());
}

TEST_F(KilnIrRun, BadInputsFailClearly) {
  std::ofstream(path("g.kir")) << "graph {\n  %0 = param 0 : f32[4]\n  return %0\n}\n";
  const std::string g = "run '" + path("g.kir") + "'";
  kiln::tools::NpyArray a;
  a.dtype = kiln::kFloat;
  a.shape = {5};
  a.data.assign(20, '\0');
  std::string error;
  ASSERT_TRUE(kiln::tools::writeNpy(path("five.npy"), a, &error));
  std::ofstream(path("junk.npy")) << "not numpy";

  struct Case {
    std::string args, message;
    int status;
  };
  const std::vector<Case> cases = {
      {" --input 0='" + path("missing.npy") + "'", path("missing.npy") + ": cannot open file", 1},
      {" --input 0='" + path("junk.npy") + "'",
       path("junk.npy") + ": not a .npy file (no \\x93NUMPY magic string)", 1},
      {" --input 0='" + path("five.npy") + "'",
       path("five.npy") + ": 5 elements, but param 0 is f32[4]", 1},
      {" --input 1=x.npy", "kiln-ir: --input 1=x.npy: the graph has 1 param", 1},
      {" --output 3=y.npy", "kiln-ir: --output 3=y.npy: the graph has 1 output", 1},
      {" --input x.npy", "kiln-ir: --input takes K=PATH (K a number), got 'x.npy'", 2},
      {" --seed -1", "kiln-ir: --seed takes a non-negative integer, got '-1'", 2},
      {" --frob", "kiln-ir: unknown option '--frob' for 'run'", 2},
  };
  for (const Case& c : cases) {
    ToolResult r = runTool(g + c.args);
    EXPECT_EQ(r.status, c.status) << c.args;
    EXPECT_EQ(r.out, "") << c.args;
    EXPECT_EQ(r.err.substr(0, r.err.find('\n')), c.message) << c.args;
  }
}

}  // namespace
