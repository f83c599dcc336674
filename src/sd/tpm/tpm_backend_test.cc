// The tpm backend against a real swtpm (test/swtpm.h), checked with OpenSSL, the openssl CLI and
// tpm2_checkquote. No mocks; skipped only when swtpm is not installed.
#include "sd/tpm/tpm_backend.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "common/hex.h"
#include "edgetrust/attestation.h"
#include "harness.h"
#include "sd/crypto.h"
#include "sd/object_store.h"
#include "sd/state_dir.h"
#include "swtpm.h"

namespace edgetrust::sd {
namespace {

using test::CommandResult;
using test::RunCommand;
using test::SwtpmProcess;
using test::TempDir;

// Writing to a TPM connection that swtpm closed must give an error, not kill the test.
const bool kIgnoreSigpipe = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

constexpr char kOwner[] = "uid:1000";

KeyId Id(const std::string& name) { return KeyId{kOwner, name}; }

void WriteBytes(const std::string& path, ByteView data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

class TpmBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!SwtpmProcess::Available()) GTEST_SKIP() << "swtpm is not installed";
    swtpm_ = std::make_unique<SwtpmProcess>(dir_);
    ASSERT_TRUE(swtpm_->Start()) << swtpm_->log();
    Open();
  }

  void Open(const std::string& state = "state") {
    backend_.reset();
    state_.reset();
    auto st = StateDir::Open(dir_.File(state));
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    state_ = std::move(*st);
    auto b = CreateTpmBackend(*state_, TpmOptions{swtpm_->Tcti()});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = std::move(*b);
  }

  void Close() {
    backend_.reset();
    state_.reset();
  }

  std::string Pem(const KeyId& id) {
    auto pem = backend_->PublicKeyPem(id);
    EXPECT_TRUE(pem.ok()) << pem.status().ToString();
    return pem.ok() ? *pem : "";
  }

  TempDir dir_;
  std::unique_ptr<SwtpmProcess> swtpm_;
  std::unique_ptr<StateDir> state_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(TpmBackendTest, DescribesItself) {
  EXPECT_EQ(backend_->Name(), "tpm");
  EXPECT_FALSE(backend_->IsEmulated());
  EXPECT_NE(backend_->Device().find(swtpm_->Tcti()), std::string::npos) << backend_->Device();
  EXPECT_NE(backend_->Device().find("IBM"), std::string::npos) << backend_->Device();
  EXPECT_EQ(backend_->StorageProtection(), "none");
  EXPECT_NE(std::string(backend_->CounterProtection()).find("NV counter"), std::string::npos);
  std::set<std::string> names;
  for (const auto& f : backend_->Features()) {
    names.insert(f.name);
    EXPECT_FALSE(f.how.empty());
  }
  EXPECT_EQ(names, (std::set<std::string>{"sign", "aead", "mac", "derive", "ecdh", "random", "seal",
                                          "counter", "registers", "attest", "quote"}));
  const auto types = backend_->SupportedKeyTypes();
  EXPECT_EQ(std::count(types.begin(), types.end(), KeyType::kEd25519), 0);
  EXPECT_EQ(types.size(), 5u);
  EXPECT_TRUE(backend_->Notices().empty());
  EXPECT_FALSE(backend_->AttestationPublicKeyDer().empty());
}

TEST_F(TpmBackendTest, CreatesListsAndDeletesEveryType) {
  for (KeyType t : backend_->SupportedKeyTypes()) {
    auto m = backend_->CreateKey(Id(std::string(KeyTypeName(t))), t);
    ASSERT_TRUE(m.ok()) << KeyTypeName(t) << ": " << m.status().ToString();
    EXPECT_EQ(m->type, t);
  }
  auto ed = backend_->CreateKey(Id("ed"), KeyType::kEd25519);
  ASSERT_FALSE(ed.ok());
  EXPECT_EQ(ed.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(ed.status().message().find("not a TPM 2.0 algorithm"), std::string::npos);
  auto dup = backend_->CreateKey(Id("aes-256"), KeyType::kAes256);
  EXPECT_EQ(dup.status().code(), ErrorCode::kAlreadyExists);

  auto list = backend_->ListKeys(std::string_view(kOwner));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 5u);  // the attestation key and sealing root are not listed
  for (const auto& k : *list) EXPECT_EQ(k.state, "ok") << k.id.name;
  EXPECT_EQ(backend_->KeyCount(kOwner), 5u);
  EXPECT_EQ(backend_->PublicKeyPem(Id("aes-256")).status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(Pem(Id("rsa-3072")).find("BEGIN PUBLIC KEY"), std::string::npos);

  ASSERT_TRUE(backend_->DeleteKey(Id("ecdsa-p384")).ok());
  EXPECT_EQ(backend_->DeleteKey(Id("ecdsa-p384")).code(), ErrorCode::kNotFound);
  EXPECT_EQ(backend_->Sign(Id("ecdsa-p384"), SignAlgorithm::kDefault, B("m"), std::nullopt)
                .status()
                .code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(backend_->ListKeys(std::string_view(kOwner))->size(), 4u);
  // Keys survive a restart of the backend (records in the state folder, blobs for this TPM).
  Open();
  EXPECT_EQ(backend_->ListKeys(std::string_view(kOwner))->size(), 4u);
  EXPECT_TRUE(backend_->Mac(Id("hmac-sha256"), B("x")).ok());
}

struct SignCase {
  KeyType type;
  SignAlgorithm alg;
  std::vector<std::string> openssl_args;  // digest and options for openssl dgst
};

TEST_F(TpmBackendTest, SignaturesVerifyInProcessAndWithOpensslCli) {
  const std::vector<SignCase> cases = {
      {KeyType::kEcdsaP256, SignAlgorithm::kDefault, {"-sha256"}},
      {KeyType::kEcdsaP256, SignAlgorithm::kEcdsaSha384, {"-sha384"}},
      {KeyType::kEcdsaP384, SignAlgorithm::kDefault, {"-sha384"}},
      {KeyType::kRsa3072,
       SignAlgorithm::kDefault,
       {"-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"}},
      {KeyType::kRsa3072, SignAlgorithm::kRsaPkcs1Sha256, {"-sha256"}},
  };
  const Bytes msg = B("firmware manifest v1.2.3");
  WriteBytes(dir_.File("msg"), msg);
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(KeyTypeName(c.type)) + " " + std::string(SignAlgorithmName(c.alg)));
    const KeyId id = Id(std::string(KeyTypeName(c.type)));
    if (!backend_->PublicKeyPem(id).ok()) {
      ASSERT_TRUE(backend_->CreateKey(id, c.type).ok());
    }
    auto sig = backend_->Sign(id, c.alg, msg, std::nullopt);
    ASSERT_TRUE(sig.ok()) << sig.status().ToString();
    EXPECT_TRUE(*backend_->Verify(id, c.alg, msg, std::nullopt, *sig));
    Bytes other = msg;
    other[0] ^= 1;
    EXPECT_FALSE(*backend_->Verify(id, c.alg, other, std::nullopt, *sig));

    const std::string pem_path = dir_.File("pub" + std::to_string(n) + ".pem");
    const std::string sig_path = dir_.File("sig" + std::to_string(n++));
    test::WriteText(pem_path, Pem(id));
    WriteBytes(sig_path, *sig);
    std::vector<std::string> argv = {"openssl", "dgst"};
    argv.insert(argv.end(), c.openssl_args.begin(), c.openssl_args.end());
    argv.insert(argv.end(), {"-verify", pem_path, "-signature", sig_path, dir_.File("msg")});
    CommandResult r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Verified OK"), std::string::npos) << r.out << r.err;

    // Pre-hashed: the same verification from a digest.
    const size_t dlen = SignAlgorithmDigestSize(*ResolveSignAlgorithm(c.type, c.alg));
    Bytes digest(dlen);
    unsigned int len = 0;
    const EVP_MD* md = dlen == 32 ? EVP_sha256() : dlen == 48 ? EVP_sha384() : EVP_sha512();
    ASSERT_EQ(EVP_Digest(msg.data(), msg.size(), digest.data(), &len, md, nullptr), 1);
    auto dsig = backend_->Sign(id, c.alg, std::nullopt, digest);
    ASSERT_TRUE(dsig.ok()) << dsig.status().ToString();
    EXPECT_TRUE(*backend_->Verify(id, c.alg, msg, std::nullopt, *dsig));
    EXPECT_EQ(backend_->Sign(id, c.alg, std::nullopt, Bytes(5)).status().code(),
              ErrorCode::kInvalidArgument);
  }
  // Algorithms that do not fit the key are refused.
  EXPECT_EQ(backend_->Sign(Id("ecdsa-p256"), SignAlgorithm::kRsaPssSha256, msg, std::nullopt)
                .status()
                .code(),
            ErrorCode::kUnsupported);
}

TEST_F(TpmBackendTest, HundredsOfKeysEachUsedOnce) {
  // swtpm has 3 transient object slots: keys are loaded per use and flushed.
  constexpr int kKeys = 200;
  for (int i = 0; i < kKeys; ++i) {
    const KeyType t = i % 10 == 0 ? KeyType::kHmacSha256 : KeyType::kEcdsaP256;
    ASSERT_TRUE(backend_->CreateKey(Id("k" + std::to_string(i)), t).ok()) << i;
  }
  const Bytes msg = B("hello");
  for (int i = 0; i < kKeys; ++i) {
    const KeyId id = Id("k" + std::to_string(i));
    if (i % 10 == 0) {
      auto mac = backend_->Mac(id, msg);
      ASSERT_TRUE(mac.ok()) << mac.status().ToString();
      EXPECT_TRUE(*backend_->MacVerify(id, msg, *mac));
    } else {
      auto sig = backend_->Sign(id, SignAlgorithm::kDefault, msg, std::nullopt);
      ASSERT_TRUE(sig.ok()) << i << ": " << sig.status().ToString();
      EXPECT_TRUE(*backend_->Verify(id, SignAlgorithm::kDefault, msg, std::nullopt, *sig));
    }
  }
  EXPECT_EQ(backend_->KeyCount(kOwner), static_cast<size_t>(kKeys));
}

TEST_F(TpmBackendTest, ConcurrentClients) {
  ASSERT_TRUE(backend_->CreateKey(Id("a"), KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(backend_->CreateKey(Id("b"), KeyType::kEcdsaP384).ok());
  ASSERT_TRUE(backend_->CreateKey(Id("h"), KeyType::kHmacSha256).ok());
  ASSERT_TRUE(backend_->CreateKey(Id("e"), KeyType::kAes256).ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 12; ++i) {
        const Bytes msg = B("thread " + std::to_string(t) + " message " + std::to_string(i));
        const KeyId id = Id(i % 2 == 0 ? "a" : "b");
        auto sig = backend_->Sign(id, SignAlgorithm::kDefault, msg, std::nullopt);
        if (!sig.ok() || !*backend_->Verify(id, SignAlgorithm::kDefault, msg, std::nullopt, *sig))
          ++failures;
        auto mac = backend_->Mac(Id("h"), msg);
        if (!mac.ok() || !*backend_->MacVerify(Id("h"), msg, *mac)) ++failures;
        auto ct = backend_->Encrypt(Id("e"), msg, {});
        if (!ct.ok()) {
          ++failures;
          continue;
        }
        auto pt = backend_->Decrypt(Id("e"), *ct, {});
        if (!pt.ok() || Bytes(pt->view().begin(), pt->view().end()) != msg) ++failures;
        if (i % 4 == 0 && !backend_
                               ->CreateKey(Id("t" + std::to_string(t) + "-" + std::to_string(i)),
                                           KeyType::kEcdsaP256)
                               .ok())
          ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(TpmBackendTest, AeadRoundTripAndTamper) {
  ASSERT_TRUE(backend_->CreateKey(Id("aes"), KeyType::kAes256).ok());
  const Bytes pt = B("sensor 42: 21.5 C");
  const Bytes aad = B("sensor-42");
  auto ct = backend_->Encrypt(Id("aes"), pt, aad);
  ASSERT_TRUE(ct.ok()) << ct.status().ToString();
  EXPECT_EQ(ct->size(), kAeadNonceSize + pt.size() + kAeadTagSize);
  auto back = backend_->Decrypt(Id("aes"), *ct, aad);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(Bytes(back->view().begin(), back->view().end()), pt);
  Bytes bad = *ct;
  bad[kAeadNonceSize] ^= 0x01;
  EXPECT_EQ(backend_->Decrypt(Id("aes"), bad, aad).status().code(), ErrorCode::kVerifyFailed);
  EXPECT_EQ(backend_->Decrypt(Id("aes"), *ct, B("other")).status().code(),
            ErrorCode::kVerifyFailed);
  // Another AES key (another TPM sealed object) does not open it.
  ASSERT_TRUE(backend_->CreateKey(Id("aes2"), KeyType::kAes256).ok());
  EXPECT_EQ(backend_->Decrypt(Id("aes2"), *ct, aad).status().code(), ErrorCode::kVerifyFailed);
  EXPECT_EQ(backend_->Mac(Id("aes"), pt).status().code(), ErrorCode::kUnsupported);
  ASSERT_TRUE(backend_->CreateKey(Id("h"), KeyType::kHmacSha256).ok());
  EXPECT_EQ(backend_->Encrypt(Id("h"), pt, aad).status().code(), ErrorCode::kUnsupported);
}

TEST_F(TpmBackendTest, MacShortAndLong) {
  ASSERT_TRUE(backend_->CreateKey(Id("h"), KeyType::kHmacSha256).ok());
  for (size_t len : {size_t{0}, size_t{32}, size_t{1024}, size_t{1025}, size_t{5000}}) {
    Bytes data(len, static_cast<uint8_t>(len));
    auto mac = backend_->Mac(Id("h"), data);
    ASSERT_TRUE(mac.ok()) << len << ": " << mac.status().ToString();
    EXPECT_EQ(mac->size(), 32u);
    EXPECT_TRUE(*backend_->MacVerify(Id("h"), data, *mac));
    Bytes wrong = *mac;
    wrong[31] ^= 1;
    EXPECT_FALSE(*backend_->MacVerify(Id("h"), data, wrong));
    EXPECT_FALSE(*backend_->MacVerify(Id("h"), data, Bytes(mac->begin(), mac->begin() + 16)));
  }
}

// ECDH with a peer whose private key the test holds: the test computes the same shared secret
// and HKDF output with OpenSSL, and checks that the TPM-held result key encrypts and MACs with
// exactly that key. Derivations from those known keys are then checked the same way.
TEST_F(TpmBackendTest, EcdhAndDeriveMatchSoftware) {
  ASSERT_TRUE(backend_->CreateKey(Id("dh"), KeyType::kEcdsaP256).ok());
  auto peer = GenerateKeyPair(KeyType::kEcdsaP256);
  ASSERT_TRUE(peer.ok());
  auto peer_pem = sd::PublicKeyPem(peer->get());
  ASSERT_TRUE(peer_pem.ok());
  const Bytes info = B("edgetrust test ecdh");
  ASSERT_TRUE(
      backend_->Ecdh(Id("dh"), AsBytes(*peer_pem), Id("shared-aes"), KeyType::kAes256, info).ok());
  ASSERT_TRUE(
      backend_->Ecdh(Id("dh"), AsBytes(*peer_pem), Id("shared-mac"), KeyType::kHmacSha256, info)
          .ok());

  auto tpm_pub = ParsePublicKey(AsBytes(Pem(Id("dh"))));
  ASSERT_TRUE(tpm_pub.ok());
  auto z = EcdhP256(peer->get(), tpm_pub->get());
  ASSERT_TRUE(z.ok());
  auto k = HkdfSha256(z->view(), {}, info, 32);
  ASSERT_TRUE(k.ok());

  // aes-256 result: what the backend encrypts, the test decrypts with the key it computed.
  const Bytes pt = B("agreed");
  auto ct = backend_->Encrypt(Id("shared-aes"), pt, B("aad"));
  ASSERT_TRUE(ct.ok());
  auto opened = AeadOpen(*k, *ct, B("aad"));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(Bytes(opened->view().begin(), opened->view().end()), pt);

  // hmac-sha256 result: the TPM's HMAC (one command and a sequence) equals the software HMAC.
  for (size_t len : {size_t{10}, size_t{3000}}) {
    Bytes data(len, 0x5a);
    auto mac = backend_->Mac(Id("shared-mac"), data);
    ASSERT_TRUE(mac.ok());
    EXPECT_EQ(*mac, *HmacSha256(*k, data)) << len;
  }

  // Derive from an aes-256 base: HKDF-SHA256(key, salt, info).
  const Bytes salt = B("salt");
  const Bytes dinfo = B("child");
  ASSERT_TRUE(backend_->Derive(Id("shared-aes"), Id("child-aes"), std::nullopt, salt, dinfo).ok());
  auto child = HkdfSha256(k->view(), salt, dinfo, 32);
  auto cct = backend_->Encrypt(Id("child-aes"), pt, {});
  ASSERT_TRUE(cct.ok());
  EXPECT_TRUE(AeadOpen(*child, *cct, {}).ok());

  // Derive from an hmac-sha256 base: PRK = HMAC(base, salt) by the TPM, then HKDF-Expand.
  ASSERT_TRUE(
      backend_->Derive(Id("shared-mac"), Id("child-mac"), KeyType::kHmacSha256, salt, dinfo).ok());
  SecretBytes prk(*HmacSha256(*k, salt));
  Bytes block = dinfo;
  block.push_back(1);
  SecretBytes child_mac_key(*HmacSha256(prk, block));
  EXPECT_EQ(*backend_->Mac(Id("child-mac"), B("m")), *HmacSha256(child_mac_key, B("m")));

  // Refusals.
  EXPECT_EQ(backend_->Derive(Id("dh"), Id("x"), std::nullopt, salt, dinfo).status().code(),
            ErrorCode::kUnsupported);
  EXPECT_EQ(backend_->Derive(Id("shared-aes"), Id("child-aes"), std::nullopt, salt, dinfo)
                .status()
                .code(),
            ErrorCode::kAlreadyExists);
  auto p384 = GenerateKeyPair(KeyType::kEcdsaP384);
  auto p384_pem = sd::PublicKeyPem(p384->get());
  EXPECT_EQ(
      backend_->Ecdh(Id("dh"), AsBytes(*p384_pem), Id("y"), KeyType::kAes256, info).status().code(),
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(backend_->Ecdh(Id("dh"), B("junk"), Id("y"), KeyType::kAes256, info).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(TpmBackendTest, RandomBytes) {
  for (size_t len : {size_t{1}, size_t{32}, size_t{100}, size_t{5000}}) {
    auto a = backend_->Random(len);
    auto b = backend_->Random(len);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->size(), len);
    if (len >= 32) {
      EXPECT_NE(Bytes(a->view().begin(), a->view().end()),
                Bytes(b->view().begin(), b->view().end()));
    }
  }
  auto zero = backend_->Random(0);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->size(), 0u);
}

TEST_F(TpmBackendTest, CountersAreTpmNvCountersThatNeverGoBack) {
  auto c = backend_->CounterCreate(Id("boot"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(*c, 0u);
  EXPECT_EQ(*backend_->CounterIncrement(Id("boot")), 1u);
  EXPECT_EQ(*backend_->CounterIncrement(Id("boot")), 2u);
  EXPECT_EQ(*backend_->CounterRead(Id("boot")), 2u);
  EXPECT_EQ(backend_->CounterCreate(Id("boot")).status().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(backend_->CounterRead(Id("nope")).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(backend_->CounterIncrement(Id("nope")).status().code(), ErrorCode::kNotFound);
  // A new NV counter starts at the TPM's highest counter value; it still reads 0 here.
  EXPECT_EQ(*backend_->CounterCreate(Id("other")), 0u);
  EXPECT_EQ(*backend_->CounterRead(Id("other")), 0u);
  // Counters of another principal are separate.
  EXPECT_EQ(backend_->CounterRead(KeyId{"uid:1001", "boot"}).status().code(), ErrorCode::kNotFound);

  // A new backend on the same state folder and TPM reads on.
  Open();
  EXPECT_EQ(*backend_->CounterRead(Id("boot")), 2u);
  EXPECT_EQ(*backend_->CounterIncrement(Id("boot")), 3u);

  // Deleting the counter's record does not reset it: created again, it is found by its NV label
  // and continues from the TPM's value.
  ASSERT_TRUE(
      std::filesystem::remove(state_->path() + "/tpm-counters/" + RecordFileName(kOwner, "boot")));
  Open();
  EXPECT_EQ(backend_->CounterRead(Id("boot")).status().code(), ErrorCode::kNotFound);
  auto again = backend_->CounterCreate(Id("boot"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_GE(*again, 3u);
  EXPECT_GT(*backend_->CounterIncrement(Id("boot")), *again);
  bool noticed = false;
  for (const auto& n : backend_->Notices())
    noticed |= n.find("lost its record") != std::string::npos;
  EXPECT_TRUE(noticed);

  // An altered record is tampered.
  const std::string rec = state_->path() + "/tpm-counters/" + RecordFileName(kOwner, "other");
  std::string bytes = test::ReadText(rec);
  bytes[bytes.size() - 20] ^= 1;
  test::WriteText(rec, bytes);
  Open();
  EXPECT_EQ(backend_->CounterRead(Id("other")).status().code(), ErrorCode::kTampered);
}

TEST_F(TpmBackendTest, SealingIsBoundToTheTpmAndTheStateFolder) {
  const Bytes secret = B("wifi password");
  const Bytes aad = B("header");
  auto blob = backend_->SealData(kOwner, secret, aad);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  auto back = backend_->UnsealData(kOwner, *blob, aad);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(Bytes(back->view().begin(), back->view().end()), secret);
  EXPECT_EQ(backend_->UnsealData("uid:1001", *blob, aad).status().code(), ErrorCode::kTampered);
  EXPECT_EQ(backend_->UnsealData(kOwner, *blob, B("other")).status().code(), ErrorCode::kTampered);
  Bytes bad = *blob;
  bad.back() ^= 1;
  EXPECT_EQ(backend_->UnsealData(kOwner, bad, aad).status().code(), ErrorCode::kTampered);
  ASSERT_TRUE(backend_->CreateKey(Id("k"), KeyType::kEcdsaP256).ok());

  // The same state folder after a restart opens it.
  Open();
  EXPECT_TRUE(backend_->UnsealData(kOwner, *blob, aad).ok());

  // A second TPM with a state folder of its own: its sealing root differs.
  SwtpmProcess other_tpm(dir_);
  ASSERT_TRUE(other_tpm.Start()) << other_tpm.log();
  auto other_state = StateDir::Open(dir_.File("state2"));
  ASSERT_TRUE(other_state.ok());
  {
    auto other = CreateTpmBackend(**other_state, TpmOptions{other_tpm.Tcti()});
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    EXPECT_EQ((*other)->UnsealData(kOwner, *blob, aad).status().code(), ErrorCode::kTampered);
  }
  // The same state folder moved to the second TPM: the sealing root and the keys, wrapped by the
  // first TPM, do not load there.
  Close();
  auto moved_state = StateDir::Open(dir_.File("state"));
  ASSERT_TRUE(moved_state.ok());
  auto moved = CreateTpmBackend(**moved_state, TpmOptions{other_tpm.Tcti()});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  auto unsealed = (*moved)->UnsealData(kOwner, *blob, aad);
  EXPECT_EQ(unsealed.status().code(), ErrorCode::kTampered) << unsealed.status().ToString();
  auto sig = (*moved)->Sign(Id("k"), SignAlgorithm::kDefault, B("m"), std::nullopt);
  EXPECT_EQ(sig.status().code(), ErrorCode::kTampered) << sig.status().ToString();
  EXPECT_FALSE((*moved)->Notices().empty());
  EXPECT_EQ((*moved)->AttestationSign(B("to be signed")).status().code(), ErrorCode::kTampered);
  EXPECT_EQ((*moved)->Quote(B("nonce")).status().code(), ErrorCode::kUnavailable);
}

// Writes a quote's parts and runs the independent checker.
CommandResult CheckQuote(const TempDir& dir, const PlatformQuote& q, ByteView nonce) {
  test::WriteText(dir.File("ak.pem"), q.ak_pem);
  WriteBytes(dir.File("quote.msg"), q.attest);
  WriteBytes(dir.File("quote.sig"), q.signature);
  WriteBytes(dir.File("quote.pcrs"), q.pcrs);
  return RunCommand({"tpm2_checkquote", "-u", dir.File("ak.pem"), "-m", dir.File("quote.msg"), "-s",
                     dir.File("quote.sig"), "-f", dir.File("quote.pcrs"), "-q", HexEncode(nonce),
                     "-g", "sha256"});
}

Digest256 D(uint8_t fill) {
  Digest256 d;
  d.fill(fill);
  return d;
}

// The PCR value in a quote's PCR file (the one digest of the first TPML_DIGEST).
Bytes QuotedPcr(const PlatformQuote& q) {
  // TPML_PCR_SELECTION (132 bytes) | u32 count | TPML_DIGEST: u32 count | u16 size | digest
  const size_t at = 132 + 4 + 4 + 2;
  if (q.pcrs.size() < at + 32) return {};
  return Bytes(q.pcrs.begin() + at, q.pcrs.begin() + at + 32);
}

TEST_F(TpmBackendTest, QuoteOverTheMirrorPassesTpm2Checkquote) {
  std::vector<LogEvent> events;
  for (uint32_t i = 0; i < 3; ++i) {
    LogEvent e;
    e.register_index = i + 8;
    e.digest = D(static_cast<uint8_t>(0x10 + i));
    ASSERT_TRUE(backend_->MirrorExtend(e.register_index, e.digest).ok());
    events.push_back(e);
  }
  const Bytes nonce = B("verifier nonce 0123456789abcdef");
  auto q = backend_->Quote(nonce);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  ASSERT_TRUE(q->has_value());
  const PlatformQuote& quote = **q;
  EXPECT_EQ(quote.pcr_index, kMirrorPcr);
  EXPECT_EQ(quote.pcr_base, Digest256{});  // reset at start
  const Digest256 expected = ReplayPcrMirror(quote.pcr_base, events);
  EXPECT_EQ(QuotedPcr(quote), Bytes(expected.begin(), expected.end()));

  CommandResult ok = CheckQuote(dir_, quote, nonce);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  CommandResult wrong = CheckQuote(dir_, quote, B("another nonce"));
  EXPECT_NE(wrong.exit_code, 0) << wrong.out;

  // The AK in the quote is the attestation key, whose signatures over arbitrary bytes verify.
  auto spki = ParsePublicKey(backend_->AttestationPublicKeyDer());
  ASSERT_TRUE(spki.ok());
  EXPECT_EQ(*sd::PublicKeyPem(spki->get()), quote.ak_pem);
  for (size_t len : {size_t{10}, size_t{5000}}) {
    const Bytes tbs(len, 0x84);
    auto sig = backend_->AttestationSign(tbs);
    ASSERT_TRUE(sig.ok()) << sig.status().ToString();
    EXPECT_TRUE(*VerifyMessage(spki->get(), SignAlgorithm::kEcdsaSha256, tbs, *sig));
  }
  // The TPM will not sign what looks like its own attestation structure.
  Bytes fake = {0xff, 'T', 'C', 'G', 0x80, 0x18};
  EXPECT_EQ(backend_->AttestationSign(fake).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(backend_->AttestationSign(B("ab")).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(backend_->Quote(Bytes(65)).status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(TpmBackendTest, RecoversWhenTheTpmGoesAwayAndComesBack) {
  ASSERT_TRUE(backend_->CreateKey(Id("k"), KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(backend_->CounterCreate(Id("c")).ok());
  std::vector<LogEvent> events;
  LogEvent e;
  e.register_index = 9;
  e.digest = D(0x42);
  ASSERT_TRUE(backend_->MirrorExtend(e.register_index, e.digest).ok());
  events.push_back(e);

  swtpm_->Kill();
  auto sig = backend_->Sign(Id("k"), SignAlgorithm::kDefault, B("m"), std::nullopt);
  ASSERT_EQ(sig.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(sig.status().message().find(swtpm_->Tcti()), std::string::npos)
      << sig.status().message();
  EXPECT_EQ(backend_->MirrorExtend(10, D(1)).code(), ErrorCode::kUnavailable);  // refused
  EXPECT_EQ(backend_->CounterIncrement(Id("c")).status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(backend_->Random(8).status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(backend_->Quote(B("n")).status().code(), ErrorCode::kUnavailable);

  // The TPM comes back (a reboot: PCRs zero, transient objects gone, NV kept).
  ASSERT_TRUE(swtpm_->Start()) << swtpm_->log();
  sig = backend_->Sign(Id("k"), SignAlgorithm::kDefault, B("m"), std::nullopt);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(*backend_->Verify(Id("k"), SignAlgorithm::kDefault, B("m"), std::nullopt, *sig));
  EXPECT_EQ(*backend_->CounterIncrement(Id("c")), 1u);
  LogEvent e2;
  e2.register_index = 10;
  e2.digest = D(2);
  ASSERT_TRUE(backend_->MirrorExtend(e2.register_index, e2.digest).ok());
  events.push_back(e2);

  const Bytes nonce = B("after the reboot");
  auto q = backend_->Quote(nonce);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  const Digest256 expected = ReplayPcrMirror((*q)->pcr_base, events);
  EXPECT_EQ(QuotedPcr(**q), Bytes(expected.begin(), expected.end()));
  CommandResult r = CheckQuote(dir_, **q, nonce);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  bool replayed = false;
  for (const auto& n : backend_->Notices())
    replayed |= n.find("PCR mirror replayed") != std::string::npos;
  EXPECT_TRUE(replayed);

  // A TPM that restarts between two calls: the first call finds the old connection dead,
  // reconnects and succeeds.
  swtpm_->Kill();
  ASSERT_TRUE(swtpm_->Start()) << swtpm_->log();
  LogEvent e3;
  e3.register_index = 11;
  e3.digest = D(3);
  ASSERT_TRUE(backend_->MirrorExtend(e3.register_index, e3.digest).ok());
  events.push_back(e3);
  swtpm_->Kill();
  ASSERT_TRUE(swtpm_->Start()) << swtpm_->log();
  sig = backend_->Sign(Id("k"), SignAlgorithm::kDefault, B("m"), std::nullopt);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_EQ(*backend_->CounterRead(Id("c")), 1u);
  q = backend_->Quote(nonce);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  const Digest256 expected3 = ReplayPcrMirror((*q)->pcr_base, events);
  EXPECT_EQ(QuotedPcr(**q), Bytes(expected3.begin(), expected3.end()));
  r = CheckQuote(dir_, **q, nonce);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(TpmBackendStartTest, NoTpmIsUnavailableNamingTheTcti) {
  TempDir dir;
  auto state = StateDir::Open(dir.File("state"));
  ASSERT_TRUE(state.ok());
  // A port nobody listens on (port 1 needs root to bind, and nothing here binds it).
  const std::string tcti = "swtpm:host=127.0.0.1,port=1";
  auto b = CreateTpmBackend(**state, TpmOptions{tcti});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(b.status().message().find(tcti), std::string::npos) << b.status().message();
}

TEST_F(TpmBackendTest, TamperedKeyRecordsAreReported) {
  ASSERT_TRUE(backend_->CreateKey(Id("k"), KeyType::kEcdsaP256).ok());
  const std::string path = state_->keys_dir() + "/" + RecordFileName(kOwner, "k");
  std::string bytes = test::ReadText(path);
  bytes[bytes.size() - 30] ^= 1;
  test::WriteText(path, bytes);
  Open();
  EXPECT_EQ(backend_->Sign(Id("k"), SignAlgorithm::kDefault, B("m"), std::nullopt).status().code(),
            ErrorCode::kTampered);
  auto list = backend_->ListKeys(std::string_view(kOwner));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->at(0).state.rfind("tampered", 0), 0u);
  StartupAudit audit = backend_->Audit();
  EXPECT_EQ(audit.problems.size(), 1u);
  EXPECT_EQ(audit.authentic, 2u);  // attestation key and sealing root
}

}  // namespace
}  // namespace edgetrust::sd
