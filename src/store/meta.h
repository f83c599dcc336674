// The meta row of queue.db: the queue's authenticated state, rewritten by every commit.
//
//   "ETQM" | format u8 (=1) | generation u64 | last_message_id u64 | message_count u64 |
//   message_bytes u64 | message_digest (16) | last_command_id u64 | command_count u64 |
//   command_digest (16) | leaf_count u64 | leaves_digest (32) | next_nonce u64 | seq_base u64 |
//   HMAC-SHA256 under the meta key of everything before it (32)
// (integers big-endian). The digests are the set digests of queue_crypto.h over the ids of the
// stored messages, the ids of the stored commands and the (leaf, last_seq) entries of the leaves
// table. With the counts they pin down exactly which rows the file must hold, so a deleted,
// re-inserted or replaced row is found at open. `generation` grows by one per commit and is
// compared with the secure domain's counter (rollback detection). `seq_base` is the sequence
// number before the first one a new leaf gets (writer.h, "Sequence numbers").
//
// Thread safety: plain values and functions.
#pragma once

#include <cstdint>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "store/queue_crypto.h"

namespace edgetrust::store {

struct MetaState {
  uint64_t generation = 0;
  uint64_t last_message_id = 0;
  uint64_t message_count = 0;
  uint64_t message_bytes = 0;
  SetDigest message_digest{};
  uint64_t last_command_id = 0;
  uint64_t command_count = 0;
  SetDigest command_digest{};
  uint64_t leaf_count = 0;
  Mac256 leaves_digest{};
  uint64_t next_nonce = 0;
  uint64_t seq_base = 0;

  bool operator==(const MetaState&) const = default;
};

inline constexpr size_t kMetaSize = 4 + 1 + 8 * 4 + 16 + 8 * 2 + 16 + 8 + 32 + 8 + 8 + 32;

Result<Bytes> EncodeMeta(const MetaState& state, const SecretBytes& meta_key);
// kMalformed when the layout is wrong (size, magic, format), kTampered when the MAC does not
// verify.
Result<MetaState> DecodeMeta(ByteView data, const SecretBytes& meta_key);

}  // namespace edgetrust::store
