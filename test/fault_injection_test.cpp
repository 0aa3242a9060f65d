// Fault injection (runtime/fault_injection.h): for each workload, the Nth allocation (then the
// Nth kernel compilation) fails, for N = 1, 2, 3, ... until the workload runs without reaching
// the fault. At each N the workload must throw kiln::Error with the real failure's message,
// leave every tensor the user holds with the values it had before the statement that failed
// (an in-place op is undone, not half-done; caller memory is untouched), and then run its
// remaining statements, the failed one included, to the values of a run without faults: no
// cache keeps a kernel or plan that failed.
#include "runtime/fault_injection.h"

#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/frontend/tensor_impl.h"

namespace {

using kiln::Tensor;
using kiln::indexing::Slice;
using kiln::runtime::FaultInjection;
using Site = FaultInjection::Site;

// What the user holds while a workload runs.
struct State {
  std::vector<Tensor> held;
  std::unique_ptr<kiln::optim::Optimizer> optimizer;
  // Caller memory wrapped by from_blob (its address must not change).
  std::unique_ptr<float[]> blob;
  int64_t blob_size = 0;
};

struct Workload {
  const char* name;
  // A compile fails in one way whatever the op (the plan is built before anything runs), and
  // each step of a compile sweep compiles the workload again: the sweep runs on the workloads
  // whose plans differ most (several kernels, writes in place, gradients), not on all.
  bool sweep_compiles;
  std::function<void(State&)> setup;
  std::vector<std::function<void(State&)>> statements;
};

// Everything the user can observe of a state: the caller memory as it is now, then each held
// tensor's values and its gradient's (read by materialising them).
struct Observed {
  std::vector<float> blob;
  std::vector<std::vector<double>> values;
};

// The tensors whose values are compared: the held ones and their gradients.
std::vector<Tensor> observedTensors(const State& st) {
  std::vector<Tensor> out;
  for (const Tensor& t : st.held) {
    out.push_back(t);
    if (t.requires_grad() && t.is_leaf() && t.grad().defined()) out.push_back(t.grad());
  }
  return out;
}

Observed observe(const State& st) {
  Observed o;
  o.blob.assign(st.blob.get(), st.blob.get() + st.blob_size);
  for (const Tensor& t : observedTensors(st)) o.values.push_back(kiln::detail::toDoubles(t));
  return o;
}

void expectClose(const std::vector<double>& got, const std::vector<double>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5 * std::max(1.0, std::abs(want[i])))
        << what << ", element " << i;
  }
}

void expectSame(const Observed& got, const Observed& want, const std::string& what) {
  EXPECT_EQ(got.blob, want.blob) << what << ": caller memory";
  ASSERT_EQ(got.values.size(), want.values.size()) << what << ": tensors held";
  for (size_t i = 0; i < got.values.size(); ++i) {
    expectClose(got.values[i], want.values[i], what + ": tensor " + std::to_string(i));
  }
}

// A run without faults: what the user observes after the first `statements` statements.
Observed reference(const Workload& w, size_t statements) {
  State st;
  w.setup(st);
  for (size_t k = 0; k < statements; ++k) w.statements[k](st);
  return observe(st);
}

bool expectedMessage(Site site, const std::string& m) {
  if (site == Site::Allocation) {
    const std::string prefix = "DefaultCPUAllocator: not enough memory: you tried to allocate ";
    return m.rfind(prefix, 0) == 0 && m.size() > prefix.size() + 7 &&
           m.compare(m.size() - 7, 7, " bytes.") == 0;
  }
  // The backend names the kernel's symbol, the plan what the kernel computes.
  return m.rfind("kiln: the JIT failed to compile kernel kiln_kernel_", 0) == 0 &&
         m.find(": injected JIT failure (the kernel computing %") != std::string::npos;
}

// The sweep: fails the Nth event at `site` for N = 1, 2, ... until the workload no longer
// reaches it.
void sweep(const Workload& w, Site site, bool eager) {
  kiln::EagerGuard mode(eager);
  std::vector<Observed> expected;
  for (size_t k = 0; k <= w.statements.size(); ++k) expected.push_back(reference(w, k));
  constexpr int64_t kMostFaults = 200;
  for (int64_t n = 1;; ++n) {
    ASSERT_LT(n, kMostFaults) << w.name << ": the workload keeps failing";
    SCOPED_TRACE(std::string(w.name) + (eager ? ", eager" : ", lazy") + ", fault at event " +
                 std::to_string(n));
    State st;
    w.setup(st);
    // Compilations happen only on cache misses: every kernel of the workload compiles again.
    if (site == Site::Compile) kiln::clear_kernel_cache();
    std::vector<std::vector<double>> before;  // each statement's inputs, by the interpreter
    size_t done = 0;
    std::string error;
    FaultInjection::failNth(site, n);
    try {
      for (; done < w.statements.size(); ++done) {
        before.clear();
        for (const Tensor& t : observedTensors(st)) {
          before.push_back(kiln::detail::referenceValues(t));
        }
        w.statements[done](st);
      }
    } catch (const kiln::Error& e) {
      error = e.what();
    } catch (const std::exception& e) {
      FaultInjection::reset();
      FAIL() << "not a kiln::Error: " << e.what();
    }
    const bool reached = !FaultInjection::armed(site);
    FaultInjection::reset();
    if (done == w.statements.size()) {
      EXPECT_FALSE(reached) << "a failure was swallowed";
      expectSame(observe(st), expected.back(), "without a fault");
      return;
    }
    EXPECT_TRUE(expectedMessage(site, error)) << error;
    // Before anything is read again: the tensors' pending values, as the double interpreter
    // computes them, are what they were before the statement.
    std::vector<Tensor> now = observedTensors(st);
    ASSERT_EQ(now.size(), before.size()) << "statement " << done << " failed half-done";
    for (size_t i = 0; i < now.size(); ++i) {
      expectClose(kiln::detail::referenceValues(now[i]), before[i],
                  "statement " + std::to_string(done) + ", tensor " + std::to_string(i));
    }
    expectSame(observe(st), expected[done], "after statement " + std::to_string(done) + " failed");
    // The engine keeps working: the failed statement and the rest run to the right values.
    for (size_t k = done; k < w.statements.size(); ++k) w.statements[k](st);
    expectSame(observe(st), expected.back(), "after the retry");
  }
}

Tensor realized(Tensor t) {
  t.eval();
  return t;
}

// 0.1, 0.2, ... as a [rows, cols] float tensor in memory.
Tensor grid(int64_t rows, int64_t cols, double scale = 0.1) {
  return realized(kiln::arange(rows * cols, kiln::kFloat).reshape({rows, cols}) * scale);
}

const std::vector<Workload>& workloads() {
  static const std::vector<Workload> all = {
      {"elementwise chain",
       true,
       [](State& st) {
         st.held = {grid(3, 4), grid(3, 4, -0.05)};
       },
       {[](State& st) {
          Tensor x = st.held[0], y = st.held[1];
          st.held.push_back(kiln::tanh((x + y) * 0.5) + kiln::exp(-(x * x)) * 0.25);
        },
        [](State& st) { st.held[2].eval(); },
        [](State& st) { st.held.push_back(kiln::tensor(st.held[2].sum().item<float>())); }}},
      {"softmax and row reductions",
       false,
       [](State& st) { st.held = {grid(4, 6)}; },
       {[](State& st) { st.held.push_back(kiln::softmax(st.held[0], 1)); },
        [](State& st) { st.held.push_back(kiln::log_softmax(st.held[0] * 2, 0)); },
        [](State& st) { st.held.push_back(st.held[0].amax({1}) + st.held[0].mean({1})); },
        [](State& st) {
          kiln::eval({st.held[1], st.held[2], st.held[3]});
        },
        [](State& st) { st.held.push_back(st.held[0].argmax(1)); },
        [](State& st) { st.held[4].eval(); }}},
      {"matmul",
       true,
       [](State& st) {
         st.held = {grid(4, 3), grid(3, 5, 0.2)};
       },
       {[](State& st) { st.held.push_back(kiln::matmul(st.held[0], st.held[1]) + 1); },
        [](State& st) { st.held.push_back(kiln::relu(st.held[2]).t().matmul(st.held[0])); },
        [](State& st) {
          kiln::eval({st.held[2], st.held[3]});
        }}},
      {"in-place ops on views",
       true,
       [](State& st) {
         st.blob_size = 6;
         st.blob = std::make_unique<float[]>(6);
         for (int i = 0; i < 6; ++i) st.blob[i] = static_cast<float>(i) - 2.5f;
         st.held = {grid(4, 5), kiln::from_blob(st.blob.get(), {6})};
       },
       {// Read before the writes: it keeps the old contents.
        [](State& st) { st.held.push_back(st.held[0] * 2); },
        [](State& st) { st.held[0].narrow(0, 1, 2).add_(1); },
        [](State& st) { st.held[0].select(1, 2).mul_(3); },
        [](State& st) {
          st.held[0].index_put_({Slice(0, 2), 1}, kiln::tensor({7.0f, 8.0f}));
        },
        [](State& st) {
          st.held[0].narrow(1, 3, 2).copy_(kiln::ones({4, 2}));
        },
        [](State& st) { st.held[0].index({3}).fill_(-1); }, [](State& st) { st.held[1].mul_(2); },
        [](State& st) { st.held[1].narrow(0, 2, 3).sub_(st.held[0].select(0, 0).narrow(0, 0, 3)); },
        [](State& st) {
          kiln::eval({st.held[0], st.held[1], st.held[2]});
        },
        [](State& st) { st.held[1].index_put_({Slice(kiln::indexing::None, 2)}, 0.5); },
        [](State& st) { st.held[1].eval(); },
        // Two results of one value: materialised together with an in-place write, the second
        // gets memory of its own, allocated before the write.
        [](State& st) { st.held[0].add_(0.5); },
        [](State& st) { st.held.push_back(st.held[2] * 3); },
        [](State& st) { st.held.push_back(st.held[2] * 3); },
        [](State& st) {
          kiln::eval({st.held[3], st.held[4], st.held[0]});
        },
        // An out= form that resizes its output.
        [](State& st) {
          Tensor& out = st.held[3];
          kiln::add_out(out, st.held[0].narrow(0, 0, 2), st.held[2].narrow(0, 2, 2));
        },
        [](State& st) { st.held[3].eval(); }}},
      {"SGD steps",
       false,
       [](State& st) {
         Tensor w = grid(3, 4).requires_grad_(true);
         Tensor b = realized(kiln::zeros({4})).requires_grad_(true);
         st.held = {w, b, grid(2, 3, 0.3)};
         st.optimizer = std::make_unique<kiln::optim::SGD>(
             std::vector<Tensor>{w, b}, kiln::optim::SGDOptions(0.1).momentum(0.9));
       },
       {[](State& st) {
          Tensor loss = kiln::tanh(kiln::matmul(st.held[2], st.held[0]) + st.held[1]).sum();
          loss.backward();
        },
        [](State& st) { st.optimizer->step(); }, [](State& st) { st.optimizer->zero_grad(); },
        [](State& st) {
          (kiln::matmul(st.held[2], st.held[0]) + st.held[1]).pow(2).mean().backward();
        },
        [](State& st) { st.optimizer->step(); }}},
      {"Adam step",
       false,
       [](State& st) {
         Tensor w = grid(2, 5).requires_grad_(true);
         st.held = {w};
         st.optimizer = std::make_unique<kiln::optim::Adam>(std::vector<Tensor>{w},
                                                            kiln::optim::AdamOptions(0.01));
       },
       {[](State& st) { (st.held[0] * st.held[0]).sum().backward(); },
        [](State& st) { st.optimizer->step(); }, [](State& st) { st.optimizer->step(); }}},
      {"autograd backward",
       true,
       [](State& st) { st.held = {grid(2, 3).requires_grad_(true)}; },
       {[](State& st) {
          Tensor x = st.held[0];
          (x * x + x.exp()).sum().backward();
        },
        [](State& st) { st.held[0].grad().eval(); },
        [](State& st) {
          Tensor x = st.held[0];
          kiln::softmax(x * 3, 1).select(1, 0).sum().backward();
        },
        [](State& st) { st.held[0].grad().eval(); },
        // An in-place op on a view rewrites its base's history (CopySlices).
        [](State& st) { st.held.push_back(st.held[0] * 2); },
        [](State& st) { st.held[1].narrow(1, 0, 2).mul_(st.held[0].narrow(1, 1, 2)); },
        [](State& st) { (st.held[1] * st.held[1]).sum().backward(); },
        [](State& st) { st.held[0].grad().eval(); }}},
  };
  return all;
}

class FailedAllocations : public ::testing::TestWithParam<size_t> {
 protected:
  void TearDown() override { FaultInjection::reset(); }
};
class FailedCompiles : public FailedAllocations {};

TEST_P(FailedAllocations, ChangeNothing) {
  sweep(workloads()[GetParam()], Site::Allocation, /*eager=*/false);
}
TEST_P(FailedAllocations, ChangeNothingEagerly) {
  sweep(workloads()[GetParam()], Site::Allocation, /*eager=*/true);
}
TEST_P(FailedCompiles, ChangeNothing) {
  sweep(workloads()[GetParam()], Site::Compile, /*eager=*/false);
}

std::vector<size_t> workloadsSweepingCompiles() {
  std::vector<size_t> out;
  for (size_t i = 0; i < workloads().size(); ++i) {
    if (workloads()[i].sweep_compiles) out.push_back(i);
  }
  return out;
}

std::string workloadName(const ::testing::TestParamInfo<size_t>& info) {
  std::string name;
  for (const char* c = workloads()[info.param].name; *c; ++c) {
    if (std::isalnum(static_cast<unsigned char>(*c))) name += *c;
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Workloads, FailedAllocations,
                         ::testing::Range<size_t>(0, workloads().size()), workloadName);
INSTANTIATE_TEST_SUITE_P(Workloads, FailedCompiles,
                         ::testing::ValuesIn(workloadsSweepingCompiles()), workloadName);

TEST(FaultInjection, DisarmedSitesCostNothingAndNeverFire) {
  FaultInjection::reset();
  EXPECT_FALSE(FaultInjection::armed(Site::Allocation));
  EXPECT_FALSE(FaultInjection::shouldFail(Site::Allocation));
  FaultInjection::failNth(Site::Compile, 3);
  EXPECT_FALSE(FaultInjection::shouldFail(Site::Compile));
  EXPECT_FALSE(FaultInjection::shouldFail(Site::Compile));
  EXPECT_TRUE(FaultInjection::armed(Site::Compile));
  EXPECT_TRUE(FaultInjection::shouldFail(Site::Compile));
  EXPECT_FALSE(FaultInjection::armed(Site::Compile));
  EXPECT_FALSE(FaultInjection::shouldFail(Site::Compile));
}

TEST(FaultInjection, AllocationFailsAsARealOne) {
  FaultInjection::failNth(Site::Allocation, 1);
  try {
    kiln::empty({3, 5});
    ADD_FAILURE() << "expected kiln::Error";
  } catch (const kiln::Error& e) {
    EXPECT_STREQ(e.what(),
                 "DefaultCPUAllocator: not enough memory: you tried to allocate 60 bytes.");
  }
  FaultInjection::reset();
  EXPECT_EQ(kiln::empty({3, 5}).numel(), 15);
}

TEST(FaultInjection, FailedCompileIsNotCached) {
  kiln::clear_kernel_cache();
  Tensor x = grid(2, 2);
  FaultInjection::failNth(Site::Compile, 1);
  EXPECT_THROW((x * 4).eval(), kiln::Error);
  FaultInjection::reset();
  kiln::reset_stats();
  expectClose(kiln::detail::toDoubles(x * 4), {0, 0.4, 0.8, 1.2}, "x * 4");
  EXPECT_EQ(kiln::stats().kernels_compiled, 1);
}

}  // namespace
