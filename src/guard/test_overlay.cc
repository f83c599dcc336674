#include "guard/test_overlay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace edgetrust::guard::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  char tmpl[] = "/tmp/et-guard-XXXXXX";
  const char* p = ::mkdtemp(tmpl);
  if (p == nullptr) std::abort();
  path_ = p;
}

std::string TempDir::MountTmpfs() {
  if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, "mode=0700") != 0) {
    return "mount tmpfs at " + path_ + ": " + std::strerror(errno);
  }
  tmpfs_ = true;
  return "";
}

TempDir::~TempDir() {
  if (tmpfs_) ::umount2(path_.c_str(), MNT_DETACH);
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Overlay::Overlay(const std::string& root)
    : lower1(root + "/lower1"),
      lower2(root + "/lower2"),
      upper(root + "/upper"),
      work(root + "/work"),
      merged(root + "/merged") {
  for (const std::string* d : {&lower1, &lower2, &upper, &work, &merged}) MakeDirs(*d);
}

Overlay::~Overlay() { Unmount(); }

std::string Overlay::Mount() {
  const std::string opts =
      "lowerdir=" + lower1 + ":" + lower2 + ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()) != 0) {
    return "mount overlay at " + merged + ": " + std::strerror(errno);
  }
  mounted_ = true;
  return "";
}

void Overlay::Unmount() {
  if (mounted_ && ::umount2(merged.c_str(), MNT_DETACH) != 0) {
    ADD_FAILURE() << "umount " << merged << ": " << std::strerror(errno);
  }
  mounted_ = false;
}

void MakeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  ASSERT_FALSE(ec) << path << ": " << ec.message();
}

void WriteFile(const std::string& path, const std::string& content, mode_t mode) {
  MakeDirs(fs::path(path).parent_path());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ASSERT_EQ(::fchmod(fd, mode), 0);
  ASSERT_EQ(::close(fd), 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void CopyFile(const std::string& from, const std::string& to, mode_t mode) {
  const std::string content = ReadFile(from);
  ASSERT_FALSE(content.empty()) << from;
  WriteFile(to, content, mode);
}

void MakeWhiteout(const std::string& path) {
  MakeDirs(fs::path(path).parent_path());
  ASSERT_EQ(::mknod(path.c_str(), S_IFCHR | 0000, makedev(0, 0)), 0)
      << path << ": " << std::strerror(errno);
}

void MakeOpaque(const std::string& dir) {
  MakeDirs(dir);
  ASSERT_EQ(::setxattr(dir.c_str(), "trusted.overlay.opaque", "y", 1, 0), 0)
      << dir << ": " << std::strerror(errno);
}

// lower2 (bottom): /bin/busybox, /bin/tool2 (busybox again), /etc/removed, /etc/keep,
//                  /opaque/below_file, /data/
// lower1 (top):    /bin/true -> busybox, /etc/removed (whiteout), /etc/keep (hides lower2's),
//                  /opaque/ (opaque) with top_file, /escape -> ../../../.., /etc/hosts_link ->
//                  /etc/hosts
void PopulateImage(const Overlay& o) {
  CopyFile("/bin/busybox", o.lower2 + "/bin/busybox", 0755);
  CopyFile("/bin/busybox", o.lower2 + "/bin/tool2", 0755);
  WriteFile(o.lower2 + "/etc/removed", "gone");
  WriteFile(o.lower2 + "/etc/keep", "keep-bottom");
  WriteFile(o.lower2 + "/opaque/below_file", "below");
  MakeDirs(o.lower2 + "/data");
  MakeDirs(o.lower1 + "/bin");
  ASSERT_EQ(::symlink("busybox", (o.lower1 + "/bin/true").c_str()), 0);
  MakeWhiteout(o.lower1 + "/etc/removed");
  WriteFile(o.lower1 + "/etc/keep", "keep-top");
  MakeOpaque(o.lower1 + "/opaque");
  WriteFile(o.lower1 + "/opaque/top_file", "top");
  ASSERT_EQ(::symlink("../../../..", (o.lower1 + "/escape").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/hosts", (o.lower1 + "/etc/hosts_link").c_str()), 0);
}

std::string OpensslSha256(const std::string& path) {
  const std::string cmd = "openssl dgst -sha256 -r '" + path + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  char buf[256] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, p);
  ::pclose(p);
  std::string out(buf, n);
  return out.substr(0, out.find(' '));
}

ExecResult Exec(const std::string& path, const std::string& argv0) {
  ExecResult r;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) std::abort();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    char* argv[] = {const_cast<char*>(argv0.c_str()), nullptr};
    char* envp[] = {nullptr};
    ::execve(path.c_str(), argv, envp);
    const int e = errno;
    (void)!::write(p[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(p[1]);
  int e = 0;
  ssize_t n;
  do {
    n = ::read(p[0], &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  ::close(p[0]);
  if (n == static_cast<ssize_t>(sizeof e)) r.exec_errno = e;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (r.exec_errno == 0 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

std::string Unavailable() {
  if (::geteuid() != 0) return "the guard's tests need root (overlay mounts, fanotify)";
  TempDir dir;
  Overlay o(dir.path());
  std::string why = o.Mount();
  if (!why.empty()) return "cannot mount overlayfs here: " + why;
  if (::access("/bin/busybox", X_OK) != 0) return "/bin/busybox (busybox-static) is missing";
  return "";
}

Monitor::Callback Collector::callback() {
  return [this](Violation v) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !blocked_; });
    seen_.push_back(std::move(v));
    cv_.notify_all();
  };
}

std::vector<Violation> Collector::WaitFor(const std::function<bool(const Violation&)>& match) {
  std::unique_lock<std::mutex> l(mu_);
  size_t checked = 0;  // each violation is matched once, however many arrive
  auto found = [&] {
    for (; checked < seen_.size(); ++checked) {
      if (match(seen_[checked])) return true;
    }
    return false;
  };
  if (!cv_.wait_for(l, std::chrono::minutes(2), found)) {
    ADD_FAILURE() << "no matching violation arrived (" << seen_.size() << " others)";
  }
  return seen_;
}

std::vector<Violation> Collector::All() {
  std::lock_guard<std::mutex> l(mu_);
  return seen_;
}

void Collector::Block() {
  std::lock_guard<std::mutex> l(mu_);
  blocked_ = true;
}

void Collector::Unblock() {
  std::lock_guard<std::mutex> l(mu_);
  blocked_ = false;
  cv_.notify_all();
}

}  // namespace edgetrust::guard::testing
