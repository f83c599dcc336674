#include "sd/pkcs11/pkcs11_encoding.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "sd/crypto.h"

namespace edgetrust::sd::pkcs11 {
namespace {

constexpr uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr uint8_t kP384Oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr uint8_t kEd25519Oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
// PrintableString "edwards25519" (PKCS#11 3.0, 2.3.10).
constexpr uint8_t kEd25519Name[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                                    'd',  's',  '2', '5', '5', '1', '9'};

// DigestInfo prefixes (RFC 8017, 9.2 note 1).
constexpr uint8_t kSha256Info[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                   0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
constexpr uint8_t kSha384Info[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                   0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
constexpr uint8_t kSha512Info[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                   0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

using EvpMdPtr = std::unique_ptr<EVP_MD, OsslDeleter<EVP_MD_free>>;
using BnPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OsslDeleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OsslDeleter<OSSL_PARAM_free>>;

const EVP_MD* Md(size_t digest_size) {
  static const EvpMdPtr sha256(EVP_MD_fetch(nullptr, "SHA2-256", nullptr));
  static const EvpMdPtr sha384(EVP_MD_fetch(nullptr, "SHA2-384", nullptr));
  static const EvpMdPtr sha512(EVP_MD_fetch(nullptr, "SHA2-512", nullptr));
  switch (digest_size) {
    case 32:
      return sha256.get();
    case 48:
      return sha384.get();
    case 64:
      return sha512.get();
    default:
      return nullptr;
  }
}

Status Fail(const std::string& what) { return Status(ErrorCode::kInternal, OpensslError(what)); }

Result<EvpPkeyPtr> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return Fail("building public key parameters");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    ERR_clear_error();
    return Status(ErrorCode::kTampered, std::string("the token's ") + type +
                                            " public key attributes do not form a valid key");
  }
  return EvpPkeyPtr(key);
}

Status CheckPublic(EVP_PKEY* key) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
    ERR_clear_error();
    return Status(ErrorCode::kTampered, "the token's public key fails its validity check");
  }
  return Status::Ok();
}

}  // namespace

CK_KEY_TYPE CkKeyType(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
    case KeyType::kEcdsaP384:
      return CKK_EC;
    case KeyType::kEd25519:
      return CKK_EC_EDWARDS;
    case KeyType::kRsa3072:
      return CKK_RSA;
    case KeyType::kAes256:
      return CKK_AES;
    case KeyType::kHmacSha256:
      return CKK_GENERIC_SECRET;
  }
  return CKK_VENDOR_DEFINED;
}

ByteView CurveParams(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return kP256Oid;
    case KeyType::kEcdsaP384:
      return kP384Oid;
    case KeyType::kEd25519:
      return kEd25519Oid;
    default:
      return {};
  }
}

ByteView Ed25519ParamsByName() { return kEd25519Name; }

bool ParamsMatch(KeyType type, ByteView params) {
  auto eq = [&](ByteView want) {
    return params.size() == want.size() && std::equal(want.begin(), want.end(), params.begin());
  };
  if (type == KeyType::kEd25519) return eq(kEd25519Oid) || eq(kEd25519Name);
  ByteView want = CurveParams(type);
  return !want.empty() && eq(want);
}

size_t RawPointSize(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return 65;
    case KeyType::kEcdsaP384:
      return 97;
    case KeyType::kEd25519:
      return 32;
    default:
      return 0;
  }
}

Result<Bytes> RawEcPoint(ByteView attr, size_t raw_size) {
  // Decided by length, not by the first byte: a raw uncompressed point also starts with 0x04.
  if (attr.size() == raw_size) return Bytes(attr.begin(), attr.end());
  if (raw_size < 128 && attr.size() == raw_size + 2 && attr[0] == 0x04 && attr[1] == raw_size) {
    return Bytes(attr.begin() + 2, attr.end());
  }
  return Status(ErrorCode::kTampered, "the token's CKA_EC_POINT has an unexpected form (" +
                                          std::to_string(attr.size()) + " bytes)");
}

Result<Bytes> EcdsaRawToDer(ByteView raw) {
  if (raw.empty() || raw.size() % 2 != 0)
    return Status(ErrorCode::kInternal, "the token's ECDSA signature has an odd length");
  const size_t half = raw.size() / 2;
  return EcdsaSignatureDer(raw.first(half), raw.subspan(half));
}

Bytes DigestInfo(SignAlgorithm alg, ByteView digest) {
  ByteView prefix;
  switch (SignAlgorithmDigestSize(alg)) {
    case 32:
      prefix = kSha256Info;
      break;
    case 48:
      prefix = kSha384Info;
      break;
    default:
      prefix = kSha512Info;
      break;
  }
  // Sized once and filled with memcpy: GCC 12 misreads a vector insert after a copy of a short
  // constant array as an out-of-bounds access (-Warray-bounds).
  Bytes out(prefix.size() + digest.size());
  std::memcpy(out.data(), prefix.data(), prefix.size());
  if (!digest.empty()) std::memcpy(out.data() + prefix.size(), digest.data(), digest.size());
  return out;
}

Result<Bytes> HashFor(SignAlgorithm alg, ByteView message) {
  const EVP_MD* md = Md(SignAlgorithmDigestSize(alg));
  if (md == nullptr) return Status(ErrorCode::kInvalidArgument, "this algorithm hashes nothing");
  Bytes out(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_Digest(message.data(), message.size(), out.data(), &len, md, nullptr) != 1)
    return Fail("digest");
  out.resize(len);
  return out;
}

CK_MECHANISM_TYPE PssHash(SignAlgorithm alg) {
  switch (SignAlgorithmDigestSize(alg)) {
    case 32:
      return CKM_SHA256;
    case 48:
      return CKM_SHA384;
    default:
      return CKM_SHA512;
  }
}

CK_RSA_PKCS_MGF_TYPE PssMgf(SignAlgorithm alg) {
  switch (SignAlgorithmDigestSize(alg)) {
    case 32:
      return CKG_MGF1_SHA256;
    case 48:
      return CKG_MGF1_SHA384;
    default:
      return CKG_MGF1_SHA512;
  }
}

Result<EvpPkeyPtr> EcPublicKey(KeyType type, ByteView raw_point) {
  const char* group = type == KeyType::kEcdsaP256 ? "prime256v1" : "secp384r1";
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, raw_point.data(),
                                       raw_point.size()) != 1) {
    return Fail("EC public key parameters");
  }
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr key, FromData("EC", bld.get()));
  ET_RETURN_IF_ERROR(CheckPublic(key.get()));
  return key;
}

Result<EvpPkeyPtr> Ed25519PublicKey(ByteView raw) {
  EVP_PKEY* key =
      EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, raw.data(), raw.size());
  if (key == nullptr) {
    ERR_clear_error();
    return Status(ErrorCode::kTampered, "the token's Ed25519 public key is not valid");
  }
  return EvpPkeyPtr(key);
}

Result<EvpPkeyPtr> RsaPublicKey(ByteView modulus, ByteView exponent) {
  BnPtr n(BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
  BnPtr e(BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!n || !e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return Fail("RSA public key parameters");
  }
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr key, FromData("RSA", bld.get()));
  if (EVP_PKEY_get_bits(key.get()) != 3072)
    return Status(ErrorCode::kTampered, "the token's RSA key is not 3072 bits");
  return key;
}

Result<Bytes> P256UncompressedPoint(EVP_PKEY* key) {
  char group[64] = {0};
  size_t glen = 0;
  if (!EVP_PKEY_is_a(key, "EC") ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) !=
          1 ||
      std::strcmp(group, "prime256v1") != 0) {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument, "peer public key is not a P-256 key");
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument, "peer public key is not a valid P-256 point");
  }
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
    BN_free(x);
    BN_free(y);
    return Fail("reading the peer point");
  }
  BnPtr bx(x);
  BnPtr by(y);
  Bytes point(65);
  point[0] = 0x04;
  if (BN_bn2binpad(bx.get(), point.data() + 1, 32) != 32 ||
      BN_bn2binpad(by.get(), point.data() + 33, 32) != 32) {
    return Fail("encoding the peer point");
  }
  return point;
}

}  // namespace edgetrust::sd::pkcs11
