// Reconnect delays: exponential from a base, capped, with jitter, so that many sensors cut off by
// one gateway restart do not all come back at the same instant. Thread safety: one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace edgetrust::sensor {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed);
  // The delay before the next attempt: base * 2^failures (capped), of which the last half is
  // random ("equal jitter").
  std::chrono::milliseconds Next();
  // After a success: the next delay is the base again.
  void Reset() { failures_ = 0; }

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  unsigned failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace edgetrust::sensor
