#pragma once
// Compiled kernels by their complete key, the target and the kernel's text (which says
// everything the code depends on): a kernel is compiled once per process and target while it
// stays in the cache. The cache holds a bounded number of kernels and drops the least recently
// used; a dropped kernel's code is freed once no cached plan uses it either.
#include <cstddef>
#include <memory>
#include <string>

#include "runtime/backend.h"

namespace kiln::runtime {

/// The compiled `kernel` for `backend`'s target, compiled on a miss (once: concurrent misses for
/// one key wait for the first; misses for different keys compile at the same time). Counts hits,
/// misses and compile time in counters(). With a dump directory, a newly compiled kernel's code is
/// written there as NAME.ll.
std::shared_ptr<const CompiledKernel> cachedKernel(Backend& backend, const codegen::Kernel& kernel,
                                                   const std::string& dump_dir = "");
/// Forgets every kernel (later lookups compile again).
void clearKernelCache();

/// The most kernels the cache holds (by default kDefaultKernelCacheCapacity).
inline constexpr size_t kDefaultKernelCacheCapacity = 2048;
size_t kernelCacheCapacity();
/// Sets the bound (at least 1), dropping the least recently used kernels beyond it.
void setKernelCacheCapacity(size_t kernels);
/// How many kernels the cache holds now.
size_t cachedKernelCount();

}  // namespace kiln::runtime
