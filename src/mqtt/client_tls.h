// TLS contexts for MQTT clients that are not tracked identities of the gateway (those use
// identity/tls_context.h): a sensor with its own files or PSK, a benchmark, a test.
//
// The context always verifies the server: against the CA file when there is one, and with no
// trust anchor at all otherwise, so that a PSK client whose server falls back to a certificate
// handshake refuses it rather than trusting an unknown server. TLS 1.2 at least, TLS 1.3
// preferred; in TLS 1.2 only ECDHE (or, with a PSK, (EC)DHE-PSK) with AEAD ciphers.
//
// Errors: kInvalidArgument for unusable files or a certificate that is not for the key (the
// message names the file), kNotFound for a missing file, kInternal for OpenSSL failures.
// Thread safety: free functions; the SSL_CTX may then be shared as OpenSSL allows.
#pragma once

#include <openssl/types.h>

#include <string>

#include "common/openssl_ptr.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "identity/x509_ptr.h"

namespace edgetrust::mqtt {

struct ClientTlsConfig {
  std::string ca_file;    // PEM trust anchors for the server's certificate; "": none
  std::string cert_file;  // our certificate followed by its chain (PEM); "": none
  // The certificate's private key: from a PEM file (LoadPrivateKeyPem) or a secure-domain key
  // (provider/load_key.h). Not owned; the context takes its own reference.
  EVP_PKEY* key = nullptr;
  // TLS-PSK, used when `psk` is not empty; the context keeps its own copy of the key.
  std::string psk_identity;
  SecretBytes psk;
  // Library context for the SSL_CTX: the one of provider::SharedLibCtx() when `key` is a
  // secure-domain key; nullptr: OpenSSL's default.
  OSSL_LIB_CTX* libctx = nullptr;
};

Result<SslCtxPtr> BuildClientTlsContext(const ClientTlsConfig& config);

// A private key from a PEM file (unencrypted PKCS#8 or traditional). The file's bytes are wiped
// after parsing.
Result<EvpPkeyPtr> LoadPrivateKeyPem(const std::string& path, OSSL_LIB_CTX* libctx = nullptr);
// The same from PEM text; `what` names its source in errors.
Result<EvpPkeyPtr> ParsePrivateKeyPem(ByteView pem, const std::string& what,
                                      OSSL_LIB_CTX* libctx = nullptr);
// A whole regular file of at most 1 MiB (symbolic links followed), in memory that wipes itself.
Result<SecretBytes> ReadSecretFile(const std::string& path);

}  // namespace edgetrust::mqtt
