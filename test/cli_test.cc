// The `edgetrust` CLI end to end against the real daemon, with every artefact checked by the
// stock openssl CLI or python3, as a user would.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "harness.h"

namespace edgetrust::test {
namespace {

using nlohmann::json;

// Holds one connection to the daemon open, doing nothing with it.
class RawHold {
 public:
  explicit RawHold(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawHold() { ::close(fd_); }
  bool connected() const { return connected_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sd_ = std::make_unique<SdProcess>(dir_);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
  }
  void TearDown() override {
    if (sd_) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }
  CommandResult Cli(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {CliBinary(), "--socket", sd_->socket()});
    return RunCommand(args, input);
  }
  // Runs a command that must succeed, and returns its stdout.
  std::string Ok(const std::vector<std::string>& args, const std::string& input = "") {
    auto r = Cli(args, input);
    EXPECT_EQ(r.exit_code, 0) << "edgetrust " << args[0] << ": " << r.err;
    return r.out;
  }
  // Runs a command that must fail with exit 1 and exactly one "edgetrust: ..." line.
  std::string Fails(const std::vector<std::string>& args) {
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(r.err.rfind("edgetrust: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    return r.err;
  }
  std::string F(const std::string& name) const { return dir_.File(name); }

  TempDir dir_;
  std::unique_ptr<SdProcess> sd_;
};

TEST_F(CliTest, SignaturesOfEveryTypeVerifyWithOpenssl) {
  WriteText(F("small.txt"), "gateway firmware manifest\n");
  // Over 1 MiB: the CLI hashes it locally and sends only the digest.
  WriteText(F("large.bin"), std::string(3 * 1024 * 1024 + 7, 'z'));
  struct Case {
    std::string type;
    std::vector<std::string> verify;  // openssl arguments before the file
  };
  std::vector<Case> cases = {
      {"ecdsa-p256", {"dgst", "-sha256"}},
      {"ecdsa-p384", {"dgst", "-sha384"}},
      {"rsa-3072",
       {"dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type);
    Ok({"key", "create", "k-" + c.type, "--type", c.type});
    Ok({"key", "public", "k-" + c.type, "--out", F(c.type + ".pem")});
    for (std::string file : {"small.txt", "large.bin"}) {
      Ok({"sign", "k-" + c.type, "--in", F(file), "--out", F(file + ".sig")});
      std::vector<std::string> argv = {"openssl"};
      argv.insert(argv.end(), c.verify.begin(), c.verify.end());
      argv.insert(argv.end(),
                  {"-verify", F(c.type + ".pem"), "-signature", F(file + ".sig"), F(file)});
      auto r = RunCommand(argv);
      EXPECT_EQ(r.exit_code, 0) << file << ": " << r.out << r.err;
      EXPECT_NE(r.out.find("Verified OK"), std::string::npos) << r.out;
      Ok({"verify", "k-" + c.type, "--in", F(file), "--sig", F(file + ".sig")});
    }
  }
  Ok({"key", "create", "ed", "--type", "ed25519"});
  Ok({"key", "public", "ed", "--out", F("ed.pem")});
  Ok({"sign", "ed", "--in", F("small.txt"), "--out", F("ed.sig")});
  auto r = RunCommand({"openssl", "pkeyutl", "-verify", "-pubin", "-inkey", F("ed.pem"), "-rawin",
                       "-in", F("small.txt"), "-sigfile", F("ed.sig")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // Ed25519 signs whole messages only, so a file over the frame limit is a clear error.
  EXPECT_NE(Fails({"sign", "ed", "--in", F("large.bin"), "--out", F("x.sig")}).find("Ed25519"),
            std::string::npos);

  // A modified file no longer verifies: exit 1 with one line.
  WriteText(F("small.txt"), "gateway firmware manifest (modified)\n");
  EXPECT_NE(Fails({"verify", "k-ecdsa-p256", "--in", F("small.txt"), "--sig", F("small.txt.sig")})
                .find("not valid"),
            std::string::npos);
}

TEST_F(CliTest, KeyLifecycleWithJson) {
  auto created =
      json::parse(Ok({"--json", "key", "create", "device-identity", "--type", "ecdsa-p256"}));
  EXPECT_EQ(created["name"], "device-identity");
  EXPECT_EQ(created["type"], "ecdsa-p256");
  EXPECT_EQ(created["state"], "ok");
  Ok({"key", "create", "records", "--type", "aes-256"});
  auto list = json::parse(Ok({"key", "list", "--json"}));
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "device-identity");
  EXPECT_EQ(list[1]["type"], "aes-256");
  auto pem = Ok({"key", "public", "device-identity"});
  auto r = RunCommand({"openssl", "pkey", "-pubin", "-noout", "-text"}, pem);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NIST CURVE: P-256"), std::string::npos) << r.out;
  Ok({"key", "delete", "records"});
  EXPECT_EQ(json::parse(Ok({"key", "list", "--json"})).size(), 1u);
  Fails({"key", "delete", "records"});
  EXPECT_NE(Fails({"key", "create", "device-identity", "--type", "ecdsa-p256"}).find("exists"),
            std::string::npos);
  auto info = json::parse(Ok({"info", "--json"}));
  EXPECT_EQ(info["backend"], "emulated");
  EXPECT_EQ(info["key_count"], 1);
}

TEST_F(CliTest, EncryptDecryptMacDeriveRandom) {
  Ok({"key", "create", "box", "--type", "aes-256"});
  const std::string record = R"({"sensor":"temp-1","celsius":21.5})";
  WriteText(F("rec.json"), record);
  Ok({"encrypt", "box", "--in", F("rec.json"), "--out", F("rec.enc"), "--aad", "sensor-42"});
  EXPECT_EQ(ReadText(F("rec.enc")).size(), record.size() + 28);
  Ok({"decrypt", "box", "--in", F("rec.enc"), "--out", F("rec.out"), "--aad", "sensor-42"});
  EXPECT_EQ(ReadText(F("rec.out")), record);
  EXPECT_NE(
      Fails({"decrypt", "box", "--in", F("rec.enc"), "--out", F("bad.out"), "--aad", "sensor-43"})
          .find("authentication failed"),
      std::string::npos);

  Ok({"key", "create", "m", "--type", "hmac-sha256"});
  WriteText(F("data"), "hello");
  std::string mac = Ok({"mac", "m", "--in", F("data")});
  while (!mac.empty() && mac.back() == '\n') mac.pop_back();
  EXPECT_EQ(mac.size(), 64u);
  Ok({"mac", "m", "--in", F("data"), "--verify", mac});
  std::string wrong = mac;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  Fails({"mac", "m", "--in", F("data"), "--verify", wrong});

  auto derived = json::parse(
      Ok({"--json", "derive", "m", "telemetry", "--info", "telemetry v1", "--type", "aes-256"}));
  EXPECT_EQ(derived["type"], "aes-256");
  Ok({"encrypt", "telemetry", "--in", F("data"), "--out", F("data.enc")});

  auto rnd = json::parse(Ok({"--json", "random", "48"}));
  EXPECT_EQ(rnd["hex"].get<std::string>().size(), 96u);
  Ok({"random", "1024", "--out", F("rnd.bin")});
  EXPECT_EQ(ReadText(F("rnd.bin")).size(), 1024u);
}

TEST_F(CliTest, EcdhWithAnOpensslPeerAgreesOnTheSecret) {
  Ok({"key", "create", "dh", "--type", "ecdsa-p256"});
  Ok({"key", "public", "dh", "--out", F("dh.pem")});
  ASSERT_EQ(RunCommand({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", F("peer.key")})
                .exit_code,
            0);
  ASSERT_EQ(RunCommand({"openssl", "pkey", "-in", F("peer.key"), "-pubout", "-out", F("peer.pem")})
                .exit_code,
            0);
  Ok({"ecdh", "dh", "shared", "--peer", F("peer.pem"), "--info", "link"});
  // The peer's side with openssl: raw ECDH secret, then HKDF-SHA256 (no salt, info "link").
  ASSERT_EQ(RunCommand({"openssl", "pkeyutl", "-derive", "-inkey", F("peer.key"), "-peerkey",
                        F("dh.pem"), "-out", F("z.bin")})
                .exit_code,
            0);
  const std::string script = R"PY(
import sys
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
z = open(sys.argv[1], 'rb').read()
key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b'link').derive(z)
h = hmac.HMAC(key, hashes.SHA256()); h.update(b'hello')
print(h.finalize().hex())
)PY";
  WriteText(F("hkdf.py"), script);
  auto expected = RunCommand({"/usr/bin/python3", F("hkdf.py"), F("z.bin")});
  ASSERT_EQ(expected.exit_code, 0) << expected.err;
  WriteText(F("hello"), "hello");
  EXPECT_EQ(Ok({"mac", "shared", "--in", F("hello")}), expected.out);
}

TEST_F(CliTest, ErrorsAreOneLineWithTheRightExitCode) {
  EXPECT_NE(Fails({"sign", "missing", "--in", "/etc/hostname", "--out", F("s")})
                .find("no key named missing"),
            std::string::npos);
  auto usage = Cli({"key", "create", "x", "--type", "dsa-1024"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  auto unknown = Cli({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  auto no_daemon = RunCommand({CliBinary(), "--socket", F("nowhere.sock"), "info"});
  EXPECT_EQ(no_daemon.exit_code, 1);
  EXPECT_NE(no_daemon.err.find("cannot connect"), std::string::npos) << no_daemon.err;
  EXPECT_NE(
      Fails({"sign", "x", "--in", F("does-not-exist"), "--out", F("s")}).find("does-not-exist"),
      std::string::npos);
  // --help works for the program and for commands.
  auto help = RunCommand({CliBinary(), "sign", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--in"), std::string::npos);
}

TEST(CliRefusalTest, DaemonRefusalReachesTheUserWithItsReason) {
  TempDir dir;
  SdProcess::Options o;
  o.config_text = "[daemon]\nmax_connections = 1\n";
  SdProcess sd(dir, o);
  ASSERT_TRUE(sd.Start()) << sd.log();
  ASSERT_TRUE(sd.WaitForLog("event=disconnect"));  // the readiness probe has let go of its slot
  RawHold hold(sd.socket());
  // The readiness probe logged the first "event=connect"; wait for the held connection's, so the
  // daemon has counted it before the CLI tries.
  auto connects = [&] {
    const std::string log = sd.log();
    size_t n = 0;
    for (size_t at = log.find("event=connect"); at != std::string::npos;
         at = log.find("event=connect", at + 1))
      ++n;
    return n;
  };
  for (int i = 0; i < 2000 && connects() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(connects(), 2u) << sd.log();
  for (int i = 0; i < 5; ++i) {
    auto r = RunCommand({CliBinary(), "--socket", sd.socket(), "info"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err, "edgetrust: resource-exhausted: too many connections\n");
  }
  EXPECT_EQ(sd.Stop(), 0);
}

TEST_F(CliTest, SocketFromEnvironmentAndSecondUidIsolation) {
  Ok({"key", "create", "root-key", "--type", "ed25519"});
  auto r = RunCommand(
      {"/usr/bin/env", "EDGETRUST_SOCKET=" + sd_->socket(), CliBinary(), "key", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).size(), 1u);
  if (!IsRoot()) GTEST_SKIP() << "needs root to switch to a second uid";
  auto theirs =
      RunCommandAs(65534, 65534, {CliBinary(), "--socket", sd_->socket(), "key", "list", "--json"});
  ASSERT_EQ(theirs.exit_code, 0) << theirs.err;
  EXPECT_EQ(json::parse(theirs.out).size(), 0u);
  WriteText(F("m"), "x");
  ::chmod(F("m").c_str(), 0644);
  auto denied = RunCommandAs(65534, 65534,
                             {CliBinary(), "--socket", sd_->socket(), "sign", "uid:0/root-key",
                              "--in", F("m"), "--out", "/dev/null"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("has no grant to sign"), std::string::npos) << denied.err;
}

}  // namespace
}  // namespace edgetrust::test
