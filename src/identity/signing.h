// How certificates and requests are signed: the digest that goes with each key type, and a
// signing context bound to a library context (so a secure-domain key from the edgetrust provider
// signs through the provider, and a software key through OpenSSL's default one).
#pragma once

#include <openssl/types.h>

#include <string>

#include "common/openssl_ptr.h"
#include "edgetrust/status.h"

namespace edgetrust::identity {

// "SHA256" for P-256 and RSA, "SHA384" for P-384, "SHA512" for P-521, "" for Ed25519 (which
// hashes internally). kUnsupported for any other key.
Result<std::string> SignatureDigestFor(const EVP_PKEY* key);
// An EVP_MD_CTX set up for X509_sign_ctx / X509_REQ_sign_ctx with `key`.
Result<EvpMdCtxPtr> SigningContext(EVP_PKEY* key, OSSL_LIB_CTX* libctx);
// The short description of a key used in messages: "ecdsa-p256", "rsa-3072", "ed25519", ...
std::string DescribeKey(const EVP_PKEY* key);
// Whether `key` may be certified: EC P-256/P-384/P-521, RSA 2048..8192 bits, Ed25519.
// kUnsupported naming the key otherwise. Checked before any signature is verified, so a request
// cannot make us verify with an enormous RSA key.
Status CheckCertifiableKey(const EVP_PKEY* key);

}  // namespace edgetrust::identity
