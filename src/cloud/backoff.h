// Reconnect delays: exponential with jitter, so that a fleet of gateways that lost the cloud at
// the same moment does not come back in lockstep.
//
// The n-th consecutive failure (n = 0, 1, ...) waits a uniformly random time between half of and
// all of min(max_ms, min_ms * 2^n). Reset() after a connection that stayed up starts again at n=0.
//
// Thread safety: none; one thread uses an object.
#pragma once

#include <cstdint>
#include <random>

namespace edgetrust::cloud {

class Backoff {
 public:
  // min_ms >= 1 and max_ms >= min_ms (the link's options are checked before).
  Backoff(uint32_t min_ms, uint32_t max_ms, uint64_t seed);

  // The delay before the next attempt, in ms; counts one more failure.
  uint32_t Next();
  void Reset() { failures_ = 0; }
  uint32_t failures() const { return failures_; }

  // The upper bound of the delay after `failures` failures: min(max_ms, min_ms * 2^failures).
  static uint32_t Ceiling(uint32_t min_ms, uint32_t max_ms, uint32_t failures);

 private:
  uint32_t min_ms_;
  uint32_t max_ms_;
  uint32_t failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace edgetrust::cloud
