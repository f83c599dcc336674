// A TLS connection over TCP for the MQTT client: a connected socket and its SSL, with timeouts.
//
// The socket is non-blocking underneath; every call waits with poll() up to its timeout, so a
// silent or vanished peer never hangs the caller. Writes go out with MSG_NOSIGNAL, so a closed
// peer is an error value, never a SIGPIPE. Server verification is whatever the SSL_CTX asks for
// (client_tls.h builds one that always verifies); the name checked is TlsStreamOptions::
// server_name, else the host.
//
// Errors: kUnavailable when the server cannot be reached, closes or resets the connection, or a
// timeout passes (worth retrying later); kPermissionDenied when the server's certificate was
// refused or the server ended the handshake with an alert (it refused us: our certificate, our
// PSK); kInvalidArgument for bad options. Messages say which ("certificate verify failed: ...").
// Ownership: a TlsStream owns its socket and SSL and closes them on destruction. The SSL_CTX is
// the caller's; the SSL holds a reference of its own. Thread safety: one thread at a time.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "edgetrust/status.h"
#include "identity/x509_ptr.h"

namespace edgetrust::mqtt {

struct TlsStreamOptions {
  std::string host;  // name or address
  uint16_t port = 0;
  SSL_CTX* ctx = nullptr;
  std::string server_name;  // the name the server's certificate must carry; empty: host
  int timeout_ms = 10000;   // for the TCP connect and TLS handshake together, and for each write
};

class TlsStream {
 public:
  static Result<std::unique_ptr<TlsStream>> Connect(const TlsStreamOptions& options);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Writes all of `data` (waiting up to the timeout whenever the socket is full).
  Status WriteAll(std::string_view data);
  // Reads what has arrived, at most `n` bytes, waiting up to `timeout_ms` (0: do not wait) for
  // something to arrive. 0 bytes: the timeout passed. kUnavailable once the peer closed.
  Result<size_t> Read(char* buf, size_t n, int timeout_ms);
  // Sends close_notify (without waiting for the peer's) and closes the socket. Later reads and
  // writes fail with kUnavailable.
  void Close();

  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_.get(); }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384", for logs.
  std::string Description() const;
  // "host:port", for messages.
  const std::string& peer() const { return peer_; }

 private:
  TlsStream(int fd, SslPtr ssl, int timeout_ms, std::string peer);
  // Waits until the socket is ready for what SSL asked for (`ssl_error` WANT_READ/WANT_WRITE).
  // False on timeout.
  bool WaitFor(int ssl_error, int timeout_ms) const;

  int fd_ = -1;
  SslPtr ssl_;
  int timeout_ms_ = 10000;
  std::string peer_;
  bool closed_ = false;
};

}  // namespace edgetrust::mqtt
