// Secure-domain keys as OpenSSL EVP_PKEYs for code of ours (the CLI, the agent, benchmarks).
//
// The edgetrust provider is compiled into the calling program and added as a built-in to one
// process-wide library context next to OpenSSL's default provider, so no module path or
// openssl.cnf is involved. Other programs load the same provider as a module
// (docs/openssl-provider.md).
//
// Thread safety: everything here may be called from any thread. An EVP_PKEY from LoadKey may be
// used by several threads at once, as OpenSSL allows; its private operations go to the daemon over
// one connection per thread, and public operations (verify, encoding) are done in-process.
#pragma once

#include <openssl/types.h>

#include <string>
#include <string_view>

#include "common/openssl_ptr.h"
#include "edgetrust/status.h"

namespace edgetrust::provider {

// The library context holding OpenSSL's default provider and the edgetrust provider, created on
// first use. Objects that will use secure-domain keys (X509, X509_REQ, SSL_CTX) should be made in
// it (X509_new_ex, SSL_CTX_new_ex, ...).
Result<OSSL_LIB_CTX*> SharedLibCtx();

// Key "NAME" of the caller's principal, or "PRINCIPAL/NAME" granted to it, of the daemon at
// `socket_path` (empty: $EDGETRUST_SOCKET, then /run/edgetrust/sd.sock). kNotFound if there is no
// such key, kUnsupported for a key that cannot sign (aes-256, hmac-sha256).
Result<EvpPkeyPtr> LoadKey(std::string_view name, std::string_view socket_path = {});

}  // namespace edgetrust::provider
