// One PKCS#11 token as the secure domain uses it: the adapter that keeps the token's quirks away
// from the backend (docs/pkcs11.md, "Token quirks").
//
// Token owns the module and the session pool and knows the token's mechanisms. Its methods run
// one PKCS#11 operation each on a session the caller borrowed (Borrow), so a caller holds one
// session for a whole request and never two at once. Every object it creates is a token object
// (CKA_TOKEN), private (CKA_PRIVATE: invisible without login), sensitive and not extractable.
//
// Quirks handled here rather than in the backend:
//   - CKA_EC_POINT as a DER OCTET STRING or raw; Ed25519 curve named by OID or by name;
//   - a failed AES-GCM tag reported as CKR_ENCRYPTED_DATA_INVALID (the standard), or as
//     CKR_GENERAL_ERROR / CKR_FUNCTION_FAILED (SoftHSM2 2.6): all are kVerifyFailed;
//   - a removed token reported as invalid object handles (SoftHSM2) rather than
//     CKR_DEVICE_REMOVED: an object search that finds nothing checks that the token is there;
//   - the ECDH peer point taken raw or DER-wrapped, whichever the token accepts.
//
// Thread safety: every method may be called concurrently, each with its own Session.
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/openssl_ptr.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"
#include "sd/pkcs11/pkcs11_module.h"
#include "sd/pkcs11/pkcs11_session_pool.h"

namespace edgetrust::sd::pkcs11 {

// CKA_ID of every object the secure domain creates: random, this many bytes.
inline constexpr size_t kObjectIdSize = 16;

struct TokenInfo {
  std::string label;
  std::string manufacturer;
  std::string model;
  std::string serial;
  std::string library;    // the module's path and C_GetInfo description
  bool software = false;  // SoftHSM: a software token, no secure hardware behind it
};

// The handles of one key: the private or secret key, and the public key of a key pair.
struct ObjectHandles {
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
};

class Token {
 public:
  // Loads the module, finds the token, logs in (SessionPool::Open) and reads its mechanisms.
  static Result<std::unique_ptr<Token>> Open(const std::string& module_path,
                                             const std::string& label, SecretBytes pin);

  Result<Session> Borrow() { return pool_->Borrow(); }
  uint64_t generation() const { return pool_->generation(); }
  const TokenInfo& info() const { return info_; }
  SessionPool& pool() { return *pool_; }

  bool Has(CK_MECHANISM_TYPE mechanism) const { return mechanisms_.count(mechanism) != 0; }
  // Whether keys of `type` can be generated and used; else the mechanisms that are missing.
  bool Supports(KeyType type) const { return Missing(type).empty(); }
  std::string Missing(KeyType type) const;

  // --- Objects
  // Generates a key of `type` on the token with CKA_ID `id` and CKA_LABEL `label`.
  Result<ObjectHandles> Generate(Session& s, KeyType type, ByteView id, const std::string& label);
  // Creates a secret key (aes-256 or hmac-sha256) holding `value` (a derived key).
  Result<CK_OBJECT_HANDLE> ImportSecret(Session& s, KeyType type, const SecretBytes& value,
                                        ByteView id, const std::string& label);
  // Token objects of `cls` with CKA_ID `id`. An empty answer has been checked against the
  // token's presence: a token that is gone gives kUnavailable instead.
  Result<std::vector<CK_OBJECT_HANDLE>> Find(Session& s, CK_OBJECT_CLASS cls, ByteView id);
  // CKA_ID of every private and secret key object on the token.
  Result<std::set<Bytes>> KeyIds(Session& s);
  Status Destroy(Session& s, CK_OBJECT_HANDLE object);
  // Destroys every token object (of any class) with CKA_ID `id`.
  Status DestroyAll(Session& s, ByteView id);
  Result<CK_KEY_TYPE> KeyTypeOf(Session& s, CK_OBJECT_HANDLE object);
  // The public key of a key pair from its public object, checked against `type`.
  Result<EvpPkeyPtr> ReadPublicKey(Session& s, CK_OBJECT_HANDLE pub, KeyType type);

  // --- Operations (pkcs11_token_ops.cc)
  // ECDSA (DER) or RSA (PSS, PKCS#1 v1.5) over a digest of the algorithm's size.
  Result<Bytes> SignDigest(Session& s, CK_OBJECT_HANDLE key, SignAlgorithm alg, ByteView digest);
  // Pure Ed25519 (CKM_EDDSA) over a whole message: 64 bytes.
  Result<Bytes> SignEd25519(Session& s, CK_OBJECT_HANDLE key, ByteView message);
  // CKM_AES_GCM with a fresh 96-bit nonce: nonce | ciphertext | tag (16), as sd::AeadSeal.
  Result<Bytes> GcmSeal(Session& s, CK_OBJECT_HANDLE key, ByteView plaintext, ByteView aad);
  // kVerifyFailed when the tag does not match; kInvalidArgument when shorter than nonce + tag.
  Result<SecretBytes> GcmOpen(Session& s, CK_OBJECT_HANDLE key, ByteView sealed, ByteView aad);
  Result<Bytes> HmacSha256(Session& s, CK_OBJECT_HANDLE key, ByteView data);
  // SHA-256(prefix || value of the secret key `key`), on the token (C_DigestKey): the key's value
  // never leaves it.
  Result<SecretBytes> DigestWithKey(Session& s, ByteView prefix, CK_OBJECT_HANDLE key);
  // CKM_ECDH1_DERIVE (no KDF) of a P-256 key with `peer_point` (uncompressed): a session object
  // holding the 32-byte shared secret, sensitive and not extractable. The caller destroys it.
  Result<CK_OBJECT_HANDLE> EcdhP256(Session& s, CK_OBJECT_HANDLE key, ByteView peer_point);
  Result<SecretBytes> Random(Session& s, size_t length);

 private:
  Token() = default;
  Result<Bytes> Attribute(Session& s, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  Result<Bytes> SignRaw(Session& s, CK_OBJECT_HANDLE key, CK_MECHANISM* mechanism, ByteView data);

  std::unique_ptr<SessionPool> pool_;
  TokenInfo info_;
  std::set<CK_MECHANISM_TYPE> mechanisms_;
};

}  // namespace edgetrust::sd::pkcs11
