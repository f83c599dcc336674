#include "identity/tls_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>

#include "identity/certificate.h"
#include "identity/subject.h"

namespace edgetrust::identity {
namespace {

constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";

Status Internal(const std::string& what) {
  return Status(ErrorCode::kInternal, OpensslError(what));
}

// The depth and subject of the certificate that failed, kept per connection by the callback.
struct FailureInfo {
  int depth = -1;
  std::string subject;
};

void FreeFailure(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                 void* /*argp*/) {
  delete static_cast<FailureInfo*>(ptr);
}

int FailureIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeFailure);
  return index;
}

// Records where verification failed; the decision itself is OpenSSL's (`preverify`).
int VerifyCallback(int preverify, X509_STORE_CTX* store) {
  if (preverify == 1) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl != nullptr && SSL_get_ex_data(ssl, FailureIndex()) == nullptr) {
    auto* info = new FailureInfo;
    info->depth = X509_STORE_CTX_get_error_depth(store);
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
      info->subject = DisplayName(X509_get_subject_name(cert));
    }
    if (SSL_set_ex_data(ssl, FailureIndex(), info) != 1) delete info;
  }
  return 0;
}

Status LoadIdentity(SSL_CTX* ctx, const CertStore& store, KeyService& keys,
                    const std::string& identity) {
  // One resolution of `current`: certificate, chain and key reference of the same generation.
  ET_ASSIGN_OR_RETURN(Generation gen, store.LoadCurrent(identity));
  ET_ASSIGN_OR_RETURN(std::string key_name, keys.NameFromReference(gen.key_pem));
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr key, keys.SigningKey(key_name));
  if (SSL_CTX_use_certificate(ctx, gen.cert.get()) != 1) {
    return Internal("identity " + identity + ": cannot use its certificate");
  }
  for (const auto& c : gen.chain) {
    if (SSL_CTX_add1_chain_cert(ctx, c.get()) != 1) return Internal("cannot add chain");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return Status(
        ErrorCode::kInvalidArgument,
        OpensslError("identity " + identity + ": its certificate is not for key " + key_name));
  }
  return Status::Ok();
}

}  // namespace

Result<SslCtxPtr> BuildTlsContext(const CertStore& store, KeyService& keys,
                                  const TlsOptions& options) {
  if (options.role == TlsRole::kClient && !options.trust) {
    return Status(ErrorCode::kInvalidArgument, "a TLS client needs a trust purpose");
  }
  if (options.role == TlsRole::kServer && options.identity.empty()) {
    return Status(ErrorCode::kInvalidArgument, "a TLS server needs an identity");
  }
  if (options.require_client_cert && !options.trust) {
    return Status(ErrorCode::kInvalidArgument,
                  "requiring client certificates needs a trust purpose to verify them");
  }
  ET_ASSIGN_OR_RETURN(OSSL_LIB_CTX * libctx, keys.LibraryContext());
  SslCtxPtr ctx(
      SSL_CTX_new_ex(libctx, nullptr,
                     options.role == TlsRole::kClient ? TLS_client_method() : TLS_server_method()));
  if (!ctx) return Internal("SSL_CTX_new_ex");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) != 1) {
    return Internal("TLS protocol settings");
  }
  SSL_CTX_set_options(ctx.get(),
                      SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                          (options.role == TlsRole::kServer ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  if (!options.identity.empty()) {
    ET_RETURN_IF_ERROR(LoadIdentity(ctx.get(), store, keys, options.identity));
  }
  if (options.trust) {
    TrustStore trust(store, keys);
    ET_ASSIGN_OR_RETURN(auto anchors, trust.Load(*options.trust));
    if (anchors.empty() && options.role == TlsRole::kServer && !options.require_client_cert) {
      return ctx;  // nothing to verify optional client certificates with: do not ask for them
    }
    if (anchors.empty()) {
      return Status(ErrorCode::kFailedPrecondition,
                    "the " + std::string(TrustPurposeName(*options.trust)) +
                        " trust bundle is empty (edgetrust trust add --purpose " +
                        std::string(TrustPurposeName(*options.trust)) + " CA.pem)");
    }
    X509StorePtr x509_store(X509_STORE_new());
    if (!x509_store) return Internal("X509_STORE_new");
    for (const auto& a : anchors) {
      if (X509_STORE_add_cert(x509_store.get(), a.get()) != 1) return Internal("trust anchor");
    }
    X509_STORE_set_flags(x509_store.get(), X509_V_FLAG_PARTIAL_CHAIN);
    SSL_CTX_set_cert_store(ctx.get(), x509_store.release());  // the context owns it now
    int mode = SSL_VERIFY_PEER;
    if (options.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx.get(), mode, VerifyCallback);
    // Peers' purposes: servers must carry serverAuth, clients clientAuth.
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_purpose(param, options.role == TlsRole::kClient
                                             ? X509_PURPOSE_SSL_SERVER
                                             : X509_PURPOSE_SSL_CLIENT);
    X509_VERIFY_PARAM_set_hostflags(
        param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  return ctx;
}

Status SetPeerName(SSL* ssl, std::string_view server_name) {
  if (server_name.empty()) {
    return Status(ErrorCode::kInvalidArgument, "a TLS client needs the server's name or address");
  }
  const std::string name(server_name);
  unsigned char buf[16];
  const bool is_ip =
      ::inet_pton(AF_INET, name.c_str(), buf) == 1 || ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) return Internal("peer address");
    return Status::Ok();
  }
  // SNI only for names: RFC 6066 forbids literal addresses in server_name.
  if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1 || SSL_set1_host(ssl, name.c_str()) != 1) {
    return Internal("peer name");
  }
  return Status::Ok();
}

std::string VerifyFailure(const SSL* ssl) {
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return {};
  std::string text = X509_verify_cert_error_string(result);
  if (const auto* info = static_cast<const FailureInfo*>(SSL_get_ex_data(ssl, FailureIndex()))) {
    text += " (depth " + std::to_string(info->depth);
    if (!info->subject.empty()) text += ", " + info->subject;
    text += ")";
  }
  return text;
}

}  // namespace edgetrust::identity
