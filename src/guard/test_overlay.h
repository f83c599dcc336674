// Test helpers of the guard's unit tests (guard_unit_test only): real overlayfs mounts in a
// temporary folder, files, whiteouts and opaque folders in layers, fork+execve of a file with the
// exec's errno, SHA-256 by the openssl CLI, and a violation collector.
//
// Thread safety: Collector is safe from any thread; the rest is for the test's thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guard/monitor.h"

namespace edgetrust::guard::testing {

// A temporary folder, removed with everything in it (after unmounting) when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Mounts a tmpfs on the folder (unmounted by the destructor): file creation on this machine's
  // disk costs milliseconds, on tmpfs microseconds.
  std::string MountTmpfs();

 private:
  std::string path_;
  bool tmpfs_ = false;
};

// Two lower layers (lower1 on top), upper, work and merged folders under `root`. Mount() mounts
// merged as "lowerdir=lower1:lower2,upperdir=upper,workdir=work"; the destructor unmounts it.
class Overlay {
 public:
  explicit Overlay(const std::string& root);
  ~Overlay();
  Overlay(const Overlay&) = delete;
  Overlay& operator=(const Overlay&) = delete;

  // Empty on success, else why the overlay cannot be mounted (e.g. not root).
  std::string Mount();
  void Unmount();

  std::string lower1, lower2, upper, work, merged;
  std::vector<std::string> lowers() const { return {lower1, lower2}; }

 private:
  bool mounted_ = false;
};

// The test image in o's lower folders (docs in test_overlay.cc): busybox, a whiteout, an opaque
// folder, a file hidden by one above, symlinks pointing out of the layer.
void PopulateImage(const Overlay& o);

// Writes `content` to `path` (creating parent folders) with `mode`. Aborts the test on failure.
void WriteFile(const std::string& path, const std::string& content, mode_t mode = 0644);
std::string ReadFile(const std::string& path);
void CopyFile(const std::string& from, const std::string& to, mode_t mode);
void MakeWhiteout(const std::string& path);  // mknod c 0 0
void MakeOpaque(const std::string& dir);     // trusted.overlay.opaque = y
void MakeDirs(const std::string& path);
// sha256 of a file by `openssl dgst -sha256 -r`, the independent checker.
std::string OpensslSha256(const std::string& path);

struct ExecResult {
  int exec_errno = 0;  // 0: execve succeeded
  int exit_code = -1;  // the program's exit code when it ran
};
// fork + execve(path, {argv0}) with an empty environment.
ExecResult Exec(const std::string& path, const std::string& argv0);

// "" when the guard's tests can run here (root, overlay mounts, fanotify permission events).
std::string Unavailable();

// Collects violations from the monitor's thread.
class Collector {
 public:
  Monitor::Callback callback();
  // Waits until a violation matches (a hang guard of minutes, not a timing assertion); returns
  // every violation collected so far. Fails the test if none arrives.
  std::vector<Violation> WaitFor(const std::function<bool(const Violation&)>& match);
  std::vector<Violation> WaitForPath(const std::string& path) {
    return WaitFor([&](const Violation& v) { return v.path == path; });
  }
  std::vector<Violation> All();
  // While blocked, the callback waits (to let the kernel queue fill up).
  void Block();
  void Unblock();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Violation> seen_;
  bool blocked_ = false;
};

}  // namespace edgetrust::guard::testing
