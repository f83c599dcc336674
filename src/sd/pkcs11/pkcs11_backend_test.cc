// The pkcs11 backend against a real SoftHSM2 token (test/softhsm.h), with results checked by
// OpenSSL in-process, the openssl CLI and OpenSC's pkcs11-tool. No mocks.
#include "sd/pkcs11/pkcs11_backend.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "common/hex.h"
#include "sd/crypto.h"
#include "sd/object_store.h"
#include "sd/pkcs11/pkcs11_backend_impl.h"
#include "sd/pkcs11/pkcs11_encoding.h"
#include "sd/pkcs11/pkcs11_errors.h"
#include "sd/state_dir.h"
#include "softhsm.h"

namespace edgetrust::sd {
namespace {

using test::CommandResult;
using test::RunCommand;
using test::SoftHsmToken;
using test::TempDir;

const std::string kOwner = "uid:1000";

KeyId Id(const std::string& name, const std::string& owner = kOwner) { return KeyId{owner, name}; }

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

class Pkcs11BackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!SoftHsmToken::Available()) GTEST_SKIP() << "SoftHSM2 is not installed";
    token_ = std::make_unique<SoftHsmToken>(dir_, "edgetrust");
    ASSERT_TRUE(token_->Init()) << token_->error();
    // SoftHSM2 reads its config when the module is initialised, i.e. when the first backend of a
    // test loads it (the last backend of the previous test finalised it).
    ::setenv("SOFTHSM2_CONF", token_->conf().c_str(), 1);
    auto state = StateDir::Open(dir_.File("state"));
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(state).value();
  }

  Pkcs11Options Options() const {
    return Pkcs11Options{SoftHsmToken::Module(), token_->label(), token_->pin_file()};
  }

  std::unique_ptr<pkcs11::Pkcs11Backend> Open(const StateDir& state, const Pkcs11Options& o) {
    auto b = pkcs11::Pkcs11Backend::Create(state, o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }
  std::unique_ptr<pkcs11::Pkcs11Backend> Open() { return Open(*state_, Options()); }

  // pkcs11-tool --list-objects, as an independent view of the token.
  CommandResult ListObjects(const SoftHsmToken& t) {
    return RunCommand({"env", t.EnvAssignment(), "pkcs11-tool", "--module", SoftHsmToken::Module(),
                       "--token-label", t.label(), "--login", "--pin", t.pin(), "--list-objects"});
  }

  std::string WriteFile(const std::string& name, ByteView data) {
    std::string path = dir_.File(name);
    test::WriteText(path, std::string(data.begin(), data.end()));
    return path;
  }

  TempDir dir_;
  std::unique_ptr<SoftHsmToken> token_;
  std::unique_ptr<StateDir> state_;
};

// pkcs11-tool's objects: "Private Key Object; EC" then indented "label:", "ID:", "Access:" lines.
struct ToolObject {
  std::string kind;
  std::map<std::string, std::string> fields;
};

std::vector<ToolObject> ParseObjects(const std::string& out) {
  std::vector<ToolObject> objects;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("Object;") != std::string::npos && line[0] != ' ') {
      objects.push_back(ToolObject{line, {}});
    } else if (!objects.empty() && line.size() > 2 && line[0] == ' ') {
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string key = line.substr(0, colon);
      key.erase(0, key.find_first_not_of(' '));
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      objects.back().fields[key] = value;
    }
  }
  return objects;
}

// "extractable" as an access flag of its own, not as part of "never extractable".
bool SaysExtractable(const std::string& access) {
  std::istringstream in(access);
  std::string flag;
  while (std::getline(in, flag, ',')) {
    flag.erase(0, flag.find_first_not_of(' '));
    if (flag == "extractable") return true;
  }
  return false;
}

TEST_F(Pkcs11BackendTest, ReportsWhatItIs) {
  auto b = Open();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->Name(), "pkcs11");
  EXPECT_FALSE(b->IsEmulated());
  EXPECT_EQ(b->SupportedKeyTypes().size(), 6u);  // SoftHSM2 2.6 has every mechanism we use
  const std::string device = b->Device();
  EXPECT_NE(device.find("token \"edgetrust\""), std::string::npos) << device;
  EXPECT_NE(device.find("SoftHSM"), std::string::npos) << device;
  EXPECT_NE(device.find("software token"), std::string::npos) << device;
  EXPECT_NE(device.find(SoftHsmToken::Module()), std::string::npos) << device;
  bool software_notice = false;
  for (const auto& n : b->Notices())
    software_notice |= n.find("software token") != std::string::npos;
  EXPECT_TRUE(software_notice);
  std::map<std::string, bool> native;
  for (const auto& f : b->Features()) {
    EXPECT_FALSE(f.how.empty()) << f.name;
    EXPECT_EQ(f.how.find("unavailable"), std::string::npos) << f.name << ": " << f.how;
    native[f.name] = f.native;
  }
  const std::map<std::string, bool> expected = {
      {"sign", true},   {"aead", true}, {"mac", true},      {"derive", false},    {"ecdh", false},
      {"random", true}, {"seal", true}, {"counter", false}, {"registers", false}, {"attest", true}};
  EXPECT_EQ(native, expected);
  EXPECT_EQ(b->StorageProtection(), "detected");
  EXPECT_NE(b->CounterProtection().find("not detected"), std::string::npos);
  // What `edgetrust info` shows whole (the dispatcher cuts longer text at 256 characters).
  EXPECT_LE(b->CounterProtection().size(), 256u);
  EXPECT_LE(device.size(), 256u);
  for (const auto& f : b->Features()) EXPECT_LE(f.name.size() + 10 + f.how.size(), 256u) << f.name;
  EXPECT_GE(b->token().pool().size(), 4u);
  StartupAudit audit = b->Audit();
  EXPECT_TRUE(audit.problems.empty());
  EXPECT_EQ(audit.authentic, 3u);  // the attestation, sealing and counter keys
}

TEST_F(Pkcs11BackendTest, CreateListDeleteEveryKeyType) {
  auto b = Open();
  ASSERT_TRUE(b);
  for (KeyType t : b->SupportedKeyTypes()) {
    const std::string name = "k-" + std::string(KeyTypeName(t));
    auto meta = b->CreateKey(Id(name), t);
    ASSERT_TRUE(meta.ok()) << name << ": " << meta.status().ToString();
    EXPECT_EQ(meta->type, t);
    EXPECT_EQ(b->CreateKey(Id(name), t).status().code(), ErrorCode::kAlreadyExists);
  }
  auto list = b->ListKeys(kOwner);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 6u);
  for (const auto& m : *list) EXPECT_EQ(m.state, "ok") << m.id.name;
  EXPECT_EQ(b->KeyCount(kOwner), 6u);
  // The service keys belong to nobody: not in a whole-store listing either.
  auto all = b->ListKeys(std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 6u);

  // Public keys of every asymmetric type parse, and symmetric keys have none.
  for (KeyType t : b->SupportedKeyTypes()) {
    auto pem = b->PublicKeyPem(Id("k-" + std::string(KeyTypeName(t))));
    if (IsAsymmetric(t)) {
      ASSERT_TRUE(pem.ok()) << pem.status().ToString();
      EXPECT_TRUE(ParsePublicKey(AsBytes(*pem)).ok());
    } else {
      EXPECT_EQ(pem.status().code(), ErrorCode::kUnsupported);
    }
  }

  for (KeyType t : b->SupportedKeyTypes()) {
    ASSERT_TRUE(b->DeleteKey(Id("k-" + std::string(KeyTypeName(t)))).ok());
  }
  EXPECT_EQ(b->DeleteKey(Id("k-aes-256")).code(), ErrorCode::kNotFound);
  EXPECT_EQ(b->Sign(Id("k-ecdsa-p256"), SignAlgorithm::kDefault, AsBytes("m"), std::nullopt)
                .status()
                .code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(b->KeyCount(kOwner), 0u);
  // Their token objects are gone too: only the three service keys' objects remain.
  auto objects = ParseObjects(ListObjects(*token_).out);
  for (const auto& o : objects) {
    EXPECT_EQ(o.fields.at("label").rfind("edgetrust:edgetrust-sd/", 0), 0u) << o.fields.at("label");
  }
  EXPECT_EQ(objects.size(), 4u);  // attestation key pair, sealing key, counter key

  // A name can be used again, for a new key.
  ASSERT_TRUE(b->CreateKey(Id("k-ecdsa-p256"), KeyType::kEcdsaP256).ok());
}

TEST_F(Pkcs11BackendTest, Pkcs11ToolSeesOurKeysSensitiveAndNotExtractable) {
  auto b = Open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->CreateKey(Id("device-id"), KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(b->CreateKey(Id("records"), KeyType::kAes256).ok());
  ASSERT_TRUE(b->CreateKey(Id("mac"), KeyType::kHmacSha256).ok());
  ASSERT_TRUE(b->Derive(Id("mac"), Id("derived"), std::nullopt, {}, AsBytes("info")).ok());

  CommandResult r = ListObjects(*token_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int> seen;
  for (const auto& o : ParseObjects(r.out)) {
    const std::string label = o.fields.count("label") ? o.fields.at("label") : "";
    ASSERT_EQ(label.rfind("edgetrust:", 0), 0u) << "foreign object " << o.kind;
    EXPECT_EQ(o.fields.count("ID") ? o.fields.at("ID").size() : 0u, 2 * pkcs11::kObjectIdSize);
    if (o.kind.rfind("Public Key Object", 0) == 0) continue;
    ++seen[label];
    const std::string access = o.fields.count("Access") ? o.fields.at("Access") : "";
    EXPECT_NE(access.find("sensitive"), std::string::npos) << label << ": " << access;
    EXPECT_FALSE(SaysExtractable(access)) << label << ": " << access;
    // Generated on the token: never extractable. A derived key was created from its value
    // (C_CreateObject), so the token cannot vouch for its past, but it is not extractable either.
    if (label != "edgetrust:uid:1000/derived") {
      EXPECT_NE(access.find("never extractable"), std::string::npos) << label << ": " << access;
    }
  }
  EXPECT_EQ(seen["edgetrust:uid:1000/device-id"], 1);
  EXPECT_EQ(seen["edgetrust:uid:1000/records"], 1);
  EXPECT_EQ(seen["edgetrust:uid:1000/mac"], 1);
  EXPECT_EQ(seen["edgetrust:uid:1000/derived"], 1);
  EXPECT_EQ(seen["edgetrust:edgetrust-sd/attestation"], 1);
  EXPECT_EQ(seen["edgetrust:edgetrust-sd/sealing"], 1);
  EXPECT_EQ(seen["edgetrust:edgetrust-sd/counters"], 1);

  // Without the PIN the token shows none of them (CKA_PRIVATE).
  CommandResult anonymous =
      RunCommand({"env", token_->EnvAssignment(), "pkcs11-tool", "--module", SoftHsmToken::Module(),
                  "--token-label", token_->label(), "--list-objects"});
  EXPECT_EQ(anonymous.out.find("edgetrust:"), std::string::npos) << anonymous.out;
}

struct SignCase {
  std::string key;
  SignAlgorithm alg;
  std::vector<std::string> openssl_verify;  // options after "openssl dgst", before -verify
};

TEST_F(Pkcs11BackendTest, SignsLikeTheEmulatedBackendAndOpensslVerifies) {
  auto b = Open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->CreateKey(Id("p256"), KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(b->CreateKey(Id("p384"), KeyType::kEcdsaP384).ok());
  ASSERT_TRUE(b->CreateKey(Id("ed"), KeyType::kEd25519).ok());
  ASSERT_TRUE(b->CreateKey(Id("rsa"), KeyType::kRsa3072).ok());
  const Bytes msg = B("firmware manifest v1.2.3");

  const std::vector<SignCase> cases = {
      {"p256", SignAlgorithm::kDefault, {"-sha256"}},
      {"p256", SignAlgorithm::kEcdsaSha384, {"-sha384"}},
      {"p384", SignAlgorithm::kDefault, {"-sha384"}},
      {"p384", SignAlgorithm::kEcdsaSha512, {"-sha512"}},
      {"rsa",
       SignAlgorithm::kDefault,
       {"-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}},
      {"rsa",
       SignAlgorithm::kRsaPssSha384,
       {"-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:48"}},
      {"rsa", SignAlgorithm::kRsaPkcs1Sha256, {"-sha256"}},
      {"rsa", SignAlgorithm::kRsaPkcs1Sha512, {"-sha512"}},
  };
  const std::string msg_path = WriteFile("msg", msg);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key + " " + std::string(SignAlgorithmName(c.alg)));
    auto sig = b->Sign(Id(c.key), c.alg, msg, std::nullopt);
    ASSERT_TRUE(sig.ok()) << sig.status().ToString();
    auto ok = b->Verify(Id(c.key), c.alg, msg, std::nullopt, *sig);
    ASSERT_TRUE(ok.ok());
    EXPECT_TRUE(*ok);
    Bytes bad = *sig;
    bad[bad.size() / 2] ^= 0x01;
    EXPECT_FALSE(*b->Verify(Id(c.key), c.alg, msg, std::nullopt, bad));
    EXPECT_FALSE(*b->Verify(Id(c.key), c.alg, B("another message"), std::nullopt, *sig));

    // The same signature over the message's digest, and the openssl CLI's opinion.
    auto resolved = ResolveSignAlgorithm(c.key == "rsa"    ? KeyType::kRsa3072
                                         : c.key == "p256" ? KeyType::kEcdsaP256
                                                           : KeyType::kEcdsaP384,
                                         c.alg);
    ASSERT_TRUE(resolved);
    auto digest = pkcs11::HashFor(*resolved, msg);
    ASSERT_TRUE(digest.ok());
    auto dsig = b->Sign(Id(c.key), c.alg, std::nullopt, *digest);
    ASSERT_TRUE(dsig.ok()) << dsig.status().ToString();
    EXPECT_TRUE(*b->Verify(Id(c.key), c.alg, msg, std::nullopt, *dsig));
    EXPECT_TRUE(*b->Verify(Id(c.key), c.alg, std::nullopt, *digest, *sig));

    auto pem = b->PublicKeyPem(Id(c.key));
    ASSERT_TRUE(pem.ok());
    const std::string pub = WriteFile(c.key + ".pem", AsBytes(*pem));
    const std::string sig_path = WriteFile("sig", *sig);
    std::vector<std::string> argv = {"openssl", "dgst"};
    argv.insert(argv.end(), c.openssl_verify.begin(), c.openssl_verify.end());
    argv.insert(argv.end(), {"-verify", pub, "-signature", sig_path, msg_path});
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Verified OK"), std::string::npos) << r.out;
  }

  // Ed25519: raw 64-byte signatures, messages only.
  auto sig = b->Sign(Id("ed"), SignAlgorithm::kDefault, msg, std::nullopt);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(*b->Verify(Id("ed"), SignAlgorithm::kEd25519, msg, std::nullopt, *sig));
  const std::string pub = WriteFile("ed.pem", AsBytes(*b->PublicKeyPem(Id("ed"))));
  CommandResult r = RunCommand({"openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin",
                                "-in", msg_path, "-sigfile", WriteFile("ed.sig", *sig)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  Bytes digest32(32, 0x11);
  EXPECT_EQ(b->Sign(Id("ed"), SignAlgorithm::kDefault, std::nullopt, digest32).status().code(),
            ErrorCode::kUnsupported);

  // Algorithms that do not fit the key, digests of the wrong size, symmetric keys.
  EXPECT_EQ(b->Sign(Id("p256"), SignAlgorithm::kRsaPssSha256, msg, std::nullopt).status().code(),
            ErrorCode::kUnsupported);
  EXPECT_EQ(b->Sign(Id("rsa"), SignAlgorithm::kEd25519, msg, std::nullopt).status().code(),
            ErrorCode::kUnsupported);
  EXPECT_EQ(
      b->Sign(Id("p256"), SignAlgorithm::kDefault, std::nullopt, Bytes(20, 1)).status().code(),
      ErrorCode::kInvalidArgument);
  ASSERT_TRUE(b->CreateKey(Id("aes"), KeyType::kAes256).ok());
  EXPECT_EQ(b->Sign(Id("aes"), SignAlgorithm::kDefault, msg, std::nullopt).status().code(),
            ErrorCode::kUnsupported);

  // The public key was read once and cached: verifying needs no session.
  EXPECT_TRUE(*b->Verify(Id("p256"), SignAlgorithm::kDefault, msg, std::nullopt,
                         *b->Sign(Id("p256"), SignAlgorithm::kDefault, msg, std::nullopt)));
}

TEST_F(Pkcs11BackendTest, ConcurrentSignersShareThePool) {
  auto b = Open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->CreateKey(Id("shared"), KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(b->CreateKey(Id("mac"), KeyType::kHmacSha256).ok());
  const size_t threads = 2 * b->token().pool().size();  // more callers than sessions
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::string own = "t" + std::to_string(t);
      if (t % 2 == 0 && !b->CreateKey(Id(own), KeyType::kEcdsaP256).ok()) ++failures;
      for (int i = 0; i < 40; ++i) {
        const Bytes msg = B(own + "/" + std::to_string(i));
        const KeyId key = Id(t % 2 == 0 ? own : "shared");
        auto sig = b->Sign(key, SignAlgorithm::kDefault, msg, std::nullopt);
        if (!sig.ok() || !*b->Verify(key, SignAlgorithm::kDefault, msg, std::nullopt, *sig))
          ++failures;
        auto mac = b->Mac(Id("mac"), msg);
        if (!mac.ok() || !*b->MacVerify(Id("mac"), msg, *mac)) ++failures;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(Pkcs11BackendTest, AeadRoundTripAndTamper) {
  auto b = Open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->CreateKey(Id("aes"), KeyType::kAes256).ok());
  const Bytes plain = B("sensor 7: 21.5 C");
  const Bytes aad = B("sensor-7");
  auto ct = b->Encrypt(Id("aes"), plain, aad);
  ASSERT_TRUE(ct.ok()) << ct.status().ToString();
  EXPECT_EQ(ct->size(), kAeadNonceSize + plain.size() + kAeadTagSize);
  auto back = b->Decrypt(Id("aes"), *ct, aad);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(Bytes(back->view().begin(), back->view().end()), plain);
  // A fresh nonce each time.
  EXPECT_NE(*b->Encrypt(Id("aes"), plain, aad), *ct);

  // Every part is authenticated: the same error code as the emulated backend (AeadOpen).
  for (size_t pos : {size_t{0}, kAeadNonceSize, ct->size() - 1}) {
    Bytes bad = *ct;
    bad[pos] ^= 0x80;
    EXPECT_EQ(b->Decrypt(Id("aes"), bad, aad).status().code(), ErrorCode::kVerifyFailed) << pos;
  }
  EXPECT_EQ(b->Decrypt(Id("aes"), *ct, B("sensor-8")).status().code(), ErrorCode::kVerifyFailed);
  EXPECT_EQ(b->Decrypt(Id("aes"), Bytes(27, 0), aad).status().code(), ErrorCode::kInvalidArgument);
  // The session that saw the failure is fine afterwards.
  EXPECT_TRUE(b->Decrypt(Id("aes"), *ct, aad).ok());

  // Empty plaintext and empty associated data.
  auto empty = b->Encrypt(Id("aes"), {}, {});
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->size(), kAeadNonceSize + kAeadTagSize);
  auto empty_back = b->Decrypt(Id("aes"), *empty, {});
  ASSERT_TRUE(empty_back.ok()) << empty_back.status().ToString();
  EXPECT_TRUE(empty_back->empty());

  ASSERT_TRUE(b->CreateKey(Id("mac"), KeyType::kHmacSha256).ok());
  EXPECT_EQ(b->Encrypt(Id("mac"), plain, aad).status().code(), ErrorCode::kUnsupported);
}

// The ECDH result is a key whose value the test knows, so it checks the whole chain against
// OpenSSL: ECDH on the token, HKDF (partly on the token), AES-GCM format, HMAC, and Derive.
TEST_F(Pkcs11BackendTest, EcdhDeriveMacAndAeadMatchOpenssl) {
  auto b = Open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->CreateKey(Id("ecdh"), KeyType::kEcdsaP256).ok());
  auto peer = GenerateKeyPair(KeyType::kEcdsaP256);
  ASSERT_TRUE(peer.ok());
  auto peer_pem = PublicKeyPem(peer->get());
  ASSERT_TRUE(peer_pem.ok());
  auto our_pub = ParsePublicKey(AsBytes(*b->PublicKeyPem(Id("ecdh"))));
  ASSERT_TRUE(our_pub.ok());
  auto shared = EcdhP256(peer->get(), our_pub->get());
  ASSERT_TRUE(shared.ok());
  const Bytes info = B("edgetrust ecdh test");
  auto expected = HkdfSha256(shared->view(), {}, info, 32);
  ASSERT_TRUE(expected.ok());

  auto mac_key =
      b->Ecdh(Id("ecdh"), AsBytes(*peer_pem), Id("ecdh-mac"), KeyType::kHmacSha256, info);
  ASSERT_TRUE(mac_key.ok()) << mac_key.status().ToString();
  EXPECT_EQ(mac_key->type, KeyType::kHmacSha256);
  const Bytes data = B("hello sensor");
  auto mac = b->Mac(Id("ecdh-mac"), data);
  ASSERT_TRUE(mac.ok()) << mac.status().ToString();
  EXPECT_EQ(*mac, *HmacSha256(*expected, data));
  EXPECT_TRUE(*b->MacVerify(Id("ecdh-mac"), data, *mac));
  Bytes bad_mac = *mac;
  bad_mac[0] ^= 1;
  EXPECT_FALSE(*b->MacVerify(Id("ecdh-mac"), data, bad_mac));
  EXPECT_FALSE(*b->MacVerify(Id("ecdh-mac"), data, Bytes(mac->begin(), mac->begin() + 16)));

  // The peer's side opens what the backend sealed with the ECDH-derived AES key, and back.
  ASSERT_TRUE(b->Ecdh(Id("ecdh"), AsBytes(*peer_pem), Id("ecdh-aes"), KeyType::kAes256, info).ok());
  auto ct = b->Encrypt(Id("ecdh-aes"), data, B("aad"));
  ASSERT_TRUE(ct.ok());
  auto opened = AeadOpen(*expected, *ct, B("aad"));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(Bytes(opened->view().begin(), opened->view().end()), data);
  auto from_peer = AeadSeal(*expected, data, B("aad"));
  ASSERT_TRUE(from_peer.ok());
  auto dec = b->Decrypt(Id("ecdh-aes"), *from_peer, B("aad"));
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(Bytes(dec->view().begin(), dec->view().end()), data);

  // Derive from the known key: HKDF-SHA256 with salt and info, bit for bit, for every salt
  // length class (none, short, longer than a SHA-256 block).
  for (size_t salt_len : {size_t{0}, size_t{16}, size_t{100}}) {
    SCOPED_TRACE(salt_len);
    const Bytes salt(salt_len, 0x5a);
    const std::string out = "derived-" + std::to_string(salt_len);
    auto derived = b->Derive(Id("ecdh-mac"), Id(out), std::nullopt, salt, B("purpose"));
    ASSERT_TRUE(derived.ok()) << derived.status().ToString();
    EXPECT_EQ(derived->type, KeyType::kHmacSha256);
    auto want = HkdfSha256(expected->view(), salt, B("purpose"), 32);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(*b->Mac(Id(out), data), *HmacSha256(*want, data));
  }
  // Into another type, from an AES base.
  auto as_aes = b->Derive(Id("ecdh-aes"), Id("aes-from-aes"), KeyType::kAes256, B("s"), B("i"));
  ASSERT_TRUE(as_aes.ok()) << as_aes.status().ToString();
  auto aes_ct = b->Encrypt(Id("aes-from-aes"), data, {});
  ASSERT_TRUE(aes_ct.ok());
  EXPECT_TRUE(AeadOpen(*HkdfSha256(expected->view(), B("s"), B("i"), 32), *aes_ct, {}).ok());

  // What does not fit.
  EXPECT_EQ(b->Derive(Id("ecdh"), Id("x"), std::nullopt, {}, {}).status().code(),
            ErrorCode::kUnsupported);
  EXPECT_EQ(b->Derive(Id("ecdh-mac"), Id("derived-0"), std::nullopt, {}, {}).status().code(),
            ErrorCode::kAlreadyExists);
  ASSERT_TRUE(b->CreateKey(Id("p384"), KeyType::kEcdsaP384).ok());
  EXPECT_EQ(b->Ecdh(Id("p384"), AsBytes(*peer_pem), Id("y"), KeyType::kAes256, {}).status().code(),
            ErrorCode::kUnsupported);
  auto p384_peer = GenerateKeyPair(KeyType::kEcdsaP384);
  ASSERT_TRUE(p384_peer.ok());
  EXPECT_EQ(
      b->Ecdh(Id("ecdh"), AsBytes(*PublicKeyPem(p384_peer->get())), Id("z"), KeyType::kAes256, {})
          .status()
          .code(),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(b->Ecdh(Id("ecdh"), B("not a key"), Id("z"), KeyType::kAes256, {}).status().code(),
            ErrorCode::kInvalidArgument);
  // The temporary ECDH secrets were session objects: nothing extra on the token.
  auto objects = ParseObjects(ListObjects(*token_).out);
  for (const auto& o : objects) EXPECT_TRUE(o.fields.count("label")) << o.kind;
}

TEST_F(Pkcs11BackendTest, DerivationIsDeterministicAndSeparated) {
  auto b = Open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->CreateKey(Id("base"), KeyType::kHmacSha256).ok());
  ASSERT_TRUE(b->Derive(Id("base"), Id("a1"), std::nullopt, B("salt"), B("a")).ok());
  ASSERT_TRUE(b->Derive(Id("base"), Id("a2"), std::nullopt, B("salt"), B("a")).ok());
  ASSERT_TRUE(b->Derive(Id("base"), Id("b"), std::nullopt, B("salt"), B("b")).ok());
  const Bytes data = B("x");
  EXPECT_EQ(*b->Mac(Id("a1"), data), *b->Mac(Id("a2"), data));
  EXPECT_NE(*b->Mac(Id("a1"), data), *b->Mac(Id("b"), data));
  EXPECT_NE(*b->Mac(Id("a1"), data), *b->Mac(Id("base"), data));
}

TEST_F(Pkcs11BackendTest, RandomComesFromTheToken) {
  auto b = Open();
  ASSERT_TRUE(b);
  for (size_t n : {size_t{0}, size_t{1}, size_t{32}, size_t{4096}}) {
    auto r = b->Random(n);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->size(), n);
  }
  auto a = b->Random(32);
  auto c = b->Random(32);
  EXPECT_NE(Bytes(a->view().begin(), a->view().end()), Bytes(c->view().begin(), c->view().end()));
}

TEST_F(Pkcs11BackendTest, CountersSurviveARestartOnTheSameStateAndToken) {
  {
    auto b = Open();
    ASSERT_TRUE(b);
    EXPECT_EQ(*b->CounterCreate(Id("boot")), 0u);
    EXPECT_EQ(b->CounterCreate(Id("boot")).status().code(), ErrorCode::kAlreadyExists);
    for (uint64_t i = 1; i <= 3; ++i) EXPECT_EQ(*b->CounterIncrement(Id("boot")), i);
    EXPECT_EQ(b->CounterRead(Id("nope")).status().code(), ErrorCode::kNotFound);
  }
  auto b = Open();
  ASSERT_TRUE(b);
  EXPECT_EQ(*b->CounterRead(Id("boot")), 3u);
  EXPECT_EQ(*b->CounterIncrement(Id("boot")), 4u);
  for (const auto& n : b->Notices()) EXPECT_EQ(n.find("counter"), std::string::npos) << n;
  EXPECT_TRUE(std::filesystem::exists(dir_.File("state/counters.dat")));
}

TEST_F(Pkcs11BackendTest, SealedDataOpensOnlyForItsOwnerOnItsToken) {
  Bytes blob;
  const Bytes secret = B("wifi password");
  const Bytes aad = B("policy-digest");
  Bytes spki;
  {
    auto b = Open();
    ASSERT_TRUE(b);
    auto sealed = b->SealData("uid:1", secret, aad);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    blob = *sealed;
    auto opened = b->UnsealData("uid:1", blob, aad);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(Bytes(opened->view().begin(), opened->view().end()), secret);
    EXPECT_EQ(b->UnsealData("uid:2", blob, aad).status().code(), ErrorCode::kTampered);
    EXPECT_EQ(b->UnsealData("uid:1", blob, B("other")).status().code(), ErrorCode::kTampered);
    Bytes bad = blob;
    bad.back() ^= 1;
    EXPECT_EQ(b->UnsealData("uid:1", bad, aad).status().code(), ErrorCode::kTampered);
    EXPECT_EQ(b->UnsealData("uid:1", Bytes(5, 0), aad).status().code(), ErrorCode::kTampered);
    spki = b->AttestationPublicKeyDer();
  }
  // The same state and token after a restart: still opens; same attestation key.
  {
    auto b = Open();
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->UnsealData("uid:1", blob, aad).ok());
    EXPECT_EQ(b->AttestationPublicKeyDer(), spki);
  }
  // Another secure domain on another token: refused as tampered.
  SoftHsmToken other(dir_, "other");
  ASSERT_TRUE(other.Init()) << other.error();
  auto other_state = StateDir::Open(dir_.File("state-other"));
  ASSERT_TRUE(other_state.ok());
  auto b2 = Open(**other_state, Pkcs11Options{SoftHsmToken::Module(), "other", other.pin_file()});
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->UnsealData("uid:1", blob, aad).status().code(), ErrorCode::kTampered);
  EXPECT_NE(b2->AttestationPublicKeyDer(), spki);
}

TEST_F(Pkcs11BackendTest, AttestationKeyLivesOnTheToken) {
  auto b = Open();
  ASSERT_TRUE(b);
  const Bytes& spki = b->AttestationPublicKeyDer();
  auto pub = ParsePublicKey(spki);
  ASSERT_TRUE(pub.ok());
  const Bytes tbs = B("COSE Sig_structure bytes");
  auto sig = b->AttestationSign(tbs);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(*VerifyMessage(pub->get(), SignAlgorithm::kEcdsaSha256, tbs, *sig));
  EXPECT_FALSE(*VerifyMessage(pub->get(), SignAlgorithm::kEcdsaSha256, B("other"), *sig));
  // No caller can reach it as a key (it belongs to no principal) and listings do not show it.
  auto all = b->ListKeys(std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
}

TEST_F(Pkcs11BackendTest, WrongPinIsPermissionDenied) {
  const std::string pin_file = dir_.File("wrong.pin");
  test::WriteText(pin_file, "000000\n");
  auto b = pkcs11::Pkcs11Backend::Create(
      *state_, Pkcs11Options{SoftHsmToken::Module(), token_->label(), pin_file});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(b.status().message().find("C_Login: CKR_PIN_INCORRECT"), std::string::npos)
      << b.status().message();
  // Through the public factory as well, and then the right PIN works.
  auto c = CreatePkcs11Backend(*state_,
                               Pkcs11Options{SoftHsmToken::Module(), token_->label(), pin_file});
  EXPECT_EQ(c.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Open());
  auto missing = CreatePkcs11Backend(
      *state_, Pkcs11Options{SoftHsmToken::Module(), token_->label(), dir_.File("no.pin")});
  EXPECT_EQ(missing.status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(Pkcs11BackendTest, MissingModuleIsInvalidArgumentNamingPathAndDlerror) {
  const std::string path = dir_.File("no-such-module.so");
  auto b = CreatePkcs11Backend(*state_, Pkcs11Options{path, token_->label(), token_->pin_file()});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find(path), std::string::npos) << b.status().message();
  EXPECT_NE(b.status().message().find("No such file"), std::string::npos) << b.status().message();
  // A shared object that is not a PKCS#11 module.
  auto not_p11 =
      CreatePkcs11Backend(*state_, Pkcs11Options{"libz.so.1", token_->label(), token_->pin_file()});
  ASSERT_FALSE(not_p11.ok());
  EXPECT_EQ(not_p11.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(not_p11.status().message().find("C_GetFunctionList"), std::string::npos)
      << not_p11.status().message();
}

TEST_F(Pkcs11BackendTest, UnknownTokenLabelListsTheTokensFound) {
  auto b = CreatePkcs11Backend(
      *state_, Pkcs11Options{SoftHsmToken::Module(), "no-such-token", token_->pin_file()});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("no-such-token"), std::string::npos);
  EXPECT_NE(b.status().message().find("\"edgetrust\""), std::string::npos) << b.status().message();
}

TEST_F(Pkcs11BackendTest, ARecordWhoseTokenObjectIsGoneSaysSo) {
  auto b = Open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->CreateKey(Id("gone"), KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(b->CreateKey(Id("kept"), KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(b->Sign(Id("gone"), SignAlgorithm::kDefault, B("m"), std::nullopt).ok());
  // Someone with the PIN deletes the private key behind the daemon's back.
  CommandResult r =
      RunCommand({"env", token_->EnvAssignment(), "pkcs11-tool", "--module", SoftHsmToken::Module(),
                  "--token-label", token_->label(), "--login", "--pin", token_->pin(),
                  "--delete-object", "--type", "privkey", "--label", "edgetrust:uid:1000/gone"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto sig = b->Sign(Id("gone"), SignAlgorithm::kDefault, B("m"), std::nullopt);
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.status().code(), ErrorCode::kTampered);
  EXPECT_NE(sig.status().message().find("is gone from token \"edgetrust\""), std::string::npos)
      << sig.status().message();
  EXPECT_NE(sig.status().message().find("edgetrust:uid:1000/gone"), std::string::npos);
  auto list = b->ListKeys(kOwner);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id.name, "gone");
  EXPECT_EQ((*list)[0].state.rfind("tampered: ", 0), 0u) << (*list)[0].state;
  EXPECT_EQ((*list)[1].state, "ok");
  EXPECT_EQ(b->Audit().problems.size(), 1u);
  // The other key is unaffected, and the dangling record can be deleted.
  EXPECT_TRUE(b->Sign(Id("kept"), SignAlgorithm::kDefault, B("m"), std::nullopt).ok());
  EXPECT_TRUE(b->DeleteKey(Id("gone")).ok());
  EXPECT_EQ(b->KeyCount(kOwner), 1u);
}

TEST_F(Pkcs11BackendTest, TamperedRecordIsReportedAndDeletable) {
  auto b = Open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->CreateKey(Id("k"), KeyType::kAes256).ok());
  const std::string file = state_->keys_dir() + "/" + RecordFileName(kOwner, "k");
  std::string content = test::ReadText(file);
  ASSERT_FALSE(content.empty());
  content[content.size() - 3] ^= 0x01;
  test::WriteText(file, content);
  // A fresh backend (the running one has the key cached, like the emulated backend).
  b.reset();
  b = Open();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->Encrypt(Id("k"), B("x"), {}).status().code(), ErrorCode::kTampered);
  auto list = b->ListKeys(kOwner);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].state.rfind("tampered: ", 0), 0u);
  EXPECT_TRUE(b->DeleteKey(Id("k")).ok());
}

// Pulling the token: SoftHSM2 loses a token whose folder disappears. Calls fail with
// kUnavailable while it is away, and work again once it is back, without a restart.
TEST_F(Pkcs11BackendTest, TokenRemovedMidRunIsUnavailableThenRecovers) {
  auto b = Open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->CreateKey(Id("k"), KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(b->CreateKey(Id("aes"), KeyType::kAes256).ok());
  auto sealed = b->SealData("uid:1", B("s"), {});
  ASSERT_TRUE(sealed.ok());
  const Bytes msg = B("m");
  ASSERT_TRUE(b->Sign(Id("k"), SignAlgorithm::kDefault, msg, std::nullopt).ok());

  const std::string away = token_->tokens_dir() + ".away";
  std::filesystem::rename(token_->tokens_dir(), away);
  auto sig = b->Sign(Id("k"), SignAlgorithm::kDefault, msg, std::nullopt);
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.status().code(), ErrorCode::kUnavailable) << sig.status().ToString();
  EXPECT_NE(sig.status().message().find("CKR_"), std::string::npos) << sig.status().message();
  // Still away: every call says so, none hangs or crashes.
  EXPECT_EQ(b->Sign(Id("k"), SignAlgorithm::kDefault, msg, std::nullopt).status().code(),
            ErrorCode::kUnavailable);
  EXPECT_EQ(b->Encrypt(Id("aes"), msg, {}).status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(b->Random(8).status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(b->ListKeys(kOwner).status().code(), ErrorCode::kUnavailable);
  // Verification needs only the cached public key.
  EXPECT_TRUE(b->PublicKeyPem(Id("k")).ok() ||
              b->PublicKeyPem(Id("k")).status().code() == ErrorCode::kUnavailable);

  std::filesystem::rename(away, token_->tokens_dir());
  const uint64_t before = b->token().pool().recoveries();
  sig = b->Sign(Id("k"), SignAlgorithm::kDefault, msg, std::nullopt);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(*b->Verify(Id("k"), SignAlgorithm::kDefault, msg, std::nullopt, *sig));
  EXPECT_GT(b->token().pool().recoveries(), before);
  // Re-logged in: private objects and every service work again.
  EXPECT_TRUE(b->Encrypt(Id("aes"), msg, {}).ok());
  EXPECT_TRUE(b->UnsealData("uid:1", *sealed, {}).ok());
  EXPECT_TRUE(b->AttestationSign(msg).ok());
  auto list = b->ListKeys(kOwner);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->size(), 2u);
}

// The daemon itself with this backend: started as the tests start it (as root it drops to the
// user daemon, who owns the token folder), seccomp on, driven through the CLI.
TEST_F(Pkcs11BackendTest, DaemonServesThroughTheCliWithSeccomp) {
  test::SdProcess::Options o;
  o.state_dir = dir_.File("sd-state");
  o.extra_args = {"--backend",      "pkcs11",        "--pkcs11-module",   SoftHsmToken::Module(),
                  "--pkcs11-token", token_->label(), "--pkcs11-pin-file", token_->pin_file()};
  o.env = {token_->EnvAssignment()};
  test::SdProcess sd(dir_, o);
  ASSERT_TRUE(sd.Start()) << sd.log();
  EXPECT_NE(sd.log().find("backend=pkcs11"), std::string::npos);
#ifdef EDGETRUST_HAVE_SECCOMP
  EXPECT_NE(sd.log().find("seccomp=on"), std::string::npos) << sd.log();
#endif
  auto cli = [&](std::vector<std::string> args) {
    CommandResult r = test::RunCli(sd.socket(), std::move(args));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << sd.log();
    return r;
  };
  EXPECT_NE(cli({"info"}).out.find("pkcs11"), std::string::npos);
  cli({"key", "create", "device-id", "--type", "ecdsa-p256"});
  const std::string msg = WriteFile("manifest", B("manifest"));
  const std::string sig = dir_.File("manifest.sig");
  cli({"sign", "device-id", "--in", msg, "--out", sig});
  const std::string pub = dir_.File("device-id.pem");
  test::WriteText(pub, cli({"key", "public", "device-id"}).out);
  CommandResult v =
      RunCommand({"openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, msg});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  cli({"counter", "create", "boot"});
  EXPECT_EQ(cli({"counter", "increment", "boot"}).out, "1\n");
  const std::string blob = dir_.File("blob");
  cli({"seal", "--in", msg, "--out", blob});
  EXPECT_EQ(cli({"unseal", "--in", blob, "--out", "-"}).out, "manifest");
  const std::string evidence = dir_.File("evidence.cbor");
  const std::string ak = dir_.File("ak.pem");
  cli({"attest", "--nonce", "00112233445566778899", "--out", evidence});
  test::WriteText(ak, cli({"attest", "key"}).out);
  cli({"verify-evidence", "--evidence", evidence, "--key", ak, "--nonce", "00112233445566778899"});
  EXPECT_EQ(sd.Stop(), 0) << sd.log();
  EXPECT_EQ(sd.log().find("EPERM"), std::string::npos);
}

TEST(Pkcs11Errors, NamesAndCodes) {
  EXPECT_EQ(pkcs11::CkrName(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(pkcs11::CkrName(CKR_DEVICE_REMOVED), "CKR_DEVICE_REMOVED");
  EXPECT_EQ(pkcs11::CkrName(0x12345), "CKR_0x12345");
  EXPECT_EQ(pkcs11::CkrName(CKR_VENDOR_DEFINED + 3), "CKR_VENDOR_DEFINED+0x3");
  Status st = pkcs11::CkrStatus("C_Login", CKR_PIN_INCORRECT);
  EXPECT_EQ(st.code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "C_Login: CKR_PIN_INCORRECT");
  for (CK_RV rv : {CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_SESSION_HANDLE_INVALID,
                   CKR_SESSION_CLOSED, CKR_DEVICE_ERROR, CKR_CRYPTOKI_NOT_INITIALIZED}) {
    EXPECT_TRUE(pkcs11::IsTokenLost(rv)) << pkcs11::CkrName(rv);
    EXPECT_EQ(pkcs11::CkrErrorCode(rv), ErrorCode::kUnavailable) << pkcs11::CkrName(rv);
  }
  EXPECT_EQ(pkcs11::CkrErrorCode(CKR_MECHANISM_INVALID), ErrorCode::kUnsupported);
  EXPECT_EQ(pkcs11::CkrErrorCode(CKR_GENERAL_ERROR), ErrorCode::kInternal);
}

}  // namespace
}  // namespace edgetrust::sd
