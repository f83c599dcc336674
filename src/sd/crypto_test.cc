// Unit tests of the secure domain's cryptographic operations (sd/crypto.h), with known-answer
// tests from the RFCs and independent checks through OpenSSL directly.
#include "sd/crypto.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "common/hex.h"

namespace edgetrust::sd {
namespace {

constexpr std::array<KeyType, 4> kAsymmetricTypes = {KeyType::kEcdsaP256, KeyType::kEcdsaP384,
                                                     KeyType::kEd25519, KeyType::kRsa3072};

constexpr std::array<SignAlgorithm, 11> kAllAlgorithms = {
    SignAlgorithm::kDefault,        SignAlgorithm::kEcdsaSha256,    SignAlgorithm::kEcdsaSha384,
    SignAlgorithm::kEcdsaSha512,    SignAlgorithm::kEd25519,        SignAlgorithm::kRsaPssSha256,
    SignAlgorithm::kRsaPssSha384,   SignAlgorithm::kRsaPssSha512,   SignAlgorithm::kRsaPkcs1Sha256,
    SignAlgorithm::kRsaPkcs1Sha384, SignAlgorithm::kRsaPkcs1Sha512,
};

// Key generation (RSA-3072 above all) is slow: one key pair per type and slot, shared by the tests.
EVP_PKEY* SharedKey(KeyType type, int slot = 0) {
  static std::map<std::pair<KeyType, int>, EvpPkeyPtr> keys;
  auto& k = keys[{type, slot}];
  if (!k) {
    auto g = GenerateKeyPair(type);
    if (!g.ok()) {
      ADD_FAILURE() << "GenerateKeyPair(" << KeyTypeName(type) << "): " << g.status().ToString();
      return nullptr;
    }
    k = std::move(g).value();
  }
  return k.get();
}

Bytes Hex(std::string_view hex) {
  auto b = HexDecode(hex);
  EXPECT_TRUE(b.ok()) << hex;
  return b.ok() ? *b : Bytes{};
}

Bytes DigestOf(SignAlgorithm alg, ByteView data) {
  const std::string name(SignAlgorithmDigestName(alg));
  const EVP_MD* md = EVP_get_digestbyname(name.c_str());
  EXPECT_NE(md, nullptr) << name;
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr), 1);
  out.resize(len);
  return out;
}

Bytes ToBytes(std::string_view s) {
  ByteView v = AsBytes(s);
  return Bytes(v.begin(), v.end());
}

Bytes Flip(Bytes b, size_t pos) {
  b[pos] = static_cast<uint8_t>(b[pos] ^ 0x01);
  return b;
}

// The public half of a key, as a separate EVP_PKEY (what a peer would hold).
EvpPkeyPtr PublicOnly(EVP_PKEY* key) {
  auto pem = PublicKeyPem(key);
  EXPECT_TRUE(pem.ok());
  auto pub = ParsePublicKey(AsBytes(*pem));
  EXPECT_TRUE(pub.ok()) << pub.status().ToString();
  return pub.ok() ? std::move(pub).value() : EvpPkeyPtr();
}

// ---------------------------------------------------------------------------------------------
// Signatures

TEST(CryptoSignTest, EveryFittingAlgorithmSignsAndVerifies) {
  const Bytes message = {'e', 'd', 'g', 'e', 't', 'r', 'u', 's', 't', 0x00, 0xFF};
  const Bytes other = {'e', 'd', 'g', 'e', 't', 'r', 'u', 's', 'T', 0x00, 0xFF};
  std::map<KeyType, int> combos;
  for (KeyType type : kAsymmetricTypes) {
    EVP_PKEY* key = SharedKey(type);
    ASSERT_NE(key, nullptr);
    EVP_PKEY* stranger = SharedKey(type, 1);
    ASSERT_NE(stranger, nullptr);
    EvpPkeyPtr pub = PublicOnly(key);
    ASSERT_TRUE(pub);
    for (SignAlgorithm requested : kAllAlgorithms) {
      auto alg = ResolveSignAlgorithm(type, requested);
      if (!alg) continue;
      ++combos[type];
      SCOPED_TRACE(std::string(KeyTypeName(type)) + " / " + std::string(SignAlgorithmName(*alg)));
      auto sig = SignMessage(key, *alg, message);
      ASSERT_TRUE(sig.ok()) << sig.status().ToString();
      ASSERT_FALSE(sig->empty());

      auto ok = VerifyMessage(key, *alg, message, *sig);
      ASSERT_TRUE(ok.ok()) << ok.status().ToString();
      EXPECT_TRUE(*ok);
      // The public key alone verifies too.
      auto ok_pub = VerifyMessage(pub.get(), *alg, message, *sig);
      ASSERT_TRUE(ok_pub.ok());
      EXPECT_TRUE(*ok_pub);
      // Another message, a changed signature and another key do not.
      EXPECT_FALSE(VerifyMessage(key, *alg, other, *sig).value());
      EXPECT_FALSE(VerifyMessage(key, *alg, message, Flip(*sig, sig->size() / 2)).value());
      EXPECT_FALSE(VerifyMessage(key, *alg, message, Flip(*sig, sig->size() - 1)).value());
      EXPECT_FALSE(VerifyMessage(key, *alg, message, Bytes{}).value());
      EXPECT_FALSE(VerifyMessage(stranger, *alg, message, *sig).value());

      if (*alg == SignAlgorithm::kEd25519) continue;
      // Pre-hashed signing: signing the digest equals signing the message, both ways.
      const Bytes digest = DigestOf(*alg, message);
      ASSERT_EQ(digest.size(), SignAlgorithmDigestSize(*alg));
      EXPECT_TRUE(VerifyDigest(key, *alg, digest, *sig).value());
      auto dsig = SignDigest(key, *alg, digest);
      ASSERT_TRUE(dsig.ok()) << dsig.status().ToString();
      EXPECT_TRUE(VerifyMessage(key, *alg, message, *dsig).value());
      EXPECT_TRUE(VerifyDigest(pub.get(), *alg, digest, *dsig).value());
      EXPECT_FALSE(VerifyDigest(key, *alg, Flip(digest, 0), *dsig).value());
    }
  }
  // The algorithms that fit each type: default plus the explicit ones.
  EXPECT_EQ(combos[KeyType::kEcdsaP256], 4);
  EXPECT_EQ(combos[KeyType::kEcdsaP384], 4);
  EXPECT_EQ(combos[KeyType::kEd25519], 2);
  EXPECT_EQ(combos[KeyType::kRsa3072], 7);
}

TEST(CryptoSignTest, SignatureShapes) {
  const Bytes message = {1, 2, 3};
  auto ed = SignMessage(SharedKey(KeyType::kEd25519), SignAlgorithm::kEd25519, message);
  ASSERT_TRUE(ed.ok());
  EXPECT_EQ(ed->size(), 64u);
  // Ed25519 is deterministic.
  EXPECT_EQ(*ed,
            SignMessage(SharedKey(KeyType::kEd25519), SignAlgorithm::kEd25519, message).value());
  auto rsa = SignMessage(SharedKey(KeyType::kRsa3072), SignAlgorithm::kRsaPkcs1Sha256, message);
  ASSERT_TRUE(rsa.ok());
  EXPECT_EQ(rsa->size(), 384u);
  // PKCS#1 v1.5 is deterministic, PSS is randomised.
  EXPECT_EQ(
      *rsa,
      SignMessage(SharedKey(KeyType::kRsa3072), SignAlgorithm::kRsaPkcs1Sha256, message).value());
  auto pss1 = SignMessage(SharedKey(KeyType::kRsa3072), SignAlgorithm::kRsaPssSha256, message);
  auto pss2 = SignMessage(SharedKey(KeyType::kRsa3072), SignAlgorithm::kRsaPssSha256, message);
  ASSERT_TRUE(pss1.ok() && pss2.ok());
  EXPECT_NE(*pss1, *pss2);
}

TEST(CryptoSignTest, RsaPaddingsAreNotInterchangeable) {
  EVP_PKEY* key = SharedKey(KeyType::kRsa3072);
  const Bytes message = {'m'};
  auto pss = SignMessage(key, SignAlgorithm::kRsaPssSha256, message);
  auto pkcs1 = SignMessage(key, SignAlgorithm::kRsaPkcs1Sha256, message);
  ASSERT_TRUE(pss.ok() && pkcs1.ok());
  EXPECT_FALSE(VerifyMessage(key, SignAlgorithm::kRsaPkcs1Sha256, message, *pss).value());
  EXPECT_FALSE(VerifyMessage(key, SignAlgorithm::kRsaPssSha256, message, *pkcs1).value());
  EXPECT_FALSE(VerifyMessage(key, SignAlgorithm::kRsaPssSha384, message, *pss).value());
}

// The documented parameters, checked by OpenSSL directly rather than through sd/crypto.
TEST(CryptoSignTest, RsaPssUsesDigestLengthSaltAndMatchingMgf1) {
  EVP_PKEY* key = SharedKey(KeyType::kRsa3072);
  const Bytes message = {'p', 's', 's'};
  auto sig = SignMessage(key, SignAlgorithm::kRsaPssSha384, message);
  ASSERT_TRUE(sig.ok());
  for (int salt : {48, 32}) {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha384(), nullptr, key), 1);
    ASSERT_GT(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 0);
    ASSERT_GT(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt), 0);
    ASSERT_GT(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()), 0);
    int rc = EVP_DigestVerify(ctx.get(), sig->data(), sig->size(), message.data(), message.size());
    ERR_clear_error();
    EXPECT_EQ(rc == 1, salt == 48) << "salt length " << salt;
  }
}

TEST(CryptoSignTest, EcdsaVerifiesWithOpenSsl) {
  EVP_PKEY* key = SharedKey(KeyType::kEcdsaP256);
  const Bytes message = {'e', 'c'};
  auto sig = SignMessage(key, SignAlgorithm::kEcdsaSha512, message);
  ASSERT_TRUE(sig.ok());
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha512(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), sig->data(), sig->size(), message.data(), message.size()),
            1);
}

TEST(CryptoSignTest, DigestOfWrongLengthRefused) {
  for (KeyType type : kAsymmetricTypes) {
    EVP_PKEY* key = SharedKey(type);
    ASSERT_NE(key, nullptr);
    for (SignAlgorithm requested : kAllAlgorithms) {
      auto alg = ResolveSignAlgorithm(type, requested);
      if (!alg || *alg == SignAlgorithm::kEd25519) continue;
      const size_t n = SignAlgorithmDigestSize(*alg);
      SCOPED_TRACE(std::string(SignAlgorithmName(*alg)));
      for (size_t len : {size_t{0}, n - 1, n + 1, size_t{20}}) {
        const Bytes digest(len, 0xAB);
        auto s = SignDigest(key, *alg, digest);
        ASSERT_FALSE(s.ok()) << "length " << len;
        EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument);
        auto v = VerifyDigest(key, *alg, digest, Bytes(64, 1));
        ASSERT_FALSE(v.ok()) << "length " << len;
        EXPECT_EQ(v.status().code(), ErrorCode::kInvalidArgument);
      }
    }
  }
}

TEST(CryptoSignTest, Ed25519DigestSigningRefused) {
  EVP_PKEY* key = SharedKey(KeyType::kEd25519);
  for (size_t len : {size_t{32}, size_t{64}}) {
    auto s = SignDigest(key, SignAlgorithm::kEd25519, Bytes(len, 1));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument);
    auto v = VerifyDigest(key, SignAlgorithm::kEd25519, Bytes(len, 1), Bytes(64, 1));
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(CryptoSignTest, ResolveSignAlgorithmRefusesMismatches) {
  EXPECT_EQ(ResolveSignAlgorithm(KeyType::kEcdsaP256, SignAlgorithm::kDefault),
            SignAlgorithm::kEcdsaSha256);
  EXPECT_EQ(ResolveSignAlgorithm(KeyType::kEcdsaP384, SignAlgorithm::kDefault),
            SignAlgorithm::kEcdsaSha384);
  EXPECT_EQ(ResolveSignAlgorithm(KeyType::kRsa3072, SignAlgorithm::kDefault),
            SignAlgorithm::kRsaPssSha256);
  EXPECT_EQ(ResolveSignAlgorithm(KeyType::kEd25519, SignAlgorithm::kDefault),
            SignAlgorithm::kEd25519);
  EXPECT_FALSE(ResolveSignAlgorithm(KeyType::kEcdsaP256, SignAlgorithm::kRsaPssSha256));
  EXPECT_FALSE(ResolveSignAlgorithm(KeyType::kEcdsaP256, SignAlgorithm::kEd25519));
  EXPECT_FALSE(ResolveSignAlgorithm(KeyType::kEd25519, SignAlgorithm::kEcdsaSha256));
  EXPECT_FALSE(ResolveSignAlgorithm(KeyType::kRsa3072, SignAlgorithm::kEcdsaSha256));
  EXPECT_FALSE(ResolveSignAlgorithm(KeyType::kAes256, SignAlgorithm::kDefault));
  EXPECT_FALSE(ResolveSignAlgorithm(KeyType::kHmacSha256, SignAlgorithm::kDefault));
}

// ---------------------------------------------------------------------------------------------
// Key encoding

TEST(CryptoKeyTest, GenerateRefusesSymmetricTypes) {
  for (KeyType t : {KeyType::kAes256, KeyType::kHmacSha256}) {
    auto k = GenerateKeyPair(t);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(CryptoKeyTest, PrivateKeyRoundTrip) {
  for (KeyType type : kAsymmetricTypes) {
    SCOPED_TRACE(std::string(KeyTypeName(type)));
    EVP_PKEY* key = SharedKey(type);
    ASSERT_NE(key, nullptr);
    auto der = EncodePrivateKey(key);
    ASSERT_TRUE(der.ok()) << der.status().ToString();
    auto back = DecodePrivateKey(der->view(), type);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(EVP_PKEY_eq(key, back->get()), 1);
    // The decoded key signs what the original verifies.
    auto alg = *ResolveSignAlgorithm(type, SignAlgorithm::kDefault);
    auto sig = SignMessage(back->get(), alg, Bytes{'x'});
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(VerifyMessage(key, alg, Bytes{'x'}, *sig).value());
  }
}

TEST(CryptoKeyTest, DecodePrivateKeyRefusesOtherType) {
  for (KeyType stored : kAsymmetricTypes) {
    auto der = EncodePrivateKey(SharedKey(stored));
    ASSERT_TRUE(der.ok());
    for (KeyType claimed : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519,
                            KeyType::kRsa3072, KeyType::kAes256, KeyType::kHmacSha256}) {
      if (claimed == stored) continue;
      auto k = DecodePrivateKey(der->view(), claimed);
      ASSERT_FALSE(k.ok()) << KeyTypeName(stored) << " as " << KeyTypeName(claimed);
      EXPECT_EQ(k.status().code(), ErrorCode::kTampered);
    }
  }
  // Right algorithm, wrong size: RSA-2048 is not an rsa-3072 key.
  EvpPkeyPtr rsa2048(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  ASSERT_TRUE(rsa2048);
  auto der = EncodePrivateKey(rsa2048.get());
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(DecodePrivateKey(der->view(), KeyType::kRsa3072).status().code(), ErrorCode::kTampered);
}

TEST(CryptoKeyTest, DecodePrivateKeyRefusesGarbage) {
  EXPECT_EQ(DecodePrivateKey(Bytes{}, KeyType::kEcdsaP256).status().code(), ErrorCode::kTampered);
  EXPECT_EQ(DecodePrivateKey(Bytes(100, 0x30), KeyType::kEcdsaP256).status().code(),
            ErrorCode::kTampered);
  auto der = EncodePrivateKey(SharedKey(KeyType::kEcdsaP256));
  ASSERT_TRUE(der.ok());
  Bytes cut(der->data(), der->data() + der->size() / 2);
  EXPECT_EQ(DecodePrivateKey(cut, KeyType::kEcdsaP256).status().code(), ErrorCode::kTampered);
}

TEST(CryptoKeyTest, ParsePublicKeyPemAndDer) {
  for (KeyType type : kAsymmetricTypes) {
    SCOPED_TRACE(std::string(KeyTypeName(type)));
    EVP_PKEY* key = SharedKey(type);
    auto pem = PublicKeyPem(key);
    ASSERT_TRUE(pem.ok());
    EXPECT_TRUE(pem->starts_with("-----BEGIN PUBLIC KEY-----\n")) << *pem;
    EXPECT_NE(pem->find("-----END PUBLIC KEY-----"), std::string::npos);
    EXPECT_EQ(pem->find("PRIVATE"), std::string::npos);
    auto from_pem = ParsePublicKey(AsBytes(*pem));
    ASSERT_TRUE(from_pem.ok()) << from_pem.status().ToString();
    EXPECT_EQ(EVP_PKEY_eq(key, from_pem->get()), 1);

    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(key, &der);
    ASSERT_GT(len, 0);
    Bytes der_bytes(der, der + len);
    OPENSSL_free(der);
    auto from_der = ParsePublicKey(der_bytes);
    ASSERT_TRUE(from_der.ok()) << from_der.status().ToString();
    EXPECT_EQ(EVP_PKEY_eq(key, from_der->get()), 1);
  }
}

TEST(CryptoKeyTest, ParsePublicKeyRefusesGarbage) {
  const std::string bad_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
  for (const Bytes& in : {Bytes{}, Bytes(64, 0x30), ToBytes(bad_pem), ToBytes("-----BEGIN")}) {
    auto k = ParsePublicKey(in);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), ErrorCode::kInvalidArgument);
  }
  // A private key is not a SubjectPublicKeyInfo.
  auto priv = EncodePrivateKey(SharedKey(KeyType::kEcdsaP256));
  ASSERT_TRUE(priv.ok());
  EXPECT_EQ(ParsePublicKey(priv->view()).status().code(), ErrorCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// AEAD

SecretBytes Key32(uint8_t fill) {
  SecretBytes k(kSymmetricKeySize);
  for (size_t i = 0; i < k.size(); ++i) k.data()[i] = static_cast<uint8_t>(fill + i);
  return k;
}

TEST(CryptoAeadTest, RoundTrip) {
  const SecretBytes key = Key32(1);
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{1000}}) {
    Bytes pt(n);
    for (size_t i = 0; i < n; ++i) pt[i] = static_cast<uint8_t>(i * 31);
    for (const Bytes& aad : {Bytes{}, Bytes{'h', 'd', 'r'}}) {
      auto sealed = AeadSeal(key, pt, aad);
      ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
      EXPECT_EQ(sealed->size(), kAeadNonceSize + n + kAeadTagSize);
      auto opened = AeadOpen(key, *sealed, aad);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      EXPECT_EQ(Bytes(opened->data(), opened->data() + opened->size()), pt);
    }
  }
}

TEST(CryptoAeadTest, FreshNonces) {
  const SecretBytes key = Key32(1);
  const Bytes pt(32, 0);
  auto a = AeadSeal(key, pt, {});
  auto b = AeadSeal(key, pt, {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(Bytes(a->begin(), a->begin() + kAeadNonceSize),
            Bytes(b->begin(), b->begin() + kAeadNonceSize));
  EXPECT_NE(*a, *b);
}

TEST(CryptoAeadTest, IsAes256GcmWithNonceFirst) {
  // Decrypt with OpenSSL directly: nonce | ciphertext | tag, AES-256-GCM.
  const SecretBytes key = Key32(9);
  const Bytes pt = {'s', 'e', 'c', 'r', 'e', 't'};
  const Bytes aad = {'a', 'd'};
  auto sealed = AeadSeal(key, pt, aad);
  ASSERT_TRUE(sealed.ok());
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  ASSERT_EQ(EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), sealed->data()),
            1);
  int len = 0;
  ASSERT_EQ(EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())),
            1);
  Bytes out(pt.size() + 16);
  ASSERT_EQ(EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed->data() + kAeadNonceSize,
                              static_cast<int>(pt.size())),
            1);
  out.resize(static_cast<size_t>(len));
  Bytes tag(sealed->end() - kAeadTagSize, sealed->end());
  ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAeadTagSize),
                                tag.data()),
            1);
  uint8_t fin[16];
  EXPECT_EQ(EVP_DecryptFinal_ex(ctx.get(), fin, &len), 1);
  EXPECT_EQ(out, pt);
}

TEST(CryptoAeadTest, WrongAadKeyOrFlippedByteFailsVerification) {
  const SecretBytes key = Key32(1);
  const Bytes pt = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const Bytes aad = {'o', 'w', 'n', 'e', 'r'};
  auto sealed = AeadSeal(key, pt, aad);
  ASSERT_TRUE(sealed.ok());

  EXPECT_EQ(AeadOpen(key, *sealed, Bytes{'o', 'w', 'n', 'e', 'R'}).status().code(),
            ErrorCode::kVerifyFailed);
  EXPECT_EQ(AeadOpen(key, *sealed, Bytes{}).status().code(), ErrorCode::kVerifyFailed);
  EXPECT_EQ(AeadOpen(Key32(2), *sealed, aad).status().code(), ErrorCode::kVerifyFailed);
  for (size_t pos = 0; pos < sealed->size(); ++pos) {
    auto r = AeadOpen(key, Flip(*sealed, pos), aad);
    ASSERT_FALSE(r.ok()) << "flipped byte " << pos << " went unnoticed";
    EXPECT_EQ(r.status().code(), ErrorCode::kVerifyFailed) << pos;
  }
  // Dropping a ciphertext byte shifts the tag: also caught.
  Bytes shorter = *sealed;
  shorter.erase(shorter.begin() + kAeadNonceSize);
  EXPECT_EQ(AeadOpen(key, shorter, aad).status().code(), ErrorCode::kVerifyFailed);
}

TEST(CryptoAeadTest, ShortInputIsInvalidArgument) {
  const SecretBytes key = Key32(1);
  for (size_t n : {size_t{0}, size_t{1}, kAeadNonceSize, kAeadNonceSize + kAeadTagSize - 1}) {
    auto r = AeadOpen(key, Bytes(n, 0), {});
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << n;
  }
  // Exactly nonce + tag is well-formed (an empty plaintext) but this one is not authentic.
  EXPECT_EQ(AeadOpen(key, Bytes(kAeadNonceSize + kAeadTagSize, 0), {}).status().code(),
            ErrorCode::kVerifyFailed);
}

TEST(CryptoAeadTest, WrongKeySizeRefused) {
  SecretBytes short_key(16);
  EXPECT_FALSE(AeadSeal(short_key, Bytes{1}, {}).ok());
  EXPECT_FALSE(AeadOpen(short_key, Bytes(40, 0), {}).ok());
}

// ---------------------------------------------------------------------------------------------
// HKDF, HMAC

TEST(CryptoKdfTest, HkdfSha256Rfc5869Case1) {
  const Bytes ikm(22, 0x0b);
  const Bytes salt = Hex("000102030405060708090a0b0c");
  const Bytes info = Hex("f0f1f2f3f4f5f6f7f8f9");
  auto okm = HkdfSha256(ikm, salt, info, 42);
  ASSERT_TRUE(okm.ok()) << okm.status().ToString();
  EXPECT_EQ(HexEncode(okm->view()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(CryptoKdfTest, HkdfSha256Rfc5869Case3NoSaltNoInfo) {
  auto okm = HkdfSha256(Bytes(22, 0x0b), {}, {}, 42);
  ASSERT_TRUE(okm.ok()) << okm.status().ToString();
  EXPECT_EQ(HexEncode(okm->view()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(CryptoKdfTest, HkdfLengthAndInfoMatter) {
  const Bytes ikm(32, 7);
  auto a = HkdfSha256(ikm, {}, Bytes{'a'}, 32);
  auto b = HkdfSha256(ikm, {}, Bytes{'b'}, 32);
  auto a16 = HkdfSha256(ikm, {}, Bytes{'a'}, 16);
  ASSERT_TRUE(a.ok() && b.ok() && a16.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(HexEncode(a->view()), HexEncode(b->view()));
  EXPECT_EQ(HexEncode(a16->view()), HexEncode(a->view()).substr(0, 32));  // a prefix
}

TEST(CryptoKdfTest, HmacSha256Rfc4231) {
  SecretBytes jefe(AsBytes("Jefe"));
  auto mac = HmacSha256(jefe, AsBytes("what do ya want for nothing?"));
  ASSERT_TRUE(mac.ok()) << mac.status().ToString();
  EXPECT_EQ(HexEncode(*mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  SecretBytes key1(ByteView(Bytes(20, 0x0b)));
  auto mac1 = HmacSha256(key1, AsBytes("Hi There"));
  ASSERT_TRUE(mac1.ok());
  EXPECT_EQ(HexEncode(*mac1), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

// ---------------------------------------------------------------------------------------------
// ECDH

TEST(CryptoEcdhTest, AgreesBothWays) {
  EVP_PKEY* a = SharedKey(KeyType::kEcdsaP256, 0);
  EVP_PKEY* b = SharedKey(KeyType::kEcdsaP256, 1);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  EvpPkeyPtr a_pub = PublicOnly(a);
  EvpPkeyPtr b_pub = PublicOnly(b);
  auto ab = EcdhP256(a, b_pub.get());
  auto ba = EcdhP256(b, a_pub.get());
  ASSERT_TRUE(ab.ok()) << ab.status().ToString();
  ASSERT_TRUE(ba.ok()) << ba.status().ToString();
  EXPECT_EQ(ab->size(), 32u);
  EXPECT_EQ(HexEncode(ab->view()), HexEncode(ba->view()));
  // A third party gets another secret.
  EvpPkeyPtr c(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_TRUE(c);
  auto ac = EcdhP256(a, c.get());
  ASSERT_TRUE(ac.ok());
  EXPECT_NE(HexEncode(ab->view()), HexEncode(ac->view()));
}

TEST(CryptoEcdhTest, RefusesOtherCurvesAndTypes) {
  EVP_PKEY* a = SharedKey(KeyType::kEcdsaP256);
  for (KeyType t : {KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa3072}) {
    EvpPkeyPtr peer = PublicOnly(SharedKey(t));
    auto r = EcdhP256(a, peer.get());
    ASSERT_FALSE(r.ok()) << KeyTypeName(t);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << KeyTypeName(t);
  }
}

// ---------------------------------------------------------------------------------------------
// Misc

TEST(CryptoMiscTest, ConstantTimeEqual) {
  const Bytes a = {1, 2, 3, 4};
  EXPECT_TRUE(ConstantTimeEqual(a, Bytes{1, 2, 3, 4}));
  EXPECT_TRUE(ConstantTimeEqual(Bytes{}, Bytes{}));
  EXPECT_FALSE(ConstantTimeEqual(a, Bytes{1, 2, 3, 5}));
  EXPECT_FALSE(ConstantTimeEqual(a, Bytes{0, 2, 3, 4}));
  EXPECT_FALSE(ConstantTimeEqual(a, Bytes{1, 2, 3}));
  EXPECT_FALSE(ConstantTimeEqual(a, Bytes{1, 2, 3, 4, 0}));
  EXPECT_FALSE(ConstantTimeEqual(Bytes{}, Bytes{0}));
}

TEST(CryptoMiscTest, RandomBytes) {
  auto a = RandomBytes(32);
  auto b = RandomBytes(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(HexEncode(a->view()), HexEncode(b->view()));
  auto empty = RandomBytes(0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace edgetrust::sd
