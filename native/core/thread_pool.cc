#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace mr {

namespace {

struct Job {
  const std::function<void(std::size_t)>* fn;
  std::size_t n;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::atomic<std::ptrdiff_t> seats{0};  // workers that may still join (the caller needs none)
  std::mutex m;
  std::condition_variable cv;
  std::exception_ptr error;

  // Runs items until none is left; returns after the last one this thread took.
  void work() {
    for (;;) {
      const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      try {
        (*fn)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!error) error = std::current_exception();
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
        std::lock_guard<std::mutex> lock(m);
        cv.notify_all();
      }
    }
  }
};

class Pool {
 public:
  explicit Pool(std::size_t threads) : threads_(threads), limit_(threads) {
    for (std::size_t t = 1; t < threads; ++t) std::thread([this] { loop(); }).detach();
  }

  std::size_t threads() const { return limit_.load(std::memory_order_relaxed); }
  void limit(std::size_t n) { limit_.store(n < 1 ? 1 : n > threads_ ? threads_ : n, std::memory_order_relaxed); }

  void run(std::size_t n, const std::function<void(std::size_t)>& fn) {
    const std::size_t helpers = std::min(n, threads()) - 1;
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    job->seats.store(static_cast<std::ptrdiff_t>(helpers), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(m_);
      queue_.push_back(job);
    }
    if (helpers >= threads_ - 1) cv_.notify_all();
    else for (std::size_t i = 0; i < helpers; ++i) cv_.notify_one();
    job->work();
    retire(job);
    {
      std::unique_lock<std::mutex> lock(job->m);
      job->cv.wait(lock, [&] { return job->done.load(std::memory_order_acquire) == job->n; });
    }
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  void retire(const std::shared_ptr<Job>& job) {
    std::lock_guard<std::mutex> lock(m_);
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (*it == job) {
        queue_.erase(it);
        break;
      }
    }
  }

  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        job = queue_.front();
      }
      // No seat left: the job already has all the threads it asked for.
      if (job->seats.fetch_sub(1, std::memory_order_relaxed) > 0) job->work();
      // All items are taken: drop it from the queue so idle workers sleep instead of spinning.
      retire(job);
    }
  }

  const std::size_t threads_;
  std::atomic<std::size_t> limit_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
};

std::size_t configured_threads() {
  if (const char* env = std::getenv("MIXED_REWARD_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v > 0) return static_cast<std::size_t>(v > 1024 ? 1024 : v);
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : hc;
}

// Never destroyed: the workers are detached and may still be parked at exit.
Pool& pool() {
  static Pool* p = new Pool(configured_threads());
  return *p;
}

}  // namespace

std::size_t pool_threads() { return pool().threads(); }

void set_pool_threads(std::size_t n) { pool().limit(n); }

void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) {
  if (n == 0) return;
  Pool& p = pool();
  if (n == 1 || p.threads() == 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  p.run(n, fn);
}

}  // namespace mr
