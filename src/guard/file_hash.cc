#include "guard/file_hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "common/files.h"
#include "common/hex.h"
#include "common/openssl_ptr.h"
#include "common/unique_fd.h"
#include "guard/image_index.h"

namespace edgetrust::guard {
namespace {

std::string DigestHex(EVP_MD_CTX* ctx) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, md, &len) != 1) return {};
  return HexEncode(ByteView(md, len));
}

}  // namespace

std::string Sha256Hex(const void* data, size_t size) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data, size, md, &len, EVP_sha256(), nullptr) != 1) return {};
  return HexEncode(ByteView(md, len));
}

Result<std::string> HashFdUntil(int fd, uint64_t max_bytes,
                                std::chrono::steady_clock::time_point deadline) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status(ErrorCode::kIoError, "fstat: " + ErrnoText(errno));
  const uint64_t expected = st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
  if (expected > max_bytes) {
    return Status(ErrorCode::kTooLarge, "file of " + std::to_string(expected) + " bytes is over " +
                                            std::to_string(max_bytes));
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status(ErrorCode::kInternal, OpensslError("EVP_DigestInit_ex"));
  }
  thread_local std::unique_ptr<unsigned char[]> buf(new unsigned char[kHashChunk]);
  uint64_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf.get(), kHashChunk, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status(ErrorCode::kIoError, "pread: " + ErrnoText(errno));
    }
    if (n == 0) break;
    offset += static_cast<uint64_t>(n);
    if (offset > max_bytes) {
      return Status(ErrorCode::kTooLarge, "file grew over " + std::to_string(max_bytes) + " bytes");
    }
    if (EVP_DigestUpdate(ctx.get(), buf.get(), static_cast<size_t>(n)) != 1) {
      return Status(ErrorCode::kInternal, OpensslError("EVP_DigestUpdate"));
    }
    if (offset < expected && std::chrono::steady_clock::now() >= deadline) {
      return Status(ErrorCode::kUnavailable, "hashing did not finish before the deadline");
    }
  }
  std::string hex = DigestHex(ctx.get());
  if (hex.empty()) return Status(ErrorCode::kInternal, OpensslError("EVP_DigestFinal_ex"));
  return hex;
}

Result<std::string> HashFd(int fd, uint64_t max_bytes) {
  return HashFdUntil(fd, max_bytes, std::chrono::steady_clock::time_point::max());
}

Result<std::string> HashFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return Status(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status(ErrorCode::kIoError, path + ": not a regular file");
  }
  auto h = HashFd(fd.get());
  if (!h.ok()) return Status(h.status().code(), path + ": " + h.status().message());
  return h;
}

}  // namespace edgetrust::guard
