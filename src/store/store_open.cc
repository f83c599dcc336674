#include "store/store_open.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>

#include "common/files.h"
#include "store/key_file.h"
#include "store/schema.h"
#include "store/verify.h"

namespace edgetrust::store {
namespace {

Status Tampered(const std::string& what) { return Status(ErrorCode::kTampered, what); }

std::string N(uint64_t v) { return std::to_string(v); }

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Status EnsureDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status(ErrorCode::kIoError, dir + ": " + ErrnoText(errno));
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status(ErrorCode::kIoError, dir + ": not a directory");
  }
  return Status::Ok();
}

Status RemoveIfExists(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

Result<uint64_t> ReadOrCreateCounter(Client& client) {
  auto value = client.ReadCounter(kCounterName);
  if (value.ok() || value.status().code() != ErrorCode::kNotFound) return value;
  auto created = client.CreateCounter(kCounterName);
  if (created.ok() || created.status().code() != ErrorCode::kAlreadyExists) return created;
  return client.ReadCounter(kCounterName);
}

Status SdError(const Status& st, const std::string& what) {
  return Status(st.code(), "edgetrust-sd: " + what + ": " + st.message());
}

// The state machine of the table in store_open.h, run once and, after a quarantine, once more.
class Opener {
 public:
  Opener(std::string dir, Client& client, uint64_t counter, std::vector<std::string>& notices)
      : dir_(std::move(dir)), client_(client), counter_(counter), notices_(notices) {}

  Status Run(OpenedStore& out);
  Status Quarantine();
  bool quarantined() const { return quarantined_; }

 private:
  std::string Path(const char* name) const { return dir_ + "/" + name; }
  Result<DataKey> LoadKey();
  Result<DataKey> NewKey();
  Status RemoveDatabaseFiles();
  Status Create(const DataKey& key);
  Status Load(const DataKey& key, OpenedStore& out);

  std::string dir_;
  Client& client_;
  uint64_t counter_;
  std::vector<std::string>& notices_;
  bool quarantined_ = false;
};

Result<DataKey> Opener::LoadKey() {
  auto blob = ReadFile(Path("queue.key"), kMaxKeyFileSize);
  if (!blob.ok()) {
    if (blob.status().code() == ErrorCode::kTooLarge)
      return Tampered("queue.key is not a key file");
    return blob.status();
  }
  auto plain = client_.Unseal(*blob);
  if (!plain.ok()) {
    if (plain.status().code() == ErrorCode::kTampered ||
        plain.status().code() == ErrorCode::kMalformed) {
      return Tampered("queue.key does not unseal (altered, or sealed by another secure domain): " +
                      plain.status().message());
    }
    return SdError(plain.status(), "unsealing queue.key");
  }
  auto key = DecodeKeyPlain(plain->view());
  if (!key.ok()) return Tampered(key.status().message());
  return key;
}

Result<DataKey> Opener::NewKey() {
  auto random = client_.Random(kDataKeySize);
  if (!random.ok()) return SdError(random.status(), "generating the data key");
  DataKey key{SecretBytes(ByteView(*random)), counter_};
  SecureWipe(random->data(), random->size());
  SecretBytes plain = EncodeKeyPlain(key);
  auto sealed = client_.Seal(plain.view());
  if (!sealed.ok()) return SdError(sealed.status(), "sealing the data key");
  ET_RETURN_IF_ERROR(WriteFileAtomic(Path("queue.key"), *sealed, 0600, WriteMode::kReplace));
  return key;
}

Status Opener::RemoveDatabaseFiles() {
  for (const char* name : {"queue.db", "queue.db-wal", "queue.db-shm"}) {
    ET_RETURN_IF_ERROR(RemoveIfExists(Path(name)));
  }
  return FsyncDir(dir_);
}

Status Opener::Create(const DataKey& key) {
  ET_RETURN_IF_ERROR(RemoveDatabaseFiles());
  ET_ASSIGN_OR_RETURN(QueueKeys keys, QueueKeys::Derive(key.key));
  MetaState meta;
  meta.generation = counter_;
  meta.seq_base = SeqBaseFor(counter_);
  ET_ASSIGN_OR_RETURN(Bytes encoded, EncodeMeta(meta, keys.meta));
  return CreateDatabase(Path("queue.db"), encoded);
}

Status Opener::Quarantine() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const std::string tag = ".tampered-" + std::to_string(ms);
  const std::pair<const char*, std::string> moves[] = {
      {"queue.db", "queue.db" + tag},
      {"queue.db-wal", "queue.db" + tag + "-wal"},
      {"queue.db-shm", "queue.db" + tag + "-shm"},
      {"queue.key", "queue.key" + tag},
  };
  for (const auto& [from, to] : moves) {
    if (!Exists(Path(from))) continue;
    if (::rename(Path(from).c_str(), (dir_ + "/" + to).c_str()) != 0) {
      return Status(ErrorCode::kIoError, Path(from) + ": cannot quarantine: " + ErrnoText(errno));
    }
  }
  ET_RETURN_IF_ERROR(FsyncDir(dir_));
  quarantined_ = true;
  notices_.push_back("the tampered files were renamed to queue.db" + tag +
                     " (with -wal, -shm) and "
                     "queue.key" +
                     tag + "; a new, empty queue was started");
  return Status::Ok();
}

Status Opener::Run(OpenedStore& out) {
  const bool has_db = Exists(Path("queue.db"));
  const bool has_key = Exists(Path("queue.key"));
  std::optional<DataKey> key;
  if (has_key) {
    ET_ASSIGN_OR_RETURN(key, LoadKey());
  } else if (has_db) {
    return Tampered("queue.key is missing while queue.db exists (the data key was removed)");
  }
  if (!has_db) {
    if (!key) {
      if (counter_ > 0 && !quarantined_) {
        notices_.push_back("no queue files in " + dir_ + " but the secure-domain counter " +
                           kCounterName + " is at " + N(counter_) +
                           ": a previous queue was removed; started a new one");
      }
      ET_ASSIGN_OR_RETURN(key, NewKey());
    } else if (key->initial_generation != counter_) {
      return Tampered(
          "queue.db is missing while queue.key exists and the secure-domain counter "
          "moved on (at " +
          N(counter_) + "): the database was removed");
    } else {
      notices_.push_back("finished the creation of the queue, which had been interrupted");
    }
    ET_RETURN_IF_ERROR(Create(*key));
  }
  return Load(*key, out);
}

Status Opener::Load(const DataKey& key, OpenedStore& out) {
  ET_ASSIGN_OR_RETURN(QueueKeys keys, QueueKeys::Derive(key.key));
  ET_ASSIGN_OR_RETURN(Db db, Db::Open(Path("queue.db")));
  // Until the file passed every check, closing it must leave the evidence as it is: no
  // checkpoint of the WAL into the database, no removal of the WAL.
  int ignored = 0;
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &ignored);
  ET_ASSIGN_OR_RETURN(SchemaState schema, CheckSchema(db));
  if (schema == SchemaState::kEmpty) {
    if (key.initial_generation != counter_) {
      return Tampered("queue.db holds no tables while the secure-domain counter moved on");
    }
    db.Close();
    notices_.push_back("finished the creation of the queue, which had been interrupted");
    ET_RETURN_IF_ERROR(Create(key));
    ET_ASSIGN_OR_RETURN(db, Db::Open(Path("queue.db")));
    sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &ignored);
    ET_ASSIGN_OR_RETURN(schema, CheckSchema(db));
    if (schema != SchemaState::kComplete) return Status(ErrorCode::kIoError, "queue.db: creation");
  }
  ET_ASSIGN_OR_RETURN(MetaState meta, ReadMeta(db, keys.meta));
  ET_ASSIGN_OR_RETURN(Verified verified, VerifyDatabase(db, keys, meta));
  const uint64_t g = meta.generation;
  if (g < counter_) {
    return Tampered("rolled back: queue.db is at generation " + N(g) +
                    " but the secure-domain counter is at " + N(counter_) +
                    " (an older copy of the queue was restored)");
  }
  if (g > counter_ + kMaxUncountedCommits) {
    return Tampered("queue.db is at generation " + N(g) + ", more than " + N(kMaxUncountedCommits) +
                    " ahead of the secure-domain counter (" + N(counter_) + ")");
  }
  if (g > counter_) {
    // A crash while the last commits were being counted: the queue counts them once it runs
    // (not here: an increment the crashed process sent may still arrive, see message_queue.cc).
    notices_.push_back("recovered: the last " + N(g - counter_) + " commit(s) (up to generation " +
                       N(g) +
                       ") had not been counted by the secure domain before a crash; the "
                       "counter is brought up to date");
  }
  ET_RETURN_IF_ERROR(ConfigureWriter(db));
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, &ignored);
  out.db = std::move(db);
  out.keys = std::move(keys);
  out.meta = meta;
  out.leaves = std::move(verified.leaves);
  out.oldest_received_ms = verified.oldest_received_ms;
  out.counter = counter_;
  return Status::Ok();
}

}  // namespace

std::string DatabasePath(const std::string& dir) { return dir + "/queue.db"; }

Result<DirLock> DirLock::Acquire(const std::string& dir) {
  const std::string path = dir + "/queue.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
  DirLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status(ErrorCode::kFailedPrecondition,
                    "the queue in " + dir + " is open in another process");
    }
    return Status(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
  }
  return lock;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

Result<OpenedStore> OpenStore(const QueueOptions& options) {
  if (options.dir.empty()) return Status(ErrorCode::kInvalidArgument, "queue: no folder given");
  if (options.max_batch == 0 || options.max_messages == 0 || options.max_bytes == 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "queue: max_batch, max_messages and max_bytes must be positive");
  }
  ET_RETURN_IF_ERROR(EnsureDir(options.dir));
  OpenedStore out;
  ET_ASSIGN_OR_RETURN(out.lock, DirLock::Acquire(options.dir));
  auto client = Client::Connect(options.sd_socket);
  if (!client.ok()) return SdError(client.status(), "connecting");
  out.client = std::move(client).value();
  RemoveStaleTemporaries(options.dir);
  auto counter = ReadOrCreateCounter(*out.client);
  if (!counter.ok()) return SdError(counter.status(), std::string("counter ") + kCounterName);

  Opener opener(options.dir, *out.client, *counter, out.notices);
  Status st = opener.Run(out);
  if (st.code() == ErrorCode::kTampered && options.quarantine_on_tamper) {
    out.notices.push_back("tampered: " + st.message());
    ET_RETURN_IF_ERROR(opener.Quarantine());
    st = opener.Run(out);
  }
  if (!st.ok()) return st;
  return out;
}

}  // namespace edgetrust::store
