// Builds and signs X.509 v3 certificates with the extensions of a profile (profile.h):
//
//   CA:   basicConstraints critical CA:TRUE, pathlen:0; keyUsage critical keyCertSign, cRLSign;
//         subjectKeyIdentifier; authorityKeyIdentifier keyid (its own, it is self-signed).
//   leaf: basicConstraints critical CA:FALSE; keyUsage critical digitalSignature (and
//         keyEncipherment for RSA keys, for TLS 1.2 RSA key transport); extendedKeyUsage
//         serverAuth and/or clientAuth; subjectAltName (critical when the subject is empty, as
//         RFC 5280 requires); subjectKeyIdentifier; authorityKeyIdentifier keyid of the CA.
//
// Every certificate gets a random positive 16-byte serial number (CA/B Forum: at least 64 bits
// of randomness) and is checked after signing: its signature must verify with the issuer's public
// key, so a signer that returns garbage is caught here instead of by the first TLS peer.
// Errors: kInvalidArgument for an inconsistent spec, kInternal for OpenSSL or signer failures.
// Thread safety: free functions.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <vector>

#include "edgetrust/status.h"
#include "identity/profile.h"
#include "identity/san.h"
#include "identity/subject.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {

// How far notBefore is set back from "now", for peers whose clocks run a little behind.
inline constexpr int64_t kBackdateSeconds = 5 * 60;
inline constexpr int64_t kSecondsPerDay = 86400;

struct CertSpec {
  Profile profile = Profile::kClient;
  Subject subject;
  std::vector<San> sans;
  const EVP_PKEY* subject_key = nullptr;  // the key being certified (public part used)
  int64_t not_before = 0;
  int64_t not_after = 0;
};

struct CertSigner {
  const X509* issuer = nullptr;  // null: self-signed (subject_key must be signing_key's)
  EVP_PKEY* signing_key = nullptr;
  OSSL_LIB_CTX* libctx = nullptr;
};

Result<X509Ptr> BuildCertificate(const CertSpec& spec, const CertSigner& signer);

// The validity a certificate of `days` gets when issued at `now` under an issuer valid until
// `issuer_not_after` (0: none): from now - kBackdateSeconds to now + days, cut at the issuer's
// end, since a certificate cannot usefully outlive its CA. `capped` says whether it was cut.
struct Validity {
  int64_t not_before = 0;
  int64_t not_after = 0;
  bool capped = false;
};
Validity ComputeValidity(int64_t now, uint32_t days, int64_t issuer_not_after);

}  // namespace edgetrust::identity
