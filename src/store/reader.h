// Reads committed messages and commands back out of queue.db for delivery, decrypting and
// authenticating each row again (the file may have been changed since it was verified at open).
//
// A row that fails authentication is skipped, never delivered: it is counted (failures()) and
// described in a notice (TakeNotices()), and the next open reports the file as tampered.
//
// Thread safety: none; the queue serialises its use with a mutex. The connection is opened
// query_only and reads in WAL mode, so it never blocks the writer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "edgetrust/status.h"
#include "store/message_queue.h"
#include "store/queue_crypto.h"
#include "store/record.h"
#include "store/sqlite_db.h"

namespace edgetrust::store {

class QueueReader {
 public:
  static Result<std::unique_ptr<QueueReader>> Create(Db db, const QueueKeys& keys);

  // The message with this id, or nullopt when there is none (or it does not authenticate).
  Result<std::optional<StoredMessage>> ReadMessage(uint64_t id);
  // Appends up to `max` messages with from < id <= to, oldest first, stopping early once their
  // payloads reach `max_bytes` (at least one message is read). Returns the id up to which the
  // range was read: `to` when it was exhausted, else the last id read.
  Result<uint64_t> ReadRange(uint64_t from, uint64_t to, size_t max, size_t max_bytes,
                             std::vector<StoredMessage>& out);
  // Appends up to `max` of the leaf's commands, oldest first, leaving out the ids in `skip`.
  Status ReadCommands(std::string_view leaf, size_t max, const std::unordered_set<uint64_t>& skip,
                      std::vector<StoredCommand>& out);

  uint64_t failures() const { return failures_; }
  std::vector<std::string> TakeNotices();

 private:
  QueueReader(Db db, RecordCodec codec) : db_(std::move(db)), codec_(std::move(codec)) {}
  Status Prepare();
  // Decodes the current row of a messages statement; false when it does not authenticate.
  bool DecodeMessage(const Stmt& st, StoredMessage& out);
  void Failed(const std::string& what);

  Db db_;
  RecordCodec codec_;
  Stmt by_id_, range_, commands_;
  uint64_t failures_ = 0;
  std::vector<std::string> notices_;
};

}  // namespace edgetrust::store
