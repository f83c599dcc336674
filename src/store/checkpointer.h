// Copies the WAL back into queue.db on a thread of its own, so commits never wait for it.
//
// SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold: that commit
// then also writes and fsyncs up to megabytes of database pages, and every message of its batch
// waits for it (at 5k msgs/s that is one commit in a hundred, exactly the p99). Here the writer
// asks for a checkpoint after a commit left the WAL over kCheckpointPages; a PASSIVE checkpoint
// on this thread's own connection then runs alongside the next commits (WAL mode allows one
// checkpoint concurrently with the writer and readers). The writer still checkpoints itself when
// the WAL grows past kForcedCheckpointPages, so it stays bounded if this thread falls behind.
//
// Thread safety: Request() and Stop() from any thread. Errors of a checkpoint only delay it (the
// next request tries again); the WAL keeps everything until then.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "store/sqlite_db.h"

namespace edgetrust::store {

inline constexpr int kCheckpointPages = 1000;
inline constexpr int kForcedCheckpointPages = 16000;

class Checkpointer {
 public:
  // Takes a connection to queue.db (configured with synchronous=FULL) and starts the thread.
  explicit Checkpointer(Db db);
  ~Checkpointer() { Stop(); }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void Request();
  // Waits for a running checkpoint, ends the thread and closes its connection; idempotent.
  void Stop();

 private:
  void Run();

  Db db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace edgetrust::store
