#include "runtime/kernel_cache.h"

#include <absl/container/flat_hash_map.h>
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <list>
#include <mutex>

#include "lib/core/dump.h"
#include "runtime/stats.h"

namespace kiln::runtime {

Counters& counters() {
  static Counters c;
  return c;
}

namespace {

using KernelPtr = std::shared_ptr<const CompiledKernel>;

// Least recently used first out. The lock is held only to look up and insert: compilations of
// different kernels run at the same time, and a second request for a kernel being compiled waits
// for that compilation.
struct Cache {
  std::mutex mu;
  size_t capacity = kDefaultKernelCacheCapacity;
  std::list<std::string> recent;  // most recently used first
  struct Entry {
    KernelPtr kernel;
    std::list<std::string>::iterator position;
  };
  absl::flat_hash_map<std::string, Entry> kernels;
  absl::flat_hash_map<std::string, std::shared_future<KernelPtr>> compiling;

  void evictBeyondCapacity() {
    while (kernels.size() > capacity) {
      kernels.erase(recent.back());
      recent.pop_back();
    }
  }
};

Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

KernelPtr compileCounted(Backend& backend, const codegen::Kernel& kernel,
                         const std::string& dump_dir) {
  static std::atomic<int64_t> kernel_seq{0};
  CompileOptions options;
  options.name = absl::StrCat("kiln_kernel_", kernel_seq.fetch_add(1));
  std::string code;
  if (!dump_dir.empty()) options.code_dump = &code;
  auto start = std::chrono::steady_clock::now();
  KernelPtr compiled = backend.compile(kernel, options);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  counters().compile_ns.fetch_add(ns.count());
  counters().kernels_compiled.fetch_add(1);
  if (!dump_dir.empty()) core::writeFile(absl::StrCat(dump_dir, "/", options.name, ".ll"), code);
  return compiled;
}

}  // namespace

KernelPtr cachedKernel(Backend& backend, const codegen::Kernel& kernel,
                       const std::string& dump_dir) {
  std::string key = absl::StrCat(backend.target().key(), "\n", kernel.text());
  Cache& c = cache();
  std::promise<KernelPtr> promise;
  {
    std::unique_lock<std::mutex> lock(c.mu);
    if (auto it = c.kernels.find(key); it != c.kernels.end()) {
      c.recent.splice(c.recent.begin(), c.recent, it->second.position);
      counters().cache_hits.fetch_add(1);
      return it->second.kernel;
    }
    if (auto it = c.compiling.find(key); it != c.compiling.end()) {
      std::shared_future<KernelPtr> pending = it->second;
      lock.unlock();
      counters().cache_hits.fetch_add(1);
      return pending.get();
    }
    counters().cache_misses.fetch_add(1);
    c.compiling.emplace(key, promise.get_future().share());
  }
  KernelPtr compiled;
  try {
    compiled = compileCounted(backend, kernel, dump_dir);
  } catch (...) {
    promise.set_exception(std::current_exception());
    std::lock_guard<std::mutex> lock(c.mu);
    c.compiling.erase(key);
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.compiling.erase(key);
    c.recent.push_front(key);
    c.kernels.insert_or_assign(std::move(key), Cache::Entry{compiled, c.recent.begin()});
    c.evictBeyondCapacity();
  }
  promise.set_value(compiled);
  return compiled;
}

void clearKernelCache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.kernels.clear();
  c.recent.clear();
}

size_t kernelCacheCapacity() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.capacity;
}

void setKernelCacheCapacity(size_t kernels) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.capacity = std::max<size_t>(1, kernels);
  c.evictBeyondCapacity();
}

size_t cachedKernelCount() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.kernels.size();
}

}  // namespace kiln::runtime
