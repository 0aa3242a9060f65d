// Invalid uses throw kiln::Error with PyTorch's wording, at record time (before anything is
// computed), and leave every tensor as it was: a failed in-place op must not half-happen.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/frontend/tensor_impl.h"

namespace {

using kiln::Tensor;
using kiln::indexing::Slice;

std::vector<double> values(const Tensor& t) {
  return kiln::detail::toDoubles(t);
}

// Runs `f`, which must throw kiln::Error whose message contains `needle`; also checks that the
// failure did not materialise anything (errors are found while recording, not while computing).
void expectErrorImpl(const std::function<void()>& f, const std::string& needle) {
  int64_t before = kiln::stats().materializations;
  try {
    f();
    ADD_FAILURE() << "expected kiln::Error containing: " << needle;
  } catch (const kiln::Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected kiln::Error, got another exception: " << e.what();
  }
  EXPECT_EQ(kiln::stats().materializations, before) << "the failing call materialised";
}

#define EXPECT_KILN_ERROR(stmt, needle)             \
  do {                                              \
    SCOPED_TRACE(#stmt);                            \
    expectErrorImpl([&] { (void)(stmt); }, needle); \
  } while (0)

// ----------------------------------------------------------------------------- broadcasting

TEST(Errors, BroadcastMismatch) {
  Tensor a = kiln::rand({5});
  Tensor b = kiln::rand({4});
  const char* msg =
      "The size of tensor a (5) must match the size of tensor b (4) at non-singleton dimension 0";
  EXPECT_KILN_ERROR(a + b, msg);
  EXPECT_KILN_ERROR(kiln::add(a, b), msg);
  EXPECT_KILN_ERROR(a * b, msg);
  EXPECT_KILN_ERROR(kiln::maximum(a, b), msg);
  EXPECT_KILN_ERROR(a < b, msg);
  EXPECT_KILN_ERROR(kiln::where(a > 0.5, a, b), msg);
  EXPECT_KILN_ERROR(b - a,
                    "The size of tensor a (4) must match the size of tensor b (5) at "
                    "non-singleton dimension 0");
  Tensor m = kiln::rand({2, 3});
  Tensor n = kiln::rand({4, 2, 2});
  EXPECT_KILN_ERROR(m + n,
                    "The size of tensor a (3) must match the size of tensor b (2) at "
                    "non-singleton dimension 2");
  // Nothing was read: the operands are still pending.
  EXPECT_TRUE(a.is_lazy());
  EXPECT_TRUE(b.is_lazy());
}

TEST(Errors, InPlaceBroadcastMismatchLeavesSelfUnchanged) {
  Tensor a = kiln::arange(5, kiln::kFloat) + 0;
  Tensor b = kiln::ones({4});
  std::vector<double> before = values(a);
  EXPECT_KILN_ERROR(a.add_(b),
                    "The size of tensor a (5) must match the size of tensor b (4) at "
                    "non-singleton dimension 0");
  EXPECT_KILN_ERROR(a.mul_(b), "must match the size of tensor b (4)");
  EXPECT_KILN_ERROR(a.copy_(b),
                    "The size of tensor a (5) must match the size of tensor b (4) at "
                    "non-singleton dimension 0");
  EXPECT_EQ(values(a), before);
  // The result would need a bigger shape than self.
  Tensor row = kiln::zeros({3});
  EXPECT_KILN_ERROR(row.add_(kiln::ones({2, 3})),
                    "output with shape [3] doesn't match the broadcast shape [2, 3]");
  EXPECT_EQ(values(row), (std::vector<double>{0, 0, 0}));
}

// ------------------------------------------------------------------------------------ views

TEST(Errors, ViewShapeInvalid) {
  Tensor x = kiln::rand({16});
  EXPECT_KILN_ERROR(x.view({3, 5}), "shape '[3, 5]' is invalid for input of size 16");
  EXPECT_KILN_ERROR(x.reshape({3, 5}), "shape '[3, 5]' is invalid for input of size 16");
  EXPECT_KILN_ERROR(x.view({-1, 5}), "shape '[-1, 5]' is invalid for input of size 16");
  EXPECT_KILN_ERROR(x.view({-1, -1}), "only one dimension can be inferred");
}

TEST(Errors, ViewOfNonContiguous) {
  Tensor x = kiln::rand({4, 4});
  EXPECT_KILN_ERROR(x.t().view(-1),
                    "view size is not compatible with input tensor's size and stride");
  EXPECT_KILN_ERROR(x.t().view({16}), "Use .reshape(...) instead.");
  EXPECT_KILN_ERROR(x.index({Slice(), Slice(0, 2)}).view({8}), "Use .reshape(...) instead.");
  // The same reshape works (it copies).
  EXPECT_EQ(x.t().reshape({16}).numel(), 16);
}

TEST(Errors, ExpandAndPermute) {
  Tensor x = kiln::rand({3});
  EXPECT_KILN_ERROR(x.expand({2, 4}),
                    "The expanded size of the tensor (4) must match the existing size (3) at "
                    "non-singleton dimension 1");
  Tensor y = kiln::rand({2, 3});
  EXPECT_KILN_ERROR(y.permute({0, 0}), "duplicate dims are not allowed");
  EXPECT_KILN_ERROR(kiln::rand({2, 2, 2}).t(),
                    "t() expects a tensor with <= 2 dimensions, but self is 3D");
  EXPECT_KILN_ERROR(y.narrow(1, 2, 2), "start (2) + length (2) exceeds dimension size (3).");
  EXPECT_KILN_ERROR(y.select(0, 5),
                    "select(): index 5 out of range for tensor of size [2, 3] at dimension 0");
  EXPECT_KILN_ERROR(y[2], "index 2 out of range for tensor of size [2, 3] at dimension 0");
}

// ----------------------------------------------------------------------------------- values

TEST(Errors, ItemOfManyElements) {
  Tensor x = kiln::ones({3, 5});
  EXPECT_KILN_ERROR(x.item(), "a Tensor with 15 elements cannot be converted to Scalar");
  EXPECT_KILN_ERROR(x.item<float>(), "a Tensor with 15 elements cannot be converted to Scalar");
  EXPECT_KILN_ERROR(kiln::zeros({0}).item(),
                    "a Tensor with 0 elements cannot be converted to Scalar");
}

TEST(Errors, DataPtrOfWrongType) {
  Tensor x = kiln::ones({2});
  x.eval();
  EXPECT_KILN_ERROR(x.data_ptr<double>(), "expected scalar type Double but found Float");
  EXPECT_KILN_ERROR(x.data_ptr<int64_t>(), "expected scalar type Long but found Float");
}

// ------------------------------------------------------------------------- result type casts

TEST(Errors, InPlaceResultCannotBeCast) {
  Tensor l = kiln::tensor({1, 2, 3});
  Tensor f = kiln::tensor({0.5, 0.5, 0.5});
  const char* msg = "result type Float can't be cast to the desired output type Long";
  EXPECT_KILN_ERROR(l.add_(f), msg);
  EXPECT_KILN_ERROR(l.sub_(f), msg);
  EXPECT_KILN_ERROR(l.mul_(f), msg);
  EXPECT_KILN_ERROR(l.add_(2.5), msg);
  EXPECT_KILN_ERROR(l.mul_(0.5), msg);
  EXPECT_KILN_ERROR(l.div_(kiln::tensor({1, 1, 1})), msg);  // true division gives Float
  EXPECT_KILN_ERROR(l.div_(2), msg);
  EXPECT_KILN_ERROR(l += f, msg);
  EXPECT_KILN_ERROR(l.exp_(), msg);
  EXPECT_EQ(values(l), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(l.dtype(), kiln::kLong);

  Tensor i = kiln::tensor({1, 2}, kiln::kInt);
  EXPECT_KILN_ERROR(i.add_(kiln::tensor({1.0, 2.0}, kiln::kDouble)),
                    "result type Double can't be cast to the desired output type Int");
  Tensor b = kiln::tensor({true, false});
  EXPECT_KILN_ERROR(b.add_(kiln::tensor({1, 1})),
                    "result type Long can't be cast to the desired output type Bool");
  EXPECT_EQ(values(i), (std::vector<double>{1, 2}));
  EXPECT_EQ(values(b), (std::vector<double>{1, 0}));
}

TEST(Errors, OutResultCannotBeCast) {
  Tensor f = kiln::rand({3});
  Tensor out = kiln::tensor({7, 8, 9});
  const char* msg = "result type Float can't be cast to the desired output type Long";
  EXPECT_KILN_ERROR(kiln::add_out(out, f, f), msg);
  EXPECT_KILN_ERROR(kiln::sub_out(out, f, f), msg);
  EXPECT_KILN_ERROR(kiln::mul_out(out, f, f), msg);
  EXPECT_KILN_ERROR(kiln::div_out(out, kiln::tensor({1, 2, 3}), kiln::tensor({1, 1, 1})), msg);
  EXPECT_EQ(out.dtype(), kiln::kLong);
  EXPECT_EQ(out.sizes().vec(), (std::vector<int64_t>{3}));
  EXPECT_EQ(values(out), (std::vector<double>{7, 8, 9}));
  // A mismatched shape must not be resized before the failing cast check.
  Tensor small = kiln::tensor({1});
  EXPECT_KILN_ERROR(kiln::add_out(small, f, f), msg);
  EXPECT_EQ(small.sizes().vec(), (std::vector<int64_t>{1}));
  EXPECT_EQ(values(small), (std::vector<double>{1}));
}

TEST(Errors, FailedInPlaceThroughViewLeavesEveryViewUnchanged) {
  Tensor x = kiln::tensor({{1, 2, 3}, {4, 5, 6}});
  Tensor row = x[0];
  Tensor col = x.index({Slice(), 1});
  Tensor pending = x * 10;  // recorded, not yet computed
  EXPECT_KILN_ERROR(row.add_(kiln::tensor({0.5, 0.5, 0.5})),
                    "result type Float can't be cast to the desired output type Long");
  EXPECT_KILN_ERROR(col.mul_(kiln::ones({3})), "must match the size of tensor b (3)");
  EXPECT_KILN_ERROR(x.index_put_({5}, 1), "index 5 is out of bounds for dimension 0 with size 2");
  EXPECT_EQ(values(x), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(values(row), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(values(col), (std::vector<double>{2, 5}));
  EXPECT_EQ(values(pending), (std::vector<double>{10, 20, 30, 40, 50, 60}));
}

TEST(Errors, FailedInPlaceOnPendingTensorKeepsItsPendingValue) {
  Tensor x = kiln::arange(4) + 1;  // pending, Long
  ASSERT_TRUE(x.is_lazy());
  EXPECT_KILN_ERROR(x.add_(0.5), "result type Float can't be cast to the desired output type Long");
  EXPECT_KILN_ERROR(x.add_(kiln::ones({3}, kiln::kLong)), "must match the size of tensor b (3)");
  EXPECT_TRUE(x.is_lazy());
  EXPECT_EQ(values(x), (std::vector<double>{1, 2, 3, 4}));
}

// ---------------------------------------------------------------------------------- indexing

TEST(Errors, IndexOutOfBounds) {
  Tensor x = kiln::rand({3});
  EXPECT_KILN_ERROR(x.index({5}), "index 5 is out of bounds for dimension 0 with size 3");
  EXPECT_KILN_ERROR(x.index({-4}), "index -4 is out of bounds for dimension 0 with size 3");
  Tensor m = kiln::rand({2, 3});
  EXPECT_KILN_ERROR(m.index({0, 7}), "index 7 is out of bounds for dimension 1 with size 3");
  EXPECT_KILN_ERROR(m.index({Slice(), 3}), "index 3 is out of bounds for dimension 1 with size 3");
  EXPECT_KILN_ERROR(m.index({0, 0, 0}), "too many indices for tensor of dimension 2");
  EXPECT_KILN_ERROR(m.index({Slice(0, 2, 0)}), "slice step cannot be zero");
  EXPECT_KILN_ERROR(m.index({Slice(0, 2, -1)}), "step must be greater than zero");
  Tensor y = kiln::tensor({1.0, 2.0, 3.0});
  EXPECT_KILN_ERROR(y.index_put_({5}, 0.0), "index 5 is out of bounds for dimension 0 with size 3");
  EXPECT_KILN_ERROR(y.index_put_({3}, kiln::tensor(0.0)),
                    "index 3 is out of bounds for dimension 0 with size 3");
  EXPECT_EQ(values(y), (std::vector<double>{1, 2, 3}));
}

TEST(Errors, ToWithRequiresGrad) {
  Tensor x = kiln::rand({2});
  const char* msg =
      "Operators taking TensorOptions cannot take a TensorOptions with options.requires_grad set "
      "as true. This isn't implemented yet.";
  EXPECT_KILN_ERROR(x.to(kiln::TensorOptions().requires_grad(true)), msg);
  EXPECT_KILN_ERROR(x.to(kiln::requires_grad()), msg);
  EXPECT_KILN_ERROR(x.to(kiln::dtype(kiln::kDouble).requires_grad(true)), msg);
  EXPECT_KILN_ERROR(x.to(kiln::kFloat, false, false, kiln::MemoryFormat::ChannelsLast),
                    "not supported yet");
  // The channels-last formats wherever a memory format is taken.
  Tensor img = kiln::zeros({1, 2, 3, 4});
  EXPECT_KILN_ERROR(img.clone(kiln::MemoryFormat::ChannelsLast), "not supported yet");
  EXPECT_KILN_ERROR(kiln::clone(img, kiln::MemoryFormat::ChannelsLast3d), "not supported yet");
  EXPECT_KILN_ERROR(img.contiguous(kiln::MemoryFormat::ChannelsLast), "not supported yet");
  EXPECT_KILN_ERROR(kiln::empty_like(img, {}, kiln::MemoryFormat::ChannelsLast),
                    "not supported yet");
  EXPECT_KILN_ERROR(kiln::zeros_like(img, kiln::kDouble, kiln::MemoryFormat::ChannelsLast),
                    "not supported yet");
}

TEST(Errors, DimensionOutOfRange) {
  Tensor x = kiln::rand({2, 3});
  const char* msg = "Dimension out of range (expected to be in range of [-2, 1], but got 5)";
  EXPECT_KILN_ERROR(x.sum({5}), msg);
  EXPECT_KILN_ERROR(x.mean({5}), msg);
  EXPECT_KILN_ERROR(x.amax({5}), msg);
  EXPECT_KILN_ERROR(x.max(5), msg);
  EXPECT_KILN_ERROR(x.argmax(5), msg);
  EXPECT_KILN_ERROR(x.prod(5), msg);
  EXPECT_KILN_ERROR(x.var({5}, true), msg);
  EXPECT_KILN_ERROR(x.softmax(5), msg);
  EXPECT_KILN_ERROR(x.log_softmax(5), msg);
  EXPECT_KILN_ERROR(x.size(5), msg);
  EXPECT_KILN_ERROR(x.stride(5), msg);
  EXPECT_KILN_ERROR(x.transpose(0, 5), msg);
  EXPECT_KILN_ERROR(x.select(5, 0), msg);
  EXPECT_KILN_ERROR(x.narrow(5, 0, 1), msg);
  EXPECT_KILN_ERROR(x.squeeze(5), msg);
  EXPECT_KILN_ERROR(x.flatten(5), msg);
  EXPECT_KILN_ERROR(x.permute({0, 5}), msg);
  EXPECT_KILN_ERROR(kiln::cat({x, x}, 5), msg);
  EXPECT_KILN_ERROR(x.sum({-3}),
                    "Dimension out of range (expected to be in range of [-2, 1], but got -3)");
  EXPECT_KILN_ERROR(x.unsqueeze(5),
                    "Dimension out of range (expected to be in range of [-3, 2], but got 5)");
  EXPECT_KILN_ERROR(kiln::stack({x, x}, 4),
                    "Dimension out of range (expected to be in range of [-3, 2], but got 4)");
  EXPECT_KILN_ERROR(x.sum({1, -1}), "dim 1 appears multiple times in the list of dims");
}

// ---------------------------------------------------------------------------- linear algebra

TEST(Errors, MatmulShapes) {
  Tensor a = kiln::rand({2, 3});
  Tensor b = kiln::rand({4, 5});
  const char* msg = "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)";
  EXPECT_KILN_ERROR(kiln::mm(a, b), msg);
  EXPECT_KILN_ERROR(a.mm(b), msg);
  EXPECT_KILN_ERROR(kiln::matmul(a, b), msg);
  EXPECT_KILN_ERROR(kiln::matmul(kiln::rand({3}), b),  // a vector is a 1-row matrix
                    "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)");
  EXPECT_KILN_ERROR(kiln::matmul(kiln::rand({3}), kiln::rand({4})),
                    "inconsistent tensor size, expected tensor [3] and src [4] to have the same "
                    "number of elements, but got 3 and 4 elements respectively");
  EXPECT_KILN_ERROR(kiln::matmul(kiln::rand({3}), kiln::rand({})),
                    "both arguments to matmul need to be at least 1D, but they are 1D and 0D");
  EXPECT_KILN_ERROR(kiln::mm(kiln::rand({3}), b), "self must be a matrix");
  EXPECT_KILN_ERROR(kiln::bmm(kiln::rand({2, 2, 3}), kiln::rand({2, 4, 5})),
                    "Expected size for first two dimensions of batch2 tensor to be: [2, 3] but "
                    "got: [2, 4].");
  EXPECT_KILN_ERROR(kiln::mm(a, kiln::rand({3, 2}, kiln::kDouble)),
                    "expected m1 and m2 to have the same dtype, but got: float != double");
  EXPECT_TRUE(a.is_lazy());
}

// --------------------------------------------------------------------------- dtype misuse

TEST(Errors, DtypeMisuse) {
  Tensor l = kiln::tensor({1, 2});
  EXPECT_KILN_ERROR(l.mean(),
                    "mean(): could not infer output dtype. Input dtype must be either a floating "
                    "point or complex dtype. Got: Long");
  EXPECT_KILN_ERROR(l.var(), "std and var only support floating point and complex dtypes");
  EXPECT_KILN_ERROR(l.pow(-1), "Integers to negative integer powers are not allowed.");
  EXPECT_KILN_ERROR(l.requires_grad_(),
                    "only Tensors of floating point and complex dtype can require gradients");
  Tensor b = kiln::tensor({true, false});
  EXPECT_KILN_ERROR(-b, "Negation, the `-` operator, on a bool tensor is not supported.");
  EXPECT_KILN_ERROR(b - b,
                    "Subtraction, the `-` operator, with two bool tensors is not supported.");
  EXPECT_KILN_ERROR(
      kiln::add(l, l, 1.5),
      "For integral input tensors, argument alpha must not be a floating point number.");
  EXPECT_KILN_ERROR(kiln::rand({2}, kiln::kLong),
                    "\"check_uniform_bounds\" not implemented for 'Long'");
  EXPECT_KILN_ERROR(kiln::randint(5, 5, {2}),
                    "random_ expects 'from' to be less than 'to', but got from=5 >= to=5");
  EXPECT_KILN_ERROR(kiln::zeros({2, -1}),
                    "Trying to create tensor with negative dimension -1: [2, -1]");
  EXPECT_KILN_ERROR(kiln::clamp(kiln::rand({2}), std::nullopt, std::nullopt),
                    "At least one of 'min' or 'max' must not be None");
  EXPECT_KILN_ERROR(kiln::max(kiln::zeros({0})),
                    "max(): Expected reduction dim to be specified for input.numel() == 0.");
}

// PyTorch has no bool kernels for floor_divide, remainder and fmod, and raises on an integer
// division by zero; a divisor that is a number is checked while recording.
TEST(Errors, IntegerDivisionByZeroAndBoolDivision) {
  Tensor l = kiln::tensor({1, 2});
  EXPECT_KILN_ERROR(l.floor_divide(0), "ZeroDivisionError");
  EXPECT_KILN_ERROR(l % 0, "ZeroDivisionError");
  EXPECT_KILN_ERROR(kiln::fmod(l, false), "ZeroDivisionError");
  EXPECT_KILN_ERROR(l.remainder_(0), "ZeroDivisionError");
  Tensor b = kiln::tensor({true, false});
  EXPECT_KILN_ERROR(kiln::floor_divide(b, b), "\"div_floor_cpu\" not implemented for 'Bool'");
  EXPECT_KILN_ERROR(b % b, "\"remainder_cpu\" not implemented for 'Bool'");
  EXPECT_KILN_ERROR(b.fmod(true), "\"fmod_cpu\" not implemented for 'Bool'");
}

TEST(Errors, CatStack) {
  EXPECT_KILN_ERROR(kiln::cat({kiln::rand({2, 3}), kiln::rand({2, 4})}),
                    "Sizes of tensors must match except in dimension 0. Expected size 3 but got "
                    "size 4 for tensor number 1 in the list.");
  EXPECT_KILN_ERROR(kiln::cat({kiln::rand({2, 3}), kiln::rand({3})}),
                    "Tensors must have same number of dimensions: got 2 and 1");
  EXPECT_KILN_ERROR(kiln::stack({kiln::rand({2}), kiln::rand({3})}),
                    "stack expects each tensor to be equal size, but got [2] at entry 0 and [3] "
                    "at entry 1");
  EXPECT_KILN_ERROR(kiln::cat({}), "expected a non-empty list of Tensors");
}

// -------------------------------------------------------------------------------------- CUDA

TEST(Errors, CudaIsRefusedClearly) {
  if (kiln::cuda::is_available()) GTEST_SKIP() << "a CUDA device is available";
  EXPECT_EQ(kiln::cuda::device_count(), 0);
  Tensor x = kiln::rand({2});
  EXPECT_KILN_ERROR(x.to(kiln::Device(kiln::kCUDA)), "CUDA");
  EXPECT_KILN_ERROR(x.to(kiln::Device("cuda")), "not supported yet");
  EXPECT_KILN_ERROR(x.to(kiln::Device("cuda:0"), kiln::kDouble), "not supported yet");
  EXPECT_KILN_ERROR(x.to(kiln::device(kiln::kCUDA)), "not supported yet");
  // libtorch's spellings compile (each names the TensorOptions overload or to(Device, dtype)).
  EXPECT_KILN_ERROR(x.to(kiln::kCUDA), "not supported yet");
  EXPECT_KILN_ERROR(x.to({kiln::kCUDA, 0}), "not supported yet");
  EXPECT_KILN_ERROR(x.to("cuda:0"), "not supported yet");
  EXPECT_KILN_ERROR(x.to(kiln::kCUDA, kiln::kDouble), "not supported yet");
  EXPECT_KILN_ERROR(x.to(kiln::kCUDA, /*non_blocking=*/true, /*copy=*/true), "not supported yet");
  EXPECT_KILN_ERROR(kiln::ones({2}, kiln::device(kiln::kCUDA)), "not supported yet");
  EXPECT_KILN_ERROR(kiln::ones_like(x, kiln::Device("cuda")), "not supported yet");
  EXPECT_KILN_ERROR(kiln::tensor({1.0}, kiln::device(kiln::kCUDA)), "not supported yet");
  EXPECT_FALSE(x.is_cuda());
  EXPECT_TRUE(x.is_lazy());
  EXPECT_KILN_ERROR(kiln::Device("gpu"), "");
}

}  // namespace
