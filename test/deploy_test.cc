// Deployment manifests end to end: anti-rollback freshness against the real edgetrust-sd (first
// acceptance, newer and older sequences, a deleted, restored or edited state file, a crash between
// the file and the counter, a reset, a daemon restart); manifest signatures interoperating with
// the openssl CLI in both directions; and `edgetrust manifest sign|verify|reference`, checked with
// the openssl CLI and with verify-evidence over real evidence of the daemon.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_expect.h"
#include "common/hex.h"
#include "deploy/effective_config.h"
#include "deploy/freshness.h"
#include "deploy/manifest.h"
#include "deploy/signature.h"
#include "edgetrust/client.h"
#include "harness.h"
#include "identity/certificate.h"

namespace edgetrust::test {
namespace {

using nlohmann::json;

const std::string kDigestA(64, 'a');
const std::string kDigestB(64, 'b');

void MustRun(const std::vector<std::string>& argv) {
  auto r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": " << r.err
                            << r.out;
}

// --- Freshness ------------------------------------------------------------------------------

class FreshnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(IsRoot()) << "needs root (the daemon runs as its own user)";
    sd_ = std::make_unique<SdProcess>(dir_);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    Connect();
    std::filesystem::create_directories(state_);
  }
  void Connect() {
    auto c = Client::Connect(sd_->socket());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
    fresh_ = std::make_unique<deploy::Freshness>(*client_, state_);
  }
  uint64_t Counter() {
    auto v = client_->ReadCounter(deploy::kFreshnessCounter);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : 0;
  }
  void ExpectTampered(const std::string& text) {
    auto last = fresh_->LastAccepted();
    ASSERT_FALSE(last.ok());
    EXPECT_EQ(last.status().code(), ErrorCode::kTampered) << last.status().ToString();
    EXPECT_NE(last.status().message().find(text), std::string::npos) << last.status().message();
    // Every manifest is refused while the state is tampered.
    EXPECT_EQ(fresh_->Check(1000000).code(), ErrorCode::kTampered);
    EXPECT_EQ(fresh_->Accept(1000000, kDigestA).code(), ErrorCode::kTampered);
  }

  TempDir dir_;
  std::string state_ = dir_.File("agent-state");
  std::unique_ptr<SdProcess> sd_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<deploy::Freshness> fresh_;
};

TEST_F(FreshnessTest, FirstNewerEqualOlder) {
  auto last = fresh_->LastAccepted();
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(*last, 0u);
  EXPECT_TRUE(fresh_->Check(1).ok());
  ASSERT_TRUE(fresh_->Accept(5, kDigestA).ok());
  EXPECT_EQ(*fresh_->LastAccepted(), 5u);
  EXPECT_EQ(Counter(), 1u);

  Status equal = fresh_->Check(5);
  EXPECT_EQ(equal.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(equal.message(), "manifest sequence 5 is not newer than the last accepted 5");
  Status older = fresh_->Accept(4, kDigestB);
  EXPECT_EQ(older.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(older.message(), "manifest sequence 4 is not newer than the last accepted 5");
  EXPECT_EQ(Counter(), 1u);  // a refusal changes nothing

  ASSERT_TRUE(fresh_->Accept(9, kDigestB).ok());
  EXPECT_EQ(*fresh_->LastAccepted(), 9u);
  EXPECT_EQ(Counter(), 2u);

  // The file is the documented JSON, with the manifest digest.
  const json state = json::parse(ReadText(fresh_->StatePath()));
  EXPECT_EQ(state["sequence"], 9);
  EXPECT_EQ(state["counter"], 2);
  EXPECT_EQ(state["digest"], kDigestB);
}

TEST_F(FreshnessTest, SurvivesADaemonRestart) {
  ASSERT_TRUE(fresh_->Accept(3, kDigestA).ok());
  client_.reset();
  EXPECT_EQ(sd_->Stop(), 0);
  ASSERT_TRUE(sd_->Start()) << sd_->log();
  Connect();
  EXPECT_EQ(*fresh_->LastAccepted(), 3u);
  EXPECT_EQ(fresh_->Check(3).code(), ErrorCode::kFailedPrecondition);
}

TEST_F(FreshnessTest, DeletedFileIsTampered) {
  ASSERT_TRUE(fresh_->Accept(5, kDigestA).ok());
  std::filesystem::remove(fresh_->StatePath());
  ExpectTampered("is missing but the counter deploy-accepts is 1");
}

TEST_F(FreshnessTest, OldCopyPutBackIsTampered) {
  ASSERT_TRUE(fresh_->Accept(5, kDigestA).ok());
  const std::string old_copy = ReadText(fresh_->StatePath());
  ASSERT_TRUE(fresh_->Accept(6, kDigestB).ok());
  WriteText(fresh_->StatePath(), old_copy);
  ExpectTampered("is an old copy: it was written at counter 1 but the counter is 2");
}

TEST_F(FreshnessTest, EditedFileIsTampered) {
  ASSERT_TRUE(fresh_->Accept(5, kDigestA).ok());
  json state = json::parse(ReadText(fresh_->StatePath()));
  state["sequence"] = 2;  // an attacker lowering the bar to replay sequence 3
  WriteText(fresh_->StatePath(), state.dump());
  ExpectTampered("does not verify");
  WriteText(fresh_->StatePath(), "not json");
  ExpectTampered("is not a valid state file");
}

TEST_F(FreshnessTest, FileWithoutCounterIsTampered) {
  // A state file from another secure domain (or one whose counter was never created).
  ASSERT_TRUE(fresh_->Accept(5, kDigestA).ok());
  const std::string copy = ReadText(fresh_->StatePath());
  TempDir other_dir;
  SdProcess other(other_dir);
  ASSERT_TRUE(other.Start()) << other.log();
  auto c = Client::Connect(other.socket());
  ASSERT_TRUE(c.ok());
  const std::string other_state = other_dir.File("agent-state");
  std::filesystem::create_directories(other_state);
  WriteText(other_state + "/deploy-freshness.json", copy);
  deploy::Freshness f(**c, other_state);
  auto last = f.LastAccepted();
  EXPECT_EQ(last.status().code(), ErrorCode::kTampered) << last.status().ToString();
}

TEST_F(FreshnessTest, CrashBetweenFileAndCounterCompletes) {
  ASSERT_TRUE(fresh_->Accept(5, kDigestA).ok());
  ASSERT_TRUE(fresh_->WriteAheadForTesting(7, kDigestB).ok());
  EXPECT_EQ(Counter(), 1u);  // the "crash": the counter was not incremented
  // Loading completes the acceptance.
  auto last = fresh_->LastAccepted();
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(*last, 7u);
  EXPECT_EQ(Counter(), 2u);
  EXPECT_EQ(*fresh_->LastAccepted(), 7u);
  EXPECT_EQ(fresh_->Check(7).code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(fresh_->Accept(8, kDigestA).ok());
  EXPECT_EQ(Counter(), 3u);
}

TEST_F(FreshnessTest, ResetReanchors) {
  ASSERT_TRUE(fresh_->Accept(5, kDigestA).ok());
  std::filesystem::remove(fresh_->StatePath());
  ExpectTampered("missing");
  ASSERT_TRUE(fresh_->Reset(5).ok());
  EXPECT_EQ(*fresh_->LastAccepted(), 5u);
  EXPECT_EQ(fresh_->Check(5).code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(fresh_->Accept(6, kDigestB).ok());
  EXPECT_EQ(*fresh_->LastAccepted(), 6u);
}

// --- Signatures with the openssl CLI, and the CLI commands ----------------------------------

// A CA and signers made by the openssl CLI in a temporary folder.
class ManifestCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(IsRoot());
    MakeCa("ca", "Deploy CA");
    MakeCa("other-ca", "Other CA");
    MakeSigner("signer", "ca", "release signer", "digitalSignature");
    MakeSigner("foreign", "other-ca", "foreign signer", "digitalSignature");
    manifest_ = json{{"format", "edgetrust-deployment/1"},
                     {"deployment", "plant-a"},
                     {"sequence", 3},
                     {"modules",
                      {{{"name", "collector"},
                        {"image", "sha256:" + std::string(64, '1')},
                        {"command", {"/collector", "--site", "a"}},
                        {"writable", {{{"path", "/tmp"}}}}},
                       {{"name", "bridge"},
                        {"image", "sha256:" + std::string(64, '2')},
                        {"command", {"/bridge"}},
                        {"secure_domain", true}}}}}
                    .dump(2);
    WriteText(File("m.json"), manifest_);
  }

  std::string File(const std::string& name) const { return dir_.File(name); }

  void MakeCa(const std::string& name, const std::string& cn) {
    MustRun({"openssl",
             "req",
             "-x509",
             "-newkey",
             "ec",
             "-pkeyopt",
             "ec_paramgen_curve:P-256",
             "-nodes",
             "-keyout",
             File(name + ".key"),
             "-out",
             File(name + ".pem"),
             "-subj",
             "/CN=" + cn,
             "-days",
             "30",
             "-addext",
             "basicConstraints=critical,CA:TRUE",
             "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"});
  }
  void MakeSigner(const std::string& name, const std::string& ca, const std::string& cn,
                  const std::string& usage) {
    MustRun({"openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", File(name + ".key"), "-out", File(name + ".csr"), "-subj",
             "/CN=" + cn});
    WriteText(File(name + ".ext"), "basicConstraints=CA:FALSE\nkeyUsage=critical," + usage + "\n");
    MustRun({"openssl", "x509", "-req", "-in", File(name + ".csr"), "-CA", File(ca + ".pem"),
             "-CAkey", File(ca + ".key"), "-CAcreateserial", "-out", File(name + ".pem"), "-days",
             "10", "-extfile", File(name + ".ext")});
  }

  std::vector<X509Ptr> Certs(const std::string& name) {
    auto certs = identity::ParseCertificates(ReadText(File(name)), name);
    EXPECT_TRUE(certs.ok()) << certs.status().ToString();
    return certs.ok() ? std::move(certs).value() : std::vector<X509Ptr>{};
  }
  Bytes ReadBytes(const std::string& path) {
    const std::string s = ReadText(path);
    return Bytes(s.begin(), s.end());
  }
  // `openssl cms -sign` without -nodetach: a detached signature.
  void OpensslSign(const std::string& signer, const std::string& out) {
    MustRun({"openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in", File("m.json"),
             "-signer", File(signer + ".pem"), "-inkey", File(signer + ".key"), "-out", out});
  }
  CommandResult OpensslVerify(const std::string& sig, const std::string& content,
                              const std::string& ca) {
    return RunCommand({"openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sig,
                       "-content", content, "-CAfile", ca, "-purpose", "any", "-out",
                       File("verified.out")});
  }
  // The deployment's extender of register 2 is the agent; here the test (uid 0) plays it.
  void StartSd() {
    SdProcess::Options o;
    o.config_text =
        "[policy]\nadmins = [\"uid:0\"]\n[[policy.register]]\nindex = [2]\n"
        "extenders = [\"uid:0\"]\n";
    sd_ = std::make_unique<SdProcess>(dir_, o);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
  }
  CommandResult Cli(std::vector<std::string> args) {
    return RunCli(sd_ ? sd_->socket() : File("no-daemon.sock"), std::move(args));
  }

  TempDir dir_;
  std::string manifest_;
  std::unique_ptr<SdProcess> sd_;
};

TEST_F(ManifestCliTest, OpensslSignatureVerifies) {
  OpensslSign("signer", File("m.sig"));
  auto info = deploy::VerifyManifestSignature(AsBytes(manifest_), ReadBytes(File("m.sig")),
                                              Certs("ca.pem"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->subject, "CN=release signer");
  EXPECT_EQ(info->fingerprint, identity::Fingerprint(Certs("signer.pem")[0].get()));
}

TEST_F(ManifestCliTest, OurSignatureVerifiesWithOpenssl) {
  BioPtr bio(BIO_new_file(File("signer.key").c_str(), "r"));
  ASSERT_TRUE(bio);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(key);
  auto sig = deploy::SignManifest(AsBytes(manifest_), key.get(), Certs("signer.pem")[0].get());
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  WriteText(File("ours.sig"), std::string(sig->begin(), sig->end()));
  auto r = OpensslVerify(File("ours.sig"), File("m.json"), File("ca.pem"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadText(File("verified.out")), manifest_);
  // openssl too refuses it for another CA and for a changed manifest.
  EXPECT_NE(OpensslVerify(File("ours.sig"), File("m.json"), File("other-ca.pem")).exit_code, 0);
  std::string changed = manifest_;
  changed[10] ^= 1;
  WriteText(File("changed.json"), changed);
  EXPECT_NE(OpensslVerify(File("ours.sig"), File("changed.json"), File("ca.pem")).exit_code, 0);
}

TEST_F(ManifestCliTest, Refusals) {
  OpensslSign("signer", File("m.sig"));
  const Bytes sig = ReadBytes(File("m.sig"));
  auto code = [&](const std::string& content, ByteView s, const std::vector<X509Ptr>& trust,
                  int64_t now = 0) {
    auto r = deploy::VerifyManifestSignature(AsBytes(content), s, trust, now);
    EXPECT_FALSE(r.ok());
    return r.status();
  };
  Status other = code(manifest_, sig, Certs("other-ca.pem"));
  EXPECT_EQ(other.code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(other.message().find("does not chain"), std::string::npos) << other.message();

  OpensslSign("foreign", File("foreign.sig"));
  EXPECT_EQ(code(manifest_, ReadBytes(File("foreign.sig")), Certs("ca.pem")).code(),
            ErrorCode::kVerifyFailed);

  std::string changed = manifest_;
  changed[changed.size() / 2] ^= 1;
  Status mismatch = code(changed, sig, Certs("ca.pem"));
  EXPECT_EQ(mismatch.code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(mismatch.message().find("does not match"), std::string::npos) << mismatch.message();

  // The signer is valid for 10 days: 20 days from now it has expired.
  const int64_t later = static_cast<int64_t>(std::time(nullptr)) + 20 * 86400;
  Status expired = code(manifest_, sig, Certs("ca.pem"), later);
  EXPECT_EQ(expired.code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(expired.message().find("expired"), std::string::npos) << expired.message();

  const Bytes truncated(sig.begin(), sig.end() - 10);
  EXPECT_EQ(code(manifest_, truncated, Certs("ca.pem")).code(), ErrorCode::kMalformed);
  EXPECT_EQ(code(manifest_, AsBytes("not a signature at all"), Certs("ca.pem")).code(),
            ErrorCode::kMalformed);
  Status empty = code(manifest_, sig, {});
  EXPECT_EQ(empty.code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(empty.message().find("empty"), std::string::npos);

  // An attached (-nodetach) signature is not what the format uses.
  MustRun({"openssl", "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-in",
           File("m.json"), "-signer", File("signer.pem"), "-inkey", File("signer.key"), "-out",
           File("attached.sig")});
  EXPECT_EQ(code(manifest_, ReadBytes(File("attached.sig")), Certs("ca.pem")).code(),
            ErrorCode::kVerifyFailed);
}

TEST_F(ManifestCliTest, CliSignWithPemAndVerify) {
  auto sign = Cli({"manifest", "sign", "--manifest", File("m.json"), "--key", File("signer.key"),
                   "--cert", File("signer.pem"), "--out", File("cli.sig")});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto r = OpensslVerify(File("cli.sig"), File("m.json"), File("ca.pem"));
  EXPECT_EQ(r.exit_code, 0) << r.err;

  auto verify = Cli({"--json", "manifest", "verify", "--manifest", File("m.json"), "--sig",
                     File("cli.sig"), "--trust", File("ca.pem")});
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  const json v = json::parse(verify.out);
  EXPECT_EQ(v["signer"]["subject"], "CN=release signer");
  EXPECT_EQ(v["deployment"], "plant-a");
  EXPECT_EQ(v["sequence"], 3);
  auto parsed = deploy::ParseManifest(AsBytes(manifest_));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(v["digest"], parsed->digest);
  ASSERT_EQ(v["modules"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& mod = parsed->modules[i];
    EXPECT_EQ(v["modules"][i]["name"], mod.name);
    EXPECT_EQ(v["modules"][i]["image"], mod.image);
    EXPECT_EQ(v["modules"][i]["measurement"],
              HexEncode(deploy::Measure(deploy::FromManifest(mod))));
  }
  // Text output names the same things.
  auto text = Cli({"manifest", "verify", "--manifest", File("m.json"), "--sig", File("cli.sig"),
                   "--trust", File("ca.pem")});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("signer: CN=release signer"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("collector"), std::string::npos) << text.out;

  // Failures: exit 1 with the reason. One byte changed: "plant-a" -> "plant-b".
  std::string changed = manifest_;
  const size_t at = changed.find("plant-a");
  ASSERT_NE(at, std::string::npos);
  changed[at + 6] = 'b';
  WriteText(File("changed.json"), changed);
  auto bad = Cli({"manifest", "verify", "--manifest", File("changed.json"), "--sig",
                  File("cli.sig"), "--trust", File("ca.pem")});
  const std::string err = ExpectOneErrorLine(bad);
  EXPECT_NE(err.find("verify-failed"), std::string::npos) << err;
  auto foreign = Cli({"manifest", "verify", "--manifest", File("m.json"), "--sig", File("cli.sig"),
                      "--trust", File("other-ca.pem")});
  EXPECT_NE(ExpectOneErrorLine(foreign).find("does not chain"), std::string::npos);

  // An invalid manifest is not signed.
  WriteText(File("invalid.json"), R"({"format":"edgetrust-deployment/1"})");
  auto invalid = Cli({"manifest", "sign", "--manifest", File("invalid.json"), "--key",
                      File("signer.key"), "--cert", File("signer.pem"), "--out", File("x.sig")});
  EXPECT_NE(ExpectOneErrorLine(invalid).find("deployment: is missing"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(File("x.sig")));

  for (const char* sub : {"sign", "verify", "reference"}) {
    auto help = Cli({"manifest", sub, "--help"});
    EXPECT_EQ(help.exit_code, 0) << sub;
    EXPECT_NE(help.out.find("--manifest"), std::string::npos) << sub;
  }
}

TEST_F(ManifestCliTest, CliSignWithSecureDomainKeyAndDefaultTrust) {
  StartSd();
  ASSERT_EQ(Cli({"key", "create", "release", "--type", "ecdsa-p256"}).exit_code, 0);
  auto pub = Cli({"key", "public", "release"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  // A certificate for the secure-domain key, issued by the CA with the OpenSSL API.
  BioPtr pub_bio(BIO_new_mem_buf(pub.out.data(), static_cast<int>(pub.out.size())));
  EvpPkeyPtr pub_key(PEM_read_bio_PUBKEY(pub_bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(pub_key) << pub.out;
  BioPtr ca_key_bio(BIO_new_file(File("ca.key").c_str(), "r"));
  EvpPkeyPtr ca_key(PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(ca_key);
  auto ca = Certs("ca.pem");
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 77);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("sd signer"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca[0].get()));
  X509_set_pubkey(cert.get(), pub_key.get());
  ASSERT_GT(X509_sign(cert.get(), ca_key.get(), EVP_sha256()), 0);
  WriteText(File("sd-signer.pem"), identity::ToPem(cert.get()));

  auto sign = Cli({"manifest", "sign", "--manifest", File("m.json"), "--key", "edgetrust:release",
                   "--cert", File("sd-signer.pem"), "--out", File("sd.sig")});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  auto r = OpensslVerify(File("sd.sig"), File("m.json"), File("ca.pem"));
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // Default trust: the device's deployment bundle.
  const std::string cert_dir = File("certs");
  auto no_bundle = Cli({"manifest", "verify", "--manifest", File("m.json"), "--sig", File("sd.sig"),
                        "--cert-dir", cert_dir});
  const std::string no_bundle_err = ExpectOneErrorLine(no_bundle);
  EXPECT_NE(no_bundle_err.find("no certificate folder"), std::string::npos) << no_bundle_err;
  auto add =
      Cli({"trust", "add", "--cert-dir", cert_dir, "--purpose", "deployment", File("ca.pem")});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  ASSERT_EQ(Cli({"trust", "remove", "--cert-dir", cert_dir, "--purpose", "deployment", "--all"})
                .exit_code,
            0);
  auto empty = Cli({"manifest", "verify", "--manifest", File("m.json"), "--sig", File("sd.sig"),
                    "--cert-dir", cert_dir});
  const std::string empty_err = ExpectOneErrorLine(empty);
  EXPECT_NE(empty_err.find("trust bundle is empty"), std::string::npos) << empty_err;
  // A bundle edited behind edgetrust's back is refused as tampered.
  add = Cli({"trust", "add", "--cert-dir", cert_dir, "--purpose", "deployment", File("ca.pem")});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  const std::string bundle = cert_dir + "/trust/deployment.pem";
  const std::string original = ReadText(bundle);
  WriteText(bundle, original + ReadText(File("other-ca.pem")));
  auto tampered = Cli({"manifest", "verify", "--manifest", File("m.json"), "--sig", File("sd.sig"),
                       "--cert-dir", cert_dir});
  EXPECT_NE(ExpectOneErrorLine(tampered).find("tampered"), std::string::npos);
  WriteText(bundle, original);
  auto verify = Cli({"manifest", "verify", "--manifest", File("m.json"), "--sig", File("sd.sig"),
                     "--cert-dir", cert_dir});
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.out.find("signer: CN=sd signer"), std::string::npos) << verify.out;
}

TEST_F(ManifestCliTest, ReferenceValuesWithVerifyEvidence) {
  StartSd();
  auto ref = Cli({"--json", "manifest", "reference", "--manifest", File("m.json"),
                  "--allow-emulated", "--max-age", "600"});
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const json reference = json::parse(ref.out);
  WriteText(File("ref.json"), reference.dump());
  EXPECT_EQ(reference["exclusive_registers"], json::array({2}));
  EXPECT_EQ(reference["allow_emulated"], true);
  EXPECT_EQ(reference["max_age_seconds"], 600);
  ASSERT_EQ(reference["events"].size(), 3u);
  // The manifest event is SHA-256 of the exact file, recomputed by openssl.
  auto dgst = RunCommand({"openssl", "dgst", "-sha256", "-r", File("m.json")});
  ASSERT_EQ(dgst.exit_code, 0);
  EXPECT_EQ(reference["events"][0]["digest"], dgst.out.substr(0, 64));
  for (const auto& e : reference["events"]) {
    EXPECT_EQ(e["register"], 2);
    EXPECT_FALSE(e.contains("event"));  // descriptions are not pinned
  }

  // Extend register 2 as a deployment does, with the shared description formatters.
  auto parsed = deploy::ParseManifest(AsBytes(manifest_));
  ASSERT_TRUE(parsed.ok());
  auto extend = [&](const std::string& digest_hex, const std::string& event) {
    auto r = Cli({"measure", "extend", "2", "--digest", digest_hex, "--event", event});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  extend(parsed->digest, deploy::DeploymentEventText(*parsed));
  for (const auto& mod : parsed->modules) {
    const auto config = deploy::FromManifest(mod);
    extend(HexEncode(deploy::Measure(config)), deploy::ModuleEventText(config));
  }
  // A remediation re-extends a module with another description: still matches.
  extend(HexEncode(deploy::Measure(deploy::FromManifest(parsed->modules[0]))),
         "module collector restarted");

  auto appraise = [&]() {
    const std::string nonce = "00112233445566778899aabbccddeeff";
    EXPECT_EQ(Cli({"attest", "--nonce", nonce, "--out", File("ev.cbor")}).exit_code, 0);
    EXPECT_EQ(Cli({"attest", "key", "--out", File("attest.pem")}).exit_code, 0);
    EXPECT_EQ(Cli({"measure", "log", "--out", File("log.json")}).exit_code, 0);
    return Cli({"verify-evidence", "--evidence", File("ev.cbor"), "--key", File("attest.pem"),
                "--nonce", nonce, "--log", File("log.json"), "--reference", File("ref.json")});
  };
  auto pass = appraise();
  EXPECT_EQ(pass.exit_code, 0) << pass.out << pass.err;
  EXPECT_NE(pass.out.find("PASS"), std::string::npos) << pass.out;

  // Anything else extended into register 2 fails the appraisal, naming the event.
  extend(std::string(64, 'e'), "module intruder image sha256:eee");
  auto fail = appraise();
  EXPECT_EQ(fail.exit_code, 1) << fail.out << fail.err;
  EXPECT_NE(fail.out.find("is not in the reference"), std::string::npos) << fail.out;
  EXPECT_NE(fail.out.find(std::string(64, 'e')), std::string::npos) << fail.out;
}

}  // namespace
}  // namespace edgetrust::test
