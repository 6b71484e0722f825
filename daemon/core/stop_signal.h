// A stop request shared by every thread of a run. Waits are interruptible, so a
// SIGTERM never sits behind a 10 s rate-limit wait or a poll interval.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace ldx {

class StopSignal {
 public:
  void request_stop() {
    {
      std::lock_guard lock(mu_);
      stopped_.store(true);
    }
    cv_.notify_all();
  }
  [[nodiscard]] bool stop_requested() const { return stopped_.load(); }

  // Sleeps for `d` or until stop is requested. Returns false when stopped.
  template <typename Rep, typename Period>
  bool sleep_for(std::chrono::duration<Rep, Period> d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [this] { return stopped_.load(); });
  }

 private:
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace ldx
