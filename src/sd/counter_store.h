// Monotonic counters of the emulated backend, kept in two authenticated-encrypted copies.
//
//   DIR/counters.dat     every counter: (owner, name, value, created), and a generation number
//   DIR/counters.anchor  the same table, written after counters.dat on every change
//
// Each file: "ETCT" | format u8 (=1) | role u8 ('D' or 'A') | generation u64 BE | nonce (12) |
// AES-256-GCM ciphertext of the table | tag (16); the bytes before the nonce are the associated
// data. The generation grows by one with every change, so at start-up the two copies tell what
// happened:
//   - equal generations: all is well;
//   - counters.dat one ahead: a crash between the two writes; the anchor is brought up to date;
//   - counters.dat behind the anchor, missing or failing authentication: an older copy was
//     restored (or the file was deleted or damaged); the counters are recovered from the anchor,
//     never going backwards, and the event is reported (notices());
//   - the anchor behind by more than one, missing or damaged: reported, and rewritten.
// What this cannot catch: restoring both files (or the whole state folder) from the same older
// copy. Only hardware (the tpm backend's NV counters) can; kProtection says so, and
// `edgetrust info` shows it.
//
// Thread safety: all methods may be called concurrently (one mutex; changes are rare and each
// one is two durable writes).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::sd {

inline constexpr size_t kMaxCounters = 4096;
inline constexpr size_t kMaxCountersPerPrincipal = 256;

class CounterStore {
 public:
  static constexpr std::string_view kProtection =
      "emulated: a restore, deletion or corruption of counters.dat or of counters.anchor alone "
      "is detected, reported and repaired without going backwards; restoring both files (or the "
      "whole state folder) from one older copy is not detected";

  // Loads and reconciles both copies. Fails only when the folder cannot be read; a state that
  // cannot be trusted leaves the store unusable (every call kTampered) and says why in notices().
  static Result<std::unique_ptr<CounterStore>> Open(const std::string& dir,
                                                    SecretBytes storage_key);

  // kAlreadyExists, kResourceExhausted (too many counters), kIoError.
  Result<uint64_t> Create(std::string_view owner, std::string_view name, uint64_t now);
  // kNotFound, kResourceExhausted at 2^64-1, kIoError.
  Result<uint64_t> Increment(std::string_view owner, std::string_view name);
  Result<uint64_t> Read(std::string_view owner, std::string_view name) const;

  // What start-up found and did, for the log and `edgetrust info`; empty when all was well.
  std::vector<std::string> notices() const;

  struct Entry {
    uint64_t value = 0;
    uint64_t created = 0;
  };
  using Table = std::map<std::pair<std::string, std::string>, Entry, std::less<>>;

  // The file format, exposed for tests and the fuzz target.
  static Bytes EncodeFile(const Table& table, uint64_t generation, char role,
                          const SecretBytes& key);
  struct Decoded {
    Table table;
    uint64_t generation = 0;
  };
  // kTampered when authentication fails, kMalformed when the structure is wrong.
  static Result<Decoded> DecodeFile(ByteView file, char role, const SecretBytes& key);

 private:
  CounterStore(std::string dir, SecretBytes key) : dir_(std::move(dir)), key_(std::move(key)) {}
  Status Reconcile();
  // Writes counters.dat then counters.anchor with `generation`; *data_written tells whether
  // counters.dat was replaced (even when the anchor then failed).
  Status Persist(const Table& table, uint64_t generation, bool* data_written);
  Status Usable() const;

  const std::string dir_;
  const SecretBytes key_;
  mutable std::mutex mu_;
  Table table_;
  uint64_t generation_ = 0;
  bool broken_ = false;
  std::vector<std::string> notices_;
};

}  // namespace edgetrust::sd
