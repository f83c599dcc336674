// Checking a TPM2 quote carried in evidence (TpmQuoteClaim, docs/tpm.md "Quote"): the quote's
// structure, that the TPM made it (TPM_GENERATED magic, quote type), its qualifying data (the
// verifier's nonce), the PCR it covers and, when the expected PCR value is known (from the event
// log), its PCR digest. The signature is checked by the caller, who holds the attestation key:
// SignedBytes() and RawSignature() say what to check.
//
// Thread safety: free functions without shared state.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "edgetrust/attestation.h"
#include "edgetrust/status.h"

namespace edgetrust::attest {

struct ParsedQuote {
  Bytes qualifying_data;  // extraData
  uint32_t pcr = 0;       // the one PCR selected (SHA-256 bank)
  Bytes pcr_digest;       // SHA-256 of the selected PCR values
  Bytes raw_signature;    // ECDSA r || s, 32 bytes each
};

// kMalformed naming what is wrong: trailing bytes, not TPM-generated, not a quote, more than one
// PCR or another bank selected, a signature that is not ECDSA with SHA-256.
Result<ParsedQuote> ParseTpmQuote(const TpmQuoteClaim& quote);

// Appends the failures of the quote's content checks to `failures`: qualifying data == nonce,
// the PCR is the claim's, and with `expected_pcr` the digest is SHA-256 of it.
void CheckTpmQuote(const TpmQuoteClaim& claim, const ParsedQuote& quote, ByteView nonce,
                   const std::optional<Digest256>& expected_pcr,
                   std::vector<std::string>& failures);

}  // namespace edgetrust::attest
