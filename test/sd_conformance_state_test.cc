// The conformance suite, second half: what the secure domain keeps over time on every backend
// (keys across restarts, sealing, registers, counters) and the evidence it gives a verifier,
// checked with python3's `cbor2` and `cryptography`, tpm2_checkquote (tpm) and pkcs11-tool
// (pkcs11).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "conformance_fixture.h"

namespace edgetrust::test {
namespace {

using json = nlohmann::json;

constexpr char kNonce[] = "00112233445566778899aabbccddeeff";

Digest256 DigestOf(const std::string& text) {
  auto r = RunCommand({"openssl", "dgst", "-sha256", "-binary"}, text);
  Digest256 d{};
  if (r.out.size() == d.size()) std::copy(r.out.begin(), r.out.end(), d.begin());
  return d;
}

// The independent reading of evidence: python3 cbor2 decodes the COSE_Sign1, `cryptography`
// verifies ES256 over the Sig_structure with the attestation key, and the claims come back as
// JSON (the TPM quote claim, -70006, as hex when present).
constexpr char kEvidenceChecker[] = R"PY(
import sys, json, cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
ev = cbor2.loads(open(sys.argv[1], 'rb').read())
assert isinstance(ev, cbor2.CBORTag) and ev.tag == 18, "not a COSE_Sign1"
protected, unprotected, payload, sig = ev.value
key = serialization.load_pem_public_key(open(sys.argv[2], 'rb').read())
r, s = int.from_bytes(sig[:32], 'big'), int.from_bytes(sig[32:], 'big')
key.verify(utils.encode_dss_signature(r, s),
           cbor2.dumps(["Signature1", protected, b"", payload]), ec.ECDSA(hashes.SHA256()))
c = cbor2.loads(payload)
out = {"nonce": c[10].hex(), "backend": c[-70001], "emulated": c[-70005]}
if -70006 in c:
    q = c[-70006]
    out["quote"] = {"attest": q[0].hex(), "signature": q[1].hex(), "pcr": q[2], "base": q[3].hex()}
print(json.dumps(out))
)PY";

TEST_P(Conformance, KeysSurviveRestartsAndStillSign) {
  ASSERT_TRUE(client_->CreateKey("identity", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(client_->CreateKey("records", KeyType::kAes256).ok());
  ASSERT_TRUE(client_->CreateKey("mac", KeyType::kHmacSha256).ok());
  auto pem = client_->PublicKeyPem("identity");
  ASSERT_TRUE(pem.ok());
  auto ct = client_->Encrypt("records", AsBytes("kept across restarts"));
  ASSERT_TRUE(ct.ok()) << ct.status().ToString();
  auto mac = client_->Mac("mac", AsBytes("m"));
  ASSERT_TRUE(mac.ok());

  RestartDaemon();
  auto keys = client_->ListKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 3u);
  for (const auto& k : *keys) EXPECT_EQ(k.state, "ok") << k.name;
  EXPECT_EQ(*client_->PublicKeyPem("identity"), *pem);
  auto sig = client_->Sign("identity", AsBytes("after restart"));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  ExpectOpensslVerifies("identity", KeyType::kEcdsaP256, "after restart", *sig);
  auto pt = client_->Decrypt("records", *ct);
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  EXPECT_EQ(Str(*pt), "kept across restarts");
  EXPECT_EQ(*client_->Mac("mac", AsBytes("m")), *mac);
}

TEST_P(Conformance, SealingRoundTripsAndRefusesAlteredOrStaleBlobs) {
  const std::string secret = "wifi passphrase of gateway 42";
  auto blob = client_->Seal(AsBytes(secret));
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(Str(*blob).find("passphrase"), std::string::npos);
  auto opened = client_->Unseal(*blob);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(Str(*opened), secret);

  Bytes flipped = *blob;
  flipped[flipped.size() - 5] ^= 0x01;
  EXPECT_EQ(client_->Unseal(flipped).status().code(), ErrorCode::kTampered);

  // Bound to register 8: refused once the register changed.
  auto bound = client_->Seal(AsBytes(secret), {8});
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  ASSERT_TRUE(client_->Unseal(*bound).ok());
  ASSERT_TRUE(client_->Extend(8, DigestOf("app 2.0"), "app 2.0 started").ok());
  EXPECT_EQ(client_->Unseal(*bound).status().code(), ErrorCode::kFailedPrecondition);

  // An unbound blob still opens after a restart.
  RestartDaemon();
  auto again = client_->Unseal(*blob);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Str(*again), secret);
}

TEST_P(Conformance, BlobsDoNotOpenOnAnotherSecureDomainOfTheSameKind) {
  auto blob = client_->Seal(AsBytes("only here"));
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  // A second device of the same backend (another swtpm, another token) with its own state.
  TempDir other_dir;
  BackendEnv other_env(other_dir, Backend());
  ASSERT_TRUE(other_env.Start()) << other_env.error();
  SdProcess other(other_dir, other_env.DaemonOptions());
  ASSERT_TRUE(other.Start()) << other.log();
  auto c = Client::Connect(other.socket());
  ASSERT_TRUE(c.ok());
  auto r = (*c)->Unseal(*blob);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTampered) << r.status().ToString();
  c->reset();
  EXPECT_EQ(other.Stop(), 0) << other.log();
}

TEST_P(Conformance, CountersNeverGoBackAcrossRestarts) {
  auto created = client_->CreateCounter("manifest");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, 0u);
  EXPECT_EQ(client_->CreateCounter("manifest").status().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(*client_->IncrementCounter("manifest"), 1u);
  EXPECT_EQ(*client_->IncrementCounter("manifest"), 2u);
  ASSERT_TRUE(client_->CreateCounter("other").ok());
  EXPECT_EQ(*client_->ReadCounter("other"), 0u);
  EXPECT_EQ(client_->ReadCounter("missing").status().code(), ErrorCode::kNotFound);
  RestartDaemon();
  EXPECT_EQ(*client_->ReadCounter("manifest"), 2u);
  EXPECT_EQ(*client_->IncrementCounter("manifest"), 3u);
  EXPECT_EQ(*client_->ReadCounter("other"), 0u);
}

TEST_P(Conformance, RegistersAndLogReplayIndependently) {
  ASSERT_TRUE(client_->Extend(8, DigestOf("telemetry-app 1.4.2"), "telemetry-app 1.4.2").ok());
  ASSERT_TRUE(client_->Extend(9, DigestOf("config v7"), "config v7").ok());
  auto snap = client_->ReadRegisters();
  ASSERT_TRUE(snap.ok());
  auto log = client_->ReadEventLog();
  ASSERT_TRUE(log.ok());
  // Register 0 holds the daemon's two events, then ours.
  ASSERT_EQ(log->size(), 4u);
  EXPECT_EQ(snap->log_count, 4u);
  // hashlib replays register 8 from zero: SHA-256(0^32 || digest).
  const std::string digest8 = Hex(DigestOf("telemetry-app 1.4.2"));
  auto r = RunCommand({"/usr/bin/python3", "-c",
                       "import hashlib,sys; print(hashlib.sha256(bytes(32) + "
                       "bytes.fromhex(sys.argv[1])).hexdigest())",
                       digest8});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Hex(snap->values[8]) + "\n", r.out);
}

TEST_P(Conformance, EvidenceVerifiesIndependentlyAndAgainstReferenceValues) {
  ASSERT_TRUE(client_->Extend(8, DigestOf("telemetry-app 1.4.2"), "telemetry-app 1.4.2").ok());
  ASSERT_EQ(Cli({"attest", "--nonce", kNonce, "--out", dir_.File("ev.cbor")}).exit_code, 0);
  ASSERT_EQ(Cli({"attest", "key", "--out", dir_.File("ak.pem")}).exit_code, 0);
  ASSERT_EQ(Cli({"measure", "log", "--out", dir_.File("log.json")}).exit_code, 0);

  WriteText(dir_.File("check.py"), kEvidenceChecker);
  auto py = RunCommand(
      {"/usr/bin/python3", dir_.File("check.py"), dir_.File("ev.cbor"), dir_.File("ak.pem")});
  ASSERT_EQ(py.exit_code, 0) << py.err;
  json claims = json::parse(py.out);
  EXPECT_EQ(claims["nonce"], kNonce);
  EXPECT_EQ(claims["backend"], Backend());
  EXPECT_EQ(claims["emulated"], Backend() == "emulated");
  EXPECT_EQ(claims.contains("quote"), Backend() == "tpm");

  // A reference that refuses emulated evidence and, for tpm, demands a verified quote.
  json ref = {{"registers", {{"8", Hex(client_->ReadRegisters()->values[8])}}},
              {"allow_emulated", false},
              {"require_tpm_quote", Backend() == "tpm"}};
  WriteText(dir_.File("ref.json"), ref.dump());
  auto verify = [&](const std::string& nonce) {
    return Cli({"verify-evidence", "--evidence", dir_.File("ev.cbor"), "--key", dir_.File("ak.pem"),
                "--nonce", nonce, "--log", dir_.File("log.json"), "--reference",
                dir_.File("ref.json")});
  };
  auto v = verify(kNonce);
  if (Backend() == "emulated") {
    EXPECT_EQ(v.exit_code, 1) << v.out;
    EXPECT_NE(v.err.find("emulated"), std::string::npos) << v.err;
  } else {
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("evidence: PASS"), std::string::npos) << v.out;
  }
  if (Backend() == "tpm") {
    EXPECT_NE(v.out.find("tpm quote verified"), std::string::npos) << v.out;
  }
  std::string other = kNonce;
  other[0] = '9';
  EXPECT_EQ(verify(other).exit_code, 1);
}

// --- Backend-specific checks, with the hardware's own tools -------------------------------------

TEST_P(Conformance, TpmQuoteIsAcceptedByTpm2CheckquoteForItsNonceOnly) {
  if (Backend() != "tpm") GTEST_SKIP() << "TPM quotes come from the tpm backend only";
  ASSERT_TRUE(client_->Extend(8, DigestOf("telemetry-app 1.4.2"), "telemetry-app 1.4.2").ok());
  const std::string qdir = dir_.path() + "/quote";
  ASSERT_EQ(::mkdir(qdir.c_str(), 0755), 0);
  auto r = Cli({"attest", "--nonce", kNonce, "--out", dir_.File("ev.cbor"), "--tpm-quote", qdir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto check = [&](const std::string& nonce) {
    return RunCommand({"tpm2_checkquote", "-u", qdir + "/ak.pem", "-m", qdir + "/quote.msg", "-s",
                       qdir + "/quote.sig", "-f", qdir + "/quote.pcrs", "-g", "sha256", "-q",
                       nonce});
  };
  auto ok = check(kNonce);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  std::string other = kNonce;
  other[0] = '9';
  EXPECT_NE(check(other).exit_code, 0);
  // The quoted PCR 23 is what the event log replays to (hashlib, from the base in the evidence).
  ASSERT_EQ(Cli({"measure", "log", "--out", dir_.File("log.json")}).exit_code, 0);
  WriteText(dir_.File("replay.py"), R"PY(
import sys, json, hashlib, cbor2
ev = cbor2.loads(open(sys.argv[1], 'rb').read())
q = cbor2.loads(ev.value[2])[-70006]
pcr = q[3]
for e in json.load(open(sys.argv[2])):
    m = hashlib.sha256(bytes([e["register"]]) + bytes.fromhex(e["digest"])).digest()
    pcr = hashlib.sha256(pcr + m).digest()
print(pcr.hex())
)PY");
  auto replay = RunCommand(
      {"/usr/bin/python3", dir_.File("replay.py"), dir_.File("ev.cbor"), dir_.File("log.json")});
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  auto pcr = RunCommand({"env", "TPM2TOOLS_TCTI=" + env_->swtpm()->Tcti(), "tpm2_pcrread",
                         "sha256:23", "-o", dir_.File("pcr23.bin")});
  ASSERT_EQ(pcr.exit_code, 0) << pcr.err;
  EXPECT_EQ(Hex(AsBytes(ReadText(dir_.File("pcr23.bin")))) + "\n", replay.out);
}

TEST_P(Conformance, Pkcs11ToolSeesOurKeysAsNotExtractable) {
  if (Backend() != "pkcs11") GTEST_SKIP() << "token objects exist with the pkcs11 backend only";
  ASSERT_TRUE(client_->CreateKey("identity", KeyType::kEcdsaP256).ok());
  ASSERT_TRUE(client_->CreateKey("records", KeyType::kAes256).ok());
  SoftHsmToken* token = env_->token();
  auto r = RunCommand({"env", token->EnvAssignment(), "pkcs11-tool", "--module",
                       SoftHsmToken::Module(), "--token-label", token->label(), "--login", "--pin",
                       token->pin(), "--list-objects"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Every private and secret key object pkcs11-tool lists is sensitive and never extractable.
  size_t private_keys = 0, secret_keys = 0;
  // One object per block: a heading line ("Private Key Object; EC") and indented attributes.
  std::vector<std::string> objects;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] != ' ') objects.emplace_back();
    if (!objects.empty()) objects.back() += line + "\n";
  }
  for (const auto& o : objects) {
    const bool is_private = o.rfind("Private Key Object", 0) == 0;
    const bool is_secret = o.rfind("Secret Key Object", 0) == 0;
    if (!is_private && !is_secret) continue;
    (is_private ? private_keys : secret_keys)++;
    EXPECT_NE(o.find("never extractable"), std::string::npos) << o;
    EXPECT_NE(o.find("sensitive"), std::string::npos) << o;
  }
  EXPECT_GE(private_keys, 1u) << r.out;
  EXPECT_GE(secret_keys, 1u) << r.out;
  EXPECT_NE(r.out.find("identity"), std::string::npos) << r.out;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Conformance, ::testing::ValuesIn(BackendEnv::All()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace edgetrust::test
