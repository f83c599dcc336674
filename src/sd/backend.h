// The secure domain's backend interface: where keys live and where operations run.
//
// The dispatcher has already authorised every call: a backend trusts its KeyId arguments and only
// checks what belongs to key material (type fits the operation, sizes, integrity). `emulated` is
// the first implementation; `tpm` and `pkcs11` implement the same interface, so the conformance
// suite runs against all of them.
//
// Thread safety: every method may be called concurrently from the daemon's connection threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgetrust/attestation.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"

namespace edgetrust::sd {

// True for 1..64 characters of [A-Za-z0-9._-], not starting with '.'.
bool IsValidKeyName(std::string_view name);

struct KeyId {
  std::string owner;  // principal
  std::string name;
};

// One feature of the secure domain and who provides it: the secure hardware itself ("native"), or
// the daemon on top of it with keys the hardware holds ("provided"). `edgetrust info` lists them.
struct Feature {
  std::string name;  // "sign", "aead", "mac", "derive", "ecdh", "random", "seal", "counter",
                     // "registers", "attest", "quote"
  bool native = false;
  std::string how;  // one short phrase, e.g. "TPM2_Sign" or "daemon counter store, key on token"
};

// A quote by the platform's secure hardware over the registers' mirror (a TPM2 quote: docs/tpm.md).
struct PlatformQuote {
  Bytes attest;     // TPMS_ATTEST as the TPM marshalled it (what `tpm2_checkquote -m` reads)
  Bytes signature;  // TPMT_SIGNATURE, marshalled (`-s`)
  Bytes pcrs;  // TPML_PCR_SELECTION then TPML_DIGEST values, in tpm2_quote's `-o` format (`-f`)
  uint32_t pcr_index = 0;  // the PCR that mirrors the registers
  Digest256 pcr_base{};    // its value before the first mirrored event of this daemon's life
  std::string ak_pem;      // the attestation key's public key (`-u`)
};

// What a backend found when it opened its state: for the daemon's start-up log.
struct StartupAudit {
  size_t authentic = 0;               // stored objects that passed their integrity check
  std::vector<std::string> problems;  // "what: reason" of those that did not
  size_t removed_temporaries = 0;     // partial writes of a crash, cleaned up
};

struct KeyMeta {
  KeyId id;
  KeyType type = KeyType::kEcdsaP256;
  uint64_t created = 0;
  std::string state = "ok";  // or "tampered: <reason>"
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view Name() const = 0;
  virtual std::vector<KeyType> SupportedKeyTypes() const = 0;

  virtual Result<KeyMeta> CreateKey(const KeyId& id, KeyType type) = 0;
  // Keys of `owner`, or of every principal when owner is nullopt. Objects that fail integrity
  // checks are listed with a "tampered: ..." state rather than hidden.
  virtual Result<std::vector<KeyMeta>> ListKeys(std::optional<std::string_view> owner) = 0;
  virtual Status DeleteKey(const KeyId& id) = 0;
  virtual Result<std::string> PublicKeyPem(const KeyId& id) = 0;

  // `alg` is the caller's request (kDefault: the key type's default); the backend resolves it
  // against the very key it loads (ResolveSignAlgorithm), so a key replaced in between cannot be
  // used with an algorithm chosen for another type. kUnsupported when they do not fit, or for a
  // digest with Ed25519. Exactly one of message/digest is set.
  virtual Result<Bytes> Sign(const KeyId& id, SignAlgorithm alg, std::optional<ByteView> message,
                             std::optional<ByteView> digest) = 0;
  virtual Result<bool> Verify(const KeyId& id, SignAlgorithm alg, std::optional<ByteView> message,
                              std::optional<ByteView> digest, ByteView signature) = 0;
  virtual Result<Bytes> Encrypt(const KeyId& id, ByteView plaintext, ByteView aad) = 0;
  virtual Result<SecretBytes> Decrypt(const KeyId& id, ByteView ciphertext, ByteView aad) = 0;
  virtual Result<Bytes> Mac(const KeyId& id, ByteView data) = 0;
  virtual Result<bool> MacVerify(const KeyId& id, ByteView data, ByteView mac) = 0;
  // HKDF-SHA256 of a symmetric key into a new key `out` of type `out_type` (nullopt: the type of
  // the base key, as loaded for this derivation). kUnsupported for an asymmetric base.
  virtual Result<KeyMeta> Derive(const KeyId& base, const KeyId& out,
                                 std::optional<KeyType> out_type, ByteView salt, ByteView info) = 0;
  // ECDH P-256 then HKDF-SHA256 (no salt, `info`) into a new key `out`.
  virtual Result<KeyMeta> Ecdh(const KeyId& key, ByteView peer_public, const KeyId& out,
                               KeyType out_type, ByteView info) = 0;
  virtual Result<SecretBytes> Random(size_t length) = 0;
  virtual size_t KeyCount(std::string_view owner) = 0;

  // --- Sealing. Authenticated encryption under a key that never leaves the secure domain, one
  // key per owner, so only the same principal on the same secure domain can open a blob. The
  // blob format around it is the caller's (sealed_blob.h). UnsealData: kTampered when it does not
  // authenticate under `owner`'s key.
  virtual Result<Bytes> SealData(std::string_view owner, ByteView plaintext, ByteView aad) = 0;
  virtual Result<SecretBytes> UnsealData(std::string_view owner, ByteView sealed, ByteView aad) = 0;

  // --- Monotonic counters: never go backwards, survive restarts (counter_store.h for emulated).
  virtual Result<uint64_t> CounterCreate(const KeyId& id) = 0;
  virtual Result<uint64_t> CounterIncrement(const KeyId& id) = 0;
  virtual Result<uint64_t> CounterRead(const KeyId& id) = 0;
  // What the counters can and cannot detect, for `edgetrust info` and the threat model.
  virtual std::string_view CounterProtection() const = 0;
  // Things found at start-up an operator should know (e.g. a restored counter file).
  virtual std::vector<std::string> Notices() const = 0;

  // --- Attestation key: ECDSA P-256, created with the state, used for nothing but evidence.
  // Callers cannot name it: it belongs to no principal.
  virtual Result<Bytes> AttestationSign(ByteView to_be_signed) = 0;  // DER, SHA-256
  virtual const Bytes& AttestationPublicKeyDer() const = 0;          // SubjectPublicKeyInfo
  // True when no secure hardware stands behind the keys (evidence says so).
  virtual bool IsEmulated() const = 0;

  // --- Capabilities, for `edgetrust info` (docs/operations.md, "Backends").
  virtual std::vector<Feature> Features() const = 0;
  // Rollback protection of stored key objects, one word: "none" (a restored older copy is
  // accepted), "detected" (...is reported), or "hardware" (the secure hardware refuses it).
  virtual std::string_view StorageProtection() const = 0;
  // One line naming the device behind the backend (e.g. the TPM's manufacturer and TCTI, or the
  // token's label and model); empty for emulated.
  virtual std::string Device() const { return {}; }
  // Integrity check of stored objects at start-up (emulated: every key record).
  virtual StartupAudit Audit() { return {}; }

  // --- Measurement registers mirrored into secure hardware (TPM: one PCR, docs/tpm.md). Called
  // by the register bank for every extension, in log order and under the bank's lock, before the
  // register changes; an error refuses the extension, so the mirror never falls behind the log.
  virtual Status MirrorExtend(uint32_t index, const Digest256& digest) {
    (void)index;
    (void)digest;
    return Status::Ok();
  }
  // A quote over the mirror with `nonce` as qualifying data, signed by the attestation key; taken
  // under the bank's lock, so it matches the registers the evidence reports. nullopt: the backend
  // has no such quote.
  virtual Result<std::optional<PlatformQuote>> Quote(ByteView nonce) {
    (void)nonce;
    return std::optional<PlatformQuote>();
  }
};

}  // namespace edgetrust::sd
