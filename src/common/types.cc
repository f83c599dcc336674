#include "edgetrust/types.h"

#include <array>
#include <utility>

namespace edgetrust {
namespace {

constexpr std::array<std::pair<KeyType, std::string_view>, 6> kKeyTypeNames = {{
    {KeyType::kEcdsaP256, "ecdsa-p256"},
    {KeyType::kEcdsaP384, "ecdsa-p384"},
    {KeyType::kEd25519, "ed25519"},
    {KeyType::kRsa3072, "rsa-3072"},
    {KeyType::kAes256, "aes-256"},
    {KeyType::kHmacSha256, "hmac-sha256"},
}};

constexpr std::array<std::pair<SignAlgorithm, std::string_view>, 11> kAlgNames = {{
    {SignAlgorithm::kDefault, "default"},
    {SignAlgorithm::kEcdsaSha256, "ecdsa-sha256"},
    {SignAlgorithm::kEcdsaSha384, "ecdsa-sha384"},
    {SignAlgorithm::kEcdsaSha512, "ecdsa-sha512"},
    {SignAlgorithm::kEd25519, "ed25519"},
    {SignAlgorithm::kRsaPssSha256, "rsa-pss-sha256"},
    {SignAlgorithm::kRsaPssSha384, "rsa-pss-sha384"},
    {SignAlgorithm::kRsaPssSha512, "rsa-pss-sha512"},
    {SignAlgorithm::kRsaPkcs1Sha256, "rsa-pkcs1-sha256"},
    {SignAlgorithm::kRsaPkcs1Sha384, "rsa-pkcs1-sha384"},
    {SignAlgorithm::kRsaPkcs1Sha512, "rsa-pkcs1-sha512"},
}};

bool IsEcdsa(SignAlgorithm a) {
  return a == SignAlgorithm::kEcdsaSha256 || a == SignAlgorithm::kEcdsaSha384 ||
         a == SignAlgorithm::kEcdsaSha512;
}
bool IsRsa(SignAlgorithm a) {
  return a >= SignAlgorithm::kRsaPssSha256 && a <= SignAlgorithm::kRsaPkcs1Sha512;
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  for (const auto& [t, n] : kKeyTypeNames) {
    if (t == type) return n;
  }
  return "unknown";
}

std::optional<KeyType> ParseKeyType(std::string_view name) {
  for (const auto& [t, n] : kKeyTypeNames) {
    if (n == name) return t;
  }
  return std::nullopt;
}

bool IsAsymmetric(KeyType type) {
  return type == KeyType::kEcdsaP256 || type == KeyType::kEcdsaP384 || type == KeyType::kEd25519 ||
         type == KeyType::kRsa3072;
}

std::string_view SignAlgorithmName(SignAlgorithm alg) {
  for (const auto& [a, n] : kAlgNames) {
    if (a == alg) return n;
  }
  return "unknown";
}

std::optional<SignAlgorithm> ParseSignAlgorithm(std::string_view name) {
  for (const auto& [a, n] : kAlgNames) {
    if (n == name) return a;
  }
  return std::nullopt;
}

std::optional<SignAlgorithm> ResolveSignAlgorithm(KeyType type, SignAlgorithm alg) {
  switch (type) {
    case KeyType::kEcdsaP256:
      if (alg == SignAlgorithm::kDefault) return SignAlgorithm::kEcdsaSha256;
      return IsEcdsa(alg) ? std::optional(alg) : std::nullopt;
    case KeyType::kEcdsaP384:
      if (alg == SignAlgorithm::kDefault) return SignAlgorithm::kEcdsaSha384;
      return IsEcdsa(alg) ? std::optional(alg) : std::nullopt;
    case KeyType::kEd25519:
      if (alg == SignAlgorithm::kDefault || alg == SignAlgorithm::kEd25519)
        return SignAlgorithm::kEd25519;
      return std::nullopt;
    case KeyType::kRsa3072:
      if (alg == SignAlgorithm::kDefault) return SignAlgorithm::kRsaPssSha256;
      return IsRsa(alg) ? std::optional(alg) : std::nullopt;
    case KeyType::kAes256:
    case KeyType::kHmacSha256:
      return std::nullopt;
  }
  return std::nullopt;
}

size_t SignAlgorithmDigestSize(SignAlgorithm a) {
  switch (a) {
    case SignAlgorithm::kEcdsaSha256:
    case SignAlgorithm::kRsaPssSha256:
    case SignAlgorithm::kRsaPkcs1Sha256:
      return 32;
    case SignAlgorithm::kEcdsaSha384:
    case SignAlgorithm::kRsaPssSha384:
    case SignAlgorithm::kRsaPkcs1Sha384:
      return 48;
    case SignAlgorithm::kEcdsaSha512:
    case SignAlgorithm::kRsaPssSha512:
    case SignAlgorithm::kRsaPkcs1Sha512:
      return 64;
    default:
      return 0;
  }
}

std::string_view SignAlgorithmDigestName(SignAlgorithm a) {
  switch (SignAlgorithmDigestSize(a)) {
    case 32:
      return "SHA256";
    case 48:
      return "SHA384";
    case 64:
      return "SHA512";
    default:
      return "";
  }
}

}  // namespace edgetrust
