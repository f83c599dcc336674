#include "cloud/backoff.h"

#include <algorithm>

namespace edgetrust::cloud {

Backoff::Backoff(uint32_t min_ms, uint32_t max_ms, uint64_t seed)
    : min_ms_(std::max<uint32_t>(min_ms, 1)), max_ms_(std::max(max_ms, min_ms_)), rng_(seed) {}

uint32_t Backoff::Ceiling(uint32_t min_ms, uint32_t max_ms, uint32_t failures) {
  uint64_t ceiling = std::max<uint32_t>(min_ms, 1);
  for (uint32_t i = 0; i < failures && ceiling < max_ms; ++i) ceiling *= 2;
  return static_cast<uint32_t>(std::min<uint64_t>(ceiling, std::max(max_ms, min_ms)));
}

uint32_t Backoff::Next() {
  const uint32_t ceiling = Ceiling(min_ms_, max_ms_, failures_);
  if (failures_ < 64) ++failures_;
  std::uniform_int_distribution<uint32_t> jitter(ceiling / 2, ceiling);
  return std::max<uint32_t>(jitter(rng_), 1);
}

}  // namespace edgetrust::cloud
