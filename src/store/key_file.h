// DIR/queue.key: the queue's data key, sealed by the secure domain (Client::Seal, so only this
// secure domain and this principal can open it).
//
// What is sealed: "ETQK" | format u8 (=1) | initial_generation u64 BE | data key (32).
// `initial_generation` is the secure-domain counter's value when the queue was created; it tells
// an interrupted creation (nothing was ever committed, the counter has not moved) from a database
// that was removed later.
//
// Thread safety: plain values and functions. Errors: kMalformed for a plaintext of the wrong
// layout.
#pragma once

#include <cstdint>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::store {

struct DataKey {
  SecretBytes key;
  uint64_t initial_generation = 0;
};

inline constexpr size_t kKeyPlainSize = 4 + 1 + 8 + 32;
// A sealed queue.key is a few dozen bytes more than its plaintext; anything far larger is not one.
inline constexpr size_t kMaxKeyFileSize = 4096;

SecretBytes EncodeKeyPlain(const DataKey& key);
Result<DataKey> DecodeKeyPlain(ByteView plain);

}  // namespace edgetrust::store
