// Runtime integrity of running containers: one fanotify group that watches every module's
// overlay filesystem from the host (docs/container-guard.md, "Drift detection").
//
// For each watched container the monitor places a FAN_MARK_FILESYSTEM mark on its overlay
// (the merged folder from inspect: the container's own mount is the same superblock, so the mark
// sees what processes inside the container do; a FAN_MARK_MOUNT on the host's view would not).
//  - FAN_CLOSE_WRITE: a file written on the overlay outside the module's writable paths is a
//    kWrite violation (tmpfs and volumes are other filesystems and never reach this mark).
//  - FAN_OPEN_EXEC (detect) or FAN_OPEN_EXEC_PERM (enforce): the executed file must be part of
//    the image: present in the ImageIndex, not copied up into the upper folder (a changed image
//    file), and, for files, with the recorded content (hashed once per inode and change time, then
//    cached). Otherwise a kExec violation; in enforce mode the kernel is answered FAN_DENY and the
//    exec fails with EPERM.
// Permission answers: the decision is made on the monitor's thread from a stat and a cache hit,
// in microseconds. Hashing an uncached file is bounded by `answer_timeout`; past it the answer is
// the module's fail policy (fail-open: allow and report; fail-closed: deny and report). Every
// permission event is answered exactly once, also on Unwatch and on shutdown; if the agent dies
// the kernel releases pending events as allowed when the group's descriptor closes.
//
// Queue overflow (FAN_Q_OVERFLOW: the kernel dropped events, and allowed dropped permission
// events) is reported through the same callback: a kWrite violation with reason
// "event queue overflowed" and an empty path, once for every watched module.
//
// Thread safety: Watch/Unwatch/Stop from any thread, but not from the callback. The callback runs
// on the monitor's thread and must not block (queue the violation and return): while it runs,
// every enforced exec waits. The destructor stops the monitor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edgetrust/status.h"
#include "guard/image_index.h"

namespace edgetrust::guard {

enum class Mode { kDetect, kEnforce };
enum class FailPolicy { kOpen, kClosed };

struct WatchSpec {
  std::string module;        // the module's name, carried in violations
  std::string container_id;  // carried in violations
  std::string merged_dir;    // the overlay to mark (host path)
  std::string upper_dir;     // its writable layer (host path)
  std::shared_ptr<const ImageIndex> image;
  // Container paths where writing on the overlay is allowed (prefixes at '/' boundaries). With a
  // read-only root filesystem this is usually empty: writable paths are tmpfs or volumes.
  std::vector<std::string> writable_paths;
  Mode mode = Mode::kDetect;
  FailPolicy fail = FailPolicy::kClosed;
  std::chrono::milliseconds answer_timeout{200};
};

struct Violation {
  enum Kind { kWrite, kExec, kLayer };
  Kind kind = kWrite;
  std::string module;
  std::string container_id;
  std::string path;     // container path
  std::string sha256;   // of the file's content at the event (empty if it could not be read)
  std::string reason;   // "not in image", "changed in the writable layer", "content differs", ...
  pid_t pid = 0;        // host pid of the process (0 for kLayer)
  std::string process;  // its comm and exe, "sh (/bin/busybox)"
  bool denied = false;  // enforce: the exec was refused
  int64_t time_ns = 0;  // CLOCK_REALTIME when the kernel's event was read
};

struct MonitorStats {
  uint64_t events = 0;
  uint64_t exec_checks = 0;
  uint64_t denied = 0;
  uint64_t allowed_by_timeout = 0;
  uint64_t hash_cache_hits = 0;
  uint64_t violations = 0;
};

class Monitor {
 public:
  using Callback = std::function<void(Violation)>;

  // Creates the fanotify group and starts its thread. kPermissionDenied without CAP_SYS_ADMIN;
  // kUnsupported when the kernel lacks fanotify permission events.
  static Result<std::unique_ptr<Monitor>> Start(Callback on_violation);
  virtual ~Monitor() = default;

  // Starts watching; a module already watched is re-pointed at the new spec (with a new hash
  // cache). Errors: kInvalidArgument (no name or image, merged_dir not the root of an overlay
  // mount, a relative writable path), kNotFound (a folder is missing), kAlreadyExists (the
  // overlay is watched for another module), kPermissionDenied / kUnsupported (fanotify_mark),
  // kFailedPrecondition after Stop.
  virtual Status Watch(const WatchSpec& spec) = 0;
  // Stops watching (pending permission events of it are answered as allowed).
  virtual void Unwatch(const std::string& module) = 0;
  virtual MonitorStats Stats() const = 0;
  virtual void Stop() = 0;
};

}  // namespace edgetrust::guard
