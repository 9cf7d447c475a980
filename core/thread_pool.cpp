#include "core/thread_pool.h"

#include <algorithm>

namespace sarathi::core {

namespace {

// Spin iterations (a few microseconds) before a thread sleeps on the condition variable: enough
// to catch the next loop of a step without a futex round trip. Longer spins measured slower on
// a shared 2-core host (a 4096-iteration spin doubled the decode step under load), because a
// spinning thread keeps the thread it waits for off the CPU. Every kYieldEvery-th iteration
// yields the core for the same reason.
constexpr int kSpinIterations = 256;
constexpr int kYieldEvery = 64;

inline void cpu_relax(int iteration) {
  if (iteration % kYieldEvery == kYieldEvery - 1) {
    std::this_thread::yield();
    return;
  }
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

}  // namespace

int default_num_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int num_threads) {
  const int n = std::max(1, num_threads);
  workers_.reserve(static_cast<size_t>(n - 1));
  for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  cv_start_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int thread_idx) {
  uint64_t seen = 0;
  for (;;) {
    bool ready = false;
    for (int i = 0; i < kSpinIterations; ++i) {
      if (generation_.load(std::memory_order_acquire) != seen ||
          stop_.load(std::memory_order_acquire)) {
        ready = true;
        break;
      }
      cpu_relax(i);
    }
    if (!ready) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_start_.wait(lock, [&] {
        return stop_.load(std::memory_order_acquire) ||
               generation_.load(std::memory_order_acquire) != seen;
      });
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    (*job_)(thread_idx, num_threads());
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // pairs with the caller's check-then-sleep
      cv_done_.notify_one();
    }
  }
}

void ThreadPool::run_on_all(FunctionRef<void(int, int)> fn) {
  if (workers_.empty()) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);  // a worker about to sleep sees the bump or the notify
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_start_.notify_all();
  fn(0, num_threads());
  for (int i = 0; i < kSpinIterations; ++i) {
    if (pending_.load(std::memory_order_acquire) == 0) return;
    cpu_relax(i);
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              FunctionRef<void(int, int64_t, int64_t)> fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t num_grains = (n + grain - 1) / grain;
  const int nt = static_cast<int>(std::min<int64_t>(num_threads(), num_grains));
  if (nt <= 1) {
    fn(0, 0, n);
    return;
  }
  run_on_all([&](int idx, int) {
    if (idx >= nt) return;
    const int64_t g0 = num_grains * idx / nt;
    const int64_t g1 = num_grains * (idx + 1) / nt;
    const int64_t begin = g0 * grain;
    const int64_t end = std::min(n, g1 * grain);
    if (begin < end) fn(idx, begin, end);
  });
}

}  // namespace sarathi::core
