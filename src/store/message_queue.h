// The gateway's durable, encrypted store-and-forward queue (docs/store.md).
//
// Messages from leaf sensors are appended here before the gateway acknowledges them to the leaf,
// and leave only when the cloud acknowledged them. Commands for leaves (cloud -> leaf) wait here
// while their leaf is offline. Everything lives in one SQLite database in WAL mode, DIR/queue.db:
//
//  - Durable: one writer thread does group commit. It takes everything appended since its last
//    commit (up to max_batch messages), writes it in one transaction and commits with
//    synchronous=FULL (one WAL fsync); an anchor thread has the secure-domain counter count the
//    commit and then runs the callbacks (while the writer goes on with the next commit). While a
//    commit runs new appends gather, so batches grow with load. A callback's Ok means the
//    messages survive kill -9 and power loss.
//  - Encrypted and authenticated at rest: every row is AES-256-GCM under a data key that exists on
//    disk only sealed by the secure domain (DIR/queue.key), bound to its id, leaf, seq and time.
//  - Tamper and rollback evident: an authenticated meta row pins down exactly which rows the file
//    holds, and its generation is anchored in a secure-domain monotonic counter
//    ("queue-generation") that every commit advances. Open finds a changed, deleted or re-inserted
//    row, a removed key or database, and a restored older copy, and never replays them.
//  - Bounded: max_messages / max_bytes with a FullPolicy, max_commands_per_leaf, and memory that
//    does not grow with the queue's length (Take reads from SQLite; only ids in flight and the
//    not yet committed appends are held in memory, the latter bounded by max_pending_bytes).
//  - Messages carry (leaf, seq): per-leaf sequence numbers from 1, persistent and never reused, so
//    the cloud side can drop duplicates (delivery is at least once).
//
// Thread safety: every method may be called from any thread at any time (leaf connection threads
// append, the cloud link takes and acknowledges). Callbacks run on the queue's anchor thread; they
// must be quick and must not call Close() or destroy the queue.
// Ownership: Open returns the only owner; the destructor closes.
// Errors: Open reports kUnavailable when edgetrust-sd cannot be reached, kTampered with what was
// found (unless quarantine_on_tamper), kFailedPrecondition when another process has the queue
// open, kIoError for file system trouble.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::store {

struct IncomingMessage {
  std::string leaf;      // 1..256 bytes, no control characters
  std::string subtopic;  // at most 1024 bytes
  std::string payload;   // at most 1 MiB
  int64_t received_ms = 0;
};

struct StoredMessage {
  uint64_t id = 0;
  std::string leaf;
  uint64_t seq = 0;
  std::string subtopic;
  std::string payload;
  int64_t received_ms = 0;
};

struct StoredCommand {
  uint64_t id = 0;
  std::string leaf;
  std::string subtopic;
  std::string payload;
  int64_t received_ms = 0;
};

enum class FullPolicy {
  kRejectNew,   // an append that does not fit fails with kResourceExhausted; nothing is dropped
  kDropOldest,  // the oldest stored messages are deleted to make room (counted in dropped_total)
};

struct QueueOptions {
  std::string dir;        // holds queue.db (+ -wal, -shm), queue.key and queue.lock; created 0700
  std::string sd_socket;  // edgetrust-sd socket ("" = the client's default)
  uint64_t max_messages = 1'000'000;
  uint64_t max_bytes = 256ull << 20;  // sum of the stored payloads' sizes
  FullPolicy full_policy = FullPolicy::kRejectNew;
  uint32_t max_batch = 4096;        // messages per commit (an append is never split)
  uint32_t max_batch_delay_us = 0;  // how long the writer may wait for a batch to fill
  uint32_t max_commands_per_leaf = 1000;
  bool quarantine_on_tamper = false;  // rename the evidence away and start a fresh queue
  // Appended but not yet committed (payload + subtopic + leaf + 64 bytes a message); an append
  // beyond it fails at once with kResourceExhausted, so a stalled disk cannot exhaust memory.
  uint64_t max_pending_bytes = 8ull << 20;
};

struct QueueStats {
  uint64_t depth = 0;                   // stored messages (delivered-but-unacknowledged included)
  uint64_t bytes = 0;                   // their payload bytes
  uint64_t inflight = 0;                // taken and neither acknowledged nor returned
  int64_t oldest_received_ms = 0;       // of the oldest stored message; 0 if empty
  uint64_t appended_total = 0;          // messages durably stored
  uint64_t acked_total = 0;             // acknowledgements received
  uint64_t dropped_total = 0;           // messages deleted by FullPolicy::kDropOldest
  uint64_t rejected_total = 0;          // messages refused (full, invalid, write errors, closed)
  uint64_t commits_total = 0;           // committed transactions
  uint64_t last_batch_size = 0;         // messages in the last committed transaction
  double commit_seconds_total = 0;      // time spent committing (transaction, fsync, counter)
  uint64_t commands = 0;                // stored commands
  uint64_t commands_dropped_total = 0;  // oldest commands deleted by max_commands_per_leaf
  uint64_t unreadable_total = 0;        // rows that failed authentication after open (skipped)
  uint64_t anchor_failures_total = 0;   // failed attempts to advance the secure-domain counter
};

class MessageQueue {
 public:
  // Opens (or creates) the queue in options.dir, verifying every stored row.
  static Result<std::unique_ptr<MessageQueue>> Open(const QueueOptions& options);
  ~MessageQueue();  // Close()
  MessageQueue(const MessageQueue&) = delete;
  MessageQueue& operator=(const MessageQueue&) = delete;

  using AppendDone = std::function<void(const Status&, const std::vector<uint64_t>& seqs)>;
  // Queues a batch for the next group commit; `done` runs on the queue's thread after the batch is
  // durable (Ok, with the per-leaf seqs assigned, in batch order) or refused as a whole
  // (kResourceExhausted when full or too much is pending, kInvalidArgument / kTooLarge for a bad
  // message, kIoError...). After Close(), `done` runs at once on the caller's thread with
  // kFailedPrecondition.
  void Append(std::vector<IncomingMessage> batch, AppendDone done);

  // For the cloud link: up to `max` messages that are neither acknowledged nor in flight, oldest
  // first, waiting up to `wait` when there are none; marks them in flight. Returns early (maybe
  // empty) after Wake() or Close(). At most kMaxTakeMessages messages, and no more once their
  // payloads reach kMaxTakeBytes, per call.
  static constexpr size_t kMaxTakeMessages = 65536;
  static constexpr size_t kMaxTakeBytes = 16u << 20;
  std::vector<StoredMessage> Take(size_t max, std::chrono::milliseconds wait);
  // The cloud has it: delete (batched into the writer's next transaction; a delete lost in a
  // crash means a duplicate, which (leaf, seq) lets the cloud drop).
  void Ack(uint64_t id);
  // Link lost: these in-flight messages become deliverable again, before any younger one.
  void Return(const std::vector<uint64_t>& ids);
  // Makes a waiting Take return now (or the next one, when none is waiting).
  void Wake();

  // Stores a command for `leaf`; durable when it returns Ok. When the leaf already has
  // max_commands_per_leaf commands, its oldest is dropped.
  Status PutCommand(std::string_view leaf, std::string_view subtopic, std::string_view payload,
                    int64_t received_ms);
  // Up to `max` (at most kMaxTakeMessages) of the leaf's stored commands, oldest first, until
  // CommandDelivered.
  std::vector<StoredCommand> PendingCommands(std::string_view leaf, size_t max);
  void CommandDelivered(uint64_t id);

  QueueStats Stats() const;
  // What Open found (rollback, tampering, recovery) and what went wrong since; for the log and
  // `edgetrust status`.
  std::vector<std::string> Notices() const;
  // Commits what is pending, stops the writer, closes the files; idempotent.
  void Close();

  class Impl;

 private:
  explicit MessageQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgetrust::store
