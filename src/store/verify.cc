#include "store/verify.h"

#include <string>

#include "store/record.h"

namespace edgetrust::store {
namespace {

Status Tampered(const std::string& what) { return Status(ErrorCode::kTampered, what); }

std::string N(uint64_t v) { return std::to_string(v); }

Status VerifyLeaves(const Db& db, const QueueKeys& keys, const MetaState& meta, LeafSeqs& out) {
  ET_ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(db, "SELECT name, last_seq FROM leaves"));
  StmtReset reset(st);
  Mac256 digest{};
  uint64_t count = 0;
  for (;;) {
    ET_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const std::string_view name = st.Text(0);
    const int64_t seq = st.Int(1);
    if (seq < 0 || name.size() > kMaxLeafName) {
      return Tampered("leaves table: a malformed entry");
    }
    ET_ASSIGN_OR_RETURN(Mac256 term, LeafTerm(keys.leaves, name, static_cast<uint64_t>(seq)));
    XorInto(digest, term);
    ++count;
    // The table holds one entry per leaf; the count and digest bound how many there may be.
    if (count > meta.leaf_count) break;
    out.emplace(std::string(name), static_cast<uint64_t>(seq));
  }
  if (count != meta.leaf_count) {
    return Tampered("leaves table holds " +
                    std::string(count > meta.leaf_count ? "more" : "fewer") +
                    " entries than the authenticated state says (" + N(meta.leaf_count) + ")");
  }
  if (!ConstantTimeEqual(digest, meta.leaves_digest)) {
    return Tampered(
        "leaves table differs from the authenticated state (a sequence number was "
        "changed or an older entry restored)");
  }
  return Status::Ok();
}

Status VerifyMessages(const Db& db, RecordCodec& codec, IdPrf& prf, const MetaState& meta,
                      const LeafSeqs& leaves, int64_t& oldest) {
  ET_ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(db,
                                             "SELECT id, leaf, seq, received_ms, size, sealed "
                                             "FROM messages ORDER BY id"));
  StmtReset reset(st);
  SetDigest digest{};
  uint64_t count = 0, bytes = 0;
  std::string subtopic, payload;
  for (;;) {
    ET_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const int64_t id = st.Int(0);
    const std::string_view leaf = st.Text(1);
    const int64_t seq = st.Int(2);
    const int64_t size = st.Int(4);
    auto where = [id] { return "message " + std::to_string(id); };
    if (id <= 0 || static_cast<uint64_t>(id) > meta.last_message_id) {
      return Tampered(where() + " lies outside the ids this queue gave out (1.." +
                      N(meta.last_message_id) + ")");
    }
    if (seq <= 0 || size < 0) return Tampered(where() + " has a negative sequence number or size");
    auto known = leaves.find(leaf);
    if (known == leaves.end() || static_cast<uint64_t>(seq) > known->second) {
      return Tampered(where() + " carries a sequence number its leaf was never given");
    }
    MessageHeader h{static_cast<uint64_t>(id), leaf, static_cast<uint64_t>(seq), st.Int(3)};
    Status open = codec.OpenMessage(h, static_cast<uint64_t>(size), st.Blob(5), subtopic, payload);
    if (!open.ok()) {
      return Tampered(where() +
                      " failed authentication (its ciphertext, leaf, seq, time or size "
                      "was changed, or it was moved)");
    }
    if (count == 0) oldest = h.received_ms;
    prf.Toggle(digest, kMessageDomain, h.id);
    ++count;
    bytes += static_cast<uint64_t>(size);
  }
  if (count != meta.message_count) {
    return Tampered("queue.db holds " + N(count) + " messages where its authenticated state says " +
                    N(meta.message_count) + ": " +
                    (count < meta.message_count ? "unacknowledged messages were deleted"
                                                : "messages were added or re-inserted"));
  }
  if (bytes != meta.message_bytes || !ConstantTimeEqual(digest, meta.message_digest)) {
    return Tampered(
        "the stored messages are not the ones the authenticated state lists (a row "
        "was deleted and another re-inserted in its place)");
  }
  return Status::Ok();
}

Status VerifyCommands(const Db& db, RecordCodec& codec, IdPrf& prf, const MetaState& meta) {
  ET_ASSIGN_OR_RETURN(
      Stmt st, Stmt::Prepare(db, "SELECT id, leaf, received_ms, sealed FROM commands ORDER BY id"));
  StmtReset reset(st);
  SetDigest digest{};
  uint64_t count = 0;
  std::string subtopic, payload;
  for (;;) {
    ET_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const int64_t id = st.Int(0);
    auto where = [id] { return "command " + std::to_string(id); };
    if (id <= 0 || static_cast<uint64_t>(id) > meta.last_command_id) {
      return Tampered(where() + " lies outside the ids this queue gave out");
    }
    CommandHeader h{static_cast<uint64_t>(id), st.Text(1), st.Int(2)};
    if (!codec.OpenCommand(h, st.Blob(3), subtopic, payload).ok()) {
      return Tampered(where() + " failed authentication (changed or moved)");
    }
    prf.Toggle(digest, kCommandDomain, h.id);
    ++count;
  }
  if (count != meta.command_count || !ConstantTimeEqual(digest, meta.command_digest)) {
    return Tampered("queue.db holds " + N(count) + " commands where its authenticated state says " +
                    N(meta.command_count) + " (or other ones): commands were deleted or added");
  }
  return Status::Ok();
}

}  // namespace

Result<MetaState> ReadMeta(const Db& db, const SecretBytes& meta_key) {
  ET_ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(db, "SELECT k, v FROM meta"));
  StmtReset reset(st);
  ET_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Tampered("queue.db has no meta row");
  if (st.Int(0) != 1) return Tampered("queue.db has a foreign meta row");
  auto meta = DecodeMeta(st.Blob(1), meta_key);
  if (!meta.ok()) return Tampered("meta row: " + meta.status().message());
  ET_ASSIGN_OR_RETURN(bool second, st.Step());
  if (second) return Tampered("queue.db has more than one meta row");
  return meta;
}

Result<Verified> VerifyDatabase(const Db& db, const QueueKeys& keys, const MetaState& meta) {
  Verified v;
  ET_ASSIGN_OR_RETURN(RecordCodec codec, RecordCodec::Create(keys.aead));
  ET_ASSIGN_OR_RETURN(IdPrf prf, IdPrf::Create(keys.set));
  ET_RETURN_IF_ERROR(VerifyLeaves(db, keys, meta, v.leaves));
  ET_RETURN_IF_ERROR(VerifyMessages(db, codec, prf, meta, v.leaves, v.oldest_received_ms));
  ET_RETURN_IF_ERROR(VerifyCommands(db, codec, prf, meta));
  return v;
}

}  // namespace edgetrust::store
