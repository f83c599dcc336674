// Principals and policy: a second uid neither sees nor uses the first uid's keys unless the
// policy grants it. Tests run as root and drop to `nobody` in a child process.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "edgetrust/client.h"
#include "harness.h"

namespace edgetrust::test {
namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

// Runs `body` in a child process as nobody; returns its exit code (0 = all checks passed).
// Failures print what failed on stderr, which ctest shows.
int AsNobody(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    gid_t groups[1] = {kNogroup};
    if (::setgroups(1, groups) != 0 || ::setresgid(kNogroup, kNogroup, kNogroup) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0) {
      ::_exit(100);
    }
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

#define CHILD_EXPECT(cond)                                                         \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "child check failed: %s (line %d)\n", #cond, __LINE__); \
      return 1;                                                                    \
    }                                                                              \
  } while (0)

class SdIsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root to switch to a second uid";
  }
  void StartDaemon(const std::string& config = "") {
    SdProcess::Options o;
    o.config_text = config;
    sd_ = std::make_unique<SdProcess>(dir_, o);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    auto c = Client::Connect(sd_->socket());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    root_ = std::move(c).value();
  }
  void TearDown() override {
    root_.reset();
    if (sd_) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }

  TempDir dir_;
  std::unique_ptr<SdProcess> sd_;
  std::unique_ptr<Client> root_;
};

TEST_F(SdIsolationTest, SecondUidCannotSeeOrUseKeysWithoutPolicy) {
  StartDaemon();
  ASSERT_TRUE(root_->CreateKey("device-identity", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(root_->CreateKey("records", KeyType::kAes256).ok());
  auto ct = root_->Encrypt("records", AsBytes("root's secret"));
  ASSERT_TRUE(ct.ok());
  const std::string socket = sd_->socket();
  const Bytes ciphertext = *ct;

  int rc = AsNobody([&] {
    auto c = Client::Connect(socket);
    CHILD_EXPECT(c.ok());
    auto& cl = **c;
    auto info = cl.Info();
    CHILD_EXPECT(info.ok() && info->principal == "uid:65534" && info->key_count == 0);
    auto keys = cl.ListKeys();
    CHILD_EXPECT(keys.ok() && keys->empty());
    CHILD_EXPECT(cl.ListKeys("uid:0").status().code() == ErrorCode::kPermissionDenied);
    // Same name in its own namespace: not found; named with root's principal: refused.
    CHILD_EXPECT(cl.Sign("device-identity", AsBytes("x")).status().code() == ErrorCode::kNotFound);
    CHILD_EXPECT(cl.Sign("uid:0/device-identity", AsBytes("x")).status().code() ==
                 ErrorCode::kPermissionDenied);
    CHILD_EXPECT(cl.PublicKeyPem("uid:0/device-identity").status().code() ==
                 ErrorCode::kPermissionDenied);
    CHILD_EXPECT(cl.Decrypt("uid:0/records", ciphertext).status().code() ==
                 ErrorCode::kPermissionDenied);
    CHILD_EXPECT(cl.DeleteKey("uid:0/records").code() == ErrorCode::kPermissionDenied);
    // A refusal does not reveal existence: a missing key of root's is refused the same way.
    CHILD_EXPECT(cl.Sign("uid:0/no-such-key", AsBytes("x")).status().code() ==
                 ErrorCode::kPermissionDenied);
    // Its own key of the same name is independent of root's.
    CHILD_EXPECT(cl.CreateKey("device-identity", KeyType::kEd25519).ok());
    auto mine = cl.ListKeys();
    CHILD_EXPECT(mine.ok() && mine->size() == 1 && (*mine)[0].owner == "uid:65534");
    return 0;
  });
  EXPECT_EQ(rc, 0);

  auto keys = root_->ListKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].type, "ecdsa-p256");  // root's key untouched by nobody's same-named key
  // Root is not an admin unless the policy says so.
  EXPECT_EQ(root_->ListKeys("uid:65534").status().code(), ErrorCode::kPermissionDenied);
}

TEST_F(SdIsolationTest, PolicyGrantsNamedKeyForNamedOperationsOnly) {
  StartDaemon(R"(
[policy]
admins = ["uid:0"]
[[policy.grant]]
owner = "uid:0"
key = "shared-signer"
to = ["uid:65534"]
operations = ["sign", "public"]
)");
  ASSERT_TRUE(root_->CreateKey("shared-signer", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(root_->CreateKey("private-signer", KeyType::kEcdsaP256).ok());
  const std::string socket = sd_->socket();

  int rc = AsNobody([&] {
    auto c = Client::Connect(socket);
    CHILD_EXPECT(c.ok());
    auto& cl = **c;
    auto sig = cl.Sign("uid:0/shared-signer", AsBytes("granted"));
    CHILD_EXPECT(sig.ok());
    CHILD_EXPECT(cl.PublicKeyPem("uid:0/shared-signer").ok());
    // Not granted: verify, delete, and every other key.
    CHILD_EXPECT(cl.Verify("uid:0/shared-signer", AsBytes("granted"), *sig).status().code() ==
                 ErrorCode::kPermissionDenied);
    CHILD_EXPECT(cl.DeleteKey("uid:0/shared-signer").code() == ErrorCode::kPermissionDenied);
    CHILD_EXPECT(cl.Sign("uid:0/private-signer", AsBytes("x")).status().code() ==
                 ErrorCode::kPermissionDenied);
    // A grant does not make the key appear in the grantee's own listing.
    auto keys = cl.ListKeys();
    CHILD_EXPECT(keys.ok() && keys->empty());
    CHILD_EXPECT(cl.CreateKey("own", KeyType::kHmacSha256).ok());
    return 0;
  });
  EXPECT_EQ(rc, 0);

  // Root is an admin here: it lists nobody's namespace and every namespace.
  auto theirs = root_->ListKeys("uid:65534");
  ASSERT_TRUE(theirs.ok()) << theirs.status().ToString();
  ASSERT_EQ(theirs->size(), 1u);
  EXPECT_EQ((*theirs)[0].name, "own");
  auto all = root_->ListKeys("*");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  // An admin may also use keys of other namespaces.
  EXPECT_TRUE(root_->Mac("uid:65534/own", AsBytes("admin may use")).ok());
}

TEST(SdConfigTest, BadPolicyIsRefusedAtStartWithItsLine) {
  TempDir dir;
  SdProcess::Options o;
  o.config_text = "[policy]\nadmins = [\"root\"]\n";
  SdProcess sd(dir, o);
  EXPECT_FALSE(sd.Start());
  EXPECT_NE(sd.log().find("admins: invalid entry \"root\""), std::string::npos) << sd.log();
}

}  // namespace
}  // namespace edgetrust::test
