#include "dockerd.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace edgetrust::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kDockerd[] = {"/usr/sbin/dockerd", "/usr/bin/dockerd"};
constexpr const char* kDockerCli = "/usr/bin/docker";
constexpr const char* kBusybox = "/bin/busybox";
constexpr const char* kApplets[] = {"sh",    "ls", "cat",   "echo",      "sleep", "cp",
                                    "mv",    "rm", "chmod", "touch",     "mkdir", "true",
                                    "false", "wc", "head",  "sha256sum", "id",    "ps"};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteAll(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return false;
  }
  return ::chmod(path.c_str(), mode) == 0;
}

// Runs argv with stdout/stderr captured, stdin /dev/null, killed (whole process group) after
// `timeout_s`.
DockerdProcess::Run Exec(const std::vector<std::string>& argv, int timeout_s) {
  DockerdProcess::Run run;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return run;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return run;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return run;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&run.out, &run.err};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[8192];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    run.err += "\n(killed after " + std::to_string(timeout_s) + " s)";
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.code = !timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Mount points at or under `dir`, deepest first.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    // mountinfo escapes spaces etc. as \040; our folders have none.
    if (point == dir || point.rfind(dir + "/", 0) == 0) out.push_back(point);
  }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

void UnmountAndRemove(const std::string& dir) {
  if (dir.empty()) return;
  for (int round = 0; round < 3; ++round) {
    const auto mounts = MountsUnder(dir);
    if (mounts.empty()) break;
    for (const auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

DockerdProcess* g_shared = nullptr;

}  // namespace

bool DockerdProcess::Ping() const {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string req = "GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      std::string answer;
      char buf[512];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
      ok = answer.rfind("HTTP/1.", 0) == 0 && answer.find(" 200 ") != std::string::npos &&
           answer.size() >= 2 && answer.substr(answer.size() - 2) == "OK";
    }
  }
  ::close(fd);
  return ok;
}

std::string DockerdProcess::LogTail(size_t bytes) const {
  std::string log = ReadAll(log_path_);
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

bool DockerdProcess::Start(std::string* why_not) {
  const char* dockerd = nullptr;
  for (const char* p : kDockerd) {
    if (::access(p, X_OK) == 0) {
      dockerd = p;
      break;
    }
  }
  if (dockerd == nullptr) {
    *why_not = "no dockerd (/usr/sbin/dockerd, /usr/bin/dockerd): install docker.io";
    return false;
  }
  if (::access(kDockerCli, X_OK) != 0 || ::access(kBusybox, X_OK) != 0) {
    *why_not = "needs /usr/bin/docker (docker.io) and /bin/busybox (busybox-static)";
    return false;
  }
  char base_tmpl[] = "/tmp/edgetrust-dockerd-XXXXXX";
  char exec_tmpl[] = "/tmp/etdX.XXXXXX";
  if (::mkdtemp(base_tmpl) == nullptr || ::mkdtemp(exec_tmpl) == nullptr) {
    *why_not = std::string("mkdtemp: ") + std::strerror(errno);
    return false;
  }
  base_ = base_tmpl;
  exec_root_ = exec_tmpl;
  data_root_ = base_ + "/data";
  socket_ = exec_root_ + "/d.sock";
  log_path_ = base_ + "/dockerd.log";
  std::vector<std::string> argv = {dockerd,
                                   "--bridge=none",
                                   "--iptables=false",
                                   "--ip6tables=false",
                                   "--storage-driver=overlay2",
                                   "--data-root",
                                   data_root_,
                                   "--exec-root",
                                   exec_root_,
                                   "--pidfile",
                                   base_ + "/docker.pid",
                                   "-H",
                                   "unix://" + socket_,
                                   "--log-level",
                                   "warn"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    *why_not = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    ::setsid();
    // Should the test process die without its atexit handler, dockerd shuts down (and stops its
    // containers) rather than outlive it. The folders are then left behind in /tmp.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  pid_ = pid;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    if (Ping()) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *why_not = "dockerd exited during start-up; its log ends:\n" + LogTail();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  *why_not = "dockerd did not answer /_ping within 60 s; its log ends:\n" + LogTail();
  return false;
}

void DockerdProcess::Shutdown() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    bool exited = false;
    while (Clock::now() < deadline) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!exited) {
      ::kill(-pid_, SIGKILL);  // its session: containerd and the shims it started
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  UnmountAndRemove(exec_root_);
  UnmountAndRemove(base_);
}

DockerdProcess* DockerdProcess::Shared(std::string* why_not) {
  static std::mutex mu;
  static std::string failure;
  static bool tried = false;
  std::lock_guard lock(mu);
  if (!tried) {
    tried = true;
    if (::geteuid() != 0) {
      failure = "dockerd needs root";
    } else {
      auto* d = new DockerdProcess();
      if (d->Start(&failure)) {
        g_shared = d;
        std::atexit([] {
          if (g_shared != nullptr) g_shared->Shutdown();
        });
      } else {
        d->Shutdown();
        delete d;
      }
    }
  }
  if (g_shared == nullptr && why_not != nullptr) *why_not = failure;
  return g_shared;
}

DockerdProcess::Run DockerdProcess::Docker(const std::vector<std::string>& args,
                                           int timeout_s) const {
  std::vector<std::string> argv = {kDockerCli, "-H", "unix://" + socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Exec(argv, timeout_s);
}

std::string DockerdProcess::BuildBusyboxImage(const std::string& tag,
                                              const std::map<std::string, std::string>& extra_files,
                                              std::string* error) const {
  auto fail = [&](const std::string& why) {
    if (error != nullptr) *error = why;
    return std::string();
  };
  char tmpl[] = "/tmp/edgetrust-rootfs-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return fail(std::string("mkdtemp: ") + std::strerror(errno));
  const std::string work = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{work};
  const std::string root = work + "/rootfs";
  std::error_code ec;
  for (const char* d : {"/bin", "/etc", "/tmp", "/data", "/root"}) {
    fs::create_directories(root + d, ec);
    if (ec) return fail("mkdir " + root + d + ": " + ec.message());
  }
  ::chmod((root + "/tmp").c_str(), 01777);
  fs::copy_file(kBusybox, root + "/bin/busybox", ec);
  if (ec) return fail(std::string("copy busybox: ") + ec.message());
  ::chmod((root + "/bin/busybox").c_str(), 0755);
  for (const char* applet : kApplets) {
    fs::create_symlink("busybox", root + "/bin/" + applet, ec);
    if (ec) return fail(std::string("symlink ") + applet + ": " + ec.message());
  }
  if (!WriteAll(root + "/etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
                0644) ||
      !WriteAll(root + "/etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644)) {
    return fail("cannot write /etc/passwd or /etc/group");
  }
  for (const auto& [path, content] : extra_files) {
    if (path.empty() || path.front() != '/' || path.find("..") != std::string::npos) {
      return fail("extra file path must be absolute: " + path);
    }
    const std::string host = root + path;
    fs::create_directories(fs::path(host).parent_path(), ec);
    if (!WriteAll(host, content, 0755)) return fail("cannot write " + host);
  }
  const std::string tar = work + "/rootfs.tar";
  Run t = Exec(
      {"/bin/tar", "--numeric-owner", "--owner=0", "--group=0", "-C", root, "-cf", tar, "."}, 120);
  if (t.code != 0) return fail("tar: " + t.err);
  Run r = Docker({"import", "--change", R"(CMD ["/bin/sleep","3600"])", tar, tag});
  if (r.code != 0) return fail("docker import: " + r.err);
  std::string id = r.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
  if (id.rfind("sha256:", 0) != 0) return fail("docker import printed \"" + id + "\"");
  return id;
}

bool DockerdProcess::SaveImage(const std::string& ref, const std::string& path) const {
  return Docker({"save", "-o", path, ref}).code == 0;
}

void DockerdProcess::RemoveAllContainers() const {
  Run ps = Docker({"ps", "-aq"});
  std::istringstream ids(ps.out);
  std::vector<std::string> args = {"rm", "-f", "-v"};
  std::string id;
  while (ids >> id) args.push_back(id);
  if (args.size() > 3) (void)Docker(args);
}

}  // namespace edgetrust::test
