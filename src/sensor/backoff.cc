#include "sensor/backoff.h"

#include <algorithm>

namespace edgetrust::sensor {

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed)
    : base_(std::max(base, std::chrono::milliseconds(1))), cap_(std::max(cap, base_)), rng_(seed) {}

std::chrono::milliseconds Backoff::Next() {
  int64_t delay = base_.count();
  for (unsigned i = 0; i < failures_ && delay < cap_.count(); ++i) delay *= 2;
  delay = std::min<int64_t>(delay, cap_.count());
  if (failures_ < 64) ++failures_;
  std::uniform_int_distribution<int64_t> jitter(0, delay / 2);
  return std::chrono::milliseconds(delay - delay / 2 + jitter(rng_));
}

}  // namespace edgetrust::sensor
