// Fuzz target: attestation evidence, as a verifier receives it from a device (attest/evidence.h,
// edgetrust/attestation.h).
//
// The input is one evidence: DecodeSign1 on it and, when that succeeds, DecodeClaims on its
// payload; DecodeClaims on the input itself too (so the claims decoder is reached without a
// COSE wrapper); then EvidenceVerifier::Verify with the fixed key, nonce, log and clock of
// fuzz_attest_data.h and a reference that requires the seeds' registers and events.
// Invariants: decode errors are kMalformed; what decodes re-encodes and decodes to the same
// fields; decoded claims satisfy the documented sizes; a Verdict passes exactly when it lists no
// failure, and has claims only when the input is a well-formed, correctly signed COSE_Sign1.
#include <cstddef>
#include <cstdint>
#include <string>

#include "attest/evidence.h"
#include "edgetrust/attestation.h"
#include "fuzz_attest_data.h"
#include "fuzz_util.h"

namespace {

using namespace edgetrust;  // NOLINT(google-build-using-namespace): a fuzz target

void CheckClaims(const EvidenceClaims& c) {
  ET_FUZZ_CHECK(c.nonce.size() >= 8 && c.nonce.size() <= 64);
  ET_FUZZ_CHECK(c.ueid.size() == 33 && c.ueid[0] == 0x01);
  ET_FUZZ_CHECK(c.bootseed.size() == 32);
  ET_FUZZ_CHECK(c.dbgstat <= 4);
  // Whatever decodes must encode again (the encoder's checks are the decoder's) and decode to
  // the same claims.
  auto encoded = attest::EncodeClaims(c);
  ET_FUZZ_CHECK(encoded.ok());
  auto again = attest::DecodeClaims(*encoded);
  ET_FUZZ_CHECK(again.ok());
  ET_FUZZ_CHECK(again->nonce == c.nonce && again->ueid == c.ueid && again->iat == c.iat &&
                again->dbgstat == c.dbgstat && again->profile == c.profile &&
                again->uptime == c.uptime && again->bootseed == c.bootseed &&
                again->swname == c.swname && again->registers == c.registers &&
                again->log_digest == c.log_digest && again->log_count == c.log_count &&
                again->backend == c.backend && again->emulated == c.emulated &&
                again->requester == c.requester);
}

struct Fixture {
  EvidenceVerifier verifier;
  std::vector<LogEvent> log;
  ReferenceValues reference;
};

const Fixture& GetFixture() {
  static const Fixture* const fixture = [] {
    auto verifier = EvidenceVerifier::Create(fuzz::kAttestFuzzPublicKeyPem);
    ET_FUZZ_CHECK(verifier.ok());
    auto* f = new Fixture{std::move(verifier).value(), fuzz::AttestFuzzLog(),
                          fuzz::AttestFuzzReference()};
    return f;
  }();
  return *fixture;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& f = GetFixture();
  const ByteView input(data, size);

  auto sign1 = attest::DecodeSign1(input);
  if (sign1.ok()) {
    ET_FUZZ_CHECK(sign1->alg == attest::kCoseAlgEs256);
    ET_FUZZ_CHECK(sign1->signature.size() == 64);
    auto again = attest::DecodeSign1(attest::EncodeSign1(*sign1));
    ET_FUZZ_CHECK(again.ok());
    ET_FUZZ_CHECK(again->protected_header == sign1->protected_header && again->kid == sign1->kid &&
                  again->payload == sign1->payload && again->signature == sign1->signature);
    auto claims = attest::DecodeClaims(sign1->payload);
    if (claims.ok()) {
      CheckClaims(*claims);
    } else {
      ET_FUZZ_CHECK(claims.status().code() == ErrorCode::kMalformed);
    }
  } else {
    ET_FUZZ_CHECK(sign1.status().code() == ErrorCode::kMalformed);
    ET_FUZZ_CHECK(!sign1.status().message().empty());
  }

  auto raw_claims = attest::DecodeClaims(input);
  if (raw_claims.ok()) {
    CheckClaims(*raw_claims);
  } else {
    ET_FUZZ_CHECK(raw_claims.status().code() == ErrorCode::kMalformed);
  }

  const ByteView nonce(fuzz::kAttestFuzzNonce);
  Verdict v = f.verifier.Verify(input, nonce, &f.log, &f.reference, fuzz::kAttestFuzzNow);
  ET_FUZZ_CHECK(v.passed == v.failures.empty());
  if (v.claims) {
    ET_FUZZ_CHECK(sign1.ok());
    CheckClaims(*v.claims);
  }
  if (!sign1.ok()) ET_FUZZ_CHECK(!v.passed && !v.claims);
  for (const auto& failure : v.failures) ET_FUZZ_CHECK(!failure.empty());
  return 0;
}
