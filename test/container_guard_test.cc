// The container guard end to end, in process, against a real dockerd and the real edgetrust-sd:
// signed deployments, measurement into register 2, the four injections of the acceptance list
// detected and remediated (the recreated container runs the pinned image without the malware),
// enforce mode refusing the exec, refusals of bad manifests, quarantine, crash loops, layer
// tampering on the host's disk, and evidence that verifies until a container is started by hand.
// Manifests are signed with the openssl CLI (`openssl cms -sign`), evidence is checked with
// `edgetrust verify-evidence`, images are built offline from busybox-static.
#include "guard/container_guard.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "docker/engine.h"
#include "dockerd.h"
#include "harness.h"
#include "identity/certificate.h"

namespace edgetrust::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The image every module here runs: busybox and one real file of our own, /app/tool.
constexpr char kToolScript[] = "#!/bin/sh\necho tool ok\n";

// Events the guard reported, waited for by predicate.
class Reports {
 public:
  void Add(const json& e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
    }
    cv_.notify_all();
  }
  // The first event after index `from` matching `pred`, waiting up to `limit` (a generous bound
  // that only stops a hung test; nothing is measured by it).
  std::optional<json> Wait(const std::function<bool(const json&)>& pred, size_t from = 0,
                           std::chrono::seconds limit = 60s) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<json> found;
    cv_.wait_for(lock, limit, [&] {
      for (size_t i = from; i < events_.size(); ++i) {
        if (pred(events_[i])) {
          found = events_[i];
          return true;
        }
      }
      return false;
    });
    return found;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }
  std::vector<json> Since(size_t from) {
    std::lock_guard<std::mutex> lock(mu_);
    return {events_.begin() + static_cast<std::ptrdiff_t>(std::min(from, events_.size())),
            events_.end()};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json> events_;
};

std::function<bool(const json&)> Is(const std::string& event, const std::string& module = "") {
  return [event, module](const json& e) {
    return e.value("event", "") == event && (module.empty() || e.value("module", "") == module);
  };
}

class ContainerGuardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string why;
    dockerd_ = DockerdProcess::Shared(&why);
    if (dockerd_ == nullptr) {
      skip_reason_ = new std::string("no Docker engine: " + why);
      return;
    }
    std::string err;
    image_ = new std::string(
        dockerd_->BuildBusyboxImage("edgetrust-guard-test:1", {{"/app/tool", kToolScript}}, &err));
    ASSERT_FALSE(image_->empty()) << err;
    other_image_ = new std::string(dockerd_->BuildBusyboxImage(
        "edgetrust-guard-test:other", {{"/app/tool", "#!/bin/sh\necho other\n"}}, &err));
    ASSERT_FALSE(other_image_->empty()) << err;
  }

  void SetUp() override {
    if (skip_reason_ != nullptr) GTEST_SKIP() << *skip_reason_;
    dockerd_->RemoveAllContainers();
    // The guard (this process, uid 0) measures containers into register 2, which by default
    // only admins may extend.
    SdProcess::Options so;
    so.config_text =
        "[[policy.register]]\nindex = 2\nextenders = [\"uid:" + std::to_string(::getuid()) +
        "\"]\n";
    sd_ = std::make_unique<SdProcess>(dir_, so);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    MakeSigner("signer", "ca");
    MakeSigner("rogue", "rogue-ca");
    docker::EngineOptions eo;
    eo.socket_path = dockerd_->socket();
    auto engine = docker::ConnectDockerEngine(eo);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    StartGuard();
  }

  void TearDown() override {
    if (guard_) guard_->Stop();
    guard_.reset();
    if (dockerd_ != nullptr) dockerd_->RemoveAllContainers();
  }

  void StartGuard() {
    guard::GuardOptions go;
    go.state_dir = dir_.File("guard");
    go.sd_socket = sd_->socket();
    go.sd_socket_dir = dir_.path() + "/run";
    go.image_dir = dir_.path();
    guard::GuardDeps deps;
    deps.engine = engine_.get();
    const std::string ca = dir_.File("ca.pem");
    deps.deployment_trust = [ca]() -> Result<std::vector<X509Ptr>> {
      return identity::ParseCertificates(ReadText(ca), "deployment CA");
    };
    deps.report = [this](const json& e) { reports_.Add(e); };
    auto g = guard::ContainerGuard::Start(go, deps);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    guard_ = std::move(g).value();
  }

  std::string F(const std::string& name) const { return dir_.File(name); }

  void Openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A CA `ca` and a signing certificate `name` issued by it, with the openssl CLI.
  void MakeSigner(const std::string& name, const std::string& ca) {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", F(ca + ".key"), "-out", F(ca + ".pem"), "-days", "30", "-subj", "/CN=" + ca,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign"});
    Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             F(name + ".key"), "-out", F(name + ".csr"), "-subj", "/CN=" + name + " deployments"});
    WriteText(F(name + ".ext"), "keyUsage=critical,digitalSignature\n");
    Openssl({"x509", "-req", "-in", F(name + ".csr"), "-CA", F(ca + ".pem"), "-CAkey",
             F(ca + ".key"), "-CAcreateserial", "-out", F(name + ".pem"), "-days", "30", "-extfile",
             F(name + ".ext")});
  }

  // A module as the manifest lists it; tests adjust the fields they need.
  static json Module(const std::string& name) {
    return {{"name", name},
            {"image", *image_},
            {"command", {"/bin/sh", "-c", "while true; do sleep 1; done"}},
            {"read_only_rootfs", false},
            {"writable",
             {{{"path", "/data"}, {"type", "tmpfs"}, {"size_mb", 8}},
              {{"path", "/var/lib/app"}, {"type", "volume"}, {"volume", "guard-test-" + name}}}},
            {"integrity", {{"mode", "detect"}}},
            {"remediation", {{"action", "restart"}, {"backoff_initial_ms", 100}}}};
  }

  std::string WriteManifest(const std::string& file, uint64_t sequence,
                            const std::vector<json>& modules) {
    const json m = {{"format", "edgetrust-deployment/1"},
                    {"deployment", "guard-test"},
                    {"sequence", sequence},
                    {"created", "2026-12-02T10:00:00Z"},
                    {"modules", modules}};
    WriteText(F(file), m.dump(2));
    return F(file);
  }

  std::string Sign(const std::string& manifest, const std::string& signer = "signer") {
    const std::string sig = manifest + ".sig";
    Openssl({"cms", "-sign", "-binary", "-outform", "DER", "-in", manifest, "-signer",
             F(signer + ".pem"), "-inkey", F(signer + ".key"), "-out", sig});
    return sig;
  }

  static Bytes Bin(const std::string& path) {
    const std::string text = ReadText(path);
    return Bytes(text.begin(), text.end());
  }

  Result<json> Deploy(const std::string& manifest, const std::string& sig) {
    return guard_->Deploy(Bin(manifest), Bin(sig), dir_.path(), "test");
  }

  // Deploys `modules` at `sequence` and waits until each runs.
  json DeployOk(uint64_t sequence, const std::vector<json>& modules) {
    const std::string m =
        WriteManifest("m" + std::to_string(sequence) + ".json", sequence, modules);
    auto r = Deploy(m, Sign(m));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    EXPECT_TRUE((*r)["failed"].empty()) << r->dump(2);
    return *r;
  }

  json ModuleState(const std::string& name) {
    const json all = guard_->Modules();
    for (const auto& m : all.at("modules")) {
      if (m.at("name") == name) return m;
    }
    return json::object();
  }

  std::string ContainerOf(const std::string& name) {
    return ModuleState(name).value("container", "");
  }

  DockerdProcess::Run Exec(const std::string& container, const std::string& script) {
    return dockerd_->Docker({"exec", container, "/bin/sh", "-c", script});
  }

  // Waits for the module's remediation after `from` and checks the recreated container: a new
  // id, running the pinned image, without `malware_path`.
  void ExpectRemediated(const std::string& module, const std::string& old_id, size_t from,
                        const std::string& malware_path) {
    auto done = reports_.Wait(Is("remediated", module), from);
    ASSERT_TRUE(done.has_value()) << "no remediation";
    EXPECT_EQ((*done)["old_container"], old_id);
    const std::string id = (*done)["container"];
    EXPECT_NE(id, old_id);
    auto info = engine_->InspectContainer(id);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_TRUE(info->state.running);
    EXPECT_EQ(info->image, *image_);
    EXPECT_NE(Exec(id, "test -e " + malware_path).code, 0) << malware_path << " survived";
    EXPECT_EQ(Exec(id, "/app/tool").out, "tool ok\n");
    EXPECT_EQ(ModuleState(module)["state"], "running");
  }

  json MeasureLog() {
    CommandResult r = RunCli(sd_->socket(), {"measure", "log", "--out", F("log.json")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(ReadText(F("log.json")), nullptr, false);
  }

  static DockerdProcess* dockerd_;
  static std::string* image_;
  static std::string* other_image_;
  static std::string* skip_reason_;
  TempDir dir_;
  std::unique_ptr<SdProcess> sd_;
  std::unique_ptr<docker::ContainerEngine> engine_;
  std::unique_ptr<guard::ContainerGuard> guard_;
  Reports reports_;
};

DockerdProcess* ContainerGuardTest::dockerd_ = nullptr;
std::string* ContainerGuardTest::image_ = nullptr;
std::string* ContainerGuardTest::other_image_ = nullptr;
std::string* ContainerGuardTest::skip_reason_ = nullptr;

TEST_F(ContainerGuardTest, DeploysSignedManifestAndMeasuresWhatRuns) {
  json r = DeployOk(1, {Module("web")});
  ASSERT_EQ(r["modules"].size(), 1u);
  const json web = ModuleState("web");
  EXPECT_EQ(web["state"], "running");
  EXPECT_TRUE(web["config_matches"].get<bool>()) << web.dump(2);
  EXPECT_EQ(web["measurement"], web["expected_measurement"]);

  // The engine runs the pinned image with the hardening the manifest implies.
  auto info = engine_->InspectContainer(web["container"]);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->image, *image_);
  EXPECT_EQ(info->network_mode, "none");
  EXPECT_EQ(info->cap_drop, std::vector<std::string>{"ALL"});

  // Register 2 holds the manifest's digest and the module's measurement, in that order.
  const json log = MeasureLog();
  std::vector<std::string> reg2;
  for (const auto& e : log) {
    if (e["register"] == 2) reg2.push_back(e["digest"]);
  }
  ASSERT_EQ(reg2.size(), 2u) << log.dump(2);
  EXPECT_EQ(reg2[1], web["measurement"]);
  EXPECT_EQ(reg2[0], r["digest"]);
  EXPECT_TRUE(reports_.Wait(Is("deployment-accepted")).has_value());
}

TEST_F(ContainerGuardTest, NewExecutableRunViaDockerExecIsDetectedAndRemediated) {
  DeployOk(1, {Module("web")});
  const std::string old = ContainerOf("web");
  const size_t from = reports_.size();
  Exec(old,
       "printf '#!/bin/sh\\necho pwned\\n' > /bin/evil; chmod +x /bin/evil; "
       "/bin/evil");
  auto v = reports_.Wait(
      [](const json& e) { return Is("violation", "web")(e) && e["path"] == "/bin/evil"; }, from);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["container"], old);
  // The write and the exec of one file may reach the guard as one merged kernel event.
  EXPECT_TRUE((*v)["kind"] == "write" || (*v)["kind"] == "exec") << v->dump();
  EXPECT_EQ((*v)["sha256"].get<std::string>().size(), 64u);
  ExpectRemediated("web", old, from, "/bin/evil");
}

TEST_F(ContainerGuardTest, OverwrittenImageBinaryIsDetectedAndRemediated) {
  DeployOk(1, {Module("web")});
  const std::string old = ContainerOf("web");
  const size_t from = reports_.size();
  Exec(old, "printf '#!/bin/sh\\necho trojan\\n' > /app/tool");
  auto v = reports_.Wait(
      [](const json& e) { return Is("violation", "web")(e) && e["path"] == "/app/tool"; }, from);
  ASSERT_TRUE(v.has_value());
  // The hash is of what was written.
  CommandResult sha = RunCommand({"sha256sum"}, "#!/bin/sh\necho trojan\n");
  EXPECT_EQ((*v)["sha256"], sha.out.substr(0, 64));
  auto done = reports_.Wait(Is("remediated", "web"), from);
  ASSERT_TRUE(done.has_value());
  // The recreated module has the image's own /app/tool again.
  EXPECT_EQ(Exec((*done)["container"], "/app/tool").out, "tool ok\n");
}

TEST_F(ContainerGuardTest, FileDroppedWithDockerCpIsDetectedAndRemediated) {
  DeployOk(1, {Module("web")});
  const std::string old = ContainerOf("web");
  const size_t from = reports_.size();
  WriteText(F("dropped"), "payload\n");
  DockerdProcess::Run cp = dockerd_->Docker({"cp", F("dropped"), old + ":/etc/dropped"});
  ASSERT_EQ(cp.code, 0) << cp.err;
  auto v = reports_.Wait(
      [](const json& e) { return Is("violation", "web")(e) && e["path"] == "/etc/dropped"; }, from);
  ASSERT_TRUE(v.has_value());
  ExpectRemediated("web", old, from, "/etc/dropped");
}

TEST_F(ContainerGuardTest, WriteUnderProtectedPathIsDetectedButDeclaredPathsAreNot) {
  DeployOk(1, {Module("web")});
  const std::string old = ContainerOf("web");
  const size_t from = reports_.size();
  // The declared tmpfs and volume first, then a protected path: the first violation must be the
  // protected one (fanotify reports in order, so a false positive would come first).
  ASSERT_EQ(
      Exec(old, "echo a > /data/ok && echo b > /var/lib/app/ok && echo c > /tmp/../data/x").code,
      0);
  Exec(old, "echo owned > /etc/motd");
  auto v = reports_.Wait(Is("violation", "web"), from);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["path"], "/etc/motd");
  // The writer is named when it is still there to be asked (a short-lived shell may not be).
  EXPECT_GT((*v)["pid"].get<int64_t>(), 0) << v->dump();
  EXPECT_FALSE((*v)["process"].get<std::string>().empty()) << v->dump();
  ExpectRemediated("web", old, from, "/etc/motd");
  // The named volume survived the recreation; the tmpfs did not.
  const std::string fresh = ContainerOf("web");
  EXPECT_EQ(Exec(fresh, "cat /var/lib/app/ok").out, "b\n");
  EXPECT_NE(Exec(fresh, "test -e /data/ok").code, 0);
}

TEST_F(ContainerGuardTest, EnforceRefusesTheInjectedExecAndKeepsImageBinariesRunning) {
  json mod = Module("vault");
  mod["integrity"] = {{"mode", "enforce"}};
  mod["remediation"] = {{"action", "alert"}};
  DeployOk(1, {mod});
  const std::string id = ContainerOf("vault");
  const size_t from = reports_.size();
  DockerdProcess::Run run = Exec(
      id, "mkdir -p /usr/local && cp /bin/busybox /usr/local/evil && /usr/local/evil echo ran");
  EXPECT_NE(run.code, 0);
  EXPECT_EQ(run.out.find("ran"), std::string::npos) << "the injected binary ran";
  EXPECT_NE(run.err.find("not permitted"), std::string::npos) << run.err;
  auto v = reports_.Wait(
      [](const json& e) {
        return Is("violation", "vault")(e) && e["kind"] == "exec" && e["denied"] == true;
      },
      from);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["path"], "/usr/local/evil");
  // The image's own binaries still run, and the module is still the same container (alert).
  EXPECT_EQ(Exec(id, "/app/tool").out, "tool ok\n");
  EXPECT_EQ(Exec(id, "/bin/busybox echo fine").out, "fine\n");
  EXPECT_EQ(ContainerOf("vault"), id);
}

TEST_F(ContainerGuardTest, RefusesBadManifestsAndLeavesTheRunningDeploymentAlone) {
  DeployOk(2, {Module("web")});
  const std::string running = ContainerOf("web");

  const std::string m3 = WriteManifest("m3.json", 3, {Module("web")});
  // Unsigned (garbage signature), signed by a CA the device does not trust, edited after signing.
  WriteText(F("garbage.sig"), "not a signature");
  auto r = Deploy(m3, F("garbage.sig"));
  ASSERT_FALSE(r.ok());
  r = Deploy(m3, Sign(m3, "rogue"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kVerifyFailed) << r.status().ToString();
  const std::string sig3 = Sign(m3);
  WriteText(m3, ReadText(m3) + " ");
  r = Deploy(m3, sig3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kVerifyFailed);

  // A replayed older manifest, and the same sequence again.
  const std::string m1 = WriteManifest("m1.json", 1, {Module("web")});
  r = Deploy(m1, Sign(m1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not newer"), std::string::npos) << r.status().ToString();
  const std::string m2 = WriteManifest("m2-again.json", 2, {Module("web")});
  EXPECT_FALSE(Deploy(m2, Sign(m2)).ok());

  // An image whose digest does not match: the archive holds another image than the pinned one.
  ASSERT_TRUE(dockerd_->SaveImage(*other_image_, F("other.tar")));
  json wrong = Module("wrong");
  wrong["image"] = "sha256:" + std::string(64, 'a');
  wrong["archive"] = "other.tar";
  const std::string m4 = WriteManifest("m4.json", 4, {Module("web"), wrong});
  r = Deploy(m4, Sign(m4));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kVerifyFailed) << r.status().ToString();

  // A malformed manifest, correctly signed.
  WriteText(F("bad.json"), "{\"format\": \"edgetrust-deployment/1\", \"modules\": 7}");
  r = Deploy(F("bad.json"), Sign(F("bad.json")));
  ASSERT_FALSE(r.ok());

  // Nothing of that touched the running module, and every refusal was reported.
  EXPECT_EQ(ContainerOf("web"), running);
  EXPECT_EQ(guard_->Modules()["deployment"]["sequence"], 2);
  size_t refused = 0;
  for (const auto& e : reports_.Since(0)) refused += e["event"] == "deployment-refused";
  EXPECT_EQ(refused, 7u);
  // The accepted sequence was not consumed by any refusal: 3 is still acceptable.
  const std::string m3b = WriteManifest("m3b.json", 3, {Module("web")});
  EXPECT_TRUE(Deploy(m3b, Sign(m3b)).ok());
}

TEST_F(ContainerGuardTest, ImageLoadedFromArchiveMustMatchItsPin) {
  ASSERT_TRUE(dockerd_->SaveImage(*other_image_, F("other.tar")));
  ASSERT_EQ(dockerd_->Docker({"rmi", "-f", *other_image_}).code, 0);
  json mod = Module("offline");
  mod["image"] = *other_image_;
  mod["archive"] = "other.tar";
  DeployOk(1, {mod});
  EXPECT_EQ(ModuleState("offline")["state"], "running");
  auto info = engine_->InspectContainer(ContainerOf("offline"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->image, *other_image_);
}

TEST_F(ContainerGuardTest, QuarantineKeepsTheWritableLayerForForensics) {
  json mod = Module("lab");
  mod["remediation"] = {{"action", "quarantine"}};
  DeployOk(1, {mod});
  const std::string old = ContainerOf("lab");
  const size_t from = reports_.size();
  Exec(old, "echo 'stolen data' > /root-kit.txt");
  auto done = reports_.Wait(Is("remediated", "lab"), from);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ((*done)["action"], "quarantine");
  const std::string folder = (*done)["quarantine"]["folder"];
  EXPECT_EQ(ReadText(folder + "/upper/root-kit.txt"), "stolen data\n");
  const json record = json::parse(ReadText(folder + "/violation.json"), nullptr, false);
  EXPECT_EQ(record["container"], old);
  EXPECT_NE((*done)["container"], old);
  EXPECT_EQ(dockerd_->Docker({"inspect", old}).code, 1) << "the quarantined container is gone";
}

TEST_F(ContainerGuardTest, CrashLoopBacksOffAndGivesUpAtTheCap) {
  json mod = Module("flaky");
  mod["command"] = {"/bin/sh", "-c", "sleep 1; exit 3"};
  mod["remediation"] = {{"action", "restart"},
                        {"max_restarts", 3},
                        {"window_seconds", 600},
                        {"backoff_initial_ms", 100},
                        {"backoff_max_ms", 400}};
  const std::string m = WriteManifest("m1.json", 1, {mod});
  ASSERT_TRUE(Deploy(m, Sign(m)).ok());
  auto failed = reports_.Wait(Is("module-failed", "flaky"));
  ASSERT_TRUE(failed.has_value());
  size_t exits = 0, delayed = 0;
  for (const auto& e : reports_.Since(0)) {
    exits += e["event"] == "module-exited";
    delayed += e["event"] == "remediation-delayed";
  }
  EXPECT_EQ(exits, 4u);  // the first run and three recreations
  EXPECT_GE(delayed, 2u);
  EXPECT_EQ(ModuleState("flaky")["state"], "failed");
}

TEST_F(ContainerGuardTest, NormalRestartIsNoViolation) {
  DeployOk(1, {Module("web")});
  const std::string id = ContainerOf("web");
  const size_t from = reports_.size();
  ASSERT_EQ(dockerd_->Docker({"restart", "-t", "1", id}).code, 0);
  // The restarted container is watched again, as the same module; then a real injection is the
  // first violation seen.
  ASSERT_TRUE(reports_.Wait(Is("module-started", "web"), from).has_value());
  EXPECT_EQ(ContainerOf("web"), id);
  Exec(id, "echo x > /etc/after-restart");
  auto v = reports_.Wait(Is("violation", "web"), from);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["path"], "/etc/after-restart");
}

TEST_F(ContainerGuardTest, LayerTamperingOnTheHostIsDetected) {
  json mod = Module("web");
  mod["integrity"] = {{"mode", "detect"}, {"layer_check_seconds", 1}};
  mod["remediation"] = {{"action", "alert"}};
  DeployOk(1, {mod});
  auto image = engine_->InspectImage(*image_);
  ASSERT_TRUE(image.ok());
  const std::string tool = image->upper_dir + "/app/tool";
  const std::string original = ReadText(tool);
  WriteText(tool, "#!/bin/sh\necho tampered on disk\n");
  auto v = reports_.Wait(
      [](const json& e) { return Is("violation", "web")(e) && e["kind"] == "layer"; });
  WriteText(tool, original);  // the image is shared by the other tests
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["path"], "/app/tool");
}

TEST_F(ContainerGuardTest, EvidenceVerifiesUntilAContainerIsStartedByHand) {
  DeployOk(1, {Module("web")});
  const std::string manifest = F("m1.json");
  CommandResult ref =
      RunCli(sd_->socket(), {"manifest", "reference", "--manifest", manifest, "--allow-emulated"});
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  WriteText(F("reference.json"), ref.out);
  const std::string nonce = "00112233445566778899aabbccddeeff";
  auto verify = [&](const std::string& tag) {
    CommandResult a =
        RunCli(sd_->socket(), {"attest", "--nonce", nonce, "--out", F(tag + ".cbor")});
    EXPECT_EQ(a.exit_code, 0) << a.err;
    CommandResult k = RunCli(sd_->socket(), {"attest", "key", "--out", F("ak.pem")});
    EXPECT_EQ(k.exit_code, 0) << k.err;
    CommandResult l = RunCli(sd_->socket(), {"measure", "log", "--out", F(tag + ".log.json")});
    EXPECT_EQ(l.exit_code, 0) << l.err;
    return RunCommand({CliBinary(), "verify-evidence", "--evidence", F(tag + ".cbor"), "--key",
                       F("ak.pem"), "--nonce", nonce, "--log", F(tag + ".log.json"), "--reference",
                       F("reference.json")});
  };
  CommandResult good = verify("before");
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;

  const size_t from = reports_.size();
  DockerdProcess::Run run = dockerd_->Docker(
      {"run", "-d", "--network", "none", "--name", "by-hand", *image_, "/bin/sleep", "600"});
  ASSERT_EQ(run.code, 0) << run.err;
  ASSERT_TRUE(reports_.Wait(Is("unmanaged-container"), from).has_value());
  CommandResult bad = verify("after");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("not in the reference"), std::string::npos) << bad.out;
}

TEST_F(ContainerGuardTest, AgentRestartAdoptsRunningModulesWithoutFalsePositives) {
  DeployOk(1, {Module("web")});
  const std::string id = ContainerOf("web");
  guard_->Stop();
  guard_.reset();
  StartGuard();
  ASSERT_TRUE(reports_.Wait(Is("deployment-restored")).has_value());
  EXPECT_EQ(ContainerOf("web"), id) << "the running module was recreated, not adopted";
  const size_t from = reports_.size();
  Exec(id, "echo x > /etc/after-adopt");
  auto v = reports_.Wait(Is("violation", "web"), from);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["path"], "/etc/after-adopt");
}

}  // namespace
}  // namespace edgetrust::test
