// Every public op against values computed by hand (or with <cmath>), with PyTorch's dtype rules.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "lib/frontend/tensor_impl.h"

namespace {

using kiln::Tensor;

std::vector<double> values(const Tensor& t) {
  return kiln::detail::toDoubles(t);
}

std::string str(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

std::vector<int64_t> shape(const Tensor& t) {
  return t.sizes().vec();
}

// Float32 results are compared with a relative tolerance: the engine may use vectorised
// transcendental approximations that differ from libm in the last bits.
void expectValues(const Tensor& t, const std::vector<double>& expected, double rtol = 1e-5,
                  double atol = 1e-6) {
  std::vector<double> got = values(t);
  ASSERT_EQ(got.size(), expected.size()) << "shape " << t.sizes();
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
      continue;
    }
    EXPECT_NEAR(got[i], expected[i], atol + rtol * std::fabs(expected[i])) << "element " << i;
  }
}

void expectExact(const Tensor& t, const std::vector<double>& expected) {
  EXPECT_EQ(values(t), expected) << "shape " << t.sizes();
}

// ---------------------------------------------------------------------------------- creation

TEST(Creation, EmptyHasShapeAndDefaultDtype) {
  Tensor e = kiln::empty({2, 3});
  EXPECT_EQ(shape(e), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(e.dtype(), kiln::kFloat);
  EXPECT_EQ(e.numel(), 6);
  EXPECT_TRUE(e.is_contiguous());
  EXPECT_EQ(kiln::empty({4}, kiln::kLong).dtype(), kiln::kLong);
  EXPECT_EQ(kiln::empty({0, 3}).numel(), 0);
}

TEST(Creation, ZerosOnesFull) {
  expectExact(kiln::zeros({2, 3}), std::vector<double>(6, 0.0));
  EXPECT_EQ(kiln::zeros({2, 3}).dtype(), kiln::kFloat);
  expectExact(kiln::zeros({3}, kiln::kLong), {0, 0, 0});
  EXPECT_EQ(kiln::zeros({3}, kiln::kLong).dtype(), kiln::kLong);
  expectExact(kiln::ones({2, 2}), {1, 1, 1, 1});
  EXPECT_EQ(kiln::ones({2}, kiln::kInt).dtype(), kiln::kInt);
  expectExact(kiln::ones({2}, kiln::kBool), {1, 1});

  // As torch.full: the fill value's kind picks the dtype unless one is given.
  Tensor fi = kiln::full({2, 2}, 7);
  EXPECT_EQ(fi.dtype(), kiln::kLong);
  expectExact(fi, {7, 7, 7, 7});
  Tensor ff = kiln::full({3}, 1.5);
  EXPECT_EQ(ff.dtype(), kiln::kFloat);
  expectExact(ff, {1.5, 1.5, 1.5});
  Tensor fb = kiln::full({2}, true);
  EXPECT_EQ(fb.dtype(), kiln::kBool);
  expectExact(fb, {1, 1});
  Tensor fd = kiln::full({2}, 2, kiln::kDouble);
  EXPECT_EQ(fd.dtype(), kiln::kDouble);
  expectExact(fd, {2, 2});
}

TEST(Creation, RandIsInUnitIntervalAndReproducible) {
  kiln::manual_seed(42);
  Tensor a = kiln::rand({1000});
  std::vector<double> va = values(a);
  for (double v : va) {
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
  }
  kiln::manual_seed(42);
  Tensor b = kiln::rand({1000});
  EXPECT_EQ(values(b), va);
  // A different seed must give different numbers; a second draw continues the stream.
  kiln::manual_seed(43);
  EXPECT_NE(values(kiln::rand({1000})), va);
  kiln::manual_seed(42);
  Tensor c1 = kiln::rand({1000});
  Tensor c2 = kiln::rand({1000});
  EXPECT_EQ(values(c1), va);
  EXPECT_NE(values(c2), va);
  EXPECT_EQ(kiln::rand({3, 4}, kiln::kDouble).dtype(), kiln::kDouble);
}

TEST(Creation, SameSeedSameNumbersWhateverTheFusion) {
  kiln::manual_seed(7);
  std::vector<double> plain = values(kiln::rand({64}));
  kiln::manual_seed(7);
  Tensor fused = kiln::rand({64}) * 2 + 1;
  std::vector<double> f = values(fused);
  ASSERT_EQ(f.size(), plain.size());
  for (size_t i = 0; i < f.size(); ++i)
    EXPECT_FLOAT_EQ(static_cast<float>(f[i]), static_cast<float>(plain[i] * 2 + 1));
}

TEST(Creation, RandnMomentsOverManySamples) {
  kiln::manual_seed(1234);
  std::vector<double> v = values(kiln::randn({100000}));
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  var /= static_cast<double>(v.size() - 1);
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(var), 1.0, 0.02);
  kiln::manual_seed(1234);
  EXPECT_EQ(values(kiln::randn({100000})), v);
}

TEST(Creation, RandintRangeAndDtype) {
  kiln::manual_seed(5);
  Tensor r = kiln::randint(3, 10, {2000});
  EXPECT_EQ(r.dtype(), kiln::kLong);
  std::vector<double> v = values(r);
  std::vector<int> seen(10, 0);
  for (double x : v) {
    ASSERT_GE(x, 3);
    ASSERT_LT(x, 10);
    ASSERT_EQ(x, std::floor(x));
    seen[static_cast<size_t>(x)]++;
  }
  for (int k = 3; k < 10; ++k) EXPECT_GT(seen[k], 0) << k;
  Tensor r2 = kiln::randint(4, {3, 3});
  EXPECT_EQ(shape(r2), (std::vector<int64_t>{3, 3}));
  for (double x : values(r2)) {
    EXPECT_GE(x, 0);
    EXPECT_LT(x, 4);
  }
  EXPECT_EQ(kiln::randint(0, 5, {2}, kiln::kInt).dtype(), kiln::kInt);
}

TEST(Creation, Arange) {
  Tensor a = kiln::arange(5);
  EXPECT_EQ(a.dtype(), kiln::kLong);
  expectExact(a, {0, 1, 2, 3, 4});
  expectExact(kiln::arange(1, 4), {1, 2, 3});
  Tensor f = kiln::arange(0, 1, 0.25);
  EXPECT_EQ(f.dtype(), kiln::kFloat);
  expectExact(f, {0, 0.25, 0.5, 0.75});
  expectExact(kiln::arange(1.0, 2.5, 0.5), {1.0, 1.5, 2.0});
  expectExact(kiln::arange(10, 0, -3), {10, 7, 4, 1});
  Tensor d = kiln::arange(3, kiln::kDouble);
  EXPECT_EQ(d.dtype(), kiln::kDouble);
  expectExact(d, {0, 1, 2});
  EXPECT_EQ(kiln::arange(0).numel(), 0);
}

TEST(Creation, Linspace) {
  Tensor l = kiln::linspace(0, 1, 5);
  EXPECT_EQ(l.dtype(), kiln::kFloat);
  expectExact(l, {0, 0.25, 0.5, 0.75, 1});
  expectExact(kiln::linspace(-1, 1, 1), {-1});
  EXPECT_EQ(kiln::linspace(0, 1, 0).numel(), 0);
  expectValues(kiln::linspace(-2, 2, 4, kiln::kDouble), {-2, -2.0 / 3, 2.0 / 3, 2});
}

TEST(Creation, Eye) {
  expectExact(kiln::eye(3), {1, 0, 0, 0, 1, 0, 0, 0, 1});
  Tensor r = kiln::eye(2, 3);
  EXPECT_EQ(shape(r), (std::vector<int64_t>{2, 3}));
  expectExact(r, {1, 0, 0, 0, 1, 0});
  EXPECT_EQ(kiln::eye(2, kiln::kLong).dtype(), kiln::kLong);
}

TEST(Creation, TensorFromNestedLists) {
  Tensor i = kiln::tensor({{1, 2}, {3, 4}});
  EXPECT_EQ(i.dtype(), kiln::kLong);
  EXPECT_EQ(shape(i), (std::vector<int64_t>{2, 2}));
  expectExact(i, {1, 2, 3, 4});
  Tensor f = kiln::tensor({1.5, 2.0});
  EXPECT_EQ(f.dtype(), kiln::kFloat);
  expectExact(f, {1.5, 2.0});
  // As libtorch's C++ (not Python): a list mixing int and double literals is refused.
  EXPECT_THROW(kiln::tensor({1, 2.5}), kiln::Error);
  Tensor b = kiln::tensor({true, false});
  EXPECT_EQ(b.dtype(), kiln::kBool);
  expectExact(b, {1, 0});
  Tensor d = kiln::tensor({1, 2}, kiln::kDouble);
  EXPECT_EQ(d.dtype(), kiln::kDouble);
  Tensor cube = kiln::tensor({{{1, 2, 3}, {4, 5, 6}}, {{7, 8, 9}, {10, 11, 12}}});
  EXPECT_EQ(shape(cube), (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(cube.stride(0), 6);
  Tensor scalar = kiln::tensor(3.5);
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.item<float>(), 3.5f);
  Tensor fromVec = kiln::tensor(std::vector<double>{1, 2, 3});
  EXPECT_EQ(shape(fromVec), (std::vector<int64_t>{3}));
}

TEST(Creation, LikeFunctions) {
  Tensor x = kiln::tensor({{1, 2, 3}, {4, 5, 6}}, kiln::kInt);
  Tensor z = kiln::zeros_like(x);
  EXPECT_EQ(z.dtype(), kiln::kInt);
  EXPECT_EQ(shape(z), shape(x));
  expectExact(z, std::vector<double>(6, 0));
  Tensor o = kiln::ones_like(x, kiln::kDouble);
  EXPECT_EQ(o.dtype(), kiln::kDouble);
  expectExact(o, std::vector<double>(6, 1));
  expectExact(kiln::full_like(x, 9), std::vector<double>(6, 9));
  EXPECT_EQ(kiln::full_like(x, 9).dtype(), kiln::kInt);
  Tensor e = kiln::empty_like(x);
  EXPECT_EQ(shape(e), shape(x));
  EXPECT_EQ(e.dtype(), kiln::kInt);
  Tensor xf = x.to(kiln::kFloat);
  Tensor r = kiln::rand_like(xf);
  EXPECT_EQ(shape(r), shape(x));
  for (double v : values(r)) {
    EXPECT_GE(v, 0);
    EXPECT_LT(v, 1);
  }
  EXPECT_EQ(shape(kiln::randn_like(xf)), shape(x));
}

// ------------------------------------------------------------------------------- elementwise

class Elementwise : public ::testing::Test {
 protected:
  Tensor a = kiln::tensor({1.0, 2.0, 3.0, 4.0});
  Tensor b = kiln::tensor({4.0, 3.0, 2.0, 1.0});
};

TEST_F(Elementwise, ArithmeticOperators) {
  expectExact(a + b, {5, 5, 5, 5});
  expectExact(a - b, {-3, -1, 1, 3});
  expectExact(a * b, {4, 6, 6, 4});
  expectValues(a / b, {0.25, 2.0 / 3, 1.5, 4});
  expectExact(a + 1, {2, 3, 4, 5});
  expectExact(1 + a, {2, 3, 4, 5});
  expectExact(a - 1, {0, 1, 2, 3});
  expectExact(10 - a, {9, 8, 7, 6});
  expectExact(a * 2, {2, 4, 6, 8});
  expectExact(2 * a, {2, 4, 6, 8});
  expectExact(a / 2, {0.5, 1, 1.5, 2});
  expectExact(12 / a, {12, 6, 4, 3});
  expectExact(-a, {-1, -2, -3, -4});
  expectExact(a + 0.5, {1.5, 2.5, 3.5, 4.5});
}

TEST_F(Elementwise, NamedArithmeticWithAlpha) {
  expectExact(kiln::add(a, b), {5, 5, 5, 5});
  expectExact(kiln::add(a, b, 2), {9, 8, 7, 6});
  expectExact(a.add(b, 2), {9, 8, 7, 6});
  expectExact(kiln::sub(a, b, 2), {-7, -4, -1, 2});
  expectExact(a.sub(b, 0.5), {-1, 0.5, 2, 3.5});
  expectExact(kiln::add(a, 1, 3), {4, 5, 6, 7});
  expectExact(kiln::sub(a, 1, 3), {-2, -1, 0, 1});
  expectExact(kiln::mul(a, b), {4, 6, 6, 4});
  expectExact(a.mul(3), {3, 6, 9, 12});
  expectValues(kiln::div(a, b), {0.25, 2.0 / 3, 1.5, 4});
  expectExact(a.div(4), {0.25, 0.5, 0.75, 1});
  expectExact(kiln::neg(a), {-1, -2, -3, -4});
  Tensor i = kiln::tensor({1, 2, 3});
  Tensor ia = kiln::add(i, i, 2);
  EXPECT_EQ(ia.dtype(), kiln::kLong);
  expectExact(ia, {3, 6, 9});
}

TEST_F(Elementwise, Pow) {
  expectExact(kiln::pow(a, 2), {1, 4, 9, 16});
  expectValues(a.pow(0.5), {1, std::sqrt(2.0), std::sqrt(3.0), 2});
  expectExact(kiln::pow(2, a), {2, 4, 8, 16});
  expectExact(kiln::pow(a, b), {1, 8, 9, 4});
  Tensor i = kiln::tensor({1, 2, 3});
  Tensor ip = i.pow(2);
  EXPECT_EQ(ip.dtype(), kiln::kLong);
  expectExact(ip, {1, 4, 9});
  Tensor fp = i.pow(0.5);
  EXPECT_EQ(fp.dtype(), kiln::kFloat);
  expectValues(fp, {1, std::sqrt(2.0), std::sqrt(3.0)});
}

TEST(ElementwiseUnary, MathFunctionsMatchLibm) {
  std::vector<double> in{0.25, 0.5, 1.0, 2.0, 3.0};
  Tensor x = kiln::tensor(in);
  auto expected = [&](double (*f)(double)) {
    std::vector<double> out;
    for (double v : in) out.push_back(static_cast<float>(f(static_cast<float>(v))));
    return out;
  };
  expectValues(x.exp(), expected([](double v) { return std::exp(v); }));
  expectValues(kiln::log(x), expected([](double v) { return std::log(v); }));
  expectValues(x.sqrt(), expected([](double v) { return std::sqrt(v); }));
  expectValues(x.rsqrt(), expected([](double v) { return 1 / std::sqrt(v); }));
  expectValues(x.sin(), expected([](double v) { return std::sin(v); }));
  expectValues(kiln::cos(x), expected([](double v) { return std::cos(v); }));
  expectValues(x.tanh(), expected([](double v) { return std::tanh(v); }));
  expectValues(x.sigmoid(), expected([](double v) { return 1 / (1 + std::exp(-v)); }));
  Tensor s = kiln::tensor({-2.0, -0.5, 0.0, 1.5});
  expectExact(s.abs(), {2, 0.5, 0, 1.5});
  expectExact(kiln::relu(s), {0, 0, 0, 1.5});
  expectExact(kiln::abs(kiln::tensor({-3, 4})), {3, 4});
  EXPECT_EQ(kiln::abs(kiln::tensor({-3, 4})).dtype(), kiln::kLong);
  expectExact(kiln::relu(kiln::tensor({-3, 4})), {0, 4});
  // Integer inputs of floating functions compute in kFloat.
  Tensor ie = kiln::tensor({0, 1}).exp();
  EXPECT_EQ(ie.dtype(), kiln::kFloat);
  expectValues(ie, {1, std::exp(1.0)});
  EXPECT_EQ(kiln::tensor({1, 4}, kiln::kInt).sqrt().dtype(), kiln::kFloat);
  EXPECT_EQ(kiln::tensor({1.0, 4.0}, kiln::kDouble).sqrt().dtype(), kiln::kDouble);
}

// reciprocal: 1 / x, integers computed in kFloat (PyTorch's dtype rule for it), with the
// reference interpreter agreeing with the compiled kernel.
TEST(ElementwiseUnary, Reciprocal) {
  Tensor x = kiln::tensor({2.0, -4.0, 0.5, 0.0, -0.0});
  Tensor r = kiln::reciprocal(x);
  EXPECT_EQ(r.dtype(), kiln::kFloat);
  std::vector<double> expected = {0.5, -0.25, 2, INFINITY, -INFINITY};
  EXPECT_EQ(kiln::detail::referenceValues(r), expected);
  expectExact(r, expected);
  Tensor i = kiln::tensor({2, -4}).reciprocal();
  EXPECT_EQ(i.dtype(), kiln::kFloat);
  expectExact(i, {0.5, -0.25});
  Tensor d = kiln::tensor({3.0, 8.0}, kiln::kDouble);
  d.reciprocal_();
  EXPECT_EQ(d.dtype(), kiln::kDouble);
  expectExact(d, {1.0 / 3.0, 0.125});
}

TEST(ElementwiseUnary, Clamp) {
  Tensor x = kiln::tensor({-3.0, -0.5, 0.5, 3.0});
  expectExact(kiln::clamp(x, -1, 1), {-1, -0.5, 0.5, 1});
  expectExact(x.clamp(0), {0, 0, 0.5, 3});
  expectExact(x.clamp(std::nullopt, 0.0), {-3, -0.5, 0, 0});
  Tensor i = kiln::tensor({-5, 0, 5});
  Tensor ic = i.clamp(-2, 2);
  EXPECT_EQ(ic.dtype(), kiln::kLong);
  expectExact(ic, {-2, 0, 2});
}

TEST(ElementwiseBinary, MaximumMinimumWhere) {
  Tensor x = kiln::tensor({1.0, 5.0, 3.0});
  Tensor y = kiln::tensor({4.0, 2.0, 3.0});
  expectExact(kiln::maximum(x, y), {4, 5, 3});
  expectExact(x.minimum(y), {1, 2, 3});
  Tensor c = kiln::tensor({true, false, true});
  expectExact(kiln::where(c, x, y), {1, 2, 3});
  expectExact(kiln::where(c, 0.0, y), {0, 2, 0});
  expectExact(kiln::where(c, x, -1), {1, -1, 3});
  Tensor ws = kiln::where(c, 1.0, 0.0);
  EXPECT_EQ(ws.dtype(), kiln::kFloat);
  expectExact(ws, {1, 0, 1});
  expectExact(kiln::where(x > 2, x, y), {4, 5, 3});
  // Broadcast condition against a column.
  Tensor col = kiln::tensor({{10.0}, {20.0}});
  Tensor w2 = kiln::where(c, x, col);
  EXPECT_EQ(shape(w2), (std::vector<int64_t>{2, 3}));
  expectExact(w2, {1, 10, 3, 1, 20, 3});
  Tensor mi = kiln::maximum(kiln::tensor({1, 7}), kiln::tensor({3.5, 2.0}));
  EXPECT_EQ(mi.dtype(), kiln::kFloat);
  expectExact(mi, {3.5, 7});
}

TEST(ElementwiseBinary, ComparisonsGiveBool) {
  Tensor x = kiln::tensor({1.0, 2.0, 3.0});
  Tensor y = kiln::tensor({3.0, 2.0, 1.0});
  struct Case {
    Tensor got;
    std::vector<double> want;
  };
  std::vector<Case> cases{
      {kiln::eq(x, y), {0, 1, 0}}, {kiln::ne(x, y), {1, 0, 1}}, {kiln::lt(x, y), {1, 0, 0}},
      {kiln::le(x, y), {1, 1, 0}}, {kiln::gt(x, y), {0, 0, 1}}, {kiln::ge(x, y), {0, 1, 1}},
      {x == y, {0, 1, 0}},         {x != y, {1, 0, 1}},         {x < y, {1, 0, 0}},
      {x <= y, {1, 1, 0}},         {x > y, {0, 0, 1}},          {x >= y, {0, 1, 1}},
      {x == 2, {0, 1, 0}},         {x != 2, {1, 0, 1}},         {x < 2, {1, 0, 0}},
      {x <= 2, {1, 1, 0}},         {x > 2, {0, 0, 1}},          {x >= 2, {0, 1, 1}},
      {x.eq(y), {0, 1, 0}},        {x.gt(1.5), {0, 1, 1}}};
  for (size_t k = 0; k < cases.size(); ++k) {
    EXPECT_EQ(cases[k].got.dtype(), kiln::kBool) << "case " << k;
    expectExact(cases[k].got, cases[k].want);
  }
  // Mixed dtypes compare in the promoted type: 2 == 2.0, 1 < 1.5.
  expectExact(kiln::tensor({1, 2}) == kiln::tensor({1.5, 2.0}), {0, 1});
  expectExact(kiln::tensor({1, 2}) < 1.5, {1, 0});
}

TEST(ElementwiseBinary, Logical) {
  Tensor p = kiln::tensor({true, true, false, false});
  Tensor q = kiln::tensor({true, false, true, false});
  expectExact(kiln::logical_and(p, q), {1, 0, 0, 0});
  expectExact(kiln::logical_or(p, q), {1, 1, 1, 0});
  expectExact(kiln::logical_not(p), {0, 0, 1, 1});
  expectExact(p && q, {1, 0, 0, 0});
  expectExact(p || q, {1, 1, 1, 0});
  expectExact(!p, {0, 0, 1, 1});
  // Non-bool operands count as true when nonzero.
  Tensor f = kiln::tensor({0.0, 2.5, -1.0, 0.0});
  Tensor g = kiln::tensor({3, 0, 1, 0});
  Tensor r = f.logical_and(g);
  EXPECT_EQ(r.dtype(), kiln::kBool);
  expectExact(r, {0, 0, 1, 0});
  expectExact(f.logical_or(g), {1, 1, 1, 0});
  expectExact(f.logical_not(), {1, 0, 0, 1});
  EXPECT_EQ(f.logical_not().dtype(), kiln::kBool);
}

TEST(ElementwiseBinary, ToDtype) {
  Tensor x = kiln::tensor({1.7, -1.7, 0.0, 2.0});
  Tensor l = x.to(kiln::kLong);
  EXPECT_EQ(l.dtype(), kiln::kLong);
  expectExact(l, {1, -1, 0, 2});
  expectExact(x.to(kiln::kInt), {1, -1, 0, 2});
  Tensor bl = x.to(kiln::kBool);
  EXPECT_EQ(bl.dtype(), kiln::kBool);
  expectExact(bl, {1, 1, 0, 1});
  Tensor d = x.to(kiln::kDouble);
  EXPECT_EQ(d.dtype(), kiln::kDouble);
  expectExact(d, {static_cast<float>(1.7), static_cast<float>(-1.7), 0, 2});
  expectExact(kiln::tensor({true, false}).to(kiln::kFloat), {1, 0});
  Tensor big = kiln::tensor({16777217}, kiln::kLong).to(kiln::kFloat);
  expectExact(big, {16777216});
  // Same dtype without copy is the same tensor, as in PyTorch.
  EXPECT_EQ(x.to(kiln::kFloat).impl(), x.impl());
}

// libtorch's overloads of to(): a device of any spelling is a TensorOptions, and another
// tensor's dtype and device can be asked for.
TEST(ElementwiseBinary, ToOverloads) {
  Tensor x = kiln::tensor({1.5, -2.5});
  EXPECT_EQ(x.to(kiln::kCPU).impl(), x.impl());
  EXPECT_EQ(x.to({kiln::kCPU, 0}).dtype(), kiln::kFloat);
  EXPECT_EQ(x.to("cpu").impl(), x.impl());
  EXPECT_EQ(x.to(x.device()).impl(), x.impl());
  EXPECT_EQ(x.to().impl(), x.impl());
  Tensor i = x.to(kiln::zeros({1}, kiln::kInt));
  EXPECT_EQ(i.dtype(), kiln::kInt);
  expectExact(i, {1, -2});
  EXPECT_EQ(x.to(kiln::kCPU, kiln::kDouble).dtype(), kiln::kDouble);
  EXPECT_EQ(x.to(x).impl(), x.impl());
  EXPECT_NE(x.to(x, false, /*copy=*/true).impl(), x.impl());
  EXPECT_NE(x.to(x.options(), false, /*copy=*/true).impl(), x.impl());
  EXPECT_EQ(x.to(kiln::kDouble, false, false, kiln::MemoryFormat::Contiguous).dtype(),
            kiln::kDouble);
  // options() leaves requires_grad unset, as libtorch's: it carries dtype and device only.
  Tensor q = kiln::ones({2}, kiln::requires_grad());
  EXPECT_FALSE(q.options().has_requires_grad());
  EXPECT_FALSE(kiln::zeros({2}, q.options()).requires_grad());
  EXPECT_TRUE(x.to(q.options()).impl() == x.impl());
  EXPECT_TRUE(q.to(kiln::TensorOptions().requires_grad(false)).requires_grad());
}

TEST(ElementwiseBinary, IntegerDivisionIsTrueDivision) {
  Tensor q = kiln::tensor({7, -7, 1}) / kiln::tensor({2, 2, 4});
  EXPECT_EQ(q.dtype(), kiln::kFloat);
  expectExact(q, {3.5, -3.5, 0.25});
  Tensor s = kiln::tensor({7, 3}) / 2;
  EXPECT_EQ(s.dtype(), kiln::kFloat);
  expectExact(s, {3.5, 1.5});
}

TEST(ElementwiseBinary, IntegerArithmeticStaysExact) {
  Tensor big = kiln::tensor({int64_t{1} << 40, (int64_t{1} << 53) + 1});
  Tensor r = big + 1;
  EXPECT_EQ(r.dtype(), kiln::kLong);
  EXPECT_EQ(r[0].item<int64_t>(), (int64_t{1} << 40) + 1);
  EXPECT_EQ(r[1].item<int64_t>(), (int64_t{1} << 53) + 2);
  Tensor i32 = kiln::tensor({2147483647}, kiln::kInt) + 1;
  EXPECT_EQ(i32.dtype(), kiln::kInt);
  EXPECT_EQ(i32.item<int32_t>(), INT32_MIN);  // wraps like int32
}

// floor_divide, remainder (%) and fmod as PyTorch defines them: the quotient rounds toward -inf,
// the remainder takes the divisor's sign, fmod the dividend's. Each is checked compiled and by the
// reference interpreter, which must agree.
void expectDivision(const Tensor& t, const std::vector<double>& expected) {
  std::vector<double> ref = kiln::detail::referenceValues(t);
  ASSERT_EQ(ref.size(), expected.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(ref[i])) << "element " << i;
    } else {
      EXPECT_EQ(ref[i], expected[i]) << "element " << i;
      EXPECT_EQ(std::signbit(ref[i]), std::signbit(expected[i])) << "element " << i;
    }
  }
  std::vector<double> got = values(t);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
    } else {
      EXPECT_EQ(got[i], expected[i]) << "element " << i;
      EXPECT_EQ(std::signbit(got[i]), std::signbit(expected[i])) << "element " << i;
    }
  }
}

TEST(ElementwiseBinary, FloorDivideRemainderFmodOfFloats) {
  for (kiln::ScalarType dt : {kiln::kFloat, kiln::kDouble}) {
    SCOPED_TRACE(dt);
    Tensor a = kiln::tensor({7.5, -7.5, 7.5, -7.5, 5.0, 0.0, -3.0}, dt);
    Tensor b = kiln::tensor({2.0, 2.0, -2.0, -2.0, 2.5, -2.0, 4.0}, dt);
    Tensor q = kiln::floor_divide(a, b);
    EXPECT_EQ(q.dtype(), dt);
    expectDivision(q, {3, -4, -4, 3, 2, -0.0, -1});
    expectDivision(kiln::remainder(a, b), {1.5, 0.5, -0.5, -1.5, 0, 0, 1});
    expectDivision(a % b, {1.5, 0.5, -0.5, -1.5, 0, 0, 1});
    expectDivision(kiln::fmod(a, b), {1.5, -1.5, 1.5, -1.5, 0, 0, -3});
    // Division by zero follows IEEE: +-inf or nan for the quotient, nan for the remainders.
    Tensor z = kiln::tensor({1.0, -1.0, 0.0}, dt);
    expectDivision(z.floor_divide(0), {INFINITY, -INFINITY, NAN});
    expectDivision(z.remainder(0), {NAN, NAN, NAN});
    expectDivision(z.fmod(0.0), {NAN, NAN, NAN});
  }
  // Python's 0.3 // 0.1 and 0.3 % 0.1: the quotient is exact where a / b would round up to 3.
  Tensor x = kiln::tensor({0.3}, kiln::kDouble);
  expectDivision(x.floor_divide(0.1), {2.0});
  expectDivision(x % 0.1, {0.09999999999999998});
}

TEST(ElementwiseBinary, FloorDivideRemainderFmodOfIntegers) {
  for (kiln::ScalarType dt : {kiln::kInt, kiln::kLong}) {
    SCOPED_TRACE(dt);
    Tensor a = kiln::tensor({7, -7, 7, -7, 6, 0}, dt);
    Tensor b = kiln::tensor({2, 2, -2, -2, 3, -5}, dt);
    Tensor q = a.floor_divide(b);
    EXPECT_EQ(q.dtype(), dt);
    expectDivision(q, {3, -4, -4, 3, 2, 0});
    expectDivision(a.remainder(b), {1, 1, -1, -1, 0, 0});
    expectDivision(a.fmod(b), {1, -1, 1, -1, 0, 0});
    // A zero in a divisor tensor gives 0 (the kernel cannot raise, and never traps), and the most
    // negative value divided by -1 wraps.
    Tensor lowest =
        kiln::tensor({dt == kiln::kInt ? double{INT32_MIN} : double{INT64_MIN}, 5.0}).to(dt);
    Tensor d = kiln::tensor({-1, 0}, dt);
    expectDivision(kiln::floor_divide(lowest, d), {lowest[0].item<double>(), 0});
    expectDivision(lowest % d, {0, 0});
    expectDivision(kiln::fmod(lowest, d), {0, 0});
  }
  // Numbers: promotion as for other binary ops, and the number may be the dividend of %.
  Tensor i = kiln::tensor({-5, 5});
  EXPECT_EQ((i % 3).dtype(), kiln::kLong);
  expectDivision(i % 3, {1, 2});
  expectDivision(7 % kiln::tensor({-3, 3}), {-2, 1});
  expectDivision(kiln::remainder(-7, kiln::tensor({3, -3})), {2, -1});
  Tensor f = kiln::floor_divide(i, 2.5);
  EXPECT_EQ(f.dtype(), kiln::kFloat);
  expectDivision(f, {-2, 2});
  expectDivision(kiln::fmod(i, 3), {-2, 2});
  // In place, keeping self's dtype.
  Tensor j = kiln::tensor({-7, 7});
  j.floor_divide_(2);
  expectDivision(j, {-4, 3});
  j.remainder_(kiln::tensor({3, -2}));
  expectDivision(j, {2, -1});
  j.fmod_(2);
  expectDivision(j, {0, -1});
  EXPECT_EQ(j.dtype(), kiln::kLong);
}

// ------------------------------------------------------------------------------ broadcasting

TEST(Broadcasting, ShapeTable) {
  struct Case {
    std::vector<int64_t> a, b, out;
  };
  std::vector<Case> cases{
      {{3, 1}, {1, 4}, {3, 4}},       {{5, 3, 4, 1}, {3, 1, 1}, {5, 3, 4, 1}},
      {{4}, {3, 1}, {3, 4}},          {{}, {2, 3}, {2, 3}},
      {{2, 1, 3}, {4, 1}, {2, 4, 3}}, {{1}, {7}, {7}},
      {{2, 3}, {2, 3}, {2, 3}},       {{0, 1}, {1, 5}, {0, 5}},
      {{1, 1, 1}, {}, {1, 1, 1}},     {{8, 1, 6, 1}, {7, 1, 5}, {8, 7, 6, 5}},
  };
  for (const Case& c : cases) {
    Tensor x = kiln::ones(c.a), y = kiln::ones(c.b);
    EXPECT_EQ(shape(x + y), c.out);
    EXPECT_EQ(shape(y * x), c.out);
    EXPECT_EQ(shape(kiln::maximum(x, y)), c.out);
    EXPECT_EQ(shape(x < y), c.out);
  }
}

TEST(Broadcasting, Values) {
  Tensor col = kiln::tensor({{1.0}, {2.0}, {3.0}});
  Tensor row = kiln::tensor({10.0, 20.0, 30.0, 40.0});
  Tensor s = col + row;
  EXPECT_EQ(shape(s), (std::vector<int64_t>{3, 4}));
  expectExact(s, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  expectExact(row - col, {9, 19, 29, 39, 8, 18, 28, 38, 7, 17, 27, 37});
  Tensor zero_dim = kiln::tensor(2.0);
  expectExact(row * zero_dim, {20, 40, 60, 80});
}

// ---------------------------------------------------------------------------- type promotion

TEST(TypePromotion, ResultTypeTable) {
  using kiln::kBool, kiln::kDouble, kiln::kFloat, kiln::kInt, kiln::kLong;
  Tensor i64 = kiln::tensor({1, 2});
  Tensor i32 = kiln::tensor({1, 2}, kInt);
  Tensor f32 = kiln::tensor({1.0, 2.0});
  Tensor f64 = kiln::tensor({1.0, 2.0}, kDouble);
  Tensor b = kiln::tensor({true, false});
  Tensor d0 = kiln::tensor(1.0, kDouble);
  Tensor f0 = kiln::tensor(1.0);
  Tensor l0 = kiln::tensor(1);
  Tensor b0 = kiln::tensor(true);

  struct TT {
    Tensor x, y;
    kiln::ScalarType want;
    const char* what;
  };
  std::vector<TT> tt{
      {i64, d0, kDouble, "long + double 0-dim"},
      {i32, d0, kDouble, "int + double 0-dim"},
      {f32, d0, kFloat, "float + double 0-dim"},
      {f32, f64, kDouble, "float + double"},
      {b, b, kBool, "bool + bool"},
      {i32, i64, kLong, "int32 + int64"},
      {i32, l0, kInt, "int32 + long 0-dim"},
      {i32, f0, kFloat, "int32 + float 0-dim"},
      {i32, f32, kFloat, "int32 + float"},
      {b, i32, kInt, "bool + int32"},
      {b, f64, kDouble, "bool + double"},
      {l0, d0, kDouble, "0-dim long + 0-dim double"},
      {f0, l0, kFloat, "0-dim float + 0-dim long"},
      {b0, i32, kInt, "0-dim bool + int"},
      {i64, b0, kLong, "long + 0-dim bool"},
  };
  for (const TT& c : tt) {
    EXPECT_EQ(kiln::result_type(c.x, c.y), c.want) << c.what;
    EXPECT_EQ((c.x + c.y).dtype(), c.want) << c.what;
    EXPECT_EQ((c.y * c.x).dtype(), c.want) << c.what;
    EXPECT_EQ(kiln::maximum(c.x, c.y).dtype(), c.want) << c.what;
  }

  struct TS {
    Tensor x;
    kiln::Scalar s;
    kiln::ScalarType want;
    const char* what;
  };
  std::vector<TS> ts{
      {i64, 2.5, kFloat, "long * 2.5"},
      {i32, 2.5, kFloat, "int * 2.5"},
      {i32, 5, kInt, "int + 5"},
      {i64, true, kLong, "long + true"},
      {b, 1, kLong, "bool + 1"},
      {b, 1.5, kFloat, "bool + 1.5"},
      {b, true, kBool, "bool + true"},
      {f32, 3, kFloat, "float + 3"},
      {f64, 1.5, kDouble, "double + 1.5"},
      {f32, 1e300, kFloat, "float + huge double"},
      {d0, 2, kDouble, "double 0-dim + 2"},
      {l0, 2.5, kFloat, "long 0-dim + 2.5"},
  };
  for (const TS& c : ts) {
    EXPECT_EQ(kiln::result_type(c.x, c.s), c.want) << c.what;
    EXPECT_EQ((c.x * c.s).dtype(), c.want) << c.what;
    EXPECT_EQ((c.s * c.x).dtype(), c.want) << c.what;
  }
}

TEST(TypePromotion, OpResultDtypesAndValues) {
  Tensor i = kiln::tensor({1, 2, 3});
  Tensor r = i * 2.5;
  EXPECT_EQ(r.dtype(), kiln::kFloat);
  expectExact(r, {2.5, 5, 7.5});
  Tensor dd = i + kiln::tensor(0.5, kiln::kDouble);
  EXPECT_EQ(dd.dtype(), kiln::kDouble);
  expectExact(dd, {1.5, 2.5, 3.5});
  Tensor bb = kiln::tensor({true, false}) + kiln::tensor({true, true});
  EXPECT_EQ(bb.dtype(), kiln::kBool);
  expectExact(bb, {1, 1});
  Tensor bm = kiln::tensor({true, false}) * kiln::tensor({true, true});
  expectExact(bm, {1, 0});
  Tensor mix = kiln::tensor({1, 2}, kiln::kInt) + kiln::tensor({int64_t{1} << 40, int64_t{0}});
  EXPECT_EQ(mix.dtype(), kiln::kLong);
  EXPECT_EQ(mix[0].item<int64_t>(), (int64_t{1} << 40) + 1);
  // A double 0-dim operand does not widen a float tensor: the arithmetic is float's.
  Tensor f = kiln::tensor({1.0f}) + kiln::tensor(1e-10, kiln::kDouble);
  EXPECT_EQ(f.dtype(), kiln::kFloat);
  EXPECT_EQ(f.item<float>(), 1.0f);
  Tensor bi = kiln::tensor({true, false}) + 1;
  EXPECT_EQ(bi.dtype(), kiln::kLong);
  expectExact(bi, {2, 1});
}

// ---------------------------------------------------------------------------------- in place

TEST(InPlace, ArithmeticReturnsSelf) {
  Tensor x = kiln::tensor({1.0, 2.0, 3.0});
  Tensor y = kiln::tensor({1.0, 1.0, 2.0});
  Tensor& r = x.add_(1);
  EXPECT_EQ(&r, &x);
  expectExact(x, {2, 3, 4});
  x.add_(y, 2);
  expectExact(x, {4, 5, 8});
  x.sub_(y);
  expectExact(x, {3, 4, 6});
  x.sub_(1, 2);
  expectExact(x, {1, 2, 4});
  x.mul_(y);
  expectExact(x, {1, 2, 8});
  x.mul_(0.5);
  expectExact(x, {0.5, 1, 4});
  x.div_(y);
  expectExact(x, {0.5, 1, 2});
  x.div_(2);
  expectExact(x, {0.25, 0.5, 1});
  x.neg_();
  expectExact(x, {-0.25, -0.5, -1});
  x.relu_();
  expectExact(x, {0, 0, 0});
  x.fill_(2);
  expectExact(x, {2, 2, 2});
  x.exp_();
  expectValues(x, {std::exp(2.0), std::exp(2.0), std::exp(2.0)});
  x.copy_(kiln::tensor({-5.0, 0.5, 5.0}));
  x.clamp_(-1, 1);
  expectExact(x, {-1, 0.5, 1});
  x.zero_();
  expectExact(x, {0, 0, 0});
  x += 3;
  x *= 2;
  x -= 1;
  x /= 5;
  expectExact(x, {1, 1, 1});
  x += y;
  x -= y * 2;
  x *= y;
  x /= y;
  expectExact(x, {0, 0, -1});
  EXPECT_EQ(x.dtype(), kiln::kFloat);
}

// The unary functions of kiln/unary_ops.def all have an in-place form that keeps self's dtype.
TEST(InPlace, UnaryForms) {
  Tensor x = kiln::tensor({-4.0, 1.0, 9.0});
  Tensor& r = x.abs_();
  EXPECT_EQ(&r, &x);
  expectExact(x, {4, 1, 9});
  x.sqrt_();
  expectExact(x, {2, 1, 3});
  x.rsqrt_();
  expectValues(x, {1 / std::sqrt(2.0), 1, 1 / std::sqrt(3.0)});
  x.copy_(kiln::tensor({0.0, 1.0, -1.0}));
  x.sigmoid_();
  expectValues(x, {0.5, 1 / (1 + std::exp(-1.0)), 1 / (1 + std::exp(1.0))});
  Tensor l = kiln::tensor({0, 3});
  l.logical_not_();
  EXPECT_EQ(l.dtype(), kiln::kLong);
  expectExact(l, {1, 0});
  EXPECT_THROW(l.exp_(), kiln::Error);  // a Float result cannot be written into a Long tensor
}

TEST(InPlace, KeepsDtypeAndBroadcastsOther) {
  Tensor f = kiln::zeros({2, 3});
  f.add_(kiln::tensor({1, 2, 3}));  // a Long operand is cast into Float
  EXPECT_EQ(f.dtype(), kiln::kFloat);
  expectExact(f, {1, 2, 3, 1, 2, 3});
  Tensor l = kiln::tensor({10, 20});
  l.mul_(3);
  EXPECT_EQ(l.dtype(), kiln::kLong);
  expectExact(l, {30, 60});
  l.add_(kiln::tensor({1, 1}, kiln::kInt));
  expectExact(l, {31, 61});
  Tensor i = kiln::tensor({1, 2}, kiln::kInt);
  i.copy_(kiln::tensor({3.9, -3.9}));  // copy_ casts like to()
  expectExact(i, {3, -3});
  i.fill_(kiln::tensor(7));
  expectExact(i, {7, 7});
  Tensor m = kiln::zeros({2, 2});
  m.copy_(kiln::tensor({1.0, 2.0}));
  expectExact(m, {1, 2, 1, 2});
}

TEST(InPlace, OutVariants) {
  Tensor a = kiln::tensor({1.0, 2.0});
  Tensor b = kiln::tensor({3.0, 5.0});
  Tensor out = kiln::empty({2});
  Tensor& r = kiln::add_out(out, a, b);
  EXPECT_EQ(&r, &out);
  expectExact(out, {4, 7});
  kiln::add_out(out, a, b, 2);
  expectExact(out, {7, 12});
  kiln::sub_out(out, a, b);
  expectExact(out, {-2, -3});
  kiln::sub_out(out, a, b, 0.5);
  expectExact(out, {-0.5, -0.5});
  kiln::mul_out(out, a, b);
  expectExact(out, {3, 10});
  kiln::div_out(out, b, a);
  expectExact(out, {3, 2.5});
  // An integer result may be written into a float or a narrower integer output.
  Tensor dout = kiln::zeros({2}, kiln::kDouble);
  kiln::add_out(dout, kiln::tensor({1, 2}), kiln::tensor({3, 4}));
  EXPECT_EQ(dout.dtype(), kiln::kDouble);
  expectExact(dout, {4, 6});
  // A wrongly sized output is resized to the broadcast shape, as PyTorch does (with a warning).
  Tensor resized = kiln::empty({0});
  kiln::mul_out(resized, kiln::tensor({{1.0}, {2.0}}), kiln::tensor({1.0, 10.0}));
  EXPECT_EQ(shape(resized), (std::vector<int64_t>{2, 2}));
  expectExact(resized, {1, 10, 2, 20});
}

// -------------------------------------------------------------------------------- reductions

class Reductions : public ::testing::Test {
 protected:
  Tensor x = kiln::tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
};

TEST_F(Reductions, Sum) {
  Tensor s = x.sum();
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.dtype(), kiln::kFloat);
  expectExact(s, {21});
  expectExact(x.sum({0}), {5, 7, 9});
  expectExact(kiln::sum(x, {1}), {6, 15});
  Tensor k = x.sum({-1}, true);
  EXPECT_EQ(shape(k), (std::vector<int64_t>{2, 1}));
  expectExact(k, {6, 15});
  expectExact(x.sum({0, 1}), {21});
  EXPECT_EQ(x.sum({0, 1}).dim(), 0);
  EXPECT_EQ(shape(x.sum({0, 1}, true)), (std::vector<int64_t>{1, 1}));
  Tensor i = kiln::tensor({1, 2, 3}, kiln::kInt).sum();
  EXPECT_EQ(i.dtype(), kiln::kLong);
  expectExact(i, {6});
  Tensor bs = kiln::tensor({true, true, false}).sum();
  EXPECT_EQ(bs.dtype(), kiln::kLong);
  expectExact(bs, {2});
  Tensor ds = x.sum(kiln::kDouble);
  EXPECT_EQ(ds.dtype(), kiln::kDouble);
  expectExact(ds, {21});
  expectExact(kiln::zeros({0}).sum(), {0});
}

TEST_F(Reductions, MeanProd) {
  expectExact(x.mean(), {3.5});
  expectExact(x.mean({0}), {2.5, 3.5, 4.5});
  expectExact(kiln::mean(x, {1}), {2, 5});
  expectExact(x.mean({-2}), {2.5, 3.5, 4.5});
  EXPECT_EQ(shape(x.mean({1}, true)), (std::vector<int64_t>{2, 1}));
  Tensor md = kiln::tensor({1, 2}).mean(kiln::kDouble);
  EXPECT_EQ(md.dtype(), kiln::kDouble);
  expectExact(md, {1.5});
  expectExact(x.prod(), {720});
  expectExact(x.prod(1), {6, 120});
  Tensor pk = kiln::prod(x, 0, true);
  EXPECT_EQ(shape(pk), (std::vector<int64_t>{1, 3}));
  expectExact(pk, {4, 10, 18});
  Tensor ip = kiln::tensor({2, 3, 4}).prod();
  EXPECT_EQ(ip.dtype(), kiln::kLong);
  expectExact(ip, {24});
}

TEST_F(Reductions, AmaxAminMaxMin) {
  expectExact(x.amax(), {6});
  expectExact(x.amax({0}), {4, 5, 6});
  expectExact(kiln::amin(x, {1}), {1, 4});
  EXPECT_EQ(shape(x.amin({1}, true)), (std::vector<int64_t>{2, 1}));
  expectExact(x.max(), {6});
  expectExact(kiln::min(x), {1});
  EXPECT_EQ(x.max().dim(), 0);
  Tensor y = kiln::tensor({{3.0, 9.0, 1.0}, {7.0, 2.0, 8.0}});
  auto [mv, mi] = y.max(1);
  expectExact(mv, {9, 8});
  EXPECT_EQ(mi.dtype(), kiln::kLong);
  expectExact(mi, {1, 2});
  auto [nv, ni] = kiln::min(y, 0);
  expectExact(nv, {3, 2, 1});
  expectExact(ni, {0, 1, 0});
  auto [kv, ki] = y.max(-1, true);
  EXPECT_EQ(shape(kv), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(shape(ki), (std::vector<int64_t>{2, 1}));
  expectExact(ki, {1, 2});
  Tensor il = kiln::tensor({4, -2, 9});
  EXPECT_EQ(il.max().dtype(), kiln::kLong);
  expectExact(il.max(), {9});
  expectExact(il.min(), {-2});
}

TEST_F(Reductions, ArgmaxArgmin) {
  Tensor y = kiln::tensor({{3.0, 9.0, 1.0}, {7.0, 2.0, 8.0}});
  Tensor a = y.argmax();
  EXPECT_EQ(a.dim(), 0);
  EXPECT_EQ(a.dtype(), kiln::kLong);
  expectExact(a, {1});
  expectExact(y.argmin(), {2});
  expectExact(y.argmax(0), {1, 0, 1});
  expectExact(kiln::argmin(y, 1), {2, 1});
  expectExact(y.argmax(-1), {1, 2});
  EXPECT_EQ(shape(y.argmax(1, true)), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(shape(y.argmax(std::nullopt, true)), (std::vector<int64_t>{1, 1}));
  // Ties go to the first occurrence.
  expectExact(kiln::tensor({1.0, 3.0, 3.0, 0.0}).argmax(), {1});
  expectExact(kiln::tensor({2, 0, 0}).argmin(), {1});
}

TEST_F(Reductions, VarStd) {
  expectValues(x.var(), {3.5});
  expectValues(x.var(false), {17.5 / 6});
  expectValues(x.std(), {std::sqrt(3.5)});
  expectValues(kiln::std(x, false), {std::sqrt(17.5 / 6)});
  expectValues(x.var({1}, true), {1, 1});
  expectValues(x.var({1}, false), {2.0 / 3, 2.0 / 3});
  expectValues(x.var({0}, true), {4.5, 4.5, 4.5});
  expectValues(kiln::var(x, {0}, false), {2.25, 2.25, 2.25});
  expectValues(x.std({-1}, true), {1, 1});
  Tensor k = x.std({0}, true, true);
  EXPECT_EQ(shape(k), (std::vector<int64_t>{1, 3}));
  expectValues(k, {std::sqrt(4.5), std::sqrt(4.5), std::sqrt(4.5)});
}

TEST_F(Reductions, SoftmaxLogSoftmax) {
  Tensor v = kiln::tensor({1.0, 2.0, 3.0});
  double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  expectValues(v.softmax(0), {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z});
  expectValues(kiln::log_softmax(v, 0), {1 - std::log(z), 2 - std::log(z), 3 - std::log(z)});
  Tensor s = x.softmax(-1);
  EXPECT_EQ(shape(s), (std::vector<int64_t>{2, 3}));
  expectValues(s, {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z, std::exp(1.0) / z,
                   std::exp(2.0) / z, std::exp(3.0) / z});
  double e3 = 1 / (1 + std::exp(3.0));
  expectValues(kiln::softmax(x, 0), {e3, e3, e3, 1 - e3, 1 - e3, 1 - e3});
  // Large logits must not overflow.
  expectValues(kiln::tensor({1000.0, 1000.0}).softmax(0), {0.5, 0.5});
  // Integer inputs need a floating dtype argument, as in PyTorch (SoftmaxTypes.* checks the
  // error without one).
  Tensor si = kiln::tensor({0, 0}).softmax(0, kiln::kFloat);
  EXPECT_EQ(si.dtype(), kiln::kFloat);
  expectValues(si, {0.5, 0.5});
  Tensor sd = v.softmax(0, kiln::kDouble);
  EXPECT_EQ(sd.dtype(), kiln::kDouble);
  expectValues(x.log_softmax(1).exp().sum({1}), {1, 1});
}

// ---------------------------------------------------------------------------- linear algebra

TEST(Matmul, AllRankCombinations) {
  Tensor v = kiln::tensor({1.0, 2.0, 3.0});
  Tensor w = kiln::tensor({4.0, 5.0, 6.0});
  Tensor dot = kiln::matmul(v, w);
  EXPECT_EQ(dot.dim(), 0);
  expectExact(dot, {32});
  Tensor A = kiln::tensor({{1.0, 2.0}, {3.0, 4.0}});
  Tensor B = kiln::tensor({{5.0, 6.0}, {7.0, 8.0}});
  expectExact(A.matmul(B), {19, 22, 43, 50});
  expectExact(kiln::mm(A, B), {19, 22, 43, 50});
  Tensor M = kiln::tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  Tensor vm = kiln::matmul(kiln::tensor({1.0, 2.0}), M);
  EXPECT_EQ(shape(vm), (std::vector<int64_t>{3}));
  expectExact(vm, {9, 12, 15});
  Tensor mv = kiln::matmul(M, kiln::tensor({1.0, 1.0, 1.0}));
  EXPECT_EQ(shape(mv), (std::vector<int64_t>{2}));
  expectExact(mv, {6, 15});
  expectExact(A.mm(B.t()), {17, 23, 39, 53});
  Tensor im = kiln::matmul(kiln::tensor({{1, 2}, {3, 4}}), kiln::tensor({{1, 0}, {0, 1}}));
  EXPECT_EQ(im.dtype(), kiln::kLong);
  expectExact(im, {1, 2, 3, 4});
}

std::vector<double> naiveBatched(const std::vector<double>& a, const std::vector<double>& b,
                                 int64_t batch_a, int64_t batch_b, int64_t m, int64_t k,
                                 int64_t n) {
  // Batch dims broadcast as outer product of [batch_a, 1] and [1, batch_b] flattened.
  std::vector<double> out;
  for (int64_t ba = 0; ba < batch_a; ++ba)
    for (int64_t bb = 0; bb < batch_b; ++bb)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t p = 0; p < k; ++p)
            s += a[((ba * m) + i) * k + p] * b[((bb * k) + p) * n + j];
          out.push_back(s);
        }
  return out;
}

TEST(Matmul, BatchedWithBroadcasting) {
  Tensor a = kiln::arange(12, kiln::kFloat).reshape({2, 2, 3});
  Tensor b = kiln::arange(6, kiln::kFloat).reshape({3, 2});
  Tensor r = kiln::matmul(a, b);
  EXPECT_EQ(shape(r), (std::vector<int64_t>{2, 2, 2}));
  expectExact(r, naiveBatched(values(a), values(b), 2, 1, 2, 3, 2));

  Tensor c = kiln::arange(12, kiln::kFloat).reshape({2, 1, 2, 3});
  Tensor d = kiln::arange(24, kiln::kFloat).reshape({4, 3, 2});
  Tensor cd = c.matmul(d);
  EXPECT_EQ(shape(cd), (std::vector<int64_t>{2, 4, 2, 2}));
  expectExact(cd, naiveBatched(values(c), values(d), 2, 4, 2, 3, 2));

  Tensor e = kiln::arange(18, kiln::kFloat).reshape({3, 2, 3});
  Tensor f = kiln::arange(18, kiln::kFloat).reshape({3, 3, 2});
  Tensor ef = kiln::bmm(e, f);
  EXPECT_EQ(shape(ef), (std::vector<int64_t>{3, 2, 2}));
  std::vector<double> want;
  std::vector<double> ve = values(e), vf = values(f);
  for (int64_t q = 0; q < 3; ++q) {
    std::vector<double> ea(ve.begin() + q * 6, ve.begin() + q * 6 + 6);
    std::vector<double> fb(vf.begin() + q * 6, vf.begin() + q * 6 + 6);
    for (double x : naiveBatched(ea, fb, 1, 1, 2, 3, 2)) want.push_back(x);
  }
  expectExact(ef, want);
  expectExact(e.bmm(f), want);

  // A 1-D operand against a batch: [3] @ [3, 3, 2] -> [3, 2].
  Tensor v = kiln::tensor({1.0, 0.0, -1.0});
  Tensor vb = kiln::matmul(v, f);
  EXPECT_EQ(shape(vb), (std::vector<int64_t>{3, 2}));
  expectExact(vb, {-4, -4, -4, -4, -4, -4});
}

// ------------------------------------------------------------------ comparisons, values out

TEST(ValuesOut, AllcloseEqual) {
  Tensor a = kiln::tensor({1.0, 2.0, 3.0});
  EXPECT_TRUE(kiln::allclose(a, a + 1e-7));
  EXPECT_FALSE(kiln::allclose(a, a + 1e-3));
  EXPECT_TRUE(a.allclose(a + 1e-3, 1e-2));
  EXPECT_TRUE(kiln::allclose(a, a + 1e-3, 0, 1e-2));
  Tensor nan = kiln::tensor({std::nan(""), 1.0});
  EXPECT_FALSE(kiln::allclose(nan, nan));
  EXPECT_TRUE(kiln::allclose(nan, nan, 1e-5, 1e-8, true));
  EXPECT_TRUE(kiln::equal(a, kiln::tensor({1.0, 2.0, 3.0})));
  EXPECT_FALSE(a.equal(kiln::tensor({1.0, 2.0, 4.0})));
  EXPECT_FALSE(kiln::equal(a, kiln::tensor({1.0, 2.0})));
  EXPECT_FALSE(kiln::equal(a, a.reshape({3, 1})));
}

TEST(ValuesOut, ItemAndDataPtr) {
  Tensor f = kiln::tensor({2.5});
  EXPECT_EQ(f.item<float>(), 2.5f);
  EXPECT_EQ(f.item<double>(), 2.5);
  EXPECT_EQ(f.item<int64_t>(), 2);
  kiln::Scalar s = f.item();
  EXPECT_TRUE(s.isFloatingPoint());
  EXPECT_EQ(s.toDouble(), 2.5);
  kiln::Scalar l = kiln::tensor({7}).item();
  EXPECT_EQ(l.type(), kiln::kLong);
  EXPECT_EQ(l.toLong(), 7);
  kiln::Scalar b = kiln::tensor(true).item();
  EXPECT_TRUE(b.isBoolean());
  EXPECT_TRUE(b.toBool());
  EXPECT_EQ(kiln::tensor({{5}}, kiln::kInt).item<int32_t>(), 5);
  EXPECT_TRUE((kiln::tensor({3.0}) > 2).item<bool>());

  Tensor x = kiln::arange(6, kiln::kFloat).reshape({2, 3}) * 2;
  float* p = x.data_ptr<float>();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(p[i], 2.0f * static_cast<float>(i));
  EXPECT_EQ(x.data_ptr(), static_cast<void*>(p));
  // data_ptr of a view points at its first element.
  Tensor row = x[1];
  EXPECT_EQ(row.data_ptr<float>(), p + 3);
  // The tensors must outlive the pointers, as in libtorch.
  Tensor lt = kiln::tensor({1, 2}) * 3;
  EXPECT_EQ(lt.data_ptr<int64_t>()[1], 6);
  Tensor dt = kiln::ones({2}, kiln::kDouble);
  EXPECT_EQ(dt.data_ptr<double>()[0], 1.0);
  Tensor bt = kiln::tensor({1, 0}) > 0;
  bool* bp = bt.data_ptr<bool>();
  EXPECT_TRUE(bp[0]);
  EXPECT_FALSE(bp[1]);
  EXPECT_THROW(x.data_ptr<double>(), kiln::Error);
}

// ---------------------------------------------------------------------------------- printing

TEST(Printing, MatchesPyTorchText) {
  EXPECT_EQ(str(kiln::tensor({1.0, 2.0, 3.0})), "tensor([1., 2., 3.])");
  EXPECT_EQ(str(kiln::tensor({1, 2, 3})), "tensor([1, 2, 3])");
  EXPECT_EQ(str(kiln::tensor({true, false})), "tensor([ True, False])");
  EXPECT_EQ(str(kiln::tensor({0.25, 0.5}) * 5), "tensor([1.2500, 2.5000])");
  EXPECT_EQ(str(kiln::tensor({{1.0, 2.0}, {3.0, 4.0}}).sum()), "tensor(10.)");
  EXPECT_EQ(str(kiln::tensor({1.5}, kiln::kDouble)), "tensor([1.5000], dtype=kiln.float64)");
  EXPECT_EQ(str(kiln::tensor({1, 2}, kiln::kInt)), "tensor([1, 2], dtype=kiln.int32)");
  EXPECT_EQ(str(kiln::eye(2)),
            "tensor([[1., 0.],\n"
            "        [0., 1.]])");
  EXPECT_EQ(str(kiln::arange(4) > 1), "tensor([False, False,  True,  True])");
  EXPECT_EQ(str(kiln::tensor({-1.0, 10.5})), "tensor([-1.0000, 10.5000])");
  EXPECT_EQ(str(kiln::tensor({1, 2}).sum()), "tensor(3)");
  EXPECT_EQ(str(kiln::zeros({0})), "tensor([])");
  EXPECT_EQ(str(kiln::zeros({0}, kiln::kLong)), "tensor([], dtype=kiln.int64)");
  EXPECT_EQ(str(kiln::ones({2}, kiln::requires_grad())), "tensor([1., 1.], requires_grad=True)");
  EXPECT_EQ(str(kiln::tensor({1e-5, 1.0})), "tensor([1.0000e-05, 1.0000e+00])");
}

}  // namespace
