// The kernel profiler (kiln::profiler, runtime/profiler.h): the byte, FLOP and roofline
// arithmetic on hand-built kernels, one event per launch, the table and the trace file. No
// assertion depends on how long anything takes.
#include "runtime/profiler.h"

#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "codegen/kernel.h"
#include "test/json_parser.h"

namespace {

namespace prof = kiln::runtime::profiler;
using kiln::codegen::Expr;
using kiln::codegen::ExprKind;
using kiln::codegen::Kernel;
using kiln::codegen::LoopRole;
using kiln::codegen::ReduceKind;
using kiln::codegen::ScalarOp;
using kiln::codegen::Store;

// ---- hand-built kernels ----

int32_t add(Kernel& k, Expr e) {
  k.exprs.push_back(e);
  return static_cast<int32_t>(k.exprs.size()) - 1;
}
int32_t loopVar(Kernel& k, int32_t l) {
  Expr e;
  e.kind = ExprKind::LoopVar;
  e.i = l;
  return add(k, e);
}
int32_t intConst(Kernel& k, int64_t v) {
  Expr e;
  e.kind = ExprKind::IntConst;
  e.i = v;
  return add(k, e);
}
int32_t op(Kernel& k, ScalarOp sop, kiln::ScalarType type, int32_t a, int32_t b = -1) {
  Expr e;
  e.kind = ExprKind::Op;
  e.sop = sop;
  e.type = type;
  e.a = a;
  e.b = b;
  return add(k, e);
}
int32_t load(Kernel& k, int32_t buffer, int32_t index) {
  Expr e;
  e.kind = ExprKind::Load;
  e.type = kiln::kFloat;
  e.i = buffer;
  e.a = index;
  return add(k, e);
}
int32_t acc(Kernel& k, int32_t phase) {
  Expr e;
  e.kind = ExprKind::Acc;
  e.type = kiln::kFloat;
  e.i = phase;
  return add(k, e);
}
// row * columns + column, in i64: index arithmetic.
int32_t rowMajor(Kernel& k, int32_t row, int64_t columns, int32_t column) {
  return op(k, ScalarOp::Add, kiln::kLong,
            op(k, ScalarOp::Mul, kiln::kLong, loopVar(k, row), intConst(k, columns)),
            loopVar(k, column));
}

// out[i] = x[i] + y[i] over n floats.
Kernel elementwiseAdd(int64_t n) {
  Kernel k;
  k.buffers = {{kiln::kFloat, false}, {kiln::kFloat, false}, {kiln::kFloat, true}};
  k.loops = {{n, LoopRole::Parallel}};
  const int32_t i = loopVar(k, 0);
  const int32_t sum = op(k, ScalarOp::Add, kiln::kFloat, load(k, 0, i), load(k, 1, i));
  k.stores.push_back(Store{2, i, sum});
  return k;
}

// C[m, n] = sum_k A[m, k] * B[k, n], the row count an argument (as generic kernels have it).
Kernel matrixProduct(int64_t k_extent, int64_t n) {
  Kernel k;
  k.buffers = {{kiln::kFloat, false}, {kiln::kFloat, false}, {kiln::kFloat, true}};
  k.args = {kiln::kLong};
  kiln::codegen::Loop rows;
  rows.extent = -1;
  rows.extent_arg = 0;
  k.loops = {rows, {n, LoopRole::Parallel}, {k_extent, LoopRole::Reduction}};
  const int32_t a = load(k, 0, rowMajor(k, 0, k_extent, 2));
  const int32_t b = load(k, 1, rowMajor(k, 2, n, 1));
  const int32_t product = op(k, ScalarOp::Mul, kiln::kFloat, a, b);
  Store st{2, rowMajor(k, 0, n, 1), product};
  st.reduce = ReduceKind::Sum;
  k.stores.push_back(st);
  return k;
}

// A softmax over rows of `columns`: phase 0 the row's max, phase 1 the sum of exp(x - max), then
// out = exp(x - max) / sum.
Kernel softmax(int64_t rows, int64_t columns) {
  Kernel k;
  k.buffers = {{kiln::kFloat, false}, {kiln::kFloat, true}};
  k.loops = {{rows, LoopRole::Parallel},
             {columns, LoopRole::Reduction},
             {columns, LoopRole::Reduction},
             {columns, LoopRole::Parallel}};
  k.outer = 1;
  kiln::codegen::Phase max_phase;
  max_phase.loops = {1};
  max_phase.reduce = ReduceKind::Max;
  max_phase.value = load(k, 0, rowMajor(k, 0, columns, 1));
  k.phases.push_back(max_phase);
  kiln::codegen::Phase sum_phase;
  sum_phase.loops = {2};
  sum_phase.value =
      op(k, ScalarOp::Exp, kiln::kFloat,
         op(k, ScalarOp::Sub, kiln::kFloat, load(k, 0, rowMajor(k, 0, columns, 2)), acc(k, 0)));
  k.phases.push_back(sum_phase);
  const int32_t at = rowMajor(k, 0, columns, 3);
  const int32_t e = op(k, ScalarOp::Exp, kiln::kFloat,
                       op(k, ScalarOp::Sub, kiln::kFloat, load(k, 0, at), acc(k, 0)));
  k.stores.push_back(Store{1, at, op(k, ScalarOp::Div, kiln::kFloat, e, acc(k, 1))});
  return k;
}

TEST(ProfilerCost, ElementwiseAddOf1000Floats) {
  const Kernel k = elementwiseAdd(1000);
  const int64_t bytes[] = {4000, 4000, 4000};
  const prof::KernelCost c = prof::kernelCost(prof::kernelWork(k, false), k, nullptr, bytes);
  EXPECT_EQ(c.flops, 1000);
  EXPECT_EQ(c.bytes, 12000);  // x and y read, out written: 3 * 1000 * 4
}

TEST(ProfilerCost, MatrixProductIsTwoMNK) {
  // [8, 16] x [16, 4]: 2 * 8 * 16 * 4 = 1024, whether the step says it is a matrix product or
  // the kernel's own arithmetic is counted (one multiply and one add per point); the index
  // arithmetic does not count.
  const Kernel k = matrixProduct(16, 4);
  const uint64_t args[] = {8};
  const int64_t bytes[] = {8 * 16 * 4, 16 * 4 * 4, 8 * 4 * 4};
  for (bool flagged : {true, false}) {
    const prof::KernelCost c = prof::kernelCost(prof::kernelWork(k, flagged), k, args, bytes);
    EXPECT_EQ(c.flops, 2 * 8 * 16 * 4) << flagged;
    EXPECT_EQ(c.bytes, 512 + 256 + 128) << flagged;
  }
  // The extent comes from the launch's arguments: a last, smaller batch of 3 rows.
  const uint64_t three_rows[] = {3};
  EXPECT_EQ(prof::kernelCost(prof::kernelWork(k, true), k, three_rows, bytes).flops,
            2 * 3 * 16 * 4);
}

TEST(ProfilerCost, PhasesCountPerRowAndOwnLoops) {
  // Per row of 10 columns: max phase 10 combines; sum phase 10 * (sub, exp, add); stores 10 *
  // (sub, exp, div). 7 ops per element, not a product over all four loops.
  const Kernel k = softmax(3, 10);
  const int64_t bytes[] = {120, 120};
  const prof::KernelCost c = prof::kernelCost(prof::kernelWork(k, false), k, nullptr, bytes);
  EXPECT_EQ(c.flops, 3 * 10 * 7);
  EXPECT_EQ(c.bytes, 240);
}

TEST(ProfilerCost, RatesAndRoofline) {
  // 12,000 bytes and 1,000 FLOPs in 1 us: 12 GB/s, 1 GFLOP/s.
  prof::Rates r = prof::rates(12000, 1000, 1000, {});
  EXPECT_DOUBLE_EQ(r.gbytes_per_s, 12.0);
  EXPECT_DOUBLE_EQ(r.gflops, 1.0);
  EXPECT_EQ(r.roofline_share, 0.0);
  // At 24 GB/s and 100 GFLOP/s the bytes need 500 ns, the FLOPs 10 ns: memory-bound, at half
  // of the roofline.
  r = prof::rates(12000, 1000, 1000, {24.0, 100.0});
  EXPECT_TRUE(r.memory_bound);
  EXPECT_DOUBLE_EQ(r.roofline_share, 0.5);
  // 2*512^3 FLOPs in 10 ms at 100 GFLOP/s: the FLOPs need 2.68 ms, so 26.8% and compute-bound.
  r = prof::rates(3 * 512 * 512 * 4, 2LL * 512 * 512 * 512, 10'000'000, {24.0, 100.0});
  EXPECT_FALSE(r.memory_bound);
  EXPECT_NEAR(r.roofline_share, 2.0 * 512 * 512 * 512 / 100.0 / 1e7, 1e-12);
  EXPECT_EQ(prof::rates(1, 1, 0, {}).gbytes_per_s, 0.0);  // nothing timed: no rate
}

TEST(ProfilerJson, EscapesStrings) {
  EXPECT_EQ(prof::jsonString("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

// ---- the trace must be JSON, not just look like it (test/json_parser.h) ----

using kiln::test_support::Json;
using kiln::test_support::JsonParser;

TEST(ProfilerJson, TheCheckerRejectsBrokenJson) {
  Json j;
  EXPECT_TRUE(JsonParser(R"({"a":[1,2.5,"x\"y"],"b":{}})").parse(&j));
  for (const char* bad : {R"({"a":1)", R"({"a":"x})", R"([1,2,])", R"({"a" 1})", "[1] 2"}) {
    EXPECT_FALSE(JsonParser(bad).parse(&j)) << bad;
  }
}

// ---- recording what materialisations launch ----

class Profiler : public ::testing::Test {
 protected:
  void SetUp() override {
    kiln::profiler::reset();
    kiln::profiler::set_machine_limits(0, 0);
    kiln::profiler::enable();
  }
  void TearDown() override {
    kiln::profiler::disable();
    kiln::profiler::reset();
    prof::setEventCapacity(1'000'000);
  }

  static int64_t kernelEvents(const prof::Snapshot& s) {
    return std::count_if(s.events.begin(), s.events.end(),
                         [&](const prof::Event& e) { return !s.rows[e.row].copy; });
  }
  static int64_t kernelCalls(const prof::Snapshot& s) {
    int64_t n = 0;
    for (const prof::Row& r : s.rows) n += r.copy ? 0 : r.calls;
    return n;
  }
};

// A few kernels of different kinds: a softmax (one kernel), a sum, a matrix product and the
// elementwise work around them.
void materialiseSmallGraph() {
  kiln::Tensor x = kiln::rand({16, 32});
  kiln::Tensor w = kiln::rand({32, 8});
  kiln::Tensor y = kiln::softmax(kiln::mm(kiln::relu(x * 2 - 1), w), 1);
  kiln::Tensor s = (y * y).sum();
  kiln::eval({y, s});
}

TEST_F(Profiler, RecordsOneEventPerKernelLaunch) {
  const kiln::Stats before = kiln::stats();
  materialiseSmallGraph();
  materialiseSmallGraph();  // the second time from the caches: the same kernels again
  const kiln::Stats after = kiln::stats();
  const prof::Snapshot s = prof::snapshot();
  const int64_t launched = after.kernels_run - before.kernels_run;
  ASSERT_GT(launched, 2);
  EXPECT_EQ(kernelEvents(s), launched);
  EXPECT_EQ(kernelCalls(s), launched);
  EXPECT_EQ(s.runs, after.materializations - before.materializations);
  EXPECT_EQ(s.dropped_events, 0);
  for (const prof::Row& r : s.rows) {
    if (r.copy) continue;
    EXPECT_EQ(r.calls % 2, 0) << r.kernel << " " << r.instr;  // each kernel once per run
    EXPECT_FALSE(r.instr.empty()) << r.kernel;
    EXPECT_FALSE(r.reason.empty()) << r.kernel;
  }
}

TEST_F(Profiler, DisabledRecordsNothing) {
  kiln::profiler::disable();
  EXPECT_FALSE(kiln::profiler::is_enabled());
  materialiseSmallGraph();
  prof::Snapshot s = prof::snapshot();
  EXPECT_TRUE(s.rows.empty());
  EXPECT_TRUE(s.events.empty());
  EXPECT_EQ(s.runs, 0);
  kiln::profiler::enable();
  EXPECT_TRUE(kiln::profiler::is_enabled());
  materialiseSmallGraph();
  EXPECT_FALSE(prof::snapshot().events.empty());
}

TEST_F(Profiler, MatrixProductAndAddCosts) {
  kiln::Tensor a = kiln::rand({8, 16});
  kiln::Tensor b = kiln::rand({16, 4});
  kiln::Tensor x = kiln::rand({1000});
  kiln::Tensor y = kiln::rand({1000});
  kiln::eval({a, b, x, y});  // inputs in buffers of their own, so the kernels below load them
  kiln::profiler::reset();
  kiln::mm(a, b).eval();
  (x + y).eval();
  const prof::Snapshot s = prof::snapshot();
  ASSERT_EQ(s.events.size(), 2u);
  // Whatever reason the scheduler gives the product's step, its count is 2*M*N*K.
  EXPECT_NE(s.rows[s.events[0].row].instr.find("reduce.sum"), std::string::npos);
  EXPECT_EQ(s.events[0].flops, 2 * 8 * 16 * 4);
  EXPECT_EQ(s.events[0].bytes, (8 * 16 + 16 * 4 + 8 * 4) * 4);
  EXPECT_EQ(s.events[1].flops, 1000);
  EXPECT_EQ(s.events[1].bytes, 12000);
}

TEST_F(Profiler, TableNamesEveryRow) {
  materialiseSmallGraph();
  const std::string t = kiln::profiler::table();
  const prof::Snapshot s = prof::snapshot();
  ASSERT_FALSE(s.rows.empty());
  for (const prof::Row& r : s.rows) {
    EXPECT_NE(t.find(r.kernel + " "), std::string::npos) << r.kernel << "\n" << t;
    EXPECT_NE(t.find(r.instr + "  # " + r.reason), std::string::npos) << r.instr << "\n" << t;
  }
  EXPECT_NE(t.find("GFLOP/s"), std::string::npos);
  EXPECT_EQ(t.find("roof%"), std::string::npos) << "no roofline without limits";
  EXPECT_NE(t.find("materialisations"), std::string::npos);
  // One line per row, a header and the totals.
  EXPECT_EQ(static_cast<size_t>(std::count(t.begin(), t.end(), '\n')), s.rows.size() + 2);
  kiln::profiler::set_machine_limits(20, 100);
  const std::string with_limits = kiln::profiler::table();
  EXPECT_NE(with_limits.find("roof%"), std::string::npos);
  EXPECT_NE(with_limits.find("limits: 20.0 GB/s, 100.0 GFLOP/s"), std::string::npos);
  EXPECT_THROW(kiln::profiler::set_machine_limits(-1, 100), kiln::Error);
}

TEST_F(Profiler, TraceIsJsonWithOneEventPerLaunch) {
  const kiln::Stats before = kiln::stats();
  materialiseSmallGraph();
  materialiseSmallGraph();
  const int64_t launched = kiln::stats().kernels_run - before.kernels_run;
  const std::string path = ::testing::TempDir() + "/kiln_profiler_trace.json";
  kiln::profiler::write_trace(path);
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  Json doc;
  ASSERT_TRUE(JsonParser(text.str()).parse(&doc)) << text.str();
  ASSERT_EQ(doc.kind, Json::Object);
  const Json& events = doc.fields["traceEvents"];
  ASSERT_EQ(events.kind, Json::Array);
  int64_t kernels = 0, copies = 0;
  for (const Json& e : events.items) {
    ASSERT_EQ(e.kind, Json::Object);
    auto field = [&](const char* name) -> const Json& { return e.fields.at(name); };
    if (field("ph").text != "X") continue;
    (field("cat").text == "kernel" ? kernels : copies) += 1;
    EXPECT_EQ(field("ts").kind, Json::Number);
    EXPECT_GE(field("dur").number, 0);
    EXPECT_EQ(field("pid").kind, Json::Number);
    EXPECT_EQ(field("tid").kind, Json::Number);
    EXPECT_FALSE(field("name").text.empty());
    const Json& args = field("args");
    EXPECT_EQ(args.fields.at("bytes").kind, Json::Number);
    EXPECT_EQ(args.fields.at("flops").kind, Json::Number);
    EXPECT_FALSE(args.fields.at("reason").text.empty());
  }
  EXPECT_EQ(kernels, launched);
  EXPECT_EQ(kernels + copies, static_cast<int64_t>(prof::snapshot().events.size()));
  EXPECT_THROW(kiln::profiler::write_trace("/nonexistent-dir/trace.json"), kiln::Error);
}

TEST_F(Profiler, KeepsEventsUpToItsCapacityAndEveryLaunchInTheRows) {
  prof::setEventCapacity(3);
  const kiln::Stats before = kiln::stats();
  materialiseSmallGraph();
  materialiseSmallGraph();
  const int64_t launched = kiln::stats().kernels_run - before.kernels_run;
  const prof::Snapshot s = prof::snapshot();
  EXPECT_EQ(s.events.size(), 3u);
  EXPECT_EQ(kernelCalls(s), launched);
  int64_t calls = 0;
  for (const prof::Row& r : s.rows) calls += r.calls;
  EXPECT_EQ(s.dropped_events, calls - 3);
  EXPECT_NE(kiln::profiler::table().find("left out of the trace"), std::string::npos);
}

TEST_F(Profiler, ApplicationThreadsRecordEveryLaunch) {
  const kiln::Stats before = kiln::stats();
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 4; ++i) materialiseSmallGraph();
    });
  }
  for (std::thread& t : threads) t.join();
  const int64_t launched = kiln::stats().kernels_run - before.kernels_run;
  const prof::Snapshot s = prof::snapshot();
  EXPECT_EQ(kernelEvents(s), launched);
  EXPECT_EQ(kernelCalls(s), launched);
}

}  // namespace
