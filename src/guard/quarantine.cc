#include "guard/quarantine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "common/unique_fd.h"

namespace edgetrust::guard {
namespace {

constexpr int kMaxDepth = 256;

struct Copier {
  uint64_t max_bytes;
  CopyReport report;
  std::ofstream special;
  std::string special_path;

  void Special(const std::string& rel, const struct stat& st) {
    if (!special.is_open()) special.open(special_path, std::ios::app);
    special << rel << " mode=" << std::oct << st.st_mode << std::dec << " rdev=" << st.st_rdev
            << "\n";
  }

  Status CopyFile(int src_dir, int dst_dir, const char* name, const struct stat& st) {
    UniqueFd in(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) return Status(ErrorCode::kIoError, std::string("cannot open ") + name);
    UniqueFd out(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          st.st_mode & 07777 & ~06000));
    if (!out) return Status(ErrorCode::kIoError, std::string("cannot create ") + name);
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(in.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status(ErrorCode::kIoError, std::string("cannot read ") + name);
      if (n == 0) break;
      size_t take = static_cast<size_t>(n);
      if (report.bytes + take > max_bytes) {
        take = static_cast<size_t>(max_bytes - report.bytes);
        report.truncated = true;
      }
      if (take > 0 && ::write(out.get(), buf, take) != static_cast<ssize_t>(take)) {
        return Status(ErrorCode::kIoError, std::string("cannot write ") + name);
      }
      report.bytes += take;
      if (report.truncated) break;
    }
    ++report.files;
    return Status::Ok();
  }

  Status Walk(int src_dir, int dst_dir, const std::string& rel, int depth) {
    if (depth > kMaxDepth) return Status(ErrorCode::kTooLarge, "folders nested too deep at " + rel);
    const int dup = ::dup(src_dir);
    if (dup < 0) return Status(ErrorCode::kIoError, "dup failed");
    DIR* d = ::fdopendir(dup);
    if (d == nullptr) {
      ::close(dup);
      return Status(ErrorCode::kIoError, "cannot list " + rel);
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names.emplace_back(e->d_name);
    }
    ::closedir(d);
    for (const auto& name : names) {
      if (report.truncated) return Status::Ok();
      const std::string path = rel + "/" + name;
      struct stat st {};
      if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        if (::mkdirat(dst_dir, name.c_str(), 0700) != 0) {
          return Status(ErrorCode::kIoError, "cannot create " + path);
        }
        UniqueFd sub_src(
            ::openat(src_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        UniqueFd sub_dst(
            ::openat(dst_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub_src || !sub_dst) return Status(ErrorCode::kIoError, "cannot open " + path);
        ET_RETURN_IF_ERROR(Walk(sub_src.get(), sub_dst.get(), path, depth + 1));
      } else if (S_ISREG(st.st_mode)) {
        ET_RETURN_IF_ERROR(CopyFile(src_dir, dst_dir, name.c_str(), st));
      } else if (S_ISLNK(st.st_mode)) {
        char target[4096];
        const ssize_t n = ::readlinkat(src_dir, name.c_str(), target, sizeof target - 1);
        if (n >= 0) {
          target[n] = '\0';
          if (::symlinkat(target, dst_dir, name.c_str()) != 0) {
            return Status(ErrorCode::kIoError, "cannot create link " + path);
          }
        }
      } else {
        Special(path, st);
      }
    }
    return Status::Ok();
  }
};

}  // namespace

Result<CopyReport> CopyLayer(const std::string& src, const std::string& dst, uint64_t max_bytes) {
  UniqueFd src_fd(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!src_fd) {
    return Status(ErrorCode::kIoError, "cannot open " + src + ": " + std::strerror(errno));
  }
  if (::mkdir(dst.c_str(), 0700) != 0) {
    return Status(ErrorCode::kIoError, "cannot create " + dst + ": " + std::strerror(errno));
  }
  UniqueFd dst_fd(::open(dst.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dst_fd) return Status(ErrorCode::kIoError, "cannot open " + dst);
  Copier c{max_bytes, {}, {}, dst + "/../special.txt"};
  ET_RETURN_IF_ERROR(c.Walk(src_fd.get(), dst_fd.get(), "", 0));
  if (c.report.truncated) {
    std::ofstream(dst + "/../truncated.txt") << "copy stopped at " << max_bytes << " bytes\n";
  }
  return c.report;
}

}  // namespace edgetrust::guard
