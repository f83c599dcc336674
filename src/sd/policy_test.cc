// Unit tests of the access policy: parsing (with error locations) and decisions.
#include "sd/policy.h"

#include <gtest/gtest.h>

#include <string>

namespace edgetrust::sd {
namespace {

const std::string kContainer = "container:" + std::string(64, 'a');

// Parses `text`, expecting kInvalidArgument whose message contains each of `needles`.
::testing::AssertionResult Rejects(const std::string& text,
                                   std::initializer_list<std::string> needles) {
  auto p = Policy::Parse(text);
  if (p.ok()) return ::testing::AssertionFailure() << "accepted:\n" << text;
  if (p.status().code() != ErrorCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "wrong code: " << p.status().ToString();
  }
  for (const auto& n : needles) {
    if (p.status().message().find(n) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message \"" << p.status().message() << "\" lacks \"" << n << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(PolicyParseTest, EmptyPolicy) {
  auto p = Policy::Parse("");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->admins().empty());
  EXPECT_EQ(p->grant_count(), 0u);
  EXPECT_FALSE(p->IsAdmin("uid:0"));
}

TEST(PolicyParseTest, AdminsAndGrants) {
  const std::string text = R"(admins = ["uid:0", ")" + kContainer + R"("]

[[grant]]
owner = "uid:0"
key = "device-identity"
to = ["uid:1000", ")" + kContainer +
                           R"("]
operations = ["sign", "public"]

[[grant]]
owner = "uid:1000"
key = "backup"
to = ["uid:1001"]
operations = ["encrypt", "decrypt", "mac", "derive", "ecdh", "verify", "delete"]
)";
  auto p = Policy::Parse(text);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->admins().size(), 2u);
  EXPECT_TRUE(p->IsAdmin("uid:0"));
  EXPECT_TRUE(p->IsAdmin(kContainer));
  EXPECT_FALSE(p->IsAdmin("uid:1000"));
  EXPECT_EQ(p->grant_count(), 2u);
  EXPECT_TRUE(p->Allows("uid:1000", "uid:0", "device-identity", "sign"));
  EXPECT_TRUE(p->Allows("uid:1001", "uid:1000", "backup", "delete"));
}

TEST(PolicyParseTest, WildcardInTo) {
  auto p = Policy::Parse(R"(
[[grant]]
owner = "uid:0"
key = "fleet-ca"
to = ["*"]
operations = ["public", "verify"]
)");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  for (const std::string& caller :
       {std::string("uid:1"), std::string("uid:4294967295"), kContainer}) {
    EXPECT_TRUE(p->Allows(caller, "uid:0", "fleet-ca", "public")) << caller;
    EXPECT_TRUE(p->Allows(caller, "uid:0", "fleet-ca", "verify")) << caller;
    EXPECT_FALSE(p->Allows(caller, "uid:0", "fleet-ca", "sign")) << caller;
    EXPECT_FALSE(p->Allows(caller, "uid:0", "other", "public")) << caller;
  }
}

TEST(PolicyParseTest, GrantsThroughFromToml) {
  toml::table t = toml::parse(R"(
admins = ["uid:5"]
[[grant]]
owner = "uid:0"
key = "k"
to = ["uid:7"]
operations = ["mac"]
)");
  auto p = Policy::FromToml(t);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->IsAdmin("uid:5"));
  EXPECT_TRUE(p->Allows("uid:7", "uid:0", "k", "mac"));
}

TEST(PolicyParseTest, UnknownTopLevelKey) {
  EXPECT_TRUE(
      Rejects("admins = []\nadmin = [\"uid:0\"]\n", {"unknown key", "\"admin\"", "line 2"}));
  EXPECT_TRUE(Rejects("\n\n[grants]\nowner = \"uid:0\"\n", {"\"grants\"", "line 3"}));
}

TEST(PolicyParseTest, UnknownGrantKey) {
  EXPECT_TRUE(Rejects(R"([[grant]]
owner = "uid:0"
key = "k"
to = ["uid:1"]
operations = ["sign"]
expires = 2030
)",
                      {"grant", "unknown key", "\"expires\"", "line 6"}));
}

TEST(PolicyParseTest, BadPrincipals) {
  EXPECT_TRUE(Rejects("admins = [\"uid:0\",\n  \"root\"]\n", {"admins", "\"root\"", "line 2"}));
  EXPECT_TRUE(Rejects("admins = [\"uid:-1\"]\n", {"\"uid:-1\"", "line 1"}));
  EXPECT_TRUE(Rejects("admins = [\"container:abc\"]\n", {"\"container:abc\""}));
  // One spelling per principal: "uid:01000" would never match the caller uid:1000.
  EXPECT_TRUE(Rejects("admins = [\"uid:01000\"]\n", {"\"uid:01000\""}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "uid:0"
key = "k"
to = ["uid:1", "uid:4294967296"]
operations = ["sign"]
)",
                      {"grant.to", "\"uid:4294967296\"", "line 5"}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "alice"
key = "k"
to = ["uid:1"]
operations = ["sign"]
)",
                      {"owner", "line 2"}));
  // "*" is only meaningful in `to`.
  EXPECT_TRUE(Rejects("admins = [\"*\"]\n", {"admins", "\"*\""}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "*"
key = "k"
to = ["uid:1"]
operations = ["sign"]
)",
                      {"owner"}));
}

TEST(PolicyParseTest, UnknownOperation) {
  EXPECT_TRUE(Rejects(R"([[grant]]
owner = "uid:0"
key = "k"
to = ["uid:1"]
operations = ["sign",
  "sing"]
)",
                      {"grant.operations", "\"sing\"", "line 6"}));
  // Operations that are never grantable.
  for (const char* op : {"random", "create", "list", "info", "-", ""}) {
    EXPECT_TRUE(Rejects(
        std::string(
            "[[grant]]\nowner = \"uid:0\"\nkey = \"k\"\nto = [\"uid:1\"]\noperations = [\"") +
            op + "\"]\n",
        {"grant.operations"}))
        << op;
  }
}

TEST(PolicyParseTest, EmptyToOrOperations) {
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "uid:0"
key = "k"
to = []
operations = ["sign"]
)",
                      {"names nobody", "line 2"}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "uid:0"
key = "k"
operations = ["sign"]
)",
                      {"names nobody"}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "uid:0"
key = "k"
to = ["uid:1"]
operations = []
)",
                      {"no operations", "line 2"}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "uid:0"
key = "k"
to = ["uid:1"]
)",
                      {"no operations"}));
}

TEST(PolicyParseTest, GrantMissingOwnerOrKey) {
  EXPECT_TRUE(Rejects(R"(
[[grant]]
key = "k"
to = ["uid:1"]
operations = ["sign"]
)",
                      {"owner", "line 2"}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "uid:0"
to = ["uid:1"]
operations = ["sign"]
)",
                      {"key", "line 2"}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "uid:0"
key = ""
to = ["uid:1"]
operations = ["sign"]
)",
                      {"key"}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = 0
key = "k"
to = ["uid:1"]
operations = ["sign"]
)",
                      {"owner"}));
}

TEST(PolicyParseTest, WrongShapes) {
  EXPECT_TRUE(Rejects("admins = \"uid:0\"\n", {"admins", "array", "line 1"}));
  EXPECT_TRUE(Rejects("admins = [0]\n", {"admins", "strings"}));
  EXPECT_TRUE(Rejects("[grant]\nowner = \"uid:0\"\n", {"grant", "array of tables"}));
  EXPECT_TRUE(Rejects("grant = [1, 2]\n", {"grant must be a table"}));
  EXPECT_TRUE(Rejects(R"(
[[grant]]
owner = "uid:0"
key = "k"
to = "uid:1"
operations = ["sign"]
)",
                      {"grant.to", "array"}));
}

TEST(PolicyParseTest, SyntaxErrors) {
  EXPECT_TRUE(Rejects("admins = [\"uid:0\"\n", {"policy:", "line"}));
  EXPECT_TRUE(Rejects("\n\nadmins = = 1\n", {"policy:", "line 3"}));
  EXPECT_TRUE(Rejects("[[grant]\n", {"line 1"}));
  EXPECT_TRUE(Rejects("admins = []\nadmins = []\n", {"line 2"}));  // duplicate key
}

class PolicyAllowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = Policy::Parse(R"(
admins = ["uid:0"]

[[grant]]
owner = "uid:1000"
key = "device-identity"
to = ["uid:1001", ")" + kContainer +
                           R"("]
operations = ["sign", "public"]
)");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    policy_ = std::move(p).value();
  }
  Policy policy_;
};

TEST_F(PolicyAllowsTest, OwnerAlwaysAllowed) {
  for (const char* op : {"sign", "decrypt", "delete", ""}) {
    EXPECT_TRUE(policy_.Allows("uid:1000", "uid:1000", "device-identity", op)) << op;
    EXPECT_TRUE(policy_.Allows("uid:1000", "uid:1000", "anything", op)) << op;
    EXPECT_TRUE(Policy().Allows("uid:42", "uid:42", "k", op)) << op;
  }
  EXPECT_TRUE(policy_.Allows(kContainer, kContainer, "k", "sign"));
}

TEST_F(PolicyAllowsTest, AdminAllowedEverywhere) {
  EXPECT_TRUE(policy_.Allows("uid:0", "uid:1000", "device-identity", "delete"));
  EXPECT_TRUE(policy_.Allows("uid:0", "uid:1001", "other", "decrypt"));
  EXPECT_TRUE(policy_.Allows("uid:0", kContainer, "x", "sign"));
}

TEST_F(PolicyAllowsTest, GranteeOnlyForGrantedOperations) {
  EXPECT_TRUE(policy_.Allows("uid:1001", "uid:1000", "device-identity", "sign"));
  EXPECT_TRUE(policy_.Allows("uid:1001", "uid:1000", "device-identity", "public"));
  EXPECT_TRUE(policy_.Allows(kContainer, "uid:1000", "device-identity", "sign"));
  for (const char* op : {"verify", "delete", "decrypt", "encrypt", "mac", "derive", "ecdh", ""}) {
    EXPECT_FALSE(policy_.Allows("uid:1001", "uid:1000", "device-identity", op)) << op;
  }
}

TEST_F(PolicyAllowsTest, GranteeOnlyForNamedKeyAndOwner) {
  EXPECT_FALSE(policy_.Allows("uid:1001", "uid:1000", "other-key", "sign"));
  EXPECT_FALSE(policy_.Allows("uid:1001", "uid:1000", "device-identity2", "sign"));
  EXPECT_FALSE(policy_.Allows("uid:1001", "uid:1000", "Device-Identity", "sign"));
  // Same key name in another owner's namespace.
  EXPECT_FALSE(policy_.Allows("uid:1001", "uid:1002", "device-identity", "sign"));
  EXPECT_FALSE(policy_.Allows("uid:1001", "uid:0", "device-identity", "sign"));
}

TEST_F(PolicyAllowsTest, OthersRefused) {
  EXPECT_FALSE(policy_.Allows("uid:1002", "uid:1000", "device-identity", "sign"));
  EXPECT_FALSE(
      policy_.Allows("container:" + std::string(64, 'b'), "uid:1000", "device-identity", "sign"));
  // Grants are one-way: the owner gains nothing over the grantee's keys.
  EXPECT_FALSE(policy_.Allows("uid:1000", "uid:1001", "device-identity", "sign"));
  EXPECT_FALSE(Policy().Allows("uid:1", "uid:2", "k", "public"));
}

TEST(PolicyRegisterTest, DefaultsWithoutRegisterEntries) {
  auto p = Policy::Parse("admins = [\"uid:0\"]\n");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->MayExtend("uid:0", 0));  // the daemon's own register, for nobody
  EXPECT_TRUE(p->MayExtend("uid:0", 1));
  EXPECT_TRUE(p->MayExtend("uid:0", 7));
  EXPECT_FALSE(p->MayExtend("uid:1000", 1));
  EXPECT_TRUE(p->MayExtend("uid:1000", 8));
  EXPECT_TRUE(p->MayExtend("uid:1000", 15));
  EXPECT_FALSE(p->MayExtend("uid:0", 16));
}

TEST(PolicyRegisterTest, EntriesReplaceTheDefault) {
  auto p = Policy::Parse(R"(
admins = ["uid:0"]
[[register]]
index = [1, 2]
extenders = ["uid:5"]
[[register]]
index = 12
extenders = []
[[register]]
index = 3
extenders = ["*"]
)");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->MayExtend("uid:5", 1));
  EXPECT_TRUE(p->MayExtend("uid:5", 2));
  EXPECT_FALSE(p->MayExtend("uid:0", 2));  // replaced, not added to
  EXPECT_FALSE(p->MayExtend("uid:5", 12));
  EXPECT_TRUE(p->MayExtend("uid:77", 3));
  EXPECT_TRUE(p->MayExtend("uid:0", 4));  // untouched default
}

TEST(PolicyRegisterTest, RejectsBadEntries) {
  for (const char* bad : {
           "[[register]]\nindex = 0\nextenders = [\"uid:1\"]\n",
           "[[register]]\nindex = 16\nextenders = [\"uid:1\"]\n",
           "[[register]]\nindex = [1, 1]\nextenders = [\"uid:1\"]\n",
           "[[register]]\nindex = 1\nextenders = [\"root\"]\n",
           "[[register]]\nextenders = [\"uid:1\"]\n",
           "[[register]]\nindex = \"1\"\nextenders = [\"uid:1\"]\n",
           "[[register]]\nindex = 1\nextenders = [\"uid:1\"]\nwho = 1\n",
           "register = 1\n",
       }) {
    auto p = Policy::Parse(bad);
    EXPECT_EQ(p.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace edgetrust::sd
