#include "common/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd_io.h"
#include "common/hex.h"

namespace edgetrust {

std::string ErrnoText(int err) { return std::strerror(err); }

std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<Bytes> ReadFile(const std::string& path, size_t max_size) {
  // O_NONBLOCK: opening a FIFO planted in the state folder must not hang the daemon.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status(ErrorCode::kNotFound, path + ": no such file");
    if (err == EMFILE || err == ENFILE)
      return Status(ErrorCode::kResourceExhausted, path + ": " + ErrnoText(err));
    if (err == ELOOP) return Status(ErrorCode::kIoError, path + ": is a symbolic link");
    return Status(ErrorCode::kIoError, path + ": " + ErrnoText(err));
  }
  Bytes out;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(ErrorCode::kIoError, path + ": not a regular file");
  }
  ::fcntl(fd, F_SETFL, 0);  // regular file: back to plain blocking reads
  if (st.st_size > 0) {
    if (static_cast<size_t>(st.st_size) > max_size) {
      ::close(fd);
      return Status(ErrorCode::kTooLarge,
                    path + ": file is larger than " + std::to_string(max_size) + " bytes");
    }
    out.reserve(static_cast<size_t>(st.st_size));
  }
  uint8_t buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      SecureWipe(buf, sizeof buf);
      return Status(ErrorCode::kIoError, path + ": " + ErrnoText(err));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_size) {
      ::close(fd);
      SecureWipe(buf, sizeof buf);
      SecureWipe(out.data(), out.size());
      return Status(ErrorCode::kTooLarge,
                    path + ": file is larger than " + std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  SecureWipe(buf, sizeof buf);  // files read here include the device root key
  return out;
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status(ErrorCode::kIoError, dir + ": " + ErrnoText(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status(ErrorCode::kIoError, "fsync " + dir + ": " + ErrnoText(err));
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, ByteView data, mode_t mode, WriteMode write_mode) {
  const std::string dir = DirName(path);
  uint8_t rnd[8];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return Status(ErrorCode::kInternal, "RAND_bytes failed");
  const std::string tmp = dir + "/" + std::string(kTempPrefix) + HexEncode(rnd);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Status(ErrorCode::kIoError, tmp + ": " + ErrnoText(errno));
  if (int err = WriteAll(fd, data); err != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status(ErrorCode::kIoError, tmp + ": " + ErrnoText(err));
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status(ErrorCode::kIoError, tmp + ": " + ErrnoText(err));
  }
  ::close(fd);
  int rc;
  if (write_mode == WriteMode::kNoReplace) {
    rc = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && errno == EINVAL) {
      // File systems without RENAME_NOREPLACE: link() also refuses an existing target.
      rc = ::link(tmp.c_str(), path.c_str());
      if (rc == 0) ::unlink(tmp.c_str());
    }
  } else {
    rc = ::rename(tmp.c_str(), path.c_str());
  }
  if (rc != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) return Status(ErrorCode::kAlreadyExists, path + " exists");
    return Status(ErrorCode::kIoError, "rename to " + path + ": " + ErrnoText(err));
  }
  return FsyncDir(dir);
}

size_t RemoveStaleTemporaries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  size_t n = 0;
  while (dirent* de = ::readdir(d)) {
    std::string_view f = de->d_name;
    if (f.starts_with(kTempPrefix) && ::unlink((dir + "/" + std::string(f)).c_str()) == 0) ++n;
  }
  ::closedir(d);
  return n;
}

Status RemoveFileDurable(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    int err = errno;
    if (err == ENOENT) return Status(ErrorCode::kNotFound, path + ": no such file");
    return Status(ErrorCode::kIoError, path + ": " + ErrnoText(err));
  }
  return FsyncDir(DirName(path));
}

}  // namespace edgetrust
