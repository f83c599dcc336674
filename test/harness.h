// Process-level test harness: temporary folders, the real edgetrust-sd started and stopped, and
// external commands (openssl, python3, our CLI) run with their output captured.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace edgetrust::test {

// A fresh folder under /tmp, mode 0755 so an unprivileged daemon user can traverse it; removed
// with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally
  std::string out;
  std::string err;
};

// Runs argv (argv[0] looked up in PATH), feeding `input` on stdin. Never throws.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "");
// Runs argv as another user (setgid/setuid in the child before exec). Root only.
CommandResult RunCommandAs(uid_t uid, gid_t gid, const std::vector<std::string>& argv);

std::string ReadText(const std::string& path);
void WriteText(const std::string& path, const std::string& text);

bool IsRoot();

// The daemon under test, started in its own state folder.
class SdProcess {
 public:
  struct Options {
    std::string state_dir;    // default: <tmp>/state
    std::string socket;       // default: <tmp>/run/sd.sock
    std::string config_text;  // written to <tmp>/sd.toml and passed with --config when non-empty
    std::vector<std::string> extra_args;
    std::vector<std::string> env;  // "NAME=value" added to the daemon's environment
  };
  explicit SdProcess(const TempDir& dir) : SdProcess(dir, Options{}) {}
  SdProcess(const TempDir& dir, Options options);
  ~SdProcess();

  // Starts and waits until the socket accepts (up to 20 s). False if it exited or never got ready.
  bool Start();
  // SIGTERM and wait; returns the exit code (-1 if killed by a signal).
  int Stop();
  // SIGKILL and wait.
  void Kill();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& socket() const { return options_.socket; }
  const std::string& state_dir() const { return options_.state_dir; }
  std::string log() const;
  // Waits until the daemon's log holds `text` (up to 20 s). For events that happen after the
  // socket already answers, e.g. the readiness probe's "event=disconnect".
  bool WaitForLog(const std::string& text) const;

 private:
  const TempDir& dir_;
  Options options_;
  pid_t pid_ = -1;
  std::string log_path_;
};

// Paths of the binaries under test, from the build.
std::string SdBinary();
std::string CliBinary();
// Runs the edgetrust CLI against the daemon at `socket`, as the test's user or as uid/gid.
CommandResult RunCli(const std::string& socket, std::vector<std::string> args);
CommandResult RunCliAs(uid_t uid, gid_t gid, const std::string& socket,
                       std::vector<std::string> args);

}  // namespace edgetrust::test
