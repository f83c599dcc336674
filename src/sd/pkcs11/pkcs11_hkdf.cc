#include "sd/pkcs11/pkcs11_hkdf.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>

#include "common/openssl_ptr.h"

namespace edgetrust::sd::pkcs11 {
namespace {

constexpr size_t kBlock = 64;  // SHA-256 block size

Result<SecretBytes> Sha256(ByteView a, ByteView b) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  SecretBytes out(32);
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 ||
      (!b.empty() && EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1) ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != 32) {
    return Status(ErrorCode::kInternal, OpensslError("SHA-256"));
  }
  return out;
}

Result<SecretBytes> HkdfExpand(const SecretBytes& prk, ByteView info, size_t length) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_mode(ctx.get(), EVP_PKEY_HKDEF_MODE_EXPAND_ONLY) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), prk.data(), static_cast<int>(prk.size())) <= 0 ||
      (!info.empty() &&
       EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), info.data(), static_cast<int>(info.size())) <= 0)) {
    return Status(ErrorCode::kInternal, OpensslError("HKDF-Expand init"));
  }
  SecretBytes out(length);
  size_t len = length;
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) <= 0 || len != length)
    return Status(ErrorCode::kInternal, OpensslError("HKDF-Expand"));
  return out;
}

}  // namespace

Result<SecretBytes> TokenHkdfSha256(Token& token, Session& s, CK_OBJECT_HANDLE ikm, ByteView salt,
                                    ByteView info, size_t length) {
  if (!token.Has(CKM_SHA256)) {
    return Status(ErrorCode::kUnsupported,
                  "token \"" + token.info().label + "\" cannot derive keys (no CKM_SHA256 digest)");
  }
  // K0: the HMAC key block (RFC 2104).
  SecretBytes k0(kBlock);
  if (salt.size() > kBlock) {
    ET_ASSIGN_OR_RETURN(SecretBytes hashed, Sha256(salt, {}));
    std::copy(hashed.view().begin(), hashed.view().end(), k0.data());
  } else {
    std::copy(salt.begin(), salt.end(), k0.data());
  }
  SecretBytes ipad(kBlock);
  SecretBytes opad(kBlock);
  for (size_t i = 0; i < kBlock; ++i) {
    ipad.data()[i] = static_cast<uint8_t>(k0.data()[i] ^ 0x36);
    opad.data()[i] = static_cast<uint8_t>(k0.data()[i] ^ 0x5c);
  }
  ET_ASSIGN_OR_RETURN(SecretBytes inner, token.DigestWithKey(s, ipad.view(), ikm));
  ET_ASSIGN_OR_RETURN(SecretBytes prk, Sha256(opad.view(), inner.view()));
  return HkdfExpand(prk, info, length);
}

}  // namespace edgetrust::sd::pkcs11
