// Views share storage with their base (as PyTorch's), in-place updates are visible through every
// view, and lazy values recorded before an in-place update keep the values they were computed
// from, whether or not anything was materialised in between.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/frontend/tensor_impl.h"

namespace {

using kiln::Tensor;
using kiln::indexing::Ellipsis;
using kiln::indexing::None;
using kiln::indexing::Slice;

std::vector<double> values(const Tensor& t) {
  return kiln::detail::toDoubles(t);
}
std::vector<int64_t> shape(const Tensor& t) {
  return t.sizes().vec();
}
std::vector<int64_t> strides(const Tensor& t) {
  return t.strides().vec();
}
using V = std::vector<double>;
using S = std::vector<int64_t>;

V iota(int64_t n, double start = 0) {
  V v;
  for (int64_t i = 0; i < n; ++i) v.push_back(start + static_cast<double>(i));
  return v;
}

// A 3x4 float tensor 0..11 that owns memory (not lazy), so views alias a real buffer.
Tensor grid() {
  return kiln::tensor({{0.0, 1.0, 2.0, 3.0}, {4.0, 5.0, 6.0, 7.0}, {8.0, 9.0, 10.0, 11.0}});
}

// `f` throws kiln::Error with exactly `message`.
void expectError(const std::function<void()>& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const kiln::Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

bool sameStorage(const Tensor& a, const Tensor& b) {
  return a.impl()->storage.get() == b.impl()->storage.get();
}

// ------------------------------------------------------------------------- view geometry

TEST(ViewGeometry, ViewAndReshape) {
  Tensor x = grid();
  Tensor f = x.view(-1);
  EXPECT_EQ(shape(f), S{12});
  EXPECT_TRUE(sameStorage(f, x));
  EXPECT_EQ(values(f), iota(12));
  Tensor v = x.view({2, -1});
  EXPECT_EQ(shape(v), (S{2, 6}));
  EXPECT_EQ(strides(v), (S{6, 1}));
  EXPECT_EQ(shape(x.view({4, 3})), (S{4, 3}));
  EXPECT_EQ(shape(x.view_as(kiln::zeros({6, 2}))), (S{6, 2}));

  Tensor r = x.reshape({4, 3});
  EXPECT_TRUE(sameStorage(r, x));  // contiguous: a view
  Tensor tr = x.t().reshape({12});
  EXPECT_FALSE(sameStorage(tr, x));  // transposed: a copy
  EXPECT_EQ(values(tr), (V{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  // A copy does not alias: writing it leaves the base alone.
  tr.fill_(-1);
  EXPECT_EQ(values(x), iota(12));
  // A view does alias.
  r.fill_(-1);
  EXPECT_EQ(values(x), V(12, -1));
  EXPECT_EQ(shape(kiln::reshape(kiln::arange(6), {3, 2})), (S{3, 2}));
}

TEST(ViewGeometry, ViewOfNonContiguousThatStillFits) {
  Tensor x = kiln::arange(24, kiln::kFloat).view({2, 3, 4});
  // Splitting a dim of a permuted tensor needs no copy.
  Tensor p = x.permute({1, 0, 2});
  Tensor m = p.view({3, 2, 2, 2});
  EXPECT_TRUE(sameStorage(m, x));
  EXPECT_EQ(strides(m), (S{4, 12, 2, 1}));
  EXPECT_EQ(values(m), values(p));
  Tensor s = x.index({Slice(), Slice(), 1}).view({6});  // strides (12, 4) -> (4)
  EXPECT_EQ(strides(s), S{4});
  EXPECT_EQ(values(s), (V{1, 5, 9, 13, 17, 21}));
}

TEST(ViewGeometry, FlattenSqueezeUnsqueeze) {
  Tensor x = kiln::arange(24, kiln::kFloat).view({2, 3, 4});
  EXPECT_EQ(shape(x.flatten()), S{24});
  EXPECT_EQ(shape(x.flatten(1)), (S{2, 12}));
  EXPECT_EQ(shape(kiln::flatten(x, 0, 1)), (S{6, 4}));
  EXPECT_EQ(shape(x.flatten(-2, -1)), (S{2, 12}));
  EXPECT_EQ(shape(kiln::tensor(5.0).flatten()), S{1});
  Tensor y = kiln::zeros({1, 3, 1, 2});
  EXPECT_EQ(shape(y.squeeze()), (S{3, 2}));
  EXPECT_EQ(shape(y.squeeze(0)), (S{3, 1, 2}));
  EXPECT_EQ(shape(y.squeeze(1)), (S{1, 3, 1, 2}));  // not size 1: unchanged
  EXPECT_EQ(shape(kiln::squeeze(y, -2)), (S{1, 3, 2}));
  EXPECT_EQ(shape(y.unsqueeze(0)), (S{1, 1, 3, 1, 2}));
  EXPECT_EQ(shape(y.unsqueeze(-1)), (S{1, 3, 1, 2, 1}));
  EXPECT_EQ(shape(kiln::unsqueeze(kiln::zeros({3}), 1)), (S{3, 1}));
  Tensor g = grid();
  Tensor u = g.unsqueeze(1);
  EXPECT_EQ(shape(u), (S{3, 1, 4}));
  EXPECT_EQ(values(u), iota(12));
  EXPECT_TRUE(sameStorage(u, g));
}

TEST(ViewGeometry, PermuteTransposeT) {
  Tensor x = kiln::arange(24, kiln::kFloat).view({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(shape(p), (S{4, 2, 3}));
  EXPECT_EQ(strides(p), (S{1, 12, 4}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.index({1, 1, 2}).item<float>(), 12 + 8 + 1);
  EXPECT_EQ(shape(kiln::permute(x, {-1, 1, 0})), (S{4, 3, 2}));
  Tensor tr = x.transpose(0, 2);
  EXPECT_EQ(shape(tr), (S{4, 3, 2}));
  EXPECT_EQ(strides(tr), (S{1, 4, 12}));
  EXPECT_EQ(shape(kiln::transpose(x, -1, -2)), (S{2, 4, 3}));
  Tensor g = grid();
  Tensor gt = g.t();
  EXPECT_EQ(shape(gt), (S{4, 3}));
  EXPECT_EQ(values(gt), (V{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  EXPECT_EQ(shape(kiln::t(kiln::zeros({5}))), S{5});
  EXPECT_EQ(values(gt.t()), iota(12));
}

TEST(ViewGeometry, ExpandNarrowSelect) {
  Tensor c = kiln::tensor({{1.0}, {2.0}, {3.0}});
  Tensor e = c.expand({3, 4});
  EXPECT_EQ(strides(e), (S{1, 0}));
  EXPECT_EQ(values(e), (V{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
  Tensor e2 = c.expand({2, -1, 2});
  EXPECT_EQ(shape(e2), (S{2, 3, 2}));
  EXPECT_EQ(values(e2), (V{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(shape(kiln::tensor({1.0, 2.0}).expand_as(kiln::zeros({3, 2}))), (S{3, 2}));

  Tensor g = grid();
  Tensor n = g.narrow(1, 1, 2);
  EXPECT_EQ(shape(n), (S{3, 2}));
  EXPECT_EQ(values(n), (V{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(values(kiln::narrow(g, 0, -1, 1)), (V{8, 9, 10, 11}));
  EXPECT_EQ(n.storage_offset(), 1);
  Tensor s = g.select(1, 2);
  EXPECT_EQ(shape(s), S{3});
  EXPECT_EQ(values(s), (V{2, 6, 10}));
  EXPECT_EQ(values(kiln::select(g, 0, -1)), (V{8, 9, 10, 11}));
  EXPECT_EQ(values(g[1]), (V{4, 5, 6, 7}));
  EXPECT_EQ(g[2][3].item<float>(), 11.0f);
  EXPECT_EQ(g[1].dim(), 1);
  EXPECT_EQ(g[1][2].dim(), 0);
}

TEST(ViewGeometry, AsStrided) {
  Tensor g = grid();
  Tensor w = g.as_strided({3, 2}, {1, 3}, 2);  // element (i, j) is storage[2 + i + 3j]
  EXPECT_EQ(shape(w), (S{3, 2}));
  EXPECT_EQ(strides(w), (S{1, 3}));
  EXPECT_EQ(w.storage_offset(), 2);
  EXPECT_TRUE(sameStorage(w, g));
  EXPECT_EQ(values(w), (V{2, 5, 3, 6, 4, 7}));
  // Overlapping windows, as unfold makes them.
  EXPECT_EQ(values(kiln::as_strided(g, {4, 3}, {2, 1})), (V{0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8}));
  // Sizes and strides address the storage; the offset defaults to the tensor's own.
  Tensor rows = g.narrow(0, 1, 2);
  EXPECT_EQ(values(rows.as_strided({2}, {1})), (V{4, 5}));
  EXPECT_EQ(values(rows.as_strided({2}, {1}, 0)), (V{0, 1}));
  EXPECT_EQ(values(g.as_strided({2, 2}, {0, 1}, 10)), (V{10, 11, 10, 11}));
  // A write through the view lands in the base.
  Tensor z = kiln::zeros({2, 3});
  z.as_strided({2}, {4}, 0).fill_(7);
  EXPECT_EQ(values(z), (V{7, 0, 0, 0, 7, 0}));
}

TEST(ViewGeometry, AsStridedErrors) {
  Tensor g = grid();
  expectError([&] { g.as_strided({2, 2}, {1}); }, "mismatch in length of strides and shape");
  expectError(
      [&] {
        g.as_strided({4, 4}, {4, 1});
      },
      "setStorage: sizes [4, 4], strides [4, 1], storage offset 0, and itemsize 4 "
      "requiring a storage size of 64 are out of bounds for storage of size 48");
  expectError([&] { g.as_strided({2}, {1}, 11); },
              "setStorage: sizes [2], strides [1], storage offset 11, and itemsize 4 requiring a "
              "storage size of 52 are out of bounds for storage of size 48");
  expectError([&] { g.as_strided({2}, {-1}); },
              "as_strided: Negative strides are not supported at the moment, got strides: [-1]");
  expectError([&] { g.as_strided({2}, {1}, -1); }, "Tensor: invalid storage offset -1");
  expectError([&] { g.as_strided({-2}, {1}); },
              "Trying to create tensor with negative dimension -2: [-2]");
  EXPECT_EQ(shape(g.as_strided({0, 5}, {100, 100}, 40)), (S{0, 5})) << "no elements, no bounds";
}

TEST(ViewGeometry, ContiguousCloneDetach) {
  Tensor g = grid();
  EXPECT_EQ(g.contiguous().impl(), g.impl());
  Tensor t = g.t();
  Tensor c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(strides(c), (S{3, 1}));
  EXPECT_EQ(values(c), values(t));
  EXPECT_FALSE(sameStorage(c, g));

  Tensor cl = g.clone();
  EXPECT_FALSE(sameStorage(cl, g));
  g.add_(1);
  EXPECT_EQ(values(cl), iota(12));
  cl.mul_(0);
  EXPECT_EQ(values(g), iota(12, 1));

  Tensor d = g.detach();
  EXPECT_TRUE(sameStorage(d, g));
  d.sub_(1);
  EXPECT_EQ(values(g), iota(12));
  Tensor rg = kiln::ones({2}, kiln::requires_grad());
  EXPECT_FALSE(rg.detach().requires_grad());
  EXPECT_TRUE(rg.requires_grad());
}

// ----------------------------------------------------------------------------- indexing

TEST(Indexing, SlicesNoneEllipsisIntegers) {
  Tensor g = grid();
  Tensor col = g.index({Slice(), 1});
  EXPECT_EQ(shape(col), S{3});
  EXPECT_EQ(values(col), (V{1, 5, 9}));
  EXPECT_EQ(values(g.index({1})), (V{4, 5, 6, 7}));
  EXPECT_EQ(values(g.index({-1, -1})), V{11});
  EXPECT_EQ(g.index({-1, -1}).dim(), 0);
  Tensor st = g.index({Slice(), Slice(1, std::nullopt, 2)});
  EXPECT_EQ(shape(st), (S{3, 2}));
  EXPECT_EQ(strides(st), (S{4, 2}));
  EXPECT_EQ(values(st), (V{1, 3, 5, 7, 9, 11}));
  // Python's slice clamping: out-of-range bounds shrink, negative bounds count from the end.
  EXPECT_EQ(values(g.index({Slice(-2), 0})), (V{4, 8}));
  EXPECT_EQ(values(g.index({0, Slice(1, 100)})), (V{1, 2, 3}));
  EXPECT_EQ(values(g.index({0, Slice(std::nullopt, -1)})), (V{0, 1, 2}));
  EXPECT_EQ(g.index({Slice(5, 10)}).numel(), 0);
  EXPECT_EQ(
      values(g.index({Slice(std::nullopt, std::nullopt, 2), Slice(std::nullopt, std::nullopt, 3)})),
      (V{0, 3, 8, 11}));
  Tensor n = g.index({None});
  EXPECT_EQ(shape(n), (S{1, 3, 4}));
  EXPECT_EQ(shape(g.index({Slice(), None})), (S{3, 1, 4}));
  EXPECT_EQ(shape(g.index({Ellipsis, None})), (S{3, 4, 1}));
  EXPECT_EQ(values(g.index({Ellipsis, 0})), (V{0, 4, 8}));
  Tensor x = kiln::arange(24, kiln::kFloat).view({2, 3, 4});
  EXPECT_EQ(shape(x.index({0, Ellipsis})), (S{3, 4}));
  EXPECT_EQ(values(x.index({1, Ellipsis, 3})), (V{15, 19, 23}));
  EXPECT_EQ(shape(x.index({Ellipsis, None, Slice(1, 3)})), (S{2, 3, 1, 2}));
  EXPECT_EQ(shape(x.index({None, Ellipsis, None})), (S{1, 2, 3, 4, 1}));
  // Indexing a slice of a slice composes offsets and strides.
  Tensor inner = x.index({Slice(1, 2), Slice(std::nullopt, std::nullopt, 2)})
                     .index({0, 1, Slice(1, std::nullopt, 2)});
  EXPECT_EQ(values(inner), (V{21, 23}));
}

TEST(Indexing, IndexPut) {
  Tensor g = grid();
  g.index_put_({Slice(), 1}, -1);
  EXPECT_EQ(values(g), (V{0, -1, 2, 3, 4, -1, 6, 7, 8, -1, 10, 11}));
  g.index_put_({0}, kiln::tensor({9.0, 9.0, 9.0, 9.0}));
  EXPECT_EQ(values(g[0]), V(4, 9));
  g.index_put_({Slice(1, std::nullopt), Slice(2, std::nullopt)},
               kiln::tensor({{20.0, 21.0}, {22.0, 23.0}}));
  EXPECT_EQ(values(g), (V{9, 9, 9, 9, 4, -1, 20, 21, 8, -1, 22, 23}));
  // The value broadcasts like copy_.
  g.index_put_({Ellipsis, 0}, kiln::tensor(0.5));
  EXPECT_EQ(values(g.index({Slice(), 0})), (V{0.5, 0.5, 0.5}));
  g.index_put_({2, 3}, 100);
  EXPECT_EQ(g[2][3].item<float>(), 100);
  Tensor l = kiln::zeros({3}, kiln::kLong);
  l.index_put_({Slice(std::nullopt, std::nullopt, 2)}, 7);
  EXPECT_EQ(values(l), (V{7, 0, 7}));
}

// ----------------------------------------------------------------------------- aliasing

TEST(Aliasing, WriteThroughViewReadThroughBaseAndBack) {
  Tensor g = grid();
  Tensor row = g[1];
  row.fill_(0);
  EXPECT_EQ(values(g), (V{0, 1, 2, 3, 0, 0, 0, 0, 8, 9, 10, 11}));
  g.add_(1);
  EXPECT_EQ(values(row), (V{1, 1, 1, 1}));
  Tensor col = g.t()[2];  // column 2, strided
  col.mul_(10);
  EXPECT_EQ(values(g), (V{1, 2, 30, 4, 1, 1, 10, 1, 9, 10, 110, 12}));
  EXPECT_EQ(values(row), (V{1, 1, 10, 1}));
  // Views of views of a lazy (never materialised) base.
  Tensor lazy = kiln::zeros({4, 4});
  Tensor sub = lazy.narrow(0, 1, 2).narrow(1, 1, 2);
  sub.fill_(5);
  EXPECT_EQ(values(lazy), (V{0, 0, 0, 0, 0, 5, 5, 0, 0, 5, 5, 0, 0, 0, 0, 0}));
}

TEST(Aliasing, InPlaceOnViewVisibleThroughOtherViews) {
  Tensor x = kiln::zeros({4, 4});
  Tensor r1 = x[1];
  Tensor c2 = x.index({Slice(), 2});
  Tensor flat = x.view(-1);
  r1.fill_(1);
  EXPECT_EQ(values(c2), (V{0, 1, 0, 0}));
  c2.add_(10);
  EXPECT_EQ(values(r1), (V{1, 1, 11, 1}));
  EXPECT_EQ(flat[6].item<float>(), 11);
  flat.narrow(0, 12, 4).copy_(kiln::tensor({7.0, 8.0, 9.0, 10.0}));
  EXPECT_EQ(values(c2), (V{10, 11, 10, 9}));
  EXPECT_EQ(values(x[3]), (V{7, 8, 9, 10}));
  // Reading after materialising, then writing again.
  x.eval();
  r1.mul_(2);
  EXPECT_EQ(values(c2), (V{10, 22, 10, 9}));
  EXPECT_EQ(values(flat.narrow(0, 4, 4)), (V{2, 2, 22, 2}));
}

TEST(Aliasing, LazyValueKeepsOldValueAcrossInPlaceUpdate) {
  Tensor y = kiln::tensor({1.0, 2.0, 3.0});
  Tensor c = y * 2;
  y.add_(1);
  EXPECT_EQ(values(c), (V{2, 4, 6}));
  EXPECT_EQ(values(y), (V{2, 3, 4}));
}

TEST(Aliasing, LazyValueKeepsOldValueWhenBaseWasMaterialised) {
  Tensor y = kiln::tensor({1.0, 2.0, 3.0}) + 0;  // a computed buffer, not the literal's
  y.eval();
  Tensor c = y * 2;
  y.add_(1);
  y.eval();  // the update lands in y's buffer while c still needs the old contents
  EXPECT_EQ(values(y), (V{2, 3, 4}));
  EXPECT_EQ(values(c), (V{2, 4, 6}));
}

TEST(Aliasing, LazyValueKeepsOldValueEvaluatedTogether) {
  Tensor y = kiln::tensor({1.0, 2.0, 3.0});
  y.eval();
  Tensor c = y * 2;
  y.add_(1);
  Tensor d = y * 2;
  kiln::eval({y, c, d});
  EXPECT_EQ(values(c), (V{2, 4, 6}));
  EXPECT_EQ(values(d), (V{4, 6, 8}));
  EXPECT_EQ(values(y), (V{2, 3, 4}));
  // Reversed order of the requests.
  Tensor e = y + 0;
  y.mul_(10);
  kiln::eval({e, y});
  EXPECT_EQ(values(e), (V{2, 3, 4}));
  EXPECT_EQ(values(y), (V{20, 30, 40}));
}

TEST(Aliasing, CloneEvaluatedTogetherWithInPlaceUpdateOfItsSource) {
  Tensor y = kiln::tensor({1.0, 2.0, 3.0});
  y.eval();
  Tensor e = y.clone();
  y.mul_(10);
  kiln::eval({e, y});
  EXPECT_EQ(values(e), (V{1, 2, 3}));
  EXPECT_EQ(values(y), (V{10, 20, 30}));
}

TEST(Aliasing, CloneEvaluatedAfterInPlaceUpdateOfItsSource) {
  Tensor y = kiln::tensor({1.0, 2.0, 3.0});
  y.eval();
  Tensor e = y.clone();
  y.mul_(10);
  y.eval();
  EXPECT_EQ(values(e), (V{1, 2, 3}));
  EXPECT_EQ(values(y), (V{10, 20, 30}));
}

TEST(Aliasing, InPlaceThroughEmptyViewChangesNothing) {
  Tensor x = kiln::tensor({{1.0}, {2.0}, {3.0}, {4.0}});
  Tensor empty = x.index({Slice(), Slice(1, std::nullopt, 2)});
  EXPECT_EQ(shape(empty), (S{4, 0}));
  empty.mul_(0);
  EXPECT_EQ(values(x), (V{1, 2, 3, 4}));
  Tensor y = kiln::ones({5, 1}, kiln::kLong) + 0;
  y.index({Slice(), Slice(1, std::nullopt, 2)}).mul_(-1);
  EXPECT_EQ(kiln::detail::referenceValues(y), V(5, 1));
  EXPECT_EQ(values(y), V(5, 1));
  Tensor z = kiln::arange(6, kiln::kFloat).view({2, 3}) + 0;
  z.eval();
  z.narrow(1, 1, 0).fill_(7);
  z.index({Slice(2)}).add_(1);
  EXPECT_EQ(values(z), iota(6));
}

TEST(Aliasing, LazyValueOfViewKeepsOldValue) {
  Tensor x = kiln::tensor({{1.0, 2.0}, {3.0, 4.0}});
  Tensor c = x[0] * 1;
  Tensor col = x.index({Slice(), 1}) + 0;
  x.add_(100);
  x[1].fill_(0);
  EXPECT_EQ(values(c), (V{1, 2}));
  EXPECT_EQ(values(col), (V{2, 4}));
  EXPECT_EQ(values(x), (V{101, 102, 0, 0}));
}

TEST(Aliasing, ManyInPlaceUpdatesWithSnapshotsInBetween) {
  Tensor y = kiln::zeros({3});
  y.eval();
  std::vector<Tensor> snaps;
  for (int k = 0; k < 5; ++k) {
    snaps.push_back(y.clone());
    y.add_(1);
    if (k % 2 == 0) y.eval();
  }
  for (int k = 0; k < 5; ++k) EXPECT_EQ(values(snaps[k]), V(3, k)) << k;
  EXPECT_EQ(values(y), V(3, 5));
}

TEST(Aliasing, CopyFromOwnTranspose) {
  // copy_ between views that share some elements is refused as in PyTorch; an elementwise op
  // that reads its own transpose still computes from the values before the write.
  const std::string overlap =
      "unsupported operation: some elements of the input tensor and the written-to tensor refer "
      "to a single memory location. Please clone() the tensor before performing the operation.";
  Tensor x = kiln::tensor({{1.0, 2.0}, {3.0, 4.0}});
  expectError([&] { x.copy_(x.t()); }, overlap);
  x.add_(x.t());
  EXPECT_EQ(values(x), (V{2, 5, 5, 8}));
  // The same after materialisation, so the kernel writes the buffer it reads; a larger size
  // makes any element-by-element in-place overwrite visible.
  const int64_t n = 37;
  Tensor big = kiln::arange(n * n, kiln::kFloat).view({n, n}) + 0;
  big.eval();
  big.add_(big.t());
  std::vector<double> got = values(big);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      ASSERT_EQ(got[i * n + j], static_cast<double>(i * n + j + j * n + i)) << i << "," << j;
  // Shifted self-copy through overlapping views.
  Tensor s = kiln::arange(8, kiln::kFloat) + 0;
  s.eval();
  expectError([&] { s.narrow(0, 1, 7).copy_(s.narrow(0, 0, 7)); }, overlap);
  s.narrow(0, 1, 7).copy_(s.narrow(0, 0, 7).clone());
  EXPECT_EQ(values(s), (V{0, 0, 1, 2, 3, 4, 5, 6}));
  Tensor s2 = kiln::arange(8, kiln::kFloat) + 0;
  s2.eval();
  s2.narrow(0, 0, 7).add_(s2.narrow(0, 1, 7));
  EXPECT_EQ(values(s2), (V{1, 3, 5, 7, 9, 11, 13, 7}));
}

TEST(Aliasing, ReductionStoredIntoTheTensorItReads) {
  // Each sum reads x at the very element it stores; the CPU backend accumulates these sums in the
  // output buffer (the parallel loop runs innermost), so the kernel must read a copy of x.
  Tensor x = kiln::arange(4, kiln::kFloat).view({4, 1}) + 0;
  x.eval();
  x.copy_(x.expand({4, 3}).sum(1, true));
  EXPECT_EQ(values(x), (V{0, 3, 6, 9}));
  x.copy_((x.expand({4, 3}) - 1).amax(1, true));
  EXPECT_EQ(values(x), (V{-1, 2, 5, 8}));
}

// ---------------------------------------------------------------------------- from_blob

TEST(FromBlob, CallerWritesAreSeen) {
  float data[4] = {1, 2, 3, 4};
  Tensor t = kiln::from_blob(data, {4});
  EXPECT_EQ(t.dtype(), kiln::kFloat);
  EXPECT_EQ(values(t), (V{1, 2, 3, 4}));
  data[0] = 10;
  EXPECT_EQ(values(t), (V{10, 2, 3, 4}));
  EXPECT_EQ(t.data_ptr<float>(), data);
  // Pending work reads the memory when it is materialised.
  Tensor y = t * 2;
  data[1] = 100;
  EXPECT_EQ(values(y), (V{20, 200, 6, 8}));
}

TEST(FromBlob, InPlaceLandsInCallerMemory) {
  double data[5] = {1, 1, 1, 1, 1};
  Tensor t = kiln::from_blob(data, {5}, kiln::kDouble);
  t.add_(1);
  t.eval();
  for (double v : data) EXPECT_EQ(v, 2.0);
  t[1].fill_(7);
  t.index({Slice(3)}).mul_(3);
  t.eval();
  EXPECT_EQ(data[1], 7.0);
  EXPECT_EQ(data[3], 6.0);
  EXPECT_EQ(data[4], 6.0);
  EXPECT_EQ(data[0], 2.0);
  // An op that does not write in place leaves the caller memory alone.
  Tensor u = t * 0;
  u.eval();
  EXPECT_EQ(data[0], 2.0);
  int64_t ints[6] = {0, 1, 2, 3, 4, 5};
  Tensor m = kiln::from_blob(ints, {2, 3}, kiln::kLong);
  m.t().index_put_({0}, -1);
  m.eval();
  EXPECT_EQ(ints[0], -1);
  EXPECT_EQ(ints[3], -1);
  EXPECT_EQ(ints[1], 1);
}

TEST(FromBlob, Strided) {
  float data[6] = {0, 1, 2, 3, 4, 5};
  Tensor t = kiln::from_blob(data, {3, 2}, {1, 3});
  EXPECT_EQ(strides(t), (S{1, 3}));
  EXPECT_EQ(values(t), (V{0, 3, 1, 4, 2, 5}));
  t.add_(10);
  t.eval();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(data[i], 10 + i);
  float holes[5] = {1, -1, 2, -1, 3};
  Tensor h = kiln::from_blob(holes, {3}, {2});
  h.mul_(2);
  h.eval();
  EXPECT_EQ(holes[0], 2);
  EXPECT_EQ(holes[1], -1);  // between the elements: untouched
  EXPECT_EQ(holes[4], 6);
}

// ------------------------------------------------------------------------------ cat/stack

TEST(CatStack, Values) {
  Tensor a = kiln::tensor({{1.0, 2.0}, {3.0, 4.0}});
  Tensor b = kiln::tensor({{5.0, 6.0}});
  Tensor c0 = kiln::cat({a, b});
  EXPECT_EQ(shape(c0), (S{3, 2}));
  EXPECT_EQ(values(c0), (V{1, 2, 3, 4, 5, 6}));
  Tensor c1 = kiln::cat({a, a.t()}, 1);
  EXPECT_EQ(shape(c1), (S{2, 4}));
  EXPECT_EQ(values(c1), (V{1, 2, 1, 3, 3, 4, 2, 4}));
  EXPECT_EQ(values(kiln::cat({a, a}, -1)), (V{1, 2, 1, 2, 3, 4, 3, 4}));
  // Legacy allowance: empty 1-D tensors are skipped.
  EXPECT_EQ(values(kiln::cat({kiln::zeros({0}), b})), (V{5, 6}));
  Tensor mixed = kiln::cat({kiln::tensor({1, 2}), kiln::tensor({0.5})});
  EXPECT_EQ(mixed.dtype(), kiln::kFloat);
  EXPECT_EQ(values(mixed), (V{1, 2, 0.5}));
  // cat copies: the result does not alias its inputs.
  c0.fill_(0);
  EXPECT_EQ(values(a), (V{1, 2, 3, 4}));

  Tensor x = kiln::tensor({1.0, 2.0, 3.0});
  Tensor y = kiln::tensor({4.0, 5.0, 6.0});
  Tensor s0 = kiln::stack({x, y});
  EXPECT_EQ(shape(s0), (S{2, 3}));
  EXPECT_EQ(values(s0), (V{1, 2, 3, 4, 5, 6}));
  Tensor s1 = kiln::stack({x, y}, 1);
  EXPECT_EQ(shape(s1), (S{3, 2}));
  EXPECT_EQ(values(s1), (V{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(shape(kiln::stack({x, y, x}, -1)), (S{3, 3}));
  EXPECT_EQ(shape(kiln::stack({a, a}, 2)), (S{2, 2, 2}));
  EXPECT_EQ(values(kiln::stack({a, a}, 2)), (V{1, 1, 2, 2, 3, 3, 4, 4}));
}

}  // namespace
