// Fixed inputs shared by the attestation fuzz targets and their seed generator (fuzz/ only,
// header-only): a P-256 attestation key made for fuzzing (not a secret: it signs nothing but
// seeds), the nonce, event log and clock the targets verify against.
//
// fuzz_make_seeds signs the evidence seeds with this key over this nonce and log, so unmodified
// seeds pass EvidenceVerifier::Verify in fuzz_evidence and the fuzzer starts from the whole
// verification path, not only from the decoders.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "edgetrust/attestation.h"
#include "edgetrust/secret.h"

namespace edgetrust::fuzz {

inline constexpr std::string_view kAttestFuzzPrivateKeyPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0906Gt+GqNm86a/u\n"
    "gechvz4k56YaTYoV3QY3UJ9DTMihRANCAASaHEKFz9wFcwgSZm74eHJiC2RHowZQ\n"
    "AV5rijIEwyeCNFIcZwaE1fSaSXmGAabV+XqGS4O/datEPdJujO/C2TqV\n"
    "-----END PRIVATE KEY-----\n";

inline constexpr std::string_view kAttestFuzzPublicKeyPem =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmhxChc/cBXMIEmZu+HhyYgtkR6MG\n"
    "UAFea4oyBMMngjRSHGcGhNX0mkl5hgGm1fl6hkuDv3WrRD3Sbozvwtk6lQ==\n"
    "-----END PUBLIC KEY-----\n";

// ASCII "edgetrust-fuzz-nonce".
inline constexpr uint8_t kAttestFuzzNonce[20] = {0x65, 0x64, 0x67, 0x65, 0x74, 0x72, 0x75,
                                                 0x73, 0x74, 0x2d, 0x66, 0x75, 0x7a, 0x7a,
                                                 0x2d, 0x6e, 0x6f, 0x6e, 0x63, 0x65};

// iat of the seeds, and the verifier's clock a little later (within the reference's max age).
inline constexpr uint64_t kAttestFuzzIat = 1767225600;  // 2026-01-01T00:00:00Z
inline constexpr uint64_t kAttestFuzzNow = kAttestFuzzIat + 30;

// The event log the seeds' registers come from.
inline std::vector<LogEvent> AttestFuzzLog() {
  struct E {
    uint32_t reg;
    uint8_t fill;
    const char* principal;
    const char* description;
  };
  const E events[] = {
      {0, 0x10, "edgetrust-sd", "edgetrust-sd config sha256 and policy"},
      {1, 0x21, "uid:0", "host baseline 2026-01-01"},
      {2, 0x32, "uid:0", "deployment gateway-modules v12"},
      {3, 0x43, "uid:0", "update rootfs 4.2.0"},
      {9, 0x54, "uid:1000", "application: model weights v3"},
      {2, 0x65, "uid:0", "deployment gateway-modules v13"},
  };
  std::vector<LogEvent> log;
  for (const E& e : events) {
    LogEvent ev;
    ev.seq = log.size();
    ev.register_index = e.reg;
    for (size_t i = 0; i < ev.digest.size(); ++i) {
      ev.digest[i] = static_cast<uint8_t>(e.fill + i);
    }
    ev.principal = e.principal;
    ev.description = e.description;
    ev.time = kAttestFuzzIat - 100 + log.size();
    log.push_back(ev);
  }
  return log;
}

// The reference values fuzz_evidence appraises with: emulated evidence allowed, at most 300 s
// old, register 2 as the log leaves it, and the log's update event (seq 3) present.
inline ReferenceValues AttestFuzzReference() {
  const std::vector<LogEvent> log = AttestFuzzLog();
  ReferenceValues ref;
  ref.allow_emulated = true;
  ref.max_age_seconds = 300;
  Digest256 reg{};
  for (const LogEvent& e : log) {
    if (e.register_index == kRegisterContainers) reg = ExtendRegisterValue(reg, e.digest);
  }
  ref.registers.emplace_back(kRegisterContainers, reg);
  ref.events.push_back({log[3].register_index, log[3].digest, log[3].description});
  return ref;
}

// fuzz_attest_json reads its first byte as a selector: bit 0 clear parses the rest as an event
// log, set as reference values. The seeds use '0' and '1' so they stay readable text.
inline constexpr uint8_t kAttestJsonLog = '0';
inline constexpr uint8_t kAttestJsonReference = '1';

}  // namespace edgetrust::fuzz
