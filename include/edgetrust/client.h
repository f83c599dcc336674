// libedgetrust: the C++ client of the secure-domain daemon (edgetrust-sd).
//
// A Client owns one connection to the daemon's Unix socket and keeps it open. Keys are named
// handles: "NAME" is a key of the caller's own principal, "PRINCIPAL/NAME" (e.g. "uid:0/device-id")
// a key another principal granted to the caller. Private and secret key material never reaches the
// client; only public keys, signatures, ciphertexts and MACs do.
//
// Thread safety: a Client may be shared by any number of threads. Calls from several threads are
// pipelined on the one connection (several requests in flight, answers matched by request id), so
// sharing a Client does not serialise round trips.
// Errors: every call returns a Status/Result; ErrorCode says what failed (kUnavailable when the
// daemon cannot be reached; the connection is then dead and the Client must be reconnected).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/attestation.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"

namespace edgetrust {

// Default socket when neither an argument nor EDGETRUST_SOCKET names one.
inline constexpr std::string_view kDefaultSocketPath = "/run/edgetrust/sd.sock";

struct KeyInfo {
  std::string name;
  std::string owner;     // principal owning the key, e.g. "uid:1000" or "container:<id>"
  std::string type;      // KeyTypeName() of the type, kept as text for forward compatibility
  uint64_t created = 0;  // seconds since the epoch
  std::string state;     // "ok", or "tampered: <reason>" for a stored object that failed checks
};

struct DaemonInfo {
  std::string backend;
  std::string version;
  uint32_t protocol_version = 0;
  std::string principal;               // who the daemon says the caller is
  std::vector<std::string> supported;  // "key-type:NAME" and "op:NAME" entries
  uint32_t key_count = 0;              // keys of the caller's principal
  // What the backend's monotonic counters can and cannot detect (e.g. a restored older file).
  std::string counter_protection;
  // Things an operator should know, e.g. "counters: ... rolled back ...; recovered". Empty when
  // all is well.
  std::vector<std::string> notices;
  // Each feature of the secure domain and who provides it: the secure hardware ("native") or the
  // daemon on top of it, with keys the hardware holds ("provided").
  struct Feature {
    std::string name;  // sign, aead, mac, derive, ecdh, random, seal, counter, registers, ...
    bool native = false;
    std::string how;
  };
  std::vector<Feature> features;
  std::string storage_protection;  // rollback protection of stored keys: none, detected, hardware
  std::string device;              // the secure hardware behind the backend; empty for emulated
};

struct SignOptions {
  SignAlgorithm algorithm = SignAlgorithm::kDefault;
};

class Client {
 public:
  // Connects to `socket_path`, or to $EDGETRUST_SOCKET, or to kDefaultSocketPath.
  static Result<std::unique_ptr<Client>> Connect(std::string_view socket_path = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<DaemonInfo> Info();

  Result<KeyInfo> CreateKey(std::string_view name, KeyType type);
  // Keys of the caller's principal, or of `owner` (admins only).
  Result<std::vector<KeyInfo>> ListKeys(std::string_view owner = {});
  Result<std::string> PublicKeyPem(std::string_view key);
  Status DeleteKey(std::string_view key);

  // Signs a message (at most 1 MiB); the daemon hashes it as the algorithm says.
  Result<Bytes> Sign(std::string_view key, ByteView message, SignOptions options = {});
  // Signs a digest computed by the caller (ECDSA and RSA; not Ed25519).
  Result<Bytes> SignDigest(std::string_view key, ByteView digest, SignOptions options = {});
  // True if the signature is valid; false if it is not; an error if the check could not be made.
  Result<bool> Verify(std::string_view key, ByteView message, ByteView signature,
                      SignOptions options = {});
  Result<bool> VerifyDigest(std::string_view key, ByteView digest, ByteView signature,
                            SignOptions options = {});

  // AES-256-GCM. Ciphertext layout: nonce (12) | ciphertext | tag (16).
  Result<Bytes> Encrypt(std::string_view key, ByteView plaintext, ByteView aad = {});
  // kVerifyFailed if the ciphertext, the AAD or the key do not match.
  Result<SecretBytes> Decrypt(std::string_view key, ByteView ciphertext, ByteView aad = {});

  Result<Bytes> Mac(std::string_view key, ByteView data);
  Result<bool> MacVerify(std::string_view key, ByteView data, ByteView mac);

  // HKDF-SHA256 from `base` into a new key of the caller's namespace. `type` nullopt: the base's.
  Result<KeyInfo> Derive(std::string_view base, std::string_view new_name, ByteView info,
                         ByteView salt = {}, std::optional<KeyType> type = std::nullopt);
  // ECDH (P-256) of `key` with a peer public key (PEM or DER SubjectPublicKeyInfo), then
  // HKDF-SHA256 (no salt, `info`) into a new key (hmac-sha256 unless `type` says aes-256).
  Result<KeyInfo> Ecdh(std::string_view key, ByteView peer_public, std::string_view new_name,
                       ByteView info = {}, std::optional<KeyType> type = std::nullopt);

  // Random bytes from the secure domain's generator, 1 .. 1048576 at a time.
  Result<Bytes> Random(size_t length);

  // Sealing (docs/attestation.md, "Sealed blobs"): a blob only this secure domain can open, and
  // only for the caller's principal. With `bind_registers`, unsealing also needs those registers
  // to hold the values they had when sealing (kFailedPrecondition once they changed). At most
  // 1 MiB of data. Unseal: kTampered for an altered blob, kPermissionDenied for another
  // principal's blob.
  Result<Bytes> Seal(ByteView data, const std::vector<uint32_t>& bind_registers = {});
  Result<SecretBytes> Unseal(ByteView blob);

  // Measurement registers: extend register `index` with a SHA-256 digest and a description
  // (at most 255 bytes of printable UTF-8) recorded in the event log. Policy decides who may
  // extend which register. Returns the event's sequence number and the register's new value.
  struct Extended {
    uint64_t seq = 0;
    Digest256 value{};
  };
  Result<Extended> Extend(uint32_t index, const Digest256& digest, std::string_view description);
  Result<RegisterSnapshot> ReadRegisters();
  // The whole event log, fetched page by page.
  Result<std::vector<LogEvent>> ReadEventLog();

  // Monotonic counters of the caller's principal ("NAME", or "OWNER/NAME" for admins). They
  // never go backwards and survive restarts. Create starts at 0; kAlreadyExists if it exists.
  Result<uint64_t> CreateCounter(std::string_view name);
  Result<uint64_t> IncrementCounter(std::string_view name);
  Result<uint64_t> ReadCounter(std::string_view name);

  // Evidence (an EAT in a COSE_Sign1) over the current registers, with `nonce` (8..64 bytes).
  Result<Bytes> Attest(ByteView nonce);
  struct AttestOutput {
    Bytes evidence;
    // With the tpm backend: the quoted PCRs in tpm2-tools' file format (tpm2_checkquote -f); the
    // quote itself is the evidence's tpm quote claim. Empty for other backends.
    Bytes quote_pcrs;
  };
  Result<AttestOutput> AttestWithQuote(ByteView nonce);
  // The attestation key's public key, PEM SubjectPublicKeyInfo.
  Result<std::string> AttestationKeyPem();

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgetrust
