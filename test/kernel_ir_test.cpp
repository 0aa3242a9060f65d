// The kernel IR's loop roles and the CPU backend's loop-nest decision (codegen/kernel.h,
// codegen/llvm/cpu_schedule.h), on kernels built by hand and on kernels the scheduler makes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codegen/builder.h"
#include "codegen/llvm/cpu_schedule.h"
#include "lib/ir/parse.h"
#include "lib/sched/schedule.h"

namespace {

using kiln::ScalarType;
using kiln::codegen::CpuSchedule;
using kiln::codegen::cpuSchedule;
using kiln::codegen::Kernel;
using kiln::codegen::KernelBuilder;
using kiln::codegen::Lin;
using kiln::codegen::LoopRole;
using kiln::codegen::ReduceKind;
using kiln::codegen::ScalarOp;
using kiln::codegen::Store;
using Accumulate = kiln::codegen::CpuSchedule::Accumulate;

constexpr auto kFloat = ScalarType::Float;
constexpr auto kParallel = LoopRole::Parallel;
constexpr auto kReduction = LoopRole::Reduction;

// b.var(x) * k
Lin scaled(KernelBuilder& b, int32_t loop, int64_t k) {
  return b.scale(b.var(loop), k);
}

// out[i*n + j] = a[j*stride + i] (+ c[j*stride + i] when `two_inputs`): inputs read transposed
// (stride m by default).
Kernel transposed(int64_t m, int64_t n, bool two_inputs, int64_t stride = 0) {
  KernelBuilder b;
  int32_t i = b.addLoop(m, kParallel), j = b.addLoop(n, kParallel);
  int32_t out = b.addBuffer(kFloat, true);
  Lin src = b.add(b.var(i), scaled(b, j, stride ? stride : m));
  int32_t v = b.load(b.addBuffer(kFloat, false), src);
  if (two_inputs) v = b.op(ScalarOp::Add, kFloat, v, b.load(b.addBuffer(kFloat, false), src));
  Store st;
  st.buffer = out;
  st.index = b.materialize(b.add(scaled(b, i, n), b.var(j)));
  st.value = v;
  b.store(st);
  return b.take();
}

// The sum of an m x n row-major matrix over dim 0 (`rows` false) or dim 1 (`rows` true), with
// the loops in the matrix's dimension order, as the scheduler makes them.
Kernel matrixSum(int64_t m, int64_t n, bool rows, ReduceKind kind = ReduceKind::Sum) {
  KernelBuilder b;
  int32_t i = b.addLoop(m, rows ? kParallel : kReduction);
  int32_t j = b.addLoop(n, rows ? kReduction : kParallel);
  Store st;
  st.buffer = b.addBuffer(kind == ReduceKind::ArgMax ? ScalarType::Long : kFloat, true);
  st.value = b.load(b.addBuffer(kFloat, false), b.add(scaled(b, i, n), b.var(j)));
  st.index = b.materialize(b.var(rows ? i : j));
  st.reduce = kind;
  if (kind == ReduceKind::ArgMax) {
    st.best_buffer = b.addBuffer(kFloat, true);
    st.position = b.materialize(b.var(j));
  }
  b.store(st);
  return b.take();
}

// out[i*n + j] = sum over k of a[i*kk + k] * c[k*n + j], loops [i, j, k].
Kernel matmul(int64_t m, int64_t n, int64_t kk) {
  KernelBuilder b;
  int32_t i = b.addLoop(m, kParallel), j = b.addLoop(n, kParallel), k = b.addLoop(kk, kReduction);
  Store st;
  st.buffer = b.addBuffer(kFloat, true);
  int32_t a = b.load(b.addBuffer(kFloat, false), b.add(scaled(b, i, kk), b.var(k)));
  int32_t c = b.load(b.addBuffer(kFloat, false), b.add(scaled(b, k, n), b.var(j)));
  st.value = b.op(ScalarOp::Mul, kFloat, a, c);
  st.index = b.materialize(b.add(scaled(b, i, n), b.var(j)));
  st.reduce = ReduceKind::Sum;
  b.store(st);
  return b.take();
}

TEST(CpuSchedule, TransposedReadsPutTheirUnitStrideLoopInnermost) {
  // Loop 0 walks both inputs with unit stride (2 + 2) and the output with stride n (0); loop 1
  // walks only the output with unit stride.
  const Kernel k = transposed(3, 4, true);
  CpuSchedule s = cpuSchedule(k);
  EXPECT_EQ(s.order, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(s.access_score, (std::vector<int32_t>{4, 2}));
  EXPECT_TRUE(s.moved);
  EXPECT_EQ(s.accumulate, Accumulate::None);
  // Both loops are parallel: threads divide all 12 points.
  EXPECT_EQ(s.split_loops, 2u);
  EXPECT_EQ(s.work(k, nullptr).units, 12);
  EXPECT_EQ(s.text(k),
            "cpu: order=[1,0] (innermost loop 0: best access score of [4,2]), threads split loops "
            "[1,0] (12 units)");
}

TEST(CpuSchedule, TiesAndContiguousAccessesKeepTheLoopsOwnOrder) {
  // One transposed input: each loop has unit stride in one access of two.
  const Kernel k = transposed(3, 4, false);
  CpuSchedule tie = cpuSchedule(k);
  EXPECT_EQ(tie.access_score, (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(tie.order, (std::vector<int32_t>{0, 1}));
  EXPECT_FALSE(tie.moved);
  EXPECT_EQ(tie.text(k),
            "cpu: order=[0,1] (innermost loop 1: kept last, access scores [2,2]), threads split "
            "loops [0,1] (12 units)");
}

TEST(CpuSchedule, ALoopOfExtentOneNeverMovesInnermost) {
  // A column of a 4 x 3 matrix, read as a 1 x 4 transpose.
  CpuSchedule s = cpuSchedule(transposed(1, 4, true, 3));
  EXPECT_EQ(s.access_score, (std::vector<int32_t>{4, 2}));
  EXPECT_EQ(s.order, (std::vector<int32_t>{0, 1}));
  EXPECT_FALSE(s.moved);
}

TEST(CpuSchedule, RowReductionsAccumulateInRegisters) {
  // Loop 1 (the reduction) reads the row with unit stride and leaves the output in place.
  const Kernel k = matrixSum(3, 5, /*rows=*/true);
  CpuSchedule s = cpuSchedule(k);
  EXPECT_EQ(s.access_score, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(s.order, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(s.outer_parallel, 1u);
  EXPECT_EQ(s.accumulate, Accumulate::Registers);
  EXPECT_EQ(s.text(k),
            "cpu: order=[0,1] (innermost loop 1: kept last, access scores [2,3]), reduction in "
            "registers, threads split loops [0] (3 units)");
  CpuSchedule arg = cpuSchedule(matrixSum(3, 5, /*rows=*/true, ReduceKind::ArgMax));
  EXPECT_EQ(arg.order, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(arg.accumulate, Accumulate::Registers);
}

TEST(CpuSchedule, ColumnReductionsAccumulateInMemory) {
  // Summing over dim 0: the parallel loop 1 is contiguous in the input and the output, so it
  // stays innermost, inside the reduction loop: the partial sums live in the output.
  const Kernel k = matrixSum(3, 5, /*rows=*/false);
  CpuSchedule s = cpuSchedule(k);
  EXPECT_EQ(s.access_score, (std::vector<int32_t>{1, 4}));
  EXPECT_EQ(s.order, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(s.outer_parallel, 0u);
  EXPECT_EQ(s.accumulate, Accumulate::Memory);
  // The reduction loop is outermost: one thread runs it all (its order decides the rounding).
  EXPECT_EQ(s.split_loops, 0u);
  EXPECT_EQ(s.work(k, nullptr).units, 1);
  EXPECT_EQ(s.work(k, nullptr).points_per_unit, 15);
}

TEST(CpuSchedule, MatmulRunsItsOutputColumnsInnermost) {
  // i: strided in a and the output, in place in c (1); j: in place in a, unit stride in c and
  // the output (5); k: unit stride in a, strided in c, in place in the output (3).
  const Kernel k = matmul(2, 5, 3);
  CpuSchedule s = cpuSchedule(k);
  EXPECT_EQ(s.access_score, (std::vector<int32_t>{1, 5, 3}));
  EXPECT_EQ(s.order, (std::vector<int32_t>{0, 2, 1}));
  EXPECT_EQ(s.outer_parallel, 1u);
  EXPECT_EQ(s.accumulate, Accumulate::Memory);
  EXPECT_EQ(s.text(k),
            "cpu: order=[0,2,1] (innermost loop 1: best access score of [1,5,3]), reduction in "
            "memory, threads split loops [0] (2 units)");
}

TEST(CpuSchedule, KernelsWithoutAChoice) {
  KernelBuilder b;
  Store st;
  st.buffer = b.addBuffer(kFloat, true);
  st.index = b.intConst(0);
  st.value = b.floatConst(1.5, kFloat);
  b.store(st);
  const Kernel kb = b.take();
  EXPECT_EQ(cpuSchedule(kb).text(kb), "cpu: order=[]");
  KernelBuilder c;
  st.buffer = c.addBuffer(kFloat, true);
  st.index = c.materialize(c.var(c.addLoop(7, kParallel)));
  st.value = c.load(c.addBuffer(kFloat, false), c.var(0));
  c.store(st);
  const Kernel kc = c.take();
  EXPECT_EQ(cpuSchedule(kc).text(kc), "cpu: order=[0], threads split loops [0] (7 units)");
}

TEST(KernelIr, TextListsLoopsWithTheirRolesAndNoOrder) {
  // The CPU runs this nest as [0, 2, 1]; the kernel itself lists its loops by number.
  Kernel k = matmul(2, 5, 3);
  const std::string text = k.text();
  EXPECT_NE(text.find("\n  loops 0:2 1:5 2:3r\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("order"), std::string::npos) << text;
  EXPECT_TRUE(k.reduces());
  EXPECT_FALSE(transposed(3, 4, true).reduces());
}

// The one kernel step of a parsed graph.
kiln::sched::Step onlyStep(const std::string& text) {
  kiln::ir::ParseResult r = kiln::ir::parseGraph(text, "t.kir");
  EXPECT_TRUE(r.graph.has_value()) << r.error;
  if (!r.graph) return {};
  kiln::sched::Schedule s = kiln::sched::schedule(*r.graph);
  EXPECT_EQ(s.steps.size(), 1u) << s.text();
  return s.steps.empty() ? kiln::sched::Step{} : s.steps[0];
}

TEST(KernelIr, TheSchedulerSaysWhichLoopsReduce) {
  kiln::sched::Step st = onlyStep(R"(graph {
  %0 = param 0 : f32[12]
  %1 = strided %0 {strides=[4,1], offset=0} : f32[3,4]
  %2 = reduce.sum %1 {axes=[0]} : f32[1,4]
  return %2
})");
  const Kernel& k = st.kernel;
  ASSERT_EQ(k.loops.size(), 2u);
  EXPECT_EQ(k.extentAt(0, st.args.data()), 3);
  EXPECT_EQ(k.loops[0].role, kReduction);
  EXPECT_EQ(k.extentAt(1, st.args.data()), 4);
  EXPECT_EQ(k.loops[1].role, kParallel);
  EXPECT_EQ(cpuSchedule(k).accumulate, Accumulate::Memory);
}

TEST(KernelIr, LoopExtentsAreArguments) {
  // The same graph on 3 and on 5 rows gives one kernel text: the extents are arguments, and
  // a loop of one point keeps its constant extent.
  auto graph = [](int rows) {
    const std::string n = std::to_string(rows * 4);
    return "graph {\n  %0 = param 0 : f32[" + n +
           "]\n  %1 = strided %0 {strides=[4,1], offset=0} : f32[" + std::to_string(rows) +
           ",4]\n  %2 = reduce.sum %1 {axes=[1]} : f32[" + std::to_string(rows) +
           ",1]\n  return %2\n}";
  };
  kiln::sched::Step three = onlyStep(graph(3)), five = onlyStep(graph(5));
  EXPECT_EQ(three.kernel.text(), five.kernel.text());
  EXPECT_NE(three.kernel.text().find("\n  loops 0:arg0 1:arg1r\n"), std::string::npos)
      << three.kernel.text();
  EXPECT_EQ(three.args, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(five.args, (std::vector<uint64_t>{5, 4}));
  kiln::sched::Step one = onlyStep(graph(1));
  EXPECT_NE(one.kernel.text().find("\n  loops 0:1 1:arg0r\n"), std::string::npos)
      << one.kernel.text();
}

TEST(KernelIr, TheCpuOrderOfAScheduledTransposeComesFromTheKernel) {
  kiln::sched::Step st = onlyStep(R"(graph {
  %0 = param 0 : f32[12]
  %1 = strided %0 {strides=[1,3], offset=0} : f32[3,4]
  %2 = param 1 : f32[12]
  %3 = strided %2 {strides=[1,3], offset=0} : f32[3,4]
  %4 = add %1, %3 : f32[3,4]
  return %4
})");
  const Kernel& k = st.kernel;
  // The last loop, a parallel one inside another, keeps its extent (the backend's vector loop).
  EXPECT_NE(k.text().find("\n  loops 0:arg0 1:4\n"), std::string::npos) << k.text();
  EXPECT_EQ(st.args, (std::vector<uint64_t>{3}));
  EXPECT_EQ(cpuSchedule(k).order, (std::vector<int32_t>{1, 0}));
}

}  // namespace
