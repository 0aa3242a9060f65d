#pragma once
// Hand-written C++ loops: the machine-bound baselines of the benchmarks (compiled -O3
// -march=native).
#include <cstddef>

namespace kiln_bench {

/// out[i] = tanh((x[i] + y[i]) * 0.5) + exp(-(x[i] * x[i])) * 0.25, with libm's tanhf/expf.
void chain(const float* x, const float* y, float* out, size_t n);
/// The same loop compiled with -ffast-math (vectorised through glibc's libmvec).
void chain_fast_math(const float* x, const float* y, float* out, size_t n);
/// The elementwise functions of BM_UnaryMath, as libm computes them (scalar calls, IEEE).
enum class UnaryFn { Exp, Log, Tanh, Sigmoid, Sin, Cos, Pow };
/// out[i] = fn(x[i]) (pow: x[i] raised to y[i]) with libm's float functions.
void unary(UnaryFn fn, const float* x, const float* y, float* out, size_t n);
/// The STREAM triad a[i] = b[i] + s * c[i]: moves the same bytes as the chain (2 reads, 1 write).
void triad(float* a, const float* b, const float* c, float s, size_t n);

}  // namespace kiln_bench
