#include "runtime/kernel_cache.h"

#include <absl/container/flat_hash_map.h>
#include <absl/strings/str_cat.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "lib/core/dump.h"
#include "runtime/stats.h"

namespace kiln::runtime {

Counters& counters() {
  static Counters c;
  return c;
}

namespace {
struct Cache {
  std::mutex mu;
  absl::flat_hash_map<std::string, std::shared_ptr<const CompiledKernel>> kernels;
};
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}
}  // namespace

std::shared_ptr<const CompiledKernel> cachedKernel(Backend& backend, const codegen::Kernel& kernel,
                                                   const std::string& dump_dir) {
  std::string key = absl::StrCat(backend.target().key(), "\n", kernel.text());
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.kernels.find(key);
  if (it != c.kernels.end()) {
    counters().cache_hits.fetch_add(1);
    return it->second;
  }
  counters().cache_misses.fetch_add(1);
  static std::atomic<int64_t> kernel_seq{0};
  CompileOptions options;
  options.name = absl::StrCat("kiln_kernel_", kernel_seq.fetch_add(1));
  std::string code;
  if (!dump_dir.empty()) options.code_dump = &code;
  auto start = std::chrono::steady_clock::now();
  std::shared_ptr<const CompiledKernel> compiled = backend.compile(kernel, options);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  counters().compile_ns.fetch_add(ns.count());
  counters().kernels_compiled.fetch_add(1);
  if (!dump_dir.empty()) core::writeFile(absl::StrCat(dump_dir, "/", options.name, ".ll"), code);
  c.kernels.emplace(std::move(key), compiled);
  return compiled;
}

void clearKernelCache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.kernels.clear();
}

}  // namespace kiln::runtime
