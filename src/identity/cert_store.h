// The certificate folder: where tracked identities' certificates live, and how a new generation
// replaces the current one without a reader ever seeing a mismatched certificate and key.
//
//   <cert-dir>/inventory.json           policy of every tracked identity (inventory.h)
//   <cert-dir>/.lock                    held by commands that change the folder
//   <cert-dir>/trust/<purpose>.pem      trust bundles (trust_store.h)
//   <cert-dir>/NAME/gen-N/cert.pem      the certificate
//   <cert-dir>/NAME/gen-N/chain.pem     the certificates above it (empty for a self-signed CA)
//   <cert-dir>/NAME/gen-N/fullchain.pem cert.pem then chain.pem (nginx, mosquitto certfile)
//   <cert-dir>/NAME/gen-N/key.pem       an EDGETRUST KEY reference to its secure-domain key
//   <cert-dir>/NAME/current -> gen-N    the generation in use
//
// A generation is written into a temporary folder, every file and the folder fsynced, then
// renamed to gen-N (and the identity folder fsynced); only then is `current` switched, by
// creating a new symlink under a temporary name and rename(2)-ing it over `current`, which is
// atomic, then fsyncing the folder. A crash at any point leaves `current` at the old complete
// generation or the new complete one. Leftovers (".tmp.*", a gen-N newer than current) are
// removed by the next writer (CleanUncommitted). Readers resolve `current` once and read every
// file from the generation it names (LoadCurrent), so they cannot mix two generations.
//
// Errors: kNotFound for an identity with no current generation, kIoError for file system
// failures, kInvalidArgument for files that do not parse. Thread safety: a CertStore is a value;
// writers across processes serialise with Lock().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"
#include "identity/inventory.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {

inline constexpr std::string_view kDefaultCertDir = "/var/lib/edgetrust/certs";
inline constexpr char kCertDirEnv[] = "EDGETRUST_CERT_DIR";

// `flag` if set, else $EDGETRUST_CERT_DIR, else kDefaultCertDir.
std::string ResolveCertDir(std::string_view flag);

struct Generation {
  uint32_t number = 0;
  std::string dir;
  std::string cert_pem;
  std::string chain_pem;
  std::string key_pem;
  X509Ptr cert;
  std::vector<X509Ptr> chain;
};

// An exclusive advisory lock on <cert-dir>/.lock, released on destruction.
class FolderLock {
 public:
  explicit FolderLock(int fd) : fd_(fd) {}
  ~FolderLock();
  FolderLock(FolderLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FolderLock& operator=(FolderLock&&) = delete;
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_;
};

class CertStore {
 public:
  // Opens the folder; with `create` it is made (mode 0755, with its parents) when missing.
  // kFailedPrecondition if it is writable by group or others: anyone who can write it could
  // swap certificates.
  static Result<CertStore> Open(std::string root, bool create);

  const std::string& root() const { return root_; }
  std::string InventoryPath() const { return root_ + "/inventory.json"; }
  std::string TrustDir() const { return root_ + "/trust"; }
  std::string IdentityDir(std::string_view name) const { return root_ + "/" + std::string(name); }
  std::string CurrentDir(std::string_view name) const { return IdentityDir(name) + "/current"; }

  // A missing file is an empty inventory.
  Result<Inventory> LoadInventory() const;
  Status SaveInventory(const Inventory& inventory) const;

  // kFailedPrecondition if another process holds it (the lock is never waited for, so a hung
  // command cannot stall a renewal timer silently).
  Result<FolderLock> Lock() const;

  // The generation `current` points to; nullopt when there is no `current`.
  Result<std::optional<uint32_t>> CurrentGeneration(std::string_view name) const;
  // Committed generation folders (gen-N), ascending.
  Result<std::vector<uint32_t>> Generations(std::string_view name) const;
  Result<Generation> LoadGeneration(std::string_view name, uint32_t number) const;
  Result<Generation> LoadCurrent(std::string_view name) const;

  // Removes temporary leftovers and generations newer than `current` (never committed).
  Status CleanUncommitted(std::string_view name) const;
  // Writes gen-N completely (see the file comment); kAlreadyExists if it exists.
  Status WriteGeneration(std::string_view name, uint32_t number, std::string_view cert_pem,
                         std::string_view chain_pem, std::string_view key_pem) const;
  // Points `current` at gen-N atomically.
  Status SwitchCurrent(std::string_view name, uint32_t number) const;
  Status RemoveGeneration(std::string_view name, uint32_t number) const;

 private:
  explicit CertStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace edgetrust::identity
