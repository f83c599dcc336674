// The queue's write transactions: one Commit() is one group commit.
//
// A commit, in one SQLite transaction: deletes the acknowledged messages and delivered commands,
// makes room (FullPolicy) and inserts the appended messages with fresh ids and per-leaf sequence
// numbers, inserts the new commands (dropping a leaf's oldest beyond its bound), updates the
// leaves table, and rewrites the meta row with the next generation, counts and set digests. The
// in-memory state (meta(), the leaves' last seqs) changes only when COMMIT succeeded, so a failed
// commit leaves everything as it was.
//
// Nonces: every sealed row uses the next value of a 64-bit counter that only grows in memory and
// is saved in the meta row. A new writer starts kNonceJump past the saved value: the file it
// opened may lack the last commits (a file up to kMaxUncountedCommits generations ahead of the
// counter is accepted after a crash, so an attacker could restore such an older copy), and their
// nonces must not be used again under the same key. Those commits never used kNonceJump nonces.
//
// Sequence numbers: a leaf's first message gets seq_base + 1, then each one the next number; the
// leaves table keeps the last one given. A new queue gets seq_base 0 when it is the first one
// (the secure-domain counter is still 0), else (counter + kMaxUncountedCommits) * kSeqsPerCommit:
// every commit of every earlier queue advanced the counter (all but the last
// kMaxUncountedCommits at least), and one commit gives a leaf at most kSeqsPerCommit numbers, so
// numbers stay unique per leaf even when an earlier queue was quarantined, rolled back or
// removed.
//
// Thread safety: none; the queue's writer thread owns a QueueWriter (and its connection).
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgetrust/status.h"
#include "store/message_queue.h"
#include "store/meta.h"
#include "store/queue_crypto.h"
#include "store/record.h"
#include "store/sqlite_db.h"

namespace edgetrust::store {

inline constexpr uint64_t kNonceJump = uint64_t{1} << 32;
// How far the file's generation may run ahead of the secure-domain counter: a commit is counted
// while the next one is written (docs/store.md, "Commits").
inline constexpr uint64_t kMaxUncountedCommits = 2;
inline constexpr uint64_t kSeqsPerCommit = uint64_t{1} << 20;
// The most messages one commit (and one Append) may hold, so that kSeqsPerCommit holds.
inline constexpr size_t kMaxMessagesPerCommit = size_t{1} << 20;

// seq_base of a queue created while the counter is at `counter`.
inline uint64_t SeqBaseFor(uint64_t counter) {
  return counter == 0 ? 0 : (counter + kMaxUncountedCommits) * kSeqsPerCommit;
}

using LeafSeqs = std::map<std::string, uint64_t, std::less<>>;

struct AppendRequest {
  std::vector<IncomingMessage> messages;
  MessageQueue::AppendDone done;
};

struct CommandRequest {
  std::string leaf;
  std::string subtopic;
  std::string payload;
  int64_t received_ms = 0;
  std::promise<Status> done;
};

struct Batch {
  std::vector<AppendRequest> appends;
  std::vector<CommandRequest*> commands;  // owned by the waiting PutCommand callers
  std::vector<uint64_t> acks;
  std::vector<uint64_t> command_deletes;
  size_t message_count() const;
};

struct CommitResult {
  std::vector<Status> append_status;        // one per append
  std::vector<std::vector<uint64_t>> seqs;  // one per append (empty unless Ok)
  std::vector<Status> command_status;       // one per command
  std::vector<uint64_t> dropped_ids;        // messages deleted to make room
  uint64_t appended = 0;                    // messages inserted
  uint64_t rejected = 0;                    // messages of refused appends
  uint64_t commands_dropped = 0;
  uint64_t messages_deleted = 0;  // by acknowledgements
};

struct WriterLimits {
  uint64_t max_messages = 0;
  uint64_t max_bytes = 0;
  FullPolicy full_policy = FullPolicy::kRejectNew;
  uint32_t max_commands_per_leaf = 0;
};

class QueueWriter {
 public:
  // `db` is configured (ConfigureWriter) and verified; `meta` and `leaves` are what it holds.
  static Result<std::unique_ptr<QueueWriter>> Create(Db db, const QueueKeys& keys, MetaState meta,
                                                     LeafSeqs leaves, WriterLimits limits);

  // Commits with generation `generation` (greater than meta().generation). An error means
  // nothing was committed (the transaction was rolled back).
  Result<CommitResult> Commit(const Batch& batch, uint64_t generation);

  const MetaState& meta() const { return meta_; }
  // received_ms of the oldest stored message, 0 when there is none.
  Result<int64_t> OldestReceivedMs();
  // Writes everything the WAL holds into queue.db and truncates the WAL (at Close).
  void Checkpoint();
  // A checkpoint that does not wait for readers, for when the WAL grew too long.
  void PassiveCheckpoint();
  // Frames in the WAL after the last commit.
  int wal_pages() const { return wal_pages_; }

 private:
  QueueWriter(Db db, const QueueKeys& keys, MetaState meta, LeafSeqs leaves, WriterLimits limits,
              RecordCodec codec, IdPrf prf);
  Status Prepare();
  Status RunTransaction(const Batch& batch, MetaState& next, LeafSeqs& changed, CommitResult& out);
  Status DeleteMessage(uint64_t id, MetaState& next, bool* deleted);
  Status DeleteCommand(uint64_t id, MetaState& next, bool* deleted);
  Status MakeRoom(uint64_t count, uint64_t bytes, MetaState& next, CommitResult& out);
  Status InsertAppend(const AppendRequest& a, MetaState& next, LeafSeqs& changed,
                      std::vector<uint64_t>& seqs);
  Status InsertCommand(const CommandRequest& c, MetaState& next, CommitResult& out);
  Status WriteLeaves(const LeafSeqs& changed, MetaState& next);

  Db db_;
  SecretBytes meta_key_;
  SecretBytes leaves_key_;
  MetaState meta_;
  LeafSeqs leaves_;
  WriterLimits limits_;
  RecordCodec codec_;
  IdPrf prf_;
  uint64_t next_nonce_ = 0;
  int wal_pages_ = 0;
  Bytes sealed_;

  Stmt delete_message_, delete_command_, oldest_, insert_message_, insert_command_, count_commands_,
      oldest_commands_, upsert_leaf_, update_meta_, oldest_ms_;
};

}  // namespace edgetrust::store
