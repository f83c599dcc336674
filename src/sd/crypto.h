// The OpenSSL operations the secure domain performs on key material it holds.
//
// Free functions over EVP_PKEY and SecretBytes. Thread-safe: OpenSSL 3 allows concurrent use of one
// EVP_PKEY with separate contexts, and each thread has its own: the algorithms are fetched once
// per process, and every thread keeps the signing and HMAC contexts of the last few keys it used
// (so repeated operations with one key skip setting a context up). Those per-thread contexts hold
// a reference to their key, or a copy of the HMAC key, until replaced or the thread ends.
#pragma once

#include <string>

#include "common/openssl_ptr.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"

namespace edgetrust::sd {

struct KeyMeta;  // backend.h

inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;
inline constexpr size_t kSymmetricKeySize = 32;

Result<EvpPkeyPtr> GenerateKeyPair(KeyType type);
// DER of a private key as i2d_PrivateKey writes it: SEC1 for EC, PKCS#1 for RSA, PKCS#8 for
// Ed25519. DecodePrivateKey reads all three (d2i_AutoPrivateKey) and checks the type.
Result<SecretBytes> EncodePrivateKey(EVP_PKEY* key);
// Parses PKCS#8 DER and checks that the key is of `type`.
Result<EvpPkeyPtr> DecodePrivateKey(ByteView der, KeyType type);
Result<std::string> PublicKeyPem(EVP_PKEY* key);
// Parses a PEM or DER SubjectPublicKeyInfo.
Result<EvpPkeyPtr> ParsePublicKey(ByteView pem_or_der);
// SubjectPublicKeyInfo DER of a public key.
Result<Bytes> SpkiDer(EVP_PKEY* key);
// ECDSA-Sig-Value DER (what OpenSSL produces) of the big-endian integers r and s.
Result<Bytes> EcdsaSignatureDer(ByteView r, ByteView s);

// ResolveSignAlgorithm for the key `meta` describes: kUnsupported, naming the key, when the key
// cannot use `requested`, or when a digest (`digest`) is to be signed with Ed25519.
Result<SignAlgorithm> ResolveFor(const KeyMeta& meta, SignAlgorithm requested, bool digest);
bool IsRsaPss(SignAlgorithm alg);
bool IsRsaPkcs1(SignAlgorithm alg);

// `alg` must be resolved (ResolveSignAlgorithm). Messages are hashed with the algorithm's digest;
// digests must have the algorithm's digest length. Ed25519 signs messages only.
Result<Bytes> SignMessage(EVP_PKEY* key, SignAlgorithm alg, ByteView message);
Result<Bytes> SignDigest(EVP_PKEY* key, SignAlgorithm alg, ByteView digest);
Result<bool> VerifyMessage(EVP_PKEY* key, SignAlgorithm alg, ByteView message, ByteView signature);
Result<bool> VerifyDigest(EVP_PKEY* key, SignAlgorithm alg, ByteView digest, ByteView signature);

// AES-256-GCM with a fresh random 96-bit nonce. Output: nonce | ciphertext | tag.
Result<Bytes> AeadSeal(const SecretBytes& key, ByteView plaintext, ByteView aad);
// kVerifyFailed when the tag does not match; kInvalidArgument when the input is too short.
Result<SecretBytes> AeadOpen(const SecretBytes& key, ByteView sealed, ByteView aad);

Result<Bytes> HmacSha256(const SecretBytes& key, ByteView data);
Result<SecretBytes> HkdfSha256(ByteView ikm, ByteView salt, ByteView info, size_t length);
// Raw ECDH shared secret of `key` (P-256) and a P-256 peer key, the peer point validated.
Result<SecretBytes> EcdhP256(EVP_PKEY* key, EVP_PKEY* peer);
Result<SecretBytes> RandomBytes(size_t length);

// Constant-time equality.
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace edgetrust::sd
