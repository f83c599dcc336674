// Manifest signatures: a detached CMS SignedData (RFC 5652, DER) over the exact manifest bytes,
// carrying the signer's certificate; the signer must chain to the device's deployment trust
// bundle (trust/deployment.pem). Interoperable: `openssl cms -sign -binary -nodetach` is not
// needed; `openssl cms -sign -binary -in m.json -signer c.pem -inkey k.pem -outform DER` makes
// one we accept, and `openssl cms -verify -binary -inform DER -content m.json -CAfile ...`
// verifies ours.
//
// Thread safety: free functions. Errors: kVerifyFailed naming why (not CMS, content mismatch, no
// chain to a trusted signer, expired, wrong key usage); kMalformed for a signature that does not
// parse.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "identity/x509_ptr.h"

namespace edgetrust::deploy {

inline constexpr size_t kMaxSignatureBytes = size_t{64} << 10;

struct SignerInfo {
  std::string subject;      // of the signing certificate
  std::string fingerprint;  // sha256 of its DER, hex
};

// `trusted`: the deployment bundle's CA certificates. `now`: seconds since the epoch (0: now).
Result<SignerInfo> VerifyManifestSignature(ByteView manifest, ByteView signature,
                                           const std::vector<X509Ptr>& trusted, int64_t now = 0);

// Signs with `key` (any EVP_PKEY, including one held by the secure domain through the provider)
// and `cert` (its certificate; `chain` are intermediates to include). Returns the DER.
Result<Bytes> SignManifest(ByteView manifest, EVP_PKEY* key, X509* cert,
                           const std::vector<X509Ptr>& chain = {});

}  // namespace edgetrust::deploy
