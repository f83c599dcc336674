#include "client/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fd_io.h"
#include "common/files.h"

namespace edgetrust::client {

using protocol::FrameHeader;
using protocol::Message;
using protocol::Opcode;

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status(ErrorCode::kInvalidArgument, "socket path is empty or too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status(ErrorCode::kUnavailable, "socket: " + ErrnoText(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    return Status(ErrorCode::kUnavailable,
                  "cannot connect to edgetrust-sd at " + path + ": " + ErrnoText(err));
  }
  return std::unique_ptr<Connection>(new Connection(fd));
}

Connection::~Connection() { ::close(fd_); }

Result<uint64_t> Connection::Send(Opcode op, const Message& request) {
  Bytes body = request.Encode();
  if (body.size() > protocol::kMaxBodySize) {
    return Status(ErrorCode::kTooLarge,
                  "request of " + std::to_string(body.size()) + " bytes is over the limit");
  }
  FrameHeader h;
  h.opcode = static_cast<uint16_t>(op);
  h.request_id = next_id_.fetch_add(1, std::memory_order_relaxed);
  h.body_length = static_cast<uint32_t>(body.size());
  auto header = protocol::EncodeHeader(h);
  iovec iov[2] = {{header.data(), header.size()}, {body.data(), body.size()}};
  Status st;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (int err = SendAll(fd_, iov, body.empty() ? 1 : 2); err != 0) {
      st = Status(ErrorCode::kUnavailable, "send to edgetrust-sd: " + ErrnoText(err));
    }
  }
  SecureWipe(body.data(), body.size());
  if (!st.ok()) {
    // The daemon may have refused this connection at accept and closed it: its answer (request
    // id 0) says why, which beats "broken pipe".
    std::lock_guard<std::mutex> lock(mu_);
    if (!dead_) {
      dead_ = true;
      dead_status_ = reading_ ? st : RefusalOr(st);
    }
    cv_.notify_all();
    return dead_status_;
  }
  return h.request_id;
}

Status Connection::RefusalOr(const Status& fallback) {
  pollfd p{fd_, POLLIN, 0};
  if (in_.size() == 0 && ::poll(&p, 1, 200) <= 0) return fallback;
  Frame frame;
  if (!ReadFrame(frame).ok() || frame.header.request_id != 0 || frame.header.status == 0)
    return fallback;
  return ErrorFromFrame(frame);
}

Status Connection::ErrorFromFrame(const Frame& frame) {
  auto err = Message::Decode(frame.body, static_cast<Opcode>(frame.header.opcode),
                             protocol::BodyKind::kError);
  std::string text = "edgetrust-sd error";
  if (err.ok()) {
    if (auto m = err->GetString(protocol::Field::kMessage)) text = std::string(*m);
  }
  uint32_t code = frame.header.status;
  if (code > static_cast<uint32_t>(ErrorCode::kFailedPrecondition)) {
    return Status(ErrorCode::kInternal, "unknown error code " + std::to_string(code) + ": " + text);
  }
  return Status(static_cast<ErrorCode>(code), text);
}

Status Connection::ReadFrame(Frame& frame) {
  auto fill = [this]() -> Status {
    // Spins only while answers keep coming within the spin: once one took longer (a slow
    // operation), the next wait blocks at once, and its duration decides about the one after.
    const auto start = std::chrono::steady_clock::now();
    ssize_t n = in_.FillSpinning(fd_, spin_ ? kAnswerSpin : std::chrono::microseconds(0));
    spin_ = std::chrono::steady_clock::now() - start < kAnswerSpin;
    if (n > 0) return Status::Ok();
    if (n == 0) return Status(ErrorCode::kUnavailable, "edgetrust-sd closed the connection");
    return Status(ErrorCode::kUnavailable,
                  "receive from edgetrust-sd: " + ErrnoText(static_cast<int>(-n)));
  };
  while (in_.size() < protocol::kHeaderSize) ET_RETURN_IF_ERROR(fill());
  auto h = protocol::DecodeHeader(in_.data().first(protocol::kHeaderSize));
  if (!h.ok())
    return Status(ErrorCode::kUnavailable, "bad answer from edgetrust-sd: " + h.status().message());
  in_.Consume(protocol::kHeaderSize);
  frame.header = *h;
  frame.body.resize(h->body_length);
  size_t off = 0;
  while (off < frame.body.size()) {
    if (in_.size() == 0) {
      // Past the buffer, a large body is read straight into place.
      if (frame.body.size() - off >= in_.capacity()) {
        ssize_t n = ::recv(fd_, frame.body.data() + off, frame.body.size() - off, 0);
        if (n > 0) {
          off += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return Status(ErrorCode::kUnavailable, "edgetrust-sd closed the connection");
        return Status(ErrorCode::kUnavailable, "receive from edgetrust-sd: " + ErrnoText(errno));
      }
      ET_RETURN_IF_ERROR(fill());
    }
    const size_t n = std::min(in_.size(), frame.body.size() - off);
    in_.Take(frame.body.data() + off, n);
    off += n;
  }
  return Status::Ok();
}

Result<Message> Connection::Wait(uint64_t id, Opcode op) {
  Frame frame;
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (!ready_.empty()) {
        auto it = ready_.find(id);
        if (it != ready_.end()) {
          frame = std::move(it->second);
          ready_.erase(it);
          break;
        }
      }
      if (dead_) return dead_status_;
      if (reading_) {
        ++waiting_;
        cv_.wait(lock);
        --waiting_;
        continue;
      }
      reading_ = true;
      lock.unlock();
      Frame incoming;
      Status st = ReadFrame(incoming);
      lock.lock();
      reading_ = false;
      bool mine = false;
      if (!st.ok()) {
        dead_ = true;
        dead_status_ = st;
      } else if (incoming.header.request_id == 0 && incoming.header.status != 0) {
        // Id 0 is never a request of ours: it is the daemon refusing the whole connection.
        dead_ = true;
        dead_status_ = ErrorFromFrame(incoming);
      } else if (incoming.header.request_id == id) {
        // Our own answer: keep it, no detour through the table.
        frame = std::move(incoming);
        mine = true;
      } else {
        ready_.emplace(incoming.header.request_id, std::move(incoming));
      }
      // Someone else's answer arrived, or the reader's place is free again: waiters must look.
      if (waiting_ > 0) cv_.notify_all();
      if (mine) break;
    }
  }
  if (frame.header.status != 0) return ErrorFromFrame(frame);
  if (frame.header.opcode != static_cast<uint16_t>(op)) {
    return Status(ErrorCode::kMalformed,
                  "edgetrust-sd answered another operation than the one asked");
  }
  auto msg = Message::Decode(frame.body, op, protocol::BodyKind::kResponse);
  SecureWipe(frame.body.data(), frame.body.size());
  if (!msg.ok())
    return Status(ErrorCode::kMalformed, "bad answer from edgetrust-sd: " + msg.status().message());
  return msg;
}

Result<Message> Connection::Call(Opcode op, const Message& request) {
  ET_ASSIGN_OR_RETURN(uint64_t id, Send(op, request));
  return Wait(id, op);
}

}  // namespace edgetrust::client
