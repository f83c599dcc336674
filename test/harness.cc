#include "harness.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace edgetrust::test {

TempDir::TempDir() {
  char tmpl[] = "/tmp/edgetrust-test-XXXXXX";
  char* p = ::mkdtemp(tmpl);
  if (p == nullptr) std::abort();
  path_ = p;
  ::chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

CommandResult RunImpl(const std::vector<std::string>& argv, const std::string& input, uid_t uid,
                      gid_t gid, bool switch_user) {
  CommandResult result;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return result;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    if (switch_user) {
      gid_t groups[1] = {gid};
      if (::setgroups(1, groups) != 0 || ::setresgid(gid, gid, gid) != 0 ||
          ::setresuid(uid, uid, uid) != 0) {
        ::_exit(126);
      }
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  // Feed stdin from a thread so a large input cannot deadlock against a full stdout pipe.
  std::thread writer([&] {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = ::write(in_pipe[1], input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(in_pipe[1]);
  });
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  writer.join();
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input) {
  return RunImpl(argv, input, 0, 0, false);
}

CommandResult RunCommandAs(uid_t uid, gid_t gid, const std::vector<std::string>& argv) {
  return RunImpl(argv, "", uid, gid, true);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

bool IsRoot() { return ::geteuid() == 0; }

std::string SdBinary() { return EDGETRUST_SD_BIN; }
std::string CliBinary() { return EDGETRUST_CLI_BIN; }

SdProcess::SdProcess(const TempDir& dir, Options options)
    : dir_(dir), options_(std::move(options)) {
  if (options_.state_dir.empty()) options_.state_dir = dir.File("state");
  if (options_.socket.empty()) options_.socket = dir.File("run/sd.sock");
  log_path_ = dir.File("sd.log");
}

CommandResult RunCli(const std::string& socket, std::vector<std::string> args) {
  args.insert(args.begin(), {CliBinary(), "--socket", socket});
  return RunCommand(args);
}

CommandResult RunCliAs(uid_t uid, gid_t gid, const std::string& socket,
                       std::vector<std::string> args) {
  args.insert(args.begin(), {CliBinary(), "--socket", socket});
  return RunCommandAs(uid, gid, args);
}

SdProcess::~SdProcess() {
  if (pid_ > 0) Kill();
}

bool SdProcess::Start() {
  std::vector<std::string> argv = {SdBinary(), "--state-dir",   options_.state_dir,
                                   "--socket", options_.socket, "--log-level",
                                   "debug"};
  if (IsRoot()) {
    argv.push_back("--user");
    argv.push_back("daemon");
  }
  if (!options_.config_text.empty()) {
    std::string cfg = dir_.File("sd.toml");
    WriteText(cfg, options_.config_text);
    argv.push_back("--config");
    argv.push_back(cfg);
  }
  for (const auto& a : options_.extra_args) argv.push_back(a);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // A restart appends to the same log: wait for one more ready line than there is now.
  auto ready_lines = [this] {
    const std::string text = log();
    size_t n = 0;
    for (size_t at = text.find("event=ready"); at != std::string::npos;
         at = text.find("event=ready", at + 1)) {
      ++n;
    }
    return n;
  };
  const size_t ready_before = ready_lines();
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 2);
    ::dup2(fd, 1);
    for (const auto& e : options_.env) {
      const size_t eq = e.find('=');
      if (eq != std::string::npos) ::setenv(e.substr(0, eq).c_str(), e.c_str() + eq + 1, 1);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, options_.socket.c_str(), sizeof(addr.sun_path) - 1);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    // The socket accepts before the daemon has finished hardening itself (seccomp) and logged
    // event=ready; tests that inspect the process need it finished.
    if (ok && ready_lines() > ready_before) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(ok ? 1 : 10));
  }
  Kill();
  return false;
}

int SdProcess::Stop() {
  if (pid_ <= 0) return -1;
  // SIGTERM again every second while waiting: under TSan a signal can land on a daemon thread
  // blocked in a system call and be deferred there indefinitely (its runtime delivers signals
  // at its own safe points); another one reaches a thread that runs. After 60 s: SIGKILL, and
  // -1, so a daemon that does not stop fails the test instead of hanging it.
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 60 * 20 && done == 0; ++i) {
    if (i % 20 == 0) ::kill(pid_, SIGTERM);
    done = ::waitpid(pid_, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (done == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  if (done < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void SdProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string SdProcess::log() const { return ReadText(log_path_); }

bool SdProcess::WaitForLog(const std::string& text) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

}  // namespace edgetrust::test
