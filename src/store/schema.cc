#include "store/schema.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "common/files.h"

namespace edgetrust::store {
namespace {

constexpr int64_t kApplicationId = 0x45545146;  // "ETQF"
constexpr int64_t kSchemaVersion = 1;

struct SchemaObject {
  const char* type;
  const char* name;
  const char* sql;
};

// SQLite keeps each CREATE statement's text verbatim in sqlite_schema; CheckSchema compares it.
constexpr SchemaObject kObjects[] = {
    {"table", "meta", "CREATE TABLE meta(k INTEGER PRIMARY KEY, v BLOB NOT NULL)"},
    {"table", "leaves",
     "CREATE TABLE leaves(name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID"},
    {"table", "messages",
     "CREATE TABLE messages(id INTEGER PRIMARY KEY, leaf TEXT NOT NULL, seq INTEGER NOT NULL, "
     "received_ms INTEGER NOT NULL, size INTEGER NOT NULL, sealed BLOB NOT NULL)"},
    {"table", "commands",
     "CREATE TABLE commands(id INTEGER PRIMARY KEY, leaf TEXT NOT NULL, "
     "received_ms INTEGER NOT NULL, sealed BLOB NOT NULL)"},
    {"index", "commands_by_leaf", "CREATE INDEX commands_by_leaf ON commands(leaf, id)"},
};

Result<int64_t> PragmaInt(const Db& db, const char* sql) {
  ET_ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(db, sql));
  ET_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status(ErrorCode::kInternal, std::string(sql) + " returned nothing");
  return st.Int(0);
}

Status Pragmas(Db& db, const char* sql) { return db.Exec(sql); }

}  // namespace

Status ConfigureWriter(Db& db) {
  {
    ET_ASSIGN_OR_RETURN(Stmt st, Stmt::Prepare(db, "PRAGMA journal_mode=WAL"));
    ET_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || st.Text(0) != "wal") {
      return Status(ErrorCode::kIoError, "queue.db: cannot switch to WAL mode");
    }
  }
  // 2 MiB of page cache: commits append at the right edge of the tables, so a small cache holds
  // the pages they touch; memory stays bounded whatever the queue's length.
  return Pragmas(db,
                 "PRAGMA synchronous=FULL; PRAGMA cache_size=-2048; PRAGMA mmap_size=0; "
                 "PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=16777216");
}

Status ConfigureCheckpointer(Db& db) {
  return Pragmas(db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-256; PRAGMA mmap_size=0");
}

Status ConfigureReader(Db& db) {
  return Pragmas(db, "PRAGMA query_only=1; PRAGMA cache_size=-1024; PRAGMA mmap_size=0");
}

Status CreateDatabase(const std::string& path, ByteView meta) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) return Status(ErrorCode::kAlreadyExists, path + ": exists");
    return Status(ErrorCode::kIoError, path + ": " + ErrnoText(err));
  }
  ::close(fd);
  ET_ASSIGN_OR_RETURN(Db db, Db::Open(path));
  ET_RETURN_IF_ERROR(ConfigureWriter(db));
  ET_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    ET_RETURN_IF_ERROR(db.Exec(("PRAGMA application_id=" + std::to_string(kApplicationId) +
                                "; PRAGMA user_version=" + std::to_string(kSchemaVersion))
                                   .c_str()));
    for (const auto& o : kObjects) ET_RETURN_IF_ERROR(db.Exec(o.sql));
    ET_ASSIGN_OR_RETURN(Stmt ins, Stmt::Prepare(db, "INSERT INTO meta(k, v) VALUES(1, ?1)"));
    ins.BindBlob(1, meta);
    ET_ASSIGN_OR_RETURN(bool row, ins.Step());
    (void)row;
    return Status::Ok();
  };
  Status st = body();
  if (!st.ok()) {
    (void)db.Exec("ROLLBACK");
    return st;
  }
  ET_RETURN_IF_ERROR(db.Exec("COMMIT"));
  return FsyncDir(DirName(path));
}

Result<SchemaState> CheckSchema(const Db& db) {
  ET_ASSIGN_OR_RETURN(Stmt st,
                      Stmt::Prepare(db, "SELECT type, name, sql FROM sqlite_schema ORDER BY name"));
  std::map<std::string, std::pair<std::string, std::string>> found;
  for (;;) {
    ET_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    found[std::string(st.Text(1))] = {std::string(st.Text(0)), std::string(st.Text(2))};
  }
  st.Reset();
  if (found.empty()) return SchemaState::kEmpty;
  auto bad = [](const std::string& what) {
    return Status(ErrorCode::kTampered, "queue.db schema: " + what);
  };
  for (const auto& o : kObjects) {
    auto it = found.find(o.name);
    if (it == found.end()) return bad(std::string(o.type) + " " + o.name + " is missing");
    if (it->second.first != o.type || it->second.second != o.sql) {
      return bad(std::string(o.type) + " " + o.name + " was altered");
    }
    found.erase(it);
  }
  if (!found.empty()) {
    return bad("unexpected " + found.begin()->second.first + " " + found.begin()->first);
  }
  ET_ASSIGN_OR_RETURN(int64_t app, PragmaInt(db, "PRAGMA application_id"));
  ET_ASSIGN_OR_RETURN(int64_t version, PragmaInt(db, "PRAGMA user_version"));
  if (app != kApplicationId) return bad("not an EdgeTrust queue (application_id)");
  if (version != kSchemaVersion) {
    return Status(ErrorCode::kUnsupported, "queue.db has schema version " +
                                               std::to_string(version) + ", this build reads 1");
  }
  return SchemaState::kComplete;
}

}  // namespace edgetrust::store
