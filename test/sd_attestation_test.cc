// Attestation evidence end to end: `edgetrust attest` against the real daemon, checked first by
// tools written elsewhere (python3's cbor2 and cryptography, the openssl CLI), then appraised by
// `edgetrust verify-evidence`, which must pass on the real thing and fail on every alteration.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_expect.h"
#include "edgetrust/attestation.h"
#include "edgetrust/client.h"
#include "harness.h"

namespace edgetrust::test {
namespace {

using nlohmann::json;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
const std::string kNonce = "8f3a61c2d4e5b6a7980112233445566778899aabbccddeeff001122334455667";

// Decodes the evidence with cbor2, verifies its ES256 signature over the COSE Sig_structure with
// `cryptography`, and prints the claims as JSON. Any structural surprise is an assertion error
// (exit 1). argv: evidence file, PEM file.
constexpr const char* kCheckScript = R"PY(
import hashlib, json, sys
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

raw = open(sys.argv[1], "rb").read()
key = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)

ev = cbor2.loads(raw)
assert isinstance(ev, cbor2.CBORTag), type(ev)
assert ev.tag == 18, ev.tag
assert isinstance(ev.value, list) and len(ev.value) == 4, ev.value
protected, unprotected, payload, sig = ev.value
assert isinstance(protected, bytes) and isinstance(payload, bytes) and isinstance(sig, bytes)
assert isinstance(unprotected, dict)
assert cbor2.loads(protected) == {1: -7}, cbor2.loads(protected)
assert len(sig) == 64, len(sig)

der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
tbs = cbor2.dumps(["Signature1", protected, b"", payload])
key.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
# The check can fail: one changed byte of the payload no longer verifies.
bad = bytearray(payload); bad[len(bad) // 2] ^= 1
try:
    key.verify(der, cbor2.dumps(["Signature1", protected, b"", bytes(bad)]),
               ec.ECDSA(hashes.SHA256()))
    raise AssertionError("a changed payload verified")
except InvalidSignature:
    pass

claims = cbor2.loads(payload)
assert isinstance(claims, dict)
for k in (10, 256, 6, 263, 273, -70001, -70005):
    assert k in claims, "claim %d missing" % k
ueid = claims[256]
assert isinstance(ueid, bytes) and len(ueid) == 33 and ueid[0] == 0x01, ueid.hex()
spki = key.public_bytes(serialization.Encoding.DER,
                        serialization.PublicFormat.SubjectPublicKeyInfo)
meas = claims[273]
assert isinstance(meas, list) and len(meas) == 1 and len(meas[0]) == 2, meas
assert meas[0][0] == 65100, meas[0][0]
regs = cbor2.loads(meas[0][1])
assert isinstance(regs, list) and len(regs) == 16
assert all(isinstance(r, bytes) and len(r) == 32 for r in regs)
print(json.dumps({
    "nonce": claims[10].hex(),
    "ueid": ueid.hex(),
    "ueid_from_key": "01" + hashlib.sha256(spki).hexdigest(),
    "iat": claims[6],
    "dbgstat": claims[263],
    "registers": {str(i): r.hex() for i, r in enumerate(regs)},
    "backend": claims[-70001],
    "emulated": claims[-70005],
    "log_digest": claims[-70002].hex(),
    "log_count": claims[-70003],
    "requester": claims[-70004],
    "bootseed": claims[268].hex(),
    "swname": claims[270],
}))
)PY";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Sha256Hex(const std::string& text) {
  auto r = RunCommand(
      {"/usr/bin/python3", "-c",
       "import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())", text});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return Trim(r.out);
}

class SdAttestationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sd_ = std::make_unique<SdProcess>(dir_);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
  }
  void TearDown() override {
    if (sd_ && sd_->running()) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }
  CommandResult Cli(std::vector<std::string> args) { return RunCli(sd_->socket(), args); }
  std::string Ok(const std::vector<std::string>& args) {
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << "edgetrust " << args[0] << ": " << r.err;
    return r.out;
  }
  std::string Fails(const std::vector<std::string>& args) { return ExpectOneErrorLine(Cli(args)); }

  // Claims as the independent checker decodes them; fails the test if it rejects the evidence.
  json Check(const std::string& evidence, const std::string& pem) {
    auto r = RunCommand({"/usr/bin/python3", "-c", kCheckScript, evidence, pem});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return json::parse(r.out, nullptr, false);
  }

  // verify-evidence with the given files; "" leaves an option out.
  CommandResult Verify(const std::string& evidence, const std::string& key,
                       const std::string& nonce, const std::string& log = "",
                       const std::string& reference = "", bool json_output = false) {
    std::vector<std::string> argv = {CliBinary()};
    if (json_output) argv.push_back("--json");
    argv.insert(argv.end(),
                {"verify-evidence", "--evidence", evidence, "--key", key, "--nonce", nonce});
    if (!log.empty()) argv.insert(argv.end(), {"--log", log});
    if (!reference.empty()) argv.insert(argv.end(), {"--reference", reference});
    return RunCommand(argv);
  }

  // Measures an application, then writes log.json, evidence.cbor, key.pem and reference.json.
  void MakeEvidence() {
    Ok({"measure", "extend", "8", "--data", "telemetry-app 1.4.2", "--event",
        "telemetry-app 1.4.2 started"});
    Ok({"measure", "log", "--out", F("log.json")});
    Ok({"attest", "--nonce", kNonce, "--out", F("evidence.cbor")});
    Ok({"attest", "key", "--out", F("key.pem")});
    registers_ = json::parse(Ok({"--json", "measure", "read"}));
    WriteText(F("reference.json"), Reference(registers_["registers"]["8"], true).dump());
  }
  json Reference(const std::string& register8, bool allow_emulated) const {
    json ref = {{"registers", {{"8", register8}}},
                {"events", json::array({{{"register", 8},
                                         {"digest", Sha256Hex("telemetry-app 1.4.2")},
                                         {"event", "telemetry-app 1.4.2 started"}}})}};
    if (allow_emulated) ref["allow_emulated"] = true;
    return ref;
  }

  std::string F(const std::string& name) const { return dir_.File(name); }

  TempDir dir_;
  std::unique_ptr<SdProcess> sd_;
  json registers_;
};

TEST_F(SdAttestationTest, EvidenceIsCoseSign1CheckedByCbor2AndCryptography) {
  const uint64_t before = static_cast<uint64_t>(::time(nullptr));
  MakeEvidence();
  const uint64_t after = static_cast<uint64_t>(::time(nullptr));

  auto pkey = RunCommand({"openssl", "pkey", "-pubin", "-in", F("key.pem"), "-noout"});
  EXPECT_EQ(pkey.exit_code, 0) << pkey.err;
  auto text = RunCommand({"openssl", "pkey", "-pubin", "-in", F("key.pem"), "-noout", "-text"});
  EXPECT_NE(text.out.find("P-256"), std::string::npos) << text.out;

  json c = Check(F("evidence.cbor"), F("key.pem"));
  ASSERT_TRUE(c.is_object());
  EXPECT_EQ(c["nonce"], kNonce);
  EXPECT_EQ(c["ueid"].get<std::string>().size(), 66u);
  EXPECT_EQ(c["ueid"].get<std::string>().substr(0, 2), "01");
  EXPECT_EQ(c["ueid"], c["ueid_from_key"]);
  EXPECT_GE(c["iat"].get<uint64_t>(), before);
  EXPECT_LE(c["iat"].get<uint64_t>(), after);
  EXPECT_EQ(c["dbgstat"], 0);
  EXPECT_EQ(c["backend"], "emulated");
  EXPECT_EQ(c["emulated"], true);
  EXPECT_EQ(c["requester"], "uid:" + std::to_string(::geteuid()));
  EXPECT_EQ(c["registers"], registers_["registers"]);
  EXPECT_EQ(c["log_digest"], registers_["log_digest"]);
  EXPECT_EQ(c["log_count"], registers_["log_count"]);
  EXPECT_EQ(c["swname"].get<std::string>().rfind("edgetrust-sd", 0), 0u);

  // A second evidence with another nonce carries that nonce; the device identity stays.
  const std::string nonce2 = "0011223344556677";
  Ok({"attest", "--nonce", nonce2, "--out", F("evidence2.cbor")});
  json c2 = Check(F("evidence2.cbor"), F("key.pem"));
  EXPECT_EQ(c2["nonce"], nonce2);
  EXPECT_EQ(c2["ueid"], c["ueid"]);
  EXPECT_EQ(c2["bootseed"], c["bootseed"]);
}

TEST_F(SdAttestationTest, AttestationKeyPersistsAcrossRestartsAndBootSeedDoesNot) {
  Ok({"attest", "key", "--out", F("key1.pem")});
  Ok({"attest", "--nonce", kNonce, "--out", F("ev1.cbor")});
  ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
  ASSERT_TRUE(sd_->Start()) << sd_->log();
  Ok({"attest", "key", "--out", F("key2.pem")});
  Ok({"attest", "--nonce", kNonce, "--out", F("ev2.cbor")});
  EXPECT_EQ(ReadText(F("key1.pem")), ReadText(F("key2.pem")));
  json c1 = Check(F("ev1.cbor"), F("key1.pem"));
  json c2 = Check(F("ev2.cbor"), F("key1.pem"));
  EXPECT_EQ(c1["ueid"], c2["ueid"]);
  EXPECT_NE(c1["bootseed"], c2["bootseed"]);
  // The key also comes as PEM on stdout and inside JSON.
  EXPECT_EQ(Ok({"attest", "key"}), ReadText(F("key1.pem")));
  EXPECT_EQ(json::parse(Ok({"--json", "attest", "key"}))["pem"], ReadText(F("key1.pem")));

  // Another secure domain has another attestation key: its evidence fails with this one.
  TempDir other_dir;
  SdProcess other(other_dir);
  ASSERT_TRUE(other.Start()) << other.log();
  auto r = RunCommand({CliBinary(), "--socket", other.socket(), "attest", "--nonce", kNonce,
                       "--out", F("other.cbor")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(other.Stop(), 0);
  std::string err = ExpectOneErrorLine(Verify(F("other.cbor"), F("key1.pem"), kNonce));
  EXPECT_NE(err.find("signature"), std::string::npos) << err;
}

TEST_F(SdAttestationTest, VerifyEvidencePassesOnTheRealEvidence) {
  MakeEvidence();
  auto r = Verify(F("evidence.cbor"), F("key.pem"), kNonce, F("log.json"), F("reference.json"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("evidence: PASS\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("backend:   emulated"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;

  r = Verify(F("evidence.cbor"), F("key.pem"), kNonce, F("log.json"), F("reference.json"), true);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json v = json::parse(r.out);
  EXPECT_EQ(v["verdict"], "pass");
  EXPECT_TRUE(v["failures"].empty());
  EXPECT_EQ(v["claims"]["nonce"], kNonce);
  EXPECT_EQ(v["claims"]["registers"][8], registers_["registers"]["8"]);

  // Without log or reference the signature and nonce alone pass too.
  r = Verify(F("evidence.cbor"), F("key.pem"), kNonce);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // The library's verifier agrees.
  auto verifier = EvidenceVerifier::Create(ReadText(F("key.pem")));
  ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
  auto log = ParseEventLogJson(ReadText(F("log.json")));
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto ref = ParseReferenceJson(ReadText(F("reference.json")));
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  const std::string ev = ReadText(F("evidence.cbor"));
  Bytes nonce;
  for (size_t i = 0; i < kNonce.size(); i += 2) {
    nonce.push_back(static_cast<uint8_t>(std::stoi(kNonce.substr(i, 2), nullptr, 16)));
  }
  Verdict verdict = verifier->Verify(AsBytes(ev), nonce, &*log, &*ref);
  EXPECT_TRUE(verdict.passed);
  for (const auto& f : verdict.failures) ADD_FAILURE() << f;
}

TEST_F(SdAttestationTest, VerifyEvidenceFailsOnEveryAlteration) {
  MakeEvidence();
  const std::string ev = F("evidence.cbor");
  const std::string key = F("key.pem");
  const std::string log = F("log.json");
  const std::string ref = F("reference.json");
  ASSERT_EQ(Verify(ev, key, kNonce, log, ref).exit_code, 0);

  // Another nonce.
  std::string other_nonce = kNonce;
  other_nonce[0] = other_nonce[0] == '0' ? '1' : '0';
  std::string err = ExpectOneErrorLine(Verify(ev, key, other_nonce, log, ref));
  EXPECT_NE(err.find("nonce"), std::string::npos) << err;
  auto r = Verify(ev, key, other_nonce, log, ref);
  EXPECT_NE(r.out.find("evidence: FAIL"), std::string::npos) << r.out;

  // Changed bytes: the COSE tag, inside the signed nonce claim, inside the registers, and the
  // signature.
  const std::string original = ReadText(ev);
  std::string nonce_bytes;
  for (size_t i = 0; i < kNonce.size(); i += 2) {
    nonce_bytes.push_back(static_cast<char>(std::stoi(kNonce.substr(i, 2), nullptr, 16)));
  }
  const size_t nonce_at = original.find(nonce_bytes);
  ASSERT_NE(nonce_at, std::string::npos);
  const std::string reg8 = [&] {
    std::string hex = registers_["registers"]["8"];
    std::string raw;
    for (size_t i = 0; i < hex.size(); i += 2) {
      raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return raw;
  }();
  const size_t reg8_at = original.find(reg8);
  ASSERT_NE(reg8_at, std::string::npos);
  struct Flip {
    std::string what;
    size_t pos;
    bool signed_content;  // structure intact: the signature check must catch it
  };
  const std::vector<Flip> flips = {{"tag", 0, false},
                                   {"nonce claim", nonce_at + 5, true},
                                   {"register 8", reg8_at + 31, true},
                                   {"signature first", original.size() - 64, true},
                                   {"signature last", original.size() - 1, true}};
  for (const auto& f : flips) {
    SCOPED_TRACE(f.what);
    std::string bad = original;
    bad[f.pos] = static_cast<char>(static_cast<uint8_t>(bad[f.pos]) ^ 0x01);
    WriteText(F("bad.cbor"), bad);
    err = ExpectOneErrorLine(Verify(F("bad.cbor"), key, kNonce, log, ref));
    EXPECT_NE(err.find("evidence"), std::string::npos) << err;
    if (f.signed_content) {
      EXPECT_NE(err.find("signature"), std::string::npos) << err;
    }
    // The independent checker rejects it too.
    auto py = RunCommand({"/usr/bin/python3", "-c", kCheckScript, F("bad.cbor"), key});
    EXPECT_NE(py.exit_code, 0) << py.out;
  }
  // Every single changed bit, anywhere in the evidence, fails the library's verifier.
  {
    auto verifier = EvidenceVerifier::Create(ReadText(key));
    ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
    const Bytes nonce(nonce_bytes.begin(), nonce_bytes.end());
    ASSERT_TRUE(verifier->Verify(AsBytes(original), nonce).passed);
    for (size_t pos = 0; pos < original.size(); ++pos) {
      for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
        std::string bad = original;
        bad[pos] = static_cast<char>(static_cast<uint8_t>(bad[pos]) ^ bit);
        Verdict v = verifier->Verify(AsBytes(bad), nonce);
        EXPECT_FALSE(v.passed) << "byte " << pos << " bit " << int{bit};
        EXPECT_FALSE(v.failures.empty()) << "byte " << pos;
      }
    }
  }
  // Truncated evidence.
  WriteText(F("cut.cbor"), original.substr(0, original.size() - 10));
  ExpectOneErrorLine(Verify(F("cut.cbor"), key, kNonce, log, ref));

  // A wrong key: another P-256 key made with the openssl CLI.
  ASSERT_EQ(RunCommand({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", F("other.key")})
                .exit_code,
            0);
  ASSERT_EQ(
      RunCommand({"openssl", "pkey", "-in", F("other.key"), "-pubout", "-out", F("other.pem")})
          .exit_code,
      0);
  err = ExpectOneErrorLine(Verify(ev, F("other.pem"), kNonce, log, ref));
  EXPECT_NE(err.find("signature"), std::string::npos) << err;

  // A log with one event's digest changed no longer replays to the evidence.
  json edited = json::parse(ReadText(log));
  ASSERT_EQ(edited.size(), 3u);
  edited[2]["digest"] = Sha256Hex("telemetry-app 6.6.6");
  WriteText(F("edited-log.json"), edited.dump());
  err = ExpectOneErrorLine(Verify(ev, key, kNonce, F("edited-log.json"), ref));
  EXPECT_NE(err.find("log"), std::string::npos) << err;
  // Also the daemon's own event in register 0.
  edited = json::parse(ReadText(log));
  edited[0]["digest"] = std::string(64, '0');
  WriteText(F("edited-log0.json"), edited.dump());
  err = ExpectOneErrorLine(Verify(ev, key, kNonce, F("edited-log0.json"), ref));
  EXPECT_NE(err.find("log"), std::string::npos) << err;
  // And a log with its last event left out.
  edited = json::parse(ReadText(log));
  edited.erase(edited.size() - 1);
  WriteText(F("short-log.json"), edited.dump());
  ExpectOneErrorLine(Verify(ev, key, kNonce, F("short-log.json"), ref));

  // A reference with a wrong register value.
  std::string wrong = registers_["registers"]["8"];
  wrong[63] = wrong[63] == '0' ? '1' : '0';
  WriteText(F("wrong-ref.json"), Reference(wrong, true).dump());
  err = ExpectOneErrorLine(Verify(ev, key, kNonce, log, F("wrong-ref.json")));
  EXPECT_NE(err.find("register 8"), std::string::npos) << err;

  // A reference that does not allow emulated evidence.
  WriteText(F("strict-ref.json"), Reference(registers_["registers"]["8"], false).dump());
  err = ExpectOneErrorLine(Verify(ev, key, kNonce, log, F("strict-ref.json")));
  EXPECT_NE(err.find("emulated"), std::string::npos) << err;
  r = Verify(ev, key, kNonce, log, F("strict-ref.json"), true);
  EXPECT_EQ(r.exit_code, 1);
  json v = json::parse(r.out);
  EXPECT_EQ(v["verdict"], "fail");
  EXPECT_FALSE(v["failures"].empty());

  // A reference expecting an event that never happened.
  json missing = Reference(registers_["registers"]["8"], true);
  missing["events"][0]["event"] = "telemetry-app 1.4.3 started";
  WriteText(F("missing-ref.json"), missing.dump());
  ExpectOneErrorLine(Verify(ev, key, kNonce, log, F("missing-ref.json")));

  // The untouched inputs still pass.
  EXPECT_EQ(Verify(ev, key, kNonce, log, ref).exit_code, 0);
}

TEST_F(SdAttestationTest, BadNonceAndNobodyAsRequester) {
  std::string err = Fails({"attest", "--nonce", "00112233445566", "--out", F("e")});  // 7 bytes
  EXPECT_NE(err.find("8 to 64 bytes"), std::string::npos) << err;
  err = Fails({"attest", "--nonce", std::string(130, 'a'), "--out", F("e")});  // 65 bytes
  EXPECT_NE(err.find("8 to 64 bytes"), std::string::npos) << err;
  Fails({"attest", "--nonce", "not hex at all!!", "--out", F("e")});
  EXPECT_FALSE(std::filesystem::exists(F("e")));
  auto c = Client::Connect(sd_->socket());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Attest(Bytes(7, 1)).status().code(), ErrorCode::kInvalidArgument);
  auto too_long = (*c)->Attest(Bytes(65, 1));
  EXPECT_TRUE(too_long.status().code() == ErrorCode::kInvalidArgument ||
              too_long.status().code() == ErrorCode::kTooLarge)
      << too_long.status().ToString();
  EXPECT_TRUE((*c)->Attest(Bytes(8, 1)).ok());
  EXPECT_TRUE((*c)->Attest(Bytes(64, 1)).ok());

  // verify-evidence checks its nonce argument before reading anything.
  Ok({"attest", "key", "--out", F("key.pem")});
  err = ExpectOneErrorLine(Verify(F("nowhere.cbor"), F("key.pem"), "0011"));
  EXPECT_NE(err.find("--nonce"), std::string::npos) << err;
  err = ExpectOneErrorLine(Verify(F("nowhere.cbor"), F("key.pem"), kNonce));
  EXPECT_NE(err.find("nowhere.cbor"), std::string::npos) << err;

  if (!IsRoot()) return;
  const std::string d = F("nobody");
  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  ASSERT_EQ(::chown(d.c_str(), kNobody, kNogroup), 0);
  auto r = RunCommandAs(kNobody, kNogroup,
                        {CliBinary(), "--socket", sd_->socket(), "attest", "--nonce", kNonce,
                         "--out", d + "/ev.cbor"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json claims = Check(d + "/ev.cbor", F("key.pem"));
  EXPECT_EQ(claims["requester"], "uid:65534");
  EXPECT_EQ(Verify(d + "/ev.cbor", F("key.pem"), kNonce).exit_code, 0);
}

TEST(SdNewCommandsHelpTest, HelpOfEveryNewCommandExitsZero) {
  const std::vector<std::vector<std::string>> commands = {{"seal"},
                                                          {"unseal"},
                                                          {"measure"},
                                                          {"measure", "extend"},
                                                          {"measure", "read"},
                                                          {"measure", "log"},
                                                          {"counter"},
                                                          {"counter", "create"},
                                                          {"counter", "increment"},
                                                          {"counter", "read"},
                                                          {"attest"},
                                                          {"attest", "key"},
                                                          {"verify-evidence"}};
  for (auto argv : commands) {
    std::string name;
    for (const auto& a : argv) name += a + " ";
    SCOPED_TRACE(name);
    argv.insert(argv.begin(), CliBinary());
    argv.push_back("--help");
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  auto r = RunCommand({CliBinary(), "seal", "--help"});
  EXPECT_NE(r.out.find("--bind-registers"), std::string::npos);
  r = RunCommand({CliBinary(), "verify-evidence", "--help"});
  EXPECT_NE(r.out.find("--reference"), std::string::npos);
}

}  // namespace
}  // namespace edgetrust::test
