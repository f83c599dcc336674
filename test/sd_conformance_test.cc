// The conformance suite: every operation of the secure-domain API on every backend (emulated,
// tpm on a real swtpm, pkcs11 on a real SoftHSM2 token), against the real daemon, with results
// checked by tools nobody here wrote: the openssl CLI, python3's `cryptography` and `cbor2`,
// tpm2_checkquote and pkcs11-tool. A backend that lacks a key type says so in `info`, and the
// tests of that type are skipped for it, naming the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include "conformance_fixture.h"

namespace edgetrust::test {
namespace {

TEST_P(Conformance, InfoNamesBackendFeaturesAndCaller) {
  auto info = client_->Info();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->backend, Backend());
  EXPECT_EQ(info->protocol_version, 1u);
  EXPECT_EQ(info->principal, "uid:" + std::to_string(::geteuid()));
  EXPECT_EQ(info->key_count, 0u);
  // Every backend signs with P-256 and offers the symmetric types.
  for (KeyType t : {KeyType::kEcdsaP256, KeyType::kAes256, KeyType::kHmacSha256})
    EXPECT_TRUE(Supports(t)) << KeyTypeName(t);
  // Every feature is listed once, with who provides it.
  for (std::string_view name : {"sign", "aead", "mac", "derive", "ecdh", "random", "seal",
                                "counter", "registers", "attest"}) {
    auto n = std::count_if(info->features.begin(), info->features.end(),
                           [&](const auto& f) { return f.name == name; });
    EXPECT_EQ(n, 1) << name;
  }
  for (const auto& f : info->features) EXPECT_FALSE(f.how.empty()) << f.name;
  const std::set<std::string> levels = {"none", "detected", "hardware"};
  EXPECT_TRUE(levels.count(info->storage_protection)) << info->storage_protection;
  EXPECT_FALSE(info->counter_protection.empty());
  if (Backend() == "emulated") {
    EXPECT_TRUE(info->device.empty()) << info->device;
  } else {
    EXPECT_FALSE(info->device.empty());
    // A hardware backend signs on the hardware.
    auto sign = std::find_if(info->features.begin(), info->features.end(),
                             [](const auto& f) { return f.name == "sign"; });
    ASSERT_NE(sign, info->features.end());
    EXPECT_TRUE(sign->native) << sign->how;
  }
  // The CLI shows the same as JSON.
  auto r = Cli({"--json", "info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["backend"], Backend());
  EXPECT_EQ(j["features"].size(), info->features.size());
  EXPECT_EQ(j["storage_protection"], info->storage_protection);
}

class SigningTypes : public ConformanceBase,
                     public ::testing::WithParamInterface<std::tuple<std::string, KeyType>> {
 protected:
  std::string Backend() const override { return std::get<0>(GetParam()); }
};

TEST_P(SigningTypes, SignVerifiesWithOpensslAndDaemon) {
  const KeyType type = std::get<1>(GetParam());
  SKIP_UNLESS_SUPPORTED(type);
  const std::string name = "k-" + std::string(KeyTypeName(type));
  auto created = client_->CreateKey(name, type);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->type, KeyTypeName(type));
  EXPECT_EQ(created->state, "ok");

  const std::string message = "firmware manifest v1.2.3 for gateway 42";
  auto sig = client_->Sign(name, AsBytes(message));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  ExpectOpensslVerifies(name, type, message, *sig);
  ExpectOpensslVerifies(name, type, message + "!", *sig, /*expect_ok=*/false);

  auto valid = client_->Verify(name, AsBytes(message), *sig);
  ASSERT_TRUE(valid.ok());
  EXPECT_TRUE(*valid);
  Bytes bad = *sig;
  bad[bad.size() / 2] ^= 0x01;
  auto invalid = client_->Verify(name, AsBytes(message), bad);
  ASSERT_TRUE(invalid.ok());
  EXPECT_FALSE(*invalid);

  // Private key material is never exported: the PEM is a public key only.
  auto pem = client_->PublicKeyPem(name);
  ASSERT_TRUE(pem.ok());
  EXPECT_NE(pem->find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
  EXPECT_EQ(pem->find("PRIVATE"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    AllBackends, SigningTypes,
    ::testing::Combine(::testing::ValuesIn(BackendEnv::All()),
                       ::testing::Values(KeyType::kEcdsaP256, KeyType::kEcdsaP384,
                                         KeyType::kEd25519, KeyType::kRsa3072)),
    [](const auto& p) {
      std::string n = std::get<0>(p.param) + "_" + std::string(KeyTypeName(std::get<1>(p.param)));
      std::replace(n.begin(), n.end(), '-', '_');
      return n;
    });

TEST_P(Conformance, SignDigestMatchesOpensslForEcdsaAndRsaVariants) {
  SKIP_UNLESS_SUPPORTED(KeyType::kRsa3072);
  ASSERT_TRUE(client_->CreateKey("p256", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(client_->CreateKey("rsa", KeyType::kRsa3072).ok());
  const std::string message = "pre-hashed by the caller";
  // SHA-256 of the message, from openssl, so the digest is independent of our code.
  WriteText(dir_.File("m.bin"), message);
  auto hex = RunCommand({"openssl", "dgst", "-sha256", "-binary", dir_.File("m.bin")});
  ASSERT_EQ(hex.exit_code, 0);
  Bytes digest(hex.out.begin(), hex.out.end());
  ASSERT_EQ(digest.size(), 32u);

  auto sig = client_->SignDigest("p256", digest);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  ExpectOpensslVerifies("p256", KeyType::kEcdsaP256, message, *sig);

  // RSA PKCS#1 v1.5 over SHA-256, as TLS 1.2 uses it.
  auto pkcs1 = client_->SignDigest("rsa", digest, {SignAlgorithm::kRsaPkcs1Sha256});
  ASSERT_TRUE(pkcs1.ok()) << pkcs1.status().ToString();
  WriteText(dir_.File("rsa.pem"), *client_->PublicKeyPem("rsa"));
  WriteText(dir_.File("pkcs1.sig"), Str(*pkcs1));
  auto r = RunCommand({"openssl", "dgst", "-sha256", "-verify", dir_.File("rsa.pem"), "-signature",
                       dir_.File("pkcs1.sig"), dir_.File("m.bin")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // Wrong digest length and a mismatched algorithm are clear errors.
  auto short_digest = client_->SignDigest("p256", Bytes(20, 1));
  EXPECT_EQ(short_digest.status().code(), ErrorCode::kInvalidArgument);
  auto wrong_alg = client_->Sign("p256", AsBytes(message), {SignAlgorithm::kRsaPssSha256});
  EXPECT_EQ(wrong_alg.status().code(), ErrorCode::kUnsupported);
}

TEST_P(Conformance, AeadRoundTripBindsAssociatedData) {
  ASSERT_TRUE(client_->CreateKey("records", KeyType::kAes256).ok());
  const std::string record = R"({"sensor":"temp-1","celsius":21.5})";
  auto ct = client_->Encrypt("records", AsBytes(record), AsBytes("sensor-42"));
  ASSERT_TRUE(ct.ok()) << ct.status().ToString();
  EXPECT_EQ(ct->size(), record.size() + 12 + 16);
  EXPECT_EQ(Str(*ct).find("celsius"), std::string::npos);

  auto pt = client_->Decrypt("records", *ct, AsBytes("sensor-42"));
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  EXPECT_EQ(Str(*pt), record);

  EXPECT_EQ(client_->Decrypt("records", *ct, AsBytes("sensor-43")).status().code(),
            ErrorCode::kVerifyFailed);
  EXPECT_EQ(client_->Decrypt("records", *ct).status().code(), ErrorCode::kVerifyFailed);
  Bytes flipped = *ct;
  flipped[14] ^= 0x80;
  EXPECT_EQ(client_->Decrypt("records", flipped, AsBytes("sensor-42")).status().code(),
            ErrorCode::kVerifyFailed);
  EXPECT_EQ(client_->Decrypt("records", Bytes(10, 0)).status().code(), ErrorCode::kInvalidArgument);

  // Two encryptions of one record differ (fresh nonce each time).
  auto ct2 = client_->Encrypt("records", AsBytes(record), AsBytes("sensor-42"));
  ASSERT_TRUE(ct2.ok());
  EXPECT_NE(*ct, *ct2);

  // An empty plaintext is fine too.
  auto empty = client_->Encrypt("records", {});
  ASSERT_TRUE(empty.ok());
  auto empty_pt = client_->Decrypt("records", *empty);
  ASSERT_TRUE(empty_pt.ok());
  EXPECT_EQ(empty_pt->size(), 0u);
}

TEST_P(Conformance, MacAndMacVerify) {
  ASSERT_TRUE(client_->CreateKey("mac", KeyType::kHmacSha256).ok());
  auto mac = client_->Mac("mac", AsBytes("hello"));
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(mac->size(), 32u);
  auto again = client_->Mac("mac", AsBytes("hello"));
  EXPECT_EQ(*mac, *again);
  EXPECT_NE(*mac, *client_->Mac("mac", AsBytes("hellp")));
  EXPECT_TRUE(*client_->MacVerify("mac", AsBytes("hello"), *mac));
  Bytes bad = *mac;
  bad[0] ^= 1;
  EXPECT_FALSE(*client_->MacVerify("mac", AsBytes("hello"), bad));
  EXPECT_FALSE(
      *client_->MacVerify("mac", AsBytes("hello"), Bytes(mac->begin(), mac->begin() + 16)));
}

TEST_P(Conformance, HkdfDerivationIsDeterministicAndInfoSeparated) {
  ASSERT_TRUE(client_->CreateKey("base", KeyType::kHmacSha256).ok());
  ASSERT_TRUE(client_->Derive("base", "d1", AsBytes("telemetry v1")).ok());
  ASSERT_TRUE(client_->Derive("base", "d2", AsBytes("telemetry v1")).ok());
  ASSERT_TRUE(client_->Derive("base", "d3", AsBytes("commands v1")).ok());
  auto derived_aes =
      client_->Derive("base", "d4", AsBytes("records"), AsBytes("salt"), KeyType::kAes256);
  ASSERT_TRUE(derived_aes.ok()) << derived_aes.status().ToString();
  EXPECT_EQ(derived_aes->type, "aes-256");

  auto m1 = client_->Mac("d1", AsBytes("x"));
  auto m2 = client_->Mac("d2", AsBytes("x"));
  auto m3 = client_->Mac("d3", AsBytes("x"));
  ASSERT_TRUE(m1.ok() && m2.ok() && m3.ok());
  EXPECT_EQ(*m1, *m2);
  EXPECT_NE(*m1, *m3);
  EXPECT_NE(*m1, *client_->Mac("base", AsBytes("x")));
  auto ct = client_->Encrypt("d4", AsBytes("secret"));
  ASSERT_TRUE(ct.ok());

  EXPECT_EQ(client_->Derive("base", "d1", AsBytes("again")).status().code(),
            ErrorCode::kAlreadyExists);
  ASSERT_TRUE(client_->CreateKey("sig", KeyType::kEcdsaP256).ok());
  EXPECT_EQ(client_->Derive("sig", "d5", AsBytes("x")).status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(client_->Derive("base", "d6", AsBytes("x"), {}, KeyType::kEd25519).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_P(Conformance, EcdhMatchesPythonCryptography) {
  ASSERT_TRUE(client_->CreateKey("dh", KeyType::kEcdsaP256).ok());
  auto our_pub = client_->PublicKeyPem("dh");
  ASSERT_TRUE(our_pub.ok());
  WriteText(dir_.File("our.pem"), *our_pub);
  // python3 `cryptography` plays the peer: it makes a key pair, computes ECDH and HKDF-SHA256
  // (no salt, our info), and prints HMAC-SHA256(derived, "probe") plus its public key.
  const std::string script = R"PY(
import sys
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
ours = serialization.load_pem_public_key(open(sys.argv[1], 'rb').read())
peer = ec.generate_private_key(ec.SECP256R1())
shared = peer.exchange(ec.ECDH(), ours)
key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b'leaf-7 link').derive(shared)
h = hmac.HMAC(key, hashes.SHA256()); h.update(b'probe')
open(sys.argv[2], 'wb').write(peer.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
print(h.finalize().hex())
)PY";
  WriteText(dir_.File("peer.py"), script);
  auto r = RunCommand(
      {"/usr/bin/python3", dir_.File("peer.py"), dir_.File("our.pem"), dir_.File("peer.pem")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string peer_pem = ReadText(dir_.File("peer.pem"));
  auto created = client_->Ecdh("dh", AsBytes(peer_pem), "link", AsBytes("leaf-7 link"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->type, "hmac-sha256");
  auto mac = client_->Mac("link", AsBytes("probe"));
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(Hex(*mac) + "\n", r.out);

  // A P-384 peer key and garbage are refused with clear errors.
  auto p384 =
      RunCommand({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"});
  ASSERT_EQ(p384.exit_code, 0);
  auto p384_pub = RunCommand({"openssl", "pkey", "-pubout"}, p384.out);
  EXPECT_EQ(client_->Ecdh("dh", AsBytes(p384_pub.out), "x1").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->Ecdh("dh", AsBytes("not a key"), "x2").status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_P(Conformance, RandomBytes) {
  auto a = client_->Random(32);
  auto b = client_->Random(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  auto big = client_->Random(1 << 20);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->size(), 1u << 20);
  EXPECT_EQ(client_->Random(0).status().code(), ErrorCode::kInvalidArgument);
}

TEST_P(Conformance, ListDeleteAndErrors) {
  ASSERT_TRUE(client_->CreateKey("a", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(client_->CreateKey("b", KeyType::kAes256).ok());
  EXPECT_EQ(client_->CreateKey("a", KeyType::kEcdsaP256).status().code(),
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(client_->CreateKey("../etc", KeyType::kEcdsaP256).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->CreateKey(".hidden", KeyType::kEcdsaP256).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(client_->CreateKey(std::string(65, 'x'), KeyType::kEcdsaP256).status().code(),
            ErrorCode::kTooLarge);

  auto keys = client_->ListKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].name, "a");
  EXPECT_EQ((*keys)[1].name, "b");
  EXPECT_EQ((*keys)[1].type, "aes-256");

  // Operations that do not fit the key type.
  EXPECT_EQ(client_->Sign("b", AsBytes("x")).status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(client_->Encrypt("a", AsBytes("x")).status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(client_->Mac("b", AsBytes("x")).status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(client_->PublicKeyPem("b").status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(client_->Sign("missing", AsBytes("x")).status().code(), ErrorCode::kNotFound);

  ASSERT_TRUE(client_->DeleteKey("a").ok());
  EXPECT_EQ(client_->DeleteKey("a").code(), ErrorCode::kNotFound);
  EXPECT_EQ(client_->Sign("a", AsBytes("x")).status().code(), ErrorCode::kNotFound);
  keys = client_->ListKeys();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 1u);
  // The name can be reused after deletion, and it is a new key.
  ASSERT_TRUE(client_->CreateKey("a", KeyType::kEcdsaP256).ok());
}

TEST_P(Conformance, SharedClientPipelinesFromManyThreads) {
  ASSERT_TRUE(client_->CreateKey("p", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(client_->CreateKey("m", KeyType::kHmacSha256).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string msg = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto sig = client_->Sign("p", AsBytes(msg));
        if (!sig.ok() || !*client_->Verify("p", AsBytes(msg), *sig)) ++failures;
        auto mac = client_->Mac("m", AsBytes(msg));
        if (!mac.ok() || !*client_->MacVerify("m", AsBytes(msg), *mac)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(Conformance, CAbiCheckProgramPasses) {
  auto r = RunCommand({C_ABI_CHECK_BIN, sd_->socket()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("c_abi_check: ok"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Conformance, ::testing::ValuesIn(BackendEnv::All()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace edgetrust::test
