// Authorisation in the dispatcher, over the real emulated backend in a temporary state folder,
// with hand-made callers: covers cross-principal rules even when the suite does not run as root.
#include "sd/dispatcher.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "sd/emulated_backend.h"
#include "sd/state_dir.h"

namespace edgetrust::sd {
namespace {

using protocol::Field;
using protocol::Message;
using protocol::Opcode;

Peer Caller(const std::string& principal) {
  Peer p;
  p.principal = principal;
  return p;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/et-dispatch-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto state = StateDir::Open(dir_ + "/state");
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(state).value();
    auto backend = EmulatedBackend::Create(*state_);
    ASSERT_TRUE(backend.ok());
    backend_ = std::move(backend).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void UsePolicy(const std::string& toml) {
    auto p = Policy::Parse(toml);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    dispatcher_ = std::make_unique<Dispatcher>(*backend_, std::move(p).value());
  }
  Result<Message> Call(const std::string& who, Opcode op, Message m) {
    return dispatcher_->Handle(Caller(who), op, m);
  }

 public:
  Result<Message> CallFor(const std::string& who, Opcode op, Message m) {
    return Call(who, op, std::move(m));
  }

 protected:
  Status Create(const std::string& who, const std::string& name, const std::string& type) {
    Message m;
    m.PutString(Field::kName, name).PutString(Field::kKeyType, type);
    return Call(who, Opcode::kKeyCreate, std::move(m)).status();
  }
  Result<Message> Sign(const std::string& who, const std::string& owner, const std::string& name) {
    Message m;
    m.PutString(Field::kName, name).PutBytes(Field::kData, AsBytes("msg"));
    if (!owner.empty()) m.PutString(Field::kOwner, owner);
    return Call(who, Opcode::kSign, std::move(m));
  }
  size_t ListCount(const std::string& who, const std::string& owner = "") {
    Message m;
    if (!owner.empty()) m.PutString(Field::kOwner, owner);
    auto r = Call(who, Opcode::kKeyList, std::move(m));
    return r.ok() ? r->GetAll(Field::kKeyEntry).size() : 9999;
  }

  std::string dir_;
  std::unique_ptr<StateDir> state_;
  std::unique_ptr<EmulatedBackend> backend_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

const std::string kContainer = "container:" + std::string(64, 'a');

TEST_F(DispatcherTest, NamespacesAreSeparateWithoutPolicy) {
  UsePolicy("");
  ASSERT_TRUE(Create("uid:1000", "id", "ecdsa-p256").ok());
  ASSERT_TRUE(Create(kContainer, "id", "ed25519").ok());  // same name, other namespace
  EXPECT_EQ(ListCount("uid:1000"), 1u);
  EXPECT_EQ(ListCount(kContainer), 1u);
  EXPECT_EQ(ListCount("uid:0"), 0u);  // root is not special without a policy
  EXPECT_TRUE(Sign("uid:1000", "", "id").ok());
  EXPECT_TRUE(Sign("uid:1000", "uid:1000", "id").ok());  // naming oneself as owner is fine
  EXPECT_EQ(Sign("uid:0", "uid:1000", "id").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Sign(kContainer, "uid:1000", "id").status().code(), ErrorCode::kPermissionDenied);
  // A refusal says nothing about existence.
  EXPECT_EQ(Sign("uid:0", "uid:1000", "no-such").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Sign("uid:0", "", "id").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(ListCount("uid:0", "uid:1000"), 9999u);  // refused
  Message bad_owner;
  bad_owner.PutString(Field::kName, "id")
      .PutString(Field::kOwner, "root")
      .PutBytes(Field::kData, AsBytes("x"));
  EXPECT_EQ(Call("uid:0", Opcode::kSign, std::move(bad_owner)).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(DispatcherTest, GrantsAreForNamedKeysOperationsAndPrincipals) {
  UsePolicy(R"(
[[grant]]
owner = "uid:0"
key = "shared"
to = [")" + kContainer +
            R"("]
operations = ["sign"]
[[grant]]
owner = "uid:0"
key = "public-only"
to = ["*"]
operations = ["public"]
)");
  ASSERT_TRUE(Create("uid:0", "shared", "ecdsa-p256").ok());
  ASSERT_TRUE(Create("uid:0", "other", "ecdsa-p256").ok());
  ASSERT_TRUE(Create("uid:0", "public-only", "ecdsa-p256").ok());
  EXPECT_TRUE(Sign(kContainer, "uid:0", "shared").ok());
  EXPECT_EQ(Sign("uid:1000", "uid:0", "shared").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Sign(kContainer, "uid:0", "other").status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Sign(kContainer, "uid:0", "public-only").status().code(), ErrorCode::kPermissionDenied);
  Message pub;
  pub.PutString(Field::kName, "public-only").PutString(Field::kOwner, "uid:0");
  EXPECT_TRUE(Call("uid:4242", Opcode::kKeyPublic, std::move(pub)).ok());
  Message del;
  del.PutString(Field::kName, "shared").PutString(Field::kOwner, "uid:0");
  EXPECT_EQ(Call(kContainer, Opcode::kKeyDelete, std::move(del)).status().code(),
            ErrorCode::kPermissionDenied);
  // Derived keys from a granted base would land in the caller's namespace, but derive is not
  // granted here.
  Message derive;
  derive.PutString(Field::kName, "shared")
      .PutString(Field::kOwner, "uid:0")
      .PutString(Field::kNewName, "mine")
      .PutBytes(Field::kInfo, AsBytes("x"));
  EXPECT_EQ(Call(kContainer, Opcode::kDerive, std::move(derive)).status().code(),
            ErrorCode::kPermissionDenied);
}

TEST_F(DispatcherTest, AdminsListAndUseEveryNamespace) {
  UsePolicy("admins = [\"uid:0\"]\n");
  ASSERT_TRUE(Create("uid:1000", "a", "hmac-sha256").ok());
  ASSERT_TRUE(Create(kContainer, "b", "hmac-sha256").ok());
  EXPECT_EQ(ListCount("uid:0", "uid:1000"), 1u);
  EXPECT_EQ(ListCount("uid:0", "*"), 2u);
  EXPECT_EQ(ListCount("uid:1000", "*"), 9999u);  // not an admin
  Message mac;
  mac.PutString(Field::kName, "b")
      .PutString(Field::kOwner, kContainer)
      .PutBytes(Field::kData, AsBytes("x"));
  EXPECT_TRUE(Call("uid:0", Opcode::kMac, std::move(mac)).ok());
  // Creation always goes to the caller's namespace, admin or not.
  ASSERT_TRUE(Create("uid:0", "a", "aes-256").ok());
  EXPECT_EQ(ListCount("uid:1000"), 1u);
}

TEST_F(DispatcherTest, SignAlgorithmIsResolvedAgainstTheKeyUsed) {
  UsePolicy("");
  ASSERT_TRUE(Create("uid:1", "k", "ed25519").ok());
  Message digest;
  digest.PutString(Field::kName, "k").PutBytes(Field::kDigest, Bytes(32, 1));
  EXPECT_EQ(Call("uid:1", Opcode::kSign, std::move(digest)).status().code(),
            ErrorCode::kUnsupported);
  Message both;
  both.PutString(Field::kName, "k")
      .PutBytes(Field::kDigest, Bytes(32, 1))
      .PutBytes(Field::kData, AsBytes("x"));
  EXPECT_EQ(Call("uid:1", Opcode::kSign, std::move(both)).status().code(),
            ErrorCode::kInvalidArgument);
  Message rsa_alg;
  rsa_alg.PutString(Field::kName, "k")
      .PutBytes(Field::kData, AsBytes("x"))
      .PutString(Field::kAlgorithm, "rsa-pss-sha256");
  EXPECT_EQ(Call("uid:1", Opcode::kSign, std::move(rsa_alg)).status().code(),
            ErrorCode::kUnsupported);
  Message unknown;
  unknown.PutString(Field::kName, "k")
      .PutBytes(Field::kData, AsBytes("x"))
      .PutString(Field::kAlgorithm, "md5");
  EXPECT_EQ(Call("uid:1", Opcode::kSign, std::move(unknown)).status().code(),
            ErrorCode::kInvalidArgument);
}

// --- Sealing, registers, counters, attestation --------------------------------------------------

Digest256 Fill(uint8_t b) {
  Digest256 d{};
  d.fill(b);
  return d;
}

Result<Message> Extend(DispatcherTest* t, const std::string& who, uint32_t index, uint8_t fill) {
  Message m;
  m.PutU32(Field::kRegister, index).PutBytes(Field::kDigest, Fill(fill));
  m.PutString(Field::kEvent, "test");
  return t->CallFor(who, Opcode::kExtend, std::move(m));
}

TEST_F(DispatcherTest, SealingIsPerPrincipalAndBindsRegisters) {
  UsePolicy("admins = [\"uid:0\"]\n");
  Message seal;
  seal.PutBytes(Field::kPlaintext, AsBytes("secret")).PutU32(Field::kRegisterMask, 1u << 9);
  auto sealed = Call("uid:1000", Opcode::kSeal, std::move(seal));
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  const Bytes blob(sealed->GetBytes(Field::kSealedBlob)->begin(),
                   sealed->GetBytes(Field::kSealedBlob)->end());
  auto unseal = [&](const std::string& who, const Bytes& b) {
    Message m;
    m.PutBytes(Field::kSealedBlob, b);
    return Call(who, Opcode::kUnseal, std::move(m));
  };
  auto opened = unseal("uid:1000", blob);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(Bytes(opened->GetBytes(Field::kPlaintext)->begin(),
                  opened->GetBytes(Field::kPlaintext)->end()),
            Bytes(AsBytes("secret").begin(), AsBytes("secret").end()));

  // Another principal, even an admin, is told whose blob it is and gets nothing.
  auto other = unseal("uid:0", blob);
  EXPECT_EQ(other.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(other.status().message().find("uid:1000"), std::string::npos);

  // Every flipped byte is refused; none is accepted as someone else's blob.
  for (size_t i = 0; i < blob.size(); ++i) {
    Bytes b = blob;
    b[i] ^= 0x01;
    auto r = unseal("uid:1000", b);
    EXPECT_FALSE(r.ok()) << "byte " << i;
    EXPECT_NE(r.status().code(), ErrorCode::kOk);
  }

  // Changing a bound register closes the blob; an unbound one does not matter.
  ASSERT_TRUE(Extend(this, "uid:1000", 10, 1).ok());
  EXPECT_TRUE(unseal("uid:1000", blob).ok());
  ASSERT_TRUE(Extend(this, "uid:1000", 9, 1).ok());
  auto closed = unseal("uid:1000", blob);
  EXPECT_EQ(closed.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(closed.status().message().find("9"), std::string::npos);
}

TEST_F(DispatcherTest, RegisterPolicyDefaultsAndOverrides) {
  UsePolicy(
      "admins = [\"uid:0\"]\n[[register]]\nindex = [2]\nextenders = [\"uid:7\"]\n"
      "[[register]]\nindex = 9\nextenders = [\"uid:0\"]\n");
  EXPECT_EQ(Extend(this, "uid:0", 0, 1).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Extend(this, "uid:0", 1, 1).ok());  // admin default for 1-7
  EXPECT_EQ(Extend(this, "uid:7", 1, 1).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Extend(this, "uid:7", 2, 1).ok());  // named by [[register]]
  EXPECT_EQ(Extend(this, "uid:0", 2, 1).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Extend(this, kContainer, 8, 1).ok());  // applications: anyone
  EXPECT_EQ(Extend(this, "uid:7", 9, 1).status().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Extend(this, "uid:0", 16, 1).status().code(), ErrorCode::kInvalidArgument);
  Message short_digest;
  short_digest.PutU32(Field::kRegister, 8).PutBytes(Field::kDigest, Bytes(20, 1));
  short_digest.PutString(Field::kEvent, "x");
  EXPECT_EQ(Call("uid:0", Opcode::kExtend, std::move(short_digest)).status().code(),
            ErrorCode::kInvalidArgument);

  auto regs = Call("uid:5", Opcode::kReadRegisters, Message());
  ASSERT_TRUE(regs.ok());
  EXPECT_EQ(regs->GetAll(Field::kRegisterValue).size(), kRegisterCount);
  EXPECT_EQ(*regs->GetU64(Field::kLogCount), 3u);
  auto log = Call("uid:5", Opcode::kReadLog, Message());
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->GetAll(Field::kLogEntry).size(), 3u);
}

TEST_F(DispatcherTest, CountersFollowNamespacesAndAdmins) {
  UsePolicy("admins = [\"uid:0\"]\n");
  auto counter = [&](const std::string& who, Opcode op, const std::string& name,
                     const std::string& owner = "") {
    Message m;
    m.PutString(Field::kName, name);
    if (!owner.empty()) m.PutString(Field::kOwner, owner);
    return Call(who, op, std::move(m));
  };
  auto created = counter("uid:1", Opcode::kCounterCreate, "fw");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*counter("uid:1", Opcode::kCounterIncrement, "fw")->GetU64(Field::kCounterValue), 1u);
  EXPECT_EQ(counter("uid:2", Opcode::kCounterRead, "fw").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(counter("uid:2", Opcode::kCounterRead, "fw", "uid:1").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(*counter("uid:0", Opcode::kCounterRead, "fw", "uid:1")->GetU64(Field::kCounterValue),
            1u);
  EXPECT_EQ(counter("uid:1", Opcode::kCounterCreate, "bad/name").status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(DispatcherTest, AttestationKeyIsNotACallerKey) {
  UsePolicy("admins = [\"uid:0\"]\n");
  EXPECT_EQ(ListCount("uid:0", "*"), 0u);
  Message sign;
  sign.PutString(Field::kName, "attestation")
      .PutString(Field::kOwner, "edgetrust-sd")
      .PutBytes(Field::kData, AsBytes("x"));
  EXPECT_EQ(Call("uid:0", Opcode::kSign, std::move(sign)).status().code(),
            ErrorCode::kInvalidArgument);
  Message nonce;
  nonce.PutBytes(Field::kNonce, Bytes(4, 1));
  EXPECT_EQ(Call("uid:1", Opcode::kAttest, std::move(nonce)).status().code(),
            ErrorCode::kInvalidArgument);
  Message good;
  good.PutBytes(Field::kNonce, Bytes(16, 1));
  auto ev = Call("uid:1", Opcode::kAttest, std::move(good));
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_GT(ev->GetBytes(Field::kEvidence)->size(), 300u);
  EXPECT_TRUE(Call("uid:1", Opcode::kAttestKey, Message()).ok());
}

}  // namespace
}  // namespace edgetrust::sd
