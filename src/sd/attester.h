// Produces the secure domain's evidence: an EAT (RFC 9711) in a COSE_Sign1 signed by the
// backend's attestation key, over the current registers and event log (docs/attestation.md).
//
// Fixed facts (UEID, key id, boot seed, start time) are computed once at construction, so a
// request costs one snapshot of the registers, a few hundred bytes of CBOR and one ECDSA
// signature.
//
// Thread safety: Attest() may be called concurrently.
#pragma once

#include <chrono>
#include <string>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "sd/backend.h"
#include "sd/registers.h"

namespace edgetrust::sd {

class Attester {
 public:
  Attester(Backend& backend, const RegisterBank& registers);

  struct Output {
    Bytes evidence;
    // With a backend that quotes (tpm): the quoted PCRs in tpm2-tools' file format, for
    // `edgetrust attest --tpm-quote`; the quote itself is inside the evidence.
    Bytes quote_pcrs;
  };
  // kInvalidArgument for a nonce outside 8..64 bytes (RFC 9711's bounds); the backend's error
  // when its quote fails (e.g. kUnavailable while the TPM is gone).
  Result<Output> Attest(ByteView nonce, std::string_view requester) const;
  // PEM SubjectPublicKeyInfo of the attestation key.
  Result<std::string> PublicKeyPem() const;
  const Bytes& ueid() const { return ueid_; }

 private:
  Backend& backend_;
  const RegisterBank& registers_;
  Bytes ueid_;
  Bytes kid_;
  Bytes bootseed_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace edgetrust::sd
