// Monotonic counters of the tpm backend: one TPM NV counter index (TPMA_NV_COUNTER, owner
// authorisation) per counter, in the index range kNvBase .. kNvBase + kNvRange - 1.
//
// The mapping (owner, name) -> (NV index, initial value) is one authenticated record per counter
// in STATE/tpm-counters/ (an ObjectStore of its own, so records bind owner and name and are
// written crash-safely, no-replace). An NV counter starts at the highest value any counter of the
// TPM ever had, so the record keeps the value at creation and a counter reads value - initial:
// 0 right after CounterCreate, like the emulated backend.
//
// Each index carries a label in its authPolicy, HMAC-SHA256(label key, owner 0x00 name), never
// used for authorisation: it tells this state folder's counters from anyone else's, and lets a
// counter whose record was deleted be found again (CounterCreate adopts it: it continues at its
// raw TPM value, with a notice) instead of restarting at 0. docs/tpm.md, "Monotonic counters".
//
// Thread safety: all methods may be called concurrently (one mutex over creation; TPM commands
// go through the TPM lock).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "sd/backend.h"
#include "sd/object_store.h"
#include "sd/tpm/tpm_context.h"

namespace edgetrust::sd::tpm {

inline constexpr uint32_t kNvBase = 0x013E0000;  // in the TPM owner's NV range (TCG registry)
inline constexpr uint32_t kNvRange = 0x1000;     // 4096 indexes
inline constexpr uint32_t kMaxProbes = 256;

class TpmCounters {
 public:
  // At most 256 bytes (the wire field's limit).
  static constexpr std::string_view kProtection =
      "tpm: TPM NV counters; the TPM never lets a value go back, so restoring or deleting files "
      "of the state folder cannot roll a counter back; not covered: TPM2_Clear or undefining the "
      "NV index with owner auth (the counter is then tampered, never lower)";

  // `dir` is created if missing.
  static Result<std::unique_ptr<TpmCounters>> Open(TpmContext& tpm, const std::string& dir,
                                                   SecretBytes record_key, SecretBytes label_key);

  Result<uint64_t> Create(const KeyId& id, uint64_t now);
  Result<uint64_t> Increment(const KeyId& id);
  Result<uint64_t> Read(const KeyId& id);

  ObjectStore& store() { return *store_; }
  std::vector<std::string> notices() const;

 private:
  struct Mapping {
    uint32_t index = 0;
    uint64_t initial = 0;
  };
  TpmCounters(TpmContext& tpm, std::unique_ptr<ObjectStore> store, SecretBytes label_key)
      : tpm_(tpm), store_(std::move(store)), label_key_(std::move(label_key)) {}
  Result<Bytes> Label(const KeyId& id) const;
  Result<Mapping> Lookup(const KeyId& id);
  // Reads (and with `increment`, first increments) the counter at m.index, checking its label.
  Result<uint64_t> Access(const KeyId& id, const Mapping& m, bool increment);
  Result<uint64_t> AccessIn(Session& s, const KeyId& id, const Mapping& m, ByteView label,
                            bool increment);

  TpmContext& tpm_;
  std::unique_ptr<ObjectStore> store_;
  const SecretBytes label_key_;
  std::mutex create_mu_;   // serialises Create
  mutable std::mutex mu_;  // cache_ and notices_
  std::map<std::pair<std::string, std::string>, Mapping> cache_;
  std::vector<std::string> notices_;
};

}  // namespace edgetrust::sd::tpm
