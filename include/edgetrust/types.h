// Key types and signature algorithms of the secure domain, with their stable wire names.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace edgetrust {

// Values are stored in the state folder: never renumber, only append.
enum class KeyType : uint8_t {
  kEcdsaP256 = 1,   // "ecdsa-p256": ECDSA on NIST P-256, SHA-256 by default
  kEcdsaP384 = 2,   // "ecdsa-p384": ECDSA on NIST P-384, SHA-384 by default
  kEd25519 = 3,     // "ed25519": pure Ed25519 (RFC 8032)
  kRsa3072 = 4,     // "rsa-3072": RSA-3072, RSA-PSS with SHA-256 by default
  kAes256 = 5,      // "aes-256": AES-256-GCM
  kHmacSha256 = 6,  // "hmac-sha256": HMAC-SHA256, also the usual HKDF base
};

std::string_view KeyTypeName(KeyType type);
std::optional<KeyType> ParseKeyType(std::string_view name);
bool IsAsymmetric(KeyType type);

// Signature algorithms. kDefault picks the key type's default (see KeyType).
enum class SignAlgorithm : uint8_t {
  kDefault = 0,
  kEcdsaSha256,
  kEcdsaSha384,
  kEcdsaSha512,
  kEd25519,
  kRsaPssSha256,  // salt length = digest length (32), MGF1 with the same digest
  kRsaPssSha384,
  kRsaPssSha512,
  kRsaPkcs1Sha256,  // RSASSA-PKCS1-v1_5
  kRsaPkcs1Sha384,
  kRsaPkcs1Sha512,
};

std::string_view SignAlgorithmName(SignAlgorithm alg);  // "ecdsa-sha256", "rsa-pss-sha256", ...
std::optional<SignAlgorithm> ParseSignAlgorithm(std::string_view name);
// The concrete algorithm used for `alg` with a key of `type`; nullopt if they do not fit together.
std::optional<SignAlgorithm> ResolveSignAlgorithm(KeyType type, SignAlgorithm alg);
// Digest length in bytes for pre-hashed signing (0 for Ed25519, which signs messages only).
size_t SignAlgorithmDigestSize(SignAlgorithm resolved);
// OpenSSL digest name ("SHA256", ...) of a resolved algorithm, "" for Ed25519.
std::string_view SignAlgorithmDigestName(SignAlgorithm resolved);

}  // namespace edgetrust
