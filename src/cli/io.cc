#include "cli/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "common/fd_io.h"
#include "common/files.h"

namespace edgetrust::cli {
namespace {

Status IoError(const std::string& name, int err) {
  return Status(ErrorCode::kIoError, name + ": " + ErrnoText(err));
}

Status TooLarge(std::string_view what, size_t max_size) {
  return Status(ErrorCode::kTooLarge,
                std::string(what) + " is larger than " + std::to_string(max_size) + " bytes");
}

// Fills buf[0..cap) from `in`; returns how much it got (less than cap only at the end).
Result<size_t> ReadUpTo(Input& in, uint8_t* buf, size_t cap) {
  size_t got = 0;
  while (got < cap) {
    ET_ASSIGN_OR_RETURN(size_t n, in.Read(buf + got, cap - got));
    if (n == 0) break;
    got += n;
  }
  return got;
}

// Writes through the path as it is: for symlinks and special files (see io.h). A file created here
// gets `mode`; an existing one keeps its own.
Status WriteInPlace(const std::string& path, ByteView data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return IoError(path, errno);
  if (int err = WriteAll(fd, data); err != 0) {
    ::close(fd);
    return IoError(path, err);
  }
  if (::close(fd) != 0) return IoError(path, errno);
  return Status::Ok();
}

}  // namespace

Result<Input> Input::Open(const std::string& path) {
  if (path == kStdio) return Input(STDIN_FILENO, "stdin");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status(ErrorCode::kNotFound, path + ": no such file");
    return IoError(path, err);
  }
  return Input(fd, path);
}

Input::Input(Input&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)) {}

Input::~Input() {
  if (fd_ > STDIN_FILENO) ::close(fd_);
}

Result<size_t> Input::Read(uint8_t* buf, size_t len) {
  for (;;) {
    ssize_t n = ::read(fd_, buf, len);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return IoError(name_, errno);
  }
}

Result<Bytes> ReadInput(const std::string& path, size_t max_size, std::string_view what) {
  ET_ASSIGN_OR_RETURN(Input in, Input::Open(path));
  Bytes out;
  uint8_t chunk[65536];
  for (;;) {
    ET_ASSIGN_OR_RETURN(size_t n, ReadUpTo(in, chunk, sizeof chunk));
    if (out.size() + n > max_size) return TooLarge(what, max_size);
    out.insert(out.end(), chunk, chunk + n);
    if (n < sizeof chunk) return out;
  }
}

Result<SecretBytes> ReadSecretInput(const std::string& path, size_t max_size,
                                    std::string_view what) {
  ET_ASSIGN_OR_RETURN(Input in, Input::Open(path));
  // One allocation of the limit plus one byte, so the secret is never copied by a growing buffer
  // and reading that extra byte tells "exactly at the limit" from "over it".
  SecretBytes out(max_size + 1);
  ET_ASSIGN_OR_RETURN(size_t n, ReadUpTo(in, out.data(), out.size()));
  if (n > max_size) return TooLarge(what, max_size);
  out.Truncate(n);
  return out;
}

mode_t PublicMode() {
  // umask() can only be read by setting it; the CLI is single-threaded, so this is safe.
  mode_t mask = ::umask(0);
  ::umask(mask);
  return static_cast<mode_t>(0666 & ~mask);
}

Status WriteOutput(const std::string& path, ByteView data, mode_t mode) {
  if (path == kStdio) {
    WriteStdout(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    return Status::Ok();
  }
  // lstat, not stat: renaming over a symlink would replace the link itself (think /dev/stdout).
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) return Status(ErrorCode::kInvalidArgument, path + " is a directory");
    return WriteInPlace(path, data, mode);
  }
  return WriteFileAtomic(path, data, mode, WriteMode::kReplace);
}

void WriteStdout(std::string_view text) {
  if (!text.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
}

Status FlushStdout() {
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    return Status(ErrorCode::kIoError, "cannot write to stdout");
  }
  return Status::Ok();
}

}  // namespace edgetrust::cli
