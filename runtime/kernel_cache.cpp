#include "runtime/kernel_cache.h"

#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <mutex>

#include "runtime/stats.h"

namespace kiln::runtime {

Counters& counters() {
  static Counters c;
  return c;
}

namespace {
struct Cache {
  std::mutex mu;
  absl::flat_hash_map<std::string, KernelFn> kernels;
};
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}
}  // namespace

KernelFn cachedKernel(const std::string& key, const std::function<KernelFn()>& compile) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.kernels.find(key);
  if (it != c.kernels.end()) {
    counters().cache_hits.fetch_add(1);
    return it->second;
  }
  counters().cache_misses.fetch_add(1);
  auto start = std::chrono::steady_clock::now();
  KernelFn fn = compile();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  counters().compile_ns.fetch_add(ns.count());
  counters().kernels_compiled.fetch_add(1);
  c.kernels.emplace(key, fn);
  return fn;
}

void clearKernelCache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.kernels.clear();
}

}  // namespace kiln::runtime
