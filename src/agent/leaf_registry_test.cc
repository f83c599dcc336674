#include "agent/leaf_registry.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/hex.h"
#include "harness.h"

namespace edgetrust::agent {
namespace {

using test::ReadText;
using test::TempDir;
using test::WriteText;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kHour = 3'600'000;

std::string Sha256Hex(std::string_view text) {
  uint8_t digest[32];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
  return HexEncode(ByteView(digest, len));
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* e = d != nullptr ? ::readdir(d) : nullptr) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  if (d != nullptr) ::closedir(d);
  return out;
}

class LeafRegistryTest : public ::testing::Test {
 protected:
  std::unique_ptr<LeafRegistry> OpenOk() {
    auto r = LeafRegistry::Open(path_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  TempDir dir_;
  std::string path_ = dir_.File("leaves.json");
};

TEST(LeafNameTest, ValidNamesAreSingleTopicLevels) {
  for (std::string_view ok : {"a", "Z", "0", "sensor-1", "temp.kitchen_2", "a-b.c_d",
                              "x234567890123456789012345678901234567890123456789012345678901234"}) {
    EXPECT_TRUE(LeafRegistry::IsValidName(ok)) << ok;
  }
  for (std::string_view bad :
       {"", "-a", ".a", "_a", "a/b", "a+", "#", "a b", "a\nb", "ä", "$SYS", "a:b",
        "x2345678901234567890123456789012345678901234567890123456789012345"}) {
    EXPECT_FALSE(LeafRegistry::IsValidName(bad)) << bad;
  }
  EXPECT_FALSE(LeafRegistry::IsValidName(std::string_view("a\0b", 3)));
}

TEST_F(LeafRegistryTest, MissingFileIsEmptyAndNotCreatedUntilAChange) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  EXPECT_TRUE(reg->List().empty());
  EXPECT_EQ(reg->Get("s1").status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(FilesIn(dir_.path()).empty());
}

TEST_F(LeafRegistryTest, EnrollmentTokenIsRandomOneTimeAndOnlyItsHashIsStored) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  auto token = reg->AddEnrollment("s1", kHour, kNow);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->size(), 43u);  // 32 bytes, base64url without padding
  for (char c : *token) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << *token;
  }
  auto other = reg->AddEnrollment("s2", kHour, kNow);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*token, *other);

  auto rec = reg->Get("s1");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->auth, LeafAuth::kEnrollment);
  EXPECT_EQ(rec->state, LeafState::kPending);
  EXPECT_EQ(rec->created_ms, kNow);
  EXPECT_EQ(rec->token_expires_ms, kNow + kHour);
  EXPECT_FALSE(rec->token_used);
  EXPECT_EQ(rec->token_sha256_hex, Sha256Hex(*token));

  const std::string file = ReadText(path_);
  EXPECT_EQ(file.find(*token), std::string::npos);
  EXPECT_NE(file.find(Sha256Hex(*token)), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(LeafRegistryTest, TokenLifetimeIsBounded) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->AddEnrollment("a", kMinTokenTtlMs - 1, kNow).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg->AddEnrollment("a", kMaxTokenTtlMs + 1, kNow).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg->AddEnrollment("a", -1, kNow).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(reg->AddEnrollment("a", kMinTokenTtlMs, kNow).ok());
  EXPECT_TRUE(reg->AddEnrollment("b", kMaxTokenTtlMs, kNow).ok());
  EXPECT_EQ(reg->AddEnrollment("c", kHour, std::numeric_limits<int64_t>::max()).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg->List().size(), 2u);
}

TEST_F(LeafRegistryTest, AddRefusesBadAndKnownNamesButRestartsRevokedOnes) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->AddPsk("a/b", kNow).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg->AddCertificate("", kNow).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg->AddEnrollment("+", kHour, kNow).status().code(), ErrorCode::kInvalidArgument);

  ASSERT_TRUE(reg->AddPsk("p", kNow).ok());
  ASSERT_TRUE(reg->AddCertificate("c", kNow).ok());
  auto old_token = reg->AddEnrollment("e", kHour, kNow);
  ASSERT_TRUE(old_token.ok());
  for (const char* name : {"p", "c", "e"}) {
    EXPECT_EQ(reg->AddPsk(name, kNow).code(), ErrorCode::kAlreadyExists) << name;
    EXPECT_EQ(reg->AddCertificate(name, kNow).code(), ErrorCode::kAlreadyExists) << name;
    Status st = reg->AddEnrollment(name, kHour, kNow).status();
    EXPECT_EQ(st.code(), ErrorCode::kAlreadyExists) << name;
    EXPECT_NE(st.message().find("already exists"), std::string::npos) << st.message();
  }

  ASSERT_TRUE(reg->Revoke("e", kNow + 1).ok());
  auto new_token = reg->AddEnrollment("e", kHour, kNow + 2);
  ASSERT_TRUE(new_token.ok()) << new_token.status().ToString();
  auto rec = reg->Get("e");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, LeafState::kPending);
  EXPECT_EQ(rec->created_ms, kNow + 2);
  EXPECT_EQ(rec->revoked_ms, 0);
  EXPECT_EQ(reg->CheckToken("e", *old_token, kNow + 3).code(), ErrorCode::kVerifyFailed);
  EXPECT_TRUE(reg->CheckToken("e", *new_token, kNow + 3).ok());

  // A revoked PSK leaf may come back as another kind.
  ASSERT_TRUE(reg->Revoke("p", kNow).ok());
  ASSERT_TRUE(reg->AddCertificate("p", kNow + 5).ok());
  EXPECT_EQ(reg->Get("p")->auth, LeafAuth::kCertificate);
  EXPECT_EQ(reg->List().size(), 3u);
}

TEST_F(LeafRegistryTest, CheckTokenErrorsAreDistinct) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  auto token = reg->AddEnrollment("s1", kHour, kNow);
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(reg->AddCertificate("cert", kNow).ok());
  ASSERT_TRUE(reg->AddPsk("psk", kNow).ok());

  Status st = reg->CheckToken("nobody", *token, kNow);
  EXPECT_EQ(st.code(), ErrorCode::kNotFound);
  EXPECT_NE(st.message().find("unknown leaf"), std::string::npos);

  std::string wrong = *token;
  wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
  st = reg->CheckToken("s1", wrong, kNow);
  EXPECT_EQ(st.code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(st.message().find("wrong"), std::string::npos);
  EXPECT_EQ(reg->CheckToken("s1", "", kNow).code(), ErrorCode::kVerifyFailed);
  EXPECT_EQ(reg->CheckToken("s1", std::string(100000, 'a'), kNow).code(), ErrorCode::kVerifyFailed);

  for (const char* name : {"cert", "psk"}) {
    st = reg->CheckToken(name, *token, kNow);
    EXPECT_EQ(st.code(), ErrorCode::kPermissionDenied) << name;
    EXPECT_NE(st.message().find("does not enroll with a token"), std::string::npos);
  }

  // Valid until (not including) the expiry time; checking does not consume.
  EXPECT_TRUE(reg->CheckToken("s1", *token, kNow).ok());
  EXPECT_TRUE(reg->CheckToken("s1", *token, kNow + kHour - 1).ok());
  st = reg->CheckToken("s1", *token, kNow + kHour);
  EXPECT_EQ(st.code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("token expired"), std::string::npos);
  EXPECT_EQ(reg->ConsumeToken("s1", *token, kNow + kHour, "01").code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(reg->Get("s1")->state, LeafState::kPending);

  ASSERT_TRUE(reg->ConsumeToken("s1", *token, kNow + 10, "0A1b").ok());
  st = reg->CheckToken("s1", *token, kNow + 11);
  EXPECT_EQ(st.code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(st.message().find("token already used"), std::string::npos);
  st = reg->ConsumeToken("s1", *token, kNow + 11, "02");
  EXPECT_EQ(st.code(), ErrorCode::kPermissionDenied);

  auto t2 = reg->AddEnrollment("s2", kHour, kNow);
  ASSERT_TRUE(t2.ok());
  ASSERT_TRUE(reg->Revoke("s2", kNow + 1).ok());
  st = reg->CheckToken("s2", *t2, kNow + 2);
  EXPECT_EQ(st.code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(st.message().find("leaf 's2' revoked"), std::string::npos) << st.message();
  // The wrong token learns nothing about the state.
  EXPECT_EQ(reg->CheckToken("s2", wrong, kNow + 2).code(), ErrorCode::kVerifyFailed);
}

TEST_F(LeafRegistryTest, ConsumeMakesTheLeafAnActiveCertificateLeaf) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  auto token = reg->AddEnrollment("s1", kHour, kNow);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(reg->ConsumeToken("s1", *token, kNow, "").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg->ConsumeToken("s1", *token, kNow, "xyz").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg->ConsumeToken("s1", *token, kNow, std::string(41, 'a')).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(reg->Get("s1")->state, LeafState::kPending);

  ASSERT_TRUE(reg->ConsumeToken("s1", *token, kNow + 5, "00AB12").ok());
  auto rec = reg->Get("s1");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, LeafState::kActive);
  EXPECT_EQ(rec->auth, LeafAuth::kCertificate);
  EXPECT_TRUE(rec->token_used);
  EXPECT_EQ(rec->enrolled_ms, kNow + 5);
  EXPECT_EQ(rec->cert_serial_hex, "ab12");
}

TEST_F(LeafRegistryTest, AdmitFollowsStateAndAuthentication) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  auto token = reg->AddEnrollment("pending", kHour, kNow);
  ASSERT_TRUE(token.ok());
  auto token2 = reg->AddEnrollment("enrolled", kHour, kNow);
  ASSERT_TRUE(token2.ok());
  ASSERT_TRUE(reg->ConsumeToken("enrolled", *token2, kNow, "1f").ok());
  ASSERT_TRUE(reg->AddCertificate("cert", kNow).ok());
  ASSERT_TRUE(reg->AddPsk("psk", kNow).ok());
  ASSERT_TRUE(reg->AddPsk("gone", kNow).ok());
  ASSERT_TRUE(reg->Revoke("gone", kNow).ok());

  auto expect = [&](std::string_view name, LeafAuth auth, ErrorCode code, std::string_view text,
                    std::string_view serial = {}) {
    Status st = reg->Admit(name, auth, serial);
    EXPECT_EQ(st.code(), code) << name << " " << LeafRegistry::AuthName(auth) << ": "
                               << st.ToString();
    EXPECT_NE(st.message().find(text), std::string::npos) << st.message();
  };
  const auto ok = ErrorCode::kOk;
  const auto denied = ErrorCode::kPermissionDenied;
  expect("nobody", LeafAuth::kCertificate, ErrorCode::kNotFound, "unknown leaf");
  expect("pending", LeafAuth::kEnrollment, ok, "");
  expect("pending", LeafAuth::kCertificate, denied, "not enrolled yet");
  expect("pending", LeafAuth::kPsk, denied, "not enrolled yet");
  expect("enrolled", LeafAuth::kCertificate, ok, "");
  expect("enrolled", LeafAuth::kCertificate, ok, "", "001F");
  expect("enrolled", LeafAuth::kCertificate, denied, "not the one issued", "20");
  expect("enrolled", LeafAuth::kEnrollment, denied, "already enrolled");
  expect("enrolled", LeafAuth::kPsk, denied, "authenticates with a certificate, not a PSK");
  expect("cert", LeafAuth::kCertificate, ok, "", "99");
  expect("cert", LeafAuth::kPsk, denied, "authenticates with a certificate, not a PSK");
  expect("cert", LeafAuth::kEnrollment, denied, "does not enroll with a token");
  expect("psk", LeafAuth::kPsk, ok, "");
  expect("psk", LeafAuth::kCertificate, denied, "authenticates with a PSK, not a certificate");
  expect("psk", LeafAuth::kEnrollment, denied, "does not enroll with a token");
  for (LeafAuth a : {LeafAuth::kCertificate, LeafAuth::kPsk, LeafAuth::kEnrollment}) {
    expect("gone", a, denied, "revoked");
  }
}

TEST_F(LeafRegistryTest, RevokeKeepsTheFirstRevocation) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->Revoke("nobody", kNow).code(), ErrorCode::kNotFound);
  ASSERT_TRUE(reg->AddCertificate("c", kNow).ok());
  ASSERT_TRUE(reg->Revoke("c", kNow + 1).ok());
  ASSERT_TRUE(reg->Revoke("c", kNow + 2).ok());
  auto rec = reg->Get("c");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, LeafState::kRevoked);
  EXPECT_EQ(rec->revoked_ms, kNow + 1);
}

TEST_F(LeafRegistryTest, EverythingSurvivesAReopenAndWritesLeaveNoTemporaries) {
  std::string token;
  {
    auto reg = OpenOk();
    ASSERT_NE(reg, nullptr);
    auto t = reg->AddEnrollment("zeta", kHour, kNow);
    ASSERT_TRUE(t.ok());
    token = *t;
    auto t2 = reg->AddEnrollment("enrolled", kHour, kNow);
    ASSERT_TRUE(t2.ok());
    ASSERT_TRUE(reg->ConsumeToken("enrolled", *t2, kNow + 7, "abcdef").ok());
    ASSERT_TRUE(reg->AddPsk("alpha", kNow + 1).ok());
    ASSERT_TRUE(reg->AddCertificate("mid", kNow + 2).ok());
    ASSERT_TRUE(reg->Revoke("mid", kNow + 3).ok());
  }
  EXPECT_EQ(FilesIn(dir_.path()), std::vector<std::string>{"leaves.json"});
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  auto list = reg->List();
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].name, "alpha");
  EXPECT_EQ(list[1].name, "enrolled");
  EXPECT_EQ(list[2].name, "mid");
  EXPECT_EQ(list[3].name, "zeta");
  EXPECT_EQ(list[0].auth, LeafAuth::kPsk);
  EXPECT_EQ(list[1].cert_serial_hex, "abcdef");
  EXPECT_EQ(list[1].enrolled_ms, kNow + 7);
  EXPECT_EQ(list[2].state, LeafState::kRevoked);
  EXPECT_EQ(list[2].revoked_ms, kNow + 3);
  // The token still works after the reopen, once.
  EXPECT_TRUE(reg->ConsumeToken("zeta", token, kNow + 8, "01").ok());
  EXPECT_EQ(reg->ConsumeToken("zeta", token, kNow + 9, "01").code(), ErrorCode::kPermissionDenied);
  auto again = LeafRegistry::Open(path_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->List(), reg->List());
}

TEST_F(LeafRegistryTest, AFailedWriteChangesNothing) {
  // The registry's folder vanishes: every change fails with an I/O error and is not kept.
  TempDir other;
  const std::string dir = other.File("gone");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  auto opened = LeafRegistry::Open(dir + "/leaves.json");
  ASSERT_TRUE(opened.ok());
  auto& reg = *opened;
  ASSERT_TRUE(reg->AddCertificate("kept", kNow).ok());
  auto token = reg->AddEnrollment("e", kHour, kNow);
  ASSERT_TRUE(token.ok());
  ASSERT_EQ(::unlink((dir + "/leaves.json").c_str()), 0);
  ASSERT_EQ(::rmdir(dir.c_str()), 0);

  EXPECT_EQ(reg->AddPsk("new", kNow).code(), ErrorCode::kIoError);
  EXPECT_EQ(reg->AddEnrollment("new2", kHour, kNow).status().code(), ErrorCode::kIoError);
  EXPECT_EQ(reg->Revoke("kept", kNow).code(), ErrorCode::kIoError);
  EXPECT_EQ(reg->ConsumeToken("e", *token, kNow, "01").code(), ErrorCode::kIoError);
  auto list = reg->List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "e");
  EXPECT_EQ(list[0].state, LeafState::kPending);
  EXPECT_FALSE(list[0].token_used);
  EXPECT_EQ(list[1].state, LeafState::kActive);
  // Once the folder is back, the token is still unused.
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  EXPECT_TRUE(reg->ConsumeToken("e", *token, kNow, "01").ok());
}

TEST_F(LeafRegistryTest, ConcurrentConsumeHasExactlyOneWinner) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  constexpr int kLeaves = 5;
  constexpr int kRacers = 6;
  std::vector<std::string> tokens;
  for (int i = 0; i < kLeaves; ++i) {
    auto t = reg->AddEnrollment("s" + std::to_string(i), kHour, kNow);
    ASSERT_TRUE(t.ok());
    tokens.push_back(*t);
  }
  for (int i = 0; i < kLeaves; ++i) {
    std::atomic<int> wins{0}, used{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int r = 0; r < kRacers; ++r) {
      threads.emplace_back([&, r] {
        while (!go.load()) std::this_thread::yield();
        Status st =
            reg->ConsumeToken("s" + std::to_string(i), tokens[i], kNow + 1, std::to_string(r + 1));
        if (st.ok()) {
          ++wins;
        } else if (st.code() == ErrorCode::kPermissionDenied &&
                   st.message().find("token already used") != std::string::npos) {
          ++used;
        } else {
          ++other;
        }
      });
    }
    go.store(true);
    for (auto& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(used.load(), kRacers - 1);
    EXPECT_EQ(other.load(), 0);
  }
  // What is on disk agrees: every leaf enrolled once, with the winner's serial.
  auto reopened = LeafRegistry::Open(path_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->List(), reg->List());
  for (const auto& leaf : reg->List()) {
    EXPECT_TRUE(leaf.token_used);
    EXPECT_FALSE(leaf.cert_serial_hex.empty());
  }
}

TEST_F(LeafRegistryTest, ConcurrentAddsAreAllKept) {
  auto reg = OpenOk();
  ASSERT_NE(reg, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        EXPECT_TRUE(reg->AddPsk("t" + std::to_string(t) + "-" + std::to_string(i), kNow).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto reopened = LeafRegistry::Open(path_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->List().size(), 100u);
  EXPECT_EQ(FilesIn(dir_.path()).size(), 1u);
}

TEST_F(LeafRegistryTest, CorruptFilesAreRefusedSayingWhy) {
  struct Case {
    std::string text;
    std::string why;
  };
  const std::string leaf_ok =
      R"({"name":"a","auth":"psk","state":"active","created_ms":1,"token_sha256_hex":"",)"
      R"("token_expires_ms":0,"token_used":false,"enrolled_ms":0,"cert_serial_hex":"",)"
      R"("revoked_ms":0})";
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = leaf_ok;
    s.replace(s.find(from), from.size(), to);
    return R"({"version":1,"leaves":[)" + s + "]}";
  };
  const std::vector<Case> cases = {
      {"", "parse error"},
      {"{", "parse error"},
      {"[]", "not a JSON object"},
      {R"({"version":1})", "needs"},
      {R"({"version":2,"leaves":[]})", "unsupported version"},
      {R"({"version":1,"leaves":[],"extra":1})", "unknown field"},
      {R"({"version":1,"leaves":{}})", "\"leaves\" is an object"},
      {R"({"version":1,"leaves":[1]})", "not an object"},
      {R"({"version":1,"version":1,"leaves":[]})", "duplicate key"},
      {R"({"version":1,"leaves":[)" + leaf_ok + "," + leaf_ok + "]}", "listed twice"},
      {with(R"("name":"a")", R"("name":"a/b")"), "invalid name"},
      {with(R"("auth":"psk")", R"("auth":"password")"), "unknown authentication"},
      {with(R"("state":"active")", R"("state":"on")"), "unknown state"},
      {with(R"("created_ms":1)", R"("created_ms":-1)"), "negative"},
      {with(R"("created_ms":1)", R"("created_ms":1.5)"), "not a time"},
      {with(R"("created_ms":1)", R"("created_ms":"1")"), "not a time"},
      {with(R"("token_used":false)", R"("token_used":0)"), "not a boolean"},
      {with(R"(,"revoked_ms":0)", ""), "missing field \"revoked_ms\""},
      {with(R"("revoked_ms":0)", R"("revoked_ms":0,"x":1)"), "unknown field \"x\""},
      {with(R"("token_sha256_hex":"")", R"("token_sha256_hex":"ab")"), "token"},
      {with(R"("state":"active")", R"("state":"pending")"), "pending"},
      {with(R"("revoked_ms":0)", R"("revoked_ms":5)"), "revoked_ms"},
      {with(R"("name":"a")", R"("name":5)"), "not a string"},
  };
  for (const auto& c : cases) {
    WriteText(path_, c.text);
    auto r = LeafRegistry::Open(path_);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), ErrorCode::kMalformed) << c.text;
    EXPECT_NE(r.status().message().find(c.why), std::string::npos)
        << c.text << " -> " << r.status().message();
    EXPECT_NE(r.status().message().find(path_), std::string::npos) << r.status().message();
  }
  // The valid base case parses, so each refusal above is for the one change made.
  WriteText(path_, R"({"version":1,"leaves":[)" + leaf_ok + "]}");
  EXPECT_TRUE(LeafRegistry::Open(path_).ok());
}

TEST_F(LeafRegistryTest, OversizedFileIsRefusedWithoutReadingIt) {
  WriteText(path_, "");
  ASSERT_EQ(::truncate(path_.c_str(), static_cast<off_t>(kMaxRegistryFileSize + 1)), 0);
  auto r = LeafRegistry::Open(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTooLarge);
}

TEST(LeafRegistryFormatTest, SerializeAndParseRoundTrip) {
  std::vector<LeafRecord> leaves(3);
  leaves[0].name = "a";
  leaves[0].auth = LeafAuth::kPsk;
  leaves[0].created_ms = 10;
  leaves[1].name = "b";
  leaves[1].auth = LeafAuth::kEnrollment;
  leaves[1].state = LeafState::kPending;
  leaves[1].token_sha256_hex = std::string(64, 'e');
  leaves[1].token_expires_ms = 99;
  leaves[2].name = "c";
  leaves[2].auth = LeafAuth::kCertificate;
  leaves[2].state = LeafState::kRevoked;
  leaves[2].token_sha256_hex = std::string(64, '0');
  leaves[2].token_used = true;
  leaves[2].enrolled_ms = 5;
  leaves[2].cert_serial_hex = "1234";
  leaves[2].revoked_ms = 7;
  const std::string text = SerializeLeafRegistry(leaves);
  auto parsed = ParseLeafRegistry(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << text;
  EXPECT_EQ(*parsed, leaves);
  EXPECT_EQ(SerializeLeafRegistry(*parsed), text);
  auto empty = ParseLeafRegistry(SerializeLeafRegistry({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// --- PSK derivation in the real secure domain ---------------------------------------------------

TEST(LeafPskTest, DerivedInTheSecureDomainPerNameAndCreation) {
  TempDir dir;
  test::SdProcess sd(dir);
  ASSERT_TRUE(sd.Start()) << sd.log();
  auto client = Client::Connect(sd.socket());
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  auto first = DeriveLeafPsk(**client, "s1", kNow);  // creates the key
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), kLeafPskSize);
  auto keys = (*client)->ListKeys();
  ASSERT_TRUE(keys.ok());
  bool found = false;
  for (const auto& k : *keys) found |= k.name == kLeafPskKey && k.type == "hmac-sha256";
  EXPECT_TRUE(found);

  auto again = DeriveLeafPsk(**client, "s1", kNow);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(HexEncode(first->view()), HexEncode(again->view()));
  auto readded = DeriveLeafPsk(**client, "s1", kNow + 1);
  auto other = DeriveLeafPsk(**client, "s2", kNow);
  ASSERT_TRUE(readded.ok() && other.ok());
  EXPECT_NE(HexEncode(first->view()), HexEncode(readded->view()));
  EXPECT_NE(HexEncode(first->view()), HexEncode(other->view()));

  // The PSK is exactly the documented HMAC, checked by the secure domain itself.
  auto verified =
      (*client)->MacVerify(kLeafPskKey, AsBytes(LeafPskMessage("s1", kNow)), first->view());
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(*verified);
  EXPECT_EQ(LeafPskMessage("s1", 12), std::string("edgetrust-leaf-psk/v1\0s1\00012", 27));

  // A second connection (another agent thread) derives the same key material.
  auto client2 = Client::Connect(sd.socket());
  ASSERT_TRUE(client2.ok());
  auto from_other = DeriveLeafPsk(**client2, "s1", kNow);
  ASSERT_TRUE(from_other.ok());
  EXPECT_EQ(HexEncode(first->view()), HexEncode(from_other->view()));

  EXPECT_EQ(DeriveLeafPsk(**client, "a/b", kNow).status().code(), ErrorCode::kInvalidArgument);
  sd.Stop();
  auto down = DeriveLeafPsk(**client, "s1", kNow);
  EXPECT_FALSE(down.ok());
}

}  // namespace
}  // namespace edgetrust::agent
