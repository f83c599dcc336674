#include "sd/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/files.h"
#include "sd/crypto.h"

namespace edgetrust::sd {
namespace {

constexpr std::string_view kRootMagic = "ETRK";
constexpr uint8_t kRootFormat = 1;
constexpr size_t kRootKeySize = 32;

Status EnsureDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status(ErrorCode::kIoError, "cannot create " + path + ": " + ErrnoText(errno));
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status(ErrorCode::kIoError, path + " is not a folder");
  }
  if (st.st_uid != ::geteuid()) {
    return Status(ErrorCode::kPermissionDenied,
                  path + " is owned by uid " + std::to_string(st.st_uid) +
                      ", not by the daemon's uid " + std::to_string(::geteuid()));
  }
  if ((st.st_mode & 077) != 0 && ::chmod(path.c_str(), 0700) != 0) {
    return Status(ErrorCode::kIoError, "cannot restrict " + path + " to 0700: " + ErrnoText(errno));
  }
  return Status::Ok();
}

bool HasKeyObjects(const std::string& keys_dir) {
  DIR* d = ::opendir(keys_dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* de = ::readdir(d)) {
    std::string_view f = de->d_name;
    if (f.ends_with(".key")) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

}  // namespace

StateDir::~StateDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::unique_ptr<StateDir>> StateDir::Open(const std::string& path) {
  std::unique_ptr<StateDir> sd(new StateDir());
  sd->path_ = path;
  ET_RETURN_IF_ERROR(EnsureDir(path));
  const std::string lock_path = path + "/lock";
  sd->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (sd->lock_fd_ < 0) return Status(ErrorCode::kIoError, lock_path + ": " + ErrnoText(errno));
  if (::flock(sd->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status(ErrorCode::kResourceExhausted,
                  "state folder " + path + " is in use by another edgetrust-sd");
  }
  ET_RETURN_IF_ERROR(EnsureDir(sd->keys_dir()));
  RemoveStaleTemporaries(path);  // a crash while writing root.key on first start

  const std::string root_path = path + "/root.key";
  auto existing = ReadFile(root_path, 4096);
  // Wipe the file's bytes on every way out of this block, errors included.
  struct WipeOnExit {
    Result<Bytes>& r;
    ~WipeOnExit() {
      if (r.ok()) SecureWipe(r->data(), r->size());
    }
  } wipe_existing{existing};
  if (existing.ok()) {
    struct stat st {};
    if (::stat(root_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      return Status(ErrorCode::kPermissionDenied, root_path + " is readable by others (mode " +
                                                      std::to_string(st.st_mode & 0777) +
                                                      "); refusing to use it");
    }
    const Bytes& f = *existing;
    if (f.size() != kRootMagic.size() + 1 + kRootKeySize ||
        std::memcmp(f.data(), kRootMagic.data(), kRootMagic.size()) != 0 ||
        f[kRootMagic.size()] != kRootFormat) {
      return Status(ErrorCode::kTampered, root_path + " is not a valid device root key");
    }
    sd->root_key_ = SecretBytes(ByteView(f).subspan(kRootMagic.size() + 1));
  } else if (existing.status().code() == ErrorCode::kNotFound) {
    if (HasKeyObjects(sd->keys_dir())) {
      return Status(ErrorCode::kTampered,
                    root_path + " is missing but " + sd->keys_dir() +
                        " holds key objects; refusing to create a new root key");
    }
    ET_ASSIGN_OR_RETURN(SecretBytes fresh, RandomBytes(kRootKeySize));
    Bytes file(kRootMagic.begin(), kRootMagic.end());
    file.push_back(kRootFormat);
    file.insert(file.end(), fresh.data(), fresh.data() + fresh.size());
    Status st = WriteFileAtomic(root_path, file, 0600, WriteMode::kNoReplace);
    SecureWipe(file.data(), file.size());
    ET_RETURN_IF_ERROR(st);
    sd->root_key_ = std::move(fresh);
    sd->root_key_created_ = true;
  } else {
    return existing.status();
  }
  return sd;
}

Result<SecretBytes> StateDir::DeriveKey(std::string_view purpose) const {
  static constexpr std::string_view kSalt = "edgetrust-sd root v1";
  return HkdfSha256(root_key_.view(), AsBytes(kSalt), AsBytes(purpose), 32);
}

}  // namespace edgetrust::sd
