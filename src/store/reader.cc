#include "store/reader.h"

#include <algorithm>
#include <limits>

namespace edgetrust::store {
namespace {

constexpr size_t kMaxReaderNotices = 16;
constexpr size_t kMaxCommandSkip = size_t{1} << 20;

int64_t AsInt(uint64_t v) {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(v);
}

constexpr char kColumns[] = "SELECT id, leaf, seq, received_ms, size, sealed FROM messages ";

}  // namespace

Result<std::unique_ptr<QueueReader>> QueueReader::Create(Db db, const QueueKeys& keys) {
  ET_ASSIGN_OR_RETURN(RecordCodec codec, RecordCodec::Create(keys.aead));
  std::unique_ptr<QueueReader> r(new QueueReader(std::move(db), std::move(codec)));
  ET_RETURN_IF_ERROR(r->Prepare());
  return r;
}

Status QueueReader::Prepare() {
  ET_ASSIGN_OR_RETURN(by_id_, Stmt::Prepare(db_, std::string(kColumns) + "WHERE id = ?1"));
  ET_ASSIGN_OR_RETURN(range_,
                      Stmt::Prepare(db_, std::string(kColumns) + "WHERE id > ?1 AND id <= ?2 "
                                                                 "ORDER BY id LIMIT ?3"));
  ET_ASSIGN_OR_RETURN(commands_, Stmt::Prepare(db_,
                                               "SELECT id, received_ms, sealed FROM commands "
                                               "WHERE leaf = ?1 ORDER BY id LIMIT ?2"));
  return Status::Ok();
}

void QueueReader::Failed(const std::string& what) {
  ++failures_;
  if (notices_.size() < kMaxReaderNotices) {
    notices_.push_back(what +
                       " failed authentication after the queue was opened and was "
                       "skipped (queue.db is being tampered with)");
  }
}

std::vector<std::string> QueueReader::TakeNotices() {
  std::vector<std::string> out;
  out.swap(notices_);
  return out;
}

bool QueueReader::DecodeMessage(const Stmt& st, StoredMessage& out) {
  out.id = static_cast<uint64_t>(st.Int(0));
  out.leaf.assign(st.Text(1));
  out.seq = static_cast<uint64_t>(st.Int(2));
  out.received_ms = st.Int(3);
  const int64_t size = st.Int(4);
  MessageHeader h{out.id, out.leaf, out.seq, out.received_ms};
  if (size < 0 ||
      !codec_.OpenMessage(h, static_cast<uint64_t>(size), st.Blob(5), out.subtopic, out.payload)
           .ok()) {
    Failed("message " + std::to_string(out.id));
    return false;
  }
  return true;
}

Result<std::optional<StoredMessage>> QueueReader::ReadMessage(uint64_t id) {
  StmtReset reset(by_id_);
  by_id_.BindInt(1, AsInt(id));
  ET_ASSIGN_OR_RETURN(bool row, by_id_.Step());
  if (!row) return std::optional<StoredMessage>();
  StoredMessage m;
  if (!DecodeMessage(by_id_, m)) return std::optional<StoredMessage>();
  return std::optional<StoredMessage>(std::move(m));
}

Result<uint64_t> QueueReader::ReadRange(uint64_t from, uint64_t to, size_t max, size_t max_bytes,
                                        std::vector<StoredMessage>& out) {
  StmtReset reset(range_);
  range_.BindInt(1, AsInt(from));
  range_.BindInt(2, AsInt(to));
  range_.BindInt(3, AsInt(max));
  size_t rows = 0, bytes = 0;
  uint64_t last = from;
  for (;;) {
    ET_ASSIGN_OR_RETURN(bool row, range_.Step());
    if (!row) return to;
    ++rows;
    StoredMessage m;
    if (DecodeMessage(range_, m)) {
      bytes += m.payload.size() + m.subtopic.size();
      out.push_back(std::move(m));
    }
    last = static_cast<uint64_t>(range_.Int(0));
    if (rows == max || bytes >= max_bytes) return last;
  }
}

Status QueueReader::ReadCommands(std::string_view leaf, size_t max,
                                 const std::unordered_set<uint64_t>& skip,
                                 std::vector<StoredCommand>& out) {
  StmtReset reset(commands_);
  commands_.BindText(1, leaf);
  commands_.BindInt(2, AsInt(max) + AsInt(std::min<size_t>(skip.size(), kMaxCommandSkip)));
  size_t added = 0;
  while (added < max) {
    ET_ASSIGN_OR_RETURN(bool row, commands_.Step());
    if (!row) break;
    StoredCommand c;
    c.id = static_cast<uint64_t>(commands_.Int(0));
    if (skip.count(c.id) > 0) continue;
    c.leaf.assign(leaf);
    c.received_ms = commands_.Int(1);
    CommandHeader h{c.id, c.leaf, c.received_ms};
    if (!codec_.OpenCommand(h, commands_.Blob(2), c.subtopic, c.payload).ok()) {
      Failed("command " + std::to_string(c.id));
      continue;
    }
    out.push_back(std::move(c));
    ++added;
  }
  return Status::Ok();
}

}  // namespace edgetrust::store
