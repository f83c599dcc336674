// Token's cryptographic operations (declared in pkcs11_token.h): one PKCS#11 operation each.
#include <openssl/rand.h>

#include "sd/crypto.h"
#include "sd/pkcs11/pkcs11_encoding.h"
#include "sd/pkcs11/pkcs11_errors.h"
#include "sd/pkcs11/pkcs11_template.h"
#include "sd/pkcs11/pkcs11_token.h"

namespace edgetrust::sd::pkcs11 {
namespace {

constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kMaxAeadInput = size_t{1} << 30;

// Some modules refuse a null pointer even with a zero length.
CK_BYTE* In(ByteView data) {
  static CK_BYTE empty = 0;
  return data.empty() ? &empty : const_cast<CK_BYTE*>(data.data());
}

// AES-GCM parameters: a kNonceSize-byte nonce at `nonce`, a kTagSize-byte tag.
CK_GCM_PARAMS GcmParams(const CK_BYTE* nonce, ByteView aad) {
  CK_GCM_PARAMS params{};
  params.pIv = const_cast<CK_BYTE*>(nonce);
  params.ulIvLen = kNonceSize;
  params.ulIvBits = kNonceSize * 8;
  params.pAAD = aad.empty() ? nullptr : const_cast<CK_BYTE*>(aad.data());
  params.ulAADLen = aad.size();
  params.ulTagBits = kTagSize * 8;
  return params;
}

}  // namespace

Result<Bytes> Token::SignRaw(Session& s, CK_OBJECT_HANDLE key, CK_MECHANISM* mechanism,
                             ByteView data) {
  ET_RETURN_IF_ERROR(s.Check(s.fn()->C_SignInit(s.handle(), mechanism, key), "C_SignInit"));
  // Large enough for RSA-3072 (384 bytes) and every ECDSA and EdDSA signature, so C_Sign runs
  // once; a token that still wants more gets a second call with the size it asked for (the
  // operation stays active after CKR_BUFFER_TOO_SMALL).
  Bytes out(512);
  CK_ULONG len = out.size();
  CK_RV rv = s.fn()->C_Sign(s.handle(), In(data), data.size(), out.data(), &len);
  if (rv == CKR_BUFFER_TOO_SMALL && len > out.size() && len <= 16384) {
    out.resize(len);
    rv = s.fn()->C_Sign(s.handle(), In(data), data.size(), out.data(), &len);
  }
  ET_RETURN_IF_ERROR(s.Check(rv, "C_Sign"));
  out.resize(len);
  return out;
}

Result<Bytes> Token::SignDigest(Session& s, CK_OBJECT_HANDLE key, SignAlgorithm alg,
                                ByteView digest) {
  if (digest.size() != SignAlgorithmDigestSize(alg)) {
    return Status(ErrorCode::kInvalidArgument,
                  "digest must be " + std::to_string(SignAlgorithmDigestSize(alg)) + " bytes for " +
                      std::string(SignAlgorithmName(alg)));
  }
  if (IsRsaPss(alg)) {
    CK_RSA_PKCS_PSS_PARAMS params{PssHash(alg), PssMgf(alg), digest.size()};
    CK_MECHANISM m{CKM_RSA_PKCS_PSS, &params, sizeof params};
    return SignRaw(s, key, &m, digest);
  }
  if (IsRsaPkcs1(alg)) {
    CK_MECHANISM m{CKM_RSA_PKCS, nullptr, 0};
    return SignRaw(s, key, &m, DigestInfo(alg, digest));
  }
  CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
  ET_ASSIGN_OR_RETURN(Bytes raw, SignRaw(s, key, &m, digest));
  return EcdsaRawToDer(raw);
}

Result<Bytes> Token::SignEd25519(Session& s, CK_OBJECT_HANDLE key, ByteView message) {
  // No parameters: pure Ed25519 (RFC 8032), not Ed25519ph or Ed25519ctx.
  CK_MECHANISM m{CKM_EDDSA, nullptr, 0};
  ET_ASSIGN_OR_RETURN(Bytes sig, SignRaw(s, key, &m, message));
  if (sig.size() != 64)
    return Status(ErrorCode::kInternal, "the token's Ed25519 signature is not 64 bytes");
  return sig;
}

Result<Bytes> Token::GcmSeal(Session& s, CK_OBJECT_HANDLE key, ByteView plaintext, ByteView aad) {
  if (plaintext.size() > kMaxAeadInput) return Status(ErrorCode::kTooLarge, "plaintext too large");
  Bytes out(kNonceSize + plaintext.size() + kTagSize);
  // The nonce only has to be unique; OpenSSL's generator saves a round trip to the token.
  if (RAND_bytes(out.data(), kNonceSize) != 1)
    return Status(ErrorCode::kInternal, "random nonce failed");
  CK_GCM_PARAMS params = GcmParams(out.data(), aad);
  CK_MECHANISM m{CKM_AES_GCM, &params, sizeof params};
  ET_RETURN_IF_ERROR(s.Check(s.fn()->C_EncryptInit(s.handle(), &m, key), "C_EncryptInit"));
  CK_ULONG len = plaintext.size() + kTagSize;
  ET_RETURN_IF_ERROR(s.Check(
      s.fn()->C_Encrypt(s.handle(), In(plaintext), plaintext.size(), out.data() + kNonceSize, &len),
      "C_Encrypt"));
  if (len != plaintext.size() + kTagSize)
    return Status(ErrorCode::kInternal, "C_Encrypt: unexpected AES-GCM output length");
  return out;
}

Result<SecretBytes> Token::GcmOpen(Session& s, CK_OBJECT_HANDLE key, ByteView sealed,
                                   ByteView aad) {
  if (sealed.size() < kNonceSize + kTagSize)
    return Status(ErrorCode::kInvalidArgument, "ciphertext shorter than nonce and tag");
  if (sealed.size() > kMaxAeadInput + kNonceSize + kTagSize)
    return Status(ErrorCode::kTooLarge, "ciphertext too large");
  CK_GCM_PARAMS params = GcmParams(sealed.data(), aad);
  CK_MECHANISM m{CKM_AES_GCM, &params, sizeof params};
  ET_RETURN_IF_ERROR(s.Check(s.fn()->C_DecryptInit(s.handle(), &m, key), "C_DecryptInit"));
  const ByteView body = sealed.subspan(kNonceSize);
  // As large as the input: some modules want room for the tag as well before they check it.
  SecretBytes out(body.size());
  CK_ULONG len = out.size();
  CK_RV rv = s.fn()->C_Decrypt(s.handle(), const_cast<CK_BYTE*>(body.data()), body.size(),
                               out.data(), &len);
  if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_GENERAL_ERROR || rv == CKR_FUNCTION_FAILED) {
    // The standard says CKR_ENCRYPTED_DATA_INVALID; SoftHSM2 2.6 says CKR_GENERAL_ERROR.
    return Status(ErrorCode::kVerifyFailed,
                  "authentication failed: wrong key, associated data or ciphertext (C_Decrypt: " +
                      CkrName(rv) + ")");
  }
  ET_RETURN_IF_ERROR(s.Check(rv, "C_Decrypt"));
  if (len != body.size() - kTagSize)
    return Status(ErrorCode::kInternal, "C_Decrypt: unexpected AES-GCM output length");
  out.Truncate(len);
  return out;
}

Result<Bytes> Token::HmacSha256(Session& s, CK_OBJECT_HANDLE key, ByteView data) {
  CK_MECHANISM m{CKM_SHA256_HMAC, nullptr, 0};
  ET_ASSIGN_OR_RETURN(Bytes mac, SignRaw(s, key, &m, data));
  if (mac.size() != 32) return Status(ErrorCode::kInternal, "C_Sign: HMAC-SHA256 not 32 bytes");
  return mac;
}

Result<SecretBytes> Token::DigestWithKey(Session& s, ByteView prefix, CK_OBJECT_HANDLE key) {
  CK_MECHANISM m{CKM_SHA256, nullptr, 0};
  ET_RETURN_IF_ERROR(s.Check(s.fn()->C_DigestInit(s.handle(), &m), "C_DigestInit"));
  // Every failure below ends the digest operation (PKCS#11 5.10), so the session stays usable.
  if (!prefix.empty()) {
    ET_RETURN_IF_ERROR(s.Check(
        s.fn()->C_DigestUpdate(s.handle(), const_cast<CK_BYTE*>(prefix.data()), prefix.size()),
        "C_DigestUpdate"));
  }
  ET_RETURN_IF_ERROR(s.Check(s.fn()->C_DigestKey(s.handle(), key), "C_DigestKey"));
  SecretBytes out(32);
  CK_ULONG len = out.size();
  ET_RETURN_IF_ERROR(s.Check(s.fn()->C_DigestFinal(s.handle(), out.data(), &len), "C_DigestFinal"));
  if (len != 32) return Status(ErrorCode::kInternal, "C_DigestFinal: SHA-256 not 32 bytes");
  return out;
}

Result<CK_OBJECT_HANDLE> Token::EcdhP256(Session& s, CK_OBJECT_HANDLE key, ByteView peer_point) {
  if (!Has(CKM_ECDH1_DERIVE)) {
    return Status(ErrorCode::kUnsupported,
                  "token \"" + info_.label + "\" cannot do ECDH (no CKM_ECDH1_DERIVE)");
  }
  auto derive = [&](ByteView point, CK_OBJECT_HANDLE* out) {
    CK_ECDH1_DERIVE_PARAMS params{};
    params.kdf = CKD_NULL;
    params.pPublicData = const_cast<CK_BYTE*>(point.data());
    params.ulPublicDataLen = point.size();
    CK_MECHANISM m{CKM_ECDH1_DERIVE, &params, sizeof params};
    Template t;
    t.Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .Protected(/*on_token=*/false)  // a session object, destroyed right after use
        .Ulong(CKA_VALUE_LEN, 32);
    return s.fn()->C_DeriveKey(s.handle(), &m, key, t.data(), t.size(), out);
  };
  CK_OBJECT_HANDLE shared = CK_INVALID_HANDLE;
  CK_RV rv = derive(peer_point, &shared);
  if (rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_ARGUMENTS_BAD ||
      rv == CKR_DOMAIN_PARAMS_INVALID) {
    // PKCS#11 2.20-era tokens want the point DER-wrapped, like CKA_EC_POINT.
    Bytes wrapped = {0x04, static_cast<uint8_t>(peer_point.size())};
    wrapped.insert(wrapped.end(), peer_point.begin(), peer_point.end());
    rv = derive(wrapped, &shared);
  }
  ET_RETURN_IF_ERROR(s.Check(rv, "C_DeriveKey"));
  return shared;
}

Result<SecretBytes> Token::Random(Session& s, size_t length) {
  SecretBytes out(length);
  if (length == 0) return out;
  ET_RETURN_IF_ERROR(
      s.Check(s.fn()->C_GenerateRandom(s.handle(), out.data(), length), "C_GenerateRandom"));
  return out;
}

}  // namespace edgetrust::sd::pkcs11
