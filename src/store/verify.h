// The check of a whole queue.db at open: every row is read once and must authenticate, and
// together the rows must be exactly the set the meta row describes.
//
// Checked: the leaves table against leaf_count and leaves_digest; every message row's AEAD (which
// binds id, leaf, seq, time and size), its id at most last_message_id, its leaf known with seq in
// 1..last_seq; the messages' count, payload bytes and id digest against the meta row; the same for
// commands. Any difference is kTampered with a message saying what was found; nothing is repaired.
// Memory stays bounded: rows are streamed, only the leaves table is held.
//
// Thread safety: uses the connection it is given (one thread).
#pragma once

#include <cstdint>

#include "edgetrust/status.h"
#include "store/meta.h"
#include "store/queue_crypto.h"
#include "store/sqlite_db.h"
#include "store/writer.h"

namespace edgetrust::store {

struct Verified {
  LeafSeqs leaves;
  int64_t oldest_received_ms = 0;
};

Result<Verified> VerifyDatabase(const Db& db, const QueueKeys& keys, const MetaState& meta);

// The meta row: exactly one, k = 1, that authenticates. kTampered otherwise.
Result<MetaState> ReadMeta(const Db& db, const SecretBytes& meta_key);

}  // namespace edgetrust::store
