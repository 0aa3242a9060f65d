// Expected strings are Python PyTorch 2.15 output (repr(tensor), with "torch." renamed "kiln."),
// produced from the same element values; the few cases naming a CUDA device or an autograd node
// were produced by running PyTorch's own _tensor_str and _add_suffixes with that suffix list.
#include "lib/core/format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace kiln::detail {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

template <typename T>
std::string format(ScalarType dtype, std::vector<int64_t> sizes, const std::vector<T>& data,
                   std::vector<std::string> suffixes = {}) {
  return formatTensor(FormatRequest{dtype, std::move(sizes), data.data(), std::move(suffixes)});
}

// Values are computed in double and then narrowed, exactly as the Python generator did before
// handing them to torch.tensor.
template <typename T>
std::vector<T> arange(int64_t n, double scale, double offset) {
  std::vector<T> v;
  for (int64_t i = 0; i < n; ++i)
    v.push_back(static_cast<T>(offset + static_cast<double>(i) * scale));
  return v;
}

// Knuth's MMIX LCG, so that "random" data is reproducible bit for bit on both sides; raising u to
// `power` spreads the magnitudes enough to force scientific notation.
template <typename T>
std::vector<T> lcg(int64_t n, double lo, double hi, int power) {
  uint64_t state = 12345;
  std::vector<T> v;
  for (int64_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = static_cast<double>(state >> 11) * 0x1p-53;
    double x = u;
    for (int k = 1; k < power; ++k) x = x * u;
    v.push_back(static_cast<T>(lo + (hi - lo) * x));
  }
  return v;
}

// An element hidden by summarisation must not influence the formatting mode.
template <typename T>
std::vector<T> middleOutlier() {
  std::vector<T> v = arange<T>(1500, 0.5, 1.0);
  v[700] = static_cast<T>(1e-9);
  return v;
}

std::vector<uint8_t> everySeventh(int64_t n) {
  std::vector<uint8_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i % 7 == 0 ? 1 : 0);
  return v;
}

TEST(FormatTensor, SeedZerosLong) {
  EXPECT_EQ(format(kLong, {2, 3}, std::vector<int64_t>{0, 0, 0, 0, 0, 0}),
            "tensor([[0, 0, 0],\n"
            "        [0, 0, 0]])");
}

TEST(FormatTensor, SeedFixed) {
  EXPECT_EQ(format(kFloat, {2}, std::vector<float>{5.5f, 3.0f}), "tensor([5.5000, 3.0000])");
}

TEST(FormatTensor, SeedOnes) {
  EXPECT_EQ(format(kFloat, {2, 2}, std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f}),
            "tensor([[1., 1.],\n"
            "        [1., 1.]])");
}

TEST(FormatTensor, SeedScientific) {
  EXPECT_EQ(
      format(kFloat, {5, 3},
             std::vector<float>{0.18161000311374664f, 0.7811200022697449f, 0.0006069500232115388f,
                                0.3641200065612793f, 0.391539990901947f, 0.8416000008583069f,
                                0.02404100075364113f, 0.05162699893116951f, 0.44495999813079834f,
                                0.054531000554561615f, 0.9929900169372559f, 0.5387300252914429f,
                                0.30928999185562134f, 0.8475000262260437f, 0.8606500029563904f}),
      "tensor([[1.8161e-01, 7.8112e-01, 6.0695e-04],\n"
      "        [3.6412e-01, 3.9154e-01, 8.4160e-01],\n"
      "        [2.4041e-02, 5.1627e-02, 4.4496e-01],\n"
      "        [5.4531e-02, 9.9299e-01, 5.3873e-01],\n"
      "        [3.0929e-01, 8.4750e-01, 8.6065e-01]])");
}

TEST(FormatTensor, SeedDenormals) {
  EXPECT_EQ(format(kFloat, {2, 3},
                   std::vector<float>{9.275500018431187e-39f, 1.0560999381559594e-38f,
                                      5.969399735968074e-39f, 7.806099850038648e-39f,
                                      8.449000171187767e-39f, 9.642799964109222e-39f}),
            "tensor([[9.2755e-39, 1.0561e-38, 5.9694e-39],\n"
            "        [7.8061e-39, 8.4490e-39, 9.6428e-39]])");
}

TEST(FormatTensor, SeedFixedMatrix) {
  EXPECT_EQ(format(kFloat, {2, 3},
                   std::vector<float>{1.211400032043457f, 0.4819999933242798f, 0.4607999920845032f,
                                      0.3709000051021576f, 1.145400047302246f, 1.479200005531311f}),
            "tensor([[1.2114, 0.4820, 0.4608],\n"
            "        [0.3709, 1.1454, 1.4792]])");
}

TEST(FormatTensor, SeedGradFn) {
  EXPECT_EQ(format(kFloat, {2, 2}, std::vector<float>{27.0f, 27.0f, 27.0f, 27.0f},
                   {"grad_fn=<MulBackward0>"}),
            "tensor([[27., 27.],\n"
            "        [27., 27.]], grad_fn=<MulBackward0>)");
}

TEST(FormatTensor, SeedScalarGradFn) {
  EXPECT_EQ(format(kFloat, {}, std::vector<float>{27.0f}, {"grad_fn=<MeanBackward0>"}),
            "tensor(27., grad_fn=<MeanBackward0>)");
}

TEST(FormatTensor, SeedRequiresGrad) {
  EXPECT_EQ(
      format(kFloat, {2, 2}, std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f}, {"requires_grad=True"}),
      "tensor([[1., 1.],\n"
      "        [1., 1.]], requires_grad=True)");
}

TEST(FormatTensor, SeedDouble) {
  EXPECT_EQ(
      format(kDouble, {5}, std::vector<double>{2.0, 2.0, 2.0, 2.0, 2.0}, {"dtype=kiln.float64"}),
      "tensor([2., 2., 2., 2., 2.], dtype=kiln.float64)");
}

TEST(FormatTensor, SeedDevice) {
  EXPECT_EQ(format(kFloat, {1}, std::vector<float>{-0.13109999895095825f}, {"device='cuda:0'"}),
            "tensor([-0.1311], device='cuda:0')");
}

TEST(FormatTensor, SeedScalar) {
  EXPECT_EQ(format(kFloat, {}, std::vector<float>{-1.131100058555603f}), "tensor(-1.1311)");
}

TEST(FormatTensor, SeedDoubleVector) {
  EXPECT_EQ(format(kDouble, {1}, std::vector<double>{-0.1311}, {"dtype=kiln.float64"}),
            "tensor([-0.1311], dtype=kiln.float64)");
}

TEST(FormatTensor, ScalarLong) {
  EXPECT_EQ(format(kLong, {}, std::vector<int64_t>{-42}), "tensor(-42)");
}

TEST(FormatTensor, ScalarInt) {
  EXPECT_EQ(format(kInt, {}, std::vector<int32_t>{7}, {"dtype=kiln.int32"}),
            "tensor(7, dtype=kiln.int32)");
}

TEST(FormatTensor, ScalarBoolTrue) {
  EXPECT_EQ(format(kBool, {}, std::vector<uint8_t>{1}), "tensor(True)");
}

TEST(FormatTensor, ScalarBoolFalse) {
  EXPECT_EQ(format(kBool, {}, std::vector<uint8_t>{0}), "tensor(False)");
}

TEST(FormatTensor, ScalarNan) {
  EXPECT_EQ(format(kFloat, {}, std::vector<float>{static_cast<float>(kNan)}), "tensor(nan)");
}

TEST(FormatTensor, ScalarNegativeZero) {
  EXPECT_EQ(format(kFloat, {}, std::vector<float>{-0.0f}), "tensor(-0.)");
}

TEST(FormatTensor, ScalarSci) {
  EXPECT_EQ(format(kFloat, {}, std::vector<float>{1.4999999621068127e-05f}), "tensor(1.5000e-05)");
}

TEST(FormatTensor, ScalarLarge) {
  EXPECT_EQ(format(kDouble, {}, std::vector<double>{123456789.0}, {"dtype=kiln.float64"}),
            "tensor(1.2346e+08, dtype=kiln.float64)");
}

TEST(FormatTensor, NanInfFixed) {
  EXPECT_EQ(format(kFloat, {3},
                   std::vector<float>{static_cast<float>(kNan), 1.5f, static_cast<float>(-kInf)}),
            "tensor([   nan, 1.5000,   -inf])");
}

TEST(FormatTensor, NanInfIntegral) {
  EXPECT_EQ(
      format(kFloat, {4},
             std::vector<float>{static_cast<float>(kNan), 1.0f, static_cast<float>(kInf), -12.0f}),
      "tensor([ nan,   1.,  inf, -12.])");
}

TEST(FormatTensor, NegativeNan) {
  EXPECT_EQ(format(kFloat, {2}, std::vector<float>{static_cast<float>(-kNan), 2.25f}),
            "tensor([   nan, 2.2500])");
}

TEST(FormatTensor, InfSci) {
  EXPECT_EQ(format(kFloat, {2}, std::vector<float>{10000000000.0f, static_cast<float>(kInf)}),
            "tensor([1.0000e+10,        inf])");
}

TEST(FormatTensor, AllNonFinite) {
  EXPECT_EQ(format(kFloat, {3},
                   std::vector<float>{static_cast<float>(kNan), static_cast<float>(kInf),
                                      static_cast<float>(-kInf)}),
            "tensor([nan, inf, -inf])");
}

TEST(FormatTensor, AllZeros) {
  EXPECT_EQ(format(kFloat, {2, 2}, std::vector<float>{0.0f, 0.0f, 0.0f, 0.0f}),
            "tensor([[0., 0.],\n"
            "        [0., 0.]])");
}

TEST(FormatTensor, NegativeZeroIntegral) {
  EXPECT_EQ(format(kFloat, {2}, std::vector<float>{-0.0f, 1.0f}), "tensor([-0., 1.])");
}

TEST(FormatTensor, NegativeZeroOnly) {
  EXPECT_EQ(format(kFloat, {2}, std::vector<float>{-0.0f, 0.0f}), "tensor([-0., 0.])");
}

TEST(FormatTensor, NegativeZeroFixed) {
  EXPECT_EQ(format(kFloat, {3}, std::vector<float>{-0.0f, 0.5f, -0.25f}),
            "tensor([-0.0000,  0.5000, -0.2500])");
}

TEST(FormatTensor, NegativeZeroSci) {
  EXPECT_EQ(format(kFloat, {3}, std::vector<float>{-0.0f, 9.999999974752427e-07f, 1.0f}),
            "tensor([-0.0000e+00, 1.0000e-06, 1.0000e+00])");
}

TEST(FormatTensor, SciByRatio) {
  EXPECT_EQ(format(kFloat, {2}, std::vector<float>{1.0f, 1001.0f}),
            "tensor([1.0000e+00, 1.0010e+03])");
}

TEST(FormatTensor, FixedAtRatio1000) {
  EXPECT_EQ(format(kDouble, {2}, std::vector<double>{0.5, 500.0}, {"dtype=kiln.float64"}),
            "tensor([  0.5000, 500.0000], dtype=kiln.float64)");
}

TEST(FormatTensor, SciByMax) {
  EXPECT_EQ(
      format(kDouble, {2}, std::vector<double>{200000000.0, 300000000.0}, {"dtype=kiln.float64"}),
      "tensor([2.0000e+08, 3.0000e+08], dtype=kiln.float64)");
}

TEST(FormatTensor, IntModeLarge) {
  EXPECT_EQ(format(kFloat, {2}, std::vector<float>{100000000.0f, 20000000.0f}),
            "tensor([100000000.,  20000000.])");
}

TEST(FormatTensor, IntModeSci) {
  EXPECT_EQ(format(kFloat, {3}, std::vector<float>{1.0f, 100000.0f, -3.0f}),
            "tensor([ 1.0000e+00,  1.0000e+05, -3.0000e+00])");
}

TEST(FormatTensor, SciBySmallMin) {
  EXPECT_EQ(format(kFloat, {2}, std::vector<float>{4.999999873689376e-05f, 5.999999848427251e-05f}),
            "tensor([5.0000e-05, 6.0000e-05])");
}

TEST(FormatTensor, FixedWide) {
  EXPECT_EQ(format(kDouble, {3}, std::vector<double>{123456.7, -1000.5, 99999.99999},
                   {"dtype=kiln.float64"}),
            "tensor([123456.7000,  -1000.5000, 100000.0000], dtype=kiln.float64)");
}

TEST(FormatTensor, RoundingHalfEven) {
  EXPECT_EQ(format(kDouble, {4}, std::vector<double>{5e-05, 0.00015, 2.5, 0.123456789},
                   {"dtype=kiln.float64"}),
            "tensor([5.0000e-05, 1.5000e-04, 2.5000e+00, 1.2346e-01], dtype=kiln.float64)");
}

TEST(FormatTensor, Float32Rounding) {
  EXPECT_EQ(
      format(kFloat, {3},
             std::vector<float>{0.10000000149011612f, 0.3333333432674408f, 0.6666666865348816f}),
      "tensor([0.1000, 0.3333, 0.6667])");
}

TEST(FormatTensor, Float64NegativeSci) {
  EXPECT_EQ(format(kDouble, {2, 2}, std::vector<double>{-1.25e-300, 3e+300, 0.0, -7.0},
                   {"dtype=kiln.float64"}),
            "tensor([[-1.2500e-300,  3.0000e+300],\n"
            "        [  0.0000e+00,  -7.0000e+00]], dtype=kiln.float64)");
}

TEST(FormatTensor, IntNegativeWidths) {
  EXPECT_EQ(format(kInt, {3}, std::vector<int32_t>{-100, 5, 20}, {"dtype=kiln.int32"}),
            "tensor([-100,    5,   20], dtype=kiln.int32)");
}

TEST(FormatTensor, LongExtremes) {
  EXPECT_EQ(format(kLong, {2}, std::vector<int64_t>{INT64_MIN, 9223372036854775807}),
            "tensor([-9223372036854775808,  9223372036854775807])");
}

TEST(FormatTensor, LongMatrix) {
  EXPECT_EQ(format(kLong, {2, 3}, std::vector<int64_t>{1, -22, 333, 4, 5, 6}),
            "tensor([[  1, -22, 333],\n"
            "        [  4,   5,   6]])");
}

TEST(FormatTensor, BoolVector) {
  EXPECT_EQ(format(kBool, {2}, std::vector<uint8_t>{1, 0}), "tensor([ True, False])");
}

TEST(FormatTensor, BoolAllTrue) {
  EXPECT_EQ(format(kBool, {3}, std::vector<uint8_t>{1, 1, 1}), "tensor([True, True, True])");
}

TEST(FormatTensor, BoolMatrix) {
  EXPECT_EQ(format(kBool, {2, 2}, std::vector<uint8_t>{1, 0, 0, 1}),
            "tensor([[ True, False],\n"
            "        [False,  True]])");
}

TEST(FormatTensor, ThreeDim) {
  EXPECT_EQ(format(kFloat, {2, 2, 2}, arange<float>(8, 0.5, -1.0)),
            "tensor([[[-1.0000, -0.5000],\n"
            "         [ 0.0000,  0.5000]],\n"
            "\n"
            "        [[ 1.0000,  1.5000],\n"
            "         [ 2.0000,  2.5000]]])");
}

TEST(FormatTensor, FourDim) {
  EXPECT_EQ(format(kLong, {2, 1, 2, 2}, arange<int64_t>(8, 1.0, 0.0)),
            "tensor([[[[0, 1],\n"
            "          [2, 3]]],\n"
            "\n"
            "\n"
            "        [[[4, 5],\n"
            "          [6, 7]]]])");
}

TEST(FormatTensor, SingleElementMatrix) {
  EXPECT_EQ(format(kDouble, {1, 1}, std::vector<double>{3.5}, {"dtype=kiln.float64"}),
            "tensor([[3.5000]], dtype=kiln.float64)");
}

TEST(FormatTensor, EmptyVector) {
  EXPECT_EQ(format(kFloat, {0}, std::vector<float>{}), "tensor([])");
}

TEST(FormatTensor, EmptyMatrix) {
  EXPECT_EQ(format(kFloat, {0, 3}, std::vector<float>{}), "tensor([], size=(0, 3))");
}

TEST(FormatTensor, EmptyLong) {
  EXPECT_EQ(format(kLong, {0}, std::vector<int64_t>{}, {"dtype=kiln.int64"}),
            "tensor([], dtype=kiln.int64)");
}

TEST(FormatTensor, EmptyThreeDimDouble) {
  EXPECT_EQ(format(kDouble, {2, 0, 3}, std::vector<double>{}, {"dtype=kiln.float64"}),
            "tensor([], size=(2, 0, 3), dtype=kiln.float64)");
}

TEST(FormatTensor, EmptyWithDevice) {
  EXPECT_EQ(format(kFloat, {0, 2}, std::vector<float>{}, {"device='cuda:0'", "requires_grad=True"}),
            "tensor([], device='cuda:0', size=(0, 2), requires_grad=True)");
}

TEST(FormatTensor, WrapFloatVector) {
  EXPECT_EQ(format(kFloat, {30}, arange<float>(30, 0.25, 0.0)),
            "tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000, 1.2500, 1.5000, 1.7500, 2.0000,\n"
            "        2.2500, 2.5000, 2.7500, 3.0000, 3.2500, 3.5000, 3.7500, 4.0000, 4.2500,\n"
            "        4.5000, 4.7500, 5.0000, 5.2500, 5.5000, 5.7500, 6.0000, 6.2500, 6.5000,\n"
            "        6.7500, 7.0000, 7.2500])");
}

TEST(FormatTensor, WrapLongVector) {
  EXPECT_EQ(format(kLong, {100}, arange<int64_t>(100, 1.0, 0.0)),
            "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
            "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,\n"
            "        36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53,\n"
            "        54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71,\n"
            "        72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89,\n"
            "        90, 91, 92, 93, 94, 95, 96, 97, 98, 99])");
}

TEST(FormatTensor, WrapMatrixRows) {
  EXPECT_EQ(format(kFloat, {2, 20}, arange<float>(40, 0.125, -2.0)),
            "tensor([[-2.0000, -1.8750, -1.7500, -1.6250, -1.5000, -1.3750, -1.2500, -1.1250,\n"
            "         -1.0000, -0.8750, -0.7500, -0.6250, -0.5000, -0.3750, -0.2500, -0.1250,\n"
            "          0.0000,  0.1250,  0.2500,  0.3750],\n"
            "        [ 0.5000,  0.6250,  0.7500,  0.8750,  1.0000,  1.1250,  1.2500,  1.3750,\n"
            "          1.5000,  1.6250,  1.7500,  1.8750,  2.0000,  2.1250,  2.2500,  2.3750,\n"
            "          2.5000,  2.6250,  2.7500,  2.8750]])");
}

TEST(FormatTensor, WrapSci) {
  EXPECT_EQ(format(kFloat, {12}, lcg<float>(12, 0.0, 1.0, 6)),
            "tensor([1.7312e-06, 3.4935e-04, 4.8250e-01, 3.4074e-01, 1.1922e-03, 3.0997e-02,\n"
            "        2.5032e-01, 3.6004e-03, 2.9344e-01, 4.4390e-05, 9.4145e-01, 9.0255e-01])");
}

TEST(FormatTensor, WrapBool) {
  EXPECT_EQ(format(kBool, {20}, std::vector<uint8_t>{0, 1, 1, 0, 1, 1, 0, 1, 1, 0,
                                                     1, 1, 0, 1, 1, 0, 1, 1, 0, 1}),
            "tensor([False,  True,  True, False,  True,  True, False,  True,  True, False,\n"
            "         True,  True, False,  True,  True, False,  True,  True, False,  True])");
}

TEST(FormatTensor, SuffixWrapsAfterVector) {
  EXPECT_EQ(format(kDouble, {11}, arange<double>(11, 1.5, 0.0), {"dtype=kiln.float64"}),
            "tensor([ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,\n"
            "        12.0000, 13.5000, 15.0000], dtype=kiln.float64)");
}

TEST(FormatTensor, SuffixFitsOnLine) {
  EXPECT_EQ(format(kDouble, {9}, arange<double>(9, 1.5, 0.0), {"dtype=kiln.float64"}),
            "tensor([ 0.0000,  1.5000,  3.0000,  4.5000,  6.0000,  7.5000,  9.0000, 10.5000,\n"
            "        12.0000], dtype=kiln.float64)");
}

TEST(FormatTensor, SuffixWrapsAfterMatrix) {
  EXPECT_EQ(format(kDouble, {2, 8}, arange<double>(16, 0.25, 0.0),
                   {"dtype=kiln.float64", "grad_fn=<AddBackward0>"}),
            "tensor([[0.0000, 0.2500, 0.5000, 0.7500, 1.0000, 1.2500, 1.5000, 1.7500],\n"
            "        [2.0000, 2.2500, 2.5000, 2.7500, 3.0000, 3.2500, 3.5000, 3.7500]],\n"
            "       dtype=kiln.float64, grad_fn=<AddBackward0>)");
}

TEST(FormatTensor, SeveralSuffixesWrap) {
  EXPECT_EQ(format(kFloat, {5}, lcg<float>(5, -1.0, 1.0, 1),
                   {"device='cuda:0'", "grad_fn=<SomeVeryLongBackwardFunctionName0>",
                    "requires_grad=True"}),
            "tensor([-0.7808, -0.4692,  0.7712,  0.6715, -0.3487], device='cuda:0',\n"
            "       grad_fn=<SomeVeryLongBackwardFunctionName0>, requires_grad=True)");
}

TEST(FormatTensor, SummarizeLongVector) {
  EXPECT_EQ(format(kLong, {2000}, arange<int64_t>(2000, 1.0, 0.0)),
            "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
}

TEST(FormatTensor, SummarizeFloatVector) {
  EXPECT_EQ(format(kFloat, {1001}, lcg<float>(1001, -2.0, 2.0, 1)),
            "tensor([-1.5617, -0.9385,  1.5425,  ...,  0.8844, -1.2293,  0.8257])");
}

TEST(FormatTensor, SummarizeMatrix) {
  EXPECT_EQ(format(kFloat, {40, 40}, arange<float>(1600, 0.125, 0.0)),
            "tensor([[0.0000e+00, 1.2500e-01, 2.5000e-01,  ..., 4.6250e+00, 4.7500e+00,\n"
            "         4.8750e+00],\n"
            "        [5.0000e+00, 5.1250e+00, 5.2500e+00,  ..., 9.6250e+00, 9.7500e+00,\n"
            "         9.8750e+00],\n"
            "        [1.0000e+01, 1.0125e+01, 1.0250e+01,  ..., 1.4625e+01, 1.4750e+01,\n"
            "         1.4875e+01],\n"
            "        ...,\n"
            "        [1.8500e+02, 1.8512e+02, 1.8525e+02,  ..., 1.8962e+02, 1.8975e+02,\n"
            "         1.8988e+02],\n"
            "        [1.9000e+02, 1.9012e+02, 1.9025e+02,  ..., 1.9462e+02, 1.9475e+02,\n"
            "         1.9488e+02],\n"
            "        [1.9500e+02, 1.9512e+02, 1.9525e+02,  ..., 1.9962e+02, 1.9975e+02,\n"
            "         1.9988e+02]])");
}

TEST(FormatTensor, SummarizeThreeDim) {
  EXPECT_EQ(format(kLong, {10, 10, 11}, arange<int64_t>(1100, 1.0, -500.0)),
            "tensor([[[-500, -499, -498,  ..., -492, -491, -490],\n"
            "         [-489, -488, -487,  ..., -481, -480, -479],\n"
            "         [-478, -477, -476,  ..., -470, -469, -468],\n"
            "         ...,\n"
            "         [-423, -422, -421,  ..., -415, -414, -413],\n"
            "         [-412, -411, -410,  ..., -404, -403, -402],\n"
            "         [-401, -400, -399,  ..., -393, -392, -391]],\n"
            "\n"
            "        [[-390, -389, -388,  ..., -382, -381, -380],\n"
            "         [-379, -378, -377,  ..., -371, -370, -369],\n"
            "         [-368, -367, -366,  ..., -360, -359, -358],\n"
            "         ...,\n"
            "         [-313, -312, -311,  ..., -305, -304, -303],\n"
            "         [-302, -301, -300,  ..., -294, -293, -292],\n"
            "         [-291, -290, -289,  ..., -283, -282, -281]],\n"
            "\n"
            "        [[-280, -279, -278,  ..., -272, -271, -270],\n"
            "         [-269, -268, -267,  ..., -261, -260, -259],\n"
            "         [-258, -257, -256,  ..., -250, -249, -248],\n"
            "         ...,\n"
            "         [-203, -202, -201,  ..., -195, -194, -193],\n"
            "         [-192, -191, -190,  ..., -184, -183, -182],\n"
            "         [-181, -180, -179,  ..., -173, -172, -171]],\n"
            "\n"
            "        ...,\n"
            "\n"
            "        [[ 270,  271,  272,  ...,  278,  279,  280],\n"
            "         [ 281,  282,  283,  ...,  289,  290,  291],\n"
            "         [ 292,  293,  294,  ...,  300,  301,  302],\n"
            "         ...,\n"
            "         [ 347,  348,  349,  ...,  355,  356,  357],\n"
            "         [ 358,  359,  360,  ...,  366,  367,  368],\n"
            "         [ 369,  370,  371,  ...,  377,  378,  379]],\n"
            "\n"
            "        [[ 380,  381,  382,  ...,  388,  389,  390],\n"
            "         [ 391,  392,  393,  ...,  399,  400,  401],\n"
            "         [ 402,  403,  404,  ...,  410,  411,  412],\n"
            "         ...,\n"
            "         [ 457,  458,  459,  ...,  465,  466,  467],\n"
            "         [ 468,  469,  470,  ...,  476,  477,  478],\n"
            "         [ 479,  480,  481,  ...,  487,  488,  489]],\n"
            "\n"
            "        [[ 490,  491,  492,  ...,  498,  499,  500],\n"
            "         [ 501,  502,  503,  ...,  509,  510,  511],\n"
            "         [ 512,  513,  514,  ...,  520,  521,  522],\n"
            "         ...,\n"
            "         [ 567,  568,  569,  ...,  575,  576,  577],\n"
            "         [ 578,  579,  580,  ...,  586,  587,  588],\n"
            "         [ 589,  590,  591,  ...,  597,  598,  599]]])");
}

TEST(FormatTensor, SummarizeShortRows) {
  EXPECT_EQ(format(kDouble, {2, 1000}, arange<double>(2000, 0.5, 0.0), {"dtype=kiln.float64"}),
            "tensor([[0.0000e+00, 5.0000e-01, 1.0000e+00,  ..., 4.9850e+02, 4.9900e+02,\n"
            "         4.9950e+02],\n"
            "        [5.0000e+02, 5.0050e+02, 5.0100e+02,  ..., 9.9850e+02, 9.9900e+02,\n"
            "         9.9950e+02]], dtype=kiln.float64)");
}

TEST(FormatTensor, SummarizeColumn) {
  EXPECT_EQ(format(kInt, {2000, 1}, arange<int32_t>(2000, 1.0, 0.0), {"dtype=kiln.int32"}),
            "tensor([[   0],\n"
            "        [   1],\n"
            "        [   2],\n"
            "        ...,\n"
            "        [1997],\n"
            "        [1998],\n"
            "        [1999]], dtype=kiln.int32)");
}

TEST(FormatTensor, SummarizeFourDim) {
  EXPECT_EQ(format(kFloat, {5, 5, 5, 10}, arange<float>(1250, 0.5, 0.0)),
            "tensor([[[[0.0000e+00, 5.0000e-01, 1.0000e+00,  ..., 3.5000e+00,\n"
            "           4.0000e+00, 4.5000e+00],\n"
            "          [5.0000e+00, 5.5000e+00, 6.0000e+00,  ..., 8.5000e+00,\n"
            "           9.0000e+00, 9.5000e+00],\n"
            "          [1.0000e+01, 1.0500e+01, 1.1000e+01,  ..., 1.3500e+01,\n"
            "           1.4000e+01, 1.4500e+01],\n"
            "          [1.5000e+01, 1.5500e+01, 1.6000e+01,  ..., 1.8500e+01,\n"
            "           1.9000e+01, 1.9500e+01],\n"
            "          [2.0000e+01, 2.0500e+01, 2.1000e+01,  ..., 2.3500e+01,\n"
            "           2.4000e+01, 2.4500e+01]],\n"
            "\n"
            "         [[2.5000e+01, 2.5500e+01, 2.6000e+01,  ..., 2.8500e+01,\n"
            "           2.9000e+01, 2.9500e+01],\n"
            "          [3.0000e+01, 3.0500e+01, 3.1000e+01,  ..., 3.3500e+01,\n"
            "           3.4000e+01, 3.4500e+01],\n"
            "          [3.5000e+01, 3.5500e+01, 3.6000e+01,  ..., 3.8500e+01,\n"
            "           3.9000e+01, 3.9500e+01],\n"
            "          [4.0000e+01, 4.0500e+01, 4.1000e+01,  ..., 4.3500e+01,\n"
            "           4.4000e+01, 4.4500e+01],\n"
            "          [4.5000e+01, 4.5500e+01, 4.6000e+01,  ..., 4.8500e+01,\n"
            "           4.9000e+01, 4.9500e+01]],\n"
            "\n"
            "         [[5.0000e+01, 5.0500e+01, 5.1000e+01,  ..., 5.3500e+01,\n"
            "           5.4000e+01, 5.4500e+01],\n"
            "          [5.5000e+01, 5.5500e+01, 5.6000e+01,  ..., 5.8500e+01,\n"
            "           5.9000e+01, 5.9500e+01],\n"
            "          [6.0000e+01, 6.0500e+01, 6.1000e+01,  ..., 6.3500e+01,\n"
            "           6.4000e+01, 6.4500e+01],\n"
            "          [6.5000e+01, 6.5500e+01, 6.6000e+01,  ..., 6.8500e+01,\n"
            "           6.9000e+01, 6.9500e+01],\n"
            "          [7.0000e+01, 7.0500e+01, 7.1000e+01,  ..., 7.3500e+01,\n"
            "           7.4000e+01, 7.4500e+01]],\n"
            "\n"
            "         [[7.5000e+01, 7.5500e+01, 7.6000e+01,  ..., 7.8500e+01,\n"
            "           7.9000e+01, 7.9500e+01],\n"
            "          [8.0000e+01, 8.0500e+01, 8.1000e+01,  ..., 8.3500e+01,\n"
            "           8.4000e+01, 8.4500e+01],\n"
            "          [8.5000e+01, 8.5500e+01, 8.6000e+01,  ..., 8.8500e+01,\n"
            "           8.9000e+01, 8.9500e+01],\n"
            "          [9.0000e+01, 9.0500e+01, 9.1000e+01,  ..., 9.3500e+01,\n"
            "           9.4000e+01, 9.4500e+01],\n"
            "          [9.5000e+01, 9.5500e+01, 9.6000e+01,  ..., 9.8500e+01,\n"
            "           9.9000e+01, 9.9500e+01]],\n"
            "\n"
            "         [[1.0000e+02, 1.0050e+02, 1.0100e+02,  ..., 1.0350e+02,\n"
            "           1.0400e+02, 1.0450e+02],\n"
            "          [1.0500e+02, 1.0550e+02, 1.0600e+02,  ..., 1.0850e+02,\n"
            "           1.0900e+02, 1.0950e+02],\n"
            "          [1.1000e+02, 1.1050e+02, 1.1100e+02,  ..., 1.1350e+02,\n"
            "           1.1400e+02, 1.1450e+02],\n"
            "          [1.1500e+02, 1.1550e+02, 1.1600e+02,  ..., 1.1850e+02,\n"
            "           1.1900e+02, 1.1950e+02],\n"
            "          [1.2000e+02, 1.2050e+02, 1.2100e+02,  ..., 1.2350e+02,\n"
            "           1.2400e+02, 1.2450e+02]]],\n"
            "\n"
            "\n"
            "        [[[1.2500e+02, 1.2550e+02, 1.2600e+02,  ..., 1.2850e+02,\n"
            "           1.2900e+02, 1.2950e+02],\n"
            "          [1.3000e+02, 1.3050e+02, 1.3100e+02,  ..., 1.3350e+02,\n"
            "           1.3400e+02, 1.3450e+02],\n"
            "          [1.3500e+02, 1.3550e+02, 1.3600e+02,  ..., 1.3850e+02,\n"
            "           1.3900e+02, 1.3950e+02],\n"
            "          [1.4000e+02, 1.4050e+02, 1.4100e+02,  ..., 1.4350e+02,\n"
            "           1.4400e+02, 1.4450e+02],\n"
            "          [1.4500e+02, 1.4550e+02, 1.4600e+02,  ..., 1.4850e+02,\n"
            "           1.4900e+02, 1.4950e+02]],\n"
            "\n"
            "         [[1.5000e+02, 1.5050e+02, 1.5100e+02,  ..., 1.5350e+02,\n"
            "           1.5400e+02, 1.5450e+02],\n"
            "          [1.5500e+02, 1.5550e+02, 1.5600e+02,  ..., 1.5850e+02,\n"
            "           1.5900e+02, 1.5950e+02],\n"
            "          [1.6000e+02, 1.6050e+02, 1.6100e+02,  ..., 1.6350e+02,\n"
            "           1.6400e+02, 1.6450e+02],\n"
            "          [1.6500e+02, 1.6550e+02, 1.6600e+02,  ..., 1.6850e+02,\n"
            "           1.6900e+02, 1.6950e+02],\n"
            "          [1.7000e+02, 1.7050e+02, 1.7100e+02,  ..., 1.7350e+02,\n"
            "           1.7400e+02, 1.7450e+02]],\n"
            "\n"
            "         [[1.7500e+02, 1.7550e+02, 1.7600e+02,  ..., 1.7850e+02,\n"
            "           1.7900e+02, 1.7950e+02],\n"
            "          [1.8000e+02, 1.8050e+02, 1.8100e+02,  ..., 1.8350e+02,\n"
            "           1.8400e+02, 1.8450e+02],\n"
            "          [1.8500e+02, 1.8550e+02, 1.8600e+02,  ..., 1.8850e+02,\n"
            "           1.8900e+02, 1.8950e+02],\n"
            "          [1.9000e+02, 1.9050e+02, 1.9100e+02,  ..., 1.9350e+02,\n"
            "           1.9400e+02, 1.9450e+02],\n"
            "          [1.9500e+02, 1.9550e+02, 1.9600e+02,  ..., 1.9850e+02,\n"
            "           1.9900e+02, 1.9950e+02]],\n"
            "\n"
            "         [[2.0000e+02, 2.0050e+02, 2.0100e+02,  ..., 2.0350e+02,\n"
            "           2.0400e+02, 2.0450e+02],\n"
            "          [2.0500e+02, 2.0550e+02, 2.0600e+02,  ..., 2.0850e+02,\n"
            "           2.0900e+02, 2.0950e+02],\n"
            "          [2.1000e+02, 2.1050e+02, 2.1100e+02,  ..., 2.1350e+02,\n"
            "           2.1400e+02, 2.1450e+02],\n"
            "          [2.1500e+02, 2.1550e+02, 2.1600e+02,  ..., 2.1850e+02,\n"
            "           2.1900e+02, 2.1950e+02],\n"
            "          [2.2000e+02, 2.2050e+02, 2.2100e+02,  ..., 2.2350e+02,\n"
            "           2.2400e+02, 2.2450e+02]],\n"
            "\n"
            "         [[2.2500e+02, 2.2550e+02, 2.2600e+02,  ..., 2.2850e+02,\n"
            "           2.2900e+02, 2.2950e+02],\n"
            "          [2.3000e+02, 2.3050e+02, 2.3100e+02,  ..., 2.3350e+02,\n"
            "           2.3400e+02, 2.3450e+02],\n"
            "          [2.3500e+02, 2.3550e+02, 2.3600e+02,  ..., 2.3850e+02,\n"
            "           2.3900e+02, 2.3950e+02],\n"
            "          [2.4000e+02, 2.4050e+02, 2.4100e+02,  ..., 2.4350e+02,\n"
            "           2.4400e+02, 2.4450e+02],\n"
            "          [2.4500e+02, 2.4550e+02, 2.4600e+02,  ..., 2.4850e+02,\n"
            "           2.4900e+02, 2.4950e+02]]],\n"
            "\n"
            "\n"
            "        [[[2.5000e+02, 2.5050e+02, 2.5100e+02,  ..., 2.5350e+02,\n"
            "           2.5400e+02, 2.5450e+02],\n"
            "          [2.5500e+02, 2.5550e+02, 2.5600e+02,  ..., 2.5850e+02,\n"
            "           2.5900e+02, 2.5950e+02],\n"
            "          [2.6000e+02, 2.6050e+02, 2.6100e+02,  ..., 2.6350e+02,\n"
            "           2.6400e+02, 2.6450e+02],\n"
            "          [2.6500e+02, 2.6550e+02, 2.6600e+02,  ..., 2.6850e+02,\n"
            "           2.6900e+02, 2.6950e+02],\n"
            "          [2.7000e+02, 2.7050e+02, 2.7100e+02,  ..., 2.7350e+02,\n"
            "           2.7400e+02, 2.7450e+02]],\n"
            "\n"
            "         [[2.7500e+02, 2.7550e+02, 2.7600e+02,  ..., 2.7850e+02,\n"
            "           2.7900e+02, 2.7950e+02],\n"
            "          [2.8000e+02, 2.8050e+02, 2.8100e+02,  ..., 2.8350e+02,\n"
            "           2.8400e+02, 2.8450e+02],\n"
            "          [2.8500e+02, 2.8550e+02, 2.8600e+02,  ..., 2.8850e+02,\n"
            "           2.8900e+02, 2.8950e+02],\n"
            "          [2.9000e+02, 2.9050e+02, 2.9100e+02,  ..., 2.9350e+02,\n"
            "           2.9400e+02, 2.9450e+02],\n"
            "          [2.9500e+02, 2.9550e+02, 2.9600e+02,  ..., 2.9850e+02,\n"
            "           2.9900e+02, 2.9950e+02]],\n"
            "\n"
            "         [[3.0000e+02, 3.0050e+02, 3.0100e+02,  ..., 3.0350e+02,\n"
            "           3.0400e+02, 3.0450e+02],\n"
            "          [3.0500e+02, 3.0550e+02, 3.0600e+02,  ..., 3.0850e+02,\n"
            "           3.0900e+02, 3.0950e+02],\n"
            "          [3.1000e+02, 3.1050e+02, 3.1100e+02,  ..., 3.1350e+02,\n"
            "           3.1400e+02, 3.1450e+02],\n"
            "          [3.1500e+02, 3.1550e+02, 3.1600e+02,  ..., 3.1850e+02,\n"
            "           3.1900e+02, 3.1950e+02],\n"
            "          [3.2000e+02, 3.2050e+02, 3.2100e+02,  ..., 3.2350e+02,\n"
            "           3.2400e+02, 3.2450e+02]],\n"
            "\n"
            "         [[3.2500e+02, 3.2550e+02, 3.2600e+02,  ..., 3.2850e+02,\n"
            "           3.2900e+02, 3.2950e+02],\n"
            "          [3.3000e+02, 3.3050e+02, 3.3100e+02,  ..., 3.3350e+02,\n"
            "           3.3400e+02, 3.3450e+02],\n"
            "          [3.3500e+02, 3.3550e+02, 3.3600e+02,  ..., 3.3850e+02,\n"
            "           3.3900e+02, 3.3950e+02],\n"
            "          [3.4000e+02, 3.4050e+02, 3.4100e+02,  ..., 3.4350e+02,\n"
            "           3.4400e+02, 3.4450e+02],\n"
            "          [3.4500e+02, 3.4550e+02, 3.4600e+02,  ..., 3.4850e+02,\n"
            "           3.4900e+02, 3.4950e+02]],\n"
            "\n"
            "         [[3.5000e+02, 3.5050e+02, 3.5100e+02,  ..., 3.5350e+02,\n"
            "           3.5400e+02, 3.5450e+02],\n"
            "          [3.5500e+02, 3.5550e+02, 3.5600e+02,  ..., 3.5850e+02,\n"
            "           3.5900e+02, 3.5950e+02],\n"
            "          [3.6000e+02, 3.6050e+02, 3.6100e+02,  ..., 3.6350e+02,\n"
            "           3.6400e+02, 3.6450e+02],\n"
            "          [3.6500e+02, 3.6550e+02, 3.6600e+02,  ..., 3.6850e+02,\n"
            "           3.6900e+02, 3.6950e+02],\n"
            "          [3.7000e+02, 3.7050e+02, 3.7100e+02,  ..., 3.7350e+02,\n"
            "           3.7400e+02, 3.7450e+02]]],\n"
            "\n"
            "\n"
            "        [[[3.7500e+02, 3.7550e+02, 3.7600e+02,  ..., 3.7850e+02,\n"
            "           3.7900e+02, 3.7950e+02],\n"
            "          [3.8000e+02, 3.8050e+02, 3.8100e+02,  ..., 3.8350e+02,\n"
            "           3.8400e+02, 3.8450e+02],\n"
            "          [3.8500e+02, 3.8550e+02, 3.8600e+02,  ..., 3.8850e+02,\n"
            "           3.8900e+02, 3.8950e+02],\n"
            "          [3.9000e+02, 3.9050e+02, 3.9100e+02,  ..., 3.9350e+02,\n"
            "           3.9400e+02, 3.9450e+02],\n"
            "          [3.9500e+02, 3.9550e+02, 3.9600e+02,  ..., 3.9850e+02,\n"
            "           3.9900e+02, 3.9950e+02]],\n"
            "\n"
            "         [[4.0000e+02, 4.0050e+02, 4.0100e+02,  ..., 4.0350e+02,\n"
            "           4.0400e+02, 4.0450e+02],\n"
            "          [4.0500e+02, 4.0550e+02, 4.0600e+02,  ..., 4.0850e+02,\n"
            "           4.0900e+02, 4.0950e+02],\n"
            "          [4.1000e+02, 4.1050e+02, 4.1100e+02,  ..., 4.1350e+02,\n"
            "           4.1400e+02, 4.1450e+02],\n"
            "          [4.1500e+02, 4.1550e+02, 4.1600e+02,  ..., 4.1850e+02,\n"
            "           4.1900e+02, 4.1950e+02],\n"
            "          [4.2000e+02, 4.2050e+02, 4.2100e+02,  ..., 4.2350e+02,\n"
            "           4.2400e+02, 4.2450e+02]],\n"
            "\n"
            "         [[4.2500e+02, 4.2550e+02, 4.2600e+02,  ..., 4.2850e+02,\n"
            "           4.2900e+02, 4.2950e+02],\n"
            "          [4.3000e+02, 4.3050e+02, 4.3100e+02,  ..., 4.3350e+02,\n"
            "           4.3400e+02, 4.3450e+02],\n"
            "          [4.3500e+02, 4.3550e+02, 4.3600e+02,  ..., 4.3850e+02,\n"
            "           4.3900e+02, 4.3950e+02],\n"
            "          [4.4000e+02, 4.4050e+02, 4.4100e+02,  ..., 4.4350e+02,\n"
            "           4.4400e+02, 4.4450e+02],\n"
            "          [4.4500e+02, 4.4550e+02, 4.4600e+02,  ..., 4.4850e+02,\n"
            "           4.4900e+02, 4.4950e+02]],\n"
            "\n"
            "         [[4.5000e+02, 4.5050e+02, 4.5100e+02,  ..., 4.5350e+02,\n"
            "           4.5400e+02, 4.5450e+02],\n"
            "          [4.5500e+02, 4.5550e+02, 4.5600e+02,  ..., 4.5850e+02,\n"
            "           4.5900e+02, 4.5950e+02],\n"
            "          [4.6000e+02, 4.6050e+02, 4.6100e+02,  ..., 4.6350e+02,\n"
            "           4.6400e+02, 4.6450e+02],\n"
            "          [4.6500e+02, 4.6550e+02, 4.6600e+02,  ..., 4.6850e+02,\n"
            "           4.6900e+02, 4.6950e+02],\n"
            "          [4.7000e+02, 4.7050e+02, 4.7100e+02,  ..., 4.7350e+02,\n"
            "           4.7400e+02, 4.7450e+02]],\n"
            "\n"
            "         [[4.7500e+02, 4.7550e+02, 4.7600e+02,  ..., 4.7850e+02,\n"
            "           4.7900e+02, 4.7950e+02],\n"
            "          [4.8000e+02, 4.8050e+02, 4.8100e+02,  ..., 4.8350e+02,\n"
            "           4.8400e+02, 4.8450e+02],\n"
            "          [4.8500e+02, 4.8550e+02, 4.8600e+02,  ..., 4.8850e+02,\n"
            "           4.8900e+02, 4.8950e+02],\n"
            "          [4.9000e+02, 4.9050e+02, 4.9100e+02,  ..., 4.9350e+02,\n"
            "           4.9400e+02, 4.9450e+02],\n"
            "          [4.9500e+02, 4.9550e+02, 4.9600e+02,  ..., 4.9850e+02,\n"
            "           4.9900e+02, 4.9950e+02]]],\n"
            "\n"
            "\n"
            "        [[[5.0000e+02, 5.0050e+02, 5.0100e+02,  ..., 5.0350e+02,\n"
            "           5.0400e+02, 5.0450e+02],\n"
            "          [5.0500e+02, 5.0550e+02, 5.0600e+02,  ..., 5.0850e+02,\n"
            "           5.0900e+02, 5.0950e+02],\n"
            "          [5.1000e+02, 5.1050e+02, 5.1100e+02,  ..., 5.1350e+02,\n"
            "           5.1400e+02, 5.1450e+02],\n"
            "          [5.1500e+02, 5.1550e+02, 5.1600e+02,  ..., 5.1850e+02,\n"
            "           5.1900e+02, 5.1950e+02],\n"
            "          [5.2000e+02, 5.2050e+02, 5.2100e+02,  ..., 5.2350e+02,\n"
            "           5.2400e+02, 5.2450e+02]],\n"
            "\n"
            "         [[5.2500e+02, 5.2550e+02, 5.2600e+02,  ..., 5.2850e+02,\n"
            "           5.2900e+02, 5.2950e+02],\n"
            "          [5.3000e+02, 5.3050e+02, 5.3100e+02,  ..., 5.3350e+02,\n"
            "           5.3400e+02, 5.3450e+02],\n"
            "          [5.3500e+02, 5.3550e+02, 5.3600e+02,  ..., 5.3850e+02,\n"
            "           5.3900e+02, 5.3950e+02],\n"
            "          [5.4000e+02, 5.4050e+02, 5.4100e+02,  ..., 5.4350e+02,\n"
            "           5.4400e+02, 5.4450e+02],\n"
            "          [5.4500e+02, 5.4550e+02, 5.4600e+02,  ..., 5.4850e+02,\n"
            "           5.4900e+02, 5.4950e+02]],\n"
            "\n"
            "         [[5.5000e+02, 5.5050e+02, 5.5100e+02,  ..., 5.5350e+02,\n"
            "           5.5400e+02, 5.5450e+02],\n"
            "          [5.5500e+02, 5.5550e+02, 5.5600e+02,  ..., 5.5850e+02,\n"
            "           5.5900e+02, 5.5950e+02],\n"
            "          [5.6000e+02, 5.6050e+02, 5.6100e+02,  ..., 5.6350e+02,\n"
            "           5.6400e+02, 5.6450e+02],\n"
            "          [5.6500e+02, 5.6550e+02, 5.6600e+02,  ..., 5.6850e+02,\n"
            "           5.6900e+02, 5.6950e+02],\n"
            "          [5.7000e+02, 5.7050e+02, 5.7100e+02,  ..., 5.7350e+02,\n"
            "           5.7400e+02, 5.7450e+02]],\n"
            "\n"
            "         [[5.7500e+02, 5.7550e+02, 5.7600e+02,  ..., 5.7850e+02,\n"
            "           5.7900e+02, 5.7950e+02],\n"
            "          [5.8000e+02, 5.8050e+02, 5.8100e+02,  ..., 5.8350e+02,\n"
            "           5.8400e+02, 5.8450e+02],\n"
            "          [5.8500e+02, 5.8550e+02, 5.8600e+02,  ..., 5.8850e+02,\n"
            "           5.8900e+02, 5.8950e+02],\n"
            "          [5.9000e+02, 5.9050e+02, 5.9100e+02,  ..., 5.9350e+02,\n"
            "           5.9400e+02, 5.9450e+02],\n"
            "          [5.9500e+02, 5.9550e+02, 5.9600e+02,  ..., 5.9850e+02,\n"
            "           5.9900e+02, 5.9950e+02]],\n"
            "\n"
            "         [[6.0000e+02, 6.0050e+02, 6.0100e+02,  ..., 6.0350e+02,\n"
            "           6.0400e+02, 6.0450e+02],\n"
            "          [6.0500e+02, 6.0550e+02, 6.0600e+02,  ..., 6.0850e+02,\n"
            "           6.0900e+02, 6.0950e+02],\n"
            "          [6.1000e+02, 6.1050e+02, 6.1100e+02,  ..., 6.1350e+02,\n"
            "           6.1400e+02, 6.1450e+02],\n"
            "          [6.1500e+02, 6.1550e+02, 6.1600e+02,  ..., 6.1850e+02,\n"
            "           6.1900e+02, 6.1950e+02],\n"
            "          [6.2000e+02, 6.2050e+02, 6.2100e+02,  ..., 6.2350e+02,\n"
            "           6.2400e+02, 6.2450e+02]]]])");
}

TEST(FormatTensor, SummarizeSci) {
  EXPECT_EQ(format(kFloat, {50, 30}, lcg<float>(1500, 0.0, 1.0, 4)),
            "tensor([[1.4418e-04, 4.9603e-03, 6.1517e-01,  ..., 4.3445e-03, 7.3885e-03,\n"
            "         4.2174e-02],\n"
            "        [8.1437e-01, 1.1967e-06, 5.8672e-06,  ..., 1.8430e-03, 1.1141e-02,\n"
            "         4.2080e-01],\n"
            "        [6.3472e-04, 2.4790e-04, 6.9459e-01,  ..., 4.9012e-01, 9.1944e-01,\n"
            "         2.2580e-01],\n"
            "        ...,\n"
            "        [5.2824e-02, 3.5939e-01, 3.6350e-01,  ..., 1.4679e-04, 1.2050e-02,\n"
            "         2.4456e-01],\n"
            "        [6.2386e-01, 3.7080e-01, 1.7358e-03,  ..., 4.1564e-01, 7.5107e-01,\n"
            "         3.1050e-01],\n"
            "        [7.2941e-02, 4.2465e-05, 5.8430e-03,  ..., 2.0050e-05, 5.0731e-07,\n"
            "         8.3029e-03]])");
}

TEST(FormatTensor, SummarizeIgnoresMiddle) {
  EXPECT_EQ(format(kFloat, {1500}, middleOutlier<float>()),
            "tensor([  1.0000,   1.5000,   2.0000,  ..., 749.5000, 750.0000, 750.5000])");
}

TEST(FormatTensor, SummarizeBool) {
  EXPECT_EQ(format(kBool, {10, 200}, everySeventh(2000)),
            "tensor([[ True, False, False,  ..., False, False, False],\n"
            "        [False, False, False,  ..., False, False,  True],\n"
            "        [False, False, False,  ..., False, False, False],\n"
            "        ...,\n"
            "        [ True, False, False,  ..., False, False, False],\n"
            "        [False, False, False,  ..., False, False,  True],\n"
            "        [False, False, False,  ..., False, False, False]])");
}

TEST(FormatTensor, SummarizeDoubleWithSuffixes) {
  EXPECT_EQ(format(kDouble, {8, 200}, lcg<double>(1600, -100.0, 100.0, 1),
                   {"dtype=kiln.float64", "requires_grad=True"}),
            "tensor([[-7.8084e+01, -4.6923e+01,  7.7125e+01,  ..., -4.5216e+01,\n"
            "         -8.8770e+00, -1.8045e+01],\n"
            "        [ 9.4749e+01, -4.5209e+01,  1.0887e+01,  ..., -3.7994e+01,\n"
            "          5.0935e+01,  7.4093e+01],\n"
            "        [ 5.3742e+00, -1.8245e+01, -7.3444e+01,  ..., -6.0622e+01,\n"
            "          1.3798e+01, -1.6407e-02],\n"
            "        ...,\n"
            "        [ 4.1285e+01, -5.9658e+01, -5.9865e+01,  ..., -1.3619e+01,\n"
            "          4.5674e+01, -9.1675e+01],\n"
            "        [ 3.9341e+00,  9.9273e+01,  1.4480e+01,  ..., -1.8286e+00,\n"
            "         -1.6022e+01,  2.1499e+01],\n"
            "        [ 5.2544e+01,  6.6455e+00, -9.1864e+01,  ..., -4.8430e+01,\n"
            "          6.3204e+01, -6.2789e+01]], dtype=kiln.float64, requires_grad=True)");
}

}  // namespace
}  // namespace kiln::detail
