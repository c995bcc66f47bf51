#include "trusty/core/kernels/parallel.hpp"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace trusty::core::kernels {

namespace {
// One persistent worker, started on first use.
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
    {
      std::lock_guard<std::mutex> l(m_);
      job_ = job;
      done_ = false;
      error_ = nullptr;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> l(m_);
    done_cv_.wait(l, [this] { return done_; });
    if (error_) std::rethrow_exception(error_);
  }
  bool on_worker() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void loop() {
    std::unique_lock<std::mutex> l(m_);
    for (;;) {
      cv_.wait(l, [this] { return stop_ || job_ != nullptr; });
      if (stop_) return;
      const std::function<void()>* job = job_;
      job_ = nullptr;
      l.unlock();
      std::exception_ptr err;
      try {
        (*job)();
      } catch (...) {
        err = std::current_exception();
      }
      l.lock();
      error_ = err;
      done_ = true;
      done_cv_.notify_all();
    }
  }
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void()>* job_ = nullptr;
  bool done_ = true, stop_ = false;
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
