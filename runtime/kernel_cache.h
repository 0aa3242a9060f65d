#pragma once
// Compiled kernels by their complete key, the target and the kernel's text (which says
// everything the code depends on): each kernel is compiled once per process and target.
#include <memory>
#include <string>

#include "runtime/backend.h"

namespace kiln::runtime {

/// The compiled `kernel` for `backend`'s target, compiled on a miss (once: concurrent misses for
/// one key wait for the first). Counts hits, misses and compile time in counters(). With a dump
/// directory, a newly compiled kernel's code is written there as NAME.ll.
std::shared_ptr<const CompiledKernel> cachedKernel(Backend& backend, const codegen::Kernel& kernel,
                                                   const std::string& dump_dir = "");
/// Forgets every kernel (later lookups compile again).
void clearKernelCache();

}  // namespace kiln::runtime
