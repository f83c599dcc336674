// Fuzz target: the TPM quote inside evidence (attest/tpm_quote.h), bytes a verifier receives from
// a device it does not trust yet.
//
// Input: u16 BE length of the TPMS_ATTEST, the TPMS_ATTEST, then the TPMT_SIGNATURE. Promises
// checked: ParseTpmQuote fails only with kMalformed; a parsed quote selects exactly one PCR below
// 24 and carries a 64-byte raw signature; CheckTpmQuote never crashes and, given the quote's own
// qualifying data and PCR, reports no nonce or PCR failure.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "attest/tpm_quote.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t attest_len = (size_t{data[0]} << 8) | data[1];
  if (attest_len > size - 2) return 0;
  edgetrust::TpmQuoteClaim claim;
  claim.attest.assign(data + 2, data + 2 + attest_len);
  claim.signature.assign(data + 2 + attest_len, data + size);
  auto parsed = edgetrust::attest::ParseTpmQuote(claim);
  if (!parsed.ok()) {
    ET_FUZZ_CHECK(parsed.status().code() == edgetrust::ErrorCode::kMalformed);
    return 0;
  }
  ET_FUZZ_CHECK(parsed->pcr < 24);
  ET_FUZZ_CHECK(parsed->raw_signature.size() == 64);
  claim.pcr = parsed->pcr;
  std::vector<std::string> failures;
  edgetrust::attest::CheckTpmQuote(claim, *parsed, parsed->qualifying_data, std::nullopt, failures);
  ET_FUZZ_CHECK(failures.empty());
  edgetrust::attest::CheckTpmQuote(claim, *parsed, parsed->qualifying_data, edgetrust::Digest256{},
                                   failures);
  return 0;
}
