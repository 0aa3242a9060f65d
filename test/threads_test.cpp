// Application threads sharing tensors (issue 13, "Threads"): weights shared read-only by
// inference threads, pending or materialised; views of a shared base read while other threads
// record ops on it; one pending graph materialised by several threads at once; new kernels on
// every thread; autograd on separate models and backward passes sharing a leaf; a model whose
// weights require grad used for inference; set_num_threads while kernels run. Every value
// is checked against a reference computed before the threads start (plain loops, or a serial run
// of the same code), and what each thread saw is compared on the main thread. CI also runs this
// file built with ThreadSanitizer (.ci/test.sh), which reports the data races these interleavings
// reach even when the values come out right.
#include <gtest/gtest.h>
#include <kiln/kiln.h>
#include <kiln/nn.h>
#include <kiln/optim.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using kiln::Tensor;

constexpr int kThreads = 4;

// Small integers in float tensors: products and sums of thousands of them are exact in float,
// so every result below has one right value whatever order the kernels sum in.
double smallInt(int64_t i, int64_t salt) {
  return static_cast<double>((i * 5 + salt) % 7 - 3);
}

// A pending rows x cols float tensor of smallInt(i, salt), row-major (salt >= 0).
Tensor smallInts(int64_t rows, int64_t cols, int64_t salt) {
  return ((kiln::arange(rows * cols) * 5 + salt) % 7 - 3).to(kiln::kFloat).view({rows, cols});
}

// A row-major matrix of reference values, computed by plain loops.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  double at(int64_t r, int64_t c) const { return v[r * cols + c]; }
  double sum() const {
    double s = 0;
    for (double x : v) s += x;
    return s;
  }
};

Matrix smallIntsRef(int64_t rows, int64_t cols, int64_t salt) {
  Matrix m{rows, cols, {}};
  for (int64_t i = 0; i < rows * cols; ++i) m.v.push_back(smallInt(i, salt));
  return m;
}

Matrix matmulRef(const Matrix& a, const Matrix& b) {
  Matrix m{a.rows, b.cols, std::vector<double>(a.rows * b.cols, 0)};
  for (int64_t i = 0; i < a.rows; ++i) {
    for (int64_t j = 0; j < b.cols; ++j) {
      for (int64_t k = 0; k < a.cols; ++k) m.v[i * b.cols + j] += a.at(i, k) * b.at(k, j);
    }
  }
  return m;
}

// What `t` holds, through ops recorded on it (a read like any other).
std::vector<double> valuesOf(const Tensor& t) {
  Tensor d = t.to(kiln::kDouble).contiguous();
  const double* p = d.data_ptr<double>();
  return std::vector<double>(p, p + d.numel());
}

// Appends to `failures` where `t` differs from `want` (row-major), naming it `what`.
void expectValues(std::vector<std::string>& failures, const std::string& what, const Tensor& t,
                  const std::vector<double>& want, double tolerance = 0) {
  std::vector<double> got = valuesOf(t);
  if (got.size() != want.size()) {
    failures.push_back(what + ": " + std::to_string(got.size()) + " values, expected " +
                       std::to_string(want.size()));
    return;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(std::fabs(got[i] - want[i]) <= tolerance * (1 + std::fabs(want[i])))) {
      failures.push_back(what + "[" + std::to_string(i) + "] = " + std::to_string(got[i]) +
                         ", expected " + std::to_string(want[i]));
      return;
    }
  }
}

void expectEq(std::vector<std::string>& failures, const std::string& what, double got,
              double want) {
  if (got != want) {
    failures.push_back(what + " = " + std::to_string(got) + ", expected " + std::to_string(want));
  }
}

// Runs body(t, failures of thread t) on `threads` threads and returns every failure, an
// exception included, prefixed with its thread.
std::vector<std::string> onThreads(
    int threads, const std::function<void(int, std::vector<std::string>&)>& body) {
  std::vector<std::vector<std::string>> per(threads);
  std::vector<std::thread> running;
  for (int t = 0; t < threads; ++t) {
    running.emplace_back([&, t] {
      try {
        body(t, per[t]);
      } catch (const std::exception& e) {
        per[t].push_back(std::string("threw: ") + e.what());
      }
    });
  }
  for (std::thread& th : running) th.join();
  std::vector<std::string> all;
  for (int t = 0; t < threads; ++t) {
    for (const std::string& f : per[t]) all.push_back("thread " + std::to_string(t) + ": " + f);
  }
  return all;
}

const std::vector<std::string> kNone;

TEST(Threads, InferenceThreadsSharePendingAndMaterialisedWeights) {
  // Each round's weights are new: w1 still pending when the threads start (the first thread to
  // need it computes it while the others record ops reading it), b1 and w2 materialised.
  constexpr int kRounds = 4, kIters = 5;
  constexpr int64_t kBatch = 4, kIn = 16, kHidden = 32, kOut = 8;
  struct Weights {
    Tensor w1, b1, w2;
  };
  std::vector<Weights> weights;
  // want[r][t][it]: relu(x @ w1 + b1) @ w2 + 1 for x = smallInts(kBatch, kIn, xSalt(t, it)).
  std::vector<std::vector<std::vector<Matrix>>> want(kRounds);
  auto xSalt = [](int t, int it) { return 3 + 7 * t + it; };
  for (int r = 0; r < kRounds; ++r) {
    Weights w{smallInts(kIn, kHidden, r), smallInts(1, kHidden, r + 1).view({kHidden}),
              smallInts(kHidden, kOut, r + 2)};
    kiln::eval({w.b1, w.w2});
    weights.push_back(w);
    const Matrix w1 = smallIntsRef(kIn, kHidden, r), b1 = smallIntsRef(1, kHidden, r + 1),
                 w2 = smallIntsRef(kHidden, kOut, r + 2);
    for (int t = 0; t < kThreads; ++t) {
      want[r].emplace_back();
      for (int it = 0; it < kIters; ++it) {
        Matrix h = matmulRef(smallIntsRef(kBatch, kIn, xSalt(t, it)), w1);
        for (int64_t i = 0; i < h.rows; ++i) {
          for (int64_t j = 0; j < h.cols; ++j) {
            h.v[i * h.cols + j] = std::max(0.0, h.v[i * h.cols + j] + b1.v[j]);
          }
        }
        Matrix y = matmulRef(h, w2);
        for (double& e : y.v) e += 1;
        want[r][t].push_back(y);
      }
    }
  }
  std::barrier sync(kThreads);
  auto failures = onThreads(kThreads, [&](int t, std::vector<std::string>& fail) {
    for (int r = 0; r < kRounds; ++r) {
      sync.arrive_and_wait();
      const Weights& w = weights[r];
      for (int it = 0; it < kIters; ++it) {
        const Matrix& y_want = want[r][t][it];
        Tensor x = smallInts(kBatch, kIn, xSalt(t, it));
        Tensor y = kiln::relu(x.matmul(w.w1) + w.b1).matmul(w.w2) + 1;
        const std::string what = "round " + std::to_string(r) + " iter " + std::to_string(it);
        expectEq(fail, what + " sum", y.sum().item<float>(), y_want.sum());
        const int64_t i = it % kBatch, j = t % kOut;
        expectEq(fail, what + " element", y[i][j].item<float>(), y_want.at(i, j));
        std::vector<float> y_floats(y_want.v.begin(), y_want.v.end());
        if (!kiln::equal(y, kiln::from_blob(y_floats.data(), {kBatch, kOut}))) {
          fail.push_back(what + ": equal() is false");
        }
        expectValues(fail, what, y, y_want.v);
        // A view of the shared pending weight read (which computes its storage) while other
        // threads record ops that read it.
        const int64_t k = (t + it) % kIn;
        expectEq(fail, what + " w1 element", w.w1[k][it].item<float>(),
                 smallInt(k * kHidden + it, r));
      }
    }
  });
  EXPECT_EQ(failures, kNone);
}

TEST(Threads, ViewsOfASharedBaseReadWhileOtherThreadsRecordOpsOnIt) {
  constexpr int kRounds = 6;
  constexpr int64_t kRows = 8, kCols = 12;
  struct Shared {
    Tensor base, stale, row;
  };
  std::vector<Shared> shared;
  std::vector<Matrix> base_want;
  for (int r = 0; r < kRounds; ++r) {
    Shared s;
    s.base = smallInts(kRows, kCols, r);
    // Taken before the in-place write below: its history is brought up to date by whichever
    // thread uses it first.
    s.stale = s.base.narrow(0, 2, 3);
    s.base.mul_(2);
    s.row = s.base.select(0, 5);
    shared.push_back(s);
    Matrix m = smallIntsRef(kRows, kCols, r);
    for (double& e : m.v) e *= 2;
    base_want.push_back(m);
  }
  std::barrier sync(kThreads);
  auto failures = onThreads(kThreads, [&](int t, std::vector<std::string>& fail) {
    for (int r = 0; r < kRounds; ++r) {
      sync.arrive_and_wait();
      const Shared& s = shared[r];
      const Matrix& b = base_want[r];
      const std::string what = "round " + std::to_string(r);
      if (t % 2 == 0) {
        double stale_sum = 0;
        for (int64_t i = 2; i < 5; ++i) {
          for (int64_t j = 0; j < kCols; ++j) stale_sum += b.at(i, j);
        }
        expectEq(fail, what + " stale view sum", s.stale.sum().item<float>(), stale_sum);
        std::vector<double> row(b.v.begin() + 5 * kCols, b.v.begin() + 6 * kCols);
        expectValues(fail, what + " row view", s.row, row);
        std::vector<double> cols;
        for (int64_t j = 4; j < 9; ++j) {
          for (int64_t i = 0; i < kRows; ++i) cols.push_back(b.at(i, j));
        }
        expectValues(fail, what + " transposed columns", s.base.narrow(1, 4, 5).t(), cols);
        expectEq(fail, what + " element", s.base[t + 1][r].item<float>(), b.at(t + 1, r));
      } else {
        std::vector<double> row_sums(kRows, 0);
        for (int64_t i = 0; i < kRows; ++i) {
          for (int64_t j = 0; j < kCols; ++j) row_sums[i] += b.at(i, j) * t + 1;
        }
        expectValues(fail, what + " (base * t + 1).sum(1)", (s.base * t + 1).sum({1}), row_sums);
        Tensor own = kiln::ones({kRows, 1});
        Tensor col_sums = s.base.t().matmul(own);
        Tensor biggest = s.base.amax();
        kiln::eval({col_sums, biggest});
        std::vector<double> col_want(kCols, 0);
        for (int64_t i = 0; i < kRows; ++i) {
          for (int64_t j = 0; j < kCols; ++j) col_want[j] += b.at(i, j);
        }
        expectValues(fail, what + " base.t() @ ones", col_sums.view({kCols}), col_want);
        expectEq(fail, what + " amax", biggest.item<float>(), 6);
        expectEq(fail, what + " stale view element", s.stale[1][t].item<float>(), b.at(3, t));
      }
    }
  });
  EXPECT_EQ(failures, kNone);
}

TEST(Threads, OnePendingGraphMaterialisedByEveryThreadAtOnce) {
  constexpr int kRounds = 8;
  constexpr int64_t kM = 24, kK = 16, kN = 8;
  struct Shared {
    Tensor a, b, product, column_sums;
  };
  std::vector<Shared> shared;
  std::vector<Matrix> want;
  for (int r = 0; r < kRounds; ++r) {
    Shared s{smallInts(kM, kK, r), smallInts(kK, kN, r + 1), {}, {}};
    s.product = s.a.matmul(s.b) * 2 - 1;
    s.column_sums = s.product.sum({0});
    shared.push_back(s);
    Matrix m = matmulRef(smallIntsRef(kM, kK, r), smallIntsRef(kK, kN, r + 1));
    for (double& e : m.v) e = e * 2 - 1;
    want.push_back(m);
  }
  std::barrier sync(kThreads);
  auto failures = onThreads(kThreads, [&](int t, std::vector<std::string>& fail) {
    for (int r = 0; r < kRounds; ++r) {
      sync.arrive_and_wait();
      // Each thread asks for the same pending values in its own way, at the same moment.
      const Tensor& p = shared[r].product;
      const Matrix& m = want[r];
      const int way = (t + r) % 5;
      const std::string what = "round " + std::to_string(r) + " way " + std::to_string(way);
      switch (way) {
        case 0:
          expectEq(fail, what + " sum", p.sum().item<float>(), m.sum());
          break;
        case 1: {
          p.eval();
          const float* data = p.data_ptr<float>();
          for (int64_t i = 0; i < kM * kN; ++i) {
            if (data[i] != m.v[i]) {
              fail.push_back(what + " data_ptr()[" + std::to_string(i) + "]");
              break;
            }
          }
          break;
        }
        case 2: {
          Tensor own = p * t;
          kiln::eval({shared[r].column_sums, own});
          std::vector<double> own_want;
          for (double e : m.v) own_want.push_back(e * t);
          expectValues(fail, what + " own", own, own_want);
          break;
        }
        case 3: {
          // The same expression recorded again is the same node as the shared product's
          // (hash-consing): computed here into a tensor of this thread's own first, it leaves
          // the shared product's storage a value to copy when another thread reads it.
          Tensor twin = shared[r].a.matmul(shared[r].b) * 2 - 1;
          expectValues(fail, what + " twin", twin, m.v);
          break;
        }
        default:
          if (p.graph_text().empty()) fail.push_back(what + ": no graph text");
          (void)p.is_lazy();
          expectValues(fail, what, p, m.v);
          break;
      }
      std::vector<double> sums(kN, 0);
      for (int64_t i = 0; i < kM; ++i) {
        for (int64_t j = 0; j < kN; ++j) sums[j] += m.at(i, j);
      }
      expectValues(fail, what + " column sums", shared[r].column_sums, sums);
      expectEq(fail, what + " element", p[r][t].item<float>(), m.at(r, t));
    }
  });
  EXPECT_EQ(failures, kNone);
}

TEST(Threads, EveryThreadCompilesKernelsOfItsOwn) {
  // Materialisations take turns, but each one's two kernels compile side by side on the pool
  // (two threads), while the other threads record ops and look their plans up.
  const int saved_threads = kiln::get_num_threads();
  kiln::set_num_threads(2);
  constexpr int kIters = 5;
  constexpr int64_t kRows = 3;
  // Every (thread, iteration) has a row length of its own, so a kernel of its own (a kernel's
  // innermost result extent and a row reduction's length are compiled in).
  auto colsOf = [](int t, int it) { return int64_t{5} + kThreads * it + t; };
  const int64_t compiled_before = kiln::stats().kernels_compiled;
  auto failures = onThreads(kThreads, [&](int t, std::vector<std::string>& fail) {
    for (int it = 0; it < kIters; ++it) {
      const int64_t cols = colsOf(t, it);
      Tensor a = smallInts(kRows, cols, t + it);
      Tensor col_sums = (a * (t + 1) + it).relu().sum({0});
      Tensor row_max = (a - t).amax({1});
      kiln::eval({col_sums, row_max});
      Matrix m = smallIntsRef(kRows, cols, t + it);
      std::vector<double> sums(cols, 0), maxes(kRows, -1e9);
      for (int64_t i = 0; i < kRows; ++i) {
        for (int64_t j = 0; j < cols; ++j) {
          sums[j] += std::max(0.0, m.at(i, j) * (t + 1) + it);
          maxes[i] = std::max(maxes[i], m.at(i, j) - t);
        }
      }
      const std::string what = "iter " + std::to_string(it);
      expectValues(fail, what + " column sums", col_sums, sums);
      expectValues(fail, what + " row maxima", row_max, maxes);
      // Emptying the caches while the others compile and look kernels up.
      if (t == 0 && it == kIters / 2) kiln::clear_kernel_cache();
    }
  });
  EXPECT_EQ(failures, kNone);
  EXPECT_GE(kiln::stats().kernels_compiled - compiled_before, kThreads * kIters);
  kiln::set_num_threads(saved_threads);
}

// A small two-layer model trained for a few SGD steps on `x` (shared, read-only): the loss of
// each step and the final weights.
struct Trained {
  std::vector<double> losses;
  std::vector<double> w1, w2;
};

Trained train(const Tensor& x, int salt) {
  Tensor w1 = (smallInts(6, 5, salt) * 0.1).requires_grad_(true);
  Tensor w2 = (smallInts(5, 3, salt + 1) * 0.1).requires_grad_(true);
  Tensor target = smallInts(7, 3, salt + 2) * 0.5;
  kiln::optim::SGD opt({w1, w2}, kiln::optim::SGDOptions(0.1).momentum(0.5));
  Trained out;
  for (int step = 0; step < 4; ++step) {
    opt.zero_grad();
    Tensor loss = (kiln::tanh(x.matmul(w1)).matmul(w2) - target).pow(2).mean();
    loss.backward();
    opt.step();
    out.losses.push_back(loss.item<double>());
  }
  out.w1 = valuesOf(w1.detach());
  out.w2 = valuesOf(w2.detach());
  return out;
}

TEST(Threads, AutogradOnSeparateModelsInEveryThread) {
  Tensor x = smallInts(7, 6, 1) * 0.2;  // shared by every thread, pending until they start
  Tensor x_serial = smallInts(7, 6, 1) * 0.2;
  std::vector<Trained> want;
  for (int t = 0; t < kThreads; ++t) want.push_back(train(x_serial, t));
  std::vector<Trained> got(kThreads);
  auto failures =
      onThreads(kThreads, [&](int t, std::vector<std::string>&) { got[t] = train(x, t); });
  EXPECT_EQ(failures, kNone);
  // The same graphs as the serial run, though hash-consing may share some constants between
  // the threads and fuse them otherwise: equal up to float rounding.
  for (int t = 0; t < kThreads; ++t) {
    SCOPED_TRACE("thread " + std::to_string(t));
    ASSERT_EQ(got[t].losses.size(), want[t].losses.size());
    for (size_t i = 0; i < got[t].losses.size(); ++i) {
      EXPECT_NEAR(got[t].losses[i], want[t].losses[i], 1e-5 * std::fabs(want[t].losses[i]));
    }
    ASSERT_EQ(got[t].w1.size(), want[t].w1.size());
    for (size_t i = 0; i < got[t].w1.size(); ++i) EXPECT_NEAR(got[t].w1[i], want[t].w1[i], 1e-6);
    ASSERT_EQ(got[t].w2.size(), want[t].w2.size());
    for (size_t i = 0; i < got[t].w2.size(); ++i) EXPECT_NEAR(got[t].w2[i], want[t].w2[i], 1e-6);
  }
}

TEST(Threads, SharedModelWithGradWeightsUsedByInferenceThreads) {
  constexpr int kIters = 4;
  auto makeModel = [] {
    kiln::manual_seed(7);
    return kiln::nn::Sequential(kiln::nn::Linear(16, 32), kiln::nn::ReLU(),
                                kiln::nn::Linear(32, 4));
  };
  kiln::nn::Sequential shared = makeModel();  // its weights stay pending until the threads
  kiln::nn::Sequential twin = makeModel();    // the same weights, for the serial reference
  for (const Tensor& p : shared->parameters()) ASSERT_TRUE(p.requires_grad());
  auto inputOf = [](int t, int it) { return smallInts(5, 16, 11 * t + it) * 0.25; };
  std::vector<std::vector<std::vector<double>>> want(kThreads);
  {
    kiln::NoGradGuard no_grad;
    for (int t = 0; t < kThreads; ++t) {
      for (int it = 0; it < kIters; ++it)
        want[t].push_back(valuesOf(twin->forward(inputOf(t, it))));
    }
  }
  // Even threads under NoGradGuard, as inference should run; odd ones record the backward graph
  // too (sharing the weights' gradient accumulators) and never run it.
  auto failures = onThreads(kThreads, [&](int t, std::vector<std::string>& fail) {
    std::optional<kiln::NoGradGuard> no_grad;
    if (t % 2 == 0) no_grad.emplace();
    for (int it = 0; it < kIters; ++it) {
      Tensor y = shared->forward(inputOf(t, it));
      const std::string what = "iter " + std::to_string(it);
      if (y.requires_grad() != (t % 2 == 1)) fail.push_back(what + ": requires_grad() is wrong");
      expectValues(fail, what, y.detach(), want[t][it], 1e-6);
    }
  });
  EXPECT_EQ(failures, kNone);
  for (const Tensor& p : shared->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Threads, BackwardPassesOnSeveralThreadsAddIntoASharedLeaf) {
  constexpr int kIters = 8;
  constexpr int64_t kRows = 5, kIn = 6, kOut = 4;
  Tensor w = smallInts(kIn, kOut, 2).requires_grad_(true);
  // Thread t's pass: loss = ((x @ w) * (t + 1)).sum(), whose gradient is (t + 1) x^T @ ones.
  auto xSalt = [](int t, int it) { return 3 * t + it; };
  Matrix grad_want{kIn, kOut, std::vector<double>(kIn * kOut, 0)};
  std::vector<std::vector<double>> loss_want(kThreads);
  const Matrix w_ref = smallIntsRef(kIn, kOut, 2);
  for (int t = 0; t < kThreads; ++t) {
    for (int it = 0; it < kIters; ++it) {
      const Matrix x = smallIntsRef(kRows, kIn, xSalt(t, it));
      for (int64_t i = 0; i < kRows; ++i) {
        for (int64_t k = 0; k < kIn; ++k) {
          for (int64_t j = 0; j < kOut; ++j) grad_want.v[k * kOut + j] += (t + 1) * x.at(i, k);
        }
      }
      loss_want[t].push_back(matmulRef(x, w_ref).sum() * (t + 1));
    }
  }
  std::barrier sync(kThreads);
  auto failures = onThreads(kThreads, [&](int t, std::vector<std::string>& fail) {
    // The passes only record (the gradients stay pending), so that they meet at the leaf with
    // nothing in between; the losses are read afterwards.
    std::vector<Tensor> losses;
    for (int it = 0; it < kIters; ++it) {
      sync.arrive_and_wait();
      losses.push_back((smallInts(kRows, kIn, xSalt(t, it)).matmul(w) * (t + 1)).sum());
      losses.back().backward();
    }
    for (int it = 0; it < kIters; ++it) {
      expectEq(fail, "loss " + std::to_string(it), losses[it].item<float>(), loss_want[t][it]);
    }
  });
  EXPECT_EQ(failures, kNone);
  std::vector<std::string> grad_failures;
  expectValues(grad_failures, "w.grad()", w.grad(), grad_want.v);
  EXPECT_EQ(grad_failures, kNone);
}

TEST(Threads, SetNumThreadsWhileOtherThreadsRunSplitKernels) {
  const int saved_threads = kiln::get_num_threads();
  constexpr int kIters = 6;
  // 256 x 192 points: above the pool's grain, so each kernel splits over the pool's threads.
  constexpr int64_t kRows = 256, kCols = 192;
  auto failures = onThreads(kThreads, [&](int t, std::vector<std::string>& fail) {
    for (int it = 0; it < kIters; ++it) {
      if (t == 0) {
        const int n = 1 + it % 3;
        kiln::set_num_threads(n);
        expectEq(fail, "get_num_threads()", kiln::get_num_threads(), n);
      }
      Tensor a = smallInts(kRows, kCols, t + it);
      Tensor row_sums = (a * 2 + 1).sum({1});
      Tensor squares = (a * a).sum();
      kiln::eval({row_sums, squares});
      Matrix m = smallIntsRef(kRows, kCols, t + it);
      std::vector<double> rows(kRows, 0);
      double sq = 0;
      for (int64_t i = 0; i < kRows; ++i) {
        for (int64_t j = 0; j < kCols; ++j) {
          rows[i] += m.at(i, j) * 2 + 1;
          sq += m.at(i, j) * m.at(i, j);
        }
      }
      const std::string what = "iter " + std::to_string(it);
      expectValues(fail, what + " row sums", row_sums, rows);
      expectEq(fail, what + " sum of squares", squares.item<float>(), sq);
    }
  });
  EXPECT_EQ(failures, kNone);
  kiln::set_num_threads(saved_threads);
}

}  // namespace
