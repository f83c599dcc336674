#include "identity/cert_store.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>

#include "common/fd_io.h"
#include "common/files.h"
#include "common/hex.h"
#include "identity/certificate.h"
#include "identity/crash_point.h"

namespace edgetrust::identity {
namespace {

namespace fs = std::filesystem;

constexpr mode_t kDirMode = 0755;
constexpr mode_t kFileMode = 0644;  // certificates and key references are public
constexpr std::string_view kGenPrefix = "gen-";
constexpr size_t kMaxGenerationFile = kMaxCertificateFileSize;

Status IoError(const std::string& what, int err) {
  return Status(ErrorCode::kIoError, what + ": " + ErrnoText(err));
}

std::string RandomSuffix() {
  uint8_t rnd[8] = {};
  if (RAND_bytes(rnd, sizeof rnd) != 1) {
    // Uniqueness only matters against leftovers of this process; the pid keeps names apart.
    return std::to_string(::getpid());
  }
  return HexEncode(rnd);
}

std::string GenName(uint32_t n) { return std::string(kGenPrefix) + std::to_string(n); }

// "gen-N" -> N (N >= 1, no leading zeros, no sign); nullopt for anything else.
std::optional<uint32_t> ParseGenName(std::string_view s) {
  if (!s.starts_with(kGenPrefix)) return std::nullopt;
  s.remove_prefix(kGenPrefix.size());
  if (s.empty() || s.size() > 9 || s[0] == '0') return std::nullopt;
  uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr != s.data() + s.size() || n == 0) return std::nullopt;
  return n;
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), kDirMode) == 0) return FsyncDir(DirName(path));
  if (errno == EEXIST) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
    return Status(ErrorCode::kIoError, path + " exists and is not a folder");
  }
  return IoError("mkdir " + path, errno);
}

// Creates a new file with `data`, fsynced.
Status WriteNewFile(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, kFileMode);
  if (fd < 0) return IoError(path, errno);
  int err = WriteAll(fd, AsBytes(data));
  if (err == 0 && ::fchmod(fd, kFileMode) != 0) err = errno;
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) return IoError(path, err);
  return Status::Ok();
}

Result<std::string> ReadText(const std::string& path) {
  ET_ASSIGN_OR_RETURN(Bytes data, ReadFile(path, kMaxGenerationFile));
  return std::string(data.begin(), data.end());
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return Status(ErrorCode::kIoError, "remove " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

std::string ResolveCertDir(std::string_view flag) {
  if (!flag.empty()) return std::string(flag);
  if (const char* env = std::getenv(kCertDirEnv); env != nullptr && *env != '\0') return env;
  return std::string(kDefaultCertDir);
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

Result<CertStore> CertStore::Open(std::string root, bool create) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty()) return Status(ErrorCode::kInvalidArgument, "certificate folder is empty");
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0) {
    if (errno != ENOENT) return IoError(root, errno);
    if (!create) {
      return Status(ErrorCode::kNotFound,
                    root +
                        ": no certificate folder (run 'edgetrust provision' or pass "
                        "--cert-dir)");
    }
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) return Status(ErrorCode::kIoError, "create " + root + ": " + ec.message());
    if (::chmod(root.c_str(), kDirMode) != 0) return IoError("chmod " + root, errno);
    if (::stat(root.c_str(), &st) != 0) return IoError(root, errno);
  }
  if (!S_ISDIR(st.st_mode)) return Status(ErrorCode::kIoError, root + " is not a folder");
  if ((st.st_mode & 022) != 0) {
    return Status(ErrorCode::kFailedPrecondition,
                  root +
                      " is writable by group or others, who could swap certificates "
                      "(chmod go-w it)");
  }
  return CertStore(std::move(root));
}

Result<Inventory> CertStore::LoadInventory() const {
  auto data = ReadFile(InventoryPath(), kMaxInventorySize);
  if (!data.ok()) {
    if (data.status().code() == ErrorCode::kNotFound) return Inventory{};
    return data.status();
  }
  auto inv =
      ParseInventory(std::string_view(reinterpret_cast<const char*>(data->data()), data->size()));
  if (!inv.ok()) {
    return Status(inv.status().code(), InventoryPath() + ": " + inv.status().message());
  }
  return inv;
}

Status CertStore::SaveInventory(const Inventory& inventory) const {
  ET_RETURN_IF_ERROR(ValidateInventory(inventory));
  return WriteFileAtomic(InventoryPath(), AsBytes(SerializeInventory(inventory)), kFileMode,
                         WriteMode::kReplace);
}

Result<FolderLock> CertStore::Lock() const {
  const std::string path = root_ + "/.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return IoError(path, errno);
  FolderLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status(ErrorCode::kFailedPrecondition,
                    "another edgetrust command is changing " + root_ + " (try again)");
    }
    return IoError("flock " + path, errno);
  }
  return lock;
}

Result<std::optional<uint32_t>> CertStore::CurrentGeneration(std::string_view name) const {
  const std::string link = CurrentDir(name);
  char buf[64];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  if (n < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<uint32_t>();
    if (errno == EINVAL) return Status(ErrorCode::kIoError, link + " is not a symbolic link");
    return IoError(link, errno);
  }
  auto gen = ParseGenName(std::string_view(buf, static_cast<size_t>(n)));
  if (!gen) {
    return Status(ErrorCode::kIoError, link + " points to \"" +
                                           std::string(buf, static_cast<size_t>(n)) +
                                           "\", not to a gen-N folder");
  }
  return std::optional<uint32_t>(*gen);
}

Result<std::vector<uint32_t>> CertStore::Generations(std::string_view name) const {
  std::vector<uint32_t> gens;
  std::error_code ec;
  fs::directory_iterator it(IdentityDir(name), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return gens;
    return Status(ErrorCode::kIoError, IdentityDir(name) + ": " + ec.message());
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return Status(ErrorCode::kIoError, IdentityDir(name) + ": " + ec.message());
    if (auto n = ParseGenName(it->path().filename().string()); n && it->is_directory(ec)) {
      gens.push_back(*n);
    }
  }
  std::sort(gens.begin(), gens.end());
  return gens;
}

Result<Generation> CertStore::LoadGeneration(std::string_view name, uint32_t number) const {
  Generation g;
  g.number = number;
  g.dir = IdentityDir(name) + "/" + GenName(number);
  ET_ASSIGN_OR_RETURN(g.cert_pem, ReadText(g.dir + "/cert.pem"));
  ET_ASSIGN_OR_RETURN(g.chain_pem, ReadText(g.dir + "/chain.pem"));
  ET_ASSIGN_OR_RETURN(g.key_pem, ReadText(g.dir + "/key.pem"));
  ET_ASSIGN_OR_RETURN(auto certs, ParseCertificates(g.cert_pem, g.dir + "/cert.pem"));
  if (certs.size() != 1) {
    return Status(ErrorCode::kInvalidArgument, g.dir + "/cert.pem holds more than one certificate");
  }
  g.cert = std::move(certs[0]);
  ET_ASSIGN_OR_RETURN(g.chain, ParseCertificatesOrEmpty(g.chain_pem, g.dir + "/chain.pem"));
  return g;
}

Result<Generation> CertStore::LoadCurrent(std::string_view name) const {
  ET_ASSIGN_OR_RETURN(std::optional<uint32_t> current, CurrentGeneration(name));
  if (!current) {
    return Status(ErrorCode::kNotFound,
                  "identity " + std::string(name) + " has no current certificate in " + root_);
  }
  return LoadGeneration(name, *current);
}

Status CertStore::CleanUncommitted(std::string_view name) const {
  const std::string dir = IdentityDir(name);
  ET_ASSIGN_OR_RETURN(std::optional<uint32_t> current, CurrentGeneration(name));
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return Status::Ok();
    return Status(ErrorCode::kIoError, dir + ": " + ec.message());
  }
  std::vector<std::string> doomed;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return Status(ErrorCode::kIoError, dir + ": " + ec.message());
    const std::string f = it->path().filename().string();
    auto n = ParseGenName(f);
    if (f.starts_with(kTempPrefix) || (n && (!current || *n > *current))) {
      doomed.push_back(it->path().string());
    }
  }
  for (const auto& p : doomed) ET_RETURN_IF_ERROR(RemoveTree(p));
  if (!doomed.empty()) return FsyncDir(dir);
  return Status::Ok();
}

Status CertStore::WriteGeneration(std::string_view name, uint32_t number, std::string_view cert_pem,
                                  std::string_view chain_pem, std::string_view key_pem) const {
  const std::string dir = IdentityDir(name);
  ET_RETURN_IF_ERROR(MakeDir(dir));
  const std::string tmp =
      dir + "/" + std::string(kTempPrefix) + GenName(number) + "." + RandomSuffix();
  if (::mkdir(tmp.c_str(), kDirMode) != 0) return IoError("mkdir " + tmp, errno);
  ET_RETURN_IF_ERROR(WriteNewFile(tmp + "/cert.pem", cert_pem));
  CrashPoint("cert-written");
  ET_RETURN_IF_ERROR(WriteNewFile(tmp + "/chain.pem", chain_pem));
  ET_RETURN_IF_ERROR(
      WriteNewFile(tmp + "/fullchain.pem", std::string(cert_pem) + std::string(chain_pem)));
  ET_RETURN_IF_ERROR(WriteNewFile(tmp + "/key.pem", key_pem));
  ET_RETURN_IF_ERROR(FsyncDir(tmp));
  CrashPoint("generation-written");
  const std::string final_dir = dir + "/" + GenName(number);
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_NOREPLACE) != 0) {
    const int err = errno;
    (void)RemoveTree(tmp);
    if (err == EEXIST || err == ENOTEMPTY) {
      return Status(ErrorCode::kAlreadyExists, final_dir + " exists");
    }
    return IoError("rename " + tmp, err);
  }
  ET_RETURN_IF_ERROR(FsyncDir(dir));
  CrashPoint("generation-committed");
  return Status::Ok();
}

Status CertStore::SwitchCurrent(std::string_view name, uint32_t number) const {
  const std::string dir = IdentityDir(name);
  const std::string tmp = dir + "/" + std::string(kTempPrefix) + "current." + RandomSuffix();
  // A relative target, so the folder can be moved or bind-mounted elsewhere.
  if (::symlink(GenName(number).c_str(), tmp.c_str()) != 0) return IoError("symlink " + tmp, errno);
  CrashPoint("link-created");
  if (::rename(tmp.c_str(), CurrentDir(name).c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return IoError("rename to " + CurrentDir(name), err);
  }
  CrashPoint("current-switched");
  return FsyncDir(dir);
}

Status CertStore::RemoveGeneration(std::string_view name, uint32_t number) const {
  const std::string dir = IdentityDir(name);
  const std::string path = dir + "/" + GenName(number);
  // Renamed away first: a crash halfway through deleting leaves a ".tmp." leftover, never a
  // half-empty gen-N that looks committed.
  const std::string doomed =
      dir + "/" + std::string(kTempPrefix) + "old-" + GenName(number) + "." + RandomSuffix();
  if (::rename(path.c_str(), doomed.c_str()) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return IoError("rename " + path, errno);
  }
  ET_RETURN_IF_ERROR(FsyncDir(dir));
  ET_RETURN_IF_ERROR(RemoveTree(doomed));
  return Status::Ok();
}

}  // namespace edgetrust::identity
