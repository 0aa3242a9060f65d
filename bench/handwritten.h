#pragma once
// Hand-written C++ loops: the machine-bound baselines of the benchmarks (compiled -O3
// -march=native). Each takes a thread count and divides its outer loop among that many OpenMP
// threads, as the engine divides its kernels.
#include <cstddef>
#include <cstdint>

namespace kiln_bench {

/// out[i] = tanh((x[i] + y[i]) * 0.5) + exp(-(x[i] * x[i])) * 0.25, with libm's tanhf/expf.
void chain(const float* x, const float* y, float* out, size_t n, int threads = 1);
/// The same loop compiled with -ffast-math (vectorised through glibc's libmvec).
void chain_fast_math(const float* x, const float* y, float* out, size_t n, int threads = 1);
/// The elementwise functions of BM_UnaryMath, as libm computes them (scalar calls, IEEE).
enum class UnaryFn { Exp, Log, Tanh, Sigmoid, Sin, Cos, Pow };
/// out[i] = fn(x[i]) (pow: x[i] raised to y[i]) with libm's float functions.
void unary(UnaryFn fn, const float* x, const float* y, float* out, size_t n);
/// The STREAM triad a[i] = b[i] + s * c[i]: moves the same bytes as the chain (2 reads, 1 write).
void triad(float* a, const float* b, const float* c, float s, size_t n, int threads = 1);

/// Softmax of each row of a rows x cols matrix, fused by hand: per row, the maximum, then the
/// exponentials and their sum in one pass, then the scaling (-ffast-math, libmvec's expf).
void softmax_rows(const float* x, float* out, int64_t rows, int64_t cols, int threads);
/// Layer normalisation of each row (eps 1e-5, elementwise weight w and bias b) followed by the
/// tanh approximation of GELU, fused by hand: per row, the mean and the variance in one pass,
/// then one pass that normalises and applies GELU (-ffast-math, libmvec's tanhf).
void layernorm_gelu_rows(const float* x, const float* w, const float* b, float* out, int64_t rows,
                         int64_t cols, int threads);

}  // namespace kiln_bench
