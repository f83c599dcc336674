#include "sd/tpm/tpm_convert.h"

#include <endian.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "sd/crypto.h"

namespace edgetrust::sd::tpm {
namespace {

constexpr uint8_t kBlobFormat = 1;

using BnPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OsslDeleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OsslDeleter<OSSL_PARAM_free>>;

Status Tampered(const std::string& what) { return Status(ErrorCode::kTampered, what); }

BIGNUM* ToBn(const uint8_t* data, size_t size) {
  return BN_bin2bn(data, static_cast<int>(size), nullptr);
}

Result<EvpPkeyPtr> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return Status(ErrorCode::kTampered, OpensslError("TPM public key does not convert"));
  }
  return EvpPkeyPtr(key);
}

}  // namespace

Result<Bytes> MarshalWrappedKey(const WrappedKey& key) {
  Bytes out(1 + sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE));
  out[0] = kBlobFormat;
  size_t offset = 1;
  if (Tss2_MU_TPM2B_PUBLIC_Marshal(&key.pub, out.data(), out.size(), &offset) != 0 ||
      Tss2_MU_TPM2B_PRIVATE_Marshal(&key.priv, out.data(), out.size(), &offset) != 0) {
    return Status(ErrorCode::kInternal, "cannot marshal a TPM key blob");
  }
  out.resize(offset);
  return out;
}

Result<WrappedKey> UnmarshalWrappedKey(ByteView material) {
  if (material.empty() || material[0] != kBlobFormat) {
    return Tampered("stored TPM key blob has an unknown format");
  }
  WrappedKey key;
  size_t offset = 1;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(material.data(), material.size(), &offset, &key.pub) != 0 ||
      Tss2_MU_TPM2B_PRIVATE_Unmarshal(material.data(), material.size(), &offset, &key.priv) != 0 ||
      offset != material.size()) {
    return Tampered("stored TPM key blob does not parse");
  }
  return key;
}

bool PublicMatchesType(const TPMT_PUBLIC& pub, KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return pub.type == TPM2_ALG_ECC && pub.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256;
    case KeyType::kEcdsaP384:
      return pub.type == TPM2_ALG_ECC && pub.parameters.eccDetail.curveID == TPM2_ECC_NIST_P384;
    case KeyType::kRsa3072:
      return pub.type == TPM2_ALG_RSA && pub.parameters.rsaDetail.keyBits == 3072;
    case KeyType::kHmacSha256:
      return pub.type == TPM2_ALG_KEYEDHASH &&
             pub.parameters.keyedHashDetail.scheme.scheme == TPM2_ALG_HMAC &&
             (pub.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) != 0;
    case KeyType::kAes256:
      return pub.type == TPM2_ALG_KEYEDHASH &&
             pub.parameters.keyedHashDetail.scheme.scheme == TPM2_ALG_NULL &&
             (pub.objectAttributes & (TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT)) == 0;
    default:
      return false;
  }
}

Result<EvpPkeyPtr> PublicKeyFromTpm(const TPMT_PUBLIC& pub) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) return Status(ErrorCode::kResourceExhausted, "out of memory");
  if (pub.type == TPM2_ALG_ECC) {
    const char* group = nullptr;
    size_t field = 0;
    switch (pub.parameters.eccDetail.curveID) {
      case TPM2_ECC_NIST_P256:
        group = "P-256";
        field = 32;
        break;
      case TPM2_ECC_NIST_P384:
        group = "P-384";
        field = 48;
        break;
      default:
        return Tampered("TPM key on an unexpected curve");
    }
    const auto& x = pub.unique.ecc.x;
    const auto& y = pub.unique.ecc.y;
    if (x.size > field || y.size > field) return Tampered("TPM ECC point too large");
    // Uncompressed point, coordinates left-padded to the field size.
    Bytes point(1 + 2 * field, 0);
    point[0] = 0x04;
    std::memcpy(point.data() + 1 + field - x.size, x.buffer, x.size);
    std::memcpy(point.data() + 1 + 2 * field - y.size, y.buffer, y.size);
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
      return Status(ErrorCode::kInternal, "cannot build an EC public key");
    }
    return FromParams("EC", bld.get());
  }
  if (pub.type == TPM2_ALG_RSA) {
    BnPtr n(ToBn(pub.unique.rsa.buffer, pub.unique.rsa.size));
    BnPtr e(BN_new());
    const UINT32 exponent = pub.parameters.rsaDetail.exponent;
    if (!n || !e || BN_set_word(e.get(), exponent == 0 ? 65537 : exponent) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
      return Status(ErrorCode::kInternal, "cannot build an RSA public key");
    }
    return FromParams("RSA", bld.get());
  }
  return Status(ErrorCode::kUnsupported, "TPM object has no public key");
}

Result<TPM2B_ECC_POINT> EccPointFromPublicKey(EVP_PKEY* key) {
  char group[32] = {0};
  size_t glen = 0;
  if (!EVP_PKEY_is_a(key, "EC") ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) !=
          1 ||
      std::strcmp(group, "prime256v1") != 0) {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument, "peer public key is not a P-256 key");
  }
  uint8_t point[65];
  size_t len = 0;
  // Uncompressed form is what OpenSSL exports by default.
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point, &len) !=
          1 ||
      len != sizeof point || point[0] != 0x04) {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument, "peer public key point does not export");
  }
  TPM2B_ECC_POINT out{};
  out.point.x.size = 32;
  std::memcpy(out.point.x.buffer, point + 1, 32);
  out.point.y.size = 32;
  std::memcpy(out.point.y.buffer, point + 33, 32);
  return out;
}

Result<Bytes> EcdsaSignatureDer(const TPMS_SIGNATURE_ECDSA& sig) {
  return sd::EcdsaSignatureDer(ByteView(sig.signatureR.buffer, sig.signatureR.size),
                               ByteView(sig.signatureS.buffer, sig.signatureS.size));
}

Result<Bytes> MarshalSignature(const TPMT_SIGNATURE& sig) {
  Bytes out(sizeof(TPMT_SIGNATURE));
  size_t offset = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out.data(), out.size(), &offset) != 0) {
    return Status(ErrorCode::kInternal, "cannot marshal a TPM signature");
  }
  out.resize(offset);
  return out;
}

Bytes SerializePcrFile(const TPML_PCR_SELECTION& selection, const TPML_DIGEST& values) {
  // tpm2-tools fwrite()s its structures as they sit in memory (with the integers converted to
  // little-endian), and tpm2_checkquote fread()s them back: reproduce that byte for byte.
  TPML_PCR_SELECTION sel;
  std::memset(&sel, 0, sizeof sel);
  sel.count = htole32(selection.count);
  for (UINT32 i = 0; i < selection.count && i < TPM2_NUM_PCR_BANKS; ++i) {
    const TPMS_PCR_SELECTION& in = selection.pcrSelections[i];
    sel.pcrSelections[i].hash = htole16(in.hash);
    sel.pcrSelections[i].sizeofSelect = in.sizeofSelect;
    std::memcpy(sel.pcrSelections[i].pcrSelect, in.pcrSelect, sizeof in.pcrSelect);
  }
  TPML_DIGEST dig;
  std::memset(&dig, 0, sizeof dig);
  dig.count = htole32(values.count);
  for (UINT32 i = 0; i < values.count && i < 8; ++i) {
    const TPM2B_DIGEST& in = values.digests[i];
    dig.digests[i].size = htole16(in.size);
    std::memcpy(dig.digests[i].buffer, in.buffer, std::min<size_t>(in.size, sizeof in.buffer));
  }
  const uint32_t lists = htole32(1);
  Bytes out(sizeof sel + sizeof lists + sizeof dig);
  std::memcpy(out.data(), &sel, sizeof sel);
  std::memcpy(out.data() + sizeof sel, &lists, sizeof lists);
  std::memcpy(out.data() + sizeof sel + sizeof lists, &dig, sizeof dig);
  return out;
}

}  // namespace edgetrust::sd::tpm
