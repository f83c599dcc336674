#include "guard/restart_budget.h"

#include <algorithm>

namespace edgetrust::guard {

void RestartBudget::Expire(int64_t now_ms) {
  const int64_t window_ms = int64_t{policy_.window_seconds} * 1000;
  while (!times_.empty() && times_.front() <= now_ms - window_ms) times_.pop_front();
}

size_t RestartBudget::Recent(int64_t now_ms) const {
  const int64_t window_ms = int64_t{policy_.window_seconds} * 1000;
  return static_cast<size_t>(std::count_if(times_.begin(), times_.end(),
                                           [&](int64_t t) { return t > now_ms - window_ms; }));
}

std::optional<int64_t> RestartBudget::Next(int64_t now_ms) {
  Expire(now_ms);
  if (times_.size() >= policy_.max_restarts) return std::nullopt;
  int64_t delay = 0;
  if (!times_.empty()) {
    // 2^(n-1) * initial, computed without overflow.
    int64_t d = policy_.backoff_initial_ms;
    for (size_t i = 1; i < times_.size() && d < policy_.backoff_max_ms; ++i) d *= 2;
    delay = std::min<int64_t>(d, policy_.backoff_max_ms);
  }
  times_.push_back(now_ms + delay);
  return delay;
}

}  // namespace edgetrust::guard
