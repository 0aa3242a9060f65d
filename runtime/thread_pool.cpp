// The host thread pool (see thread_pool.h). One job at a time: the caller publishes it, wakes the
// workers and claims chunks from a shared counter like them, so that a worker that a noisy
// machine delays simply takes fewer chunks. Workers spin briefly after a job before sleeping,
// because kernels of one materialisation follow each other within microseconds.
#include "runtime/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kiln/error.h"

namespace kiln::runtime {
namespace {

std::atomic<int64_t> min_points_per_thread{32768};

int defaultThreads() {
  if (const char* env = std::getenv("KILN_NUM_THREADS")) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 4096) return static_cast<int>(n);
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

struct Job {
  RangeFn fn = nullptr;
  void* context = nullptr;
  int64_t total = 0;
  int64_t chunks = 0;
  std::atomic<int64_t> next{0};

  // Chunk c is [c * total / chunks, (c + 1) * total / chunks): sizes differ by at most one.
  void runChunks() {
    for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
      fn(context, bound(c), bound(c + 1));
    }
  }
  int64_t bound(int64_t c) const {
    return static_cast<int64_t>(static_cast<__int128>(total) * c / chunks);
  }
};

class Pool {
 public:
  int size() const { return size_.load(std::memory_order_relaxed); }

  void resize(int n) {
    std::lock_guard<std::mutex> run(run_mu_);
    stopWorkers();
    size_.store(n, std::memory_order_relaxed);
  }

  void run(int64_t total, int64_t min_chunk, RangeFn fn, void* context) {
    const int threads = size();
    const int64_t max_chunks = total / std::max<int64_t>(1, min_chunk);
    if (threads <= 1 || max_chunks <= 1) return fn(context, 0, total);
    std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
    if (!run.owns_lock()) return fn(context, 0, total);
    startWorkers(threads - 1);

    // A few chunks per thread balance the load when another process holds a core.
    Job job;
    job.fn = fn;
    job.context = context;
    job.total = total;
    job.chunks = std::min<int64_t>(max_chunks, int64_t{threads} * 4);
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    job.runChunks();
    // Closing the job under the lock stops late workers from joining; the ones that joined
    // finish their claimed chunks before they leave.
    std::unique_lock<std::mutex> lock(mu_);
    job_ = nullptr;
    done_.wait(lock, [&] { return joined_ == 0; });
  }

 private:
  void startWorkers(int n) {
    if (static_cast<int>(workers_.size()) == n) return;
    stopWorkers();
    stop_ = false;
    for (int i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  void work() {
    uint64_t seen = generation_.load(std::memory_order_acquire);
    for (;;) {
      // Spin a little for the next job before sleeping on the condition variable.
      for (int spin = 0; spin < 20000 && generation_.load(std::memory_order_acquire) == seen;
           ++spin) {
        __builtin_ia32_pause();
      }
      Job* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock,
                   [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
        if (stop_) return;
        seen = generation_.load(std::memory_order_relaxed);
        job = job_;
        if (job == nullptr) continue;  // the job closed before this worker woke
        ++joined_;
      }
      job->runChunks();
      {
        std::lock_guard<std::mutex> lock(mu_);
        --joined_;
      }
      done_.notify_one();
    }
  }

  std::atomic<int> size_{defaultThreads()};
  std::mutex run_mu_;  // held by the one running job
  std::mutex mu_;      // guards job_, joined_, stop_
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};
  Job* job_ = nullptr;
  int joined_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// Kept until exit: kernels may run from static destructors.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

}  // namespace

int numThreads() {
  return pool().size();
}

void setNumThreads(int n) {
  if (n < 1)
    throw Error("set_num_threads: Expected positive number of threads, got " + std::to_string(n));
  pool().resize(n);
}

int64_t minPointsPerThread() {
  return min_points_per_thread.load(std::memory_order_relaxed);
}

void setMinPointsPerThread(int64_t points) {
  min_points_per_thread.store(std::max<int64_t>(1, points), std::memory_order_relaxed);
}

void parallelFor(int64_t total, int64_t min_chunk, RangeFn fn, void* context) {
  if (total <= 0) return;
  pool().run(total, min_chunk, fn, context);
}

}  // namespace kiln::runtime
