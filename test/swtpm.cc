#include "swtpm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "ports.h"

namespace edgetrust::test {

SwtpmProcess::SwtpmProcess(const TempDir& dir) : dir_(dir) {
  // Several simulators may share one test folder: each gets a folder of its own.
  std::string tmpl = dir_.File("swtpm-XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) != nullptr) state_dir_ = buf.data();
  log_path_ = state_dir_ + ".log";
}

SwtpmProcess::~SwtpmProcess() { Kill(); }

bool SwtpmProcess::Available() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/swtpm";
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

std::string SwtpmProcess::Tcti() const {
  return "swtpm:host=127.0.0.1,port=" + std::to_string(port_);
}

std::string SwtpmProcess::log() const { return ReadText(log_path_); }

bool SwtpmProcess::Start() {
  if (pid_ > 0) return true;
  attempts_.clear();
  if (state_dir_.empty()) {
    attempts_ = "no state folder (mkdtemp failed)";
    return false;
  }
  // Ports picked at the first start are kept, so a restarted TPM answers at the same TCTI. A port
  // someone else took between picking and binding makes swtpm exit: pick again (first start only).
  const bool keep_ports = port_ != 0;
  for (int attempt = 0; attempt < (keep_ports ? 1 : 5); ++attempt) {
    if (!keep_ports) {
      port_ = PickLoopbackPortPair();
      ctrl_port_ = port_ + 1;
      if (port_ < 0) {
        attempts_ += "no free port pair; ";
        return false;
      }
    }
    const std::string server = "type=tcp,port=" + std::to_string(port_) + ",bindaddr=127.0.0.1";
    const std::string ctrl = "type=tcp,port=" + std::to_string(ctrl_port_) + ",bindaddr=127.0.0.1";
    const std::string state = "dir=" + state_dir_;
    std::vector<std::string> argv = {"swtpm",
                                     "socket",
                                     "--tpm2",
                                     "--server",
                                     server,
                                     "--ctrl",
                                     ctrl,
                                     "--tpmstate",
                                     state,
                                     "--flags",
                                     "not-need-init,startup-clear"};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) {
      pid_ = -1;
      return false;
    }
    if (pid_ == 0) {
      int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    // Generous: parallel tests on a loaded 2-core machine start several simulators at once.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    auto exited = [this] {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
      attempts_ += "ports " + std::to_string(port_) + "/" + std::to_string(ctrl_port_) + ": " +
                   (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status))) +
                   "; ";
      return true;
    };
    while (std::chrono::steady_clock::now() < deadline) {
      if (exited()) {
        pid_ = -1;
        break;
      }
      // An answer on the port counts only while our swtpm still runs: another test's simulator
      // may have taken the port, making ours exit.
      if (LoopbackAccepts(port_)) {
        if (!exited()) return true;
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (pid_ > 0) {
      attempts_ += "no answer on port " + std::to_string(port_) + " within 30 s; ";
      Kill();
      return false;
    }
  }
  return false;
}

void SwtpmProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace edgetrust::test
