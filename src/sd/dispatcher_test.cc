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

}  // namespace
}  // namespace edgetrust::sd
