// Attestation evidence of the secure domain, and its verifier.
//
// The secure domain keeps kRegisterCount extend-only measurement registers (SHA-256, like TPM
// PCRs: new = SHA-256(old || digest)) and an event log of every extension. Its evidence is an
// IETF Entity Attestation Token (RFC 9711): a COSE_Sign1 (RFC 9052, CBOR tag 18) signed ES256 by
// the device's attestation key, carrying the verifier's nonce, every register value, a digest of
// the event log and the backend's name. docs/attestation.md defines every claim and format.
//
// This header is the verifier side, usable without a daemon (a cloud verifier service links it):
// EvidenceVerifier checks the signature, the nonce, replays an event log against the registers
// and compares with reference values, returning a Verdict that lists every reason it failed.
//
// Thread safety: EvidenceVerifier is immutable after Create(); Verify() may run concurrently.
// Errors: parse functions return Result with kMalformed (bad syntax) or kInvalidArgument (bad
// values) naming what is wrong; Verify() never fails as a call, it returns a failing Verdict.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust {

inline constexpr size_t kRegisterCount = 16;
using Digest256 = std::array<uint8_t, 32>;

// Documented register roles (docs/attestation.md).
inline constexpr uint32_t kRegisterSecureDomain = 0;      // edgetrust-sd's own config and policy
inline constexpr uint32_t kRegisterHostBaseline = 1;      // host integrity baseline
inline constexpr uint32_t kRegisterContainers = 2;        // container deployments
inline constexpr uint32_t kRegisterUpdates = 3;           // accepted updates
inline constexpr uint32_t kRegisterAgentConfig = 4;       // edgetrust-agent configuration
inline constexpr uint32_t kFirstApplicationRegister = 8;  // 8..15: free for applications

// One extension of a register, as recorded in the event log.
struct LogEvent {
  uint64_t seq = 0;  // 0, 1, 2, ... since the secure domain started
  uint32_t register_index = 0;
  Digest256 digest{};       // what was extended into the register
  std::string principal;    // who extended it ("edgetrust-sd" for the daemon's own events)
  std::string description;  // the caller's description of the event
  uint64_t time = 0;        // seconds since the epoch, when it was recorded
};

// new = SHA-256(old || digest).
Digest256 ExtendRegisterValue(const Digest256& old_value, const Digest256& digest);
// With a TPM, every register extension is mirrored into one PCR (docs/tpm.md): the PCR is
// extended with PcrMirrorDigest(index, digest) = SHA-256(u8 index || digest), in log order, so a
// quote over that PCR commits to the whole log. kMirrorPcr is the PCR (23, "application support":
// resettable and extendable at locality 0, owned by no boot chain).
inline constexpr uint32_t kMirrorPcr = 23;
Digest256 PcrMirrorDigest(uint32_t index, const Digest256& digest);
// The mirror PCR's value after `events`, from `base` (its value before the first of them).
Digest256 ReplayPcrMirror(const Digest256& base, const std::vector<LogEvent>& events);
// The log digest after one more event: SHA-256(head || CanonicalEventEncoding(event)). The head
// of an empty log is 32 zero bytes.
Digest256 ChainLogDigest(const Digest256& head, const LogEvent& event);
// Deterministic CBOR (RFC 8949 section 4.2.1) of the array
// [seq, register, digest (bstr), principal (tstr), description (tstr), time].
Bytes CanonicalEventEncoding(const LogEvent& event);

// The measurement registers at one moment, with the event log's digest and length then.
struct RegisterSnapshot {
  std::array<Digest256, kRegisterCount> values{};
  Digest256 log_digest{};
  uint64_t log_count = 0;
};

// What a log replays to: every register from all-zero, the log digest and the event count.
struct LogReplay {
  std::array<Digest256, kRegisterCount> registers{};
  Digest256 log_digest{};
  uint64_t count = 0;
};
// kInvalidArgument if the sequence numbers are not 0, 1, 2, ... or a register index is out of
// range.
Result<LogReplay> ReplayLog(const std::vector<LogEvent>& events);

// The JSON form of the log (`edgetrust measure log --json`): an array of objects
// {"seq", "register", "digest" (64 hex), "principal", "event", "time"}.
std::string EventLogToJson(const std::vector<LogEvent>& events);
Result<std::vector<LogEvent>> ParseEventLogJson(std::string_view json);

// A TPM2 quote carried in evidence from the tpm backend (private claim -70006, docs/tpm.md):
// TPM2_Quote over the mirror PCR with the evidence's nonce as qualifying data, signed by the same
// attestation key as the evidence.
struct TpmQuoteClaim {
  Bytes attest;          // TPMS_ATTEST, as marshalled by the TPM
  Bytes signature;       // TPMT_SIGNATURE, marshalled
  uint32_t pcr = 0;      // the mirror PCR (kMirrorPcr)
  Digest256 pcr_base{};  // its value before the first event of the log
};

// The claims of one evidence, decoded. Field names follow RFC 9711 where a claim is standard.
struct EvidenceClaims {
  Bytes nonce;           // eat_nonce (10), 8..64 bytes
  Bytes ueid;            // ueid (256): 0x01 (RAND type) | 32 bytes
  uint64_t iat = 0;      // iat (6), seconds since the epoch
  uint64_t dbgstat = 0;  // dbgstat (263): 0 enabled (emulated) .. 4
  std::string profile;   // eat_profile (265)
  uint64_t uptime = 0;   // uptime (261): seconds since the secure domain started
  Bytes bootseed;        // bootseed (268): random per start of the secure domain
  std::string swname;    // swname (270)
  std::array<Digest256, kRegisterCount> registers{};  // from measurements (273)
  Digest256 log_digest{};                             // private claim, see docs/attestation.md
  uint64_t log_count = 0;                             // private claim
  std::string backend;                                // private claim: "emulated", "tpm", "pkcs11"
  bool emulated = true;   // private claim: true when no secure hardware backs the evidence
  std::string requester;  // private claim: principal that asked for the evidence
  std::optional<TpmQuoteClaim> tpm_quote;  // private claim, tpm backend only
};

// Expected values for appraisal (docs/attestation.md, "Reference values"). JSON:
//   {"registers": {"2": "<64 hex>", ...}, "events": [{"register": 2, "digest": "<64 hex>"}],
//    "exclusive_registers": [2], "allow_emulated": false, "require_tpm_quote": false,
//    "max_age_seconds": 300}
struct ReferenceValues {
  std::vector<std::pair<uint32_t, Digest256>> registers;  // each must equal the evidence's
  struct ExpectedEvent {
    uint32_t register_index = 0;
    Digest256 digest{};
    std::optional<std::string> description;  // when set, must match too
  };
  std::vector<ExpectedEvent> events;  // each must appear in the (replayed) log
  // Registers whose every logged event must match (register + digest) one of `events`: nothing
  // else may have been extended into them. Needs the log. Sorted, no duplicates.
  std::vector<uint32_t> exclusive_registers;
  bool allow_emulated = false;
  bool require_tpm_quote = false;           // evidence without a verified TPM quote fails
  std::optional<uint64_t> max_age_seconds;  // iat no older than this (and not in the future)
};
Result<ReferenceValues> ParseReferenceJson(std::string_view json);

struct Verdict {
  bool passed = false;
  std::vector<std::string> failures;     // empty when passed
  std::vector<std::string> notes;        // facts worth showing, e.g. "backend is emulated"
  std::optional<EvidenceClaims> claims;  // set once the signature verified and claims decoded
};

class EvidenceVerifier {
 public:
  // `public_key_pem`: the attestation key (`edgetrust attest key`), an EC P-256
  // SubjectPublicKeyInfo.
  static Result<EvidenceVerifier> Create(std::string_view public_key_pem);
  ~EvidenceVerifier();
  EvidenceVerifier(EvidenceVerifier&&) noexcept;
  EvidenceVerifier& operator=(EvidenceVerifier&&) noexcept;

  // Checks, in order: COSE_Sign1 structure and algorithm (ES256), signature, claims, nonce equal
  // to `expected_nonce` (constant time); with `log`: it replays to the evidence's registers, log
  // digest and count; with `reference`: emulated backends, freshness, register values and
  // expected events. Every failed check adds a reason; nothing stops at the first one except a
  // structure or signature failure (nothing after them can be trusted).
  Verdict Verify(ByteView evidence, ByteView expected_nonce,
                 const std::vector<LogEvent>* log = nullptr,
                 const ReferenceValues* reference = nullptr, uint64_t now = 0) const;
  // `now`: seconds since the epoch for the freshness check; 0 means the current time.

  class Impl;

 private:
  explicit EvidenceVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgetrust
