// Sealing end to end: `edgetrust seal`/`unseal` and libedgetrust against the real daemon. A blob
// opens only for its owner, on the secure domain that made it, while the registers it is bound to
// keep their values; any change to it is refused without writing anything.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_expect.h"
#include "edgetrust/client.h"
#include "harness.h"

namespace edgetrust::test {
namespace {

using nlohmann::json;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

// Deterministic bytes that are neither all equal nor text.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 251 + 7) & 0xFF);
  return s;
}

std::string Str(const SecretBytes& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

class SdSealingTest : public ::testing::Test {
 protected:
  void SetUp() override { StartDaemon(); }
  void TearDown() override {
    client_.reset();
    if (sd_ && sd_->running()) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }
  void StartDaemon() {
    sd_ = std::make_unique<SdProcess>(dir_);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    auto c = Client::Connect(sd_->socket());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
  }
  void RestartDaemon() {
    client_.reset();
    ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
    StartDaemon();
  }

  CommandResult Cli(std::vector<std::string> args) { return RunCli(sd_->socket(), args); }
  CommandResult CliAsNobody(std::vector<std::string> args) {
    return RunCliAs(kNobody, kNogroup, sd_->socket(), args);
  }
  std::string Ok(const std::vector<std::string>& args) {
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << "edgetrust " << args[0] << ": " << r.err;
    return r.out;
  }
  std::string Fails(const std::vector<std::string>& args) { return ExpectOneErrorLine(Cli(args)); }

  std::string F(const std::string& name) const { return dir_.File(name); }
  // A folder only nobody can write, for files the nobody-run CLI writes.
  std::string NobodyDir() {
    const std::string d = F("nobody");
    if (!Exists(d)) {
      EXPECT_EQ(::mkdir(d.c_str(), 0700), 0);
      EXPECT_EQ(::chown(d.c_str(), kNobody, kNogroup), 0);
    }
    return d;
  }

  TempDir dir_;
  std::unique_ptr<SdProcess> sd_;
  std::unique_ptr<Client> client_;
};

TEST_F(SdSealingTest, CliRoundTripOfEmptySmallAndOneMebibyte) {
  struct Case {
    std::string name;
    std::string data;
  };
  const std::vector<Case> cases = {{"empty", ""},
                                   {"small", "wifi-psk=correct horse battery staple"},
                                   {"mib", Pattern(size_t{1} << 20)}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    WriteText(F(c.name), c.data);
    auto sealed =
        json::parse(Ok({"--json", "seal", "--in", F(c.name), "--out", F(c.name + ".blob")}));
    const std::string blob = ReadText(F(c.name + ".blob"));
    EXPECT_EQ(sealed["bytes"], blob.size());
    // Header, owner, nonce and tag on top of the data; the data itself is not in the blob.
    EXPECT_GT(blob.size(), c.data.size() + 28);
    EXPECT_EQ(blob.rfind("ETSB", 0), 0u);
    if (!c.data.empty()) {
      EXPECT_EQ(blob.find(c.data.substr(0, std::min<size_t>(c.data.size(), 64))),
                std::string::npos);
    }
    Ok({"unseal", "--in", F(c.name + ".blob"), "--out", F(c.name + ".out")});
    ASSERT_TRUE(Exists(F(c.name + ".out")));
    EXPECT_TRUE(ReadText(F(c.name + ".out")) == c.data);
    struct stat st {};
    ASSERT_EQ(::stat(F(c.name + ".out").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  // Sealing the same data twice gives two different blobs (fresh nonce), both open.
  Ok({"seal", "--in", F("small"), "--out", F("small2.blob")});
  EXPECT_NE(ReadText(F("small.blob")), ReadText(F("small2.blob")));
  Ok({"unseal", "--in", F("small2.blob"), "--out", F("small2.out")});
  EXPECT_EQ(ReadText(F("small2.out")), cases[1].data);

  // stdin and stdout work too.
  auto piped = RunCommand(
      {CliBinary(), "--socket", sd_->socket(), "seal", "--in", "-", "--out", F("piped.blob")},
      "from stdin");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  auto back = Cli({"unseal", "--in", F("piped.blob"), "--out", "-"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(back.out, "from stdin");

  // One byte over 1 MiB is refused before anything is written.
  WriteText(F("big"), Pattern((size_t{1} << 20) + 1));
  Fails({"seal", "--in", F("big"), "--out", F("big.blob")});
  EXPECT_FALSE(Exists(F("big.blob")));
}

TEST_F(SdSealingTest, LibraryRoundTripOfEmptySmallAndOneMebibyte) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{4096}, size_t{1} << 20}) {
    SCOPED_TRACE(n);
    const std::string data = Pattern(n);
    auto blob = client_->Seal(AsBytes(data));
    ASSERT_TRUE(blob.ok()) << blob.status().ToString();
    auto plain = client_->Unseal(*blob);
    ASSERT_TRUE(plain.ok()) << plain.status().ToString();
    EXPECT_TRUE(Str(*plain) == data);
  }
  // A blob made by the library opens with the CLI and the other way round.
  auto blob = client_->Seal(AsBytes(std::string("shared format")));
  ASSERT_TRUE(blob.ok());
  WriteText(F("lib.blob"), std::string(blob->begin(), blob->end()));
  Ok({"unseal", "--in", F("lib.blob"), "--out", F("lib.out")});
  EXPECT_EQ(ReadText(F("lib.out")), "shared format");
  WriteText(F("cli.in"), "made by the cli");
  Ok({"seal", "--in", F("cli.in"), "--out", F("cli.blob")});
  auto plain = client_->Unseal(ToBytes(ReadText(F("cli.blob"))));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(Str(*plain), "made by the cli");

  auto too_big = client_->Seal(AsBytes(Pattern((size_t{1} << 20) + 1)));
  EXPECT_FALSE(too_big.ok());
  EXPECT_EQ(client_->Seal(AsBytes(std::string("x")), {16}).status().code(),
            ErrorCode::kInvalidArgument);
  // The connection still works after the refusals.
  EXPECT_TRUE(client_->Unseal(*blob).ok());
}

TEST_F(SdSealingTest, FlippedByteAnywhereIsRefusedAndWritesNothing) {
  WriteText(F("secret"), "gateway enrolment token 0123456789");
  Ok({"seal", "--in", F("secret"), "--out", F("good.blob"), "--bind-registers", "8,9"});
  const std::string good = ReadText(F("good.blob"));
  // Layout: "ETSB" | format | flags | mask (4) | 2 register values (64) | owner length (2) |
  // "uid:0" | nonce (12) | ciphertext (34) | tag (16).
  const std::string owner = "uid:" + std::to_string(::geteuid());
  ASSERT_EQ(good.size(), 10 + 64 + 2 + owner.size() + 12 + 34 + 16);
  ASSERT_EQ(good.substr(76, owner.size()), owner);
  const size_t nonce_at = 76 + owner.size();
  const size_t ct_at = nonce_at + 12;
  const size_t tag_at = good.size() - 16;

  struct Flip {
    std::string what;
    size_t pos;
    uint8_t mask;
    bool authenticated;  // the structure stays valid, so only authentication can catch it
  };
  const std::vector<Flip> flips = {
      {"magic", 0, 0x01, false},
      {"format", 4, 0x01, false},
      {"flags", 5, 0x01, false},
      {"register mask", 9, 0x01, false},
      {"register 8 value", 10, 0x80, true},
      {"register 9 value", 73, 0x01, true},
      {"owner length", 75, 0x01, false},
      // "uid:0" -> "uid:1": another valid principal, but not the one that sealed it.
      {"owner digit", 76 + owner.size() - 1, 0x01, true},
      {"nonce", nonce_at + 3, 0x10, true},
      {"ciphertext first", ct_at, 0x01, true},
      {"ciphertext middle", ct_at + 17, 0x40, true},
      {"tag first", tag_at, 0x01, true},
      {"tag last", good.size() - 1, 0x80, true},
  };
  for (const auto& f : flips) {
    SCOPED_TRACE(f.what);
    std::string bad = good;
    bad[f.pos] = static_cast<char>(static_cast<uint8_t>(bad[f.pos]) ^ f.mask);
    const std::string blob_file = F("bad-" + std::to_string(f.pos) + ".blob");
    const std::string out_file = F("bad-" + std::to_string(f.pos) + ".out");
    WriteText(blob_file, bad);
    const std::string err = Fails({"unseal", "--in", blob_file, "--out", out_file});
    EXPECT_FALSE(Exists(out_file));
    auto lib = client_->Unseal(ToBytes(bad));
    ASSERT_FALSE(lib.ok());
    if (f.authenticated) {
      EXPECT_EQ(lib.status().code(), ErrorCode::kTampered) << lib.status().ToString();
      EXPECT_NE(err.find("failed authentication"), std::string::npos) << err;
    } else {
      EXPECT_TRUE(lib.status().code() == ErrorCode::kMalformed ||
                  lib.status().code() == ErrorCode::kTampered)
          << lib.status().ToString();
      EXPECT_TRUE(err.find("not a sealed blob") != std::string::npos ||
                  err.find("failed authentication") != std::string::npos)
          << err;
    }
    // Never mistaken for someone else's blob.
    EXPECT_NE(lib.status().code(), ErrorCode::kPermissionDenied);
  }

  // Every single changed bit, anywhere in the blob, is refused, and never as someone else's blob
  // or as a register mismatch.
  for (size_t pos = 0; pos < good.size(); ++pos) {
    for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
      std::string bad = good;
      bad[pos] = static_cast<char>(static_cast<uint8_t>(bad[pos]) ^ bit);
      auto lib = client_->Unseal(ToBytes(bad));
      ASSERT_FALSE(lib.ok()) << "byte " << pos << " bit " << int{bit};
      EXPECT_TRUE(lib.status().code() == ErrorCode::kTampered ||
                  lib.status().code() == ErrorCode::kMalformed)
          << "byte " << pos << " bit " << int{bit} << ": " << lib.status().ToString();
    }
  }

  // Truncated and extended blobs are refused too.
  for (const std::string& bad : {good.substr(0, good.size() - 1), good + "x", good.substr(0, 9)}) {
    WriteText(F("cut.blob"), bad);
    Fails({"unseal", "--in", F("cut.blob"), "--out", F("cut.out")});
    EXPECT_FALSE(Exists(F("cut.out")));
  }

  // A file already at --out is left as it was.
  std::string bad = good;
  bad[ct_at + 1] ^= 0x01;
  WriteText(F("bad.blob"), bad);
  WriteText(F("existing.out"), "keep me");
  Fails({"unseal", "--in", F("bad.blob"), "--out", F("existing.out")});
  EXPECT_EQ(ReadText(F("existing.out")), "keep me");

  // The untouched blob still opens, and the daemon logged no crash.
  Ok({"unseal", "--in", F("good.blob"), "--out", F("good.out")});
  EXPECT_EQ(ReadText(F("good.out")), "gateway enrolment token 0123456789");
  EXPECT_TRUE(sd_->running());
}

TEST_F(SdSealingTest, AnotherUidsBlobIsPermissionDeniedNamingTheOwner) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to switch to a second uid";
  const std::string nobody_dir = NobodyDir();
  const std::string root = "uid:" + std::to_string(::geteuid());

  // Root's blob, unsealed by nobody.
  WriteText(F("root.txt"), "root's secret");
  Ok({"seal", "--in", F("root.txt"), "--out", F("root.blob")});
  ::chmod(F("root.blob").c_str(), 0644);
  auto r = CliAsNobody({"unseal", "--in", F("root.blob"), "--out", nobody_dir + "/root.out"});
  std::string err = ExpectOneErrorLine(r);
  EXPECT_NE(err.find("sealed by " + root), std::string::npos) << err;
  EXPECT_FALSE(Exists(nobody_dir + "/root.out"));

  // Nobody's blob, unsealed by root: refused the same way, naming nobody.
  WriteText(F("nobody.txt"), "nobody's secret");
  ::chmod(F("nobody.txt").c_str(), 0644);
  r = CliAsNobody({"seal", "--in", F("nobody.txt"), "--out", nobody_dir + "/nobody.blob"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  err = Fails({"unseal", "--in", nobody_dir + "/nobody.blob", "--out", F("nobody.out")});
  EXPECT_NE(err.find("sealed by uid:65534"), std::string::npos) << err;
  EXPECT_FALSE(Exists(F("nobody.out")));
  auto lib = client_->Unseal(ToBytes(ReadText(nobody_dir + "/nobody.blob")));
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(lib.status().message().find("uid:65534"), std::string::npos);

  // Each opens its own.
  r = CliAsNobody(
      {"unseal", "--in", nobody_dir + "/nobody.blob", "--out", nobody_dir + "/nobody.out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadText(nobody_dir + "/nobody.out"), "nobody's secret");
  Ok({"unseal", "--in", F("root.blob"), "--out", F("root.out")});
  EXPECT_EQ(ReadText(F("root.out")), "root's secret");
}

TEST_F(SdSealingTest, BoundBlobOpensOnlyWhileItsRegistersKeepTheirValues) {
  WriteText(F("data"), "disk encryption key");
  Ok({"measure", "extend", "9", "--data", "app v1", "--event", "app v1 started"});
  Ok({"seal", "--in", F("data"), "--out", F("bound-8-9.blob"), "--bind-registers", "8,9"});
  Ok({"seal", "--in", F("data"), "--out", F("bound-0-10.blob"), "--bind-registers", "0,10"});
  Ok({"seal", "--in", F("data"), "--out", F("unbound.blob")});
  auto lib_blob = client_->Seal(AsBytes(std::string("library bound")), {9});
  ASSERT_TRUE(lib_blob.ok()) << lib_blob.status().ToString();

  // Nothing changed yet: all open.
  for (std::string b : {"bound-8-9", "bound-0-10", "unbound"}) {
    Ok({"unseal", "--in", F(b + ".blob"), "--out", F(b + ".out")});
    EXPECT_EQ(ReadText(F(b + ".out")), "disk encryption key") << b;
    std::filesystem::remove(F(b + ".out"));
  }
  ASSERT_TRUE(client_->Unseal(*lib_blob).ok());

  Ok({"measure", "extend", "9", "--data", "app v2", "--event", "app v2 started"});
  std::string err = Fails({"unseal", "--in", F("bound-8-9.blob"), "--out", F("bound-8-9.out")});
  EXPECT_NE(err.find("register(s) 9 changed"), std::string::npos) << err;
  EXPECT_FALSE(Exists(F("bound-8-9.out")));
  auto lib = client_->Unseal(*lib_blob);
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(lib.status().message().find("9"), std::string::npos);
  // Blobs bound to registers that did not change, or to none, still open.
  for (std::string b : {"bound-0-10", "unbound"}) {
    Ok({"unseal", "--in", F(b + ".blob"), "--out", F(b + ".out")});
    EXPECT_EQ(ReadText(F(b + ".out")), "disk encryption key") << b;
    std::filesystem::remove(F(b + ".out"));
  }

  // After a restart registers start again from the daemon's own measurements: register 0 holds
  // the same value, register 9 is back to zero (not what the blob was bound to).
  RestartDaemon();
  for (std::string b : {"bound-0-10", "unbound"}) {
    Ok({"unseal", "--in", F(b + ".blob"), "--out", F(b + ".out")});
    EXPECT_EQ(ReadText(F(b + ".out")), "disk encryption key") << b;
  }
  err = Fails({"unseal", "--in", F("bound-8-9.blob"), "--out", F("bound-8-9.out")});
  EXPECT_NE(err.find("register(s) 9 changed"), std::string::npos) << err;
}

TEST_F(SdSealingTest, BlobDoesNotOpenOnAnotherSecureDomain) {
  WriteText(F("data"), "only for this gateway");
  Ok({"seal", "--in", F("data"), "--out", F("here.blob")});
  const Bytes blob = ToBytes(ReadText(F("here.blob")));

  TempDir other_dir;
  SdProcess other(other_dir);
  ASSERT_TRUE(other.Start()) << other.log();
  auto r = RunCommand({CliBinary(), "--socket", other.socket(), "unseal", "--in", F("here.blob"),
                       "--out", F("there.out")});
  const std::string err = ExpectOneErrorLine(r);
  EXPECT_NE(err.find("failed authentication"), std::string::npos) << err;
  EXPECT_FALSE(Exists(F("there.out")));
  {
    auto c = Client::Connect(other.socket());
    ASSERT_TRUE(c.ok());
    EXPECT_EQ((*c)->Unseal(blob).status().code(), ErrorCode::kTampered);
  }
  EXPECT_EQ(other.Stop(), 0) << other.log();

  // Its own secure domain opens it, also after a restart.
  RestartDaemon();
  Ok({"unseal", "--in", F("here.blob"), "--out", F("here.out")});
  EXPECT_EQ(ReadText(F("here.out")), "only for this gateway");
}

}  // namespace
}  // namespace edgetrust::test
