#include "agent/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

#include "agent/control_protocol.h"
#include "common/files.h"
#include "common/thread_start.h"

namespace edgetrust::agent {

using nlohmann::json;

struct ControlServer::Connection {
  int fd = -1;
  std::thread thread;
  std::atomic<bool> done{false};  // the thread finished: join it and close fd
};

namespace {

constexpr mode_t kParentDirMode = 0750;

std::string Seconds(std::chrono::milliseconds ms) {
  const auto s = ms.count() / 1000;
  return s * 1000 == ms.count() ? std::to_string(s) + " s" : std::to_string(ms.count()) + " ms";
}

// Refusals before a request was read: sent without blocking (the accept thread must never wait on
// a caller), so a caller that does not read may miss it, and is closed anyway.
void SendRefusal(int fd, const Status& status) {
  const std::string line = EncodeControlLine(ErrorResponse(status));
  [[maybe_unused]] ssize_t n = ::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

ControlServer::ControlServer(std::string socket_path, ControlHandler& handler, uid_t agent_uid,
                             ControlServerOptions options)
    : socket_path_(std::move(socket_path)),
      handler_(handler),
      agent_uid_(agent_uid),
      options_(options) {}

Result<std::unique_ptr<ControlServer>> ControlServer::Start(std::string socket_path,
                                                            ControlHandler& handler,
                                                            uid_t agent_uid,
                                                            ControlServerOptions options) {
  if (options.max_connections == 0) options.max_connections = 1;
  std::unique_ptr<ControlServer> server(
      new ControlServer(std::move(socket_path), handler, agent_uid, options));
  ET_RETURN_IF_ERROR(server->Listen());
  try {
    server->accept_thread_ = StartThread([s = server.get()] { s->AcceptLoop(); });
  } catch (const std::exception& e) {
    return Status(ErrorCode::kResourceExhausted, std::string("cannot start a thread: ") + e.what());
  }
  spdlog::info("event=control-listening socket={}", server->socket_path_);
  return server;
}

ControlServer::~ControlServer() { Stop(); }

Status ControlServer::Listen() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& path = socket_path_;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Status(ErrorCode::kInvalidArgument, "control socket path is empty or longer than " +
                                                   std::to_string(sizeof(addr.sun_path) - 1) +
                                                   " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  const std::string dir = DirName(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status(ErrorCode::kIoError, dir + ": " + ErrnoText(errno));
    // Only root and the agent's group may even look for the socket in a folder we make.
    if (::mkdir(dir.c_str(), kParentDirMode) != 0 && errno != EEXIST) {
      return Status(ErrorCode::kIoError, "cannot create " + dir + ": " + ErrnoText(errno));
    }
    if (::chmod(dir.c_str(), kParentDirMode) != 0) {
      return Status(ErrorCode::kIoError, "chmod " + dir + ": " + ErrnoText(errno));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return Status(ErrorCode::kIoError, dir + " is not a folder");
  }

  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status(ErrorCode::kAlreadyExists, path + " exists and is not a socket");
    }
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live =
        probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) ::close(probe);
    if (live) return Status(ErrorCode::kAlreadyExists, "another agent is serving " + path);
    ::unlink(path.c_str());  // stale, from an agent that died
  }

  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status(ErrorCode::kInternal, "pipe: " + ErrnoText(errno));
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status(ErrorCode::kIoError, "socket: " + ErrnoText(errno));
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status(ErrorCode::kIoError, "cannot bind " + path + ": " + ErrnoText(errno));
  }
  // Until the chmod the socket has the umask's mode; a caller who connects in that instant is
  // still identified by SO_PEERCRED below, which is the check that counts.
  if (::chmod(path.c_str(), options_.socket_mode) != 0 || ::lstat(path.c_str(), &st) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return Status(ErrorCode::kIoError, "chmod " + path + ": " + ErrnoText(err));
  }
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  if (::listen(listen_fd_, 64) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return Status(ErrorCode::kIoError, "listen: " + ErrnoText(err));
  }
  return Status::Ok();
}

void ControlServer::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (accept_thread_.joinable()) {
    char c = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &c, 1);
    accept_thread_.join();
  }
  {
    // Wake every connection thread (its poll sees the shutdown), then join them.
    std::lock_guard<std::mutex> lock(conns_mu_);
    for (auto& c : conns_) ::shutdown(c->fd, SHUT_RDWR);
  }
  // Joined without the lock: a finishing thread takes it to release its slot.
  std::list<std::unique_ptr<Connection>> conns;
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    conns.swap(conns_);
  }
  for (auto& c : conns) {
    c->thread.join();
    ::close(c->fd);
  }
  if (listen_fd_ >= 0) {
    struct stat st {};
    if (::lstat(socket_path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ &&
        st.st_ino == socket_ino_) {
      ::unlink(socket_path_.c_str());
    }
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  for (int& fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

void ControlServer::ReapFinished() {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if ((*it)->done.load()) {
        auto next = std::next(it);
        finished.splice(finished.end(), conns_, it);
        it = next;
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) {
    c->thread.join();
    ::close(c->fd);
  }
}

void ControlServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    const int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      spdlog::error("event=control-poll-failed reason=\"{}\"", ErrnoText(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    ReapFinished();
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      spdlog::warn("event=control-accept-failed reason=\"{}\"", ErrnoText(errno));
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: back off briefly (Stop still wakes us) instead of
        // spinning on the connection that stays queued.
        pollfd wake{wake_pipe_[0], POLLIN, 0};
        if (::poll(&wake, 1, 100) > 0) return;
      }
      continue;
    }
    std::unique_lock<std::mutex> lock(conns_mu_);
    if (active_ >= options_.max_connections) {
      lock.unlock();
      SendRefusal(fd, Status(ErrorCode::kResourceExhausted,
                             "too many control connections at once (limit " +
                                 std::to_string(options_.max_connections) + "); try again"));
      ::close(fd);
      spdlog::warn("event=control-refused reason=too-many-connections limit={}",
                   options_.max_connections);
      continue;
    }
    auto conn = std::make_unique<Connection>();
    conn->fd = fd;
    Connection* raw = conn.get();
    conns_.push_back(std::move(conn));
    ++active_;
    try {
      raw->thread = StartThread([this, raw] { Serve(raw); });
    } catch (const std::exception& e) {
      conns_.pop_back();
      --active_;
      lock.unlock();
      SendRefusal(fd, Status(ErrorCode::kResourceExhausted, "cannot serve another connection now"));
      ::close(fd);
      spdlog::warn("event=control-refused reason=\"thread: {}\"", e.what());
    }
  }
}

void ControlServer::Serve(Connection* conn) {
  const int fd = conn->fd;
  try {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      spdlog::warn("event=control-refused reason=\"SO_PEERCRED: {}\"", ErrnoText(errno));
    } else {
      const PeerCred peer{cred.pid, cred.uid, cred.gid};
      if (peer.uid != 0 && peer.uid != agent_uid_) {
        spdlog::warn("event=control-refused uid={} pid={} reason=not-authorized", peer.uid,
                     peer.pid);
        SendRefusal(fd, Status(ErrorCode::kPermissionDenied,
                               "uid " + std::to_string(peer.uid) +
                                   " may not use the agent's control socket (only root and uid " +
                                   std::to_string(agent_uid_) + ")"));
      } else {
        ServeRequest(fd, peer);
      }
    }
  } catch (const std::exception& e) {
    // Allocation failures only (the handler has its own boundary): drop this connection.
    spdlog::error("event=control-connection-error error=\"{}\"", e.what());
  }
  // The caller sees the end now, not when the accept loop next reaps this thread.
  ::shutdown(fd, SHUT_RDWR);
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    --active_;
  }
  conn->done.store(true);
}

void ControlServer::ServeRequest(int fd, const PeerCred& peer) {
  // A caller that stops reading must not pin this thread on the answer either.
  const auto timeout_s = std::max<int64_t>(1, options_.read_timeout.count() / 1000);
  timeval send_timeout{static_cast<time_t>(timeout_s), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);

  const auto deadline = std::chrono::steady_clock::now() + options_.read_timeout;
  LineResult in = ReadControlLine(fd, kMaxRequestLineSize, deadline);
  Status refused;
  switch (in.status) {
    case LineStatus::kOk:
      break;
    case LineStatus::kClosed:
      return;  // nothing asked, nothing to answer
    case LineStatus::kTruncated:
      refused = Status(ErrorCode::kMalformed, "the request line must end with a newline");
      break;
    case LineStatus::kTimeout:
      refused = Status(ErrorCode::kMalformed,
                       "no complete request line within " + Seconds(options_.read_timeout));
      break;
    case LineStatus::kTooLarge:
      refused = Status(ErrorCode::kTooLarge, "request line longer than " +
                                                 std::to_string(kMaxRequestLineSize) + " bytes");
      break;
    case LineStatus::kError:
      spdlog::debug("event=control-read-failed uid={} reason=\"{}\"", peer.uid,
                    ErrnoText(in.error));
      return;
  }
  json response;
  std::string op = "-";
  if (refused.ok()) {
    auto request = ParseControlLine(in.line, kMaxRequestLineSize);
    if (request.ok()) {
      auto parsed = ParseControlRequest(*request);
      if (parsed.ok()) {
        op = std::string(ControlOpName(parsed->op));
        try {
          response = handler_.Handle(*request, peer);
        } catch (const std::bad_alloc&) {
          response = ErrorResponse(Status(ErrorCode::kResourceExhausted, "out of memory"));
        } catch (const std::exception& e) {
          spdlog::error("event=control-internal-error op={} error=\"{}\"", op, e.what());
          response = ErrorResponse(Status(ErrorCode::kInternal, "internal error"));
        }
        if (!response.is_object() || !response.contains("ok") || !response["ok"].is_boolean()) {
          spdlog::error("event=control-internal-error op={} error=\"handler answer without ok\"",
                        op);
          response = ErrorResponse(Status(ErrorCode::kInternal, "internal error"));
        }
      } else {
        refused = parsed.status();
      }
    } else {
      refused = request.status();
    }
  }
  if (!refused.ok()) {
    spdlog::warn("event=control-bad-request uid={} pid={} error=\"{}\"", peer.uid, peer.pid,
                 refused.ToString());
    response = ErrorResponse(refused);
  }
  spdlog::debug("event=control-request uid={} pid={} op={} ok={}", peer.uid, peer.pid, op,
                response["ok"].get<bool>());
  if (int err = WriteControlLine(fd, response); err != 0) {
    spdlog::debug("event=control-write-failed uid={} reason=\"{}\"", peer.uid, ErrnoText(err));
  }
}

}  // namespace edgetrust::agent
