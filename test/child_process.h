// A program a test runs in the background while it does other things: a broker, an `openssl
// s_server`, a `mosquitto_sub` waiting for a message. Its stdout and stderr are appended to one log
// file, its stdin is /dev/null, and it runs in a process group of its own.
//
// Ownership: the object owns the process. Its destructor kills the whole process group (SIGKILL)
// and reaps it, so a failed assertion never leaves a server behind; the child also gets SIGKILL
// should the test process die first (PR_SET_PDEATHSIG, cleared by Linux if the child changes its
// user, as mosquitto does). Not thread-safe: one thread uses an object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace edgetrust::test {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv (argv[0] looked up in PATH) with the test's environment plus `env` ("NAME=value",
  // replacing a variable of the same name), output appended to `log_path`. False if it could not
  // be forked; a program that cannot be executed exits at once with status 127.
  bool Start(const std::vector<std::string>& argv, const std::string& log_path,
             const std::vector<std::string>& env = {});

  // True until the process has exited (it is reaped here; exit_code() is then set).
  bool running();
  // Waits up to `timeout` for the process to exit: its exit code (-1 when killed by a signal), or
  // nullopt while it still runs.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL to the process group when it has not exited within `grace`. The exit
  // code (-1 when killed by a signal, or when it never ran).
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGKILL to the process group, and reap. No-op when not running.
  void Kill();

  pid_t pid() const { return pid_; }
  std::optional<int> exit_code() const { return exit_code_; }
  const std::string& log_path() const { return log_path_; }
  // Everything the process wrote so far.
  std::string output() const;
  // Waits up to `timeout` until output() holds `text`. False on timeout, or as soon as the process
  // has exited without writing it.
  bool WaitForOutput(const std::string& text,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  void Reaped(int status);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

}  // namespace edgetrust::test
