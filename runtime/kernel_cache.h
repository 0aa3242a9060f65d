#pragma once
// Compiled kernels by their complete structural key: a kernel is compiled once per process.
#include <functional>
#include <string>

#include "runtime/jit.h"

namespace kiln::runtime {

/// Returns the kernel for `key`, calling `compile` (once, under the cache's lock) on a miss.
/// Counts hits and misses in counters().
KernelFn cachedKernel(const std::string& key, const std::function<KernelFn()>& compile);
/// Forgets every kernel (their code stays mapped; later lookups compile again).
void clearKernelCache();

}  // namespace kiln::runtime
