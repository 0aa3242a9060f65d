// The element types uint8, int8, int16, float16 and bfloat16 end to end: conversions against
// hand-computed bit patterns, compiled kernels against the same arithmetic done in C++ one op at
// a time (what eager PyTorch does), wraparound, promotion, reductions that accumulate in float32,
// printing, the default dtype, autograd, the graph text and the reference interpreter.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "lib/frontend/tensor_impl.h"
#include "lib/interp/reference.h"
#include "lib/ir/parse.h"

namespace {

using kiln::BFloat16;
using kiln::Half;
using kiln::ScalarType;
using kiln::Tensor;

template <typename T>
std::vector<T> elements(const Tensor& t) {
  Tensor c = t.contiguous();
  const T* p = c.data_ptr<T>();
  return std::vector<T>(p, p + c.numel());
}

template <typename T>
std::vector<uint16_t> bitsOf(const std::vector<T>& v) {
  std::vector<uint16_t> out;
  for (const T& x : v) out.push_back(x.x);
  return out;
}

std::string printed(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

TEST(Dtypes, NamesAndSizes) {
  struct Row {
    ScalarType t;
    const char* torch;
    const char* python;
    const char* ir;
    int size;
  };
  const Row rows[] = {{kiln::kByte, "Byte", "uint8", "u8", 1},
                      {kiln::kChar, "Char", "int8", "i8", 1},
                      {kiln::kShort, "Short", "int16", "i16", 2},
                      {kiln::kHalf, "Half", "float16", "f16", 2},
                      {kiln::kBFloat16, "BFloat16", "bfloat16", "bf16", 2}};
  for (const Row& r : rows) {
    EXPECT_EQ(kiln::toString(r.t), r.torch);
    EXPECT_EQ(kiln::pythonName(r.t), r.python);
    EXPECT_EQ(kiln::irName(r.t), r.ir);
    EXPECT_EQ(kiln::elementSize(r.t), r.size);
    EXPECT_EQ(kiln::zeros({3}, r.t).element_size(), r.size);
  }
  EXPECT_EQ(kiln::kUInt8, kiln::kByte);
  EXPECT_EQ(kiln::kInt8, kiln::kChar);
  EXPECT_EQ(kiln::kInt16, kiln::kShort);
  EXPECT_EQ(kiln::kFloat16, kiln::kHalf);
  EXPECT_TRUE(kiln::isFloatingType(kiln::kHalf) && kiln::isFloatingType(kiln::kBFloat16));
  EXPECT_TRUE(kiln::isIntegralType(kiln::kByte) && kiln::isIntegralType(kiln::kShort));
  EXPECT_FALSE(kiln::zeros({1}, kiln::kByte).is_signed());
  EXPECT_TRUE(kiln::zeros({1}, kiln::kChar).is_signed());
  EXPECT_EQ(kiln::scalarTypeToTypeMeta(kiln::kHalf).name(), "c10::Half");
}

// torch.promote_types's table, a few rows written out by hand (the whole table is compared with
// libtorch in api_libtorch_test.cpp).
TEST(Dtypes, Promotion) {
  using kiln::promoteTypes;
  EXPECT_EQ(promoteTypes(kiln::kByte, kiln::kChar), kiln::kShort);
  EXPECT_EQ(promoteTypes(kiln::kChar, kiln::kByte), kiln::kShort);
  EXPECT_EQ(promoteTypes(kiln::kByte, kiln::kShort), kiln::kShort);
  EXPECT_EQ(promoteTypes(kiln::kByte, kiln::kInt), kiln::kInt);
  EXPECT_EQ(promoteTypes(kiln::kBool, kiln::kByte), kiln::kByte);
  EXPECT_EQ(promoteTypes(kiln::kChar, kiln::kShort), kiln::kShort);
  EXPECT_EQ(promoteTypes(kiln::kHalf, kiln::kBFloat16), kiln::kFloat);
  EXPECT_EQ(promoteTypes(kiln::kHalf, kiln::kLong), kiln::kHalf);
  EXPECT_EQ(promoteTypes(kiln::kBFloat16, kiln::kByte), kiln::kBFloat16);
  EXPECT_EQ(promoteTypes(kiln::kHalf, kiln::kFloat), kiln::kFloat);
  EXPECT_EQ(promoteTypes(kiln::kBFloat16, kiln::kDouble), kiln::kDouble);

  // Categories: a zero-dimensional tensor or a number of the same kind does not widen.
  Tensor h = kiln::ones({2}, kiln::kHalf);
  EXPECT_EQ((h + kiln::tensor(1.0f)).dtype(), kiln::kHalf);
  EXPECT_EQ((h + 2.5).dtype(), kiln::kHalf);
  EXPECT_EQ((h + kiln::ones({2}, kiln::kBFloat16)).dtype(), kiln::kFloat);
  Tensor u = kiln::ones({2}, kiln::kByte);
  EXPECT_EQ((u + 1.5).dtype(), kiln::kFloat);
  EXPECT_EQ((u + 300).dtype(), kiln::kByte);
  EXPECT_EQ((u + kiln::tensor(1, kiln::TensorOptions(kiln::kChar))).dtype(), kiln::kByte);
  EXPECT_EQ((u + kiln::ones({2}, kiln::kChar)).dtype(), kiln::kShort);
  EXPECT_EQ((kiln::ones({2}, kiln::kBool) + u).dtype(), kiln::kByte);
  EXPECT_EQ((kiln::ones({2}, kiln::kChar) / 2).dtype(), kiln::kFloat);
  EXPECT_EQ((u < 1).dtype(), kiln::kBool);
}

// Conversions to 16 bits against bit patterns worked out by hand: round to nearest even, the
// overflow to infinity, subnormals, NaN.
TEST(Dtypes, HalfAndBFloat16Conversions) {
  EXPECT_EQ(Half(1.0f / 3.0f).x, 0x3555);  // 0.333251953125
  EXPECT_EQ(Half(65504.0f).x, 0x7BFF);     // the largest half
  EXPECT_EQ(Half(65519.0f).x, 0x7BFF);     // below the midpoint to 65536
  EXPECT_EQ(Half(65520.0f).x, 0x7C00);     // the midpoint rounds to even: infinity
  EXPECT_EQ(Half(0x1p-24f).x, 0x0001);     // the smallest subnormal
  EXPECT_EQ(Half(0x1p-25f).x, 0x0000);     // half of it: a tie, to even (zero)
  EXPECT_EQ(Half(-0.0f).x, 0x8000);
  EXPECT_EQ(Half(1.0f + 0x1p-11f).x, 0x3C00);  // a tie between 1 and 1+2^-10: to even
  EXPECT_EQ(Half(1.0f + 0x1p-11f + 0x1p-20f).x, 0x3C01);
  EXPECT_TRUE(std::isnan(static_cast<float>(Half(NAN))));
  EXPECT_EQ(static_cast<float>(Half(uint16_t{0xC000}, Half::from_bits())), -2.0f);
  EXPECT_EQ(BFloat16(1.0f / 3.0f).x, 0x3EAB);     // 0x3EAAAAAB rounded up
  EXPECT_EQ(BFloat16(1.0f + 0x1p-8f).x, 0x3F80);  // a tie: to even
  EXPECT_EQ(BFloat16(1.0f + 0x1p-8f + 0x1p-9f).x, 0x3F81);
  EXPECT_EQ(BFloat16(NAN).x, 0x7FC0);
  EXPECT_EQ(static_cast<float>(BFloat16(uint16_t{0x4049}, BFloat16::from_bits())), 3.140625f);
  // Every half and bfloat16 survives float and back.
  for (uint32_t b = 0; b < 0x10000; ++b) {
    Half h(static_cast<uint16_t>(b), Half::from_bits());
    BFloat16 f(static_cast<uint16_t>(b), BFloat16::from_bits());
    if (!std::isnan(static_cast<float>(h))) {
      ASSERT_EQ(Half(static_cast<float>(h)).x, b);
    }
    if (!std::isnan(static_cast<float>(f))) {
      ASSERT_EQ(BFloat16(static_cast<float>(f)).x, b);
    }
  }
}

// The compiled kernels' casts from float32 agree with the C++ conversions above, including
// ties, overflow, subnormals, infinities and NaN.
TEST(Dtypes, CompiledCastsRoundAsTheValueTypes) {
  std::vector<float> values = {1.0f / 3,    65504,        65519,       65520,  0x1p-24f, 0x1p-25f,
                               -0.0f,       1 + 0x1p-11f, 1 + 0x1p-8f, -1e30f, INFINITY, -INFINITY,
                               3.14159265f, 1e-40f,       2.5f,        -7.75f};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> wide(-70000, 70000);
  for (int i = 0; i < 200; ++i) values.push_back(wide(rng));
  Tensor f = kiln::from_blob(values.data(), {static_cast<int64_t>(values.size())}, kiln::kFloat);
  std::vector<Half> h = elements<Half>(f.to(kiln::kHalf));
  std::vector<BFloat16> b = elements<BFloat16>(f.to(kiln::kBFloat16));
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(h[i].x, Half(values[i]).x) << values[i];
    EXPECT_EQ(b[i].x, BFloat16(values[i]).x) << values[i];
  }
  float nan = NAN;
  Tensor n = kiln::from_blob(&nan, {1}, kiln::kFloat);
  EXPECT_TRUE(std::isnan(n.to(kiln::kHalf).item<float>()));
  EXPECT_TRUE(std::isnan(n.to(kiln::kBFloat16).item<float>()));
  EXPECT_EQ(n.to(kiln::kBFloat16).item<BFloat16>().x, 0x7FC0);
  // And back to float32 exactly.
  EXPECT_EQ(elements<float>(f.to(kiln::kHalf).to(kiln::kFloat))[0], 0.333251953125f);
  EXPECT_EQ(kiln::tensor({1.0 / 3}).to(kiln::kBFloat16).item<double>(), 0.333984375);
}

// Each op's result is rounded to 16 bits as eager PyTorch rounds it, also inside one fused
// kernel: the reference is the same sequence of float32 ops in C++, rounded after each.
template <typename H>
void checkArithmeticRoundsPerOp(ScalarType t) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-100, 100);
  const int n = 333;
  std::vector<H> a, b;
  for (int i = 0; i < n; ++i) {
    a.push_back(H(dist(rng)));
    b.push_back(H(dist(rng)));
  }
  Tensor ta = kiln::from_blob(a.data(), {n}, t);
  Tensor tb = kiln::from_blob(b.data(), {n}, t);
  std::vector<H> sum = elements<H>(ta + tb), diff = elements<H>(ta - tb),
                 prod = elements<H>(ta * tb), quot = elements<H>(ta / tb),
                 chain = elements<H>((ta * tb + ta) / 3 - 0.1);
  for (int i = 0; i < n; ++i) {
    float x = a[i], y = b[i];
    ASSERT_EQ(sum[i].x, H(x + y).x);
    ASSERT_EQ(diff[i].x, H(x - y).x);
    ASSERT_EQ(prod[i].x, H(x * y).x);
    ASSERT_EQ(quot[i].x, H(x / y).x);
    float c = H(H(H(x * y) + x) / static_cast<float>(H(3.0f)));
    ASSERT_EQ(chain[i].x, H(c - static_cast<float>(H(0.1f))).x) << i;
  }
}

TEST(Dtypes, HalfArithmeticRoundsPerOp) {
  checkArithmeticRoundsPerOp<Half>(kiln::kHalf);
}
TEST(Dtypes, BFloat16ArithmeticRoundsPerOp) {
  checkArithmeticRoundsPerOp<BFloat16>(kiln::kBFloat16);
}

TEST(Dtypes, OneThirdInHalf) {
  Tensor third = kiln::ones({1}, kiln::kHalf) / 3;
  EXPECT_EQ(third.dtype(), kiln::kHalf);
  EXPECT_EQ(third.item<Half>().x, 0x3555);
  EXPECT_EQ(third.item<double>(), 0.333251953125);
  EXPECT_EQ((kiln::ones({1}, kiln::kBFloat16) / 3).item<double>(), 0.333984375);
  // A float scalar is rounded to the tensor's type first, as PyTorch wraps and casts it.
  EXPECT_EQ((kiln::zeros({1}, kiln::kHalf) + 0.1).item<double>(), 0.0999755859375);
}

// Integers wrap at their width, as PyTorch's kernels do.
TEST(Dtypes, IntegersWrapAround) {
  auto ints = [](const Tensor& t) {
    std::vector<int64_t> v;
    Tensor l = t.to(kiln::kLong);
    for (int64_t x : elements<int64_t>(l)) v.push_back(x);
    return v;
  };
  Tensor u = kiln::tensor({250, 3, 200}, kiln::kByte);
  EXPECT_EQ(ints(u + 10), (std::vector<int64_t>{4, 13, 210}));
  EXPECT_EQ(ints(u * 2), (std::vector<int64_t>{244, 6, 144}));
  EXPECT_EQ(ints(-u), (std::vector<int64_t>{6, 253, 56}));
  EXPECT_EQ(ints(u + 300), (std::vector<int64_t>{38, 47, 244}));
  EXPECT_EQ(ints(u - 251), (std::vector<int64_t>{255, 8, 205}));
  // Constants fold (lib/passes/simplify.cpp) with the same wrapping and rounding.
  EXPECT_EQ(ints(kiln::full({2}, 200, kiln::kByte) + 100), (std::vector<int64_t>{44, 44}));
  EXPECT_EQ(ints(kiln::full({1}, -100, kiln::kChar) * 3), std::vector<int64_t>{-44});
  EXPECT_EQ((kiln::full({1}, 0.1, kiln::kHalf) * 3).item<Half>().x,
            Half(static_cast<float>(Half(0.1f)) * 3.0f).x);
  Tensor c = kiln::tensor({-128, 127, 100}, kiln::kChar);
  EXPECT_EQ(ints(c - 1), (std::vector<int64_t>{127, 126, 99}));
  EXPECT_EQ(ints(c + 1), (std::vector<int64_t>{-127, -128, 101}));
  EXPECT_EQ(ints(c * 3), (std::vector<int64_t>{-128, 125, 44}));
  Tensor s = kiln::tensor({32767, -32768}, kiln::kShort);
  EXPECT_EQ(ints(s + 1), (std::vector<int64_t>{-32768, -32767}));
  // uint8 compares, divides and takes extremes as unsigned numbers.
  EXPECT_EQ(ints(u > 100), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(ints(u.floor_divide(7)), (std::vector<int64_t>{35, 0, 28}));
  EXPECT_EQ(ints(u.remainder(7)), (std::vector<int64_t>{5, 3, 4}));
  EXPECT_EQ(ints(kiln::maximum(u, kiln::tensor({5, 5, 5}, kiln::kByte))),
            (std::vector<int64_t>{250, 5, 200}));
  EXPECT_EQ(u.max().item<int64_t>(), 250);
  EXPECT_EQ(u.min().item<int64_t>(), 3);
  EXPECT_EQ(u.argmax().item<int64_t>(), 0);
  EXPECT_EQ(ints(u.abs()), (std::vector<int64_t>{250, 3, 200}));
  EXPECT_EQ(ints(u.pow(2)), (std::vector<int64_t>{36, 9, 64}));
  EXPECT_EQ(c.max().item<int64_t>(), 127);
  EXPECT_EQ(c.min().item<int64_t>(), -128);
  // Sums of small integers are int64, without wrapping.
  EXPECT_EQ(u.sum().dtype(), kiln::kLong);
  EXPECT_EQ(u.sum().item<int64_t>(), 453);
  // True division gives float; int8 with uint8 computes in int16.
  EXPECT_EQ((kiln::tensor({7}, kiln::kChar) / 2).item<double>(), 3.5);
  EXPECT_EQ(ints(u + kiln::tensor({-1, -1, -1}, kiln::kChar)), (std::vector<int64_t>{249, 2, 199}));
  EXPECT_EQ(ints(u > kiln::tensor({-1, -1, -1}, kiln::kChar)), (std::vector<int64_t>{1, 1, 1}));
}

// Casts from floating types to small integers go through int64, as libtorch's compiled casts on
// x86: -1.5 becomes 255 as uint8 and 300 becomes 44.
TEST(Dtypes, CastsToSmallIntegers) {
  Tensor f = kiln::tensor({-1.5, 300.0, 2.7, 255.0});
  EXPECT_EQ(elements<uint8_t>(f.to(kiln::kByte)), (std::vector<uint8_t>{255, 44, 2, 255}));
  EXPECT_EQ(elements<int8_t>(f.to(kiln::kChar)), (std::vector<int8_t>{-1, 44, 2, -1}));
  EXPECT_EQ(elements<int16_t>(f.to(kiln::kShort)), (std::vector<int16_t>{-1, 300, 2, 255}));
  Tensor u = kiln::tensor({200, 0}, kiln::kByte);
  EXPECT_EQ(elements<float>(u.to(kiln::kFloat)), (std::vector<float>{200, 0}));
  EXPECT_EQ(elements<int8_t>(u.to(kiln::kChar)), (std::vector<int8_t>{-56, 0}));
  EXPECT_EQ(elements<int32_t>(kiln::tensor({-56}, kiln::kChar).to(kiln::kInt)),
            std::vector<int32_t>{-56});
  EXPECT_EQ(elements<bool>(u.to(kiln::kBool)), (std::vector<bool>{true, false}));
  EXPECT_EQ(kiln::tensor({2.5}).to(kiln::kHalf).to(kiln::kByte).item<int64_t>(), 2);
}

// Sums over half and bfloat16 accumulate in float32 and round once, as PyTorch's: 0.1 in half
// is 0.0999755859375, whose float32 sums here are exact; a half accumulator would stop growing at
// 256, where 0.1 is less than half the spacing.
TEST(Dtypes, HalfSumsAccumulateInFloat) {
  // 10000 terms: a long reduction, split into float32 partial sums.
  Tensor x = kiln::full({10000}, 0.1, kiln::kHalf);
  EXPECT_EQ(x.sum().dtype(), kiln::kHalf);
  EXPECT_EQ(x.sum().item<double>(), 1000.0);  // 999.755859375 rounded to half
  // Columns: a reduction over the outer dimension.
  Tensor cols = kiln::full({3000, 4}, 0.1, kiln::kHalf).sum(0);
  for (double v : elements<Half>(cols)) EXPECT_EQ(v, 300.0);  // 299.9267578125
  Tensor rows = kiln::full({4, 3000}, 0.1, kiln::kBFloat16).sum(1);
  // 0.1 in bfloat16 is 0.10009765625; 3000 of them 300.29296875, 300 in bfloat16.
  for (float v : elements<BFloat16>(rows)) EXPECT_EQ(v, 300.0f);
  EXPECT_EQ(kiln::full({3000}, 0.1, kiln::kHalf).mean().item<double>(), 0.0999755859375);
  // A softmax's phases read the rounded sums.
  Tensor p = kiln::softmax(kiln::zeros({2, 3}, kiln::kHalf), 1);
  EXPECT_EQ(p.dtype(), kiln::kHalf);
  for (float v : elements<Half>(p)) EXPECT_EQ(v, static_cast<float>(Half(1.0f / 3)));
}

// Long reductions (split into blocks of partial results) over half and bfloat16 agree with the
// same reductions of the values as float32.
TEST(Dtypes, LongReductionsAgreeWithFloat) {
  kiln::manual_seed(4);
  for (ScalarType t : {kiln::kHalf, kiln::kBFloat16}) {
    Tensor x = kiln::randn({2, 10000}, t);
    Tensor f = x.to(kiln::kFloat);
    EXPECT_TRUE(kiln::equal(std::get<0>(x.max(1)).to(kiln::kFloat), std::get<0>(f.max(1))));
    EXPECT_TRUE(kiln::equal(std::get<1>(x.max(1)), std::get<1>(f.max(1))));
    EXPECT_TRUE(kiln::equal(x.argmax(1), f.argmax(1)));
    EXPECT_TRUE(kiln::equal(x.min(), f.min().to(t)));
    EXPECT_TRUE(kiln::equal(x.argmin(), f.argmin()));
    // The float32 sums differ only in their order of additions: rounded to t they agree.
    EXPECT_TRUE(kiln::equal(x.sum(1), f.sum(1).to(t))) << t;
    EXPECT_EQ(x.sum(1).dtype(), t);
  }
}

TEST(Dtypes, ReductionsAndArgmaxOnHalf) {
  Tensor h = kiln::tensor({1.5, -3.0, 7.25, 7.25, -0.5}).to(kiln::kHalf);
  EXPECT_EQ(h.max().item<double>(), 7.25);
  EXPECT_EQ(h.min().item<double>(), -3.0);
  EXPECT_EQ(h.argmax().item<int64_t>(), 2);
  EXPECT_EQ(h.argmin().item<int64_t>(), 1);
  EXPECT_EQ(h.max().dtype(), kiln::kHalf);
  Tensor b = h.to(kiln::kBFloat16);
  EXPECT_EQ(b.sum().item<double>(), 12.5);
  EXPECT_EQ(b.argmax().item<int64_t>(), 2);
}

// Matrix products of half and bfloat16 multiply and accumulate in float32 and round once (the
// products of 16-bit floats are exact in float32 and double): against double sums, and unlike
// rounding each product first.
template <typename H>
void checkMatrixProduct(ScalarType t) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2, 2);
  const int m = 4, k = 64, n = 5;
  std::vector<H> a(m * k), b(k * n);
  for (H& x : a) x = H(dist(rng));
  for (H& x : b) x = H(dist(rng));
  Tensor p = kiln::mm(kiln::from_blob(a.data(), {m, k}, t), kiln::from_blob(b.data(), {k, n}, t));
  EXPECT_EQ(p.dtype(), t);
  std::vector<H> got = elements<H>(p);
  int differ_from_rounded_products = 0;
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double exact = 0;
      float rounded = 0;
      for (int q = 0; q < k; ++q) {
        exact += static_cast<double>(a[i * k + q]) * static_cast<double>(b[q * n + j]);
        rounded += static_cast<float>(H(static_cast<float>(a[i * k + q]) * b[q * n + j]));
      }
      EXPECT_EQ(got[i * n + j].x, H(static_cast<float>(exact)).x) << i << "," << j;
      differ_from_rounded_products += H(rounded).x != H(static_cast<float>(exact)).x;
    }
  }
  EXPECT_GT(differ_from_rounded_products, 0);
}

TEST(Dtypes, HalfMatrixProduct) {
  checkMatrixProduct<Half>(kiln::kHalf);
}
TEST(Dtypes, BFloat16MatrixProduct) {
  checkMatrixProduct<BFloat16>(kiln::kBFloat16);
}

TEST(Dtypes, Creation) {
  EXPECT_EQ(elements<uint8_t>(kiln::arange(3, kiln::kByte)), (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(elements<int16_t>(kiln::full({2}, 7, kiln::kShort)), (std::vector<int16_t>{7, 7}));
  EXPECT_EQ(elements<Half>(kiln::full({1}, 1.1, kiln::kHalf))[0].x, Half(1.1f).x);
  EXPECT_EQ(bitsOf(elements<Half>(kiln::arange(0, 1, 0.25, kiln::kHalf))),
            (std::vector<uint16_t>{0x0000, 0x3400, 0x3800, 0x3A00}));
  EXPECT_EQ(kiln::zeros({2}, kiln::TensorOptions().dtype(kiln::kBFloat16)).dtype(),
            kiln::kBFloat16);
  EXPECT_EQ(kiln::empty({2}, kiln::kChar).dtype(), kiln::kChar);
  // Literals of the small types keep their type, as libtorch's TensorDataContainer.
  EXPECT_EQ(kiln::tensor({uint8_t{1}, uint8_t{255}}).dtype(), kiln::kByte);
  EXPECT_EQ(kiln::tensor({int16_t{-3}}).dtype(), kiln::kShort);
  EXPECT_EQ(kiln::tensor({Half(1.5f)}).dtype(), kiln::kHalf);
  EXPECT_EQ(kiln::tensor(std::vector<int8_t>{-1, 2}).dtype(), kiln::kChar);
  uint8_t raw[3] = {9, 8, 7};
  Tensor blob = kiln::from_blob(raw, {3}, kiln::kByte);
  EXPECT_EQ(blob.sum().item<int64_t>(), 24);
  EXPECT_EQ(blob.data_ptr<uint8_t>(), raw);
  // Random numbers of half: float32 numbers rounded, in [0, 1).
  kiln::manual_seed(5);
  Tensor r = kiln::rand({1000}, kiln::kHalf);
  EXPECT_EQ(r.dtype(), kiln::kHalf);
  for (float v : elements<Half>(r)) ASSERT_TRUE(v >= 0 && v <= 1);
  EXPECT_GT(r.to(kiln::kFloat).std().item<double>(), 0.25);
  EXPECT_EQ(kiln::randn({4}, kiln::kBFloat16).dtype(), kiln::kBFloat16);
}

TEST(Dtypes, ItemsScalarsAndErrors) {
  Tensor h = kiln::tensor({1.5}).to(kiln::kHalf);
  EXPECT_EQ(h.item<Half>().x, 0x3E00);
  EXPECT_EQ(h.item<float>(), 1.5f);
  EXPECT_TRUE(h.item().isFloatingPoint());
  EXPECT_EQ(kiln::tensor({200}, kiln::kByte).item().toLong(), 200);
  EXPECT_EQ(kiln::tensor({200}, kiln::kByte).item<uint8_t>(), 200);
  EXPECT_EQ(kiln::Scalar(Half(2.5f)).toDouble(), 2.5);
  EXPECT_EQ(kiln::Scalar(3.0).toHalf().x, 0x4200);
  try {
    kiln::tensor({1000}).item<uint8_t>();
    ADD_FAILURE() << "no error";
  } catch (const kiln::Error& e) {
    EXPECT_STREQ(e.what(), "value cannot be converted to type uint8_t without overflow");
  }
  try {
    kiln::tensor({1e6}).item<Half>();
    ADD_FAILURE() << "no error";
  } catch (const kiln::Error& e) {
    EXPECT_STREQ(e.what(), "value cannot be converted to type at::Half without overflow");
  }
  try {
    kiln::ones({1}).data_ptr<uint8_t>();
    ADD_FAILURE() << "no error";
  } catch (const kiln::Error& e) {
    EXPECT_STREQ(e.what(), "expected scalar type Byte but found Float");
  }
  EXPECT_THROW(kiln::ones({1}, kiln::kByte).requires_grad_(), kiln::Error);
}

// Python's repr, which kiln prints: floating types in PyTorch's formatter (on the elements as
// doubles), small integers as numbers, the dtype named unless it is a default one.
TEST(Dtypes, Printing) {
  EXPECT_EQ(printed(kiln::tensor({1, 200, 3}, kiln::kByte)),
            "tensor([  1, 200,   3], dtype=kiln.uint8)");
  EXPECT_EQ(printed(kiln::tensor({-1, 2}, kiln::kChar)), "tensor([-1,  2], dtype=kiln.int8)");
  EXPECT_EQ(printed(kiln::tensor({-300}, kiln::kShort)), "tensor([-300], dtype=kiln.int16)");
  EXPECT_EQ(printed(kiln::tensor({1.0 / 3, 2.5}).to(kiln::kHalf)),
            "tensor([0.3333, 2.5000], dtype=kiln.float16)");
  EXPECT_EQ(printed(kiln::tensor({1.0 / 3, 2.5}).to(kiln::kBFloat16)),
            "tensor([0.3340, 2.5000], dtype=kiln.bfloat16)");
  EXPECT_EQ(printed(kiln::tensor({65504.0, 1e-8}).to(kiln::kHalf)),
            "tensor([65504.,     0.], dtype=kiln.float16)");
}

// set_default_dtype changes what floating numbers and creation functions without a dtype give.
TEST(Dtypes, DefaultDtype) {
  EXPECT_EQ(kiln::get_default_dtype(), kiln::scalarTypeToTypeMeta(kiln::kFloat));
  kiln::set_default_dtype(kiln::scalarTypeToTypeMeta(kiln::kDouble));
  EXPECT_EQ(kiln::get_default_dtype_as_scalartype(), kiln::kDouble);
  EXPECT_EQ(kiln::tensor({1.5}).dtype(), kiln::kDouble);
  EXPECT_EQ(kiln::ones({2}).dtype(), kiln::kDouble);
  EXPECT_EQ(kiln::rand({2}).dtype(), kiln::kDouble);
  EXPECT_EQ(kiln::arange(0.0, 1.0, 0.5).dtype(), kiln::kDouble);
  EXPECT_EQ((kiln::tensor({1, 2}) + 1.5).dtype(), kiln::kDouble);
  EXPECT_EQ((kiln::tensor({1, 2}) / 2).dtype(), kiln::kDouble);
  EXPECT_EQ(kiln::tensor({1, 2}).exp().dtype(), kiln::kDouble);
  EXPECT_EQ(kiln::tensor({1, 2}).exp().dtype(), kiln::kDouble);
  EXPECT_EQ(printed(kiln::tensor({1.5})), "tensor([1.5000])");
  EXPECT_EQ(printed(kiln::tensor({1.5}, kiln::kFloat)), "tensor([1.5000], dtype=kiln.float32)");
  kiln::set_default_dtype(kiln::kHalf);
  EXPECT_EQ(kiln::ones({2}).dtype(), kiln::kHalf);
  try {
    kiln::set_default_dtype(kiln::kLong);
    ADD_FAILURE() << "no error";
  } catch (const kiln::Error& e) {
    EXPECT_STREQ(e.what(), "only floating-point types are supported as the default type");
  }
  EXPECT_EQ(kiln::get_default_dtype_as_scalartype(), kiln::kHalf);
  kiln::set_default_dtype(kiln::kFloat);
  EXPECT_EQ(kiln::ones({2}).dtype(), kiln::kFloat);
}

// Gradients of half tensors are half, computed with each op's rounding.
TEST(Dtypes, AutogradThroughHalf) {
  Tensor x = kiln::tensor({1.0, 2.0, 3.0}).to(kiln::kHalf).requires_grad_();
  Tensor y = (x * x * 0.1).sum();
  y.backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), kiln::kHalf);
  // d/dx (x * x * 0.1) = 2 x 0.1, in half: g * 0.1 then times x, twice.
  const float tenth = Half(0.1f);
  for (int i = 0; i < 3; ++i) {
    float xi = static_cast<float>(i + 1);
    float g = Half(Half(tenth * xi) + Half(tenth * xi));
    EXPECT_EQ(static_cast<float>(elements<Half>(x.grad())[i]), g) << i;
  }
  // A float32 loss of a bfloat16 parameter: the gradient is bfloat16.
  Tensor w = kiln::ones({2}, kiln::kBFloat16).requires_grad_();
  (w.to(kiln::kFloat) * 3).sum().backward();
  EXPECT_EQ(w.grad().dtype(), kiln::kBFloat16);
  EXPECT_EQ(elements<BFloat16>(w.grad())[1].x, BFloat16(3.0f).x);
}

// A bfloat16 model trains as its float32 twin does, to bfloat16's precision: parameters, their
// gradients and the optimizer's updates stay bfloat16.
TEST(Dtypes, TrainingInBFloat16) {
  kiln::manual_seed(9);
  kiln::nn::Linear wide(4, 3), narrow(4, 3);
  narrow->weight.set_data(wide->weight.detach().clone());
  narrow->bias.set_data(wide->bias.detach().clone());
  narrow->to(kiln::kBFloat16);
  EXPECT_EQ(narrow->weight.dtype(), kiln::kBFloat16);
  kiln::optim::SGD wide_opt(wide->parameters(), 0.1), narrow_opt(narrow->parameters(), 0.1);
  Tensor x = kiln::randn({8, 4}), y = kiln::randn({8, 3});
  // x and y as bfloat16 hold slightly different numbers: both models see the rounded ones.
  x = x.to(kiln::kBFloat16).to(kiln::kFloat);
  y = y.to(kiln::kBFloat16).to(kiln::kFloat);
  double first = 0, last = 0;
  for (int step = 0; step < 5; ++step) {
    Tensor lw = kiln::nn::functional::mse_loss(wide->forward(x), y);
    Tensor ln = kiln::nn::functional::mse_loss(narrow->forward(x.to(kiln::kBFloat16)),
                                               y.to(kiln::kBFloat16));
    EXPECT_EQ(ln.dtype(), kiln::kBFloat16);
    EXPECT_NEAR(ln.item<double>(), lw.item<double>(), 0.02 * lw.item<double>() + 1e-3) << step;
    if (step == 0) first = ln.item<double>();
    last = ln.item<double>();
    wide_opt.zero_grad();
    narrow_opt.zero_grad();
    lw.backward();
    ln.backward();
    EXPECT_EQ(narrow->weight.grad().dtype(), kiln::kBFloat16);
    wide_opt.step();
    narrow_opt.step();
  }
  EXPECT_LT(last, first);
  EXPECT_EQ(narrow->weight.dtype(), kiln::kBFloat16);
  Tensor dw = (narrow->weight.to(kiln::kFloat) - wide->weight).abs().max();
  EXPECT_LT(dw.item<double>(), 0.02);
}

// The reference interpreter (double precision, each result rounded to its type) agrees with the
// compiled kernels exactly on the new types' arithmetic.
TEST(Dtypes, ReferenceInterpreterAgrees) {
  std::vector<float> raw = {0.3f, -1.7f, 12.5f, 100.1f, -0.01f, 7.0f};
  Tensor f = kiln::from_blob(raw.data(), {6}, kiln::kFloat);
  std::vector<Tensor> cases;
  for (ScalarType t : {kiln::kHalf, kiln::kBFloat16}) {
    Tensor x = f.to(t);
    cases.push_back((x * 3 + x) / 7 - 0.3);
    cases.push_back(kiln::maximum(x, -x * 0.5));
    cases.push_back((x * x).sum());
    cases.push_back(x.to(kiln::kByte));
  }
  for (ScalarType t : {kiln::kByte, kiln::kChar, kiln::kShort}) {
    Tensor x = kiln::tensor({250, 3, 100, 7, 1, 0}).to(t);
    cases.push_back(x * 77 + 5);
    cases.push_back(x.floor_divide(3) - x.remainder(4));
    cases.push_back(-x);
    cases.push_back(x > 50);
    cases.push_back(x.max());
    cases.push_back(x.to(kiln::kHalf) / 3);
  }
  for (const Tensor& t : cases) {
    std::vector<double> ref = kiln::detail::referenceValues(t);
    Tensor d = t.to(kiln::kDouble).contiguous();
    std::vector<double> got = elements<double>(d);
    EXPECT_EQ(got, ref) << kiln::detail::pendingGraphText(t);
  }
}

TEST(Dtypes, GraphText) {
  const std::string text =
      "graph {\n"
      "  %0 = param 0 : u8[3]\n"
      "  %1 = const 200 : u8[3]\n"
      "  %2 = add %0, %1 : u8[3]\n"
      "  %3 = cast %2 : f16[3]\n"
      "  %4 = cast %3 : bf16[3]\n"
      "  %5 = cast %4 : i8[3]\n"
      "  %6 = cast %5 : i16[3]\n"
      "  return %6\n"
      "}\n";
  kiln::ir::ParseResult r = kiln::ir::parseGraph(text, "t.kir");
  ASSERT_TRUE(r.graph) << r.error;
  EXPECT_EQ(r.graph->text(), text);
  auto values = kiln::interp::interpret(*r.graph, {{100, 56, 1}});
  // 300 wraps to 44, 256 to 0; as int8, 201 is -55.
  EXPECT_EQ(values[r.graph->outputs[0].value], (std::vector<double>{44, 0, -55}));
  kiln::ir::ParseResult bad =
      kiln::ir::parseGraph("graph {\n  %0 = const 256 : u8[1]\n  return %0\n}\n", "g.kir");
  EXPECT_EQ(bad.error, "g.kir:2:23: bad constant '256' for u8");
}

}  // namespace
