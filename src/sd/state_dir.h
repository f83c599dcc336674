// The daemon's state folder: the device root key, the key objects, and a lock.
//
//   DIR/            0700, owned by the daemon's user
//   DIR/lock        flock()ed while a daemon uses the folder (one daemon per folder)
//   DIR/root.key    0600: "ETRK" | format u8 | 32 random bytes, created on first start
//   DIR/keys/       one authenticated-encrypted file per key (object_store.h)
//
// The root key never leaves this class except as keys derived from it with HKDF (one per purpose),
// so a leaked derived key does not reveal the root. A folder that holds key objects but no root key
// is refused rather than given a fresh root key that would orphan every stored object.
#pragma once

#include <memory>
#include <string>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::sd {

class StateDir {
 public:
  static Result<std::unique_ptr<StateDir>> Open(const std::string& path);
  ~StateDir();
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;

  const std::string& path() const { return path_; }
  std::string keys_dir() const { return path_ + "/keys"; }
  bool root_key_created() const { return root_key_created_; }
  // HKDF-SHA256(root key, info = purpose), 32 bytes.
  Result<SecretBytes> DeriveKey(std::string_view purpose) const;

 private:
  StateDir() = default;
  std::string path_;
  int lock_fd_ = -1;
  SecretBytes root_key_;
  bool root_key_created_ = false;
};

}  // namespace edgetrust::sd
