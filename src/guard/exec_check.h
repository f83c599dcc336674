// The decisions of the drift monitor for one event (docs/container-guard.md, "Drift detection"):
// is this exec part of the image, is this write allowed. Separate from the fanotify plumbing so
// that the order of the checks reads in one place.
//
// Thread safety: called on the monitor's thread only (it updates the module's hash cache).
// Errors: none; what cannot be verified is a verdict of its own (`unverified`).
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <string>

#include "guard/watched_module.h"

namespace edgetrust::guard {

struct ExecVerdict {
  bool in_image = true;     // false: a violation, `reason` says why
  bool unverified = false;  // the content could not be hashed in time (or read): fail policy
  bool cache_hit = false;
  std::string reason;
  std::string sha256;  // the content's hash when it was computed or cached
};

// The exec check, in the order of its cost: the writable layer (one openat2 + fstat), the index
// (a map lookup), the content hash (cached by FileKey of `st`, else read from `event_fd` until
// `deadline`). `path` is the container path.
ExecVerdict CheckExec(WatchedModule& module, int event_fd, const struct stat& st,
                      const std::string& path, std::chrono::steady_clock::time_point deadline);

// True when the write is allowed (under a writable path).
bool WriteAllowed(const WatchedModule& module, const std::string& path);

}  // namespace edgetrust::guard
