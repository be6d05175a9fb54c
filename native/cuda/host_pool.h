// A small persistent thread pool for the host side of a batch (planning, finishing, staging).
// Results never depend on the pool: callers give each task its own output slots, so the same
// input gives the same bytes on one thread or sixteen.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>

namespace mrcuda {

class HostPool {
 public:
  // Threads that run a task, the caller included. MIXED_REWARD_HOST_THREADS overrides the count;
  // more than 16 buys nothing on a batch of a few hundred thousand tokens.
  static HostPool& get() {
    static HostPool* pool = new HostPool(defaultThreads());  // leaked: no join at process exit
    return *pool;
  }
  int threads() const { return limit_.load(std::memory_order_relaxed); }
  // Lowers (or restores, up to the pool's size) how many threads later runs use; for benchmarks.
  void setThreads(int n) { limit_.store(n < 1 ? 1 : n > total_ ? total_ : n, std::memory_order_relaxed); }

  // Calls fn(i) for every i in [0, count) and returns when all are done. The caller takes part;
  // when another caller holds the pool, or one thread is enough, everything runs on the caller.
  // The first exception a task throws is rethrown here after the others finish.
  template <typename F>
  void run(int count, F&& fn) {
    const int want = std::min(threads(), count);
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (want <= 1 || !busy.owns_lock()) {
      for (int i = 0; i < count; i++) fn(i);
      return;
    }
    Job job;
    job.count = count;
    using Fn = std::remove_reference_t<F>;
    job.ctx = &fn;
    job.call = [](const void* ctx, int i) { (*static_cast<const Fn*>(ctx))(i); };
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &job;
      helpers_ = want - 1;
      pending_ = want - 1;
      generation_++;
    }
    wake_.notify_all();
    work(job);
    {
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait(lock, [&] { return pending_ == 0; });
      job_ = nullptr;
    }
    if (job.error) std::rethrow_exception(job.error);
  }

 private:
  struct Job {
    int count = 0;
    std::atomic<int> next{0};
    const void* ctx = nullptr;  // the task, called through its const operator()
    void (*call)(const void*, int) = nullptr;
    std::mutex errMu;
    std::exception_ptr error;
  };

  static int defaultThreads() {
    int n = static_cast<int>(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("MIXED_REWARD_HOST_THREADS")) n = std::atoi(env);
    return n < 1 ? 1 : n > 16 ? 16 : n;
  }

  explicit HostPool(int n) : total_(n), limit_(n) {
    for (int i = 1; i < n; i++) std::thread([this, i] { loop(i); }).detach();
  }

  static void work(Job& job) {
    for (int i; (i = job.next.fetch_add(1, std::memory_order_relaxed)) < job.count;) {
      try {
        job.call(job.ctx, i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(job.errMu);
        if (!job.error) job.error = std::current_exception();
      }
    }
  }

  // Worker `id` (1-based) joins a run when the run asked for more than id - 1 helpers.
  void loop(int id) {
    unsigned seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (id > helpers_) continue;
      Job* job = job_;
      lock.unlock();
      work(*job);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  const int total_;
  std::atomic<int> limit_;
  std::mutex busy_;  // one run at a time
  std::mutex mu_;
  std::condition_variable wake_, done_;
  unsigned generation_ = 0;
  int helpers_ = 0, pending_ = 0;
  Job* job_ = nullptr;
};

}  // namespace mrcuda
