// Measurement registers and monotonic counters end to end, through `edgetrust measure` and
// `edgetrust counter` against the real daemon. Register values and the event log are recomputed
// independently with python3's hashlib and cbor2; counters are attacked by restoring and deleting
// their state file while the daemon is stopped.
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
const std::string kZero(64, '0');

// Replays an event log file (`measure log --out`) from all-zero registers with hashlib, and
// chains the log digest over the deterministic CBOR of each event with cbor2. Prints
// {"registers": {"0": hex, ...}, "log_digest": hex, "count": N}.
constexpr const char* kReplayScript = R"PY(
import hashlib, json, sys
import cbor2
events = json.load(open(sys.argv[1]))
regs = [bytes(32)] * 16
head = bytes(32)
for n, e in enumerate(events):
    assert e["seq"] == n, "sequence numbers must be 0, 1, 2, ..."
    d = bytes.fromhex(e["digest"])
    assert len(d) == 32
    regs[e["register"]] = hashlib.sha256(regs[e["register"]] + d).digest()
    enc = cbor2.dumps([e["seq"], e["register"], d, e["principal"], e["event"], e["time"]],
                      canonical=True)
    head = hashlib.sha256(head + enc).digest()
print(json.dumps({"registers": {str(i): r.hex() for i, r in enumerate(regs)},
                  "log_digest": head.hex(), "count": len(events)}))
)PY";

// SHA-256 chain from zero over the digests given as hex arguments; prints the final value.
constexpr const char* kChainScript = R"PY(
import hashlib, sys
v = bytes(32)
for d in sys.argv[1:]:
    v = hashlib.sha256(v + bytes.fromhex(d)).digest()
print(v.hex())
)PY";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Python(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/python3", "-c"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return Trim(r.out);
}

std::string Sha256Hex(const std::string& text) {
  return Python(
      {"import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())", text});
}

std::string Chain(const std::vector<std::string>& digests) {
  std::vector<std::string> args = {kChainScript};
  args.insert(args.end(), digests.begin(), digests.end());
  return Python(args);
}

class SdMeasureTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (sd_ && sd_->running()) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }
  void Start(const std::string& config = "") {
    SdProcess::Options o;
    o.config_text = config;
    sd_ = std::make_unique<SdProcess>(dir_, o);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
  }
  void Restart() {
    ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
    ASSERT_TRUE(sd_->Start()) << sd_->log();
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
  json OkJson(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    auto out = Ok(args);
    return json::parse(out, nullptr, false);
  }
  std::string OkAsNobody(const std::vector<std::string>& args) {
    auto r = CliAsNobody(args);
    EXPECT_EQ(r.exit_code, 0) << "edgetrust (as nobody) " << args[0] << ": " << r.err;
    return r.out;
  }
  std::string Fails(const std::vector<std::string>& args) { return ExpectOneErrorLine(Cli(args)); }
  std::string FailsAsNobody(const std::vector<std::string>& args) {
    return ExpectOneErrorLine(CliAsNobody(args));
  }

  json Registers() { return OkJson({"measure", "read"}); }
  std::string F(const std::string& name) const { return dir_.File(name); }
  std::string State(const std::string& name) const { return sd_->state_dir() + "/" + name; }

  TempDir dir_;
  std::unique_ptr<SdProcess> sd_;
};

// ---- registers ----

TEST_F(SdMeasureTest, StartsWithOnlyTheDaemonsOwnMeasurementsInRegisterZero) {
  Start();
  json regs = Registers();
  ASSERT_TRUE(regs["registers"].is_object()) << regs.dump();
  ASSERT_EQ(regs["registers"].size(), 16u);
  EXPECT_NE(regs["registers"]["0"], kZero);
  for (int i = 1; i < 16; ++i) EXPECT_EQ(regs["registers"][std::to_string(i)], kZero) << i;
  EXPECT_EQ(regs["log_count"], 2);

  Ok({"measure", "log", "--out", F("log.json")});
  json log = json::parse(ReadText(F("log.json")));
  ASSERT_EQ(log.size(), 2u);
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i]["seq"], i);
    EXPECT_EQ(log[i]["register"], 0);
    EXPECT_EQ(log[i]["principal"], "edgetrust-sd");
    EXPECT_FALSE(log[i]["event"].get<std::string>().empty());
  }
  EXPECT_NE(log[0]["event"].get<std::string>().find("edgetrust-sd"), std::string::npos);
  EXPECT_EQ(regs["registers"]["0"], Chain({log[0]["digest"], log[1]["digest"]}));
  // Without a config file the second event measures the empty text.
  EXPECT_EQ(log[1]["digest"], Sha256Hex(""));

  // The same daemon and configuration measure to the same register 0 after a restart; the log
  // starts again from seq 0.
  Restart();
  json again = Registers();
  EXPECT_EQ(again["registers"]["0"], regs["registers"]["0"]);
  EXPECT_EQ(again["log_count"], 2);
}

TEST_F(SdMeasureTest, ExtendComputesSha256OfOldValueAndDigest) {
  Start();
  const std::string d1 = Sha256Hex("container sha256:abc");
  json e1 = OkJson({"measure", "extend", "8", "--data", "container sha256:abc", "--event",
                    "container web started"});
  EXPECT_EQ(e1["register"], 8);
  EXPECT_EQ(e1["seq"], 2);
  EXPECT_EQ(e1["digest"], d1);
  EXPECT_EQ(e1["value"], Chain({d1}));

  const std::string d2(64, 'a');
  json e2 = OkJson({"measure", "extend", "8", "--digest", d2, "--event", "config v2"});
  EXPECT_EQ(e2["seq"], 3);
  EXPECT_EQ(e2["digest"], d2);
  EXPECT_EQ(e2["value"], Chain({d1, d2}));

  // Extending the same digest again moves the register on again: nothing resets or repeats.
  json e3 = OkJson({"measure", "extend", "8", "--digest", d2, "--event", "config v2 again"});
  EXPECT_EQ(e3["value"], Chain({d1, d2, d2}));
  EXPECT_NE(e3["value"], e2["value"]);

  // Upper-case hex is the same digest; the text form names register, value and event number.
  std::string upper = Sha256Hex("x");
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  const std::string text = Ok({"measure", "extend", "9", "--digest", upper, "--event", "x"});
  const std::string v9 = Chain({Sha256Hex("x")});
  EXPECT_EQ(text, "register 9: " + v9 + " (event 5)\n");

  json regs = Registers();
  EXPECT_EQ(regs["registers"]["8"], e3["value"]);
  EXPECT_EQ(regs["registers"]["9"], v9);
  EXPECT_EQ(regs["registers"]["10"], kZero);
  EXPECT_EQ(regs["log_count"], 6);
  // Plain `measure read` shows the same values.
  const std::string plain = Ok({"measure", "read"});
  EXPECT_NE(plain.find(" 8: " + e3["value"].get<std::string>()), std::string::npos) << plain;
  EXPECT_NE(plain.find("log: 6 events, digest " + regs["log_digest"].get<std::string>()),
            std::string::npos)
      << plain;
}

TEST_F(SdMeasureTest, EventLogReplaysIndependentlyToRegistersAndLogDigest) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to switch to a second uid";
  Start();
  Ok({"measure", "extend", "8", "--data", "a", "--event", "first application event"});
  OkAsNobody({"measure", "extend", "12", "--data", "b", "--event", "nobody's event"});
  Ok({"measure", "extend", "15", "--digest", std::string(64, 'f'), "--event",
      "with unicode: température"});
  Ok({"measure", "extend", "8", "--data", "c", "--event", std::string(255, 'e')});

  Ok({"measure", "log", "--out", F("log.json")});
  json regs = Registers();
  json replay = json::parse(Python({kReplayScript, F("log.json")}), nullptr, false);
  ASSERT_TRUE(replay.is_object());
  EXPECT_EQ(replay["registers"], regs["registers"]);
  EXPECT_EQ(replay["log_digest"], regs["log_digest"]);
  EXPECT_EQ(replay["count"], regs["log_count"]);
  EXPECT_EQ(replay["count"], 6);

  json log = json::parse(ReadText(F("log.json")));
  ASSERT_EQ(log.size(), 6u);
  EXPECT_EQ(log[2]["principal"], "uid:0");
  EXPECT_EQ(log[2]["event"], "first application event");
  EXPECT_EQ(log[3]["principal"], "uid:65534");
  EXPECT_EQ(log[3]["register"], 12);
  EXPECT_EQ(log[3]["digest"], Sha256Hex("b"));
  EXPECT_EQ(log[4]["event"], "with unicode: température");
  EXPECT_EQ(log[5]["event"], std::string(255, 'e'));
  // The log on stdout is the same JSON.
  EXPECT_EQ(OkJson({"measure", "log"}), log);

  // A log with one digest changed no longer replays to what the daemon reports.
  log[3]["digest"] = std::string(64, '0');
  WriteText(F("edited.json"), log.dump());
  json edited = json::parse(Python({kReplayScript, F("edited.json")}));
  EXPECT_NE(edited["registers"]["12"], regs["registers"]["12"]);
  EXPECT_NE(edited["log_digest"], regs["log_digest"]);
}

TEST_F(SdMeasureTest, DefaultPolicyWhoMayExtendWhich) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to switch to a second uid";
  Start();
  const json before = Registers();
  // Register 0 is the daemon's own; 1-7 are for admins (none configured here).
  std::string err = FailsAsNobody({"measure", "extend", "0", "--data", "x", "--event", "x"});
  EXPECT_NE(err.find("uid:65534 may not extend register 0"), std::string::npos) << err;
  err = FailsAsNobody({"measure", "extend", "1", "--data", "x", "--event", "x"});
  EXPECT_NE(err.find("uid:65534 may not extend register 1"), std::string::npos) << err;
  err = FailsAsNobody({"measure", "extend", "7", "--data", "x", "--event", "x"});
  EXPECT_NE(err.find("register 7"), std::string::npos) << err;
  err = Fails({"measure", "extend", "0", "--data", "x", "--event", "x"});
  EXPECT_NE(err.find("may not extend register 0"), std::string::npos) << err;
  err = Fails({"measure", "extend", "1", "--data", "x", "--event", "x"});
  EXPECT_NE(err.find("uid:0 may not extend register 1"), std::string::npos) << err;
  // Refusals change nothing.
  EXPECT_EQ(Registers(), before);

  // 8-15 are anyone's.
  OkAsNobody({"measure", "extend", "8", "--data", "x", "--event", "x"});
  OkAsNobody({"measure", "extend", "15", "--data", "x", "--event", "x"});
  Ok({"measure", "extend", "8", "--data", "y", "--event", "y"});
  json after = Registers();
  EXPECT_EQ(after["registers"]["8"], Chain({Sha256Hex("x"), Sha256Hex("y")}));
  EXPECT_EQ(after["registers"]["1"], kZero);
  EXPECT_EQ(after["registers"]["0"], before["registers"]["0"]);
  EXPECT_EQ(after["log_count"], 5);
}

TEST_F(SdMeasureTest, AdminsExtendRegistersOneToSevenAndRegisterEntriesOverride) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to switch to a second uid";
  Start(R"(
[policy]
admins = ["uid:0"]
[[policy.register]]
index = [2]
extenders = ["uid:65534"]
)");
  // An admin extends 1 (default), but not 2: the entry replaced 2's default.
  Ok({"measure", "extend", "1", "--data", "baseline", "--event", "host baseline"});
  std::string err = Fails({"measure", "extend", "2", "--data", "x", "--event", "x"});
  EXPECT_NE(err.find("uid:0 may not extend register 2"), std::string::npos) << err;
  err = Fails({"measure", "extend", "0", "--data", "x", "--event", "x"});
  EXPECT_NE(err.find("register 0"), std::string::npos) << err;
  // Nobody extends 2 now, still not 1 or 3.
  OkAsNobody({"measure", "extend", "2", "--data", "container", "--event", "container started"});
  err = FailsAsNobody({"measure", "extend", "1", "--data", "x", "--event", "x"});
  EXPECT_NE(err.find("may not extend register 1"), std::string::npos) << err;
  err = FailsAsNobody({"measure", "extend", "3", "--data", "x", "--event", "x"});
  EXPECT_NE(err.find("may not extend register 3"), std::string::npos) << err;
  json regs = Registers();
  EXPECT_EQ(regs["registers"]["1"], Chain({Sha256Hex("baseline")}));
  EXPECT_EQ(regs["registers"]["2"], Chain({Sha256Hex("container")}));
  EXPECT_EQ(regs["registers"]["3"], kZero);
  // The configuration file itself is measured into register 0.
  Ok({"measure", "log", "--out", F("log.json")});
  json log = json::parse(ReadText(F("log.json")));
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log[1]["digest"], Python({"import hashlib, sys; "
                                      "print(hashlib.sha256(open(sys.argv[1], 'rb').read())"
                                      ".hexdigest())",
                                      F("sd.toml")}));
}

TEST_F(SdMeasureTest, BadInputFailsClearlyAndChangesNothing) {
  Start();
  const json before = Registers();
  auto r = Cli({"measure", "extend", "16", "--data", "x", "--event", "x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // usage error
  EXPECT_NE(r.err.find("16"), std::string::npos) << r.err;
  std::string err =
      Fails({"measure", "extend", "8", "--digest", std::string(62, 'a'), "--event", "x"});
  EXPECT_NE(err.find("64 hex digits"), std::string::npos) << err;
  err = Fails({"measure", "extend", "8", "--digest", std::string(66, 'a'), "--event", "x"});
  EXPECT_NE(err.find("64 hex digits"), std::string::npos) << err;
  err = Fails({"measure", "extend", "8", "--digest", std::string(64, 'g'), "--event", "x"});
  EXPECT_NE(err.find("64 hex digits"), std::string::npos) << err;
  err = Fails({"measure", "extend", "8", "--data", "x", "--event", std::string(256, 'e')});
  EXPECT_NE(err.find("255"), std::string::npos) << err;
  err = Fails({"measure", "extend", "8", "--data", "x", "--event", "two\nlines"});
  EXPECT_NE(err.find("printable"), std::string::npos) << err;
  err = Fails({"measure", "extend", "8", "--event", "no digest"});
  EXPECT_NE(err.find("--data"), std::string::npos) << err;
  r = Cli({"measure", "extend", "8", "--data", "x", "--digest", kZero, "--event", "x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Cli({"measure", "extend", "8", "--data", "x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(Registers(), before);

  // The library refuses a register past 15 with a clear status.
  auto c = Client::Connect(sd_->socket());
  ASSERT_TRUE(c.ok());
  auto ext = (*c)->Extend(16, Digest256{}, "x");
  ASSERT_FALSE(ext.ok());
  EXPECT_EQ(ext.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(ext.status().message().find("register 16"), std::string::npos)
      << ext.status().ToString();
  ext = (*c)->Extend(8, Digest256{}, std::string(256, 'e'));
  ASSERT_FALSE(ext.ok());
  EXPECT_TRUE(ext.status().code() == ErrorCode::kInvalidArgument ||
              ext.status().code() == ErrorCode::kTooLarge)
      << ext.status().ToString();
  EXPECT_NE(ext.status().message().find("255"), std::string::npos) << ext.status().ToString();
  ext = (*c)->Extend(8, Digest256{}, "bell\a");
  EXPECT_EQ(ext.status().code(), ErrorCode::kInvalidArgument) << ext.status().ToString();
  EXPECT_EQ(Registers(), before);
}

// ---- counters ----

TEST_F(SdMeasureTest, CounterCountsFromZeroAndSurvivesRestart) {
  Start();
  EXPECT_EQ(Ok({"counter", "create", "firmware"}), "0\n");
  for (uint64_t want : {1, 2, 3}) {
    json j = OkJson({"counter", "increment", "firmware"});
    EXPECT_EQ(j["counter"], "firmware");
    EXPECT_EQ(j["value"], want);
  }
  EXPECT_EQ(Ok({"counter", "read", "firmware"}), "3\n");
  std::string err = Fails({"counter", "create", "firmware"});
  EXPECT_NE(err.find("exists"), std::string::npos) << err;
  EXPECT_EQ(Ok({"counter", "read", "firmware"}), "3\n");
  err = Fails({"counter", "read", "missing"});
  err = Fails({"counter", "increment", "missing"});
  err = Fails({"counter", "create", "bad name!"});
  EXPECT_NE(err.find("invalid counter name"), std::string::npos) << err;

  // Both state files exist and are private to the daemon.
  for (std::string f : {"counters.dat", "counters.anchor"}) {
    struct stat st {};
    ASSERT_EQ(::stat(State(f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }

  Restart();
  EXPECT_EQ(OkJson({"counter", "read", "firmware"})["value"], 3);
  EXPECT_EQ(OkJson({"counter", "increment", "firmware"})["value"], 4);
  // A clean restart reports nothing.
  json info = OkJson({"info"});
  ASSERT_TRUE(info.contains("notices")) << info.dump();
  EXPECT_TRUE(info["notices"].empty()) << info.dump();
  ASSERT_TRUE(info.contains("counter_protection")) << info.dump();
  EXPECT_FALSE(info["counter_protection"].get<std::string>().empty());
  EXPECT_EQ(sd_->log().find("event=notice"), std::string::npos) << sd_->log();
}

TEST_F(SdMeasureTest, RestoredOlderCountersFileIsReportedAndNeverGoesBackwards) {
  Start();
  Ok({"counter", "create", "firmware"});
  EXPECT_EQ(OkJson({"counter", "increment", "firmware"})["value"], 1);
  const std::string old_copy = ReadText(State("counters.dat"));
  ASSERT_FALSE(old_copy.empty());
  EXPECT_EQ(OkJson({"counter", "increment", "firmware"})["value"], 2);
  EXPECT_EQ(OkJson({"counter", "increment", "firmware"})["value"], 3);
  ASSERT_EQ(sd_->Stop(), 0) << sd_->log();

  // Put the older copy back in place (written into the existing file, so it keeps the daemon
  // user as its owner), as someone with access to the state folder could.
  ASSERT_NE(ReadText(State("counters.dat")), old_copy);
  WriteText(State("counters.dat"), old_copy);
  ASSERT_EQ(ReadText(State("counters.dat")), old_copy);
  ASSERT_TRUE(sd_->Start()) << sd_->log();
  ASSERT_TRUE(sd_->WaitForLog("event=notice counters: counters.dat")) << sd_->log();
  const std::string log = sd_->log();
  const size_t at = log.find("event=notice counters: counters.dat");
  const std::string line = log.substr(at, log.find('\n', at) - at);
  EXPECT_NE(line.find("older"), std::string::npos) << line;

  json info = OkJson({"info"});
  ASSERT_TRUE(info.contains("notices")) << info.dump();
  ASSERT_EQ(info["notices"].size(), 1u) << info.dump();
  const std::string notice = info["notices"][0];
  EXPECT_NE(notice.find("counters.dat"), std::string::npos) << notice;
  EXPECT_NE(notice.find("older"), std::string::npos) << notice;
  EXPECT_NE(Ok({"info"}).find("notice:"), std::string::npos);

  EXPECT_EQ(OkJson({"counter", "read", "firmware"})["value"], 3);
  EXPECT_EQ(OkJson({"counter", "increment", "firmware"})["value"], 4);
  EXPECT_EQ(OkJson({"counter", "increment", "firmware"})["value"], 5);

  // Repaired: the next start has nothing to report and keeps 5.
  const size_t log_size = sd_->log().size();
  Restart();
  EXPECT_EQ(sd_->log().find("event=notice", log_size), std::string::npos) << sd_->log();
  EXPECT_TRUE(OkJson({"info"})["notices"].empty());
  EXPECT_EQ(OkJson({"counter", "read", "firmware"})["value"], 5);
}

TEST_F(SdMeasureTest, DeletedCountersFileIsReportedAndRecovered) {
  Start();
  Ok({"counter", "create", "boot"});
  Ok({"counter", "increment", "boot"});
  Ok({"counter", "increment", "boot"});
  ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
  ASSERT_TRUE(std::filesystem::remove(State("counters.dat")));
  ASSERT_TRUE(sd_->Start()) << sd_->log();
  ASSERT_TRUE(sd_->WaitForLog("event=notice counters: counters.dat")) << sd_->log();
  json info = OkJson({"info"});
  ASSERT_TRUE(info.contains("notices")) << info.dump();
  ASSERT_EQ(info["notices"].size(), 1u) << info.dump();
  EXPECT_NE(info["notices"][0].get<std::string>().find("counters.dat"), std::string::npos);
  EXPECT_NE(info["notices"][0].get<std::string>().find("deleted"), std::string::npos)
      << info.dump();
  EXPECT_EQ(OkJson({"counter", "read", "boot"})["value"], 2);
  EXPECT_EQ(OkJson({"counter", "increment", "boot"})["value"], 3);
  EXPECT_TRUE(std::filesystem::exists(State("counters.dat")));
}

TEST_F(SdMeasureTest, CountersBelongToTheirPrincipal) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to switch to a second uid";
  Start("[policy]\nadmins = [\"uid:0\"]\n");
  Ok({"counter", "create", "boot"});
  Ok({"counter", "increment", "boot"});
  Ok({"counter", "increment", "boot"});
  // Nobody's counter of the same name is its own, from 0.
  std::string err = FailsAsNobody({"counter", "read", "boot"});
  EXPECT_EQ(OkAsNobody({"counter", "create", "boot"}), "0\n");
  EXPECT_EQ(OkAsNobody({"counter", "increment", "boot"}), "1\n");
  EXPECT_EQ(Ok({"counter", "read", "boot"}), "2\n");
  EXPECT_EQ(OkAsNobody({"counter", "read", "boot"}), "1\n");

  // Nobody is no admin: it cannot read or move root's counter, existing or not.
  err = FailsAsNobody({"counter", "read", "uid:0/boot"});
  EXPECT_NE(err.find("admin"), std::string::npos) << err;
  err = FailsAsNobody({"counter", "increment", "uid:0/boot"});
  EXPECT_NE(err.find("admin"), std::string::npos) << err;
  err = FailsAsNobody({"counter", "read", "uid:0/missing"});
  EXPECT_NE(err.find("admin"), std::string::npos) << err;
  EXPECT_EQ(Ok({"counter", "read", "boot"}), "2\n");

  // An admin reads another principal's counter by OWNER/NAME, but creates only its own.
  EXPECT_EQ(Ok({"counter", "read", "uid:65534/boot"}), "1\n");
  EXPECT_EQ(OkJson({"counter", "read", "uid:65534/boot"})["value"], 1);
  Fails({"counter", "create", "uid:65534/other"});
  Fails({"counter", "read", "uid:65534/other"});
  EXPECT_EQ(OkAsNobody({"counter", "read", "boot"}), "1\n");
}

}  // namespace
}  // namespace edgetrust::test
