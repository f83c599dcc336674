// The secure domain's store of key objects: one authenticated-encrypted file per key.
//
// Record layout (docs/architecture.md, "State folder"):
//   "ETKO" | format u8 (=1) | key type u8 | created u64 | owner len u16 | owner | name len u16 |
//   name | flags u32 | nonce(12) | ciphertext | tag(16)
// Everything before the nonce is the AEAD's associated data, so the owner, name, type and
// attributes are bound to the key material: a flipped byte fails authentication. The file name is
// a hash of (owner, name); a record found under another file name was renamed or swapped, which is
// reported as tampering just the same. Writes go through WriteFileAtomic (crash-safe).
//
// Thread safety: ObjectStore methods may be called concurrently; each works on whole files and
// creation is atomic (no-replace rename), so racing creators of one name get kAlreadyExists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"

namespace edgetrust::sd {

inline constexpr size_t kMaxRecordSize = 64 * 1024;

struct ObjectHeader {
  std::string owner;
  std::string name;
  KeyType type = KeyType::kEcdsaP256;
  uint64_t created = 0;
  uint32_t flags = 0;  // reserved for key attributes; must be 0 in format 1
};

// The parts of a record file, before authentication. Views point into the parsed buffer.
struct ParsedRecord {
  ObjectHeader header;
  ByteView associated_data;  // everything before the nonce
  ByteView sealed;           // nonce | ciphertext | tag
};

// Structural parse of a record; nothing in it is trusted until OpenRecord succeeds.
Result<ParsedRecord> ParseRecord(ByteView file);
Result<Bytes> SealRecord(const ObjectHeader& header, ByteView material,
                         const SecretBytes& storage_key);
// Authenticates and decrypts. kTampered when authentication fails.
Result<SecretBytes> OpenRecord(const ParsedRecord& record, const SecretBytes& storage_key);
// "<40 hex>.key", from SHA-256 of owner and name.
std::string RecordFileName(std::string_view owner, std::string_view name);

class ObjectStore {
 public:
  ObjectStore(std::string dir, SecretBytes storage_key);

  // kAlreadyExists if the (owner, name) exists.
  Status Create(const ObjectHeader& header, ByteView material);
  // kNotFound, or kTampered naming what is wrong.
  Result<std::pair<ObjectHeader, SecretBytes>> Load(std::string_view owner,
                                                    std::string_view name) const;
  Status Remove(std::string_view owner, std::string_view name);
  bool Exists(std::string_view owner, std::string_view name) const;

  struct ScanEntry {
    std::string file;
    std::optional<ObjectHeader> header;  // absent when the file does not even parse
    bool authentic = false;              // decrypted, and stored under its own file name
    std::string problem;                 // why not authentic
  };
  // Every object file, each authenticated. Temporary files are skipped.
  Result<std::vector<ScanEntry>> Scan() const;
  // Objects whose (unauthenticated) header names `owner` and whose file name fits it: cheap
  // enough for status displays, not a security decision.
  size_t CountOwnedBy(std::string_view owner) const;
  // Number of object files (not authenticated).
  size_t Count() const;
  const std::string& dir() const { return dir_; }

 private:
  std::string PathOf(std::string_view owner, std::string_view name) const;
  std::string dir_;
  SecretBytes storage_key_;
};

}  // namespace edgetrust::sd
