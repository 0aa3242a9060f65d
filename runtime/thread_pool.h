#pragma once
// The host's thread pool: runs a range of iterations in chunks on the calling thread and on
// worker threads: a CPU kernel's outer parallel loops, and the compilation of a plan's kernels.
// kiln::set_num_threads sets its size (libtorch's intra-op controls); the default is
// KILN_NUM_THREADS, else the CPUs this process may run on. A kernel's work splits only where
// results do not depend on it (codegen/llvm/cpu_schedule.h), so its results are the same for
// every thread count.
#include <cstdint>

namespace kiln::runtime {

/// The number of threads kernels run on, the calling thread included (at least 1).
int numThreads();
/// Sets the number of threads; kiln::Error unless n >= 1. Takes effect for the next kernel.
void setNumThreads(int n);

/// Below this many points of its index space a kernel runs on the calling thread (default
/// 32768, PyTorch's grain size: waking a worker costs a few microseconds, about what that much
/// work takes). Tests set it to 1 to split even tiny kernels.
int64_t minPointsPerThread();
void setMinPointsPerThread(int64_t points);

/// A function run on a subrange [begin, end) of the iterations.
using RangeFn = void (*)(void* context, int64_t begin, int64_t end);

/// Runs fn(context, b, e) over disjoint subranges covering [0, total), each of at least
/// `min_chunk` iterations (except where total itself is smaller), on up to numThreads()
/// threads, the caller taking part; returns when every subrange has run. Runs the whole range
/// on the calling thread when one thread is set, when a single chunk results, or when the pool
/// is already busy (a call from inside a running range, or from a second application thread).
void parallelFor(int64_t total, int64_t min_chunk, RangeFn fn, void* context);

}  // namespace kiln::runtime
