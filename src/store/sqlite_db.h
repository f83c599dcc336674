// Owning wrappers of a SQLite connection and a prepared statement, with SQLite errors turned into
// Status values.
//
// Connections are opened with SQLITE_OPEN_NOMUTEX: SQLite does no locking of its own for a
// connection, so each Db (and its statements) must be used by one thread at a time; the queue
// gives each connection one owner (writer.h) or a mutex (message_queue.cc). Triggers and views
// are disabled and the connection is put in SQLite's defensive mode, so a schema object an
// attacker added to the file cannot run as a side effect of our statements.
//
// Error mapping: SQLITE_CORRUPT and SQLITE_NOTADB are kTampered (the file is not what we wrote),
// SQLITE_NOMEM kResourceExhausted, I/O, permission, full-disk and locking errors kIoError, the
// rest kInternal. Messages carry SQLite's own text.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::store {

Status SqliteError(sqlite3* db, int rc, std::string_view what);

class Db {
 public:
  // Opens an existing database file (it is never created here, see schema.h).
  static Result<Db> Open(const std::string& path);
  Db() = default;
  ~Db();
  Db(Db&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* get() const { return db_; }
  explicit operator bool() const { return db_ != nullptr; }
  // Runs statements that return no rows.
  Status Exec(const char* sql);
  void Close();

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

class Stmt {
 public:
  static Result<Stmt> Prepare(const Db& db, std::string_view sql);
  Stmt() = default;
  ~Stmt();
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameters are numbered from 1. Text and blobs are copied by SQLite only when it must (they
  // are bound SQLITE_STATIC: the caller keeps them alive until Reset()).
  void BindInt(int index, int64_t value);
  void BindText(int index, std::string_view value);
  void BindBlob(int index, ByteView value);
  // true: a row is ready; false: the statement is done.
  Result<bool> Step();
  // Ends the statement (releasing its read snapshot) and clears the bindings.
  void Reset();

  int64_t Int(int column) const;
  std::string_view Text(int column) const;
  ByteView Blob(int column) const;
  int Type(int column) const;

 private:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when it goes out of scope, so no read transaction outlives its use.
class StmtReset {
 public:
  explicit StmtReset(Stmt& stmt) : stmt_(stmt) {}
  ~StmtReset() { stmt_.Reset(); }
  StmtReset(const StmtReset&) = delete;
  StmtReset& operator=(const StmtReset&) = delete;

 private:
  Stmt& stmt_;
};

}  // namespace edgetrust::store
