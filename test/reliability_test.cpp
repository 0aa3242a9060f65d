// Reliability: inputs that used to crash the process (stack overflow, out-of-bounds reads,
// wrapped size arithmetic, null memory) get PyTorch's error or the right result instead.
// Issue 13's "Crashes" class; every expected message is PyTorch 1.13's.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "lib/frontend/tensor_impl.h"
#include "lib/ir/parse.h"
#include "lib/sched/schedule.h"
#include "runtime/fault_injection.h"

namespace {

using kiln::Tensor;
using kiln::indexing::None;
using kiln::indexing::Slice;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::vector<double> values(const Tensor& t) {
  return kiln::detail::toDoubles(t);
}

// Runs `f`, which must throw kiln::Error with exactly `message`.
void expectMessageImpl(const std::function<void()>& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "expected kiln::Error: " << message;
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected kiln::Error, got another exception: " << e.what();
  }
}

#define EXPECT_MESSAGE(stmt, message)                  \
  do {                                                 \
    SCOPED_TRACE(#stmt);                               \
    expectMessageImpl([&] { (void)(stmt); }, message); \
  } while (0)

// Under AddressSanitizer an allocation of petabytes aborts the process (allocator_may_return_null
// is off) instead of failing: the tests that really ask the allocator for too much skip there.
bool underAddressSanitizer() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

// ------------------------------------------------------------------ autograd teardown

constexpr int kLongHistory = 100000;

TEST(Teardown, LongAutogradHistoryAfterBackward) {
  Tensor x = kiln::tensor({1.5, -2.0}).requires_grad_(true);
  {
    Tensor y = x;
    for (int i = 0; i < kLongHistory; ++i) y = y * 1.0 + 0.0;
    y.sum().backward();
    EXPECT_EQ(values(y), (std::vector<double>{1.5, -2.0}));
  }  // the whole history dies here
  EXPECT_EQ(values(x.grad()), (std::vector<double>{1, 1}));
}

TEST(Teardown, LongAutogradHistoryWithoutBackward) {
  Tensor x = kiln::tensor({3.0}).requires_grad_(true);
  Tensor y = x;
  for (int i = 0; i < kLongHistory; ++i) y = y * 1.0 + 0.0;
  EXPECT_EQ(y.grad_fn()->name(), "AddBackward0");
  y = Tensor();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Teardown, LongHistoryHeldOnlyBySavedTensors) {
  // mul saves both operands: each function owns the previous tensor, which owns its grad_fn.
  Tensor x = kiln::tensor({1.0, 2.0}).requires_grad_(true);
  Tensor y = x;
  for (int i = 0; i < kLongHistory; ++i) y = y * kiln::ones({2});
  Tensor z = y.sum();
  y = Tensor();
  z.backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{1, 1}));
  z = Tensor();
}

TEST(Teardown, LongHistoryWithRetainedGraph) {
  Tensor x = kiln::tensor({2.0}).requires_grad_(true);
  Tensor y = x;
  for (int i = 0; i < kLongHistory; ++i) y = y + 1.0;
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{2}));
  EXPECT_EQ(values(y), (std::vector<double>{2.0 + kLongHistory}));
}

// ------------------------------------------------------------------ views and indexing

TEST(SizeOverflow, NarrowLengthPastTheEnd) {
  Tensor a = kiln::arange(5);
  EXPECT_MESSAGE(a.narrow(0, 1, kMax),
                 "start (1) + length (9223372036854775807) exceeds dimension size (5).");
  EXPECT_MESSAGE(kiln::narrow(a, 0, -1, kMax),
                 "start (4) + length (9223372036854775807) exceeds dimension size (5).");
  EXPECT_EQ(values(a.narrow(0, 5, 0)), std::vector<double>{});
  EXPECT_EQ(values(a.narrow(0, 1, 4)), (std::vector<double>{1, 2, 3, 4}));
}

TEST(SizeOverflow, AsStridedHugeStride) {
  Tensor a = kiln::zeros({5});
  EXPECT_MESSAGE(
      a.as_strided({2}, {kMax}),
      "Storage size calculation overflowed with sizes=[2] and strides=[9223372036854775807]");
  EXPECT_MESSAGE(
      a.as_strided({3, 2}, {1LL << 62, 1}),
      "Storage size calculation overflowed with sizes=[3, 2] and strides=[4611686018427387904, 1]");
  // Fits in an int64 once multiplied out, but not in the storage.
  EXPECT_MESSAGE(a.as_strided({2}, {1LL << 60}),
                 "setStorage: sizes [2], strides [1152921504606846976], storage offset 0, and "
                 "itemsize 4 requiring a storage size of 4611686018427387908 are out of bounds for "
                 "storage of size 20");
  EXPECT_MESSAGE(a.as_strided({1}, {1}, kMax),
                 "Storage size calculation overflowed with sizes=[1] and strides=[1]");
  // One element: any stride reads the same element.
  EXPECT_EQ(values(kiln::arange(5).as_strided({1}, {kMax}, 3)), std::vector<double>{3});
}

TEST(SizeOverflow, AsStridedNumelOverflow) {
  Tensor a = kiln::zeros({5});
  EXPECT_MESSAGE(a.as_strided({1LL << 32, 1LL << 32}, {0, 0}),
                 "numel: integer multiplication overflow");
}

TEST(SizeOverflow, SliceWithHugeStep) {
  Tensor a = kiln::arange(5);
  Tensor s = a.index({Slice(1, None, kMax)});
  EXPECT_EQ(s.sizes().vec(), std::vector<int64_t>{1});
  EXPECT_EQ(values(s), std::vector<double>{1});
  EXPECT_EQ(a.index({Slice(5, None, kMax)}).sizes().vec(), std::vector<int64_t>{0});
  EXPECT_EQ(values(a.index({Slice(0, None, 4)})), (std::vector<double>{0, 4}));
  // The step times the row stride (5) overflows: one row is left, and it reads row 0.
  Tensor m = kiln::arange(10).reshape({2, 5});
  Tensor r = m.index({Slice(None, None, kMax), Slice(2, None, kMax)});
  EXPECT_EQ(r.sizes().vec(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(values(r), std::vector<double>{2});
  EXPECT_EQ(values(m.index({Slice(kiln::indexing::None, None, kMax)})),
            (std::vector<double>{0, 1, 2, 3, 4}));
}

TEST(SizeOverflow, ExpandPastInt64Numel) {
  Tensor a = kiln::zeros({1, 1});
  EXPECT_MESSAGE(a.expand({1LL << 32, 1LL << 32}), "numel: integer multiplication overflow");
  // The view itself fits; a copy of it does not.
  Tensor e = kiln::zeros({1}).expand({1LL << 62});
  EXPECT_EQ(e.numel(), 1LL << 62);
  EXPECT_MESSAGE(e.contiguous(),
                 "Storage size calculation overflowed with sizes=[4611686018427387904]");
  EXPECT_MESSAGE(e + 1, "Storage size calculation overflowed with sizes=[4611686018427387904]");
}

TEST(SizeOverflow, ViewShapeWhoseProductWraps) {
  // 3 * 6148914691236517206 wraps to 2 in 64 bits.
  Tensor a = kiln::zeros({2});
  EXPECT_MESSAGE(a.view({3, 6148914691236517206LL}),
                 "shape '[3, 6148914691236517206]' is invalid for input of size 2");
  EXPECT_MESSAGE(a.reshape({-1, 1LL << 32, 1LL << 32}),
                 "shape '[-1, 4294967296, 4294967296]' is invalid for input of size 2");
}

// ------------------------------------------------------------------ creation

TEST(SizeOverflow, CreationWhoseByteCountOverflows) {
  EXPECT_MESSAGE(kiln::zeros({1LL << 62}),
                 "Storage size calculation overflowed with sizes=[4611686018427387904]");
  EXPECT_MESSAGE(kiln::zeros({1LL << 62}).eval(),
                 "Storage size calculation overflowed with sizes=[4611686018427387904]");
  EXPECT_MESSAGE(kiln::zeros({1LL << 32, 1LL << 32}),
                 "Storage size calculation overflowed with sizes=[4294967296, 4294967296]");
  EXPECT_MESSAGE(kiln::zeros({1LL << 32, 1LL << 32}).numel(),
                 "Storage size calculation overflowed with sizes=[4294967296, 4294967296]");
  // A partial product overflows, although the whole product is 0 (as c10's safe_multiplies_u64).
  EXPECT_MESSAGE(kiln::zeros({1LL << 32, 1LL << 32, 0}),
                 "Storage size calculation overflowed with sizes=[4294967296, 4294967296, 0]");
  // Empty: the other sizes may be anything whose partial products fit (PyTorch 1.13 accepts it).
  EXPECT_EQ(kiln::zeros({0, 1LL << 32, 1LL << 32}).numel(), 0);
  EXPECT_MESSAGE(kiln::empty({1LL << 61}),
                 "Storage size calculation overflowed with sizes=[2305843009213693952]");
  EXPECT_MESSAGE(kiln::ones({1LL << 61}, kiln::kDouble),
                 "Storage size calculation overflowed with sizes=[2305843009213693952]");
  EXPECT_MESSAGE(kiln::rand({1LL << 40, 1LL << 40}),
                 "Storage size calculation overflowed with sizes=[1099511627776, 1099511627776]");
  EXPECT_MESSAGE(kiln::full({kMax}, 2.0),
                 "Storage size calculation overflowed with sizes=[9223372036854775807]");
  EXPECT_MESSAGE(kiln::eye(1LL << 32),
                 "Storage size calculation overflowed with sizes=[4294967296, 4294967296]");
  float x = 0;
  EXPECT_MESSAGE(kiln::from_blob(&x, {1LL << 62}),
                 "Storage size calculation overflowed with sizes=[4611686018427387904]");
  EXPECT_MESSAGE(
      kiln::from_blob(&x, {2}, {kMax}),
      "Storage size calculation overflowed with sizes=[2] and strides=[9223372036854775807]");
  EXPECT_MESSAGE(kiln::from_blob(&x, {1LL << 32, 1LL << 32}, {0, 0}),
                 "numel: integer multiplication overflow");
  // Sizes that fit still work, and zero-size tensors may have any other size.
  EXPECT_EQ(kiln::zeros({0, 1LL << 40}).numel(), 0);
  EXPECT_EQ(values(kiln::zeros({0, 1LL << 40}).sum()), std::vector<double>{0});
}

TEST(SizeOverflow, ArangeWhoseLengthOverflows) {
  EXPECT_MESSAGE(kiln::arange(0.0, 1e300), "invalid size, possible overflow?");
  EXPECT_MESSAGE(kiln::arange(0.0, 1.0, std::nan("")), "invalid size, possible overflow?");
  EXPECT_EQ(values(kiln::arange(0.0, 1.0, 1e300)), std::vector<double>{0});
}

TEST(SizeOverflow, AllocationTooLargeForMemory) {
  if (underAddressSanitizer()) GTEST_SKIP() << "AddressSanitizer aborts on huge allocations";
  // 2^62 bools fit an int64 byte count; no machine has the memory.
  EXPECT_MESSAGE(kiln::zeros({1LL << 62}, kiln::kBool).eval(),
                 "DefaultCPUAllocator: not enough memory: you tried to allocate "
                 "4611686018427387904 bytes.");
  EXPECT_MESSAGE(kiln::empty({1LL << 50}),
                 "DefaultCPUAllocator: not enough memory: you tried to allocate "
                 "4503599627370496 bytes.");
}

TEST(SizeOverflow, ReadingAViewLargerThanMemory) {
  // Reading values copies them out: an expanded view of 2^60 elements cannot be copied.
  Tensor e = kiln::zeros({1}).expand({1LL << 60});
  EXPECT_MESSAGE(values(e),
                 "DefaultCPUAllocator: not enough memory: you tried to allocate "
                 "9223372036854775808 bytes.");
}

// ------------------------------------------------------------------ cat

TEST(Cat, ZeroDimensionalTensors) {
  Tensor s = kiln::tensor(1.0);
  EXPECT_MESSAGE(kiln::cat({s, s}),
                 "zero-dimensional tensor (at position 0) cannot be concatenated");
  EXPECT_MESSAGE(kiln::cat({kiln::zeros({2}), s}, 0),
                 "zero-dimensional tensor (at position 1) cannot be concatenated");
  EXPECT_MESSAGE(kiln::cat({kiln::zeros({0}), s}),
                 "zero-dimensional tensor (at position 1) cannot be concatenated");
  // stack gives each a dimension first.
  EXPECT_EQ(values(kiln::stack({s, s * 2})), (std::vector<double>{1, 2}));
}

TEST(Cat, TotalSizeOverflow) {
  // PyTorch adds the sizes unchecked: the sum wraps negative, and creating the result refuses it.
  Tensor e = kiln::zeros({1}, kiln::kBool).expand({1LL << 62});
  EXPECT_MESSAGE(kiln::cat({e, e}),
                 "Trying to create tensor with negative dimension -9223372036854775808: "
                 "[-9223372036854775808]");
}

// A cat of N parts is N partial writes of one code into its result: they run as one step over a
// table of parts (lib/sched batchParts), so the kernels run stay a few per pending-graph budget
// chunk of 400 writes (a fill, the first part's write, the rest) instead of one per part.
TEST(Cat, ManyPartsRunAsFewKernels) {
  const int n = 1000;
  Tensor x = kiln::arange(3, kiln::kFloat);
  std::vector<Tensor> materialised, pending;
  for (int i = 0; i < n; ++i) {
    pending.push_back(x + 10.0 * i);
    materialised.push_back(x + 10.0 * i);
  }
  kiln::eval(materialised);
  std::vector<double> expected;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j) expected.push_back(10.0 * i + j);
  }
  for (const auto* parts : {&materialised, &pending}) {
    kiln::reset_stats();
    Tensor c = kiln::cat(*parts, 0);
    c.eval();
    EXPECT_LE(kiln::stats().kernels_run, 12) << "1,000 parts";
    EXPECT_EQ(values(c), expected);
    kiln::reset_stats();
    Tensor s = kiln::stack(*parts, 1);
    s.eval();
    EXPECT_LE(kiln::stats().kernels_run, 12);
    ASSERT_EQ(s.sizes(), (std::vector<int64_t>{3, n}));
    EXPECT_EQ(values(s.t().contiguous()), expected);
  }
}

// Parts that differ in length along the cat dimension still share one code (the extent is an
// argument). A part of another dtype is cast in its write, a code of its own: runs of parts of
// one code are batched, so alternating dtypes cost a launch per run.
TEST(Cat, PartsOfDifferentLengthsAndTypes) {
  std::vector<Tensor> parts;
  std::vector<double> expected;
  for (int i = 0; i < 500; ++i) {
    const int len = 2 + i % 4;  // (a loop of extent 1 is a constant of the code)
    parts.push_back(kiln::full({len}, i + 0.5));
    for (int j = 0; j < len; ++j) expected.push_back(i + 0.5);
  }
  kiln::eval(parts);
  kiln::reset_stats();
  Tensor c = kiln::cat(parts);
  EXPECT_EQ(values(c), expected);
  EXPECT_LE(kiln::stats().kernels_run, 12);

  parts.clear();
  expected.clear();
  for (int i = 0; i < 100; ++i) {
    parts.push_back(i % 3 == 0 ? kiln::full({2}, i, kiln::kLong) : kiln::full({2}, i + 0.5));
    expected.insert(expected.end(), 2, i % 3 == 0 ? i : i + 0.5);
  }
  Tensor mixed = kiln::cat(parts);
  EXPECT_EQ(mixed.dtype(), kiln::kFloat);
  EXPECT_EQ(values(mixed), expected);
}

// The schedule of a chain of partial writes of one code: one step that runs for every part but
// the first (whose offset, 0, is folded into its code), in the order of the writes.
TEST(Cat, ScheduleRunsWritesOfOneCodeAsParts) {
  const int n = 50;
  std::string text = "graph {\n  %0 = const 0.0 : f32[" + std::to_string(2 * n) + "]\n";
  int next = 1, base = 0;
  for (int p = 0; p < n; ++p) {
    const int param = next++;
    text += "  %" + std::to_string(param) + " = param " + std::to_string(p) + " : f32[2]\n";
    const int write = next++;
    text += "  %" + std::to_string(write) + " = write %" + std::to_string(base) + ", %" +
            std::to_string(param) + " {strides=[1], offset=" + std::to_string(2 * p) + "} : f32[" +
            std::to_string(2 * n) + "]\n";
    base = write;
  }
  text += "  return %" + std::to_string(base) + "\n}\n";
  kiln::ir::ParseResult parsed = kiln::ir::parseGraph(text, "cat.kir");
  ASSERT_TRUE(parsed.graph) << parsed.error;
  kiln::sched::Schedule s = kiln::sched::schedule(*parsed.graph);
  ASSERT_EQ(s.steps.size(), 3u) << s.text();
  const kiln::sched::Step& writes = s.steps[2];
  ASSERT_EQ(writes.partCount(), n - 1) << s.text();
  EXPECT_EQ(writes.args[0], 2u);  // the second part's offset
  for (int p = 0; p + 1 < n - 1; ++p) {
    EXPECT_EQ(writes.parts[p].args[0], 2u * (p + 2));  // each later part's offset, in order
    EXPECT_EQ(writes.parts[p].slots[1], writes.slots[1] + p + 1);  // and its own param
  }
}

// ------------------------------------------------------------------ wide graphs

// A pairwise sum tree over `parts` tensors, as a user reducing a list would write it.
Tensor pairwiseSum(std::vector<Tensor> parts) {
  while (parts.size() > 1) {
    std::vector<Tensor> next;
    for (size_t i = 0; i + 1 < parts.size(); i += 2) next.push_back(parts[i] + parts[i + 1]);
    if (parts.size() % 2 == 1) next.push_back(parts.back());
    parts = std::move(next);
  }
  return parts[0];
}

// Every kernel of a wide graph's schedule stays within the scheduler's bounds (256 inlined
// values, 64 buffers read; lib/sched kernel size bound), so each compiles in bounded time.
void expectBoundedKernels(const std::string& graph_text, int64_t min_kernels) {
  kiln::ir::ParseResult parsed = kiln::ir::parseGraph(graph_text, "wide.kir");
  ASSERT_TRUE(parsed.graph) << parsed.error;
  kiln::sched::Schedule s = kiln::sched::schedule(*parsed.graph);
  int64_t kernels = 0;
  for (const kiln::sched::Step& step : s.steps) {
    if (step.kind != kiln::sched::Step::Kind::Kernel) continue;
    kernels += step.partCount();  // pieces of one code run as one step's parts
    EXPECT_LE(step.kernel.buffers.size(), 65u) << step.kernel.text();
    EXPECT_LE(step.kernel.exprs.size(), 1024u) << step.kernel.text();
  }
  EXPECT_GE(kernels, min_kernels);
}

// The text of a graph that sums `parts` f32[4] values pairwise: each part is param p (params
// distinct) or param 0 (one shared param), scaled by the constant p first when `scaled` (a
// pending part, inlined into the sum).
std::string pairwiseSumText(int parts, bool distinct_params, bool scaled) {
  std::string text = "graph {\n";
  int next = 0;
  auto value = [&](const std::string& rhs) {
    text += "  %" + std::to_string(next) + " = " + rhs + " : f32[4]\n";
    return next++;
  };
  auto ref = [](int v) { return "%" + std::to_string(v); };
  std::vector<int> level;
  for (int p = 0; p < parts; ++p) {
    int part = distinct_params || p == 0 ? value("param " + std::to_string(p)) : 0;
    if (scaled)
      part = value("mul " + ref(part) + ", " + ref(value("const " + std::to_string(p) + ".0")));
    level.push_back(part);
  }
  while (level.size() > 1) {
    std::vector<int> sums;
    for (size_t i = 0; i + 1 < level.size(); i += 2)
      sums.push_back(value("add " + ref(level[i]) + ", " + ref(level[i + 1])));
    if (level.size() % 2 == 1) sums.push_back(level.back());
    level = std::move(sums);
  }
  return text + "  return " + ref(level[0]) + "\n}\n";
}

TEST(WideGraphs, KernelsReadAtMost64Buffers) {
  // One kernel reading 2,000 buffers took 7 s to compile, 10,000 buffers 230 s and 3 GB.
  expectBoundedKernels(pairwiseSumText(2000, true, false), 2000 / 64);
  expectBoundedKernels(pairwiseSumText(300, true, true), 300 / 64);
}

TEST(WideGraphs, KernelsInlineAtMost256Values) {
  // 3,000 scaled parts of one param: 9,000 values in one elementwise tree.
  expectBoundedKernels(pairwiseSumText(3000, false, true), 9000 / 256);
}

TEST(WideGraphs, SumOfManyMaterializedTensors) {
  const int n = 3000;
  std::vector<Tensor> parts;
  for (int i = 0; i < n; ++i) parts.push_back(kiln::full({4}, static_cast<double>(i)));
  kiln::eval(parts);
  const int64_t compiled = kiln::stats().kernels_compiled;
  Tensor sum = pairwiseSum(parts);
  // 0 + 1 + ... + 2999 in each element, exact in float32 (under 2^24).
  EXPECT_EQ(values(sum), std::vector<double>(4, n * (n - 1) / 2.0));
  // The kernels of the cut tree mostly share their text (a few kinds of subtree).
  EXPECT_LE(kiln::stats().kernels_compiled - compiled, 16);
}

TEST(WideGraphs, SumOfManyPendingTensors) {
  const int n = 10000;
  Tensor base = kiln::ones({4});
  std::vector<Tensor> parts;
  for (int i = 0; i < n; ++i) parts.push_back(base * static_cast<double>(i));
  Tensor sum = pairwiseSum(parts);
  EXPECT_EQ(values(sum), std::vector<double>(4, n * (n - 1) / 2.0));
}

// ------------------------------------------------------------------ null memory

const char* kNotAllocated =
    "The tensor has a non-zero number of elements, but its data is not allocated yet. Caffe2 uses "
    "a lazy allocation, so you will need to call mutable_data() or raw_mutable_data() to actually "
    "allocate memory.";

TEST(NullMemory, FromBlobNullptrIsRefusedWhenRead) {
  Tensor t = kiln::from_blob(nullptr, {3});
  EXPECT_EQ(t.sizes().vec(), std::vector<int64_t>{3});
  EXPECT_MESSAGE(values(t), kNotAllocated);
  EXPECT_MESSAGE(t.data_ptr<float>(), kNotAllocated);
  EXPECT_MESSAGE(t.index({1}).item<float>(), kNotAllocated);
  EXPECT_MESSAGE((t + 1).eval(), kNotAllocated);
  EXPECT_MESSAGE(t.fill_(2).eval(), kNotAllocated);
  EXPECT_MESSAGE(kiln::from_blob(nullptr, {2, 2}, {1, 2}).sum().item<float>(), kNotAllocated);
}

TEST(NullMemory, FromBlobNullptrWithoutElements) {
  Tensor t = kiln::from_blob(nullptr, {0, 4});
  EXPECT_EQ(values(t), std::vector<double>{});
  EXPECT_EQ(values(t.sum()), std::vector<double>{0});
}

}  // namespace

// ------------------------------------------------------------------ further cases

TEST(SizeOverflow, NegativeExpandedSizes) {
  Tensor a = kiln::zeros({1});
  EXPECT_MESSAGE(a.expand({-2}), "Trying to create tensor with negative dimension -2: [-2]");
  EXPECT_MESSAGE(a.expand({-3, 1}),
                 "The expanded size of the tensor (-3) isn't allowed in a leading, non-existing "
                 "dimension 0");
  EXPECT_MESSAGE(a.expand({-1, 1}),
                 "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing "
                 "dimension 0");
  EXPECT_EQ(a.expand({2, -1}).sizes().vec(), (std::vector<int64_t>{2, 1}));
}

TEST(SizeOverflow, FromBlobNegativeStrides) {
  float d[4] = {1, 2, 3, 4};
  EXPECT_MESSAGE(kiln::from_blob(d + 3, {4}, {-1}),
                 "from_blob: Negative strides are not supported at the moment, got strides: [-1]");
  EXPECT_EQ(values(kiln::from_blob(d, {2}, {2})), (std::vector<double>{1, 3}));
}

TEST(SizeOverflow, RandintOverTheWholeInt64Range) {
  // high - low does not fit an int64 (undefined behaviour, an abort under UBSan, before).
  Tensor r = kiln::randint(std::numeric_limits<int64_t>::min(), kMax, {64});
  EXPECT_EQ(r.sizes().vec(), std::vector<int64_t>{64});
  std::vector<double> small = values(kiln::randint(-3, 2, {200}));
  for (double x : small) {
    EXPECT_GE(x, -3);
    EXPECT_LT(x, 2);
  }
}

// ------------------------------------------------------------------ exact values

namespace {
// Every element as an int64, read exactly (values() goes through double).
std::vector<int64_t> longs(const Tensor& t) {
  Tensor c = t.contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}
}  // namespace

TEST(ExactIntegers, ConstantFoldingKeepsInt64Exact) {
  // Both operands are constants: the sum is folded before any kernel runs.
  Tensor big = kiln::full({1}, int64_t{1700000000123456789}, kiln::kLong);
  EXPECT_EQ(longs(big + 1), std::vector<int64_t>{1700000000123456790});
  EXPECT_EQ(longs(big - 2), std::vector<int64_t>{1700000000123456787});
  // 3037000500^2 = 9223372037000250000 wraps past the largest int64, as PyTorch's does.
  Tensor b = kiln::full({2}, int64_t{3037000500}, kiln::kLong);
  EXPECT_EQ(longs(b * b), (std::vector<int64_t>{-9223372036709301616, -9223372036709301616}));
  // 2^53 + 1 and 2^53 are one double apart only as integers.
  Tensor odd = kiln::full({1}, (int64_t{1} << 53) + 1, kiln::kLong);
  Tensor even = kiln::full({1}, int64_t{1} << 53, kiln::kLong);
  EXPECT_EQ(values(odd == even), std::vector<double>{0});
  EXPECT_EQ(values(odd > even), std::vector<double>{1});
  EXPECT_EQ(longs(kiln::maximum(odd, even)), std::vector<int64_t>{(int64_t{1} << 53) + 1});
  EXPECT_EQ(longs(kiln::floor_divide(odd, kiln::full({1}, int64_t{-2}, kiln::kLong))),
            std::vector<int64_t>{-(int64_t{1} << 52) - 1});
  EXPECT_EQ(longs(kiln::remainder(odd, kiln::full({1}, int64_t{10}, kiln::kLong))),
            std::vector<int64_t>{9007199254740993 % 10});
  EXPECT_EQ(longs(kiln::pow(kiln::full({1}, int64_t{3}, kiln::kLong), 39)),
            std::vector<int64_t>{4052555153018976267});
  EXPECT_EQ(longs(-kiln::full({1}, kMax, kiln::kLong)), std::vector<int64_t>{-kMax});
}

TEST(ExactIntegers, PrintingInt64) {
  std::ostringstream os;
  os << kiln::tensor({kMax, -kMax - 1});
  EXPECT_EQ(os.str(), "tensor([ 9223372036854775807, -9223372036854775808])");
  std::ostringstream view;
  view << kiln::tensor({kMax, int64_t{1}, kMax - 1, int64_t{2}}).reshape({2, 2}).t();
  EXPECT_EQ(view.str(),
            "tensor([[9223372036854775807, 9223372036854775806],\n"
            "        [                  1,                   2]])");
}

TEST(ExactIntegers, ArangeWithLargeBounds) {
  EXPECT_EQ(longs(kiln::arange(kMax - 3, kMax)),
            (std::vector<int64_t>{kMax - 3, kMax - 2, kMax - 1}));
  EXPECT_EQ(longs(kiln::arange(kMax, kMax - 7, -3)),
            (std::vector<int64_t>{kMax, kMax - 3, kMax - 6}));
  // As PyTorch, an int64 arange converts its bounds to int64 first: [0, 3) here.
  EXPECT_EQ(longs(kiln::arange(0.5, 3.6, 1, kiln::kLong)), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_MESSAGE(kiln::arange(0, 1e19, 1, kiln::kLong),
                 "value cannot be converted to type int64_t without overflow");
}

TEST(ExactIntegers, EqualComparesInt64Exactly) {
  Tensor a = kiln::tensor({(int64_t{1} << 53) + 1, kMax});
  EXPECT_FALSE(kiln::equal(a, kiln::tensor({int64_t{1} << 53, kMax})));
  EXPECT_FALSE(a.equal(kiln::tensor({(int64_t{1} << 53) + 1, kMax - 1})));
  EXPECT_TRUE(a.equal(kiln::tensor({(int64_t{1} << 53) + 1, kMax})));
  EXPECT_TRUE(kiln::equal(kiln::tensor({true, false}), kiln::tensor({true, false})));
}

TEST(ExactIntegers, ItemThatDoesNotFit) {
  EXPECT_MESSAGE(kiln::tensor(int64_t{1} << 40).item<int32_t>(),
                 "value cannot be converted to type int32_t without overflow");
  EXPECT_MESSAGE(kiln::tensor(3e9, kiln::kDouble).item<int32_t>(),
                 "value cannot be converted to type int32_t without overflow");
  EXPECT_MESSAGE(kiln::tensor(std::nan(""), kiln::kDouble).item<int64_t>(),
                 "value cannot be converted to type int64_t without overflow");
  EXPECT_MESSAGE(kiln::tensor(0x1p63, kiln::kDouble).item<int64_t>(),
                 "value cannot be converted to type int64_t without overflow");
  EXPECT_MESSAGE(kiln::tensor(1e300, kiln::kDouble).item<float>(),
                 "value cannot be converted to type float without overflow");
  EXPECT_EQ(kiln::tensor(-int64_t{2147483648}).item<int32_t>(), -2147483647 - 1);
  EXPECT_EQ(kiln::tensor(-0x1p63, kiln::kDouble).item<int64_t>(), -kMax - 1);
  EXPECT_EQ(kiln::tensor(kMax).item<int64_t>(), kMax);
  EXPECT_TRUE(std::isinf(kiln::tensor(INFINITY, kiln::kDouble).item<float>()));
  EXPECT_TRUE(std::isnan(kiln::tensor(std::nan(""), kiln::kDouble).item<float>()));
}

TEST(AlphaChecks, AsPyTorchAlphaCheck) {
  Tensor f = kiln::ones({2});
  Tensor l = kiln::ones({2}, kiln::kLong);
  Tensor b = kiln::tensor({true, false});
  const char* kBoolAlpha = "Boolean alpha only supported for Boolean results.";
  const char* kFloatAlpha =
      "For integral input tensors, argument alpha must not be a floating point number.";
  EXPECT_MESSAGE(kiln::add(f, f, true), kBoolAlpha);
  EXPECT_MESSAGE(kiln::sub(l, l, false), kBoolAlpha);
  EXPECT_MESSAGE(kiln::add(l, l, 2.0), kFloatAlpha);
  EXPECT_MESSAGE(kiln::add(b, b, 0.5), kFloatAlpha);
  // An integral alpha is allowed with bool results: b + 2 * b is b or b.
  EXPECT_EQ(values(kiln::add(b, kiln::tensor({false, false}), 2)), (std::vector<double>{1, 0}));
  EXPECT_EQ(values(kiln::add(b, b, true)), (std::vector<double>{1, 0}));
  EXPECT_EQ(values(kiln::add(f, f, 2.5)), (std::vector<double>{3.5, 3.5}));
}

TEST(SizeOverflow, ExpandToANegativeSize) {
  EXPECT_MESSAGE(kiln::zeros({1}).expand({3, -2}),
                 "Trying to create tensor with negative dimension -2: [3, -2]");
  EXPECT_MESSAGE(kiln::zeros({2}).expand({3, -2}),
                 "The expanded size of the tensor (-2) must match the existing size (2) at "
                 "non-singleton dimension 1.  Target sizes: [3, -2].  Tensor sizes: [2]");
}

// PyTorch's softmax kernels exist for floating types only (messages from libtorch 1.13); a dtype
// argument converts first.
TEST(SoftmaxTypes, IntegerInputsAreRefusedAsPyTorch) {
  Tensor t = kiln::tensor({1, 2, 3});
  Tensor m = kiln::tensor({1, 2, 3, 4, 5, 6}).view({2, 3});
  EXPECT_MESSAGE(kiln::softmax(t, 0), "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'");
  EXPECT_MESSAGE(kiln::log_softmax(t, 0),
                 "\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'");
  EXPECT_MESSAGE(kiln::softmax(m, 0), "\"softmax_kernel_impl\" not implemented for 'Long'");
  EXPECT_MESSAGE(kiln::log_softmax(m, 0), "\"softmax_kernel_impl\" not implemented for 'Long'");
  EXPECT_MESSAGE(kiln::softmax(m.to(kiln::kInt), 1),
                 "\"softmax_lastdim_kernel_impl\" not implemented for 'Int'");
  EXPECT_MESSAGE(kiln::softmax(t.to(kiln::kBool), 0),
                 "\"softmax_lastdim_kernel_impl\" not implemented for 'Bool'");
  EXPECT_MESSAGE(kiln::softmax(kiln::tensor(3), 0),
                 "\"softmax_lastdim_kernel_impl\" not implemented for 'Long'");
  // softmax([1, 2]) = [1 / (1 + e), e / (1 + e)].
  Tensor s = kiln::softmax(kiln::tensor({1, 2}), 0, kiln::kDouble);
  EXPECT_EQ(s.dtype(), kiln::kDouble);
  EXPECT_NEAR(values(s)[0], 1 / (1 + std::exp(1.0)), 1e-15);
  EXPECT_NEAR(values(s)[1], std::exp(1.0) / (1 + std::exp(1.0)), 1e-15);
}

TEST(EmptyTensors, SoftmaxOfEmpty) {
  for (int64_t d : {0, 1}) {
    Tensor x = kiln::zeros({2, 0});
    EXPECT_EQ(kiln::softmax(x, d).sizes().vec(), (std::vector<int64_t>{2, 0}));
    EXPECT_EQ(kiln::log_softmax(x, d).sizes().vec(), (std::vector<int64_t>{2, 0}));
  }
  EXPECT_EQ(kiln::softmax(kiln::zeros({0}), 0).sizes().vec(), std::vector<int64_t>{0});
}

// A long loop of in-place writes into windows of one tensor is materialised by the size budget
// inside an in-place op, whose undo record holds the storage's previous contents: that hold must
// not count as a reader from outside, which would copy the whole buffer at every cut.
TEST(InPlace, BudgetCutsInsideInPlaceOpsCopyNothing) {
  Tensor x = kiln::zeros({2000});
  x.eval();
  kiln::profiler::reset();
  kiln::profiler::enable();
  for (int i = 0; i < 2000; ++i) x.narrow(0, i, 1).fill_(i);
  x.eval();
  kiln::profiler::disable();
  const std::string table = kiln::profiler::table();
  EXPECT_EQ(table.find("copy"), std::string::npos) << table;
  std::vector<double> expected(2000);
  for (int i = 0; i < 2000; ++i) expected[i] = i;
  EXPECT_EQ(values(x), expected);
}

TEST(InPlace, CopyBetweenPartlyOverlappingViews) {
  const char* kOverlap =
      "unsupported operation: some elements of the input tensor and the written-to tensor refer "
      "to a single memory location. Please clone() the tensor before performing the operation.";
  Tensor x = kiln::arange(6.0);
  EXPECT_MESSAGE(x.narrow(0, 1, 4).copy_(x.narrow(0, 0, 4)), kOverlap);
  Tensor m = kiln::arange(4.0).reshape({2, 2});
  EXPECT_MESSAGE(m.copy_(m.t()), kOverlap);
  // Disjoint views of one storage, the same view, and a 0-dim fill value are fine.
  x.narrow(0, 0, 3).copy_(x.narrow(0, 3, 3));
  EXPECT_EQ(values(x), (std::vector<double>{3, 4, 5, 3, 4, 5}));
  x.copy_(x);
  x.fill_(x.select(0, 1));
  EXPECT_EQ(values(x), (std::vector<double>{4, 4, 4, 4, 4, 4}));
}

// ------------------------------------------------------------------ autograd (issue 13)
// The examples with hand-computed gradients (test/autograd_libtorch_test.cpp compares
// these and the rest of each class with libtorch 1.13 where it is installed).

namespace {

const char* const kModified =
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation";

// Runs `f`, which must throw kiln::Error whose message starts with `prefix`.
void expectPrefix(const std::function<void()>& f, const std::string& prefix) {
  try {
    f();
    ADD_FAILURE() << "expected kiln::Error: " << prefix;
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, prefix.size()), prefix) << e.what();
  }
}

}  // namespace

TEST(AutogradVersions, ResultSavedNotInput) {
  // exp saves its result: changing its input afterwards is allowed; d/dq sum(exp(q)) = exp(q).
  Tensor q = kiln::tensor({0.0, 1.0}, kiln::requires_grad());
  Tensor y = q * 1;
  Tensor z = y.exp();
  y.add_(1);
  z.sum().backward();
  std::vector<double> g = values(q.grad());
  EXPECT_NEAR(g[0], 1.0, 1e-6);
  EXPECT_NEAR(g[1], std::exp(1.0), 1e-5);
  // ... but changing the result is refused, naming the function that saved it.
  Tensor q2 = kiln::tensor({0.0, 1.0}, kiln::requires_grad());
  Tensor z2 = (q2 * 1).exp();
  z2.mul_(2);
  expectPrefix([&] { z2.sum().backward(); },
               std::string(kModified) +
                   ": [torch.FloatTensor [2]], which is output 0 of ExpBackward0, is at version 1; "
                   "expected version 0 instead.");
}

TEST(AutogradVersions, SavesOnlyWhatTheFormulaReads) {
  // x * 2, sum and softmax's input are not saved; sin's input is.
  Tensor q = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor y = q * 1;
  Tensor a = y * 2, s = y.sum(), m = y.softmax(0);
  y.add_(1);
  (a.sum() + s).backward();
  EXPECT_EQ(values(q.grad()), (std::vector<double>{3, 3}));
  Tensor y2 = q * 1;
  Tensor z = y2.sin();
  y2.add_(1);
  expectPrefix(
      [&] { z.sum().backward(); },
      std::string(kModified) +
          ": [torch.FloatTensor [2]], which is output 0 of AddBackward0, is at version 1;");
}

TEST(AutogradVersions, InPlaceResultIsSelf) {
  // exp_ saves self after the op: a later change of self is refused, as in PyTorch.
  Tensor q = kiln::tensor({0.0, 1.0}, kiln::requires_grad());
  Tensor y = q * 1;
  y.exp_();
  y.add_(1);
  expectPrefix([&] { y.sum().backward(); },
               std::string(kModified) +
                   ": [torch.FloatTensor [2]], which is output 0 of "
                   "ExpBackward0, is at version 2; expected version 1");
}

TEST(AutogradGradients, ProdWithZeros) {
  Tensor x = kiln::tensor({0.0, 2.0, 3.0}, kiln::requires_grad());
  x.prod().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{6, 0, 0}));
  Tensor y = kiln::tensor({0.0, 2.0, 0.0}, kiln::requires_grad());
  y.prod().backward();
  EXPECT_EQ(values(y.grad()), (std::vector<double>{0, 0, 0}));
  // Along a dim: rows [0, 2], [3, 4].
  Tensor z = kiln::tensor({0.0, 2.0, 3.0, 4.0}, kiln::requires_grad());
  z.view({2, 2}).prod(1).sum().backward();
  EXPECT_EQ(values(z.grad()), (std::vector<double>{2, 0, 4, 3}));
}

TEST(AutogradGradients, MaxAlongADimGoesToItsIndex) {
  Tensor x = kiln::tensor({1.0, 3.0, 3.0}, kiln::requires_grad());
  auto [v, i] = x.max(0);
  v.backward();
  EXPECT_EQ(values(i), std::vector<double>{1});
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 1, 0}));
}

TEST(AutogradGradients, StdOfAConstantIsZero) {
  Tensor x = kiln::tensor({2.0, 2.0, 2.0}, kiln::requires_grad());
  x.std().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 0, 0}));
}

TEST(AutogradGradients, PowAtZero) {
  // d/dx x^e = e x^(e-1) is 0 where e = 0; d/de x^e = x^e log x is 0 where x = 0 and e >= 0.
  Tensor x = kiln::tensor({0.0, 0.0}, kiln::requires_grad());
  Tensor e = kiln::tensor({0.0, 2.0}, kiln::requires_grad());
  x.pow(e).sum().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 0}));
  EXPECT_EQ(values(e.grad()), (std::vector<double>{0, 0}));
}

TEST(AutogradInPlace, IntoATensorWithoutGrad) {
  Tensor b = kiln::tensor({1.0, 2.0, 3.0}, kiln::requires_grad());
  Tensor c = kiln::zeros({3});
  c.add_(b);
  c.sum().backward();
  EXPECT_EQ(values(b.grad()), (std::vector<double>{1, 1, 1}));
}

TEST(AutogradInPlace, ZeroAndFillKeepRequiresGrad) {
  Tensor q = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor y = q * 2;
  y.zero_();
  EXPECT_TRUE(y.requires_grad());
  EXPECT_EQ(y.grad_fn()->name(), "ZeroBackward0");
  y.fill_(3);
  EXPECT_EQ(y.grad_fn()->name(), "FillBackward2");
  (y * q).sum().backward();
  EXPECT_EQ(values(q.grad()), (std::vector<double>{3, 3}));
  // Under no_grad the history stays, as in PyTorch.
  Tensor y2 = q * 2;
  {
    kiln::NoGradGuard no_grad;
    y2.fill_(1);
  }
  EXPECT_EQ(y2.grad_fn()->name(), "MulBackward0");
}

TEST(AutogradInPlace, CopyFromATensorWithoutGrad) {
  Tensor q = kiln::tensor({1.0, 2.0, 3.0}, kiln::requires_grad());
  Tensor y = q * 2;
  y.narrow(0, 0, 2).copy_(kiln::zeros({2}));
  y.sum().backward();
  EXPECT_EQ(values(q.grad()), (std::vector<double>{0, 0, 2}));
  Tensor p = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor w = p * 2;
  w.fill_(kiln::tensor(5.0));
  EXPECT_EQ(w.grad_fn()->name(), "FillBackward3");
  (w * p).sum().backward();
  EXPECT_EQ(values(p.grad()), (std::vector<double>{5, 5}));
}

TEST(AutogradViews, ViewTakenBeforeAWriteThroughAnotherView) {
  Tensor b = kiln::tensor({1.0, 2.0, 3.0}, kiln::requires_grad());
  Tensor c = b * 1;
  Tensor u = c.narrow(0, 0, 2);
  c.narrow(0, 1, 2).mul_(5);
  (u * 3).sum().backward();
  // u = [b0, 5 b1]: d/db of 3 b0 + 15 b1.
  EXPECT_EQ(values(b.grad()), (std::vector<double>{3, 15, 0}));
  EXPECT_EQ(u.grad_fn()->name(), "AsStridedBackward0");
  EXPECT_EQ(c.grad_fn()->name(), "torch::autograd::CopySlices");
}

TEST(AutogradViews, ViewOfATensorThatGetsGradLater) {
  Tensor b = kiln::tensor({1.0, 2.0, 3.0}, kiln::requires_grad());
  Tensor c = kiln::zeros({3});
  Tensor u = c.narrow(0, 1, 2);
  c.add_(b);
  EXPECT_TRUE(u.requires_grad());
  (u * 3).sum().backward();
  EXPECT_EQ(values(b.grad()), (std::vector<double>{0, 3, 3}));
}

TEST(AutogradViews, IndexPutOnAView) {
  Tensor b = kiln::tensor({1.0, 2.0, 3.0}, kiln::requires_grad());
  Tensor c = b * 1;
  Tensor u = c.narrow(0, 1, 2);
  Tensor v = c.narrow(0, 0, 2);
  v.index_put_({Slice(1, 2)}, kiln::tensor({7.0}));
  // u = [7, b2] now: only b2 reaches the loss through u, and nothing through v's written place.
  ((u * 3).sum() + (v * 10).sum()).backward();
  EXPECT_EQ(values(b.grad()), (std::vector<double>{10, 0, 3}));
}

TEST(AutogradInPlace, OutFormsAreNotDifferentiable) {
  Tensor a = kiln::ones({2}, kiln::requires_grad());
  Tensor o = kiln::empty({2});
  EXPECT_MESSAGE(kiln::add_out(o, a, a),
                 "add(): functions with out=... arguments don't support automatic "
                 "differentiation, but one of the arguments requires grad.");
  {
    kiln::NoGradGuard no_grad;
    kiln::mul_out(o, a, a);
  }
  EXPECT_FALSE(o.requires_grad());
  EXPECT_EQ(values(o), (std::vector<double>{1, 1}));
}

// ------------------------------------------------------------------ shape errors (issue 13)

TEST(ShapeErrors, BroadcastNamesTheTrailingDimension) {
  EXPECT_MESSAGE(kiln::ones({3, 3}) + kiln::ones({2, 2}),
                 "The size of tensor a (3) must match the size of tensor b (2) at non-singleton "
                 "dimension 1");
  EXPECT_MESSAGE(kiln::ones({2, 3, 4}) * kiln::ones({5, 1}),
                 "The size of tensor a (3) must match the size of tensor b (5) at non-singleton "
                 "dimension 1");
  EXPECT_MESSAGE(kiln::where(kiln::ones({2}, kiln::kBool), kiln::ones({3}), kiln::ones({3})),
                 "The size of tensor a (2) must match the size of tensor b (3) at non-singleton "
                 "dimension 0");
  EXPECT_MESSAGE(kiln::matmul(kiln::ones({2, 1, 3, 4}), kiln::ones({3, 2, 4, 5})),
                 "The size of tensor a (2) must match the size of tensor b (3) at non-singleton "
                 "dimension 0");
}

TEST(ShapeErrors, IndexPutExpandsItsValueAsSetitem) {
  Tensor c = kiln::zeros({3});
  c.index_put_({Slice(0, 2)}, kiln::tensor({4.0, 5.0}).view({1, 1, 2}));
  EXPECT_EQ(values(c), (std::vector<double>{4, 5, 0}));
  EXPECT_MESSAGE(c.index_put_({Slice(0, 1)}, kiln::ones({2})),
                 "The expanded size of the tensor (1) must match the existing size (2) at "
                 "non-singleton dimension 0.  Target sizes: [1].  Tensor sizes: [2]");
  EXPECT_EQ(values(c), (std::vector<double>{4, 5, 0}));
}

TEST(ExpandedViews, FillAndZeroWriteEachElementOnce) {
  Tensor base = kiln::zeros({1, 3});
  Tensor e = base.expand({2, 3});
  e.fill_(2);
  EXPECT_EQ(values(base), (std::vector<double>{2, 2, 2}));
  EXPECT_EQ(values(e), (std::vector<double>{2, 2, 2, 2, 2, 2}));
  e.zero_();
  EXPECT_EQ(values(base), (std::vector<double>{0, 0, 0}));
  EXPECT_MESSAGE(e.add_(1),
                 "unsupported operation: more than one element of the written-to tensor refers to "
                 "a single memory location. Please clone() the tensor before performing the "
                 "operation.");
}

// ------------------------------------------------------------------ failures change nothing
// Found by test/fault_injection_test.cpp: each case fails the Nth allocation or compile for
// N = 1, 2, ... (or the first) and checks that the failed call left every tensor as it was.

namespace {

using kiln::runtime::FaultInjection;

// Runs `attempt` with the nth event at `site` failing, for n = 1, 2, ... until it runs through;
// `check(failed)` after each run.
void untilItRunsThrough(FaultInjection::Site site, const std::function<void()>& attempt,
                        const std::function<void(bool failed)>& check) {
  for (int n = 1; n < 100; ++n) {
    if (site == FaultInjection::Site::Compile) kiln::clear_kernel_cache();
    FaultInjection::failNth(site, n);
    bool failed = false;
    try {
      attempt();
    } catch (const kiln::Error&) {
      failed = true;
    }
    FaultInjection::reset();
    check(failed);
    if (!failed) return;
  }
  ADD_FAILURE() << "never ran through";
}

}  // namespace

TEST(FailedMaterialisation, InPlaceWriteIsNotAppliedTwice) {
  // Two storages of one value: the second one's memory used to be allocated after the run had
  // written `a` in place, and a failure there left `a` pending on its overwritten memory.
  Tensor a, v1, v2;
  untilItRunsThrough(
      FaultInjection::Site::Allocation,
      [&] {
        a = kiln::arange(4.0).reshape({2, 2}).clone();
        Tensor x = kiln::arange(3.0).clone();
        kiln::eval({a, x});
        a.add_(0.5);
        v1 = x * 3;
        v2 = x * 3;
        kiln::eval({v1, v2, a});
      },
      [&](bool) {
        if (!a.defined() || !v2.defined()) return;  // failed before the eval
        EXPECT_EQ(values(a), (std::vector<double>{0.5, 1.5, 2.5, 3.5}));
        EXPECT_EQ(values(v2), (std::vector<double>{0, 3, 6}));
        a = v1 = v2 = Tensor();
      });
}

TEST(FailedMaterialisation, EagerInPlaceOpIsUndone) {
  kiln::EagerGuard eager;
  Tensor a = kiln::arange(4.0);
  Tensor v = a.narrow(0, 1, 2);
  const uint32_t version = a.impl()->storage->version;
  kiln::clear_kernel_cache();
  FaultInjection::failNth(FaultInjection::Site::Compile, 1);
  EXPECT_THROW(v.mul_(10), kiln::Error);
  FaultInjection::reset();
  EXPECT_EQ(values(a), (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(a.impl()->storage->version, version);
  v.mul_(10);
  EXPECT_EQ(values(a), (std::vector<double>{0, 10, 20, 3}));
}

TEST(FailedMaterialisation, OutFormKeepsItsOutput) {
  kiln::EagerGuard eager;
  Tensor out = kiln::full({3}, 7.0), a = kiln::ones({2});
  kiln::clear_kernel_cache();
  FaultInjection::failNth(FaultInjection::Site::Compile, 1);
  EXPECT_THROW(kiln::add_out(out, a, a), kiln::Error);
  FaultInjection::reset();
  EXPECT_EQ(values(out), (std::vector<double>{7, 7, 7}));
}

TEST(FailedMaterialisation, BackwardLeavesEveryGradient) {
  // Eagerly, backward materialises as it goes: b's gradient is accumulated first, and a failure
  // in w's part of the pass used to leave it there.
  kiln::EagerGuard eager;
  Tensor w = kiln::tensor({1.0, 2.0}, kiln::requires_grad());
  Tensor b = kiln::tensor({0.5}, kiln::requires_grad());
  untilItRunsThrough(
      FaultInjection::Site::Allocation, [&] { ((w.exp() * w.sin()).sum() + b.sum()).backward(); },
      [&](bool failed) {
        if (failed) {
          EXPECT_FALSE(w.grad().defined());
          EXPECT_FALSE(b.grad().defined());
          return;
        }
        // d/dw e^w sin w = e^w (sin w + cos w).
        std::vector<double> gw = values(w.grad());
        for (int i = 0; i < 2; ++i) {
          const double x = i + 1.0;
          EXPECT_NEAR(gw[i], std::exp(x) * (std::sin(x) + std::cos(x)), 1e-5);
        }
        EXPECT_EQ(values(b.grad()), std::vector<double>{1});
      });
}

TEST(FailedMaterialisation, OptimizerStepCanBeTakenAgain) {
  Tensor p = kiln::tensor({1.0, -2.0}, kiln::requires_grad());
  kiln::optim::SGD sgd({p}, kiln::optim::SGDOptions(0.5).momentum(0.9));
  (p * p).sum().backward();  // gradient 2p
  untilItRunsThrough(
      FaultInjection::Site::Allocation, [&] { sgd.step(); },
      [&](bool failed) {
        // The first step moves p by lr * 2p, whichever attempt succeeds.
        EXPECT_EQ(values(p), failed ? (std::vector<double>{1, -2}) : (std::vector<double>{0, 0}));
      });
  auto& state = static_cast<kiln::optim::SGDParamState&>(*sgd.state().at(p.impl().get()));
  EXPECT_EQ(values(state.momentum_buffer()), (std::vector<double>{2, -4}));
}

TEST(FailedMaterialisation, JitFailureIsAKilnErrorNamingTheKernel) {
  kiln::clear_kernel_cache();
  FaultInjection::failNth(FaultInjection::Site::Compile, 1);
  try {
    (kiln::ones({4}) * kiln::arange(4.0)).sum().item<float>();
    ADD_FAILURE() << "expected kiln::Error";
  } catch (const kiln::Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("kiln: the JIT failed to compile kernel kiln_kernel_", 0), 0u) << m;
    EXPECT_NE(m.find(": injected JIT failure (the kernel computing %"), std::string::npos) << m;
  }
  FaultInjection::reset();
  EXPECT_EQ((kiln::ones({4}) * kiln::arange(4.0)).sum().item<float>(), 6.0f);
}

// ------------------------------------------------------------------ hostile arguments (issue 13)
// Each expected message was read from libtorch 1.13 with the same call.

namespace {
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
}  // namespace

TEST(HostileArguments, SizeAndStrideOfAZeroDimTensor) {
  Tensor s = kiln::tensor(3.0);
  EXPECT_MESSAGE(s.size(0), "Dimension specified as 0 but tensor has no dimensions");
  EXPECT_MESSAGE(s.size(-1), "Dimension specified as -1 but tensor has no dimensions");
  EXPECT_MESSAGE(s.size(1), "Dimension specified as 1 but tensor has no dimensions");
  EXPECT_MESSAGE(s.stride(0), "Dimension specified as 0 but tensor has no dimensions");
  EXPECT_MESSAGE(s.stride(-1), "Dimension specified as -1 but tensor has no dimensions");
  EXPECT_MESSAGE(kiln::zeros({2}).size(2),
                 "Dimension out of range (expected to be in range of [-1, 0], but got 2)");
}

TEST(HostileArguments, ViewOffsetsWithExtremeIndices) {
  Tensor v = kiln::arange(6.0).view({2, 3});
  EXPECT_MESSAGE(v.select(1, kMax),
                 "select(): index 9223372036854775807 out of range for tensor of size [2, 3] at "
                 "dimension 1");
  EXPECT_MESSAGE(v.select(1, kMin),
                 "select(): index -9223372036854775808 out of range for tensor of size [2, 3] at "
                 "dimension 1");
  EXPECT_MESSAGE(v.narrow(1, 1, kMin),
                 "start (1) + length (-9223372036854775808) exceeds dimension size (3).");
  EXPECT_MESSAGE(v.index({0, kMin}),
                 "index -9223372036854775808 is out of bounds for dimension 1 with size 3");
  EXPECT_MESSAGE(v.unsqueeze(kMax),
                 "Dimension out of range (expected to be in range of [-3, 2], but got "
                 "9223372036854775807)");
  // Offsets along the huge dimensions of an empty view: no element, no overflow.
  Tensor e = kiln::zeros({3, 1LL << 62, 0});
  Tensor n = e.narrow(0, 2, 1);
  EXPECT_EQ(n.sizes().vec(), (std::vector<int64_t>{1, 1LL << 62, 0}));
  EXPECT_EQ(values(n), std::vector<double>{});
  Tensor s = e.select(1, (1LL << 62) - 1);
  EXPECT_EQ(s.sizes().vec(), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(e.select(0, 2).sizes().vec(), (std::vector<int64_t>{1LL << 62, 0}));
  EXPECT_EQ(e.narrow(1, (1LL << 62) - 5, 5).sizes().vec(), (std::vector<int64_t>{3, 5, 0}));
}

TEST(HostileArguments, EmptyViewsWithHugeOtherSizes) {
  const int64_t big = 1LL << 62;
  Tensor e = kiln::zeros({3, big, 0});
  EXPECT_EQ(e.sizes().vec(), (std::vector<int64_t>{3, big, 0}));
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(e.is_contiguous());
  EXPECT_EQ(kiln::empty({3, big, 0}).numel(), 0);
  EXPECT_EQ(kiln::zeros({0}).view({3, big, 0}).sizes().vec(), (std::vector<int64_t>{3, big, 0}));
  EXPECT_EQ(kiln::zeros({0}).reshape({3, big, 0}).sizes().vec(), (std::vector<int64_t>{3, big, 0}));
  EXPECT_EQ(kiln::zeros({0}).expand({3, big, 0}).sizes().vec(), (std::vector<int64_t>{3, big, 0}));
  EXPECT_EQ(kiln::zeros({0, big, 4}).is_contiguous(), true);
  EXPECT_EQ(e.unsqueeze(0).sizes().vec(), (std::vector<int64_t>{1, 3, big, 0}));
  EXPECT_EQ(e.transpose(0, 2).sizes().vec(), (std::vector<int64_t>{0, big, 3}));
  EXPECT_EQ(e.flatten().sizes().vec(), std::vector<int64_t>{0});
  EXPECT_EQ(e.sum(1).sizes().vec(), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(e.mean(1).sizes().vec(), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(e.mean({0, 1}).sizes().vec(), std::vector<int64_t>{0});
  EXPECT_EQ(e.var({0, 1}).sizes().vec(), std::vector<int64_t>{0});
  EXPECT_EQ(e.amax(0).sizes().vec(), (std::vector<int64_t>{big, 0}));
  EXPECT_EQ((e + 1).sizes().vec(), (std::vector<int64_t>{3, big, 0}));
  EXPECT_EQ(values(e + 1), std::vector<double>{});
  // PyTorch's products wrap where kiln's are checked; the results that do not fit an int64
  // are refused with PyTorch's messages.
  EXPECT_MESSAGE(e.flatten(0, 1), "invalid shape dimension -4611686018427387904");
  EXPECT_MESSAGE(kiln::zeros({big, 4, 0}),
                 "Storage size calculation overflowed with sizes=[4611686018427387904, 4, 0]");
  EXPECT_MESSAGE(kiln::zeros({0}).view({3, -1, 0}),
                 "cannot reshape tensor of 0 elements into shape [3, -1, 0] because the "
                 "unspecified dimension size -1 can be any value and is ambiguous");
  EXPECT_MESSAGE(kiln::zeros({0}).view({-1, 0}),
                 "cannot reshape tensor of 0 elements into shape [-1, 0] because the "
                 "unspecified dimension size -1 can be any value and is ambiguous");
}

TEST(HostileArguments, MatmulMessagesWithHugeEmptyOperands) {
  // The row counts the messages print are products of sizes: they must not overflow (UBSan).
  Tensor a = kiln::zeros({3, 1LL << 62, 0});
  EXPECT_THROW(kiln::matmul(a, kiln::zeros({5})), kiln::Error);
  EXPECT_THROW(kiln::matmul(kiln::zeros({5, 2}), kiln::zeros({4, 1LL << 62, 0, 3})), kiln::Error);
  EXPECT_THROW(kiln::matmul(kiln::zeros({2}), kiln::zeros({4, 1LL << 62, 0, 3})), kiln::Error);
}

TEST(HostileArguments, NllLossTargetOutOfBounds) {
  Tensor logits = kiln::zeros({2, 3});
  namespace F = kiln::nn::functional;
  EXPECT_MESSAGE(F::nll_loss(logits, kiln::tensor({int64_t{0}, int64_t{5}})),
                 "Target 5 is out of bounds.");
  EXPECT_MESSAGE(F::nll_loss(logits, kiln::tensor({int64_t{0}, int64_t{-1}})),
                 "Target -1 is out of bounds.");
  EXPECT_MESSAGE(F::nll_loss(logits, kiln::tensor({int64_t{3}, int64_t{1}})),
                 "Target 3 is out of bounds.");
  EXPECT_MESSAGE(F::cross_entropy(logits, kiln::tensor({int64_t{0}, int64_t{5}})),
                 "Target 5 is out of bounds.");
  EXPECT_MESSAGE(F::cross_entropy(logits, kiln::tensor({int64_t{0}, kMax})),
                 "Target 9223372036854775807 is out of bounds.");
  EXPECT_MESSAGE(F::cross_entropy(logits, kiln::tensor({int64_t{0}, kMin})),
                 "Target -9223372036854775808 is out of bounds.");
  EXPECT_MESSAGE(F::nll_loss(logits, kiln::tensor({int64_t{0}, int64_t{5}}),
                             F::NLLLossFuncOptions().reduction(kiln::kNone)),
                 "Target 5 is out of bounds.");
  EXPECT_MESSAGE(F::nll_loss(kiln::zeros({3}), kiln::tensor(int64_t{3})),
                 "Target 3 is out of bounds.");
  // ignore_index (-100 by default) is not a class and is not checked.
  EXPECT_EQ(values(F::nll_loss(logits, kiln::tensor({int64_t{0}, int64_t{-100}}))),
            std::vector<double>{0});
}

TEST(HostileArguments, ZeroDimReductionsWithRepeatedDims) {
  Tensor s = kiln::tensor(3.0);
  EXPECT_MESSAGE(s.sum({0, 0}), "dim 0 appears multiple times in the list of dims");
  EXPECT_MESSAGE(s.sum({0, -1}), "dim 0 appears multiple times in the list of dims");
  EXPECT_MESSAGE(s.amax({0, 0}), "dim 0 appears multiple times in the list of dims");
  EXPECT_MESSAGE(s.mean({0, 0}), "dim 0 appears multiple times in the list of dims");
  EXPECT_MESSAGE(s.var({0, 0}), "dim 0 appears multiple times in the list of dims");
  EXPECT_MESSAGE(s.sum({1}),
                 "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
  EXPECT_EQ(values(s.sum({0})), std::vector<double>{3});
  EXPECT_EQ(s.sum({0}, true).dim(), 0);
  for (bool keepdim : {false, true}) {
    for (int64_t d : {0, -1}) {
      Tensor a = s.argmax(d, keepdim);
      EXPECT_EQ(a.dim(), 0);
      EXPECT_EQ(values(a), std::vector<double>{0});
      auto [mv, mi] = s.max(d, keepdim);
      EXPECT_EQ(mv.dim(), 0);
      EXPECT_EQ(mi.dim(), 0);
      EXPECT_EQ(values(mv), std::vector<double>{3});
      EXPECT_EQ(values(mi), std::vector<double>{0});
      auto [nv, ni] = s.min(d, keepdim);
      EXPECT_EQ(ni.dim(), 0);
      EXPECT_EQ(values(ni), std::vector<double>{0});
    }
    EXPECT_EQ(s.argmax(std::nullopt, keepdim).dim(), 0);
  }
  EXPECT_MESSAGE(s.max(1, false),
                 "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
  EXPECT_MESSAGE(s.flatten(0, 1),
                 "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
  EXPECT_EQ(s.flatten(-1, 0).sizes().vec(), std::vector<int64_t>{1});
}

TEST(HostileArguments, FillAndIndexPutWithAZeroDimValueOnExpandedViews) {
  Tensor b = kiln::zeros({1});
  b.expand({3}).fill_(kiln::tensor(4.0f));
  EXPECT_EQ(values(b), std::vector<double>{4});
  Tensor c = kiln::zeros({1});
  c.expand({3}).index_put_({Slice()}, kiln::tensor(5.0f));
  EXPECT_EQ(values(c), std::vector<double>{5});
  Tensor d = kiln::zeros({1});
  d.expand({3}).index_put_({1}, 6.0);
  EXPECT_EQ(values(d), std::vector<double>{6});
  Tensor m = kiln::zeros({2, 1});
  m.expand({2, 3}).index_put_({Slice(), 0}, kiln::tensor(7.0f));
  EXPECT_EQ(values(m), (std::vector<double>{7, 7}));
  // A value of more than one element is still refused there, as in PyTorch.
  Tensor f = kiln::zeros({1});
  EXPECT_MESSAGE(f.expand({3}).index_put_({Slice()}, kiln::ones({3})),
                 "unsupported operation: more than one element of the written-to tensor refers to "
                 "a single memory location. Please clone() the tensor before performing the "
                 "operation.");
  EXPECT_EQ(values(f), std::vector<double>{0});
}

TEST(HostileArguments, LibtorchMessagesForShapeErrors) {
  Tensor v = kiln::arange(6.0).view({2, 3});
  EXPECT_MESSAGE(v.view({4, 2}), "shape '[4, 2]' is invalid for input of size 6");
  EXPECT_MESSAGE(v.reshape({4, 2}), "shape '[4, 2]' is invalid for input of size 6");
  EXPECT_MESSAGE(v.view({-1, 0}), "shape '[-1, 0]' is invalid for input of size 6");
  EXPECT_MESSAGE(v.view({kMax, kMax}),
                 "shape '[9223372036854775807, 9223372036854775807]' is invalid for input of "
                 "size 6");
  EXPECT_MESSAGE(v.view({-2, -3}), "invalid shape dimension -2");
  EXPECT_MESSAGE(v.index({Slice(None, None, 0)}), "slice step cannot be zero");
  EXPECT_MESSAGE(v.index({Slice(None, None, -1)}), "step must be greater than zero");
  // narrow as 1.13 checks it: start wrapped as a dimension index, then start + length.
  EXPECT_MESSAGE(v.narrow(1, kMax, 1),
                 "Dimension out of range (expected to be in range of [-3, 2], but got "
                 "9223372036854775807)");
  EXPECT_MESSAGE(v.narrow(1, 4, 0),
                 "Dimension out of range (expected to be in range of [-3, 2], but got 4)");
  EXPECT_MESSAGE(v.narrow(1, 0, -1), "start (0) + length (-1) exceeds dimension size (3).");
  EXPECT_MESSAGE(v.narrow(1, -1, 2), "start (2) + length (2) exceeds dimension size (3).");
  EXPECT_EQ(v.narrow(1, 3, 0).sizes().vec(), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(kiln::zeros({0}).narrow(0, -1, 0).sizes().vec(), std::vector<int64_t>{0});
  EXPECT_MESSAGE(v.expand({3}),
                 "expand(CPUFloatType{[2, 3]}, size=[3]): the number of sizes provided (1) must "
                 "be greater or equal to the number of dimensions in the tensor (2)");
  EXPECT_MESSAGE(kiln::zeros({2, 3}, kiln::kLong).expand({2}),
                 "expand(CPULongType{[2, 3]}, size=[2]): the number of sizes provided (1) must "
                 "be greater or equal to the number of dimensions in the tensor (2)");
  EXPECT_MESSAGE(v.expand({3, -2}),
                 "The expanded size of the tensor (-2) must match the existing size (3) at "
                 "non-singleton dimension 1.  Target sizes: [3, -2].  Tensor sizes: [2, 3]");
  EXPECT_MESSAGE(v.expand({-1, 2, 3}),
                 "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing "
                 "dimension 0");
  EXPECT_MESSAGE(v.expand({kMax, 2, 3}), "numel: integer multiplication overflow");
  EXPECT_MESSAGE(kiln::stack({kiln::zeros({2, 3}), kiln::zeros({2, 3}), kiln::zeros({3, 2})}, 1),
                 "stack expects each tensor to be equal size, but got [2, 3] at entry 0 and "
                 "[3, 2] at entry 2");
  EXPECT_MESSAGE(kiln::stack({kiln::zeros({2}), kiln::zeros({2})}, kMax),
                 "Dimension out of range (expected to be in range of [-2, 1], but got "
                 "9223372036854775807)");
  EXPECT_MESSAGE(kiln::stack({}), "stack expects a non-empty TensorList");
}

TEST(HostileArguments, ExtremaOfEmptyTensors) {
  EXPECT_MESSAGE(kiln::zeros({0}).amax(),
                 "amax(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                 "the reduction dim with the 'dim' argument.");
  EXPECT_MESSAGE(kiln::zeros({0, 3}).amin(),
                 "amin(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                 "the reduction dim with the 'dim' argument.");
  EXPECT_MESSAGE(kiln::zeros({2, 0}).amax(1),
                 "amax(): Expected reduction dim 1 to have non-zero size.");
  EXPECT_EQ(kiln::zeros({2, 0}).amax(0).sizes().vec(), std::vector<int64_t>{0});
  EXPECT_MESSAGE(kiln::zeros({0}).argmax(),
                 "argmax(): Expected reduction dim to be specified for input.numel() == 0.");
  EXPECT_MESSAGE(kiln::zeros({0}).argmin(),
                 "argmin(): Expected reduction dim to be specified for input.numel() == 0.");
  EXPECT_MESSAGE(kiln::zeros({2, 0}).argmax(1),
                 "argmax(): Expected reduction dim 1 to have non-zero size.");
  EXPECT_EQ(kiln::zeros({2, 0}).argmax(0).sizes().vec(), std::vector<int64_t>{0});
  EXPECT_MESSAGE(kiln::zeros({0}).max(),
                 "max(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                 "the reduction dim with the 'dim' argument.");
  EXPECT_MESSAGE(kiln::zeros({2, 0}).max(1),
                 "max(): Expected reduction dim 1 to have non-zero size.");
  EXPECT_EQ(std::get<1>(kiln::zeros({0, 3}).max(1)).sizes().vec(), std::vector<int64_t>{0});
}

// Lowering a kernel over an empty shape whose other sizes are huge multiplied a stride by an
// extent in the scheduler's loop-merge test (4 * 2^62 here), a signed overflow that UBSan
// reported (the Release build got the right, empty, result).
TEST(HostileArguments, KernelOverAnEmptyShapeWithHugeSizes) {
  Tensor e = kiln::zeros({0, 1LL << 62, 4});
  e.eval();  // a stored tensor: the reduction's kernel reads it
  EXPECT_EQ(values(e.sum()), std::vector<double>{0});
  EXPECT_TRUE(std::isnan(values(e.mean())[0]));
}
