// Kernels that store several values (lib/sched kernelGroups): sibling reductions over the same
// rows, and plain values of one shape that read the same memory, computed by one kernel with a
// store each. Values are checked against hand-computed sums and the double-precision reference
// interpreter; kernel counts against the number of loop nests the graph needs.
#include <gtest/gtest.h>
#include <kiln/kiln.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "lib/frontend/tensor_impl.h"

namespace {

using kiln::Tensor;

Tensor realized(std::vector<int64_t> shape, kiln::ScalarType dtype = kiln::kFloat) {
  Tensor t = kiln::randn(shape, kiln::TensorOptions(dtype));
  t.eval();
  return t;
}

int64_t kernelsToEval(const std::vector<Tensor>& outputs) {
  const int64_t before = kiln::stats().kernels_run;
  kiln::eval(outputs);
  return kiln::stats().kernels_run - before;
}

void expectNear(const std::vector<double>& got, const std::vector<double>& want, double tolerance,
                const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tolerance * std::max(1.0, std::fabs(want[i])))
        << what << " element " << i;
  }
}

// SGD with momentum 0.9 and lr 0.1 by hand: buf = 0.9 buf + grad, then w -= 0.1 buf. Checks that
// buf and w (as the kernel left them) hold those values.
void expectMomentumStep(const Tensor& buf, const Tensor& w, const std::vector<double>& buf0,
                        const std::vector<double>& w0, const std::vector<double>& grad,
                        double tolerance) {
  std::vector<double> want_b(buf0.size()), want_w(w0.size());
  for (size_t i = 0; i < buf0.size(); ++i) {
    want_b[i] = 0.9 * buf0[i] + grad[i];
    want_w[i] = w0[i] - 0.1 * want_b[i];
  }
  expectNear(kiln::detail::toDoubles(buf), want_b, tolerance, "buf");
  expectNear(kiln::detail::toDoubles(w), want_w, tolerance, "w");
}

TEST(KernelGroups, SiblingColumnSumsShareOneKernel) {
  // A layer norm's weight and bias gradients: sums over the batch of g * xhat and of g.
  kiln::manual_seed(21);
  const int64_t rows = 37, cols = 19;
  Tensor g = realized({rows, cols}), xhat = realized({rows, cols});
  Tensor dweight = (g * xhat).sum(0), dbias = g.sum(0);
  const std::vector<double> gv = kiln::detail::toDoubles(g);
  const std::vector<double> xv = kiln::detail::toDoubles(xhat);
  std::vector<double> want_w(cols, 0.0), want_b(cols, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      want_w[c] += gv[r * cols + c] * xv[r * cols + c];
      want_b[c] += gv[r * cols + c];
    }
  }
  EXPECT_EQ(kernelsToEval({dweight, dbias}), 1);
  expectNear(kiln::detail::toDoubles(dweight), want_w, 1e-5, "dweight");
  expectNear(kiln::detail::toDoubles(dbias), want_b, 1e-5, "dbias");
}

TEST(KernelGroups, SumMaxAndMinOfRowsShareOneKernel) {
  // Different reduce kinds over the same rows: sum, max and min of each row.
  kiln::manual_seed(22);
  Tensor x = realized({11, 300});
  Tensor s = x.sum(1), hi = x.amax(1), lo = x.amin(1);
  const std::vector<double> xv = kiln::detail::toDoubles(x);
  std::vector<double> want_s(11, 0.0), want_hi(11, -INFINITY), want_lo(11, INFINITY);
  for (int64_t r = 0; r < 11; ++r) {
    for (int64_t c = 0; c < 300; ++c) {
      const double v = xv[r * 300 + c];
      want_s[r] += v;
      want_hi[r] = std::max(want_hi[r], v);
      want_lo[r] = std::min(want_lo[r], v);
    }
  }
  EXPECT_EQ(kernelsToEval({s, hi, lo}), 1);
  expectNear(kiln::detail::toDoubles(s), want_s, 1e-5, "sum");
  expectNear(kiln::detail::toDoubles(hi), want_hi, 0, "amax");
  expectNear(kiln::detail::toDoubles(lo), want_lo, 0, "amin");
}

TEST(KernelGroups, MomentumAndParameterUpdatesShareOneKernel) {
  // SGD with momentum, in place: buf = 0.9 buf + g; w -= 0.1 buf. The update of w reads buf's
  // new value at its own point, and buf's old value is read at the element the kernel overwrites.
  kiln::manual_seed(23);
  Tensor w = realized({50, 33}), buf = realized({50, 33}), g = realized({50, 33});
  const std::vector<double> w0 = kiln::detail::toDoubles(w);
  const std::vector<double> b0 = kiln::detail::toDoubles(buf);
  const std::vector<double> gv = kiln::detail::toDoubles(g);
  buf.mul_(0.9).add_(g);
  w.sub_(buf * 0.1);
  EXPECT_EQ(kernelsToEval({buf, w}), 1);
  expectMomentumStep(buf, w, b0, w0, gv, 1e-6);
}

TEST(KernelGroups, TheGradientProductAndTheUpdatesItFeedsShareOneKernel) {
  // The weight gradient g^T x is an output (the parameter's .grad) and feeds the momentum and
  // parameter updates: one gemm whose epilogue stores all three.
  kiln::manual_seed(24);
  Tensor g = realized({64, 24}), x = realized({64, 36});
  Tensor w = realized({24, 36}), buf = realized({24, 36});
  const std::vector<double> product = kiln::detail::referenceValues(g.t().mm(x));
  const std::vector<double> w0 = kiln::detail::toDoubles(w);
  const std::vector<double> b0 = kiln::detail::toDoubles(buf);
  Tensor grad = g.t().mm(x);
  buf.mul_(0.9).add_(grad);
  w.sub_(buf * 0.1);
  EXPECT_EQ(kernelsToEval({grad, buf, w}), 1);
  expectNear(kiln::detail::toDoubles(grad), product, 1e-4, "grad");
  expectMomentumStep(buf, w, b0, w0, product, 1e-4);
}

TEST(KernelGroups, AValueReadElsewhereThanItsOwnPointStaysApart) {
  // b reads a transposed: a's value at another point, which one kernel cannot have computed yet.
  kiln::manual_seed(25);
  Tensor x = realized({16, 16});
  Tensor a = x * 2 + 1;
  Tensor b = a.t() * 3 + x;
  EXPECT_EQ(kernelsToEval({a, b}), 2);
  const std::vector<double> xv = kiln::detail::toDoubles(x);
  std::vector<double> want_a(256), want_b(256);
  for (int64_t r = 0; r < 16; ++r) {
    for (int64_t c = 0; c < 16; ++c) {
      want_a[r * 16 + c] = xv[r * 16 + c] * 2 + 1;
      want_b[r * 16 + c] = (xv[c * 16 + r] * 2 + 1) * 3 + xv[r * 16 + c];
    }
  }
  expectNear(kiln::detail::toDoubles(a), want_a, 1e-6, "a");
  expectNear(kiln::detail::toDoubles(b), want_b, 1e-6, "b");
}

TEST(KernelGroups, ReductionsThatReadEachOtherStayApart) {
  // The second sum reads the first: two kernels, in order.
  kiln::manual_seed(26);
  Tensor x = realized({8, 20});
  Tensor total = x.sum(0);
  Tensor centred = (x - total / 8).sum(0);
  Tensor plain = x.abs().sum(0);
  kiln::eval({total, centred, plain});
  expectNear(kiln::detail::toDoubles(centred), kiln::detail::referenceValues(centred), 1e-5,
             "centred");
  expectNear(kiln::detail::toDoubles(plain), kiln::detail::referenceValues(plain), 1e-5, "abs");
  expectNear(kiln::detail::toDoubles(total), kiln::detail::referenceValues(total), 1e-5, "sum");
}

TEST(KernelGroups, AnInPlaceUpdateBesideAReadOfTheOldValueElsewhere) {
  // y reads x transposed while x is updated in place in a kernel of the same shape: y must see
  // x's old values (the scheduler gives the kernel a copy to read).
  kiln::manual_seed(27);
  Tensor x = realized({12, 12}), z = realized({12, 12});
  const std::vector<double> x0 = kiln::detail::toDoubles(x);
  const std::vector<double> zv = kiln::detail::toDoubles(z);
  Tensor y = x.t() + z;
  x.add_(z);
  kiln::eval({y, x});
  std::vector<double> want_x(144), want_y(144);
  for (int64_t r = 0; r < 12; ++r) {
    for (int64_t c = 0; c < 12; ++c) {
      want_x[r * 12 + c] = x0[r * 12 + c] + zv[r * 12 + c];
      want_y[r * 12 + c] = x0[c * 12 + r] + zv[r * 12 + c];
    }
  }
  expectNear(kiln::detail::toDoubles(x), want_x, 1e-6, "x");
  expectNear(kiln::detail::toDoubles(y), want_y, 1e-6, "y");
}

TEST(KernelGroups, LayerNormBackwardMatchesTheReference) {
  // Forward and backward of a layer norm with affine parameters: the sibling reductions of its
  // backward pass share kernels; gradients checked against the reference interpreter.
  kiln::manual_seed(28);
  Tensor x = kiln::randn({24, 40}).requires_grad_(true);
  Tensor gamma = kiln::randn({40}).requires_grad_(true);
  Tensor beta = kiln::randn({40}).requires_grad_(true);
  Tensor mean = x.mean({1}, true);
  Tensor centred = x - mean;
  Tensor var = (centred * centred).mean({1}, true);
  Tensor y = centred / (var + 1e-5).sqrt() * gamma + beta;
  (y * y).sum().backward();
  for (const Tensor& t : {x.grad(), gamma.grad(), beta.grad()}) {
    expectNear(kiln::detail::toDoubles(t), kiln::detail::referenceValues(t), 2e-4, "grad");
  }
}

}  // namespace
