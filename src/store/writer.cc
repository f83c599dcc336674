#include "store/writer.h"

#include <algorithm>
#include <limits>

namespace edgetrust::store {
namespace {

constexpr int64_t kDropChunk = 256;

Status Full(const std::string& what) { return Status(ErrorCode::kResourceExhausted, what); }

// Steps a statement that returns no rows (or whose rows do not matter) to its end.
Status Run(Stmt& st) {
  StmtReset reset(st);
  for (;;) {
    ET_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
  }
}

int64_t AsInt(uint64_t v) {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? -1  // matches no row: ids and sizes stored are never negative
             : static_cast<int64_t>(v);
}

}  // namespace

size_t Batch::message_count() const {
  size_t n = 0;
  for (const auto& a : appends) n += a.messages.size();
  return n;
}

QueueWriter::QueueWriter(Db db, const QueueKeys& keys, MetaState meta, LeafSeqs leaves,
                         WriterLimits limits, RecordCodec codec, IdPrf prf)
    : db_(std::move(db)),
      meta_key_(keys.meta.Clone()),
      leaves_key_(keys.leaves.Clone()),
      meta_(meta),
      leaves_(std::move(leaves)),
      limits_(limits),
      codec_(std::move(codec)),
      prf_(std::move(prf)),
      next_nonce_(meta.next_nonce + kNonceJump) {}

Result<std::unique_ptr<QueueWriter>> QueueWriter::Create(Db db, const QueueKeys& keys,
                                                         MetaState meta, LeafSeqs leaves,
                                                         WriterLimits limits) {
  if (meta.next_nonce > std::numeric_limits<uint64_t>::max() - 2 * kNonceJump) {
    return Status(ErrorCode::kResourceExhausted, "the queue's nonce space is used up");
  }
  ET_ASSIGN_OR_RETURN(RecordCodec codec, RecordCodec::Create(keys.aead));
  ET_ASSIGN_OR_RETURN(IdPrf prf, IdPrf::Create(keys.set));
  std::unique_ptr<QueueWriter> w(new QueueWriter(std::move(db), keys, meta, std::move(leaves),
                                                 limits, std::move(codec), std::move(prf)));
  ET_RETURN_IF_ERROR(w->Prepare());
  return w;
}

Status QueueWriter::Prepare() {
  // Replaces SQLite's automatic checkpoint (checkpointer.h): only the WAL's length is noted.
  sqlite3_wal_hook(
      db_.get(),
      [](void* self, sqlite3*, const char*, int pages) {
        static_cast<QueueWriter*>(self)->wal_pages_ = pages;
        return SQLITE_OK;
      },
      this);
  struct Spec {
    Stmt* stmt;
    const char* sql;
  };
  const Spec specs[] = {
      {&delete_message_, "DELETE FROM messages WHERE id = ?1 RETURNING size"},
      {&delete_command_, "DELETE FROM commands WHERE id = ?1 RETURNING id"},
      {&oldest_, "SELECT id FROM messages ORDER BY id LIMIT ?1"},
      {&insert_message_,
       "INSERT INTO messages(id, leaf, seq, received_ms, size, sealed) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
      {&insert_command_,
       "INSERT INTO commands(id, leaf, received_ms, sealed) VALUES(?1, ?2, ?3, ?4)"},
      {&count_commands_, "SELECT COUNT(*) FROM commands WHERE leaf = ?1"},
      {&oldest_commands_, "SELECT id FROM commands WHERE leaf = ?1 ORDER BY id LIMIT ?2"},
      {&upsert_leaf_,
       "INSERT INTO leaves(name, last_seq) VALUES(?1, ?2) "
       "ON CONFLICT(name) DO UPDATE SET last_seq = excluded.last_seq"},
      {&update_meta_, "UPDATE meta SET v = ?1 WHERE k = 1"},
      {&oldest_ms_, "SELECT received_ms FROM messages ORDER BY id LIMIT 1"},
  };
  for (const auto& s : specs) {
    ET_ASSIGN_OR_RETURN(*s.stmt, Stmt::Prepare(db_, s.sql));
  }
  return Status::Ok();
}

Result<CommitResult> QueueWriter::Commit(const Batch& batch, uint64_t generation) {
  if (next_nonce_ > std::numeric_limits<uint64_t>::max() - kNonceJump) {
    return Status(ErrorCode::kResourceExhausted, "the queue's nonce space is used up");
  }
  if (generation <= meta_.generation) {
    return Status(ErrorCode::kInternal, "a commit must advance the generation");
  }
  MetaState next = meta_;
  next.generation = generation;
  LeafSeqs changed;
  CommitResult out;
  ET_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  Status st = RunTransaction(batch, next, changed, out);
  if (st.ok()) st = db_.Exec("COMMIT");
  if (!st.ok()) {
    if (sqlite3_get_autocommit(db_.get()) == 0) (void)db_.Exec("ROLLBACK");
    return st;
  }
  meta_ = next;
  for (auto& [name, seq] : changed) leaves_[name] = seq;
  return out;
}

Status QueueWriter::RunTransaction(const Batch& batch, MetaState& next, LeafSeqs& changed,
                                   CommitResult& out) {
  for (uint64_t id : batch.acks) {
    bool deleted = false;
    ET_RETURN_IF_ERROR(DeleteMessage(id, next, &deleted));
    if (deleted) ++out.messages_deleted;
  }
  for (uint64_t id : batch.command_deletes) {
    bool deleted = false;
    ET_RETURN_IF_ERROR(DeleteCommand(id, next, &deleted));
  }
  for (const auto& a : batch.appends) {
    const uint64_t n = a.messages.size();
    uint64_t bytes = 0;
    Status valid;
    for (const auto& m : a.messages) {
      valid = ValidateLeafName(m.leaf);
      if (valid.ok()) valid = ValidateBody(m.subtopic, m.payload);
      if (!valid.ok()) break;
      bytes += m.payload.size();
    }
    if (valid.ok() && (n > limits_.max_messages || bytes > limits_.max_bytes)) {
      valid = Full("the batch is larger than the whole queue may be");
    }
    if (valid.ok() && (next.message_count + n > limits_.max_messages ||
                       next.message_bytes + bytes > limits_.max_bytes)) {
      if (limits_.full_policy == FullPolicy::kRejectNew) {
        valid = Full("queue full: " + std::to_string(next.message_count) + " messages, " +
                     std::to_string(next.message_bytes) + " bytes stored (limits " +
                     std::to_string(limits_.max_messages) + " / " +
                     std::to_string(limits_.max_bytes) + ")");
      } else {
        ET_RETURN_IF_ERROR(MakeRoom(n, bytes, next, out));
      }
    }
    if (!valid.ok()) {
      out.append_status.push_back(valid);
      out.seqs.emplace_back();
      out.rejected += n;
      continue;
    }
    std::vector<uint64_t> seqs;
    ET_RETURN_IF_ERROR(InsertAppend(a, next, changed, seqs));
    out.append_status.emplace_back();
    out.seqs.push_back(std::move(seqs));
    out.appended += n;
  }
  for (const CommandRequest* c : batch.commands) {
    Status valid = ValidateLeafName(c->leaf);
    if (valid.ok()) valid = ValidateBody(c->subtopic, c->payload);
    if (valid.ok() && limits_.max_commands_per_leaf == 0) {
      valid = Full("commands are disabled (max_commands_per_leaf is 0)");
    }
    if (valid.ok()) ET_RETURN_IF_ERROR(InsertCommand(*c, next, out));
    out.command_status.push_back(valid);
  }
  ET_RETURN_IF_ERROR(WriteLeaves(changed, next));
  next.next_nonce = next_nonce_;
  ET_ASSIGN_OR_RETURN(Bytes meta, EncodeMeta(next, meta_key_));
  update_meta_.BindBlob(1, meta);
  ET_RETURN_IF_ERROR(Run(update_meta_));
  if (sqlite3_changes(db_.get()) != 1) {
    return Status(ErrorCode::kTampered, "queue.db lost its meta row");
  }
  return Status::Ok();
}

Status QueueWriter::DeleteMessage(uint64_t id, MetaState& next, bool* deleted) {
  StmtReset reset(delete_message_);
  delete_message_.BindInt(1, AsInt(id));
  ET_ASSIGN_OR_RETURN(bool row, delete_message_.Step());
  *deleted = row;
  if (!row) return Status::Ok();
  const auto size = static_cast<uint64_t>(delete_message_.Int(0));
  ET_ASSIGN_OR_RETURN(bool more, delete_message_.Step());
  (void)more;
  prf_.Toggle(next.message_digest, kMessageDomain, id);
  next.message_count -= 1;
  next.message_bytes -= std::min(size, next.message_bytes);
  return Status::Ok();
}

Status QueueWriter::DeleteCommand(uint64_t id, MetaState& next, bool* deleted) {
  StmtReset reset(delete_command_);
  delete_command_.BindInt(1, AsInt(id));
  ET_ASSIGN_OR_RETURN(bool row, delete_command_.Step());
  *deleted = row;
  if (!row) return Status::Ok();
  ET_ASSIGN_OR_RETURN(bool more, delete_command_.Step());
  (void)more;
  prf_.Toggle(next.command_digest, kCommandDomain, id);
  next.command_count -= 1;
  return Status::Ok();
}

Status QueueWriter::MakeRoom(uint64_t count, uint64_t bytes, MetaState& next, CommitResult& out) {
  auto full = [&] {
    return next.message_count + count > limits_.max_messages ||
           next.message_bytes + bytes > limits_.max_bytes;
  };
  std::vector<uint64_t> ids;
  while (full() && next.message_count > 0) {
    ids.clear();
    {
      StmtReset reset(oldest_);
      oldest_.BindInt(1, kDropChunk);
      for (;;) {
        ET_ASSIGN_OR_RETURN(bool row, oldest_.Step());
        if (!row) break;
        ids.push_back(static_cast<uint64_t>(oldest_.Int(0)));
      }
    }
    if (ids.empty()) break;
    for (uint64_t id : ids) {
      if (!full()) break;
      bool deleted = false;
      ET_RETURN_IF_ERROR(DeleteMessage(id, next, &deleted));
      if (deleted) out.dropped_ids.push_back(id);
    }
  }
  return Status::Ok();
}

Status QueueWriter::InsertAppend(const AppendRequest& a, MetaState& next, LeafSeqs& changed,
                                 std::vector<uint64_t>& seqs) {
  seqs.reserve(a.messages.size());
  for (const auto& m : a.messages) {
    auto it = changed.find(m.leaf);
    if (it == changed.end()) {
      auto known = leaves_.find(m.leaf);
      it = changed.emplace(m.leaf, known == leaves_.end() ? next.seq_base : known->second).first;
    }
    const uint64_t seq = ++it->second;
    const uint64_t id = ++next.last_message_id;
    MessageHeader h{id, m.leaf, seq, m.received_ms};
    ET_RETURN_IF_ERROR(codec_.SealMessage(next_nonce_++, h, m.subtopic, m.payload, sealed_));
    StmtReset reset(insert_message_);
    insert_message_.BindInt(1, AsInt(id));
    insert_message_.BindText(2, m.leaf);
    insert_message_.BindInt(3, AsInt(seq));
    insert_message_.BindInt(4, m.received_ms);
    insert_message_.BindInt(5, AsInt(m.payload.size()));
    insert_message_.BindBlob(6, sealed_);
    ET_ASSIGN_OR_RETURN(bool row, insert_message_.Step());
    (void)row;
    prf_.Toggle(next.message_digest, kMessageDomain, id);
    next.message_count += 1;
    next.message_bytes += m.payload.size();
    seqs.push_back(seq);
  }
  return Status::Ok();
}

Status QueueWriter::InsertCommand(const CommandRequest& c, MetaState& next, CommitResult& out) {
  int64_t stored = 0;
  {
    StmtReset reset(count_commands_);
    count_commands_.BindText(1, c.leaf);
    ET_ASSIGN_OR_RETURN(bool row, count_commands_.Step());
    if (row) stored = count_commands_.Int(0);
  }
  const auto limit = static_cast<int64_t>(limits_.max_commands_per_leaf);
  if (stored >= limit) {
    std::vector<uint64_t> ids;
    {
      StmtReset reset(oldest_commands_);
      oldest_commands_.BindText(1, c.leaf);
      oldest_commands_.BindInt(2, stored - limit + 1);
      for (;;) {
        ET_ASSIGN_OR_RETURN(bool row, oldest_commands_.Step());
        if (!row) break;
        ids.push_back(static_cast<uint64_t>(oldest_commands_.Int(0)));
      }
    }
    for (uint64_t id : ids) {
      bool deleted = false;
      ET_RETURN_IF_ERROR(DeleteCommand(id, next, &deleted));
      if (deleted) ++out.commands_dropped;
    }
  }
  const uint64_t id = ++next.last_command_id;
  CommandHeader h{id, c.leaf, c.received_ms};
  ET_RETURN_IF_ERROR(codec_.SealCommand(next_nonce_++, h, c.subtopic, c.payload, sealed_));
  StmtReset reset(insert_command_);
  insert_command_.BindInt(1, AsInt(id));
  insert_command_.BindText(2, c.leaf);
  insert_command_.BindInt(3, c.received_ms);
  insert_command_.BindBlob(4, sealed_);
  ET_ASSIGN_OR_RETURN(bool row, insert_command_.Step());
  (void)row;
  prf_.Toggle(next.command_digest, kCommandDomain, id);
  next.command_count += 1;
  return Status::Ok();
}

Status QueueWriter::WriteLeaves(const LeafSeqs& changed, MetaState& next) {
  for (const auto& [name, seq] : changed) {
    auto old = leaves_.find(name);
    if (old != leaves_.end()) {
      if (old->second == seq) continue;
      ET_ASSIGN_OR_RETURN(Mac256 term, LeafTerm(leaves_key_, name, old->second));
      XorInto(next.leaves_digest, term);
    } else {
      next.leaf_count += 1;
    }
    ET_ASSIGN_OR_RETURN(Mac256 term, LeafTerm(leaves_key_, name, seq));
    XorInto(next.leaves_digest, term);
    upsert_leaf_.BindText(1, name);
    upsert_leaf_.BindInt(2, AsInt(seq));
    ET_RETURN_IF_ERROR(Run(upsert_leaf_));
  }
  return Status::Ok();
}

Result<int64_t> QueueWriter::OldestReceivedMs() {
  StmtReset reset(oldest_ms_);
  ET_ASSIGN_OR_RETURN(bool row, oldest_ms_.Step());
  return row ? oldest_ms_.Int(0) : 0;
}

void QueueWriter::Checkpoint() { (void)db_.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); }

void QueueWriter::PassiveCheckpoint() {
  (void)sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

}  // namespace edgetrust::store
