#include "trusty/core/kernels/parallel.hpp"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace trusty::core::kernels {

namespace {
// One persistent worker, started on first use. Hand-off through an atomic: the worker
// spins briefly after each job (a wake-up costs ~1 µs instead of a condition-variable
// round trip) and then sleeps on the condition variable, so an idle process uses no CPU.
class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void run(const std::function<void()>* job) {
    error_ = nullptr;
    // seq_cst on both sides of the job_/sleeping_ pair (a Dekker hand-off): with acquire/
    // release alone each side could miss the other's store and the wake-up be lost.
    job_.store(job, std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> l(m_);
      cv_.notify_all();
    }
  }
  void wait() {
    while (job_.load(std::memory_order_acquire) != nullptr) spin_pause();
    if (error_) std::rethrow_exception(error_);
  }
  bool on_worker() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  static void spin_pause() {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  void loop() {
    for (;;) {
      const std::function<void()>* job = nullptr;
      for (int i = 0; i < 20000 && !(job = job_.load(std::memory_order_acquire)); ++i) spin_pause();  // ~50-100 µs
      if (!job) {
        std::unique_lock<std::mutex> l(m_);
        sleeping_.store(true, std::memory_order_seq_cst);
        cv_.wait(l, [&] { return stop_ || (job = job_.load(std::memory_order_seq_cst)) != nullptr; });
        sleeping_.store(false, std::memory_order_release);
        if (stop_) return;
      }
      try {
        (*job)();
      } catch (...) {
        error_ = std::current_exception();
      }
      job_.store(nullptr, std::memory_order_release);
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::atomic<const std::function<void()>*> job_{nullptr};
  std::atomic<bool> sleeping_{false};
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

Worker& worker() {
  static Worker w;
  return w;
}
std::mutex g_busy;  // one fork-join at a time (other callers run serially)
int g_threads = 1;
}  // namespace

int parallel_threads() { return g_threads; }
void set_parallel_threads(int n) { g_threads = n < 1 ? 1 : n; }

void fork_join(const std::function<void()>& a, const std::function<void()>& b) {
  Worker& w = worker();
  std::unique_lock<std::mutex> busy(g_busy, std::try_to_lock);
  if (!busy.owns_lock() || w.on_worker()) {  // nested or concurrent: serial
    a();
    b();
    return;
  }
  w.run(&b);
  std::exception_ptr err;
  try {
    a();
  } catch (...) {
    err = std::current_exception();
  }
  w.wait();
  if (err) std::rethrow_exception(err);
}

}  // namespace trusty::core::kernels
