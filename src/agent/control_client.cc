#include "agent/control_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "agent/control_protocol.h"
#include "common/fd_io.h"
#include "common/files.h"
#include "common/unique_fd.h"

namespace edgetrust::agent {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

using Fd = UniqueFd;  // closes the descriptor on every path out

std::string Within(int timeout_ms) {
  return timeout_ms % 1000 == 0 ? std::to_string(timeout_ms / 1000) + " s"
                                : std::to_string(timeout_ms) + " ms";
}

void SetSendTimeout(int fd, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  left = std::max(left, std::chrono::microseconds(1000));
  timeval tv{static_cast<time_t>(left.count() / 1'000'000),
             static_cast<suseconds_t>(left.count() % 1'000'000)};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

Status ConnectError(int err, const std::string& path, int timeout_ms) {
  switch (err) {
    case ENOENT:
    case ECONNREFUSED:
      return Status(ErrorCode::kUnavailable,
                    "edgetrust-agent is not running (socket " + path + ")");
    case EACCES:
    case EPERM:
      return Status(ErrorCode::kPermissionDenied, "cannot connect to the agent's socket " + path +
                                                      ": " + ErrnoText(err) +
                                                      " (only root and the agent's user may)");
    case EAGAIN:
    case EINPROGRESS:
    case ETIMEDOUT:
      return Status(ErrorCode::kUnavailable,
                    "edgetrust-agent did not accept the connection within " + Within(timeout_ms) +
                        " (socket " + path + ")");
    default:
      return Status(ErrorCode::kUnavailable,
                    "cannot connect to edgetrust-agent at " + path + ": " + ErrnoText(err));
  }
}

}  // namespace

Result<json> CallAgent(std::string_view socket_path, const json& request, int timeout_ms) {
  const std::string path = ResolveAgentSocketPath(socket_path);
  timeout_ms = std::max(timeout_ms, 1);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status(ErrorCode::kInvalidArgument, "agent socket path longer than " +
                                                   std::to_string(sizeof(addr.sun_path) - 1) +
                                                   " bytes: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  const std::string line = EncodeControlLine(request);
  if (line.size() - 1 > kMaxRequestLineSize) {
    return Status(ErrorCode::kTooLarge,
                  "request longer than " + std::to_string(kMaxRequestLineSize) + " bytes");
  }

  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status(ErrorCode::kInternal, "socket: " + ErrnoText(errno));
  // A Unix-socket connect blocks only while the agent's backlog is full, for at most the send
  // timeout; so does the send below.
  SetSendTimeout(fd.get(), deadline);
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR && Clock::now() < deadline);
  if (rc != 0) return ConnectError(errno, path, timeout_ms);

  iovec iov{const_cast<char*>(line.data()), line.size()};
  const int send_err = SendAll(fd.get(), &iov, 1);
  if (send_err == EAGAIN || send_err == EWOULDBLOCK) {
    return Status(ErrorCode::kUnavailable, "edgetrust-agent did not read the request within " +
                                               Within(timeout_ms) + " (socket " + path + ")");
  }
  // Any other send error (EPIPE): the agent may have refused us before reading, with an answer
  // that says why; read it.
  LineResult in = ReadControlLine(fd.get(), kMaxResponseLineSize, deadline);
  switch (in.status) {
    case LineStatus::kOk:
      break;
    case LineStatus::kTimeout:
      return Status(ErrorCode::kUnavailable, "edgetrust-agent did not answer within " +
                                                 Within(timeout_ms) + " (socket " + path + ")");
    case LineStatus::kClosed:
    case LineStatus::kTruncated:
      return Status(
          ErrorCode::kUnavailable,
          "edgetrust-agent closed the connection without a complete answer" +
              (send_err != 0 ? " (sending: " + ErrnoText(send_err) + ")" : std::string()));
    case LineStatus::kTooLarge:
      return Status(ErrorCode::kMalformed, "the agent's answer is longer than " +
                                               std::to_string(kMaxResponseLineSize) + " bytes");
    case LineStatus::kError:
      return Status(ErrorCode::kUnavailable, "reading the agent's answer: " + ErrnoText(in.error));
  }
  auto response = ParseControlLine(in.line, kMaxResponseLineSize);
  if (!response.ok()) {
    return Status(ErrorCode::kMalformed, "the agent's answer: " + response.status().message());
  }
  ET_RETURN_IF_ERROR(ResponseStatus(*response));
  return std::move(response).value();
}

}  // namespace edgetrust::agent
