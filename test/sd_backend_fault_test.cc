// Faults of the secure hardware behind the daemon, with the real components: swtpm killed and
// restarted under a running daemon, a TPM that is not there, a wrong PIN, a missing PKCS#11
// module, an unknown token. Each gives a clear error and no crash; the daemon recovers by itself
// when the hardware comes back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend_env.h"
#include "cli_expect.h"
#include "edgetrust/client.h"
#include "harness.h"

namespace edgetrust::test {
namespace {

constexpr char kNonce[] = "0123456789abcdef0123456789abcdef";

// Runs edgetrust-sd to completion (it is expected to refuse to start), at most 20 s.
CommandResult RunDaemonExpectingExit(const TempDir& dir, const SdProcess::Options& options) {
  std::vector<std::string> argv = {"env"};
  for (const auto& e : options.env) argv.push_back(e);
  argv.insert(argv.end(), {"timeout", "20", SdBinary(), "--state-dir", dir.File("state"),
                           "--socket", dir.File("run/sd.sock")});
  if (IsRoot()) argv.insert(argv.end(), {"--user", "daemon"});
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  return RunCommand(argv);
}

TEST(TpmFaultTest, SwtpmKilledAndRestartedUnderARunningDaemon) {
  TempDir dir;
  BackendEnv env(dir, "tpm");
  ASSERT_TRUE(env.Start()) << env.error();
  SdProcess sd(dir, env.DaemonOptions());
  ASSERT_TRUE(sd.Start()) << sd.log();
  auto cli = [&](std::vector<std::string> args) { return RunCli(sd.socket(), args); };
  WriteText(dir.File("msg.txt"), "reading 21.5 C");
  ASSERT_EQ(cli({"key", "create", "identity", "--type", "ecdsa-p256"}).exit_code, 0) << sd.log();
  ASSERT_EQ(cli({"measure", "extend", "8", "--data", "app 1", "--event", "app 1"}).exit_code, 0);
  auto sign = [&] {
    return cli({"sign", "identity", "--in", dir.File("msg.txt"), "--out", dir.File("msg.sig")});
  };
  ASSERT_EQ(sign().exit_code, 0) << sd.log();

  // The TPM goes away: every call that needs it fails with one clear line, the daemon stays up.
  env.swtpm()->Kill();
  std::string err = ExpectOneErrorLine(sign());
  EXPECT_NE(err.find("unavailable"), std::string::npos) << err;
  EXPECT_NE(err.find("TPM"), std::string::npos) << err;
  err = ExpectOneErrorLine(cli({"measure", "extend", "8", "--data", "app 2", "--event", "app 2"}));
  EXPECT_NE(err.find("unavailable"), std::string::npos) << err;
  ExpectOneErrorLine(cli({"attest", "--nonce", kNonce, "--out", dir.File("ev.cbor")}));
  EXPECT_TRUE(sd.running());
  EXPECT_EQ(::kill(sd.pid(), 0), 0) << sd.log();

  // It comes back (a TPM restart: its PCRs are reset). The daemon reconnects on the next call.
  ASSERT_TRUE(env.swtpm()->Start()) << env.swtpm()->log();
  auto again = sign();
  EXPECT_EQ(again.exit_code, 0) << again.err << sd.log();
  WriteText(dir.File("pub.pem"), cli({"key", "public", "identity"}).out);
  auto v = RunCommand({"openssl", "dgst", "-sha256", "-verify", dir.File("pub.pem"), "-signature",
                       dir.File("msg.sig"), dir.File("msg.txt")});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // The refused extension left no trace; the mirror PCR again matches the log, so the evidence
  // and its quote verify.
  ASSERT_EQ(cli({"measure", "extend", "9", "--data", "cfg", "--event", "cfg"}).exit_code, 0);
  ASSERT_EQ(cli({"attest", "--nonce", kNonce, "--out", dir.File("ev.cbor")}).exit_code, 0);
  ASSERT_EQ(cli({"attest", "key", "--out", dir.File("ak.pem")}).exit_code, 0);
  ASSERT_EQ(cli({"measure", "log", "--out", dir.File("log.json")}).exit_code, 0);
  auto log = nlohmann::json::parse(ReadText(dir.File("log.json")));
  EXPECT_EQ(log.size(), 4u);  // the daemon's two, app 1, cfg
  WriteText(dir.File("ref.json"), R"({"require_tpm_quote": true})");
  auto verdict =
      cli({"verify-evidence", "--evidence", dir.File("ev.cbor"), "--key", dir.File("ak.pem"),
           "--nonce", kNonce, "--log", dir.File("log.json"), "--reference", dir.File("ref.json")});
  EXPECT_EQ(verdict.exit_code, 0) << verdict.out << verdict.err << sd.log();
  EXPECT_EQ(sd.Stop(), 0) << sd.log();
}

TEST(TpmFaultTest, NoTpmAtTheTctiIsAClearStartError) {
  TempDir dir;
  // A loopback port nothing listens on: swtpm started and killed.
  BackendEnv env(dir, "tpm");
  ASSERT_TRUE(env.Start()) << env.error();
  SdProcess::Options options = env.DaemonOptions();
  env.swtpm()->Kill();
  auto r = RunDaemonExpectingExit(dir, options);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("event=fatal"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unavailable"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(env.swtpm()->Tcti()), std::string::npos) << r.err;
}

class Pkcs11FaultTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.Start()) << env_.error(); }
  // The daemon's options with one flag's value replaced.
  SdProcess::Options With(const std::string& flag, const std::string& value) {
    SdProcess::Options o = env_.DaemonOptions();
    for (size_t i = 0; i + 1 < o.extra_args.size(); ++i) {
      if (o.extra_args[i] == flag) o.extra_args[i + 1] = value;
    }
    return o;
  }
  TempDir dir_;
  BackendEnv env_{dir_, "pkcs11"};
};

TEST_F(Pkcs11FaultTest, WrongPinNamesTheReturnCode) {
  WriteText(dir_.File("wrong.pin"), "999999\n");
  ::chmod(dir_.File("wrong.pin").c_str(), 0644);
  auto r = RunDaemonExpectingExit(dir_, With("--pkcs11-pin-file", dir_.File("wrong.pin")));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("CKR_PIN_INCORRECT"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("permission-denied"), std::string::npos) << r.err;
  // With the right PIN the same state and token work.
  SdProcess sd(dir_, env_.DaemonOptions());
  ASSERT_TRUE(sd.Start()) << sd.log();
  EXPECT_EQ(RunCli(sd.socket(), {"key", "create", "k", "--type", "ecdsa-p256"}).exit_code, 0);
  EXPECT_EQ(sd.Stop(), 0) << sd.log();
}

TEST_F(Pkcs11FaultTest, MissingModuleIsAClearError) {
  auto r = RunDaemonExpectingExit(dir_, With("--pkcs11-module", "/nonexistent/libnothing.so"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/libnothing.so"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("invalid-argument"), std::string::npos) << r.err;
}

TEST_F(Pkcs11FaultTest, UnknownTokenListsTheTokensThereAre) {
  auto r = RunDaemonExpectingExit(dir_, With("--pkcs11-token", "no-such-token"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no-such-token"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(env_.token()->label()), std::string::npos) << r.err;
}

TEST_F(Pkcs11FaultTest, MissingFlagsAreNamed) {
  SdProcess::Options o;
  o.extra_args = {"--backend", "pkcs11", "--pkcs11-module", SoftHsmToken::Module()};
  auto r = RunDaemonExpectingExit(dir_, o);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--pkcs11-token"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edgetrust::test
