#include "mqtt/tls_stream.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "common/files.h"
#include "common/openssl_ptr.h"
#include "identity/tls_context.h"

namespace edgetrust::mqtt {
namespace {

using Clock = std::chrono::steady_clock;

int MsUntil(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

// OpenSSL's socket BIO writes with write(), which raises SIGPIPE on a connection the peer
// closed. This one is the same BIO with send(MSG_NOSIGNAL) instead.
int NoSigpipeWrite(BIO* bio, const char* data, int len) {
  int fd = -1;
  BIO_get_fd(bio, &fd);
  BIO_clear_retry_flags(bio);
  const ssize_t n = ::send(fd, data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0) {
    if (BIO_sock_should_retry(-1)) BIO_set_retry_write(bio);
    return -1;
  }
  return static_cast<int>(n);
}

const BIO_METHOD* SocketMethod() {
  static BIO_METHOD* const method = [] {
    const BIO_METHOD* base = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "edgetrust socket");
    if (m == nullptr) return m;
    BIO_meth_set_write(m, NoSigpipeWrite);
    BIO_meth_set_read(m, BIO_meth_get_read(base));
    BIO_meth_set_puts(m, BIO_meth_get_puts(base));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base));
    BIO_meth_set_create(m, BIO_meth_get_create(base));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(base));
    return m;
  }();
  return method;
}

// The error of a failed SSL call, classified as the header says.
Status SslFailure(SSL* ssl, int rc, const std::string& during) {
  const int err = SSL_get_error(ssl, rc);
  const int saved_errno = errno;
  if (err == SSL_ERROR_ZERO_RETURN) {
    return Status(ErrorCode::kUnavailable, during + ": the server closed the connection");
  }
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    ERR_clear_error();
    return Status(ErrorCode::kPermissionDenied,
                  during + ": server certificate refused: " + identity::VerifyFailure(ssl));
  }
  const unsigned long e = ERR_peek_error();
  if (err == SSL_ERROR_SYSCALL && e == 0) {
    ERR_clear_error();
    if (saved_errno == 0 || rc == 0) {
      return Status(ErrorCode::kUnavailable, during + ": the server closed the connection");
    }
    return Status(ErrorCode::kUnavailable, during + ": " + ErrnoText(saved_errno));
  }
  // Reasons from SSL_AD_REASON_OFFSET on are alerts the peer sent: it refused the handshake.
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET) {
    return Status(ErrorCode::kPermissionDenied, OpensslError(during + ": refused by the server"));
  }
  return Status(ErrorCode::kUnavailable, OpensslError(during + ": TLS error"));
}

Result<int> ConnectTcp(const TlsStreamOptions& options, Clock::time_point deadline,
                       const std::string& peer) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(options.port);
  const int gai = ::getaddrinfo(options.host.c_str(), port.c_str(), &hints, &list);
  if (gai != 0) {
    return Status(ErrorCode::kUnavailable,
                  "cannot resolve " + options.host + ": " + ::gai_strerror(gai));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, ::freeaddrinfo);
  std::string last_error = "no address";
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = ErrnoText(errno);
      continue;
    }
    int err = 0;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int ready = 0;
        do {
          ready = ::poll(&p, 1, MsUntil(deadline));
        } while (ready < 0 && errno == EINTR);
        socklen_t len = sizeof err;
        if (ready == 0) {
          err = ETIMEDOUT;
        } else if (ready < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
          err = errno;
        }
      }
    }
    if (err == 0) {
      // MQTT packets are small and answered one by one: no Nagle delay.
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    last_error = ErrnoText(err);
    ::close(fd);
  }
  return Status(ErrorCode::kUnavailable, "cannot connect to " + peer + ": " + last_error);
}

}  // namespace

TlsStream::TlsStream(int fd, SslPtr ssl, int timeout_ms, std::string peer)
    : fd_(fd), ssl_(std::move(ssl)), timeout_ms_(timeout_ms), peer_(std::move(peer)) {}

TlsStream::~TlsStream() { Close(); }

Result<std::unique_ptr<TlsStream>> TlsStream::Connect(const TlsStreamOptions& options) {
  if (options.ctx == nullptr) return Status(ErrorCode::kInvalidArgument, "no TLS context");
  if (options.host.empty() || options.port == 0) {
    return Status(ErrorCode::kInvalidArgument, "the server needs a host and a port");
  }
  const int timeout_ms = options.timeout_ms > 0 ? options.timeout_ms : 10000;
  const std::string peer =
      (options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host) +
      ":" + std::to_string(options.port);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  ET_ASSIGN_OR_RETURN(const int fd, ConnectTcp(options, deadline, peer));
  SslPtr ssl(SSL_new(options.ctx));
  BIO* bio = ssl ? BIO_new(SocketMethod()) : nullptr;
  if (bio == nullptr) {
    ::close(fd);
    return Status(ErrorCode::kInternal, OpensslError("SSL_new"));
  }
  BIO_set_fd(bio, fd, BIO_NOCLOSE);
  SSL_set_bio(ssl.get(), bio, bio);  // the SSL owns the BIO now
  std::unique_ptr<TlsStream> stream(new TlsStream(fd, std::move(ssl), timeout_ms, peer));
  ET_RETURN_IF_ERROR(identity::SetPeerName(
      stream->ssl(), options.server_name.empty() ? options.host : options.server_name));
  while (true) {
    ERR_clear_error();
    const int rc = SSL_connect(stream->ssl());
    if (rc == 1) return stream;
    const int err = SSL_get_error(stream->ssl(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (stream->WaitFor(err, MsUntil(deadline))) continue;
      return Status(ErrorCode::kUnavailable, "TLS handshake with " + peer + " timed out after " +
                                                 std::to_string(timeout_ms) + " ms");
    }
    return SslFailure(stream->ssl(), rc, "TLS handshake with " + peer);
  }
}

bool TlsStream::WaitFor(int ssl_error, int timeout_ms) const {
  if (timeout_ms <= 0) return false;
  pollfd p{fd_, static_cast<short>(ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const int ready = ::poll(&p, 1, MsUntil(deadline));
    if (ready > 0) return true;  // readable, writable, or an error SSL will report
    if (ready == 0) return false;
    if (errno != EINTR) return true;
  }
}

Status TlsStream::WriteAll(std::string_view data) {
  if (closed_) return Status(ErrorCode::kUnavailable, "the connection to " + peer_ + " is closed");
  size_t done = 0;
  while (done < data.size()) {
    const int chunk = static_cast<int>(std::min<size_t>(data.size() - done, 1 << 30));
    ERR_clear_error();
    const int rc = SSL_write(ssl_.get(), data.data() + done, chunk);
    if (rc > 0) {
      done += static_cast<size_t>(rc);
      continue;
    }
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (WaitFor(err, timeout_ms_)) continue;
      return Status(ErrorCode::kUnavailable, "writing to " + peer_ + " timed out after " +
                                                 std::to_string(timeout_ms_) + " ms");
    }
    return SslFailure(ssl_.get(), rc, "writing to " + peer_);
  }
  return Status::Ok();
}

Result<size_t> TlsStream::Read(char* buf, size_t n, int timeout_ms) {
  if (closed_) return Status(ErrorCode::kUnavailable, "the connection to " + peer_ + " is closed");
  if (n == 0) return size_t{0};
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  while (true) {
    ERR_clear_error();
    const int rc = SSL_read(ssl_.get(), buf, static_cast<int>(std::min<size_t>(n, INT_MAX)));
    if (rc > 0) return static_cast<size_t>(rc);
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      // Post-handshake messages (TLS 1.3 session tickets) are handled inside SSL_read and
      // also end up here: wait for more until the deadline.
      if (WaitFor(err, MsUntil(deadline))) continue;
      return size_t{0};
    }
    return SslFailure(ssl_.get(), rc, "reading from " + peer_);
  }
}

void TlsStream::Close() {
  if (closed_) return;
  closed_ = true;
  if (ssl_) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // one non-blocking try: a close_notify if the socket takes it
    ERR_clear_error();
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string TlsStream::Description() const {
  if (!ssl_) return "";
  return std::string(SSL_get_version(ssl_.get())) + " " + SSL_get_cipher_name(ssl_.get());
}

}  // namespace edgetrust::mqtt
