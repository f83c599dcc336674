#include "identity/signing.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>

#include <array>

namespace edgetrust::identity {
namespace {

// NID of an EC key's named curve, NID_undef if it has none (explicit parameters).
int CurveNid(const EVP_PKEY* key) {
  std::array<char, 80> group{};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &len) != 1) return NID_undef;
  int nid = OBJ_sn2nid(group.data());
  if (nid == NID_undef) nid = EC_curve_nist2nid(group.data());
  return nid;
}

bool IsEc(const EVP_PKEY* key) { return EVP_PKEY_is_a(key, "EC") == 1; }
bool IsRsa(const EVP_PKEY* key) { return EVP_PKEY_is_a(key, "RSA") == 1; }
bool IsEd25519(const EVP_PKEY* key) { return EVP_PKEY_is_a(key, "ED25519") == 1; }

}  // namespace

std::string DescribeKey(const EVP_PKEY* key) {
  if (key == nullptr) return "no key";
  if (IsEc(key)) {
    switch (CurveNid(key)) {
      case NID_X9_62_prime256v1:
        return "ecdsa-p256";
      case NID_secp384r1:
        return "ecdsa-p384";
      case NID_secp521r1:
        return "ecdsa-p521";
      default:
        return "EC key on an unsupported curve";
    }
  }
  if (IsRsa(key)) return "rsa-" + std::to_string(EVP_PKEY_get_bits(key));
  if (IsEd25519(key)) return "ed25519";
  const char* name = EVP_PKEY_get0_type_name(key);
  return std::string(name != nullptr ? name : "unknown") + " key";
}

Status CheckCertifiableKey(const EVP_PKEY* key) {
  if (key == nullptr) return Status(ErrorCode::kInvalidArgument, "no public key");
  if (IsEc(key)) {
    const int nid = CurveNid(key);
    if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1) {
      return Status::Ok();
    }
    return Status(ErrorCode::kUnsupported,
                  "EC key on an unsupported curve (P-256, P-384 and P-521 only)");
  }
  if (IsRsa(key)) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits >= 2048 && bits <= 8192) return Status::Ok();
    return Status(ErrorCode::kUnsupported,
                  "RSA key of " + std::to_string(bits) + " bits (2048 to 8192 only)");
  }
  if (IsEd25519(key)) return Status::Ok();
  return Status(ErrorCode::kUnsupported,
                "unsupported key type " + DescribeKey(key) +
                    " (EC P-256/P-384/P-521, RSA 2048-8192 and Ed25519 only)");
}

Result<std::string> SignatureDigestFor(const EVP_PKEY* key) {
  if (key == nullptr) return Status(ErrorCode::kInvalidArgument, "no signing key");
  if (IsEd25519(key)) return std::string();
  if (IsRsa(key)) return std::string("SHA256");
  if (IsEc(key)) {
    switch (CurveNid(key)) {
      case NID_X9_62_prime256v1:
        return std::string("SHA256");
      case NID_secp384r1:
        return std::string("SHA384");
      case NID_secp521r1:
        return std::string("SHA512");
      default:
        break;
    }
  }
  return Status(ErrorCode::kUnsupported, "cannot sign with " + DescribeKey(key));
}

Result<EvpMdCtxPtr> SigningContext(EVP_PKEY* key, OSSL_LIB_CTX* libctx) {
  ET_ASSIGN_OR_RETURN(std::string digest, SignatureDigestFor(key));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Status(ErrorCode::kInternal, "EVP_MD_CTX_new failed");
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, digest.empty() ? nullptr : digest.c_str(), libctx,
                            nullptr, key, nullptr) != 1) {
    return Status(ErrorCode::kInternal,
                  OpensslError("cannot start signing with " + DescribeKey(key)));
  }
  return ctx;
}

}  // namespace edgetrust::identity
