// Reading and describing X.509 certificates: strict parsing of certificate files, PEM/DER
// output, fingerprints, validity times, and the properties the identity code decides on (is it a
// CA, is it self-signed, whose key does it certify).
// Errors: kInvalidArgument for malformed input. Thread safety: free functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {

inline constexpr size_t kMaxCertificateFileSize = 1 << 20;

// Every certificate of a PEM file, strictly (pem.h): only CERTIFICATE blocks, each exactly one
// DER certificate. A private key in the file is refused by name. At least one certificate.
// `libctx` (may be null) is the library context the X509 objects are made in.
Result<std::vector<X509Ptr>> ParseCertificates(std::string_view pem, std::string_view what,
                                               OSSL_LIB_CTX* libctx = nullptr);
// The same for a file that may also be empty (a chain file of a self-signed certificate).
Result<std::vector<X509Ptr>> ParseCertificatesOrEmpty(std::string_view pem, std::string_view what,
                                                      OSSL_LIB_CTX* libctx = nullptr);

std::string ToPem(const X509* cert);
std::string ToPem(const std::vector<X509Ptr>& certs);
Result<X509Ptr> Duplicate(const X509* cert);

// SHA-256 over the DER certificate, lower-case hex (what `openssl x509 -fingerprint -sha256`
// prints, without the colons).
std::string Fingerprint(const X509* cert);
// Accepts 64 hex digits, with or without colons, either case; "" if it is not one.
std::string NormalizeFingerprint(std::string_view text);
// SHA-256 over the DER SubjectPublicKeyInfo, lower-case hex: names a key in error messages.
std::string KeyFingerprint(const EVP_PKEY* key);

// Validity bounds as seconds since the epoch.
int64_t NotBefore(const X509* cert);
int64_t NotAfter(const X509* cert);

// basicConstraints cA TRUE.
bool IsCa(const X509* cert);
// Issuer equals subject and the signature verifies with the certificate's own key.
bool IsSelfSigned(const X509* cert);
// `cert` was signed by `issuer`'s key and names it as issuer.
bool IsIssuedBy(const X509* cert, const X509* issuer);

// The certificate's public key as an EVP_PKEY it keeps owning.
const EVP_PKEY* PublicKey(const X509* cert);
// Parses a PEM SubjectPublicKeyInfo (what the daemon returns for a key).
Result<EvpPkeyPtr> ParsePublicKeyPem(std::string_view pem);
bool SameKey(const EVP_PKEY* a, const EVP_PKEY* b);

}  // namespace edgetrust::identity
