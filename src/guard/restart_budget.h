// Crash-loop protection for one module: how soon it may be recreated again, and when to give up
// (docs/container-guard.md, "Remediation").
//
// Every recreation (after a crash or a violation) asks Next(). The first one in a quiet window
// happens at once; each further one within window_seconds waits twice as long as the last,
// from backoff_initial_ms up to backoff_max_ms; once max_restarts recreations fell within the
// window, Next() answers nullopt and the module is "failed" until the next deployment.
//
// Thread safety: none (one owner).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "deploy/manifest.h"

namespace edgetrust::guard {

class RestartBudget {
 public:
  explicit RestartBudget(const deploy::RemediationPolicy& policy) : policy_(policy) {}

  // The delay (ms) before the recreation wanted at `now_ms`, recording it; nullopt when the cap
  // is reached (nothing recorded).
  std::optional<int64_t> Next(int64_t now_ms);
  // Recreations recorded within the window before `now_ms`.
  size_t Recent(int64_t now_ms) const;
  void Reset() { times_.clear(); }

 private:
  void Expire(int64_t now_ms);

  deploy::RemediationPolicy policy_;
  std::deque<int64_t> times_;
};

}  // namespace edgetrust::guard
