// Compiled with -ffast-math (see CMakeLists.txt): glibc's math.h then declares vector variants of
// expf/tanhf, and GCC vectorises the loops with them.
#include <algorithm>
#include <cmath>

#include "handwritten.h"

namespace kiln_bench {

void chain_fast_math(const float* __restrict x, const float* __restrict y, float* __restrict out,
                     size_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) {
    float a = x[i];
    out[i] = std::tanh((a + y[i]) * 0.5f) + std::exp(-(a * a)) * 0.25f;
  }
}

void softmax_rows(const float* __restrict x, float* __restrict out, int64_t rows, int64_t cols,
                  int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    float m = -INFINITY;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, xr[c]);
    float sum = 0;
    for (int64_t c = 0; c < cols; ++c) {
      o[c] = std::exp(xr[c] - m);
      sum += o[c];
    }
    float inv = 1.0f / sum;
    for (int64_t c = 0; c < cols; ++c) o[c] *= inv;
  }
}

void layernorm_gelu_rows(const float* __restrict x, const float* __restrict w,
                         const float* __restrict b, float* __restrict out, int64_t rows,
                         int64_t cols, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    float sum = 0, sq = 0;
    for (int64_t c = 0; c < cols; ++c) {
      sum += xr[c];
      sq += xr[c] * xr[c];
    }
    float mean = sum / static_cast<float>(cols);
    float var = sq / static_cast<float>(cols) - mean * mean;
    float rstd = 1.0f / std::sqrt(var + 1e-5f);
    for (int64_t c = 0; c < cols; ++c) {
      float y = (xr[c] - mean) * rstd * w[c] + b[c];
      o[c] = 0.5f * y * (1.0f + std::tanh(0.7978845608f * (y + 0.044715f * y * y * y)));
    }
  }
}

}  // namespace kiln_bench
