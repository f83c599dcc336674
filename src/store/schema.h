// The tables of queue.db, how a fresh file is made, how connections are configured, and the
// check that an existing file holds exactly our schema (docs/store.md, "Files and tables").
//
//   meta(k, v)                         one row (k = 1): the authenticated state (meta.h)
//   leaves(name, last_seq)             the last sequence number given to each leaf
//   messages(id, leaf, seq, received_ms, size, sealed)
//   commands(id, leaf, received_ms, sealed), index commands_by_leaf(leaf, id)
//
// Thread safety: functions of a connection; the caller owns it. Errors: kTampered for a file
// whose schema is not ours, kAlreadyExists when CreateDatabase finds a file, kIoError otherwise.
#pragma once

#include <string>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "store/sqlite_db.h"

namespace edgetrust::store {

// The writer: WAL, synchronous=FULL (a commit is durable when it returns), a bounded page cache.
Status ConfigureWriter(Db& db);
// The checkpointer (checkpointer.h): synchronous=FULL, so a checkpoint fsyncs what it copied.
Status ConfigureCheckpointer(Db& db);
// Readers: query_only, a smaller page cache.
Status ConfigureReader(Db& db);

// Creates `path` (mode 0600, failing if it exists) in WAL mode with every table and the meta row
// `meta`, all in one transaction: after a crash the file is either empty or complete.
Status CreateDatabase(const std::string& path, ByteView meta);

enum class SchemaState {
  kEmpty,     // no tables at all: a creation that never committed
  kComplete,  // exactly our tables and index
};
Result<SchemaState> CheckSchema(const Db& db);

}  // namespace edgetrust::store
