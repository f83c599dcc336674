// `edgetrust cert import`: makes a certificate issued elsewhere (a cloud CA, an operator's PKI,
// or `edgetrust cert issue`) the current certificate of identity NAME, whose key is the
// secure-domain key NAME.
//
// Refused: a certificate whose public key is not key NAME's (both key fingerprints are named),
// an expired one, a chain whose certificates do not each issue the one before, and malformed
// files. The identity is tracked with issuer "external", or with the name of a tracked CA when
// one of them issued it (then `cert renew` can renew it, and the chain defaults to that CA's).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edgetrust/status.h"
#include "identity/cert_store.h"
#include "identity/key_service.h"

namespace edgetrust::identity {

struct ImportReport {
  std::string name;
  std::string issuer;
  std::string profile;
  uint32_t generation = 0;
  int64_t not_after = 0;
  std::string subject;
  std::string fingerprint;
  size_t chain_length = 0;
};

// `cert_pem`: the certificate, optionally followed by its chain; `chain_pem`: more chain
// certificates (may be empty).
Result<ImportReport> ImportCertificate(const CertStore& store, KeyService& keys,
                                       std::string_view name, std::string_view cert_pem,
                                       std::string_view chain_pem, int64_t now);

}  // namespace edgetrust::identity
