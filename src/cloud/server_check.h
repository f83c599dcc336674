// Server verification on the SSL_CTX handed to libmosquitto.
//
// With its own SSL_CTX (MOSQ_OPT_SSL_CTX, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS = 0) libmosquitto leaves
// verification entirely to the context: it sets SNI to the host it connects to, and checks
// neither the chain nor the name itself. ConfigureServerCheck therefore puts both on the context:
// SSL_VERIFY_PEER (the chain against the context's trust store, the one identity::BuildTlsContext
// loaded from the cloud bundle) and the name the certificate must carry (a DNS SAN, or an IP SAN
// for an address), through the context's X509_VERIFY_PARAM that every SSL made from it inherits.
// The context's existing verify callback (BuildTlsContext's, which records where verification
// failed) keeps running; ours wraps it and also records, for the thread doing the handshake, why
// the server was refused in OpenSSL's words, because libmosquitto frees the SSL before it reports
// the failure. An info callback records the socket error a failed handshake write met (a connect
// refused at once surfaces there, and libmosquitto drops that errno), whether the server
// answered and whether the handshake completed.
//
// Ownership: the context stays the caller's; it is changed in place, so one context serves one
// server name (give each link its own). Thread safety: ConfigureServerCheck before the context is
// used for handshakes; VerifyFailureScope per thread.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>

#include "edgetrust/status.h"

namespace edgetrust::cloud {

// kInvalidArgument for an empty name, kInternal when OpenSSL refuses the settings.
Status ConfigureServerCheck(SSL_CTX* ctx, std::string_view server_name);

// While an object lives, handshakes on this thread with a context set up by ConfigureServerCheck
// record into it their first verification failure ("unable to get local issuer certificate
// (depth 0, /CN=broker)") and the first socket error a handshake write failed with.
class HandshakeScope {
 public:
  HandshakeScope();
  ~HandshakeScope();
  HandshakeScope(const HandshakeScope&) = delete;
  HandshakeScope& operator=(const HandshakeScope&) = delete;

  // The recorded verification failure, "" if none; cleared.
  std::string TakeVerifyFailure();
  // The recorded errno (ECONNREFUSED, ...), 0 if none.
  int socket_error() const { return socket_error_; }
  // Whether a handshake completed on this thread.
  bool handshake_done() const { return handshake_done_; }
  // Whether a server answered a handshake on this thread (its ServerHello was read).
  bool server_answered() const { return server_answered_; }

  // Called by the context's callbacks: the first of each is kept.
  void RecordVerifyFailure(std::string text);
  void RecordSocketError(int e);
  void RecordHandshakeDone() { handshake_done_ = true; }
  void RecordServerAnswered() { server_answered_ = true; }
  // The scope of this thread, or null.
  static HandshakeScope* Current();

 private:
  std::string verify_failure_;
  int socket_error_ = 0;
  bool handshake_done_ = false;
  bool server_answered_ = false;
  HandshakeScope* previous_;
};

}  // namespace edgetrust::cloud
