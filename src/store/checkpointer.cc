#include "store/checkpointer.h"

#include "common/thread_start.h"

namespace edgetrust::store {

Checkpointer::Checkpointer(Db db) : db_(std::move(db)) {
  thread_ = StartThread([this] { Run(); });
}

void Checkpointer::Request() {
  std::lock_guard lk(mu_);
  requested_ = true;
  cv_.notify_one();
}

void Checkpointer::Stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  db_.Close();
}

void Checkpointer::Run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stopping_ || requested_; });
    if (stopping_) return;
    requested_ = false;
    lk.unlock();
    int log_pages = 0, done_pages = 0;
    (void)sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
                                    &done_pages);
    lk.lock();
  }
}

}  // namespace edgetrust::store
