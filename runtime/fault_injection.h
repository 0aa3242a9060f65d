#pragma once
// Fault injection for tests: the Nth next allocation on a device, or the Nth next kernel
// compilation, fails as a real one does (PyTorch's "not enough memory" error, or the JIT's
// error). Tests sweep N over a workload to check that every failure leaves the tensors as they
// were and the engine usable. Compiled into every build: disarmed, a site costs one relaxed
// atomic load.
#include <atomic>
#include <cstdint>

namespace kiln::runtime {

class FaultInjection {
 public:
  enum class Site { Allocation, Compile };

  /// Makes the `n`th next event at `site` fail (n >= 1; 0 disarms the site).
  static void failNth(Site site, int64_t n) { counter(site).store(n, std::memory_order_relaxed); }
  /// Disarms every site.
  static void reset() {
    failNth(Site::Allocation, 0);
    failNth(Site::Compile, 0);
  }
  /// Whether the site is still armed: the failure has not happened yet.
  static bool armed(Site site) { return counter(site).load(std::memory_order_relaxed) > 0; }

  /// Called by the site at each event: true when this event is to fail (which disarms it).
  static bool shouldFail(Site site) {
    std::atomic<int64_t>& c = counter(site);
    int64_t left = c.load(std::memory_order_relaxed);
    // Several threads compile at once: each event takes one step of the countdown.
    while (left > 0) {
      if (c.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) return left == 1;
    }
    return false;
  }

 private:
  static std::atomic<int64_t>& counter(Site site) {
    static std::atomic<int64_t> counters[2];
    return counters[static_cast<int>(site)];
  }
};

}  // namespace kiln::runtime
