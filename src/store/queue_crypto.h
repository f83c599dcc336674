// The cryptography of the store-and-forward queue (docs/store.md, "Keys and records").
//
// One 32-byte data key, sealed by the secure domain, is the root of a queue. Four working keys are
// derived from it with HKDF-SHA256 (one per purpose, so no key is used for two things):
//   aead      AES-256-GCM of every message and command row
//   meta      HMAC-SHA256 of the meta row (the queue's authenticated state)
//   set       AES-256 as a pseudo-random function of row ids, for the row-set digests
//   leaves    HMAC-SHA256 of (leaf, last_seq) entries, for the leaves-table digest
// A set digest is the XOR of PRF(element) over a set: adding or removing an element toggles its
// term, so the digest follows inserts and deletes in O(1), and without the key nobody can make a
// different set with the same digest.
//
// Thread safety: QueueKeys is a plain value. Aead and IdPrf hold an OpenSSL context each and are
// not thread-safe: one per thread. All errors are values; authentication failures are kTampered.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/openssl_ptr.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::store {

inline constexpr size_t kDataKeySize = 32;
inline constexpr size_t kNonceSize = 12;
inline constexpr size_t kTagSize = 16;

using SetDigest = std::array<uint8_t, 16>;
using Mac256 = std::array<uint8_t, 32>;

struct QueueKeys {
  SecretBytes aead;
  SecretBytes meta;
  SecretBytes set;
  SecretBytes leaves;

  // kInvalidArgument unless `data_key` has kDataKeySize bytes.
  static Result<QueueKeys> Derive(const SecretBytes& data_key);
};

// AES-256-GCM with one key; the key schedule is computed once. Sealed layout:
// nonce (12) | ciphertext | tag (16).
class Aead {
 public:
  static Result<Aead> Create(const SecretBytes& key);

  // Appends nonce | ciphertext | tag to `out`.
  Status Seal(const std::array<uint8_t, kNonceSize>& nonce, ByteView plaintext, ByteView aad,
              Bytes& out);
  // Replaces `out` with the plaintext; kTampered when the tag does not verify (or the input is too
  // short to hold a nonce and a tag). `out` is wiped and empty on failure.
  Status Open(ByteView sealed, ByteView aad, std::string& out);

 private:
  explicit Aead(EvpCipherCtxPtr enc, EvpCipherCtxPtr dec)
      : enc_(std::move(enc)), dec_(std::move(dec)) {}
  EvpCipherCtxPtr enc_;
  EvpCipherCtxPtr dec_;
};

// Toggles PRF(domain, id) (AES-256 of one block) into a set digest.
class IdPrf {
 public:
  static Result<IdPrf> Create(const SecretBytes& key);
  void Toggle(SetDigest& digest, uint8_t domain, uint64_t id);

 private:
  explicit IdPrf(EvpCipherCtxPtr ctx) : ctx_(std::move(ctx)) {}
  EvpCipherCtxPtr ctx_;
};

inline constexpr uint8_t kMessageDomain = 'M';
inline constexpr uint8_t kCommandDomain = 'C';

Result<Mac256> HmacSha256(const SecretBytes& key, ByteView data);
// The digest term of one leaves-table entry: HMAC(leaves key, u16 len | name | u64 last_seq).
Result<Mac256> LeafTerm(const SecretBytes& key, std::string_view name, uint64_t last_seq);
void XorInto(Mac256& acc, const Mac256& term);

// Constant-time equality of two byte strings of the same length.
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace edgetrust::store
