// Gather and scatter inside kiln: the compiled kernels against the reference interpreter (the
// libtorch comparison of values, errors and gradients is test/indexing_libtorch_test.cpp), how
// they fuse, and what repeats of a loop compile.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/frontend/tensor_impl.h"

namespace {

using kiln::Tensor;
using namespace kiln::indexing;

// The tensor's values computed by the double-precision reference interpreter before anything is
// materialised, then by the compiled kernels.
void expectMatchesReference(const Tensor& t) {
  const std::vector<double> want = kiln::detail::referenceValues(t);
  const std::vector<double> got = kiln::detail::toDoubles(t);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "element " << i;
}

TEST(Indexing, KernelsMatchTheReferenceInterpreter) {
  kiln::manual_seed(3);
  Tensor x = kiln::randn({6, 5, 4});
  Tensor idx = kiln::tensor({5, 0, 3, 3, -1});
  Tensor mask = kiln::tensor({true, false, true, true, false});
  Tensor y = (x * 2).tanh();  // pending: the gathers below read it inline
  expectMatchesReference(y.index({idx}));
  expectMatchesReference(y.index({Slice(), Slice(None, None, 2), kiln::tensor({3, 0})}));
  expectMatchesReference(y.index({idx.remainder(4), Slice(), kiln::tensor({1})}));
  expectMatchesReference(y.transpose(0, 2).index({Slice(), mask}));
  expectMatchesReference(y.gather(1, kiln::randint(5, {6, 7, 4})));
  expectMatchesReference(y.index_select(2, kiln::tensor({3, 3, 0})));
  expectMatchesReference(kiln::embedding(y.select(2, 1), kiln::tensor({{1, 5}, {0, 0}})));
  expectMatchesReference(x.index_put({idx}, y.select(0, 2) * 3));
  expectMatchesReference(x.index_put({Slice(), mask}, kiln::ones({1}), /*accumulate=*/true));
  expectMatchesReference(
      x.scatter_add(0, kiln::randint(6, {9, 5, 4}), kiln::cat({y, y * 3}).narrow(0, 0, 9)));
}

TEST(Indexing, ScatterOfRepeatedPositionsKeepsTheLastAndAddsInOrder) {
  // Hand-computed: positions 1, 3, 1, 1 get 10, 20, 30, 40 in that order.
  Tensor base = kiln::zeros({5});
  Tensor index = kiln::tensor({1, 3, 1, 1});
  Tensor values = kiln::tensor({10.f, 20.f, 30.f, 40.f});
  Tensor stored = base.scatter(0, index, values);
  Tensor added = base.scatter_add(0, index, values);
  EXPECT_EQ(kiln::detail::toDoubles(stored), (std::vector<double>{0, 40, 0, 20, 0}));
  EXPECT_EQ(kiln::detail::toDoubles(added), (std::vector<double>{0, 80, 0, 20, 0}));
}

TEST(Indexing, ScatterAddIsTheSameOnAnyNumberOfThreads) {
  kiln::manual_seed(5);
  Tensor values = kiln::randn({50000});
  Tensor index = kiln::randint(97, {50000});
  std::vector<double> runs[2];
  for (int threads : {1, 2}) {
    kiln::set_num_threads(threads);
    runs[threads - 1] = kiln::detail::toDoubles(kiln::zeros({97}).scatter_add(0, index, values));
  }
  kiln::set_num_threads(2);
  EXPECT_EQ(runs[0], runs[1]);
}

TEST(Indexing, AGatherFusesWithItsSourceAndItsReader) {
  Tensor w = kiln::randn({100, 16});
  Tensor ids = kiln::tensor({7, 99, 7, 0});
  kiln::eval({ids});
  kiln::reset_stats();
  Tensor rows = (kiln::embedding(w * 0.5, ids) + 1).relu().sum(1);
  kiln::eval({rows});
  // One kernel: the scaled weight is computed only at the gathered rows, and the sum reads them.
  EXPECT_EQ(kiln::stats().kernels_run, 1);
  std::vector<double> got = kiln::detail::toDoubles(rows);
  std::vector<double> wv = kiln::detail::toDoubles(w);
  const int64_t rows_of[] = {7, 99, 7, 0};
  for (int r = 0; r < 4; ++r) {
    double want = 0;
    for (int c = 0; c < 16; ++c) want += std::max(wv[rows_of[r] * 16 + c] * 0.5 + 1, 0.0);
    EXPECT_NEAR(got[r], want, 1e-4);
  }
}

TEST(Indexing, NewIndexValuesCompileNothing) {
  Tensor table = kiln::randn({64, 8});
  Tensor grads = kiln::zeros({64, 8});
  auto step = [&](int64_t first) {
    Tensor ids = kiln::tensor({first, first + 1, first + 7});
    Tensor out = table.index({ids}) * 2;
    Tensor g = kiln::zeros({64, 8}).index_put({ids}, out, /*accumulate=*/true);
    kiln::eval({out, g});
  };
  step(0);
  kiln::reset_stats();
  for (int64_t first = 1; first < 20; ++first) step(first);
  EXPECT_EQ(kiln::stats().kernels_compiled, 0);
}

TEST(Indexing, EmbeddingGradientSumsRepeatedRowsAndSkipsThePadding) {
  Tensor w = kiln::ones({4, 2}).requires_grad_();
  Tensor out = kiln::embedding(w, kiln::tensor({{3, 1}, {3, 0}}), /*padding_idx=*/1);
  (out * kiln::tensor({1.f, 10.f})).sum().backward();
  // Rows 3 (twice), 0 (once) get [1, 10] each; row 1 is the padding.
  EXPECT_EQ(kiln::detail::toDoubles(w.grad()), (std::vector<double>{1, 10, 0, 0, 0, 0, 2, 20}));
}

TEST(Indexing, AnInPlaceIndexPutThatFailsChangesNothing) {
  Tensor x = kiln::arange(6.).view({2, 3});
  EXPECT_THROW(x.index_put_({kiln::tensor({0, 2})}, kiln::ones({2, 3})), kiln::Error);
  EXPECT_THROW(x.index_put_({kiln::tensor({0})}, kiln::ones({5})), kiln::Error);
  EXPECT_EQ(kiln::detail::toDoubles(x), (std::vector<double>{0, 1, 2, 3, 4, 5}));
}

}  // namespace

namespace {

TEST(Indexing, HugeEmptyTensorsGiveEmptyResults) {
  // Sizes whose products pass the int64 range, with no elements: shapes as libtorch's, no error.
  const int64_t big = int64_t{1} << 40;
  Tensor e = kiln::empty({big, 0, big});
  Tensor idx = kiln::tensor({0, 1});
  EXPECT_EQ(e.index({idx, Slice(), idx}).sizes(), kiln::IntArrayRef({2, 0}));
  EXPECT_EQ(e.index({Slice(), Slice(), idx}).sizes(), kiln::IntArrayRef({big, 0, 2}));
  EXPECT_EQ(e.index_select(2, idx).sizes(), kiln::IntArrayRef({big, 0, 2}));
  EXPECT_EQ(e.index_put({Slice(), Slice(), idx}, kiln::zeros({}), true).sizes(), e.sizes());
  EXPECT_EQ(e.nonzero().sizes(), kiln::IntArrayRef({0, 3}));
}

}  // namespace

namespace {

struct Collected : kiln::WarningHandler {
  std::vector<std::string> messages;
  void process(const kiln::SourceLocation&, const std::string& msg, bool) override {
    messages.push_back(msg);
  }
};

TEST(Indexing, Uint8MasksWorkAsBoolMasksWithPyTorchsDeprecationWarning) {
  Tensor x = kiln::arange(6.).view({2, 3});
  Tensor byte_mask = kiln::tensor({1, 0, 1}, kiln::kUInt8);
  Tensor bool_mask = kiln::tensor({true, false, true});
  Collected warnings;
  kiln::Warning::WarningHandlerGuard guard(&warnings);
  EXPECT_EQ(kiln::detail::toDoubles(x.index({Slice(), byte_mask})),
            (std::vector<double>{0, 2, 3, 5}));
  EXPECT_EQ(kiln::detail::toDoubles(x.masked_fill(byte_mask, -1)),
            kiln::detail::toDoubles(x.masked_fill(bool_mask, -1)));
  EXPECT_EQ(kiln::detail::toDoubles(x.masked_select(byte_mask)), (std::vector<double>{0, 2, 3, 5}));
  ASSERT_EQ(warnings.messages.size(), 3u);
  EXPECT_EQ(warnings.messages[0],
            "indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool "
            "instead.");
  EXPECT_NE(warnings.messages[1].find("masked_fill_ received a mask with dtype torch.uint8"),
            std::string::npos);
  EXPECT_NE(warnings.messages[2].find("masked_select received a mask with dtype torch.uint8"),
            std::string::npos);
}

}  // namespace
