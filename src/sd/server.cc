#include "sd/server.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd_io.h"
#include "common/files.h"
#include "common/thread_start.h"
#include "protocol/message.h"
#include "protocol/wire.h"

namespace edgetrust::sd {

using protocol::FrameHeader;
using protocol::Message;
using protocol::Opcode;

struct Server::Connection {
  int fd = -1;
  Peer peer;
  std::thread thread;
  std::atomic<bool> serving{true};  // counts against the limits
  std::atomic<bool> done{false};    // the thread may be joined and this object freed
};

namespace {

// Per-connection receive buffer: a few pipelined requests of typical size fit at once. Allocated
// when the connection's first request arrives.
constexpr size_t kRecvBufferSize = 16 * 1024;

// How long a connection thread polls for the client's next request before it blocks. A client
// calling in a loop sends it a few microseconds after our answer; one that does not costs us this
// much CPU per request, once.
constexpr std::chrono::microseconds kNextRequestSpin{25};

enum class ReadResult { kOk, kClosed, kTimeout, kError };

// Reads exactly `size` bytes straight from the socket (bodies too large for the receive buffer).
// With a deadline, gives up when it passes; without one, waits for as long as the peer keeps the
// connection open.
ReadResult ReadExact(int fd, uint8_t* out, size_t size,
                     std::chrono::steady_clock::time_point* deadline) {
  size_t off = 0;
  while (off < size) {
    if (deadline != nullptr) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return ReadResult::kTimeout;
      pollfd p{fd, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc == 0) return ReadResult::kTimeout;
      if (rc < 0) {
        if (errno == EINTR) continue;
        return ReadResult::kError;
      }
    }
    ssize_t n = ::recv(fd, out + off, size - off, 0);
    if (n == 0) return ReadResult::kClosed;
    if (n < 0) {
      if (errno == EINTR) continue;
      return ReadResult::kError;
    }
    off += static_cast<size_t>(n);
  }
  return ReadResult::kOk;
}

// Receives until `in` holds at least `want` bytes (at most its capacity). Without a deadline
// (idle between frames) the recv blocks for as long as the peer likes. With one, the recv does not
// block: bytes already queued (the usual case, a frame arrives in one piece) cost no poll(); only
// when none are there does poll() wait, up to the deadline.
ReadResult FillTo(int fd, RecvBuffer& in, size_t want,
                  std::chrono::steady_clock::time_point* deadline) {
  while (in.size() < want) {
    ssize_t n = in.Fill(fd, deadline != nullptr ? MSG_DONTWAIT : 0);
    if (n > 0) continue;
    if (n == 0) return ReadResult::kClosed;
    if (deadline == nullptr || (n != -EAGAIN && n != -EWOULDBLOCK)) return ReadResult::kError;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        *deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return ReadResult::kTimeout;
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc == 0) return ReadResult::kTimeout;
    if (rc < 0 && errno != EINTR) return ReadResult::kError;
  }
  return ReadResult::kOk;
}

bool SendFrame(int fd, const FrameHeader& h, const Bytes& body) {
  auto header = protocol::EncodeHeader(h);
  iovec iov[2] = {{header.data(), header.size()}, {const_cast<uint8_t*>(body.data()), body.size()}};
  return SendAll(fd, iov, body.empty() ? 1 : 2) == 0;
}

bool SendError(int fd, const FrameHeader& req, const Status& st) {
  FrameHeader h;
  h.opcode = req.opcode;
  h.request_id = req.request_id;
  h.status = static_cast<uint32_t>(st.code());
  Message m;
  m.PutString(protocol::Field::kMessage, protocol::PrintableText(st.message(), 1024));
  Bytes body = m.Encode();
  h.body_length = static_cast<uint32_t>(body.size());
  return SendFrame(fd, h, body);
}

// Drops `size` body bytes (buffered first, then from the socket), so the stream stays in sync
// after a refused request.
bool Discard(int fd, RecvBuffer& in, size_t size, std::chrono::steady_clock::time_point* deadline) {
  while (size > 0) {
    if (in.size() == 0 && FillTo(fd, in, 1, deadline) != ReadResult::kOk) return false;
    size_t n = std::min(size, in.size());
    in.Consume(n);
    size -= n;
  }
  return true;
}

}  // namespace

Server::Server(ServerOptions options, Dispatcher& dispatcher)
    : options_(std::move(options)), dispatcher_(dispatcher) {}

Server::~Server() {
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(options_.socket_path.c_str());
  }
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

Status Server::Listen() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& path = options_.socket_path;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status(ErrorCode::kInvalidArgument, "socket path is empty or longer than " +
                                                   std::to_string(sizeof(addr.sun_path) - 1) +
                                                   " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Status(ErrorCode::kAlreadyExists, path + " exists and is not a socket");
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live =
        probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) ::close(probe);
    if (live) return Status(ErrorCode::kAlreadyExists, "another daemon is serving " + path);
    ::unlink(path.c_str());  // stale, from a daemon that died
  }

  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status(ErrorCode::kInternal, "pipe: " + ErrnoText(errno));
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status(ErrorCode::kInternal, "socket: " + ErrnoText(errno));
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(listen_fd_);
    listen_fd_ = -1;
    return Status(ErrorCode::kIoError, "cannot bind " + path + ": " + ErrnoText(err));
  }
  if (::chmod(path.c_str(), options_.socket_mode) != 0) {
    return Status(ErrorCode::kIoError, "chmod " + path + ": " + ErrnoText(errno));
  }
  if (::listen(listen_fd_, 128) != 0)
    return Status(ErrorCode::kIoError, "listen: " + ErrnoText(errno));
  return Status::Ok();
}

void Server::Stop() {
  char c = 1;
  // Async-signal-safe: a write to a pipe. A full pipe means a wake-up is pending anyway.
  [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &c, 1);
}

void Server::ReapFinished() {
  std::lock_guard<std::mutex> lock(conns_mu_);
  for (auto it = conns_.begin(); it != conns_.end();) {
    if ((*it)->done.load()) {
      (*it)->thread.join();
      ::close((*it)->fd);
      it = conns_.erase(it);
    } else {
      ++it;
    }
  }
}

Status Server::Run() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Status(ErrorCode::kInternal, "poll: " + ErrnoText(errno));
    }
    if (fds[1].revents != 0) break;
    if ((fds[0].revents & POLLIN) == 0) continue;
    ReapFinished();  // before accepting, so finished connections give their descriptors back
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: the pending connection stays queued. Back off briefly (still
        // woken by Stop()) instead of spinning until a connection thread frees one.
        spdlog::warn("event=accept-failed reason=\"{}\"", ErrnoText(errno));
        pollfd wake{wake_pipe_[0], POLLIN, 0};
        if (::poll(&wake, 1, 50) > 0) break;
        continue;
      }
      return Status(ErrorCode::kInternal, "accept: " + ErrnoText(errno));
    }
    // A stuck reader must not pin a connection thread forever on a write.
    timeval send_timeout{30, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    if (active_.load() >= options_.max_connections) {
      SendError(fd, FrameHeader{}, Status(ErrorCode::kResourceExhausted, "too many connections"));
      ::close(fd);
      spdlog::warn("event=connection-refused reason=too-many-connections limit={}",
                   options_.max_connections);
      continue;
    }
    auto peer = IdentifyPeer(fd, options_.proc_root, options_.cgroup_root);
    if (!peer.ok()) {
      spdlog::warn("event=connection-refused reason=\"{}\"", peer.status().message());
      SendError(fd, FrameHeader{}, peer.status());
      ::close(fd);
      continue;
    }
    std::lock_guard<std::mutex> lock(conns_mu_);
    size_t same = 0;
    for (const auto& c : conns_) {
      if (c->serving.load() && c->peer.principal == peer->principal) ++same;
    }
    if (same >= options_.max_connections_per_principal) {
      SendError(
          fd, FrameHeader{},
          Status(ErrorCode::kResourceExhausted, "too many connections from " + peer->principal));
      ::close(fd);
      spdlog::warn("event=connection-refused reason=too-many-connections principal={} limit={}",
                   peer->principal, options_.max_connections_per_principal);
      continue;
    }
    auto conn = std::make_unique<Connection>();
    conn->fd = fd;
    conn->peer = std::move(peer).value();
    Connection* raw = conn.get();
    active_.fetch_add(1);
    conns_.push_back(std::move(conn));
    try {
      raw->thread = StartThread([this, raw] { Serve(raw); });
    } catch (const std::exception& e) {
      // Out of threads (RLIMIT_NPROC, a pids cgroup, address space): refuse this caller, keep
      // serving the others.
      conns_.pop_back();
      active_.fetch_sub(1);
      SendError(fd, FrameHeader{},
                Status(ErrorCode::kResourceExhausted, "cannot serve another connection now"));
      ::close(fd);
      spdlog::warn("event=connection-refused reason=\"thread: {}\"", e.what());
    }
  }
  // Shutting down: wake every connection thread (their reads return 0), then join them.
  std::lock_guard<std::mutex> lock(conns_mu_);
  for (auto& c : conns_) ::shutdown(c->fd, SHUT_RDWR);
  for (auto& c : conns_) {
    c->thread.join();
    ::close(c->fd);
  }
  conns_.clear();
  return Status::Ok();
}

Result<Message> Server::HandleNoThrow(const Peer& peer, Opcode op, const Message& request) {
  // The exception boundary of a request: an allocation failure or a library exception fails this
  // request, not the daemon.
  try {
    return dispatcher_.Handle(peer, op, request);
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kResourceExhausted, "out of memory");
  } catch (const std::exception& e) {
    spdlog::error("event=internal-error op={} error=\"{}\"", protocol::OpcodeName(op), e.what());
    return Status(ErrorCode::kInternal, "internal error");
  }
}

void Server::Serve(Connection* conn) {
  try {
    ServeFrames(conn);
  } catch (const std::exception& e) {
    // Only allocation failures can get here (requests have their own boundary): drop this
    // connection, keep the daemon.
    spdlog::error("event=connection-error principal={} error=\"{}\"", conn->peer.principal,
                  e.what());
  }
  // The peer must see the end now, not when the accept loop next reaps this thread. The slot is
  // released before the disconnect is logged, so whoever sees the log line finds it free.
  ::shutdown(conn->fd, SHUT_RDWR);
  active_.fetch_sub(1);
  conn->serving.store(false);
  spdlog::debug("event=disconnect principal={} pid={}", conn->peer.principal, conn->peer.pid);
  conn->done.store(true);
}

void Server::ServeFrames(Connection* conn) {
  const int fd = conn->fd;
  const Peer& peer = conn->peer;
  spdlog::debug("event=connect principal={} uid={} pid={}", peer.principal, peer.uid, peer.pid);
  RecvBuffer in(kRecvBufferSize);
  Bytes large_body;  // only for bodies that do not fit in the receive buffer
  for (;;) {
    // Wait for the first byte as long as the client likes; the rest of the frame has a deadline.
    // Between frames, a client that sends requests back to back (most do) has its next one here
    // within microseconds of our answer: poll briefly before blocking, which spares both sides a
    // sleep and a wake-up (RecvBuffer::FillSpinning).
    if (in.size() == 0 && in.FillSpinning(fd, kNextRequestSpin) <= 0) break;
    ReadResult r = FillTo(fd, in, 1, nullptr);
    if (r != ReadResult::kOk) break;
    auto deadline = std::chrono::steady_clock::now() + options_.frame_timeout;
    r = FillTo(fd, in, protocol::kHeaderSize, &deadline);
    if (r != ReadResult::kOk) {
      if (r == ReadResult::kTimeout)
        spdlog::warn("event=frame-timeout principal={} pid={}", peer.principal, peer.pid);
      break;
    }
    const uint8_t* header = in.data().data();
    auto h = protocol::DecodeHeader(in.data().first(protocol::kHeaderSize));
    if (!h.ok()) {
      spdlog::warn("event=bad-frame principal={} pid={} reason=\"{}\"", peer.principal, peer.pid,
                   h.status().message());
      if (h.status().code() == ErrorCode::kTooLarge) {
        FrameHeader partial;
        partial.request_id = protocol::GetU64(header + 8);
        partial.opcode = protocol::GetU16(header + 6);
        SendError(fd, partial, h.status());
      }
      break;  // the stream cannot be trusted any more
    }
    in.Consume(protocol::kHeaderSize);
    if (h->version != protocol::kProtocolVersion) {
      if (!Discard(fd, in, h->body_length, &deadline)) break;
      if (!SendError(
              fd, *h,
              Status(ErrorCode::kUnsupported, "protocol version " + std::to_string(h->version) +
                                                  " is not supported; this daemon speaks version " +
                                                  std::to_string(protocol::kProtocolVersion)))) {
        break;
      }
      continue;
    }
    if (!protocol::IsKnownOpcode(h->opcode)) {
      if (!Discard(fd, in, h->body_length, &deadline)) break;
      if (!SendError(
              fd, *h,
              Status(ErrorCode::kUnsupported, "unknown opcode " + std::to_string(h->opcode))))
        break;
      continue;
    }
    // The body is decoded where it lies: in the receive buffer when it fits (no copy), else in
    // large_body, read straight from the socket past what the buffer already holds.
    ByteView body;
    const bool fits = h->body_length <= in.capacity();
    if (fits) {
      r = FillTo(fd, in, h->body_length, &deadline);
      if (r == ReadResult::kOk) body = in.data().first(h->body_length);
    } else {
      large_body.resize(h->body_length);
      const size_t buffered = std::min<size_t>(in.size(), h->body_length);
      in.Take(large_body.data(), buffered);
      r = ReadExact(fd, large_body.data() + buffered, large_body.size() - buffered, &deadline);
      body = large_body;
    }
    if (r != ReadResult::kOk) {
      if (r == ReadResult::kTimeout)
        spdlog::warn("event=frame-timeout principal={} pid={}", peer.principal, peer.pid);
      break;
    }
    auto op = static_cast<Opcode>(h->opcode);
    Status error;
    Bytes answer;
    {
      auto request = Message::Decode(body, op, protocol::BodyKind::kRequest);
      if (fits) {
        in.Consume(h->body_length);  // wipes it
      } else {
        SecureWipe(large_body.data(), large_body.size());
        large_body = Bytes();
      }
      if (!request.ok()) {
        error = request.status();
      } else {
        auto result = HandleNoThrow(peer, op, *request);
        if (result.ok()) {
          answer = result->Encode();
          if (answer.size() > protocol::kMaxBodySize) {
            // Never send what no client may accept: it would kill the client's whole connection.
            const size_t size = answer.size();
            SecureWipe(answer.data(), answer.size());
            answer.clear();
            error = Status(ErrorCode::kTooLarge, "the answer would be " + std::to_string(size) +
                                                     " bytes, over the frame limit");
          }
        } else {
          error = result.status();
        }
      }
    }
    bool sent;
    if (!error.ok()) {
      spdlog::debug("event=request-failed principal={} op={} error=\"{}\"", peer.principal,
                    protocol::OpcodeName(op), error.ToString());
      sent = SendError(fd, *h, error);
    } else {
      FrameHeader out;
      out.opcode = h->opcode;
      out.request_id = h->request_id;
      out.body_length = static_cast<uint32_t>(answer.size());
      sent = SendFrame(fd, out, answer);
      SecureWipe(answer.data(), answer.size());
    }
    if (!sent) break;
  }
}

}  // namespace edgetrust::sd
