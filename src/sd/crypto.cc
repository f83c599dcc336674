#include "sd/crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>
#include <memory>

#include "sd/backend.h"

namespace edgetrust::sd {
namespace {

Status Fail(const std::string& what) { return Status(ErrorCode::kInternal, OpensslError(what)); }

// Algorithms fetched from the default provider once, not on every call: an implicit fetch
// (EVP_sha256() handed to an EVP call, HMAC(), EVP_aes_256_gcm()) looks the name up in the
// provider's method store under a lock each time, which costs as much as hashing a short message.
// Function-local statics: thread-safe initialisation, freed at exit.
using EvpMdPtr = std::unique_ptr<EVP_MD, OsslDeleter<EVP_MD_free>>;
using EvpCipherPtr = std::unique_ptr<EVP_CIPHER, OsslDeleter<EVP_CIPHER_free>>;

const EVP_MD* Sha256() {
  static const EvpMdPtr md(EVP_MD_fetch(nullptr, "SHA2-256", nullptr));
  return md.get();
}
const EVP_MD* Sha384() {
  static const EvpMdPtr md(EVP_MD_fetch(nullptr, "SHA2-384", nullptr));
  return md.get();
}
const EVP_MD* Sha512() {
  static const EvpMdPtr md(EVP_MD_fetch(nullptr, "SHA2-512", nullptr));
  return md.get();
}
EVP_MAC* HmacMethod() {
  static const EvpMacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  return mac.get();
}
const EVP_CIPHER* Aes256Gcm() {
  static const EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  return cipher.get();
}

const EVP_MD* DigestOf(SignAlgorithm alg) {
  switch (SignAlgorithmDigestSize(alg)) {
    case 32:
      return Sha256();
    case 48:
      return Sha384();
    case 64:
      return Sha512();
    default:
      return nullptr;
  }
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
  if (md == nullptr) return Fail("digest fetch");
  Bytes out(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1)
    return Fail("digest");
  out.resize(len);
  return out;
}

// Contexts kept per thread, keyed by the key they were initialised with. A connection thread
// signing or MACing again with the same key (the usual pattern: a client uses its one key) skips
// creating and initialising a context, which for ECDSA costs a key-management name query and a
// digest fetch (about a tenth of the signature), and for HMAC of a short message costs several
// times the MAC itself.
//
// A signing entry holds a reference to its EVP_PKEY (the context owns one), so a cached pointer
// can never come to name another key allocated at the same address; the HMAC entry compares the
// key bytes themselves. Entries of a deleted key live until they are replaced or the thread ends;
// nothing reaches them in between, since every operation starts from a key the backend just
// looked up.
constexpr size_t kThreadContexts = 4;

struct SignCtxEntry {
  EVP_PKEY* key = nullptr;
  SignAlgorithm alg = SignAlgorithm::kDefault;
  EvpPkeyCtxPtr pkey_ctx;  // ECDSA and RSA: EVP_PKEY_sign on a digest
  EvpMdCtxPtr md_ctx;      // Ed25519: one-shot EVP_DigestSign on the message
};

struct ThreadContexts {
  std::array<SignCtxEntry, kThreadContexts> sign;
  size_t next_sign = 0;
  SecretBytes mac_key;  // the key mac_ctx was initialised with
  EvpMacCtxPtr mac_ctx;
};

ThreadContexts& Contexts() {
  thread_local ThreadContexts contexts;
  return contexts;
}

SignCtxEntry* FindSignCtx(EVP_PKEY* key, SignAlgorithm alg) {
  for (auto& e : Contexts().sign) {
    if (e.key == key && e.alg == alg) return &e;
  }
  return nullptr;
}

SignCtxEntry& NewSignCtx(EVP_PKEY* key, SignAlgorithm alg) {
  ThreadContexts& c = Contexts();
  SignCtxEntry& e = c.sign[c.next_sign++ % kThreadContexts];
  e = SignCtxEntry{};
  e.key = key;
  e.alg = alg;
  return e;
}

void ForgetSignContext(EVP_PKEY* key, SignAlgorithm alg) {
  if (SignCtxEntry* e = FindSignCtx(key, alg); e != nullptr) *e = SignCtxEntry{};
}

// An initialised context for signing digests with `key`, from the thread's cache or new.
Result<EVP_PKEY_CTX*> DigestSignContext(EVP_PKEY* key, SignAlgorithm alg, const EVP_MD* md) {
  if (SignCtxEntry* e = FindSignCtx(key, alg); e != nullptr && e->pkey_ctx)
    return e->pkey_ctx.get();
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), md) <= 0) {
    return Fail("sign init");
  }
  ET_RETURN_IF_ERROR(ConfigureRsa(ctx.get(), alg, md));
  SignCtxEntry& e = NewSignCtx(key, alg);
  e.pkey_ctx = std::move(ctx);
  return e.pkey_ctx.get();
}

}  // namespace

bool IsRsaPss(SignAlgorithm a) {
  return a == SignAlgorithm::kRsaPssSha256 || a == SignAlgorithm::kRsaPssSha384 ||
         a == SignAlgorithm::kRsaPssSha512;
}
bool IsRsaPkcs1(SignAlgorithm a) {
  return a == SignAlgorithm::kRsaPkcs1Sha256 || a == SignAlgorithm::kRsaPkcs1Sha384 ||
         a == SignAlgorithm::kRsaPkcs1Sha512;
}

Result<SignAlgorithm> ResolveFor(const KeyMeta& meta, SignAlgorithm requested, bool digest) {
  auto alg = ResolveSignAlgorithm(meta.type, requested);
  if (!alg) {
    return Status(ErrorCode::kUnsupported,
                  "key " + meta.id.name + " (" + std::string(KeyTypeName(meta.type)) +
                      ") cannot use " + std::string(SignAlgorithmName(requested)));
  }
  if (digest && *alg == SignAlgorithm::kEd25519) {
    return Status(ErrorCode::kUnsupported, "Ed25519 signs whole messages, not digests");
  }
  return *alg;
}

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

namespace {
// Decodes DER of a known type and structure. d2i_AutoPrivateKey tries every decoder OpenSSL has
// (about 1.7 ms for a P-256 key here); naming the key type and the structure EncodePrivateKey
// wrote lets OpenSSL build one short decoder chain (about 0.25 ms).
EVP_PKEY* DecodeAs(ByteView der, KeyType type) {
  const char* keytype = nullptr;
  const char* structure = nullptr;
  switch (type) {
    case KeyType::kEcdsaP256:
    case KeyType::kEcdsaP384:
      keytype = "EC";
      structure = "type-specific";  // SEC1 ECPrivateKey
      break;
    case KeyType::kRsa3072:
      keytype = "RSA";
      structure = "type-specific";  // PKCS#1 RSAPrivateKey
      break;
    case KeyType::kEd25519:
      keytype = "ED25519";
      structure = "PrivateKeyInfo";  // PKCS#8
      break;
    default:
      return nullptr;
  }
  EVP_PKEY* key = nullptr;
  OSSL_DECODER_CTX* dctx = OSSL_DECODER_CTX_new_for_pkey(&key, "DER", structure, keytype,
                                                         EVP_PKEY_KEYPAIR, nullptr, nullptr);
  if (dctx == nullptr) return nullptr;
  const unsigned char* p = der.data();
  size_t left = der.size();
  if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || left != 0) {
    EVP_PKEY_free(key);
    key = nullptr;
  }
  OSSL_DECODER_CTX_free(dctx);
  return key;
}
}  // namespace

Result<EvpPkeyPtr> DecodePrivateKey(ByteView der, KeyType type) {
  EVP_PKEY* key = DecodeAs(der, type);
  if (key == nullptr) {
    // What the narrow decoder refuses gets the general one, which decides what is readable.
    ERR_clear_error();
    const unsigned char* p = der.data();
    key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
  }
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

Result<Bytes> SpkiDer(EVP_PKEY* key) {
  const int len = i2d_PUBKEY(key, nullptr);
  if (len <= 0) return Fail("encoding a public key");
  Bytes der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  if (i2d_PUBKEY(key, &p) != len) return Fail("encoding a public key");
  return der;
}

Result<Bytes> EcdsaSignatureDer(ByteView r, ByteView s) {
  using BnPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;
  using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OsslDeleter<ECDSA_SIG_free>>;
  BnPtr rn(BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr));
  BnPtr sn(BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!rn || !sn || !sig || ECDSA_SIG_set0(sig.get(), rn.get(), sn.get()) != 1)
    return Fail("ECDSA signature encoding");
  (void)rn.release();  // owned by sig now
  (void)sn.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return Fail("ECDSA signature encoding");
  Bytes der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return Fail("ECDSA signature encoding");
  return der;
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
  ET_ASSIGN_OR_RETURN(EVP_PKEY_CTX * ctx, DigestSignContext(key, alg, md));
  // EVP_PKEY_sign may run again on an initialised context: every ECDSA signature draws its own
  // nonce, every PSS signature its own salt.
  size_t len = 0;
  if (EVP_PKEY_sign(ctx, nullptr, &len, digest.data(), digest.size()) <= 0) {
    ForgetSignContext(key, alg);
    return Fail("sign");
  }
  Bytes sig(len);
  if (EVP_PKEY_sign(ctx, sig.data(), &len, digest.data(), digest.size()) <= 0) {
    ForgetSignContext(key, alg);
    return Fail("sign");
  }
  sig.resize(len);
  return sig;
}

Result<Bytes> SignMessage(EVP_PKEY* key, SignAlgorithm alg, ByteView message) {
  if (alg != SignAlgorithm::kEd25519) {
    ET_ASSIGN_OR_RETURN(Bytes digest, Digest(DigestOf(alg), message));
    return SignDigest(key, alg, digest);
  }
  // Ed25519 signs in one shot (EVP_DigestSign), which leaves the context ready for the next
  // message. Should a library refuse to reuse it, the context is made anew once.
  for (int attempt = 0; attempt < 2; ++attempt) {
    SignCtxEntry* e = FindSignCtx(key, alg);
    if (e == nullptr || !e->md_ctx) {
      EvpMdCtxPtr ctx(EVP_MD_CTX_new());
      if (!ctx ||
          EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key, nullptr) != 1) {
        return Fail("Ed25519 sign init");
      }
      e = &NewSignCtx(key, alg);
      e->md_ctx = std::move(ctx);
    }
    size_t len = 0;
    Bytes sig;
    bool ok = EVP_DigestSign(e->md_ctx.get(), nullptr, &len, message.data(), message.size()) == 1;
    if (ok) {
      sig.resize(len);
      ok = EVP_DigestSign(e->md_ctx.get(), sig.data(), &len, message.data(), message.size()) == 1;
    }
    if (ok) {
      sig.resize(len);
      return sig;
    }
    ForgetSignContext(key, alg);
    ERR_clear_error();
  }
  return Fail("Ed25519 sign");
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
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), Aes256Gcm(), key.data(), out.data(), nullptr) != 1) {
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
      EVP_DecryptInit_ex2(ctx.get(), Aes256Gcm(), key.data(), sealed.data(), nullptr) != 1) {
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
  // EVP_MAC_init without a key restarts with the previous key: it must never see an empty one.
  if (key.empty()) return Status(ErrorCode::kInvalidArgument, "HMAC key is empty");
  ThreadContexts& c = Contexts();
  if (!c.mac_ctx) c.mac_ctx.reset(EVP_MAC_CTX_new(HmacMethod()));
  if (!c.mac_ctx) return Fail("HMAC context");
  int ok;
  if (c.mac_key.size() == key.size() &&
      CRYPTO_memcmp(c.mac_key.data(), key.data(), key.size()) == 0) {
    // Restarts from the key's precomputed inner and outer states.
    ok = EVP_MAC_init(c.mac_ctx.get(), nullptr, 0, nullptr);
  } else {
    char digest[] = "SHA2-256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_END};
    c.mac_key = SecretBytes();
    ok = EVP_MAC_init(c.mac_ctx.get(), key.data(), key.size(), params);
    if (ok == 1) c.mac_key = key.Clone();
  }
  Bytes out(32);
  size_t len = 0;
  if (ok != 1 || EVP_MAC_update(c.mac_ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(c.mac_ctx.get(), out.data(), &len, out.size()) != 1) {
    c.mac_key = SecretBytes();
    return Fail("HMAC");
  }
  out.resize(len);
  return out;
}

Result<SecretBytes> HkdfSha256(ByteView ikm, ByteView salt, ByteView info, size_t length) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), Sha256()) <= 0 ||
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
