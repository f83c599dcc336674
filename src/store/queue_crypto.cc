#include "store/queue_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstring>
#include <limits>

#include "protocol/wire.h"

namespace edgetrust::store {
namespace {

Status CryptoError(const std::string& what) {
  return Status(ErrorCode::kInternal, OpensslError(what));
}

Result<SecretBytes> Hkdf(const SecretBytes& ikm, std::string_view info) {
  EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return CryptoError("HKDF unavailable");
  EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return CryptoError("HKDF context");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_octet_string(
                             OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()), ikm.size()),
                         OSSL_PARAM_construct_octet_string(
                             OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size()),
                         OSSL_PARAM_construct_end()};
  SecretBytes out(32);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return CryptoError("HKDF derive");
  }
  return out;
}

Result<EvpCipherCtxPtr> GcmContext(const SecretBytes& key, bool encrypt) {
  if (key.size() != 32) return Status(ErrorCode::kInvalidArgument, "AES-256 key must be 32 bytes");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return CryptoError("cipher context");
  const int enc = encrypt ? 1 : 0;
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), nullptr, enc) != 1) {
    return CryptoError("AES-256-GCM init");
  }
  return ctx;
}

bool FitsInt(size_t n) { return n <= static_cast<size_t>(std::numeric_limits<int>::max()); }

}  // namespace

Result<QueueKeys> QueueKeys::Derive(const SecretBytes& data_key) {
  if (data_key.size() != kDataKeySize) {
    return Status(ErrorCode::kInvalidArgument, "the queue's data key must be 32 bytes");
  }
  QueueKeys k;
  ET_ASSIGN_OR_RETURN(k.aead, Hkdf(data_key, "edgetrust queue v1 aead"));
  ET_ASSIGN_OR_RETURN(k.meta, Hkdf(data_key, "edgetrust queue v1 meta"));
  ET_ASSIGN_OR_RETURN(k.set, Hkdf(data_key, "edgetrust queue v1 set"));
  ET_ASSIGN_OR_RETURN(k.leaves, Hkdf(data_key, "edgetrust queue v1 leaves"));
  return k;
}

Result<Aead> Aead::Create(const SecretBytes& key) {
  ET_ASSIGN_OR_RETURN(EvpCipherCtxPtr enc, GcmContext(key, true));
  ET_ASSIGN_OR_RETURN(EvpCipherCtxPtr dec, GcmContext(key, false));
  return Aead(std::move(enc), std::move(dec));
}

Status Aead::Seal(const std::array<uint8_t, kNonceSize>& nonce, ByteView plaintext, ByteView aad,
                  Bytes& out) {
  if (!FitsInt(plaintext.size()) || !FitsInt(aad.size())) {
    return Status(ErrorCode::kTooLarge, "record too large to encrypt");
  }
  const size_t start = out.size();
  out.resize(start + kNonceSize + plaintext.size() + kTagSize);
  std::memcpy(out.data() + start, nonce.data(), kNonceSize);
  uint8_t* ct = out.data() + start + kNonceSize;
  int len = 0;
  if (EVP_EncryptInit_ex(enc_.get(), nullptr, nullptr, nullptr, nonce.data()) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(enc_.get(), nullptr, &len, aad.data(),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(enc_.get(), ct, &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(enc_.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(enc_.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          ct + plaintext.size()) != 1) {
    out.resize(start);
    return CryptoError("AES-256-GCM encrypt");
  }
  return Status::Ok();
}

Status Aead::Open(ByteView sealed, ByteView aad, std::string& out) {
  auto wipe = [&out] {
    if (!out.empty()) SecureWipe(out.data(), out.size());
    out.clear();
  };
  wipe();
  if (sealed.size() < kNonceSize + kTagSize) {
    return Status(ErrorCode::kTampered, "sealed record too short");
  }
  if (!FitsInt(sealed.size()) || !FitsInt(aad.size())) {
    return Status(ErrorCode::kTooLarge, "record too large to decrypt");
  }
  const size_t ct_size = sealed.size() - kNonceSize - kTagSize;
  out.resize(ct_size);
  auto* pt = reinterpret_cast<uint8_t*>(out.data());
  int len = 0;
  uint8_t tag[kTagSize];
  std::memcpy(tag, sealed.data() + kNonceSize + ct_size, kTagSize);
  if (EVP_DecryptInit_ex(dec_.get(), nullptr, nullptr, nullptr, sealed.data()) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(dec_.get(), nullptr, &len, aad.data(),
                                         static_cast<int>(aad.size())) != 1) ||
      (ct_size > 0 && EVP_DecryptUpdate(dec_.get(), pt, &len, sealed.data() + kNonceSize,
                                        static_cast<int>(ct_size)) != 1) ||
      EVP_CIPHER_CTX_ctrl(dec_.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag) != 1 ||
      EVP_DecryptFinal_ex(dec_.get(), pt + ct_size, &len) != 1) {
    ERR_clear_error();
    wipe();
    return Status(ErrorCode::kTampered, "record failed authentication");
  }
  return Status::Ok();
}

Result<IdPrf> IdPrf::Create(const SecretBytes& key) {
  if (key.size() != 32) return Status(ErrorCode::kInvalidArgument, "AES-256 key must be 32 bytes");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ecb(), nullptr, key.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
    return CryptoError("AES-256 PRF init");
  }
  return IdPrf(std::move(ctx));
}

void IdPrf::Toggle(SetDigest& digest, uint8_t domain, uint64_t id) {
  uint8_t block[16] = {};
  block[0] = domain;
  for (int i = 0; i < 8; ++i) block[8 + i] = static_cast<uint8_t>(id >> (56 - 8 * i));
  uint8_t out[32];
  int len = 0;
  // ECB without padding on one block cannot fail once initialised; a failure would leave `out`
  // unset, so it is zeroed first and the digest then simply does not match at the next open.
  std::memset(out, 0, sizeof out);
  if (EVP_EncryptUpdate(ctx_.get(), out, &len, block, sizeof block) != 1) ERR_clear_error();
  for (size_t i = 0; i < digest.size(); ++i) digest[i] ^= out[i];
}

Result<Mac256> HmacSha256(const SecretBytes& key, ByteView data) {
  EvpMacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return CryptoError("HMAC unavailable");
  EvpMacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  Mac256 out{};
  size_t out_len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out.data(), &out_len, out.size()) != 1 || out_len != out.size()) {
    return CryptoError("HMAC-SHA256");
  }
  return out;
}

Result<Mac256> LeafTerm(const SecretBytes& key, std::string_view name, uint64_t last_seq) {
  if (name.size() > 0xFFFF) return Status(ErrorCode::kTooLarge, "leaf name too long");
  Bytes data;
  data.reserve(2 + name.size() + 8);
  protocol::PutU16(data, static_cast<uint16_t>(name.size()));
  data.insert(data.end(), name.begin(), name.end());
  protocol::PutU64(data, last_seq);
  return HmacSha256(key, data);
}

void XorInto(Mac256& acc, const Mac256& term) {
  for (size_t i = 0; i < acc.size(); ++i) acc[i] ^= term[i];
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace edgetrust::store
