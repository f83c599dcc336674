#include "sd/tpm/tpm_templates.h"

#include <algorithm>
#include <cstring>

namespace edgetrust::sd::tpm {
namespace {

constexpr TPMA_OBJECT kBaseAttributes =
    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA;

TPM2B_PUBLIC EccTemplate(TPMI_ECC_CURVE curve, TPMA_OBJECT attributes) {
  TPM2B_PUBLIC p{};
  p.publicArea.type = TPM2_ALG_ECC;
  p.publicArea.nameAlg = TPM2_ALG_SHA256;
  p.publicArea.objectAttributes = attributes;
  p.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p.publicArea.parameters.eccDetail.curveID = curve;
  p.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  return p;
}

TPM2B_PUBLIC KeyedHashTemplate(TPMA_OBJECT attributes, bool hmac) {
  TPM2B_PUBLIC p{};
  p.publicArea.type = TPM2_ALG_KEYEDHASH;
  p.publicArea.nameAlg = TPM2_ALG_SHA256;
  p.publicArea.objectAttributes = attributes;
  auto& scheme = p.publicArea.parameters.keyedHashDetail.scheme;
  if (hmac) {
    scheme.scheme = TPM2_ALG_HMAC;
    scheme.details.hmac.hashAlg = TPM2_ALG_SHA256;
  } else {
    scheme.scheme = TPM2_ALG_NULL;
  }
  return p;
}

}  // namespace

TPM2B_PUBLIC SrkTemplate() {
  TPM2B_PUBLIC p =
      EccTemplate(TPM2_ECC_NIST_P256, kBaseAttributes | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT);
  auto& sym = p.publicArea.parameters.eccDetail.symmetric;
  sym.algorithm = TPM2_ALG_AES;
  sym.keyBits.aes = 128;
  sym.mode.aes = TPM2_ALG_CFB;
  p.publicArea.unique.ecc.x.size = 32;
  p.publicArea.unique.ecc.y.size = 32;
  return p;
}

std::optional<TPM2B_PUBLIC> KeyTemplate(KeyType type, bool tpm_generated) {
  const TPMA_OBJECT origin = tpm_generated ? TPMA_OBJECT_SENSITIVEDATAORIGIN : 0;
  switch (type) {
    case KeyType::kEcdsaP256:
      return EccTemplate(TPM2_ECC_NIST_P256,
                         kBaseAttributes | origin | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT);
    case KeyType::kEcdsaP384:
      return EccTemplate(TPM2_ECC_NIST_P384, kBaseAttributes | origin | TPMA_OBJECT_SIGN_ENCRYPT);
    case KeyType::kRsa3072: {
      TPM2B_PUBLIC p{};
      p.publicArea.type = TPM2_ALG_RSA;
      p.publicArea.nameAlg = TPM2_ALG_SHA256;
      p.publicArea.objectAttributes = kBaseAttributes | origin | TPMA_OBJECT_SIGN_ENCRYPT;
      p.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
      p.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
      p.publicArea.parameters.rsaDetail.keyBits = 3072;
      p.publicArea.parameters.rsaDetail.exponent = 0;  // 65537
      return p;
    }
    case KeyType::kHmacSha256:
      return KeyedHashTemplate(kBaseAttributes | origin | TPMA_OBJECT_SIGN_ENCRYPT, true);
    case KeyType::kAes256:
      return SealedDataTemplate();
    default:
      return std::nullopt;
  }
}

TPM2B_PUBLIC AttestationKeyTemplate() {
  TPM2B_PUBLIC p =
      EccTemplate(TPM2_ECC_NIST_P256, kBaseAttributes | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT);
  auto& scheme = p.publicArea.parameters.eccDetail.scheme;
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  return p;
}

TPM2B_PUBLIC SealedDataTemplate() { return KeyedHashTemplate(kBaseAttributes, false); }

TPM2B_NV_PUBLIC CounterNvTemplate(TPMI_RH_NV_INDEX index, ByteView label) {
  TPM2B_NV_PUBLIC p{};
  p.nvPublic.nvIndex = index;
  p.nvPublic.nameAlg = TPM2_ALG_SHA256;
  p.nvPublic.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA |
                          (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT);
  const size_t n = std::min(label.size(), sizeof p.nvPublic.authPolicy.buffer);
  std::memcpy(p.nvPublic.authPolicy.buffer, label.data(), n);
  p.nvPublic.authPolicy.size = static_cast<UINT16>(n);
  p.nvPublic.dataSize = 8;
  return p;
}

}  // namespace edgetrust::sd::tpm
