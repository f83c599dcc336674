// The gateway's list of known leaf sensors: who may connect to the leaf hub, how each one
// authenticates, and the one-time enrollment tokens of leaves that have not enrolled yet.
//
// Persisted as one JSON file (docs/leaves.md), rewritten whole and atomically on every change
// (temporary file, fsync, rename, fsync of the folder; mode 0600), so after a crash the file holds
// either the state before or after a change, never a mix. A change is acknowledged only once it is
// on disk; when the write fails the change is undone in memory too and the error returned.
//
// Enrollment tokens are 32 random bytes (base64url, no padding) handed out once; only their
// SHA-256 is stored, and they are compared in constant time.
//
// Thread safety: every method may be called from any thread (one mutex). ConsumeToken checks and
// consumes under that mutex, so of two callers racing with the same token exactly one wins.
// Errors: Status values with a message fit for the log (see each method).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/client.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::agent {

// How a leaf is admitted by the hub.
enum class LeafAuth {
  kCertificate,  // mutual TLS, a certificate from the device CA with CN = the leaf's name
  kPsk,          // TLS-PSK, identity = the leaf's name, PSK from DeriveLeafPsk
  kEnrollment,   // enrolls once with a token, then authenticates with the certificate it got
};
enum class LeafState {
  kPending,  // enrollment token issued, not used yet
  kActive,
  kRevoked,
};

struct LeafRecord {
  std::string name;
  LeafAuth auth = LeafAuth::kCertificate;  // kCertificate once an enrollment completed
  LeafState state = LeafState::kActive;
  int64_t created_ms = 0;
  std::string token_sha256_hex;  // enrollment leaves only: SHA-256 of the token, lower-case hex
  int64_t token_expires_ms = 0;
  bool token_used = false;
  int64_t enrolled_ms = 0;      // when the token was consumed (0: never)
  std::string cert_serial_hex;  // serial of the certificate issued at enrollment, lower-case hex
  int64_t revoked_ms = 0;

  bool operator==(const LeafRecord&) const = default;
};

// Limits of the registry file and of what a caller may ask for.
inline constexpr size_t kMaxRegistryFileSize = size_t{16} * 1024 * 1024;
inline constexpr size_t kMaxLeaves = 100'000;
inline constexpr int64_t kMinTokenTtlMs = 60'000;                   // 1 minute
inline constexpr int64_t kMaxTokenTtlMs = 30LL * 24 * 3600 * 1000;  // 30 days
inline constexpr size_t kMaxCertSerialHexLength = 40;               // 20 bytes (RFC 5280)

// The registry file's text <-> records, without the file: what Open and every change use, and
// what the fuzz target exercises. Parse refuses (kMalformed, saying why) anything but what
// Serialize writes: unknown or missing fields, wrong types, invalid or duplicate names, unknown
// auth or state names, bad hex, negative times, a pending leaf without a token, more than
// kMaxLeaves leaves, more than kMaxRegistryFileSize bytes.
Result<std::vector<LeafRecord>> ParseLeafRegistry(std::string_view text);
std::string SerializeLeafRegistry(const std::vector<LeafRecord>& leaves);

class LeafRegistry {
 public:
  // A missing file is an empty registry (the file is created by the first change); a corrupt one
  // is kMalformed naming the problem; an unreadable one kIoError; one over the size limit
  // kTooLarge.
  static Result<std::unique_ptr<LeafRegistry>> Open(std::string path);

  // [A-Za-z0-9][A-Za-z0-9._-]{0,63}: usable as one MQTT topic level (no '/', '+', '#'), as a
  // certificate CN, a TLS-PSK identity and a file name.
  static bool IsValidName(std::string_view name);

  // A new leaf that will enroll. Returns the one-time token (shown to the operator once; only its
  // SHA-256 is kept). kInvalidArgument for a bad name or a ttl outside 1 min .. 30 days;
  // kAlreadyExists for a known, non-revoked name (re-adding a revoked name starts over);
  // kResourceExhausted at kMaxLeaves; kIoError when the file cannot be written.
  Result<std::string> AddEnrollment(std::string_view name, int64_t ttl_ms, int64_t now_ms);
  // A leaf with a certificate issued elsewhere (edgetrust cert issue --ca device-ca). Errors as
  // AddEnrollment.
  Status AddCertificate(std::string_view name, int64_t now_ms);
  // A leaf that authenticates with TLS-PSK (DeriveLeafPsk(name, created_ms)). Errors as
  // AddEnrollment.
  Status AddPsk(std::string_view name, int64_t now_ms);

  // Whether `token` would enroll `name` now, without consuming it. kNotFound (unknown leaf),
  // kPermissionDenied ("leaf does not enroll with a token"), kVerifyFailed ("wrong token"),
  // kPermissionDenied ("leaf revoked", "token already used"), kFailedPrecondition ("token
  // expired"), in that order: only the holder of the right token learns the token's state.
  Status CheckToken(std::string_view name, std::string_view token, int64_t now_ms) const;
  // CheckToken, then marks the token used and the leaf active and certificate-authenticated with
  // the certificate `cert_serial_hex` (hex, stored lower-case; kInvalidArgument if not hex or
  // longer than 40 digits), all under one lock and written before it returns. kIoError when the
  // file cannot be written (the token stays unused).
  Status ConsumeToken(std::string_view name, std::string_view token, int64_t now_ms,
                      std::string_view cert_serial_hex);

  // May this leaf connect now, authenticating as `presented`? kNotFound ("unknown leaf"), or
  // kPermissionDenied with the reason: "revoked", "not enrolled yet", "authenticates with a
  // certificate, not a PSK" (and the other mismatches), "already enrolled". `presented` =
  // kEnrollment is a connection that enrolls with a token (then CheckToken/ConsumeToken decide).
  // For kCertificate, `cert_serial_hex` is the serial of the certificate presented: a leaf that
  // enrolled is admitted only with the certificate it got then (a certificate from an earlier
  // enrollment of the same name is refused); empty skips that check.
  Status Admit(std::string_view name, LeafAuth presented,
               std::string_view cert_serial_hex = {}) const;

  // The leaf can no longer connect; a new Add* of its name starts over. kNotFound; revoking a
  // revoked leaf is Ok and keeps the first revocation time.
  Status Revoke(std::string_view name, int64_t now_ms);

  Result<LeafRecord> Get(std::string_view name) const;  // kNotFound
  std::vector<LeafRecord> List() const;                 // sorted by name

  const std::string& path() const { return path_; }

  static std::string_view AuthName(LeafAuth auth);     // "certificate", "psk", "enrollment"
  static std::string_view StateName(LeafState state);  // "pending", "active", "revoked"
  static Result<LeafAuth> ParseAuth(std::string_view name);
  static Result<LeafState> ParseState(std::string_view name);

 private:
  LeafRegistry(std::string path, std::vector<LeafRecord> leaves);
  struct Slot {
    size_t index;  // where the record goes in leaves_ (sorted by name)
    bool replace;  // over a revoked record of the same name
  };
  // Validates the name and whether it may be (re)added.
  Result<Slot> SlotForNewLocked(std::string_view name) const;
  // Puts `record` in `slot` and writes the file; undone in memory when the write fails.
  Status StoreLocked(Slot slot, LeafRecord record);
  Status SaveLocked() const;
  const LeafRecord* FindLocked(std::string_view name) const;
  LeafRecord* FindLocked(std::string_view name);
  Status CheckTokenLocked(const LeafRecord* leaf, std::string_view name, std::string_view token,
                          int64_t now_ms) const;

  const std::string path_;
  mutable std::mutex mu_;
  std::vector<LeafRecord> leaves_;  // sorted by name, names unique
};

// --- TLS-PSK of PSK leaves -------------------------------------------------------------------
// A PSK leaf's key is never stored: it is the HMAC-SHA256, under the secure-domain key
// kLeafPskKey of the agent's principal, of LeafPskMessage(name, created_ms). The leaf's creation
// time is part of it, so a name revoked and added again gets a new PSK.
inline constexpr std::string_view kLeafPskKey = "leaf-psk";
inline constexpr size_t kLeafPskSize = 32;
// "edgetrust-leaf-psk/v1" NUL name NUL created_ms (decimal).
std::string LeafPskMessage(std::string_view name, int64_t created_ms);
// The leaf's PSK (kLeafPskSize bytes). Creates kLeafPskKey (hmac-sha256) on first use; errors
// are the secure domain's (kUnavailable when it does not run).
Result<SecretBytes> DeriveLeafPsk(Client& sd, std::string_view name, int64_t created_ms);

}  // namespace edgetrust::agent
