// One connection to edgetrust-sd, shared by many threads, with pipelined requests.
//
// Any number of threads may Call() at once: each writes its request under a write lock, then waits
// for the answer with its request id. Whichever waiter finds nobody reading becomes the reader and
// hands frames to their owners (leader/follower), so no thread of our own is started and answers
// may arrive in any order. When the connection fails every waiter gets kUnavailable.
//
// The common case, one request in flight, costs one send and (usually) one receive system call
// and no wake-up of another thread: the reader reads through a buffer (header and body in one
// recv) and keeps its own answer without going through the shared table; other waiters are only
// notified when there are any. The reader polls for up to kAnswerSpin before it blocks: a small
// operation's answer comes back within that, and a thread that never slept needs no wake-up
// (RecvBuffer::FillSpinning). After an answer that took longer it blocks straight away, until
// answers come quickly again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/fd_io.h"
#include "edgetrust/status.h"
#include "protocol/message.h"
#include "protocol/wire.h"

namespace edgetrust::client {

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const std::string& socket_path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends a request and waits for its answer, decoded against the schema. A daemon error answer
  // becomes its Status.
  Result<protocol::Message> Call(protocol::Opcode op, const protocol::Message& request);

  // Pipelining from one thread: Send() returns the request id to Wait() for later.
  Result<uint64_t> Send(protocol::Opcode op, const protocol::Message& request);
  Result<protocol::Message> Wait(uint64_t request_id, protocol::Opcode op);

 private:
  struct Frame {
    protocol::FrameHeader header;
    Bytes body;
  };
  explicit Connection(int fd) : fd_(fd), in_(kRecvBufferSize) {}
  // Reads one frame through in_. Only the reader (reading_ set, or nobody else can be reading).
  Status ReadFrame(Frame& frame);
  // After a failed send: the daemon's refusal of the connection if one is waiting, else fallback.
  // Called with mu_ held and no reader active.
  Status RefusalOr(const Status& fallback);
  static Status ErrorFromFrame(const Frame& frame);

  // A handful of typical answers fit at once; larger bodies are read past it.
  static constexpr size_t kRecvBufferSize = 16 * 1024;
  // Covers the daemon's small operations (HMAC, AES-GCM) and a P-256 signature; longer ones block.
  static constexpr std::chrono::microseconds kAnswerSpin{50};

  int fd_;
  RecvBuffer in_;     // used by the one reader only
  bool spin_ = true;  // the reader's: whether the last answer came within kAnswerSpin
  std::mutex write_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool reading_ = false;
  size_t waiting_ = 0;  // threads blocked on cv_
  bool dead_ = false;
  Status dead_status_;
  std::unordered_map<uint64_t, Frame> ready_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace edgetrust::client
