// SHA-256 for the attestation code: register extension, the log chain, UEIDs and what ES256
// signs. One EVP_MD is fetched once and shared, which saves a provider lookup per digest.
//
// Thread safety: safe to call concurrently.
#pragma once

#include <openssl/evp.h>

#include <initializer_list>

#include "edgetrust/attestation.h"
#include "edgetrust/secret.h"

namespace edgetrust::attest {

// The SHA-256 algorithm object, fetched once (never null; an OpenSSL without SHA-256 aborts).
const EVP_MD* Sha256Md();

// SHA-256 over the concatenation of `parts`. OpenSSL fails here only when memory runs out, which
// throws std::bad_alloc like any allocation.
Digest256 Sha256(std::initializer_list<ByteView> parts);

}  // namespace edgetrust::attest
