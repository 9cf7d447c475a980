// core/thread_pool.h: a persistent pool of worker threads for data-parallel loops.
// parallel_for() blocks the caller, which also works, so a pool of n threads uses n-1 workers.
// Hand-offs spin briefly on atomics before sleeping on a condition variable, so the hundreds of
// loops of one model step cost microseconds, not futex round trips, and an idle pool sleeps.
// Depends on nothing but the standard library. No allocation per call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "core/function_ref.h"

namespace sarathi::core {

class ThreadPool {
 public:
  /// A pool that runs loops on num_threads threads in total (the caller included); >= 1.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Calls fn(thread_idx, begin, end) over [0, n) split into contiguous ranges, one per thread,
  /// each a multiple of `grain` (except the last). Returns when all ranges are done.
  /// Not reentrant: fn must not call parallel_for on the same pool.
  void parallel_for(int64_t n, int64_t grain,
                    FunctionRef<void(int thread_idx, int64_t begin, int64_t end)> fn);

  /// Calls fn(thread_idx, num_threads) once on every thread.
  void run_on_all(FunctionRef<void(int thread_idx, int num_threads)> fn);

 private:
  void worker_loop(int thread_idx);

  std::vector<std::thread> workers_;
  std::mutex mu_;  // guards the sleeping side of the hand-offs
  std::condition_variable cv_start_;
  std::condition_variable cv_done_;
  const FunctionRef<void(int, int)>* job_ = nullptr;  // published by generation_ (release)
  std::atomic<uint64_t> generation_{0};               // bumped once per job
  std::atomic<int> pending_{0};                       // workers still running the current job
  std::atomic<bool> stop_{false};
};

/// Number of threads to use by default: the hardware concurrency (at least 1).
int default_num_threads();

}  // namespace sarathi::core
