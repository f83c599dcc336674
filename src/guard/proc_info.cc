#include "guard/proc_info.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>

#include "common/unique_fd.h"

namespace edgetrust::guard {
namespace {

std::string ReadLink(const char* path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path, buf, sizeof buf);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return {};
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

std::string DescribeProcess(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/comm", static_cast<int>(pid));
  std::string comm;
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (fd) {
    char buf[64];
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n > 0) comm.assign(buf, static_cast<size_t>(n));
    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  }
  std::snprintf(path, sizeof path, "/proc/%d/exe", static_cast<int>(pid));
  const std::string exe = ReadLink(path);
  if (comm.empty() && exe.empty()) return "(pid " + std::to_string(pid) + " exited)";
  return (comm.empty() ? "?" : comm) + " (" + (exe.empty() ? "?" : exe) + ")";
}

std::string DescriptorPath(int fd, bool unlinked) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  std::string out = ReadLink(path);
  static constexpr std::string_view kDeleted = " (deleted)";
  if (unlinked && out.size() > kDeleted.size() &&
      out.compare(out.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
    out.resize(out.size() - kDeleted.size());
  }
  return out;
}

}  // namespace edgetrust::guard
