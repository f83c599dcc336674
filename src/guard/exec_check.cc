#include "guard/exec_check.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guard/file_hash.h"
#include "guard/paths.h"

namespace edgetrust::guard {
namespace {

// Executables bigger than this are not hashed (they are "not verified").
constexpr uint64_t kMaxExecBytes = uint64_t{4} << 30;

// Is there a regular file at `path` in the writable layer? Resolved beneath the upper folder's
// descriptor without following any symlink: the upper folder is the container's to write.
bool RegularFileInUpper(int upper_fd, const std::string& path) {
  if (path.size() < 2) return false;
  open_how how{};
  how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  const long fd = ::syscall(SYS_openat2, upper_fd, path.c_str() + 1, &how, sizeof how);
  if (fd < 0) return false;  // ENOENT/ENOTDIR: not there; ELOOP: a symlink, not a file
  UniqueFd owned(static_cast<int>(fd));
  struct stat st {};
  return ::fstat(owned.get(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

ExecVerdict CheckExec(WatchedModule& module, int event_fd, const struct stat& st,
                      const std::string& path, std::chrono::steady_clock::time_point deadline) {
  ExecVerdict v;
  const IndexEntry* entry = module.spec.image->Find(path);
  if (RegularFileInUpper(module.upper.get(), path)) {
    v.in_image = false;
    v.reason = entry != nullptr ? "changed in the writable layer" : "not in image";
    return v;
  }
  if (entry == nullptr) {
    v.in_image = false;
    v.reason = "not in image";
    return v;
  }
  if (entry->type != IndexEntry::kFile) {
    v.in_image = false;
    v.reason = "not a regular file in the image";
    return v;
  }
  const FileKey key = FileKey::Of(st);
  if (const std::string* cached = module.cache.Find(key)) {
    v.cache_hit = true;
    v.sha256 = *cached;
  } else {
    auto hash = HashFdUntil(event_fd, kMaxExecBytes, deadline);
    if (!hash.ok()) {
      v.unverified = true;
      v.reason = hash.status().code() == ErrorCode::kUnavailable
                     ? "content not verified: hashing timed out"
                     : "content not verified: " + hash.status().message();
      return v;
    }
    v.sha256 = std::move(hash).value();
    module.cache.Put(key, v.sha256);
  }
  if (v.sha256 != entry->sha256) {
    v.in_image = false;
    v.reason = "content differs";
  }
  return v;
}

bool WriteAllowed(const WatchedModule& module, const std::string& path) {
  return IsUnderAny(path, module.spec.writable_paths);
}

}  // namespace edgetrust::guard
