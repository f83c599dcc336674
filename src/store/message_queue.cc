#include "store/message_queue.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_set>

#include "common/thread_start.h"
#include "store/checkpointer.h"
#include "store/reader.h"
#include "store/schema.h"
#include "store/store_open.h"
#include "store/writer.h"

namespace edgetrust::store {
namespace {

using Clock = std::chrono::steady_clock;

// Acknowledgements alone do not need to be durable: the writer lets them gather this long
// before it spends a commit (and a counter increment) on them.
constexpr auto kAckFlushDelay = std::chrono::milliseconds(20);
// How often the writer retries advancing the counter while the secure domain is away.
constexpr auto kAnchorRetryMin = std::chrono::milliseconds(20);
constexpr auto kAnchorRetryMax = std::chrono::milliseconds(1000);
// Attempts to reach the secure domain once Close() was called, before the writer gives up.
constexpr int kAnchorAttemptsWhenClosing = 3;
constexpr auto kCommitRetryDelay = std::chrono::milliseconds(100);
constexpr size_t kMaxNotices = 64;
constexpr size_t kPerMessageOverhead = 64;

size_t PendingCost(const std::vector<IncomingMessage>& batch) {
  size_t n = 0;
  for (const auto& m : batch) {
    n += m.payload.size() + m.subtopic.size() + m.leaf.size() + kPerMessageOverhead;
  }
  return n;
}

}  // namespace

class MessageQueue::Impl {
 public:
  Impl(const QueueOptions& options, OpenedStore store, std::unique_ptr<QueueWriter> writer,
       std::unique_ptr<QueueReader> reader, std::unique_ptr<Checkpointer> checkpointer);
  ~Impl() { Close(); }

  void Start() {
    thread_ = StartThread([this] { WriterLoop(); });
    anchor_thread_ = StartThread([this] { AnchorLoop(); });
  }
  void Append(std::vector<IncomingMessage> batch, AppendDone done);
  std::vector<StoredMessage> Take(size_t max, std::chrono::milliseconds wait);
  void Ack(uint64_t id);
  void Return(const std::vector<uint64_t>& ids);
  void Wake();
  Status PutCommand(std::string_view leaf, std::string_view subtopic, std::string_view payload,
                    int64_t received_ms);
  std::vector<StoredCommand> PendingCommands(std::string_view leaf, size_t max);
  void CommandDelivered(uint64_t id);
  QueueStats Stats() const;
  std::vector<std::string> Notices() const;
  void Close();

 private:
  bool HasWork() const {
    return !appends_.empty() || !commands_.empty() || !acks_.empty() || !command_deletes_.empty();
  }
  // A commit that is durable, waiting for the secure-domain counter to count it.
  struct Committed {
    uint64_t generation = 0;
    Batch batch;
    CommitResult result;
    Clock::time_point started;
  };
  // With mu_ held: the counter went past the file, which must catch up with a commit.
  bool SyncNeeded() const { return gen_floor_ > committed_gen_; }
  uint64_t NextGeneration() const { return std::max(committed_gen_ + 1, gen_floor_); }

  void WriterLoop();
  Batch TakeBatch();
  void RunBatch(Batch& batch, uint64_t generation);
  void Fail(Batch& batch, const Status& status);
  void AnchorLoop();
  // Advances the counter once, retrying while the secure domain is away; nullopt when Close()
  // gave up waiting for it.
  std::optional<uint64_t> IncrementCounter();
  void Notice(std::string text);  // with mu_ held

  const QueueOptions options_;
  DirLock lock_;
  // Writer thread only (after Open).
  std::unique_ptr<QueueWriter> writer_;
  std::unique_ptr<Checkpointer> checkpointer_;
  // Anchor thread only (after Open).
  std::unique_ptr<Client> client_;
  // Take and PendingCommands, one at a time.
  std::mutex reader_mu_;
  std::unique_ptr<QueueReader> reader_;

  mutable std::mutex mu_;
  std::condition_variable writer_cv_;
  std::condition_variable take_cv_;
  std::deque<AppendRequest> appends_;
  size_t pending_messages_ = 0;
  size_t pending_bytes_ = 0;
  std::vector<CommandRequest*> commands_;
  std::vector<uint64_t> acks_;
  std::vector<uint64_t> command_deletes_;
  std::unordered_set<uint64_t> delivered_;  // commands delivered, delete not committed yet
  std::set<uint64_t> inflight_;
  std::set<uint64_t> returned_;
  uint64_t cursor_ = 0;          // every id <= cursor_ was handed out once (or dropped)
  uint64_t last_committed_ = 0;  // highest committed message id
  bool wake_ = false;
  bool closing_ = false;
  bool closed_ = false;
  // The generation of the last commit, the counter's last known value, and a generation the next
  // commit must reach (0: none). The file runs ahead of the counter, never behind for long.
  uint64_t committed_gen_ = 0;
  uint64_t counted_ = 0;
  uint64_t gen_floor_ = 0;
  std::deque<Committed> to_anchor_;  // committed, callbacks not run yet
  bool anchor_lost_ = false;
  bool writer_done_ = false;
  std::condition_variable anchor_cv_;
  QueueStats stats_;
  std::vector<std::string> notices_;

  std::mutex close_mu_;
  std::thread thread_;
  std::thread anchor_thread_;
};

MessageQueue::Impl::Impl(const QueueOptions& options, OpenedStore store,
                         std::unique_ptr<QueueWriter> writer, std::unique_ptr<QueueReader> reader,
                         std::unique_ptr<Checkpointer> checkpointer)
    : options_(options),
      lock_(std::move(store.lock)),
      writer_(std::move(writer)),
      checkpointer_(std::move(checkpointer)),
      client_(std::move(store.client)),
      reader_(std::move(reader)),
      notices_(std::move(store.notices)) {
  const MetaState& m = writer_->meta();
  cursor_ = 0;
  last_committed_ = m.last_message_id;
  stats_.depth = m.message_count;
  stats_.bytes = m.message_bytes;
  stats_.commands = m.command_count;
  stats_.oldest_received_ms = store.oldest_received_ms;
  committed_gen_ = m.generation;
  counted_ = store.counter;
}

void MessageQueue::Impl::Notice(std::string text) {
  if (notices_.size() < kMaxNotices) notices_.push_back(std::move(text));
}

void MessageQueue::Impl::Append(std::vector<IncomingMessage> batch, AppendDone done) {
  const size_t cost = PendingCost(batch);
  Status refused;
  {
    std::lock_guard lk(mu_);
    if (closing_) {
      refused = Status(ErrorCode::kFailedPrecondition, "the queue is closed");
    } else if (batch.size() > kMaxMessagesPerCommit) {
      refused = Status(ErrorCode::kInvalidArgument, "more than 2^20 messages in one append");
    } else if (pending_bytes_ + cost > options_.max_pending_bytes && pending_bytes_ > 0) {
      refused = Status(ErrorCode::kResourceExhausted, "the queue's writer is behind (" +
                                                          std::to_string(pending_bytes_) +
                                                          " bytes wait for a commit)");
    } else if (cost > options_.max_pending_bytes) {
      refused = Status(ErrorCode::kResourceExhausted, "the batch is larger than max_pending_bytes");
    }
    if (refused.ok()) {
      pending_messages_ += batch.size();
      pending_bytes_ += cost;
      appends_.push_back(AppendRequest{std::move(batch), std::move(done)});
      writer_cv_.notify_one();
      return;
    }
    stats_.rejected_total += batch.size();
  }
  if (done) done(refused, {});
}

Batch MessageQueue::Impl::TakeBatch() {
  Batch b;
  size_t messages = 0;
  while (!appends_.empty()) {
    const size_t n = appends_.front().messages.size();
    if (!b.appends.empty() &&
        messages + n > std::min<size_t>(options_.max_batch, kMaxMessagesPerCommit)) {
      break;
    }
    messages += n;
    pending_bytes_ -= std::min(pending_bytes_, PendingCost(appends_.front().messages));
    b.appends.push_back(std::move(appends_.front()));
    appends_.pop_front();
  }
  pending_messages_ -= std::min(pending_messages_, messages);
  b.commands.swap(commands_);
  b.acks.swap(acks_);
  b.command_deletes.swap(command_deletes_);
  return b;
}

void MessageQueue::Impl::WriterLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    writer_cv_.wait(lk, [&] { return closing_ || HasWork() || SyncNeeded(); });
    if (!closing_ && !SyncNeeded() && appends_.empty() && commands_.empty() &&
        acks_.size() + command_deletes_.size() < options_.max_batch) {
      writer_cv_.wait_for(lk, kAckFlushDelay, [&] {
        return closing_ || !appends_.empty() || !commands_.empty() ||
               acks_.size() + command_deletes_.size() >= options_.max_batch;
      });
    }
    if (options_.max_batch_delay_us > 0 && !closing_ && !appends_.empty() &&
        pending_messages_ < options_.max_batch) {
      writer_cv_.wait_for(lk, std::chrono::microseconds(options_.max_batch_delay_us),
                          [&] { return closing_ || pending_messages_ >= options_.max_batch; });
    }
    if (!HasWork() && !SyncNeeded()) {
      if (closing_) break;
      continue;
    }
    // The file may run at most kMaxUncountedCommits generations ahead of the counter: a commit
    // overlaps with the counting of the one before it, never of two.
    writer_cv_.wait(
        lk, [&] { return anchor_lost_ || NextGeneration() <= counted_ + kMaxUncountedCommits; });
    const uint64_t generation = NextGeneration();
    Batch batch = TakeBatch();
    const bool lost = anchor_lost_;
    lk.unlock();
    if (lost) {
      // Counting failed for good (Close while the secure domain is away): one more commit could
      // put the file further ahead of the counter than an open accepts.
      Fail(batch, Status(ErrorCode::kUnavailable,
                         "the secure domain is unreachable; the queue cannot commit"));
      lk.lock();
      gen_floor_ = 0;
      continue;
    }
    RunBatch(batch, generation);
    lk.lock();
  }
  writer_done_ = true;
  anchor_cv_.notify_all();
}

void MessageQueue::Impl::Fail(Batch& batch, const Status& status) {
  {
    std::lock_guard lk(mu_);
    stats_.rejected_total += batch.message_count();
    // Nothing of this batch was written: the deletes are still to do.
    acks_.insert(acks_.end(), batch.acks.begin(), batch.acks.end());
    command_deletes_.insert(command_deletes_.end(), batch.command_deletes.begin(),
                            batch.command_deletes.end());
    if (closing_) {
      // No further commit will come: forget them (a lost delete is only a duplicate).
      acks_.clear();
      command_deletes_.clear();
    }
  }
  for (auto& a : batch.appends) {
    if (a.done) a.done(status, {});
  }
  for (CommandRequest* c : batch.commands) c->done.set_value(status);
}

void MessageQueue::Impl::RunBatch(Batch& batch, uint64_t generation) {
  const auto t0 = Clock::now();
  auto result = writer_->Commit(batch, generation);
  if (!result.ok()) {
    {
      std::lock_guard lk(mu_);
      Notice("a commit failed: " + result.status().ToString());
    }
    Fail(batch, result.status());
    // A disk that fails now probably fails again at once: do not spin on it.
    std::unique_lock lk(mu_);
    writer_cv_.wait_for(lk, kCommitRetryDelay, [&] { return closing_; });
    return;
  }
  CommitResult& r = *result;
  const MetaState& meta = writer_->meta();
  if (writer_->wal_pages() >= kForcedCheckpointPages) {
    writer_->PassiveCheckpoint();
  } else if (writer_->wal_pages() >= kCheckpointPages) {
    checkpointer_->Request();
  }
  auto oldest = writer_->OldestReceivedMs();
  std::lock_guard lk(mu_);
  committed_gen_ = meta.generation;
  last_committed_ = meta.last_message_id;
  stats_.depth = meta.message_count;
  stats_.bytes = meta.message_bytes;
  stats_.commands = meta.command_count;
  if (oldest.ok()) stats_.oldest_received_ms = *oldest;
  stats_.appended_total += r.appended;
  stats_.rejected_total += r.rejected;
  stats_.dropped_total += r.dropped_ids.size();
  stats_.commands_dropped_total += r.commands_dropped;
  stats_.commits_total += 1;
  if (r.appended > 0) stats_.last_batch_size = r.appended;
  for (uint64_t id : r.dropped_ids) {
    inflight_.erase(id);
    returned_.erase(id);
  }
  for (uint64_t id : batch.command_deletes) delivered_.erase(id);
  if (r.appended > 0) take_cv_.notify_all();
  // Durable now; the acknowledgements wait until the secure-domain counter has counted it (the
  // anchor thread runs the callbacks then).
  to_anchor_.push_back(Committed{meta.generation, std::move(batch), std::move(r), t0});
  anchor_cv_.notify_all();
}

void MessageQueue::Impl::AnchorLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    anchor_cv_.wait(lk, [&] {
      return (counted_ < committed_gen_ && !anchor_lost_) ||
             (!to_anchor_.empty() && (anchor_lost_ || to_anchor_.front().generation <= counted_)) ||
             (writer_done_ && to_anchor_.empty());
    });
    if (counted_ < committed_gen_ && !anchor_lost_) {
      lk.unlock();
      const std::optional<uint64_t> v = IncrementCounter();
      lk.lock();
      if (!v) {
        anchor_lost_ = true;
        Notice("closed with commits up to generation " + std::to_string(committed_gen_) +
               " not yet counted by the secure domain (at " + std::to_string(counted_) +
               "); the next open accepts them");
      } else if (*v > committed_gen_) {
        // The counter went past the file: an increment sent by a process that died (after a
        // crash) arrived late, or someone else advanced it. The next commit catches up.
        Notice("the secure-domain counter " + std::string(kCounterName) + " is at " +
               std::to_string(*v) + ", ahead of queue.db (generation " +
               std::to_string(committed_gen_) + "); the queue follows it");
        counted_ = *v;
        gen_floor_ = *v;
      } else {
        counted_ = *v;
      }
      writer_cv_.notify_all();
    }
    std::vector<Committed> ready;
    while (!to_anchor_.empty() && (anchor_lost_ || to_anchor_.front().generation <= counted_)) {
      ready.push_back(std::move(to_anchor_.front()));
      to_anchor_.pop_front();
    }
    for (const auto& c : ready) {
      stats_.commit_seconds_total +=
          std::chrono::duration<double>(Clock::now() - c.started).count();
    }
    if (ready.empty()) {
      if (writer_done_ && to_anchor_.empty() && (counted_ >= committed_gen_ || anchor_lost_)) {
        return;
      }
      continue;
    }
    lk.unlock();
    // Durable either way: an open accepts a file that far ahead of the counter.
    for (auto& c : ready) {
      for (size_t i = 0; i < c.batch.appends.size(); ++i) {
        auto& a = c.batch.appends[i];
        if (a.done) a.done(c.result.append_status[i], c.result.seqs[i]);
      }
      for (size_t i = 0; i < c.batch.commands.size(); ++i) {
        c.batch.commands[i]->done.set_value(c.result.command_status[i]);
      }
    }
    lk.lock();
  }
}

std::optional<uint64_t> MessageQueue::Impl::IncrementCounter() {
  auto backoff = kAnchorRetryMin;
  int attempts_closing = 0;
  for (;;) {
    Status st;
    if (!client_) {
      auto c = Client::Connect(options_.sd_socket);
      if (c.ok()) {
        client_ = std::move(c).value();
      } else {
        st = c.status();
      }
    }
    if (client_) {
      auto v = client_->IncrementCounter(kCounterName);
      if (v.ok()) return *v;
      st = v.status();
      if (st.code() == ErrorCode::kUnavailable) client_.reset();
    }
    std::unique_lock lk(mu_);
    if (stats_.anchor_failures_total++ == 0 || closing_) {
      Notice("advancing the secure-domain counter failed (" + st.ToString() +
             "); acknowledgements wait until it succeeds");
    }
    if (closing_ && ++attempts_closing >= kAnchorAttemptsWhenClosing) return std::nullopt;
    anchor_cv_.wait_for(lk, backoff, [&] { return closing_; });
    backoff = std::min(backoff * 2, kAnchorRetryMax);
  }
}

std::vector<StoredMessage> MessageQueue::Impl::Take(size_t max, std::chrono::milliseconds wait) {
  std::vector<StoredMessage> out;
  max = std::min(max, kMaxTakeMessages);
  if (max == 0) return out;
  std::lock_guard reader_lock(reader_mu_);
  if (!reader_) return out;
  std::vector<uint64_t> again;
  uint64_t from = 0, to = 0;
  {
    std::unique_lock lk(mu_);
    auto ready = [&] {
      return closing_ || wake_ || !returned_.empty() || cursor_ < last_committed_;
    };
    take_cv_.wait_for(lk, wait, ready);
    wake_ = false;
    if (closing_) return out;
    while (!returned_.empty() && again.size() < max) {
      again.push_back(*returned_.begin());
      // In flight again from now on, so that an acknowledgement arriving while it is read
      // (a late PUBACK) takes it out for good.
      inflight_.insert(*returned_.begin());
      returned_.erase(returned_.begin());
    }
    from = cursor_;
    to = last_committed_;
  }
  // Outside mu_: appenders and the writer go on while SQLite is read.
  size_t bytes = 0;
  for (uint64_t id : again) {
    auto m = reader_->ReadMessage(id);
    if (m.ok() && m->has_value()) {
      bytes += (*m)->payload.size() + (*m)->subtopic.size();
      out.push_back(std::move(**m));
    }
  }
  const size_t again_read = out.size();
  uint64_t new_cursor = from;
  if (out.size() < max && bytes < kMaxTakeBytes && from < to) {
    auto range = reader_->ReadRange(from, to, max - out.size(), kMaxTakeBytes - bytes, out);
    if (range.ok()) new_cursor = *range;
  }
  std::lock_guard lk(mu_);
  std::vector<StoredMessage> kept;
  kept.reserve(out.size());
  std::set<uint64_t> found;
  for (size_t i = 0; i < out.size(); ++i) {
    if (i < again_read) {
      found.insert(out[i].id);
      if (inflight_.count(out[i].id) == 0) continue;  // acknowledged meanwhile
    } else {
      inflight_.insert(out[i].id);
    }
    kept.push_back(std::move(out[i]));
  }
  // Returned ids whose rows are gone (dropped, or acknowledged and deleted) are not in flight.
  for (uint64_t id : again) {
    if (found.count(id) == 0) inflight_.erase(id);
  }
  if (new_cursor > cursor_) cursor_ = new_cursor;
  stats_.unreadable_total = reader_->failures();
  for (auto& n : reader_->TakeNotices()) Notice(std::move(n));
  stats_.inflight = inflight_.size();
  return kept;
}

void MessageQueue::Impl::Ack(uint64_t id) {
  std::lock_guard lk(mu_);
  if (closing_) return;
  inflight_.erase(id);
  returned_.erase(id);
  acks_.push_back(id);
  stats_.acked_total += 1;
  stats_.inflight = inflight_.size();
  writer_cv_.notify_one();
}

void MessageQueue::Impl::Return(const std::vector<uint64_t>& ids) {
  std::lock_guard lk(mu_);
  bool any = false;
  for (uint64_t id : ids) {
    if (inflight_.erase(id) > 0) {
      returned_.insert(id);
      any = true;
    }
  }
  stats_.inflight = inflight_.size();
  if (any) take_cv_.notify_all();
}

void MessageQueue::Impl::Wake() {
  std::lock_guard lk(mu_);
  wake_ = true;
  take_cv_.notify_all();
}

Status MessageQueue::Impl::PutCommand(std::string_view leaf, std::string_view subtopic,
                                      std::string_view payload, int64_t received_ms) {
  CommandRequest req;
  req.leaf = leaf;
  req.subtopic = subtopic;
  req.payload = payload;
  req.received_ms = received_ms;
  auto done = req.done.get_future();
  {
    std::lock_guard lk(mu_);
    if (closing_) return Status(ErrorCode::kFailedPrecondition, "the queue is closed");
    commands_.push_back(&req);
    writer_cv_.notify_one();
  }
  return done.get();
}

std::vector<StoredCommand> MessageQueue::Impl::PendingCommands(std::string_view leaf, size_t max) {
  std::vector<StoredCommand> out;
  max = std::min(max, kMaxTakeMessages);
  if (max == 0) return out;
  std::unordered_set<uint64_t> skip;
  {
    std::lock_guard lk(mu_);
    if (closing_) return out;
    skip = delivered_;
  }
  std::lock_guard reader_lock(reader_mu_);
  if (!reader_) return out;
  auto st = reader_->ReadCommands(leaf, max, skip, out);
  std::lock_guard lk(mu_);
  if (!st.ok()) Notice("reading commands failed: " + st.ToString());
  stats_.unreadable_total = reader_->failures();
  for (auto& n : reader_->TakeNotices()) Notice(std::move(n));
  return out;
}

void MessageQueue::Impl::CommandDelivered(uint64_t id) {
  std::lock_guard lk(mu_);
  if (closing_) return;
  if (delivered_.insert(id).second) command_deletes_.push_back(id);
  writer_cv_.notify_one();
}

QueueStats MessageQueue::Impl::Stats() const {
  std::lock_guard lk(mu_);
  QueueStats s = stats_;
  s.inflight = inflight_.size();
  if (s.depth == 0) s.oldest_received_ms = 0;
  return s;
}

std::vector<std::string> MessageQueue::Impl::Notices() const {
  std::lock_guard lk(mu_);
  return notices_;
}

void MessageQueue::Impl::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    closing_ = true;
    writer_cv_.notify_all();
    take_cv_.notify_all();
    anchor_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (anchor_thread_.joinable()) anchor_thread_.join();
  checkpointer_->Stop();
  {
    std::lock_guard reader_lock(reader_mu_);
    reader_.reset();
  }
  writer_->Checkpoint();
  writer_.reset();
  client_.reset();
  std::lock_guard lk(mu_);
  closed_ = true;
  lock_ = DirLock();
}

Result<std::unique_ptr<MessageQueue>> MessageQueue::Open(const QueueOptions& options) {
  ET_ASSIGN_OR_RETURN(OpenedStore store, OpenStore(options));
  ET_ASSIGN_OR_RETURN(Db read_db, Db::Open(DatabasePath(options.dir)));
  ET_RETURN_IF_ERROR(ConfigureReader(read_db));
  ET_ASSIGN_OR_RETURN(std::unique_ptr<QueueReader> reader,
                      QueueReader::Create(std::move(read_db), store.keys));
  ET_ASSIGN_OR_RETURN(Db checkpoint_db, Db::Open(DatabasePath(options.dir)));
  ET_RETURN_IF_ERROR(ConfigureCheckpointer(checkpoint_db));
  auto checkpointer = std::make_unique<Checkpointer>(std::move(checkpoint_db));
  WriterLimits limits{options.max_messages, options.max_bytes, options.full_policy,
                      options.max_commands_per_leaf};
  ET_ASSIGN_OR_RETURN(std::unique_ptr<QueueWriter> writer,
                      QueueWriter::Create(std::move(store.db), store.keys, store.meta,
                                          std::move(store.leaves), limits));
  auto impl = std::make_unique<Impl>(options, std::move(store), std::move(writer),
                                     std::move(reader), std::move(checkpointer));
  impl->Start();
  return std::unique_ptr<MessageQueue>(new MessageQueue(std::move(impl)));
}

MessageQueue::MessageQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MessageQueue::~MessageQueue() { Close(); }

void MessageQueue::Append(std::vector<IncomingMessage> batch, AppendDone done) {
  impl_->Append(std::move(batch), std::move(done));
}
std::vector<StoredMessage> MessageQueue::Take(size_t max, std::chrono::milliseconds wait) {
  return impl_->Take(max, wait);
}
void MessageQueue::Ack(uint64_t id) { impl_->Ack(id); }
void MessageQueue::Return(const std::vector<uint64_t>& ids) { impl_->Return(ids); }
void MessageQueue::Wake() { impl_->Wake(); }
Status MessageQueue::PutCommand(std::string_view leaf, std::string_view subtopic,
                                std::string_view payload, int64_t received_ms) {
  return impl_->PutCommand(leaf, subtopic, payload, received_ms);
}
std::vector<StoredCommand> MessageQueue::PendingCommands(std::string_view leaf, size_t max) {
  return impl_->PendingCommands(leaf, max);
}
void MessageQueue::CommandDelivered(uint64_t id) { impl_->CommandDelivered(id); }
QueueStats MessageQueue::Stats() const { return impl_->Stats(); }
std::vector<std::string> MessageQueue::Notices() const { return impl_->Notices(); }
void MessageQueue::Close() { impl_->Close(); }

}  // namespace edgetrust::store
