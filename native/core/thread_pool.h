// A process-wide pool of worker threads with a parallel-for. Several callers (libuv threads
// running async batches, the JS thread running sync ones) may submit at once: each call queues
// one job, and the caller works on its own job too, so nested or concurrent calls never wait
// on a thread that is waiting on them.
#pragma once

#include <cstddef>
#include <functional>

namespace mr {

// Total threads a parallel_for may use (workers + the calling thread); from MIXED_REWARD_THREADS
// when set to a positive integer, else std::thread::hardware_concurrency(), unless lowered by
// set_pool_threads.
std::size_t pool_threads();

// Caps later parallel_for calls at n threads (clamped to [1, the pool's size]; 1 runs everything
// on the caller). For benchmarks and for tests that compare one thread with many.
void set_pool_threads(std::size_t n);

// Calls fn(i) for every i in [0, n), spread over the pool; returns when all are done. The
// first exception thrown by fn is rethrown here after the other items finished.
void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

}  // namespace mr
