// TLS for EdgeTrust's own programs (the CLI's diagnostics now, the agent's cloud link and leaf
// hub later): an SSL_CTX built from a tracked identity and a trust purpose.
//
// - Own certificate: the identity's current generation (cert.pem + chain.pem), read through one
//   resolution of `current` so certificate and key always match; its private key is the
//   secure-domain key named by key.pem, reached through the edgetrust provider, and never leaves
//   the secure domain. The certificate is checked against the key before use.
// - Trust: the verified bundle of the purpose (trust_store.h; a tampered bundle is an error, not
//   an empty trust store). Bundle certificates are trust anchors even when they are intermediates
//   (X509_V_FLAG_PARTIAL_CHAIN), so pinning an issuing CA works.
// - Protocol: TLS 1.2 at least, TLS 1.3 preferred; in TLS 1.2 only ECDHE with AEAD ciphers; no
//   renegotiation, no compression.
// - Verification: always on. Clients verify the server's chain and its name (DNS name or IP
//   address, RFC 6125; CN fallback off); servers verify client certificates when offered and,
//   with require_client_cert, refuse clients without one.
//
// Errors: kNotFound for an unknown identity, kTampered for a tampered bundle, kInvalidArgument
// for a certificate that is not for its key, kInternal for OpenSSL failures.
// Thread safety: the SSL_CTX may be shared by threads once built, as OpenSSL allows.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "edgetrust/status.h"
#include "identity/cert_store.h"
#include "identity/key_service.h"
#include "identity/trust_store.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {

enum class TlsRole { kClient, kServer };

struct TlsOptions {
  TlsRole role = TlsRole::kClient;
  std::string identity;  // tracked identity presenting a certificate; empty: none (clients only)
  std::optional<TrustPurpose> trust;  // bundle verifying the peer; required for clients
  bool require_client_cert = false;   // servers
};

Result<SslCtxPtr> BuildTlsContext(const CertStore& store, KeyService& keys,
                                  const TlsOptions& options);

// Prepares a client connection: SNI (for a DNS name) and the name the server's certificate must
// carry (a DNS SAN, or an IP SAN for an address).
Status SetPeerName(SSL* ssl, std::string_view server_name);

// Why the peer's certificate was refused, in OpenSSL's words ("certificate has expired",
// "unable to get local issuer certificate", ...) with depth and subject; "" if it verified.
std::string VerifyFailure(const SSL* ssl);

}  // namespace edgetrust::identity
