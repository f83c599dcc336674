#include "sd/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>

namespace edgetrust::sd {
namespace {

Status Fail(const std::string& what) { return Status(ErrorCode::kInternal, OpensslError(what)); }

const EVP_MD* DigestOf(SignAlgorithm alg) {
  switch (SignAlgorithmDigestSize(alg)) {
    case 32:
      return EVP_sha256();
    case 48:
      return EVP_sha384();
    case 64:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

bool IsRsaPss(SignAlgorithm a) {
  return a == SignAlgorithm::kRsaPssSha256 || a == SignAlgorithm::kRsaPssSha384 ||
         a == SignAlgorithm::kRsaPssSha512;
}
bool IsRsaPkcs1(SignAlgorithm a) {
  return a == SignAlgorithm::kRsaPkcs1Sha256 || a == SignAlgorithm::kRsaPkcs1Sha384 ||
         a == SignAlgorithm::kRsaPkcs1Sha512;
}

// Sets RSA padding on a signing context: PSS with salt = digest length, or PKCS#1 v1.5.
Status ConfigureRsa(EVP_PKEY_CTX* ctx, SignAlgorithm alg, const EVP_MD* md) {
  if (IsRsaPss(alg)) {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0) {
      return Fail("configuring RSA-PSS");
    }
  } else if (IsRsaPkcs1(alg)) {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
      return Fail("configuring RSA PKCS#1");
  }
  return Status::Ok();
}

Result<Bytes> Digest(const EVP_MD* md, ByteView data) {
  Bytes out(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1)
    return Fail("digest");
  out.resize(len);
  return out;
}

}  // namespace

Result<EvpPkeyPtr> GenerateKeyPair(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcdsaP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::kEcdsaP384:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyType::kEd25519:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case KeyType::kRsa3072:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072});
      break;
    default:
      return Status(ErrorCode::kInvalidArgument, "not an asymmetric key type");
  }
  if (key == nullptr) return Fail("key generation");
  return EvpPkeyPtr(key);
}

Result<SecretBytes> EncodePrivateKey(EVP_PKEY* key) {
  int len = i2d_PrivateKey(key, nullptr);
  if (len <= 0) return Fail("encoding private key");
  SecretBytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d_PrivateKey(key, &p) != len) return Fail("encoding private key");
  return out;
}

namespace {
bool KeyMatchesType(EVP_PKEY* key, KeyType type) {
  char group[64] = {0};
  size_t glen = 0;
  switch (type) {
    case KeyType::kEcdsaP256:
    case KeyType::kEcdsaP384:
      if (!EVP_PKEY_is_a(key, "EC")) return false;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         &glen) != 1)
        return false;
      return std::strcmp(group, type == KeyType::kEcdsaP256 ? "prime256v1" : "secp384r1") == 0;
    case KeyType::kEd25519:
      return EVP_PKEY_is_a(key, "ED25519");
    case KeyType::kRsa3072:
      return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) == 3072;
    default:
      return false;
  }
}
}  // namespace

Result<EvpPkeyPtr> DecodePrivateKey(ByteView der, KeyType type) {
  const unsigned char* p = der.data();
  EVP_PKEY* key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  if (key == nullptr) {
    ERR_clear_error();
    return Status(ErrorCode::kTampered, "stored private key does not decode");
  }
  EvpPkeyPtr owned(key);
  if (!KeyMatchesType(key, type))
    return Status(ErrorCode::kTampered, "stored private key is not of its recorded type");
  return owned;
}

Result<std::string> PublicKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return Fail("encoding public key");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<EvpPkeyPtr> ParsePublicKey(ByteView in) {
  EVP_PKEY* key = nullptr;
  static constexpr std::string_view kPem = "-----BEGIN";
  if (in.size() >= kPem.size() && std::memcmp(in.data(), kPem.data(), kPem.size()) == 0) {
    BioPtr bio(BIO_new_mem_buf(in.data(), static_cast<int>(in.size())));
    if (bio) key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  } else {
    const unsigned char* p = in.data();
    key = d2i_PUBKEY(nullptr, &p, static_cast<long>(in.size()));
  }
  if (key == nullptr) {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument,
                  "peer public key is not a PEM or DER SubjectPublicKeyInfo");
  }
  return EvpPkeyPtr(key);
}

Result<Bytes> SignDigest(EVP_PKEY* key, SignAlgorithm alg, ByteView digest) {
  const EVP_MD* md = DigestOf(alg);
  if (md == nullptr)
    return Status(ErrorCode::kInvalidArgument, "this algorithm signs messages, not digests");
  if (digest.size() != SignAlgorithmDigestSize(alg)) {
    return Status(ErrorCode::kInvalidArgument,
                  "digest must be " + std::to_string(SignAlgorithmDigestSize(alg)) + " bytes for " +
                      std::string(SignAlgorithmName(alg)));
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0) {
    return Fail("sign init");
  }
  ET_RETURN_IF_ERROR(ConfigureRsa(ctx.get(), alg, md));
  size_t len = 0;
  if (EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) <= 0)
    return Fail("sign");
  Bytes sig(len);
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) <= 0)
    return Fail("sign");
  sig.resize(len);
  return sig;
}

Result<Bytes> SignMessage(EVP_PKEY* key, SignAlgorithm alg, ByteView message) {
  if (alg != SignAlgorithm::kEd25519) {
    ET_ASSIGN_OR_RETURN(Bytes digest, Digest(DigestOf(alg), message));
    return SignDigest(key, alg, digest);
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key, nullptr) != 1) {
    return Fail("Ed25519 sign init");
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1)
    return Fail("Ed25519 sign");
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1)
    return Fail("Ed25519 sign");
  sig.resize(len);
  return sig;
}

Result<bool> VerifyDigest(EVP_PKEY* key, SignAlgorithm alg, ByteView digest, ByteView signature) {
  const EVP_MD* md = DigestOf(alg);
  if (md == nullptr)
    return Status(ErrorCode::kInvalidArgument, "this algorithm verifies messages, not digests");
  if (digest.size() != SignAlgorithmDigestSize(alg)) {
    return Status(ErrorCode::kInvalidArgument,
                  "digest has the wrong length for " + std::string(SignAlgorithmName(alg)));
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0) {
    return Fail("verify init");
  }
  ET_RETURN_IF_ERROR(ConfigureRsa(ctx.get(), alg, md));
  int rc =
      EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(), digest.size());
  ERR_clear_error();  // a bad signature queues errors we do not report
  return rc == 1;
}

Result<bool> VerifyMessage(EVP_PKEY* key, SignAlgorithm alg, ByteView message, ByteView signature) {
  if (alg != SignAlgorithm::kEd25519) {
    ET_ASSIGN_OR_RETURN(Bytes digest, Digest(DigestOf(alg), message));
    return VerifyDigest(key, alg, digest, signature);
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx ||
      EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key, nullptr) != 1) {
    return Fail("Ed25519 verify init");
  }
  int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                            message.size());
  ERR_clear_error();
  return rc == 1;
}

Result<Bytes> AeadSeal(const SecretBytes& key, ByteView plaintext, ByteView aad) {
  if (key.size() != kSymmetricKeySize)
    return Status(ErrorCode::kInternal, "AES-256 key of wrong size");
  if (plaintext.size() > (1u << 30)) return Status(ErrorCode::kTooLarge, "plaintext too large");
  Bytes out(kAeadNonceSize + plaintext.size() + kAeadTagSize);
  if (RAND_bytes(out.data(), kAeadNonceSize) != 1) return Fail("random nonce");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), out.data(), nullptr) != 1) {
    return Fail("AES-GCM init");
  }
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return Fail("AES-GCM aad");
  }
  uint8_t* ct = out.data() + kAeadNonceSize;
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), ct, &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) {
    return Fail("AES-GCM encrypt");
  }
  if (EVP_EncryptFinal_ex(ctx.get(), ct + plaintext.size(), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagSize, ct + plaintext.size()) !=
          1) {
    return Fail("AES-GCM final");
  }
  return out;
}

Result<SecretBytes> AeadOpen(const SecretBytes& key, ByteView sealed, ByteView aad) {
  if (key.size() != kSymmetricKeySize)
    return Status(ErrorCode::kInternal, "AES-256 key of wrong size");
  if (sealed.size() < kAeadNonceSize + kAeadTagSize) {
    return Status(ErrorCode::kInvalidArgument, "ciphertext shorter than nonce and tag");
  }
  size_t ct_len = sealed.size() - kAeadNonceSize - kAeadTagSize;
  SecretBytes out(ct_len);
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), sealed.data(), nullptr) != 1) {
    return Fail("AES-GCM init");
  }
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return Fail("AES-GCM aad");
  }
  const uint8_t* ct = sealed.data() + kAeadNonceSize;
  if (ct_len > 0 &&
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, ct, static_cast<int>(ct_len)) != 1) {
    return Fail("AES-GCM decrypt");
  }
  uint8_t tag[kAeadTagSize];
  std::memcpy(tag, ct + ct_len, kAeadTagSize);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagSize, tag) != 1)
    return Fail("AES-GCM tag");
  uint8_t final_block[16];
  if (EVP_DecryptFinal_ex(ctx.get(), final_block, &len) != 1) {
    ERR_clear_error();
    return Status(ErrorCode::kVerifyFailed,
                  "authentication failed: wrong key, associated data or ciphertext");
  }
  return out;
}

Result<Bytes> HmacSha256(const SecretBytes& key, ByteView data) {
  Bytes out(32);
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &len) == nullptr) {
    return Fail("HMAC");
  }
  out.resize(len);
  return out;
}

Result<SecretBytes> HkdfSha256(ByteView ikm, ByteView salt, ByteView info, size_t length) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm.data(), static_cast<int>(ikm.size())) <= 0) {
    return Fail("HKDF init");
  }
  if (!salt.empty() &&
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), salt.data(), static_cast<int>(salt.size())) <= 0) {
    return Fail("HKDF salt");
  }
  if (!info.empty() &&
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), info.data(), static_cast<int>(info.size())) <= 0) {
    return Fail("HKDF info");
  }
  SecretBytes out(length);
  size_t len = length;
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) <= 0 || len != length)
    return Fail("HKDF derive");
  return out;
}

Result<SecretBytes> EcdhP256(EVP_PKEY* key, EVP_PKEY* peer) {
  if (!KeyMatchesType(peer, KeyType::kEcdsaP256)) {
    return Status(ErrorCode::kInvalidArgument, "peer public key is not a P-256 key");
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0) return Fail("ECDH init");
  // validate_peer = 1: reject points not on the curve (invalid-curve attacks).
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer, 1) <= 0) {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument, "peer public key is not a valid P-256 point");
  }
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) <= 0) return Fail("ECDH");
  SecretBytes out(len);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) <= 0) return Fail("ECDH");
  out.Truncate(len);
  return out;
}

Result<SecretBytes> RandomBytes(size_t length) {
  SecretBytes out(length);
  if (length > 0 && RAND_priv_bytes(out.data(), static_cast<int>(length)) != 1)
    return Fail("random");
  return out;
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace edgetrust::sd
