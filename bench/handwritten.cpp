#include "handwritten.h"

#include <cmath>

namespace kiln_bench {

void chain(const float* __restrict x, const float* __restrict y, float* __restrict out, size_t n,
           int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) {
    float a = x[i];
    out[i] = std::tanh((a + y[i]) * 0.5f) + std::exp(-(a * a)) * 0.25f;
  }
}

void unary(UnaryFn fn, const float* __restrict x, const float* __restrict y, float* __restrict out,
           size_t n) {
  switch (fn) {
    case UnaryFn::Exp:
      for (size_t i = 0; i < n; ++i) out[i] = std::exp(x[i]);
      break;
    case UnaryFn::Log:
      for (size_t i = 0; i < n; ++i) out[i] = std::log(x[i]);
      break;
    case UnaryFn::Tanh:
      for (size_t i = 0; i < n; ++i) out[i] = std::tanh(x[i]);
      break;
    case UnaryFn::Sigmoid:
      for (size_t i = 0; i < n; ++i) out[i] = 1.0f / (1.0f + std::exp(-x[i]));
      break;
    case UnaryFn::Sin:
      for (size_t i = 0; i < n; ++i) out[i] = std::sin(x[i]);
      break;
    case UnaryFn::Cos:
      for (size_t i = 0; i < n; ++i) out[i] = std::cos(x[i]);
      break;
    case UnaryFn::Pow:
      for (size_t i = 0; i < n; ++i) out[i] = std::pow(x[i], y[i]);
      break;
  }
}

void triad(float* __restrict a, const float* __restrict b, const float* __restrict c, float s,
           size_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace kiln_bench
