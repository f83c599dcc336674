// The store-and-forward queue (src/store) against the real edgetrust-sd: group commit, per-leaf
// sequence numbers, delivery order, durability across kill -9, encryption at rest, detection of
// tampering and rollback (the attacker's edits made with python3's sqlite3 module, as one would
// make them), bounds, commands, and a secure domain that is stopped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "edgetrust/client.h"
#include "harness.h"
#include "store/message_queue.h"

// ASan keeps freed memory in quarantine: RSS says nothing about the code under test there.
#if defined(__SANITIZE_ADDRESS__)
#define ET_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ET_UNDER_ASAN 1
#endif
#endif

namespace edgetrust::test {
namespace {

namespace fs = std::filesystem;
using store::FullPolicy;
using store::IncomingMessage;
using store::MessageQueue;
using store::QueueOptions;
using store::StoredMessage;

constexpr char kPython[] = "/usr/bin/python3";

struct Appended {
  Status status;
  std::vector<uint64_t> seqs;
};

IncomingMessage Msg(const std::string& leaf, const std::string& payload,
                    const std::string& subtopic = "temperature", int64_t received_ms = 1000) {
  return IncomingMessage{leaf, subtopic, payload, received_ms};
}

// Appends and waits for the group commit's verdict.
Appended AppendSync(MessageQueue& q, std::vector<IncomingMessage> batch) {
  auto p = std::make_shared<std::promise<Appended>>();
  auto f = p->get_future();
  q.Append(std::move(batch), [p](const Status& st, const std::vector<uint64_t>& seqs) {
    p->set_value(Appended{st, seqs});
  });
  return f.get();
}

// Polls `cond` for up to 60 s (slow shared machines), never as a timing check.
template <typename F>
bool WaitFor(F cond) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

// Takes everything deliverable (until a Take comes back empty).
std::vector<StoredMessage> TakeAll(MessageQueue& q) {
  std::vector<StoredMessage> all;
  for (;;) {
    auto got = q.Take(1000, std::chrono::milliseconds(0));
    if (got.empty()) return all;
    for (auto& m : got) all.push_back(std::move(m));
  }
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

bool Contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::string ReadBinary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sd_ = std::make_unique<SdProcess>(dir_);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    qdir_ = dir_.File("queue");
  }
  void TearDown() override {
    if (sd_ && sd_->running()) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }

  QueueOptions Options() const {
    QueueOptions o;
    o.dir = qdir_;
    o.sd_socket = sd_->socket();
    return o;
  }
  std::unique_ptr<MessageQueue> OpenOk(const QueueOptions& o) {
    auto q = MessageQueue::Open(o);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    if (!q.ok()) return nullptr;
    return std::move(q).value();
  }
  std::unique_ptr<MessageQueue> OpenOk() { return OpenOk(Options()); }
  Status OpenFails(const QueueOptions& o) {
    auto q = MessageQueue::Open(o);
    EXPECT_FALSE(q.ok()) << "the queue opened";
    return q.ok() ? Status() : q.status();
  }

  // Runs python3 with `code`; argv[1] is queue.db.
  void Python(const std::string& code) {
    const std::string script = dir_.File("edit.py");
    WriteText(script, "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n" + code +
                          "\nc.commit()\nc.close()\n");
    auto r = RunCommand({kPython, script, qdir_ + "/queue.db"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Appends `n` messages for `leaf` with payloads "<prefix><i>", all in one batch.
  void Fill(MessageQueue& q, const std::string& leaf, int n, const std::string& prefix = "m") {
    std::vector<IncomingMessage> batch;
    for (int i = 0; i < n; ++i) batch.push_back(Msg(leaf, prefix + std::to_string(i)));
    auto r = AppendSync(q, std::move(batch));
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  }

  void CopyQueueFiles(const std::string& to) {
    fs::create_directories(to);
    for (const auto& e : fs::directory_iterator(qdir_)) {
      fs::copy_file(e.path(), to + "/" + e.path().filename().string(),
                    fs::copy_options::overwrite_existing);
    }
  }
  void RestoreQueueFiles(const std::string& from) {
    for (const char* name : {"queue.db", "queue.db-wal", "queue.db-shm", "queue.key"}) {
      fs::remove(qdir_ + "/" + name);
    }
    for (const auto& e : fs::directory_iterator(from)) {
      fs::copy_file(e.path(), qdir_ + "/" + e.path().filename().string(),
                    fs::copy_options::overwrite_existing);
    }
  }

  TempDir dir_;
  std::unique_ptr<SdProcess> sd_;
  std::string qdir_;
};

TEST_F(QueueTest, AppendTakeAckRoundTrip) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  auto r = AppendSync(*q, {Msg("a", "a1", "t", 11), Msg("b", "b1", "h", 12),
                           Msg("a", "a2", "t", 13), Msg("a", "", "", 14)});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.seqs, (std::vector<uint64_t>{1, 1, 2, 3}));

  auto got = q->Take(10, std::chrono::seconds(30));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].leaf, "a");
  EXPECT_EQ(got[0].payload, "a1");
  EXPECT_EQ(got[0].subtopic, "t");
  EXPECT_EQ(got[0].received_ms, 11);
  EXPECT_EQ(got[1].leaf, "b");
  EXPECT_EQ(got[1].seq, 1u);
  EXPECT_EQ(got[1].subtopic, "h");
  EXPECT_EQ(got[2].seq, 2u);
  EXPECT_EQ(got[3].payload, "");
  EXPECT_EQ(got[3].seq, 3u);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1].id, got[i].id);

  auto s = q->Stats();
  EXPECT_EQ(s.depth, 4u);
  EXPECT_EQ(s.bytes, 6u);
  EXPECT_EQ(s.inflight, 4u);
  EXPECT_EQ(s.appended_total, 4u);
  EXPECT_EQ(s.oldest_received_ms, 11);
  // In flight: nothing more to take.
  EXPECT_TRUE(q->Take(10, std::chrono::milliseconds(0)).empty());

  q->Ack(got[0].id);
  q->Ack(got[2].id);
  ASSERT_TRUE(WaitFor([&] { return q->Stats().depth == 2; }));
  s = q->Stats();
  EXPECT_EQ(s.acked_total, 2u);
  EXPECT_EQ(s.inflight, 2u);
  EXPECT_EQ(s.oldest_received_ms, 12);
  q->Ack(got[1].id);
  q->Ack(got[3].id);
  q->Close();
  q->Close();  // idempotent

  q = OpenOk();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->Stats().depth, 0u);
  EXPECT_EQ(q->Stats().oldest_received_ms, 0);
  EXPECT_TRUE(q->Take(10, std::chrono::milliseconds(0)).empty());
  EXPECT_TRUE(q->Notices().empty()) << Join(q->Notices());
}

TEST_F(QueueTest, SequencesContiguousAndPersistentAcrossReopen) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  Fill(*q, "s1", 5);
  Fill(*q, "s2", 2);
  auto r = AppendSync(*q, {Msg("s1", "x")});
  EXPECT_EQ(r.seqs, std::vector<uint64_t>{6});
  q.reset();  // the destructor closes

  q = OpenOk();
  ASSERT_TRUE(q);
  r = AppendSync(*q, {Msg("s1", "y"), Msg("s2", "z"), Msg("s3", "w")});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.seqs, (std::vector<uint64_t>{7, 3, 1}));
  // Nothing was acknowledged: all of it is still there, in order, seqs contiguous per leaf.
  auto all = TakeAll(*q);
  ASSERT_EQ(all.size(), 11u);
  std::map<std::string, uint64_t> last;
  for (const auto& m : all) {
    EXPECT_EQ(m.seq, last[m.leaf] + 1) << m.leaf;
    last[m.leaf] = m.seq;
  }
  EXPECT_EQ(last["s1"], 7u);
  EXPECT_EQ(last["s2"], 3u);
  EXPECT_EQ(last["s3"], 1u);

  // Acknowledged messages' seqs are not given out again either.
  for (const auto& m : all) q->Ack(m.id);
  q.reset();
  q = OpenOk();
  ASSERT_TRUE(q);
  r = AppendSync(*q, {Msg("s1", "after")});
  EXPECT_EQ(r.seqs, std::vector<uint64_t>{8});
}

TEST_F(QueueTest, ReturnRestoresOrder) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  Fill(*q, "leaf", 10);
  auto first = q->Take(5, std::chrono::seconds(30));
  auto second = q->Take(3, std::chrono::seconds(30));
  ASSERT_EQ(first.size(), 5u);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(first[4].seq + 1, second[0].seq);
  q->Ack(first[0].id);
  q->Return({first[1].id, first[3].id, second[1].id, first[0].id /* acknowledged */});
  EXPECT_EQ(q->Stats().inflight, 4u);
  auto again = q->Take(100, std::chrono::seconds(30));
  std::vector<uint64_t> seqs;
  for (const auto& m : again) seqs.push_back(m.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 4, 7, 9, 10}));
  EXPECT_EQ(again[0].payload, "m1");
  EXPECT_EQ(q->Stats().inflight, 9u);

  // After a restart everything unacknowledged is deliverable again, in order.
  q.reset();
  q = OpenOk();
  ASSERT_TRUE(q);
  auto all = TakeAll(*q);
  ASSERT_EQ(all.size(), 9u);
  EXPECT_EQ(all[0].seq, 2u);
  EXPECT_EQ(all[8].seq, 10u);
}

TEST_F(QueueTest, TakeWaitsAndWakes) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  std::atomic<bool> returned{false};
  std::thread taker([&] {
    auto got = q->Take(10, std::chrono::seconds(120));
    EXPECT_TRUE(got.empty());
    returned = true;
  });
  // Wake() ends a wait long before its timeout (the test would take two minutes otherwise); a
  // Wake() that comes before the Take is kept for it.
  q->Wake();
  ASSERT_TRUE(WaitFor([&] { return returned.load(); }));
  taker.join();

  // A waiting Take returns as soon as something is committed.
  std::thread taker2([&] {
    auto got = q->Take(10, std::chrono::seconds(120));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, "late");
  });
  ASSERT_TRUE(AppendSync(*q, {Msg("x", "late")}).status.ok());
  taker2.join();
}

TEST_F(QueueTest, GroupCommitBatchesConcurrentAppends) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::mutex mu;
  std::map<std::string, std::vector<uint64_t>> seqs;
  std::atomic<int> done{0}, failed{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string leaf = "leaf-" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        // One message per append, as a leaf connection appends each PUBLISH as it arrives.
        q->Append({Msg(leaf, std::string(100, 'p'))},
                  [&, leaf](const Status& st, const std::vector<uint64_t>& s) {
                    std::lock_guard lk(mu);
                    if (!st.ok()) ++failed;
                    for (uint64_t v : s) seqs[leaf].push_back(v);
                    ++done;
                  });
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(WaitFor([&] { return done.load() == kThreads * kPerThread; }));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(failed.load(), 0);
  const auto s = q->Stats();
  EXPECT_EQ(s.appended_total, uint64_t{kThreads * kPerThread});
  // Many messages per commit (and per fsync and counter increment).
  EXPECT_LT(s.commits_total * 10, s.appended_total) << "commits: " << s.commits_total;
  std::printf("group commit: %d messages in %llu commits, %.0f msgs/s\n", kThreads * kPerThread,
              static_cast<unsigned long long>(s.commits_total), kThreads * kPerThread / secs);
  // Each leaf's callbacks ran in append order with contiguous seqs.
  for (const auto& [leaf, v] : seqs) {
    ASSERT_EQ(v.size(), size_t{kPerThread}) << leaf;
    for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], i + 1) << leaf;
  }
}

TEST_F(QueueTest, AppendLoopThroughput) {
  // Not a benchmark with a threshold: it prints what one process appending batches reaches,
  // and checks that all of it was stored.
  auto q = OpenOk();
  ASSERT_TRUE(q);
  constexpr int kBatches = 400;
  constexpr int kBatchSize = 50;
  std::atomic<int> done{0}, failed{0};
  const auto t0 = std::chrono::steady_clock::now();
  for (int b = 0; b < kBatches; ++b) {
    std::vector<IncomingMessage> batch;
    for (int i = 0; i < kBatchSize; ++i) {
      batch.push_back(Msg("leaf-" + std::to_string(i % 20), std::string(120, 'x')));
    }
    q->Append(std::move(batch), [&](const Status& st, const std::vector<uint64_t>&) {
      if (!st.ok()) ++failed;
      ++done;
    });
  }
  ASSERT_TRUE(WaitFor([&] { return done.load() == kBatches; }));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(failed.load(), 0);
  const auto s = q->Stats();
  EXPECT_EQ(s.appended_total, uint64_t{kBatches * kBatchSize});
  std::printf("append loop: %d messages in %llu commits, %.0f msgs/s, %.2f ms per commit\n",
              kBatches * kBatchSize, static_cast<unsigned long long>(s.commits_total),
              kBatches * kBatchSize / secs,
              1000.0 * s.commit_seconds_total / static_cast<double>(s.commits_total));
}

size_t RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

// The queue reads what it delivers from SQLite: memory does not grow with the queue's length,
// and the WAL is checkpointed while commits go on.
TEST_F(QueueTest, MemoryAndWalStayBoundedWithALongQueue) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  constexpr int kBatches = 60;
  constexpr int kBatchSize = 500;
  const std::string payload(2000, 'q');  // 60 MB in all
  const size_t rss_before = RssKiB();
  for (int b = 0; b < kBatches; ++b) {
    std::vector<IncomingMessage> batch;
    for (int i = 0; i < kBatchSize; ++i) {
      batch.push_back(Msg("leaf-" + std::to_string(i % 7), payload + std::to_string(b)));
    }
    ASSERT_TRUE(AppendSync(*q, std::move(batch)).status.ok());
  }
  EXPECT_EQ(q->Stats().depth, uint64_t{kBatches * kBatchSize});
  EXPECT_LT(fs::file_size(qdir_ + "/queue.db-wal"), uint64_t{80} << 20);
  size_t taken = 0;
  uint64_t last_id = 0;
  for (;;) {
    auto got = q->Take(500, std::chrono::milliseconds(0));
    if (got.empty()) break;
    for (const auto& m : got) {
      EXPECT_GT(m.id, last_id);
      last_id = m.id;
      q->Ack(m.id);
    }
    taken += got.size();
  }
  EXPECT_EQ(taken, size_t{kBatches * kBatchSize});
  const size_t rss_after = RssKiB();
#if !defined(ET_UNDER_ASAN)
  // 60 MB went through the queue; what stays resident is caches and one batch at a time.
  EXPECT_LT(rss_after, rss_before + 32 * 1024) << rss_before << " KiB -> " << rss_after;
#endif
  std::printf("RSS %zu KiB before, %zu KiB after 60 MB through the queue\n", rss_before, rss_after);
  ASSERT_TRUE(WaitFor([&] { return q->Stats().depth == 0; }));
}

// A child process appends and reports every acknowledged (seq, index) on a pipe until it is
// SIGKILLed; afterwards every acknowledged message must be in the queue.
TEST_F(QueueTest, AcknowledgedMessagesSurviveKill9) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const QueueOptions o = Options();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto q = MessageQueue::Open(o);
    if (!q.ok()) ::_exit(3);
    std::mutex mu;
    std::condition_variable cv;
    int outstanding = 0;
    for (int n = 0;; ++n) {
      std::vector<IncomingMessage> batch;
      for (int i = 0; i < 10; ++i) batch.push_back(Msg("k", "crash-" + std::to_string(n * 10 + i)));
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return outstanding < 50; });
        ++outstanding;
      }
      (*q)->Append(std::move(batch), [&, n](const Status& st, const std::vector<uint64_t>& seqs) {
        if (st.ok()) {
          std::string lines;
          for (size_t i = 0; i < seqs.size(); ++i) {
            lines += std::to_string(seqs[i]) + " " + std::to_string(n * 10 + i) + "\n";
          }
          // Written before the next commit can start: what the pipe shows was acknowledged.
          if (::write(fds[1], lines.data(), lines.size()) < 0) ::_exit(4);
        }
        std::lock_guard lk(mu);
        --outstanding;
        cv.notify_all();
      });
    }
  }
  ::close(fds[1]);
  std::string acked;
  char buf[4096];
  // Let it commit a good number of batches, then kill it mid-stream.
  while (std::count(acked.begin(), acked.end(), '\n') < 3000) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    ASSERT_GT(n, 0) << "the writer process ended early";
    acked.append(buf, static_cast<size_t>(n));
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    acked.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);

  std::map<uint64_t, std::string> expected;
  std::istringstream in(acked);
  uint64_t seq = 0, index = 0;
  while (in >> seq >> index) expected[seq] = "crash-" + std::to_string(index);
  ASSERT_GE(expected.size(), 3000u);

  auto q = OpenOk();
  ASSERT_TRUE(q) << "after kill -9";
  auto all = TakeAll(*q);
  std::map<uint64_t, std::string> stored;
  for (const auto& m : all) {
    EXPECT_TRUE(stored.emplace(m.seq, m.payload).second) << "seq " << m.seq << " twice";
  }
  for (const auto& [s, payload] : expected) {
    auto it = stored.find(s);
    ASSERT_NE(it, stored.end()) << "acknowledged seq " << s << " was lost";
    EXPECT_EQ(it->second, payload);
  }
  // Stored seqs are contiguous from 1 (a commit is all or nothing).
  uint64_t next = 1;
  for (const auto& [s, payload] : stored) EXPECT_EQ(s, next++);
  // New appends continue after the last stored seq.
  auto r = AppendSync(*q, {Msg("k", "after")});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.seqs[0], stored.size() + 1);
  // The counter increment the killed process had sent may have arrived after this open read
  // the counter: the queue follows it, and the next open finds the file in step.
  q.reset();
  q = OpenOk();
  ASSERT_TRUE(q) << "after the first reopen";
  EXPECT_EQ(TakeAll(*q).size(), stored.size() + 1);
}

TEST_F(QueueTest, CounterAdvancedElsewhereIsFollowed) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  Fill(*q, "leaf", 1);
  // The queue's own principal advances the counter behind its back (like a late increment of a
  // crashed process): the file is behind it until the queue's next commit catches up.
  auto client = Client::Connect(sd_->socket());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->IncrementCounter("queue-generation").ok());
  ASSERT_TRUE((*client)->IncrementCounter("queue-generation").ok());
  Fill(*q, "leaf", 1);
  EXPECT_TRUE(Contains(Join(q->Notices()), "ahead of queue.db")) << Join(q->Notices());
  q.reset();
  q = OpenOk();
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->Notices().empty()) << Join(q->Notices());
  EXPECT_EQ(TakeAll(*q).size(), 2u);
}

TEST_F(QueueTest, FilesAreEncrypted) {
  const std::string payload = "SECRET-PAYLOAD-7f3a9c";
  const std::string subtopic = "SECRET-SUBTOPIC-c81d";
  auto q = OpenOk();
  ASSERT_TRUE(q);
  std::vector<IncomingMessage> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(Msg("visible-leaf", payload, subtopic));
  ASSERT_TRUE(AppendSync(*q, std::move(batch)).status.ok());
  ASSERT_TRUE(q->PutCommand("visible-leaf", subtopic, payload, 5).ok());
  auto files = [&] {
    std::string all;
    for (const char* name : {"queue.db", "queue.db-wal", "queue.key"}) {
      if (fs::exists(qdir_ + "/" + name)) all += ReadBinary(qdir_ + "/" + name);
    }
    return all;
  };
  // While open the rows sit in the WAL; after Close they are checkpointed into queue.db.
  std::string open_bytes = files();
  EXPECT_TRUE(Contains(open_bytes, "visible-leaf")) << "looked at the wrong files";
  EXPECT_FALSE(Contains(open_bytes, payload));
  EXPECT_FALSE(Contains(open_bytes, subtopic));
  q->Close();
  std::string closed_bytes = files();
  EXPECT_TRUE(Contains(closed_bytes, "visible-leaf"));
  EXPECT_FALSE(Contains(closed_bytes, payload));
  EXPECT_FALSE(Contains(closed_bytes, subtopic));
  // queue.key holds the data key sealed by the secure domain only; modes are owner-only.
  EXPECT_EQ(fs::status(qdir_).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(qdir_ + "/queue.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(qdir_ + "/queue.db").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

// docs/store.md's formats, implemented again in Python (cryptography, sqlite3), read a real
// queue.db: the key derivation, the row AEAD and its associated data, the meta row's HMAC and the
// set digests must all be exactly as documented.
constexpr char kFormatCheck[] = R"PY(
import hashlib, hmac, sqlite3, struct, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

plain = open(sys.argv[2], 'rb').read()
assert plain[:5] == b'ETQK\x01' and len(plain) == 45, 'key plaintext layout'
data_key = plain[13:]
def hkdf(info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(data_key)
k_aead, k_meta = hkdf(b'edgetrust queue v1 aead'), hkdf(b'edgetrust queue v1 meta')
k_set, k_leaves = hkdf(b'edgetrust queue v1 set'), hkdf(b'edgetrust queue v1 leaves')
u64 = lambda v: struct.pack('>Q', v & (2**64 - 1))
u16 = lambda v: struct.pack('>H', v)
def prf(d, i):
    e = Cipher(algorithms.AES(k_set), modes.ECB()).encryptor()
    return e.update(bytes([d]) + bytes(7) + u64(i)) + e.finalize()
xor = lambda a, b: bytes(x ^ y for x, y in zip(a, b))

c = sqlite3.connect(sys.argv[1])
(v,) = c.execute('SELECT v FROM meta WHERE k = 1').fetchone()
assert len(v) == 173, 'meta size'
assert hmac.compare_digest(hmac.new(k_meta, v[:-32], hashlib.sha256).digest(), v[-32:]), 'meta mac'
(gen, last_id, count, nbytes) = struct.unpack('>QQQQ', v[5:37])
mdigest = v[37:53]
(last_cmd, ncmd) = struct.unpack('>QQ', v[53:69])
cdigest = v[69:85]
(nleaves,) = struct.unpack('>Q', v[85:93])
ldigest = v[93:125]
d, n, total = bytes(16), 0, 0
for (i, leaf, seq, rms, size, sealed) in c.execute(
        'SELECT id, leaf, seq, received_ms, size, sealed FROM messages ORDER BY id'):
    lb = leaf.encode()
    aad = b'ETQ1M' + u64(i) + u64(seq) + u64(rms) + u64(size) + u16(len(lb)) + lb
    assert sealed[:4] == bytes(4), 'nonce layout'
    body = AESGCM(k_aead).decrypt(sealed[:12], sealed[12:], aad)
    sl = struct.unpack('>H', body[:2])[0]
    sub, payload = body[2:2 + sl], body[2 + sl:]
    assert len(payload) == size
    print('M %d %s %d %s %s' % (i, leaf, seq, sub.decode(), payload.decode()))
    d, n, total = xor(d, prf(ord('M'), i)), n + 1, total + size
assert (d, n, total) == (mdigest, count, nbytes), 'message digest'
d, n = bytes(16), 0
for (i, leaf, rms, sealed) in c.execute('SELECT id, leaf, received_ms, sealed FROM commands'):
    lb = leaf.encode()
    body = AESGCM(k_aead).decrypt(sealed[:12], sealed[12:],
                                  b'ETQ1C' + u64(i) + u64(rms) + u16(len(lb)) + lb)
    sl = struct.unpack('>H', body[:2])[0]
    print('C %d %s %s %s' % (i, leaf, body[2:2 + sl].decode(), body[2 + sl:].decode()))
    d, n = xor(d, prf(ord('C'), i)), n + 1
assert (d, n) == (cdigest, ncmd), 'command digest'
d, n = bytes(32), 0
for (name, seq) in c.execute('SELECT name, last_seq FROM leaves'):
    nb = name.encode()
    d = xor(d, hmac.new(k_leaves, u16(len(nb)) + nb + u64(seq), hashlib.sha256).digest())
    n += 1
assert (d, n) == (ldigest, nleaves), 'leaves digest'
print('generation %d' % gen)
)PY";

TEST_F(QueueTest, OnDiskFormatMatchesTheDocumentation) {
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    ASSERT_TRUE(AppendSync(*q, {Msg("a", "p1", "s1"), Msg("b", "p2", "s2"), Msg("a", "p3", "s3")})
                    .status.ok());
    auto got = q->Take(1, std::chrono::seconds(30));
    ASSERT_EQ(got.size(), 1u);
    q->Ack(got[0].id);
    ASSERT_TRUE(q->PutCommand("a", "cmd", "do-it", 7).ok());
  }
  // The test runs as the queue's principal, so it may unseal queue.key itself.
  auto client = Client::Connect(sd_->socket());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const std::string blob = ReadBinary(qdir_ + "/queue.key");
  auto plain = (*client)->Unseal(AsBytes(blob));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  const std::string plain_path = dir_.File("key.plain");
  WriteText(plain_path, std::string(reinterpret_cast<const char*>(plain->data()), plain->size()));
  WriteText(dir_.File("format.py"), kFormatCheck);
  auto r = RunCommand({kPython, dir_.File("format.py"), qdir_ + "/queue.db", plain_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto counter = (*client)->ReadCounter("queue-generation");
  ASSERT_TRUE(counter.ok()) << counter.status().ToString();
  EXPECT_EQ(r.out,
            "M 2 b 1 s2 p2\n"
            "M 3 a 2 s3 p3\n"
            "C 1 a cmd do-it\n"
            "generation " +
                std::to_string(*counter) + "\n");
}

TEST_F(QueueTest, ChangedCiphertextIsTampering) {
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    Fill(*q, "leaf", 5);
  }
  Python(
      "row = c.execute('SELECT sealed FROM messages WHERE id = 3').fetchone()[0]\n"
      "b = bytearray(row); b[20] ^= 1\n"
      "c.execute('UPDATE messages SET sealed = ? WHERE id = 3', (bytes(b),))");
  Status st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "message 3 failed authentication")) << st.message();
}

TEST_F(QueueTest, EditedColumnsAndSwappedRowsAreTampering) {
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    Fill(*q, "leaf", 5);
    Fill(*q, "other", 2);
  }
  CopyQueueFiles(dir_.File("good"));
  // A changed sequence number (to make the cloud drop it as a duplicate).
  Python("c.execute('UPDATE messages SET seq = 1 WHERE id = 2')");
  Status st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  // Another leaf's name on a row.
  RestoreQueueFiles(dir_.File("good"));
  Python("c.execute(\"UPDATE messages SET leaf = 'other' WHERE id = 3\")");
  st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  // Two rows' contents swapped.
  RestoreQueueFiles(dir_.File("good"));
  Python(
      "a = c.execute('SELECT sealed FROM messages WHERE id = 1').fetchone()[0]\n"
      "b = c.execute('SELECT sealed FROM messages WHERE id = 2').fetchone()[0]\n"
      "c.execute('UPDATE messages SET sealed = ? WHERE id = 1', (b,))\n"
      "c.execute('UPDATE messages SET sealed = ? WHERE id = 2', (a,))");
  st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  // A leaf's last sequence number set back (new messages would reuse seqs).
  RestoreQueueFiles(dir_.File("good"));
  Python(
      "c.execute(\"UPDATE leaves SET last_seq = 3 WHERE name = 'leaf'\")\n"
      "c.execute(\"DELETE FROM messages WHERE leaf = 'leaf' AND seq > 3\")");
  st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  // A trigger planted in the schema.
  RestoreQueueFiles(dir_.File("good"));
  Python("c.execute('CREATE TRIGGER t AFTER INSERT ON messages BEGIN DELETE FROM messages; END')");
  st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "trigger")) << st.message();
  // The untouched copy still opens and holds everything.
  RestoreQueueFiles(dir_.File("good"));
  auto q = OpenOk();
  ASSERT_TRUE(q);
  EXPECT_EQ(TakeAll(*q).size(), 7u);
}

TEST_F(QueueTest, DeletedUnacknowledgedRowIsTampering) {
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    Fill(*q, "leaf", 6);
    // Acknowledged out of order: legitimately deleted rows are no gap.
    auto got = q->Take(6, std::chrono::seconds(30));
    ASSERT_EQ(got.size(), 6u);
    q->Ack(got[1].id);
    q->Ack(got[4].id);
  }
  CopyQueueFiles(dir_.File("good"));
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    EXPECT_EQ(q->Stats().depth, 4u);
  }
  RestoreQueueFiles(dir_.File("good"));
  Python("c.execute('DELETE FROM messages WHERE id = 4')");
  Status st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "unacknowledged messages were deleted")) << st.message();
}

TEST_F(QueueTest, ReinsertedAcknowledgedRowIsTampering) {
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    Fill(*q, "leaf", 4);
  }
  // The attacker keeps a copy of a row, waits until it was acknowledged and deleted, then puts
  // it back in place of another one (same count), hoping for a silent replay.
  std::string saved = dir_.File("row1.bin");
  {
    const std::string script = dir_.File("save.py");
    WriteText(script,
              "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\n"
              "r = c.execute('SELECT id, leaf, seq, received_ms, size, sealed FROM messages "
              "WHERE id = 1').fetchone()\nopen(sys.argv[2], 'w').write(repr(r))\n");
    auto r = RunCommand({kPython, script, qdir_ + "/queue.db", saved});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    auto got = q->Take(1, std::chrono::seconds(30));
    ASSERT_EQ(got.size(), 1u);
    q->Ack(got[0].id);
  }
  Python("r = eval(open('" + saved +
         "').read())\n"
         "c.execute('DELETE FROM messages WHERE id = 4')\n"
         "c.execute('INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)', r)");
  Status st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "re-inserted")) << st.message();
}

TEST_F(QueueTest, RestoredOlderCopyIsDetectedAsRollback) {
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    Fill(*q, "leaf", 3);
  }
  CopyQueueFiles(dir_.File("old"));
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    auto got = q->Take(3, std::chrono::seconds(30));
    for (const auto& m : got) q->Ack(m.id);
    Fill(*q, "leaf", 2);
  }
  RestoreQueueFiles(dir_.File("old"));
  Status st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "rolled back")) << st.message();
  // Never replayed: still refused on the next attempt.
  st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered);
}

TEST_F(QueueTest, QuarantineKeepsEvidenceAndStartsFresh) {
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    Fill(*q, "leaf", 3);
  }
  CopyQueueFiles(dir_.File("old"));
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    Fill(*q, "leaf", 2);
  }
  RestoreQueueFiles(dir_.File("old"));
  QueueOptions o = Options();
  o.quarantine_on_tamper = true;
  auto q = OpenOk(o);
  ASSERT_TRUE(q);
  const std::string notices = Join(q->Notices());
  EXPECT_TRUE(Contains(notices, "rolled back")) << notices;
  EXPECT_TRUE(Contains(notices, "renamed")) << notices;
  // Nothing of the rolled-back file is replayed.
  EXPECT_EQ(q->Stats().depth, 0u);
  EXPECT_TRUE(q->Take(10, std::chrono::milliseconds(0)).empty());
  int db = 0, wal_or_key = 0;
  for (const auto& e : fs::directory_iterator(qdir_)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("queue.db.tampered-", 0) == 0 && name.find("-wal") == std::string::npos &&
        name.find("-shm") == std::string::npos) {
      ++db;
    }
    if (name.rfind("queue.key.tampered-", 0) == 0) ++wal_or_key;
  }
  EXPECT_EQ(db, 1);
  EXPECT_EQ(wal_or_key, 1);
  // The new queue works, and its seqs cannot collide with those the old queue gave out.
  auto r = AppendSync(*q, {Msg("leaf", "fresh")});
  ASSERT_TRUE(r.status.ok());
  EXPECT_GT(r.seqs[0], 5u);
  q.reset();
  q = OpenOk();
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->Notices().empty()) << Join(q->Notices());
  auto all = TakeAll(*q);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].payload, "fresh");
}

TEST_F(QueueTest, MissingKeyOrDatabaseIsTampering) {
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    Fill(*q, "leaf", 2);
  }
  CopyQueueFiles(dir_.File("good"));
  fs::remove(qdir_ + "/queue.key");
  Status st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "queue.key is missing")) << st.message();

  RestoreQueueFiles(dir_.File("good"));
  fs::remove(qdir_ + "/queue.db");
  st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "database was removed")) << st.message();

  // A damaged key file, and a file that is not a database at all.
  RestoreQueueFiles(dir_.File("good"));
  std::string key = ReadBinary(qdir_ + "/queue.key");
  key[key.size() / 2] ^= 0x40;
  WriteText(qdir_ + "/queue.key", key);
  st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
  RestoreQueueFiles(dir_.File("good"));
  WriteText(qdir_ + "/queue.db", std::string(8192, 'z'));
  st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
}

TEST_F(QueueTest, RejectNewWhenFull) {
  QueueOptions o = Options();
  o.max_messages = 5;
  o.max_bytes = 1000;
  auto q = OpenOk(o);
  ASSERT_TRUE(q);
  Fill(*q, "leaf", 5);
  auto r = AppendSync(*q, {Msg("leaf", "one too many")});
  EXPECT_EQ(r.status.code(), ErrorCode::kResourceExhausted) << r.status.ToString();
  EXPECT_TRUE(r.seqs.empty());
  EXPECT_EQ(q->Stats().rejected_total, 1u);
  EXPECT_EQ(q->Stats().dropped_total, 0u);
  // Room again once the cloud acknowledged one; the refused message used no seq.
  auto got = q->Take(1, std::chrono::seconds(30));
  ASSERT_EQ(got.size(), 1u);
  q->Ack(got[0].id);
  ASSERT_TRUE(WaitFor([&] { return q->Stats().depth == 4; }));
  r = AppendSync(*q, {Msg("leaf", "fits")});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.seqs, std::vector<uint64_t>{6});
  // The byte bound too.
  got = q->Take(10, std::chrono::seconds(30));
  for (const auto& m : got) q->Ack(m.id);
  ASSERT_TRUE(WaitFor([&] { return q->Stats().depth == 0; }));
  r = AppendSync(*q, {Msg("leaf", std::string(600, 'a'))});
  ASSERT_TRUE(r.status.ok());
  r = AppendSync(*q, {Msg("leaf", std::string(600, 'b'))});
  EXPECT_EQ(r.status.code(), ErrorCode::kResourceExhausted);
  // A batch larger than the whole queue is refused whatever the policy.
  std::vector<IncomingMessage> big;
  for (int i = 0; i < 6; ++i) big.push_back(Msg("leaf", "x"));
  r = AppendSync(*q, std::move(big));
  EXPECT_EQ(r.status.code(), ErrorCode::kResourceExhausted);
}

TEST_F(QueueTest, DropOldestMakesRoomAndCounts) {
  QueueOptions o = Options();
  o.max_messages = 5;
  o.full_policy = FullPolicy::kDropOldest;
  auto q = OpenOk(o);
  ASSERT_TRUE(q);
  Fill(*q, "leaf", 5);
  auto taken = q->Take(1, std::chrono::seconds(30));  // the oldest is in flight
  ASSERT_EQ(taken.size(), 1u);
  auto r = AppendSync(*q, {Msg("leaf", "n1"), Msg("leaf", "n2"), Msg("leaf", "n3")});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.seqs, (std::vector<uint64_t>{6, 7, 8}));
  auto s = q->Stats();
  EXPECT_EQ(s.dropped_total, 3u);
  EXPECT_EQ(s.depth, 5u);
  EXPECT_EQ(s.inflight, 0u);  // the dropped in-flight message is no longer in flight
  auto all = TakeAll(*q);
  std::vector<uint64_t> seqs;
  for (const auto& m : all) seqs.push_back(m.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{4, 5, 6, 7, 8}));
  // Dropping leaves a consistent file.
  q.reset();
  q = OpenOk(o);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->Stats().depth, 5u);
}

TEST_F(QueueTest, CommandsRoundTripAndBound) {
  QueueOptions o = Options();
  o.max_commands_per_leaf = 3;
  auto q = OpenOk(o);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->PutCommand("a", "set", "c1", 1).ok());
  ASSERT_TRUE(q->PutCommand("b", "set", "b1", 2).ok());
  ASSERT_TRUE(q->PutCommand("a", "reboot", "c2", 3).ok());
  ASSERT_TRUE(q->PutCommand("a", "set", "c3", 4).ok());
  auto cmds = q->PendingCommands("a", 10);
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].payload, "c1");
  EXPECT_EQ(cmds[1].subtopic, "reboot");
  EXPECT_EQ(cmds[1].received_ms, 3);
  EXPECT_EQ(cmds[2].leaf, "a");
  EXPECT_EQ(q->PendingCommands("a", 2).size(), 2u);
  EXPECT_EQ(q->PendingCommands("nobody", 10).size(), 0u);
  q->CommandDelivered(cmds[0].id);
  cmds = q->PendingCommands("a", 10);
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].payload, "c2");
  // The bound: a fourth pending command for "a" drops its oldest.
  ASSERT_TRUE(q->PutCommand("a", "set", "c4", 5).ok());
  ASSERT_TRUE(q->PutCommand("a", "set", "c5", 6).ok());
  EXPECT_EQ(q->Stats().commands_dropped_total, 1u);
  // Encrypted, durable, and the delivered one stays delivered across a restart.
  q.reset();
  q = OpenOk(o);
  ASSERT_TRUE(q);
  cmds = q->PendingCommands("a", 10);
  ASSERT_EQ(cmds.size(), 3u);
  EXPECT_EQ(cmds[0].payload, "c3");
  EXPECT_EQ(cmds[2].payload, "c5");
  ASSERT_EQ(q->PendingCommands("b", 10).size(), 1u);
  // Bad input is refused.
  EXPECT_EQ(q->PutCommand("", "s", "p", 1).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(q->PutCommand("a", std::string(2000, 's'), "p", 1).code(), ErrorCode::kTooLarge);
  q.reset();
  // A command moved to another leaf fails authentication.
  Python("c.execute(\"UPDATE commands SET leaf = 'b' WHERE leaf = 'a'\")");
  Status st = OpenFails(o);
  EXPECT_EQ(st.code(), ErrorCode::kTampered) << st.ToString();
}

TEST_F(QueueTest, BadMessagesAreRefused) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  EXPECT_EQ(AppendSync(*q, {Msg("", "x")}).status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(AppendSync(*q, {Msg("bad\nleaf", "x")}).status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(AppendSync(*q, {Msg(std::string(300, 'l'), "x")}).status.code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(AppendSync(*q, {Msg("ok", std::string((1 << 20) + 1, 'x'))}).status.code(),
            ErrorCode::kTooLarge);
  EXPECT_EQ(AppendSync(*q, {Msg("ok", "x", std::string(1025, 's'))}).status.code(),
            ErrorCode::kTooLarge);
  // A bad message refuses its whole batch, and nothing else.
  auto r = AppendSync(*q, {Msg("ok", "fine"), Msg("", "bad")});
  EXPECT_EQ(r.status.code(), ErrorCode::kInvalidArgument);
  r = AppendSync(*q, {Msg("ok", "fine")});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.seqs, std::vector<uint64_t>{1});
  // More pending than max_pending_bytes at once.
  QueueOptions o = Options();
  q.reset();
  o.max_pending_bytes = 1000;
  q = OpenOk(o);
  ASSERT_TRUE(q);
  EXPECT_EQ(AppendSync(*q, {Msg("ok", std::string(2000, 'x'))}).status.code(),
            ErrorCode::kResourceExhausted);
  // Closed: refused at once, on the caller's thread.
  q->Close();
  EXPECT_EQ(AppendSync(*q, {Msg("ok", "x")}).status.code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(q->Take(1, std::chrono::seconds(30)).empty());
  EXPECT_EQ(q->PutCommand("ok", "s", "p", 1).code(), ErrorCode::kFailedPrecondition);
}

TEST_F(QueueTest, SecondOpenOfTheSameFolderIsRefused) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  Status st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kFailedPrecondition) << st.ToString();
}

TEST_F(QueueTest, StoppedDaemonFailsOpenClearly) {
  {
    auto q = OpenOk();
    ASSERT_TRUE(q);
    Fill(*q, "leaf", 2);
  }
  ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
  Status st = OpenFails(Options());
  EXPECT_EQ(st.code(), ErrorCode::kUnavailable) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "edgetrust-sd")) << st.message();
  // Nothing was changed: with the daemon back, the queue opens with its messages.
  ASSERT_TRUE(sd_->Start()) << sd_->log();
  auto q = OpenOk();
  ASSERT_TRUE(q);
  EXPECT_EQ(TakeAll(*q).size(), 2u);
}

TEST_F(QueueTest, DaemonRestartWhileOpenDelaysAcknowledgementsOnly) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  Fill(*q, "leaf", 1);
  ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
  std::atomic<bool> called{false};
  Status result(ErrorCode::kInternal, "not called");
  std::mutex mu;
  q->Append({Msg("leaf", "while-down")}, [&](const Status& st, const std::vector<uint64_t>&) {
    std::lock_guard lk(mu);
    result = st;
    called = true;
  });
  // The commit happened but cannot be counted by the secure domain: no acknowledgement yet.
  ASSERT_TRUE(WaitFor([&] { return q->Stats().anchor_failures_total > 0; }));
  EXPECT_FALSE(called.load());
  ASSERT_TRUE(sd_->Start()) << sd_->log();
  ASSERT_TRUE(WaitFor([&] { return called.load(); }));
  {
    std::lock_guard lk(mu);
    EXPECT_TRUE(result.ok()) << result.ToString();
  }
  q.reset();
  q = OpenOk();
  ASSERT_TRUE(q);
  EXPECT_EQ(TakeAll(*q).size(), 2u);
  EXPECT_TRUE(q->Notices().empty()) << Join(q->Notices());
}

TEST_F(QueueTest, CommitsNotCountedBeforeCloseAreRecoveredAtOpen) {
  auto q = OpenOk();
  ASSERT_TRUE(q);
  Fill(*q, "leaf", 1);
  const uint64_t commits = q->Stats().commits_total;
  ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
  // Committed, but the counter cannot follow. One more commit may overlap with the counting of
  // the first; a third has to wait, and Close gives up waiting for the secure domain.
  std::mutex mu;
  std::vector<Status> results(3, Status(ErrorCode::kInternal, "not called"));
  auto append = [&](int i) {
    q->Append({Msg("leaf", "uncounted-" + std::to_string(i))},
              [&, i](const Status& st, const std::vector<uint64_t>&) {
                std::lock_guard lk(mu);
                results[i] = st;
              });
  };
  append(0);
  ASSERT_TRUE(WaitFor([&] { return q->Stats().anchor_failures_total > 0; }));
  append(1);
  ASSERT_TRUE(WaitFor([&] { return q->Stats().commits_total == commits + 2; }));
  append(2);
  q->Close();
  {
    std::lock_guard lk(mu);
    EXPECT_TRUE(results[0].ok()) << results[0].ToString();  // durable
    EXPECT_TRUE(results[1].ok()) << results[1].ToString();
    EXPECT_EQ(results[2].code(), ErrorCode::kUnavailable) << results[2].ToString();
  }
  EXPECT_EQ(q->Stats().commits_total, commits + 2);
  EXPECT_TRUE(Contains(Join(q->Notices()), "not yet counted")) << Join(q->Notices());
  q.reset();
  ASSERT_TRUE(sd_->Start()) << sd_->log();
  q = OpenOk();
  ASSERT_TRUE(q);
  EXPECT_TRUE(Contains(Join(q->Notices()), "recovered: the last 2 commit(s)"))
      << Join(q->Notices());
  auto all = TakeAll(*q);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].payload, "uncounted-1");
  q.reset();
  // Brought up to date: the next open has nothing to report.
  q = OpenOk();
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->Notices().empty()) << Join(q->Notices());
}

}  // namespace
}  // namespace edgetrust::test
