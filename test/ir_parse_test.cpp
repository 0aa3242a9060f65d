// The graph text reads back to the same graph: print(parse(text)) == text, with precise errors.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include "lib/frontend/tensor_impl.h"
#include "lib/interp/reference.h"
#include "lib/ir/parse.h"

namespace {

using kiln::Tensor;

std::string roundTrip(const std::string& text) {
  kiln::ir::ParseResult r = kiln::ir::parseGraph(text, "t.kir");
  EXPECT_TRUE(r.graph.has_value()) << r.error << "\n" << text;
  return r.graph ? r.graph->text() : "";
}

TEST(IrParse, RoundTripsGraphsRecordedFromPrograms) {
  kiln::manual_seed(3);
  Tensor x = kiln::rand({5, 3});
  Tensor y = kiln::randn({5, 3}, kiln::kDouble);
  x.eval();
  std::vector<Tensor> graphs = {
      kiln::tanh((x + 1) * 0.5) + kiln::exp(-(x * x)) * 0.25,
      (x.t().to(kiln::kDouble) * 1e-300).sum({0}, true),
      kiln::softmax(y, 1),
      x.argmax(1),
      kiln::where(x > 0.5, x, kiln::zeros_like(x)),
      kiln::cat({x, x.narrow(0, 1, 2)}),
      kiln::arange(7).view({7, 1}).expand({7, 4}) + kiln::eye(7, 4, kiln::kLong),
  };
  for (const Tensor& t : graphs) {
    std::string text = kiln::detail::pendingGraphText(t);
    EXPECT_EQ(roundTrip(text), text);
  }
}

TEST(IrParse, ParsedGraphComputesTheSameValues) {
  Tensor x = kiln::tensor({1.0, 2.0, 3.0, 4.0});
  Tensor t = (x.view({2, 2}).t() * 3 - 1).sum({1});
  kiln::ir::ParseResult r = kiln::ir::parseGraph(kiln::detail::pendingGraphText(t));
  ASSERT_TRUE(r.graph) << r.error;
  auto values = kiln::interp::interpret(*r.graph, {{1, 2, 3, 4}});
  // column sums of 3*[[1,2],[3,4]] - 1, kept as [2, 1]
  EXPECT_EQ(values[r.graph->outputs[0].value], (std::vector<double>{3 * 4 - 2, 3 * 6 - 2}));
}

TEST(IrParse, ErrorsNameTheFileLineAndColumn) {
  auto error = [](const std::string& text) { return kiln::ir::parseGraph(text, "g.kir").error; };
  EXPECT_EQ(error("graph {\n  %0 = param 0 : f32[4\n  return %0\n}\n"),
            "g.kir:2:23: expected ']' after shape");
  EXPECT_EQ(error("graph {\n  %0 = frob : f32[4]\n  return %0\n}\n"),
            "g.kir:2:8: unknown op 'frob'");
  EXPECT_EQ(error("graph {\n  %1 = param 0 : f32[4]\n  return %1\n}\n"),
            "g.kir:2:4: expected %0 (values are numbered in order)");
  EXPECT_EQ(error("graph {\n  %0 = param 0 : f32[4]\n  %1 = add %0, %2 : f32[4]\n  return %1\n}\n"),
            "g.kir:3:17: operand %2 is not defined before this instruction");
  EXPECT_EQ(error("graph {\n  %0 = param 0 : f32[4]\n  %1 = strided %0 {strides=[2], offset=1} : "
                  "f32[2]\n  return %1\n}\n"),
            "");
  EXPECT_EQ(error("graph {\n  %0 = param 0 : f32[4]\n  %1 = strided %0 {strides=[2], offset=2} : "
                  "f32[2]\n  return %1\n}\n"),
            "g.kir:3:1: %1: strided reads outside its operand's 4 elements");
  EXPECT_EQ(error("graph {\n  %0 = param 0 : f32[4]\n"),
            "g.kir:3:1: expected 'return' before the end of the input");
  EXPECT_EQ(error(""), "g.kir:1:1: expected 'graph'");
}

TEST(Errors, WritingThroughAnExpandedViewIsRefused) {
  Tensor x = kiln::zeros({3, 1});
  Tensor e = x.expand({3, 4});
  try {
    e.add_(1);
    FAIL() << "expected kiln::Error";
  } catch (const kiln::Error& err) {
    EXPECT_NE(std::string(err.what())
                  .find("more than one element of the written-to tensor refers to a single memory "
                        "location"),
              std::string::npos);
  }
  EXPECT_EQ(x.sum().item<float>(), 0.0f);
}

}  // namespace
