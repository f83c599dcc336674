#include "sd/counter_store.h"

#include <cstring>
#include <limits>

#include "common/files.h"
#include "protocol/wire.h"
#include "sd/crypto.h"

namespace edgetrust::sd {
namespace {

constexpr uint8_t kMagic[4] = {'E', 'T', 'C', 'T'};
constexpr uint8_t kFormat = 1;
constexpr size_t kHeaderSize = 4 + 1 + 1 + 8;
constexpr size_t kMaxFileSize = 2 * 1024 * 1024;
constexpr char kDataRole = 'D';
constexpr char kAnchorRole = 'A';

Bytes Header(uint64_t generation, char role) {
  Bytes h(kMagic, kMagic + 4);
  h.push_back(kFormat);
  h.push_back(static_cast<uint8_t>(role));
  protocol::PutU32(h, static_cast<uint32_t>(generation >> 32));
  protocol::PutU32(h, static_cast<uint32_t>(generation));
  return h;
}

void PutText(Bytes& out, std::string_view s) {
  protocol::PutU16(out, static_cast<uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

void PutU64(Bytes& out, uint64_t v) {
  protocol::PutU32(out, static_cast<uint32_t>(v >> 32));
  protocol::PutU32(out, static_cast<uint32_t>(v));
}

// Reads the plaintext table; every length is checked against what is left.
Result<CounterStore::Table> ParseTable(ByteView p) {
  auto bad = [](const char* what) {
    return Status(ErrorCode::kMalformed, std::string("counter table: ") + what);
  };
  CounterStore::Table table;
  if (p.size() < 4) return bad("truncated");
  const uint32_t count = protocol::GetU32(p.data());
  if (count > kMaxCounters) return bad("too many counters");
  size_t pos = 4;
  auto text = [&](std::string& out) -> bool {
    if (p.size() - pos < 2) return false;
    const size_t n = protocol::GetU16(p.data() + pos);
    pos += 2;
    if (n == 0 || p.size() - pos < n) return false;
    out.assign(reinterpret_cast<const char*>(p.data() + pos), n);
    pos += n;
    return true;
  };
  for (uint32_t i = 0; i < count; ++i) {
    std::string owner, name;
    if (!text(owner) || !text(name)) return bad("truncated entry");
    if (p.size() - pos < 16) return bad("truncated entry");
    CounterStore::Entry e{protocol::GetU64(p.data() + pos), protocol::GetU64(p.data() + pos + 8)};
    pos += 16;
    if (!table.emplace(std::make_pair(std::move(owner), std::move(name)), e).second) {
      return bad("duplicate counter");
    }
  }
  if (pos != p.size()) return bad("trailing bytes");
  return table;
}

std::string GenerationText(uint64_t g) { return "generation " + std::to_string(g); }

}  // namespace

Bytes CounterStore::EncodeFile(const Table& table, uint64_t generation, char role,
                               const SecretBytes& key) {
  Bytes plain;
  protocol::PutU32(plain, static_cast<uint32_t>(table.size()));
  for (const auto& [id, e] : table) {
    PutText(plain, id.first);
    PutText(plain, id.second);
    PutU64(plain, e.value);
    PutU64(plain, e.created);
  }
  Bytes header = Header(generation, role);
  auto sealed = AeadSeal(key, plain, header);
  SecureWipe(plain.data(), plain.size());
  if (!sealed.ok()) return {};
  header.insert(header.end(), sealed->begin(), sealed->end());
  return header;
}

Result<CounterStore::Decoded> CounterStore::DecodeFile(ByteView file, char role,
                                                       const SecretBytes& key) {
  if (file.size() < kHeaderSize + kAeadNonceSize + kAeadTagSize) {
    return Status(ErrorCode::kMalformed, "too short");
  }
  if (std::memcmp(file.data(), kMagic, 4) != 0 || file[4] != kFormat) {
    return Status(ErrorCode::kMalformed, "not a counter file of format 1");
  }
  if (file[5] != static_cast<uint8_t>(role)) {
    return Status(ErrorCode::kTampered, "holds the other copy's role (files swapped?)");
  }
  auto plain = AeadOpen(key, file.subspan(kHeaderSize), file.first(kHeaderSize));
  if (!plain.ok()) {
    return Status(ErrorCode::kTampered, "failed authentication (altered or forged)");
  }
  ET_ASSIGN_OR_RETURN(Table table, ParseTable(plain->view()));
  return Decoded{std::move(table), protocol::GetU64(file.data() + 6)};
}

Result<std::unique_ptr<CounterStore>> CounterStore::Open(const std::string& dir,
                                                         SecretBytes storage_key) {
  std::unique_ptr<CounterStore> store(new CounterStore(dir, std::move(storage_key)));
  ET_RETURN_IF_ERROR(store->Reconcile());
  return store;
}

Status CounterStore::Reconcile() {
  struct Copy {
    bool present = false;
    std::optional<Decoded> decoded;
    std::string problem;
  };
  auto load = [&](const std::string& file, char role) -> Result<Copy> {
    Copy c;
    auto bytes = ReadFile(dir_ + "/" + file, kMaxFileSize);
    if (!bytes.ok()) {
      if (bytes.status().code() == ErrorCode::kNotFound) return c;
      // Unreadable for a reason that may pass (descriptors, I/O): refuse to start rather than
      // take the file for deleted and "recover" an older value from the other copy.
      if (bytes.status().code() == ErrorCode::kResourceExhausted) return bytes.status();
      c.present = true;
      c.problem = "cannot be read: " + bytes.status().message();
      return c;
    }
    c.present = true;
    auto d = DecodeFile(*bytes, role, key_);
    if (d.ok()) {
      c.decoded = std::move(d).value();
    } else {
      c.problem = d.status().message();
    }
    return c;
  };
  ET_ASSIGN_OR_RETURN(Copy data, load("counters.dat", kDataRole));
  ET_ASSIGN_OR_RETURN(Copy anchor, load("counters.anchor", kAnchorRole));

  if (!data.present && !anchor.present) return Status::Ok();  // no counter ever created

  const bool data_ok = data.decoded.has_value();
  const bool anchor_ok = anchor.decoded.has_value();
  if (!data_ok && !anchor_ok) {
    broken_ = true;
    notices_.push_back("counters: neither counters.dat (" +
                       (data.present ? data.problem : std::string("missing")) +
                       ") nor counters.anchor (" +
                       (anchor.present ? anchor.problem : std::string("missing")) +
                       ") can be trusted; counters are unavailable until an operator restores "
                       "the state folder");
    return Status::Ok();
  }

  bool rewrite = false;
  if (data_ok && anchor_ok) {
    const uint64_t dg = data.decoded->generation;
    const uint64_t ag = anchor.decoded->generation;
    if (dg < ag) {
      notices_.push_back("counters: counters.dat (" + GenerationText(dg) +
                         ") is older than counters.anchor (" + GenerationText(ag) +
                         "): an older copy of counters.dat was restored; counters recovered "
                         "from the anchor, none went backwards");
      rewrite = true;
    } else if (dg > ag + 1) {
      notices_.push_back("counters: counters.anchor (" + GenerationText(ag) +
                         ") is older than counters.dat (" + GenerationText(dg) +
                         "): an older copy of the anchor was restored; rewritten");
      rewrite = true;
    } else if (dg == ag + 1) {
      rewrite = true;  // a crash between the two writes of one change: finish it
    }
  } else if (data_ok) {
    if (anchor.present) {
      notices_.push_back("counters: counters.anchor " + anchor.problem + "; rewritten");
    } else if (data.decoded->generation > 1) {
      notices_.push_back("counters: counters.anchor was deleted; rewritten");
    }
    rewrite = true;
  } else {
    notices_.push_back("counters: counters.dat " +
                       (data.present ? data.problem : std::string("was deleted")) +
                       "; counters recovered from counters.anchor (" +
                       GenerationText(anchor.decoded->generation) + ")");
    rewrite = true;
  }

  // Merge: no counter ever goes below what either trustworthy copy recorded.
  Table merged;
  uint64_t generation = 0;
  for (const Copy* c : {&data, &anchor}) {
    if (!c->decoded) continue;
    generation = std::max(generation, c->decoded->generation);
    for (const auto& [id, e] : c->decoded->table) {
      auto [it, inserted] = merged.emplace(id, e);
      if (!inserted && e.value > it->second.value) it->second.value = e.value;
    }
  }
  table_ = std::move(merged);
  generation_ = generation;
  if (rewrite) {
    ++generation_;
    ET_RETURN_IF_ERROR(Persist(table_, generation_, nullptr));
  }
  return Status::Ok();
}

Status CounterStore::Persist(const Table& table, uint64_t generation, bool* data_written) {
  if (data_written != nullptr) *data_written = false;
  Bytes data = EncodeFile(table, generation, kDataRole, key_);
  Bytes anchor = EncodeFile(table, generation, kAnchorRole, key_);
  if (data.empty() || anchor.empty()) {
    return Status(ErrorCode::kInternal, "cannot encrypt the counter table");
  }
  // Order matters: counters.dat first, so a crash in between leaves it one generation ahead,
  // which start-up recognises as an unfinished change rather than a rollback.
  ET_RETURN_IF_ERROR(WriteFileAtomic(dir_ + "/counters.dat", data, 0600, WriteMode::kReplace));
  if (data_written != nullptr) *data_written = true;
  return WriteFileAtomic(dir_ + "/counters.anchor", anchor, 0600, WriteMode::kReplace);
}

Status CounterStore::Usable() const {
  if (broken_) {
    return Status(ErrorCode::kTampered,
                  "counters are unavailable: both stored copies failed their checks at start-up");
  }
  return Status::Ok();
}

Result<uint64_t> CounterStore::Create(std::string_view owner, std::string_view name, uint64_t now) {
  std::lock_guard lock(mu_);
  ET_RETURN_IF_ERROR(Usable());
  auto id = std::make_pair(std::string(owner), std::string(name));
  if (table_.contains(id)) {
    return Status(ErrorCode::kAlreadyExists, "a counter named " + std::string(name) + " exists");
  }
  if (table_.size() >= kMaxCounters) {
    return Status(ErrorCode::kResourceExhausted, "the secure domain holds the maximum of " +
                                                     std::to_string(kMaxCounters) + " counters");
  }
  size_t owned = 0;
  for (const auto& [key, e] : table_) owned += key.first == owner ? 1 : 0;
  if (owned >= kMaxCountersPerPrincipal) {
    return Status(ErrorCode::kResourceExhausted,
                  std::string(owner) + " already has the maximum of " +
                      std::to_string(kMaxCountersPerPrincipal) + " counters");
  }
  Table next = table_;
  next.emplace(id, Entry{0, now});
  bool data_written = false;
  Status st = Persist(next, generation_ + 1, &data_written);
  if (data_written) {
    table_ = std::move(next);
    ++generation_;
  }
  if (!st.ok()) return st;
  return uint64_t{0};
}

Result<uint64_t> CounterStore::Increment(std::string_view owner, std::string_view name) {
  std::lock_guard lock(mu_);
  ET_RETURN_IF_ERROR(Usable());
  auto it = table_.find(std::make_pair(std::string(owner), std::string(name)));
  if (it == table_.end()) {
    return Status(ErrorCode::kNotFound, "no counter named " + std::string(name));
  }
  if (it->second.value == std::numeric_limits<uint64_t>::max()) {
    return Status(ErrorCode::kResourceExhausted,
                  "counter " + std::string(name) + " is at its maximum");
  }
  const auto id = it->first;
  const uint64_t value = it->second.value + 1;
  Table next = table_;
  next[id].value = value;
  // Persisted before it is acknowledged: an increment the caller saw is never lost. Memory
  // follows counters.dat exactly, so a read never shows a value a restart would take back.
  bool data_written = false;
  Status st = Persist(next, generation_ + 1, &data_written);
  if (data_written) {
    table_ = std::move(next);
    ++generation_;
  }
  if (!st.ok()) return st;
  return value;
}

Result<uint64_t> CounterStore::Read(std::string_view owner, std::string_view name) const {
  std::lock_guard lock(mu_);
  ET_RETURN_IF_ERROR(Usable());
  auto it = table_.find(std::make_pair(std::string(owner), std::string(name)));
  if (it == table_.end()) {
    return Status(ErrorCode::kNotFound, "no counter named " + std::string(name));
  }
  return it->second.value;
}

std::vector<std::string> CounterStore::notices() const {
  std::lock_guard lock(mu_);
  return notices_;
}

}  // namespace edgetrust::sd
