// Opening a queue folder: the lock, the data key, the database, and what they say together with
// the secure domain's "queue-generation" counter (docs/store.md, "Opening").
//
//   no queue.key, no queue.db      a new queue: a data key from the secure domain's generator,
//                                  sealed into queue.key, and a database at generation = counter
//   queue.key, no (or an empty)    the creation was interrupted when the counter still has the
//   queue.db                       key's initial generation: finish it; otherwise the database
//                                  was removed: tampered
//   queue.db, no queue.key         tampered (the key was removed)
//   both                           unseal, check the schema, the meta row and every row
//                                  (verify.h); then the generation: equal to the counter is
//                                  fine, up to kMaxUncountedCommits ahead is a crash before the
//                                  last commits were counted (noted; the queue's anchor thread
//                                  brings the counter up), behind is a restored older copy:
//                                  tampered, as is further ahead
// Tampered: the open fails with kTampered and what was found, unless quarantine is asked for:
// then the files are renamed to queue.db.tampered-<unix-ms> (its -wal and -shm alongside, so
// sqlite3 opens them together) and queue.key.tampered-<unix-ms>, and a new queue starts.
//
// Thread safety: runs on the opening thread; the result is handed to the queue's writer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "edgetrust/client.h"
#include "edgetrust/status.h"
#include "store/message_queue.h"
#include "store/meta.h"
#include "store/queue_crypto.h"
#include "store/sqlite_db.h"
#include "store/writer.h"

namespace edgetrust::store {

inline constexpr char kCounterName[] = "queue-generation";

// The exclusive lock on DIR/queue.lock (flock), held while the queue is open.
class DirLock {
 public:
  // kFailedPrecondition when another process holds it.
  static Result<DirLock> Acquire(const std::string& dir);
  DirLock() = default;
  ~DirLock();
  DirLock(DirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

struct OpenedStore {
  DirLock lock;
  std::unique_ptr<Client> client;
  Db db;  // configured as the writer's connection
  QueueKeys keys;
  MetaState meta;
  LeafSeqs leaves;
  int64_t oldest_received_ms = 0;
  uint64_t counter = 0;  // the secure-domain counter's value at open (meta.generation or less)
  std::vector<std::string> notices;
};

Result<OpenedStore> OpenStore(const QueueOptions& options);

std::string DatabasePath(const std::string& dir);

}  // namespace edgetrust::store
