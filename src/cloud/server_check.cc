#include "cloud/server_check.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include <cerrno>

#include "common/openssl_ptr.h"
#include "identity/subject.h"

namespace edgetrust::cloud {
namespace {

thread_local HandshakeScope* t_scope = nullptr;

// The callbacks that were on the context before ours, kept with the context.
struct Chained {
  SSL_verify_cb previous = nullptr;
  void (*previous_info)(const SSL*, int, int) = nullptr;
};

void FreeChained(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                 void* /*argp*/) {
  delete static_cast<Chained*>(ptr);
}

int ChainIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeChained);
  return index;
}

int VerifyAndRecord(int preverify, X509_STORE_CTX* store) {
  int ok = preverify;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl != nullptr) {
    const auto* chained =
        static_cast<const Chained*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ChainIndex()));
    if (chained != nullptr && chained->previous != nullptr) ok = chained->previous(ok, store);
  }
  if (HandshakeScope* scope = HandshakeScope::Current(); ok != 1 && scope != nullptr) {
    std::string text = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
    text += " (depth " + std::to_string(X509_STORE_CTX_get_error_depth(store));
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
      const std::string subject = identity::DisplayName(X509_get_subject_name(cert));
      if (!subject.empty()) text += ", " + subject;
    }
    text += ")";
    scope->RecordVerifyFailure(std::move(text));
  }
  return ok;
}

// Runs at the handshake's milestones; when SSL_connect returns after a failed socket write,
// errno still says why.
void InfoAndRecord(const SSL* ssl, int where, int ret) {
  const int saved = errno;
  if (HandshakeScope* scope = HandshakeScope::Current(); scope != nullptr) {
    if ((where & SSL_CB_EXIT) != 0 && ret < 0) scope->RecordSocketError(saved);
    if ((where & SSL_CB_HANDSHAKE_DONE) != 0) scope->RecordHandshakeDone();
    if ((where & SSL_CB_LOOP) != 0 && SSL_get_state(ssl) == TLS_ST_CR_SRVR_HELLO) {
      scope->RecordServerAnswered();
    }
  }
  const auto* chained =
      static_cast<const Chained*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ChainIndex()));
  if (chained != nullptr && chained->previous_info != nullptr) {
    chained->previous_info(ssl, where, ret);
  }
  errno = saved;
}

}  // namespace

Status ConfigureServerCheck(SSL_CTX* ctx, std::string_view server_name) {
  if (ctx == nullptr) return Status(ErrorCode::kInvalidArgument, "no SSL_CTX");
  if (server_name.empty()) {
    return Status(ErrorCode::kInvalidArgument, "the broker's expected name is empty");
  }
  const std::string name(server_name);
  unsigned char buf[16];
  const bool is_ip =
      ::inet_pton(AF_INET, name.c_str(), buf) == 1 || ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  if (is_ip) {
    // Clear a host name a previous configuration left, then pin the address.
    if (X509_VERIFY_PARAM_set1_host(param, nullptr, 0) != 1 ||
        X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
      return Status(ErrorCode::kInternal, OpensslError("cannot set the broker's address"));
    }
  } else {
    if (X509_VERIFY_PARAM_set1_ip(param, nullptr, 0) != 1 ||
        X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) != 1) {
      return Status(ErrorCode::kInternal, OpensslError("cannot set the broker's name"));
    }
  }
  // RFC 6125: names from the SAN only, and no partial wildcards ("b*.example.com").
  X509_VERIFY_PARAM_set_hostflags(
      param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);

  auto* chained = static_cast<Chained*>(SSL_CTX_get_ex_data(ctx, ChainIndex()));
  if (chained == nullptr) {
    chained = new Chained;
    if (SSL_CTX_set_ex_data(ctx, ChainIndex(), chained) != 1) {
      delete chained;
      return Status(ErrorCode::kInternal, OpensslError("SSL_CTX_set_ex_data"));
    }
  }
  // A context configured before keeps the callbacks it had then.
  if (SSL_verify_cb current = SSL_CTX_get_verify_callback(ctx); current != VerifyAndRecord) {
    chained->previous = current;
  }
  if (auto info = SSL_CTX_get_info_callback(ctx); info != InfoAndRecord) {
    chained->previous_info = info;
  }
  SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx) | SSL_VERIFY_PEER, VerifyAndRecord);
  SSL_CTX_set_info_callback(ctx, InfoAndRecord);
  return Status::Ok();
}

HandshakeScope::HandshakeScope() : previous_(t_scope) { t_scope = this; }

HandshakeScope::~HandshakeScope() { t_scope = previous_; }

HandshakeScope* HandshakeScope::Current() { return t_scope; }

void HandshakeScope::RecordVerifyFailure(std::string text) {
  if (verify_failure_.empty()) verify_failure_ = std::move(text);
}

void HandshakeScope::RecordSocketError(int e) {
  if (socket_error_ != 0) return;
  switch (e) {
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ETIMEDOUT:
      socket_error_ = e;
      break;
    default:
      break;  // EAGAIN and the like: the handshake just waits
  }
}

std::string HandshakeScope::TakeVerifyFailure() {
  std::string out = std::move(verify_failure_);
  verify_failure_.clear();
  return out;
}

}  // namespace edgetrust::cloud
