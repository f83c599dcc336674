#include "guard/container_guard.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <variant>

#include "attest/sha256.h"
#include "common/files.h"
#include "common/hex.h"
#include "common/thread_start.h"
#include "deploy/effective_config.h"
#include "deploy/freshness.h"
#include "deploy/manifest.h"
#include "deploy/signature.h"
#include "docker/engine.h"
#include "edgetrust/attestation.h"
#include "edgetrust/client.h"
#include "guard/guard_events.h"
#include "guard/image_index.h"
#include "guard/inspect_config.h"
#include "guard/module_spec.h"
#include "guard/monitor.h"
#include "guard/quarantine.h"
#include "guard/restart_budget.h"

namespace edgetrust::guard {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Short(const std::string& id) { return id.substr(0, 12); }

// Paths and process names come from inside the container and may be any bytes: never let
// nlohmann throw on invalid UTF-8.
std::string SafeDump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string DigestHex(const Digest256& d) { return HexEncode(ByteView(d.data(), d.size())); }

// The SD keeps descriptions short; ours stay well within its limit.
std::string Clip(std::string s, size_t max = 200) {
  if (s.size() > max) s.resize(max);
  return s;
}

const char* KindName(Violation::Kind k) {
  switch (k) {
    case Violation::kWrite:
      return "write";
    case Violation::kExec:
      return "exec";
    case Violation::kLayer:
      return "layer";
  }
  return "unknown";
}

Status MakeDirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      partial = path.substr(0, i);
      if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
        return Status(ErrorCode::kIoError, "cannot create " + partial + ": " + ErrnoText(errno));
      }
    }
  }
  return Status::Ok();
}

// Work for the worker thread.
struct ViolationItem {
  Violation v;
};
struct DiedItem {
  std::string id;
  int64_t exit_code = 0;
};
struct StartedItem {
  std::string id;
};
struct StreamEndedItem {
  Status why;
};
using WorkItem = std::variant<ViolationItem, DiedItem, StartedItem, StreamEndedItem>;

struct ModuleRuntime {
  explicit ModuleRuntime(deploy::Module m) : spec(std::move(m)), budget(spec.remediation) {}
  deploy::Module spec;
  std::string container_id;
  std::string state = "pending";  // pending, running, remediating, failed, exited, stopped
  std::string measurement;        // hex, of what runs
  std::string expected;           // hex, of what the manifest asks for
  bool config_matches = false;
  std::vector<std::string> differences;
  std::shared_ptr<const ImageIndex> index;
  RestartBudget budget;
  uint64_t violations = 0;
  uint64_t remediations = 0;
  uint64_t crashes = 0;
  int64_t started_ms = 0;
  int64_t last_violation_ms = 0;
  std::string last_error;
  // A recreation waiting for its backoff.
  std::optional<int64_t> due_ms;
  std::string due_reason;
  std::optional<Violation> due_violation;
  int64_t next_layer_check_ms = 0;
  // Violation flood control.
  int64_t window_start_ms = 0;
  uint64_t recorded_in_window = 0;
  uint64_t suppressed = 0;
};

constexpr int64_t kViolationWindowMs = 10'000;
constexpr uint64_t kMaxRecordedViolations = 50;
constexpr size_t kMaxQueuedWork = 10'000;

class GuardImpl final : public ContainerGuard {
 public:
  GuardImpl(GuardOptions options, GuardDeps deps)
      : options_(std::move(options)),
        deps_(std::move(deps)),
        events_(options_.state_dir + "/events.jsonl") {}

  ~GuardImpl() override { Stop(); }

  Status Init() {
    ET_RETURN_IF_ERROR(MakeDirs(options_.state_dir));
    ET_RETURN_IF_ERROR(MakeDirs(options_.state_dir + "/deployment"));
    ET_RETURN_IF_ERROR(MakeDirs(options_.state_dir + "/quarantine"));
    auto sd = Client::Connect(options_.sd_socket);
    if (!sd.ok()) return Status(sd.status().code(), "secure domain: " + sd.status().message());
    sd_ = std::move(sd).value();
    freshness_ = std::make_unique<deploy::Freshness>(*sd_, options_.state_dir + "/deployment");
    auto monitor = Monitor::Start([this](Violation v) { Push(ViolationItem{std::move(v)}); });
    if (!monitor.ok()) {
      return Status(monitor.status().code(), "drift monitor: " + monitor.status().message());
    }
    monitor_ = std::move(monitor).value();
    ET_RETURN_IF_ERROR(StartEventStream());
    worker_ = StartThread([this] { WorkerLoop(); });
    Restore();
    return Status::Ok();
  }

  Result<nlohmann::json> Deploy(ByteView manifest, ByteView signature,
                                const std::string& archive_dir,
                                const std::string& origin) override {
    {
      std::lock_guard<std::mutex> lock(work_mu_);
      if (stopping_) return Status(ErrorCode::kUnavailable, "the container guard is stopping");
    }
    std::lock_guard<std::mutex> op(op_mu_);
    auto result = DeployLocked(manifest, signature,
                               archive_dir.empty() ? options_.image_dir : archive_dir, origin,
                               /*restoring=*/false);
    if (!result.ok()) {
      Record({{"event", "deployment-refused"},
              {"origin", origin},
              {"reason", result.status().ToString()}});
    }
    return result;
  }

  nlohmann::json Modules() override {
    uint64_t dropped = 0;
    {
      std::lock_guard<std::mutex> work_lock(work_mu_);
      dropped = dropped_violations_;
    }
    std::lock_guard<std::mutex> lock(mu_);
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [name, rt] : modules_) {
      list.push_back(ModuleJson(*rt));
    }
    nlohmann::json out = {{"modules", list}};
    if (deployment_) {
      out["deployment"] = {{"name", deployment_->deployment},
                           {"sequence", deployment_->sequence},
                           {"digest", deployment_->digest},
                           {"signer", signer_},
                           {"accepted", accepted_}};
    } else {
      out["deployment"] = nullptr;
    }
    const MonitorStats ms = monitor_ ? monitor_->Stats() : MonitorStats{};
    out["monitor"] = {{"events", ms.events},
                      {"dropped_violations", dropped},
                      {"exec_checks", ms.exec_checks},
                      {"denied", ms.denied},
                      {"violations", ms.violations},
                      {"hash_cache_hits", ms.hash_cache_hits},
                      {"allowed_by_timeout", ms.allowed_by_timeout}};
    return out;
  }

  nlohmann::json Events(size_t limit, const std::string& module) override {
    return events_.Recent(limit, module);
  }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(work_mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    work_cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    if (stream_) stream_->Stop();
    stream_.reset();
    if (monitor_) monitor_->Stop();
  }

 private:
  // ---- recording -------------------------------------------------------------------------

  nlohmann::json Record(nlohmann::json event) {
    nlohmann::json stored = events_.Add(std::move(event));
    const std::string kind = stored.value("event", "");
    if (kind == "violation" || kind == "deployment-refused" || kind == "unmanaged-container" ||
        kind == "module-failed" || kind == "config-mismatch") {
      spdlog::warn("event=container-{} detail={}", kind, SafeDump(stored));
    } else {
      spdlog::info("event=container-{} detail={}", kind, SafeDump(stored));
    }
    if (deps_.report) deps_.report(stored);
    return stored;
  }

  Status Extend(const Digest256& digest, const std::string& description) {
    auto r = sd_->Extend(kRegisterContainers, digest, Clip(description));
    if (!r.ok()) {
      spdlog::error("event=container-extend-failed error=\"{}\"", r.status().ToString());
      return r.status();
    }
    measured_.insert(DigestHex(digest));
    return Status::Ok();
  }

  nlohmann::json ModuleJson(const ModuleRuntime& rt) const {
    return {{"name", rt.spec.name},
            {"container", rt.container_id},
            {"image", rt.spec.image},
            {"state", rt.state},
            {"integrity", rt.spec.integrity.mode},
            {"remediation", rt.spec.remediation.action},
            {"measurement", rt.measurement},
            {"expected_measurement", rt.expected},
            {"config_matches", rt.config_matches},
            {"differences", rt.differences},
            {"violations", rt.violations},
            {"remediations", rt.remediations},
            {"crashes", rt.crashes},
            {"started_ms", rt.started_ms},
            {"last_violation_ms", rt.last_violation_ms},
            {"last_error", rt.last_error}};
  }

  // ---- deployment -------------------------------------------------------------------------

  Result<nlohmann::json> DeployLocked(ByteView manifest_bytes, ByteView signature,
                                      const std::string& archive_dir, const std::string& origin,
                                      bool restoring) {
    if (manifest_bytes.size() > deploy::kMaxManifestBytes) {
      return Status(ErrorCode::kTooLarge, "manifest larger than 1 MiB");
    }
    if (signature.size() > deploy::kMaxSignatureBytes) {
      return Status(ErrorCode::kTooLarge, "signature larger than 64 KiB");
    }
    if (!deps_.deployment_trust) {
      return Status(ErrorCode::kFailedPrecondition, "no deployment trust bundle source");
    }
    ET_ASSIGN_OR_RETURN(std::vector<X509Ptr> trusted, deps_.deployment_trust());
    if (trusted.empty()) {
      return Status(ErrorCode::kFailedPrecondition,
                    "the deployment trust bundle is empty (edgetrust trust add deployment ...)");
    }
    ET_ASSIGN_OR_RETURN(deploy::SignerInfo signer,
                        deploy::VerifyManifestSignature(manifest_bytes, signature, trusted));
    ET_ASSIGN_OR_RETURN(deploy::Manifest m, deploy::ParseManifest(manifest_bytes));
    if (!restoring) {
      ET_RETURN_IF_ERROR(freshness_->Check(m.sequence));
    } else {
      ET_ASSIGN_OR_RETURN(uint64_t last, freshness_->LastAccepted());
      if (last != m.sequence) {
        return Status(ErrorCode::kFailedPrecondition,
                      "the stored deployment (sequence " + std::to_string(m.sequence) +
                          ") is not the last accepted one (" + std::to_string(last) + ")");
      }
    }
    // Every image present with its pinned id before anything running changes.
    for (const auto& mod : m.modules) {
      ET_RETURN_IF_ERROR(EnsureImage(mod, archive_dir));
    }
    // The deployment is recorded in the secure domain before it is accepted: a gateway that
    // cannot measure what it runs must not run it.
    const Digest256 manifest_digest = deploy::ManifestDigest(m);
    if (!restoring || !measured_.count(DigestHex(manifest_digest))) {
      Status st = Extend(manifest_digest, deploy::DeploymentEventText(m));
      if (!st.ok()) {
        return Status(st.code(), "cannot measure the deployment into register 2: " + st.message() +
                                     " (the agent's principal needs the right to extend it: "
                                     "docs/policy.md)");
      }
    }
    if (!restoring) {
      // The new manifest is on disk before its sequence is accepted, and takes the place of the
      // old one right after: a crash or a full disk cannot leave an accepted sequence whose
      // manifest is missing (a restart then verifies and restores whichever pair is in place).
      const std::string dir = options_.state_dir + "/deployment";
      ET_RETURN_IF_ERROR(
          WriteFileAtomic(dir + "/manifest.json.new", manifest_bytes, 0600, WriteMode::kReplace));
      ET_RETURN_IF_ERROR(
          WriteFileAtomic(dir + "/manifest.sig.new", signature, 0600, WriteMode::kReplace));
      ET_RETURN_IF_ERROR(
          WriteFileAtomic(dir + "/archive_dir", AsBytes(archive_dir), 0600, WriteMode::kReplace));
      ET_RETURN_IF_ERROR(freshness_->Accept(m.sequence, m.digest));
      for (const char* name : {"/manifest.json", "/manifest.sig"}) {
        if (std::rename((dir + name + ".new").c_str(), (dir + name).c_str()) != 0) {
          return Status(ErrorCode::kIoError,
                        "cannot put " + dir + name + " in place: " + ErrnoText(errno));
        }
      }
      ET_RETURN_IF_ERROR(FsyncDir(dir));
      archive_dir_ = archive_dir;
    }

    // Modules of the old deployment that the new one drops are removed.
    std::map<std::string, std::unique_ptr<ModuleRuntime>> old;
    {
      std::lock_guard<std::mutex> lock(mu_);
      old.swap(modules_);
    }
    std::set<std::string> kept;
    for (const auto& mod : m.modules) kept.insert(mod.name);
    for (auto& [name, rt] : old) {
      if (kept.count(name)) continue;
      monitor_->Unwatch(name);
      if (!rt->container_id.empty()) RemoveContainer(rt->container_id);
      Record({{"event", "module-removed"}, {"module", name}, {"container", rt->container_id}});
    }

    {
      std::lock_guard<std::mutex> lock(mu_);
      deployment_ = m;
      signer_ = signer.subject;
      accepted_ = Rfc3339Ms(NowMs());
      for (const auto& mod : m.modules) {
        modules_[mod.name] = std::make_unique<ModuleRuntime>(mod);
      }
    }
    nlohmann::json result_modules = nlohmann::json::array();
    nlohmann::json failed = nlohmann::json::array();
    for (const auto& mod : m.modules) {
      ModuleRuntime* rt = Find(mod.name);
      Status st = restoring ? AdoptOrStart(*rt) : StartModule(*rt, "deployed");
      if (!st.ok()) {
        failed.push_back({{"module", mod.name}, {"error", st.ToString()}});
        std::lock_guard<std::mutex> lock(mu_);
        rt->state = "failed";
        rt->last_error = st.ToString();
      }
      std::lock_guard<std::mutex> lock(mu_);
      result_modules.push_back(ModuleJson(*rt));
    }
    nlohmann::json out = {{"deployment", m.deployment}, {"sequence", m.sequence},
                          {"digest", m.digest},         {"signer", signer.subject},
                          {"modules", result_modules},  {"failed", failed}};
    Record({{"event", restoring ? "deployment-restored" : "deployment-accepted"},
            {"origin", origin},
            {"deployment", m.deployment},
            {"sequence", m.sequence},
            {"digest", m.digest},
            {"signer", signer.subject},
            {"modules", m.modules.size()},
            {"failed", failed.size()}});
    return out;
  }

  Status EnsureImage(const deploy::Module& mod, const std::string& archive_dir) {
    auto info = deps_.engine->InspectImage(mod.image);
    if (info.ok()) return CheckImageId(mod, *info);
    if (info.status().code() != ErrorCode::kNotFound) return info.status();
    if (!mod.archive.empty()) {
      const std::string path = archive_dir + "/" + mod.archive;
      auto loaded = deps_.engine->LoadImage(path);
      if (!loaded.ok()) {
        return Status(loaded.status().code(), "module " + mod.name + ": loading " + path + ": " +
                                                  loaded.status().message());
      }
      auto after = deps_.engine->InspectImage(mod.image);
      if (!after.ok()) {
        std::string got;
        for (const auto& l : *loaded) got += (got.empty() ? "" : ", ") + l;
        return Status(ErrorCode::kVerifyFailed, "module " + mod.name + ": image archive " +
                                                    mod.archive + " holds " + got +
                                                    ", not the pinned image " + mod.image);
      }
      return CheckImageId(mod, *after);
    }
    if (!mod.registry.empty()) {
      Status pulled = deps_.engine->PullImage(mod.registry);
      if (!pulled.ok()) {
        return Status(pulled.code(),
                      "module " + mod.name + ": pulling " + mod.registry + ": " + pulled.message());
      }
      auto after = deps_.engine->InspectImage(mod.registry);
      if (!after.ok()) return after.status();
      if (after->id != mod.image) {
        (void)deps_.engine->RemoveImage(mod.registry, true);
        return Status(ErrorCode::kVerifyFailed, "module " + mod.name + ": " + mod.registry +
                                                    " is image " + after->id + ", not the pinned " +
                                                    mod.image);
      }
      return Status::Ok();
    }
    return Status(ErrorCode::kNotFound, "module " + mod.name + ": image " + mod.image +
                                            " is not on this gateway and the manifest gives no "
                                            "archive or registry to get it from");
  }

  static Status CheckImageId(const deploy::Module& mod, const docker::ImageInfo& info) {
    if (info.id != mod.image) {
      return Status(ErrorCode::kVerifyFailed, "module " + mod.name + ": the engine's image is " +
                                                  info.id + ", not the pinned " + mod.image);
    }
    return Status::Ok();
  }

  ModuleRuntime* Find(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = modules_.find(name);
    return it == modules_.end() ? nullptr : it->second.get();
  }

  ModuleRuntime* FindByContainer(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, rt] : modules_) {
      if (!id.empty() && rt->container_id == id) return rt.get();
    }
    return nullptr;
  }

  void RemoveContainer(const std::string& id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Containers removed while stopped never send "die"; the set must not grow forever.
      if (ours_stopping_.size() > 1000) ours_stopping_.clear();
      ours_stopping_.insert(id);
    }
    Status st = deps_.engine->RemoveContainer(id, /*force=*/true, /*volumes=*/true);
    if (!st.ok() && st.code() != ErrorCode::kNotFound) {
      spdlog::warn("event=container-remove-failed container={} error=\"{}\"", Short(id),
                   st.ToString());
    }
  }

  Result<std::shared_ptr<const ImageIndex>> IndexFor(const docker::ImageInfo& image) {
    auto it = indexes_.find(image.id);
    if (it != indexes_.end()) return it->second;
    if (image.graph_driver != "overlay2" || image.upper_dir.empty()) {
      return Status(ErrorCode::kUnsupported, "the engine's storage driver is " +
                                                 image.graph_driver +
                                                 "; drift detection needs overlay2");
    }
    std::vector<std::string> dirs = {image.upper_dir};
    dirs.insert(dirs.end(), image.lower_dirs.begin(), image.lower_dirs.end());
    ET_ASSIGN_OR_RETURN(auto index, ImageIndex::Build(dirs));
    indexes_[image.id] = index;
    return index;
  }

  // Creates, starts, measures and watches the module's container (replacing any container of
  // that name). `why`: "deployed", "restart after ...", for the record.
  Status StartModule(ModuleRuntime& rt, const std::string& why) {
    const std::string name = ContainerName(rt.spec.name);
    if (!rt.container_id.empty()) {
      monitor_->Unwatch(rt.spec.name);
      RemoveContainer(rt.container_id);
    }
    // A leftover container of that name (an agent crash mid-way, a hand-made one) goes too.
    auto existing = deps_.engine->InspectContainer(name);
    if (existing.ok()) RemoveContainer(existing->id);

    if (rt.spec.secure_domain) ET_RETURN_IF_ERROR(CheckSecureDomainFolder());
    const docker::ContainerSpec spec =
        ToContainerSpec(*deployment_, rt.spec, options_.sd_socket_dir);
    ET_ASSIGN_OR_RETURN(std::string id, deps_.engine->CreateContainer(spec));
    {
      std::lock_guard<std::mutex> lock(mu_);
      rt.container_id = id;
      rt.state = "starting";
    }
    ET_RETURN_IF_ERROR(deps_.engine->StartContainer(id));
    return MeasureAndWatch(rt, id, why);
  }

  // The secure domain's socket folder is mounted into modules whole (a bind mount of the socket
  // file itself would go stale when edgetrust-sd restarts): it must hold nothing else, the
  // agent's control socket least of all.
  Status CheckSecureDomainFolder() const {
    const std::string& dir = options_.sd_socket_dir;
    const std::string socket_name =
        options_.sd_socket.empty() ? std::string("sd.sock")
                                   : options_.sd_socket.substr(options_.sd_socket.rfind('/') + 1);
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      return Status(
          ErrorCode::kFailedPrecondition,
          "cannot read the secure domain's socket folder " + dir + ": " + ErrnoText(errno));
    }
    std::string other;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == ".." || name == socket_name) continue;
      other = name;
      break;
    }
    ::closedir(d);
    if (!other.empty()) {
      return Status(ErrorCode::kFailedPrecondition,
                    "modules with secure_domain get the folder " + dir +
                        " mounted, and it also holds " + other +
                        "; give edgetrust-sd's socket a folder of its own (e.g. "
                        "/run/edgetrust/sd/sd.sock)");
    }
    return Status::Ok();
  }

  Status MeasureAndWatch(ModuleRuntime& rt, const std::string& id, const std::string& why) {
    ET_ASSIGN_OR_RETURN(docker::ContainerInfo info, deps_.engine->InspectContainer(id));
    ET_ASSIGN_OR_RETURN(docker::ImageInfo image, deps_.engine->InspectImage(info.image));
    const deploy::EffectiveConfig actual =
        FromInspect(rt.spec.name, info, image, options_.sd_socket_dir, DeclaredEnv(rt.spec));
    const deploy::EffectiveConfig expected = deploy::FromManifest(rt.spec);
    const Digest256 measurement = deploy::Measure(actual);
    {
      std::lock_guard<std::mutex> lock(mu_);
      rt.measurement = DigestHex(measurement);
      rt.expected = DigestHex(deploy::Measure(expected));
      rt.config_matches = actual == expected;
      rt.differences = deploy::Differences(expected, actual);
    }
    if (!rt.config_matches) {
      Record({{"event", "config-mismatch"},
              {"module", rt.spec.name},
              {"container", id},
              {"differences", rt.differences}});
    }
    if (!measured_.count(rt.measurement) || why != "adopted") {
      ET_RETURN_IF_ERROR(
          Extend(measurement, why == "deployed" || why == "adopted"
                                  ? deploy::ModuleEventText(actual)
                                  : "module " + rt.spec.name + " recreated: " + why));
    }
    if (!info.state.running) {
      return Status(ErrorCode::kFailedPrecondition,
                    "container " + Short(id) + " is " + info.state.status + " right after start");
    }
    ET_ASSIGN_OR_RETURN(auto index, IndexFor(image));
    WatchSpec ws;
    ws.module = rt.spec.name;
    ws.container_id = id;
    ws.merged_dir = info.merged_dir;
    ws.upper_dir = info.upper_dir;
    ws.image = std::move(index);
    if (!rt.spec.read_only_rootfs) {
      for (const auto& w : rt.spec.writable) ws.writable_paths.push_back(w.path);
    }
    ws.mode = rt.spec.integrity.mode == "enforce" ? Mode::kEnforce : Mode::kDetect;
    ws.fail = rt.spec.integrity.fail == "open" ? FailPolicy::kOpen : FailPolicy::kClosed;
    ws.answer_timeout = std::chrono::milliseconds(rt.spec.integrity.answer_timeout_ms);
    ET_RETURN_IF_ERROR(monitor_->Watch(ws));
    const int64_t now = NowMs();
    {
      std::lock_guard<std::mutex> lock(mu_);
      rt.state = "running";
      rt.started_ms = now;
      rt.last_error.clear();
      if (rt.spec.integrity.layer_check_seconds > 0 && rt.next_layer_check_ms == 0) {
        rt.next_layer_check_ms = now + int64_t{rt.spec.integrity.layer_check_seconds} * 1000;
      }
    }
    Record({{"event", why == "adopted" ? "module-adopted" : "module-started"},
            {"module", rt.spec.name},
            {"container", id},
            {"image", info.image},
            {"measurement", rt.measurement},
            {"config_matches", rt.config_matches},
            {"reason", why}});
    return Status::Ok();
  }

  // After an agent restart: a running container of the module that runs the pinned image is
  // kept (and watched again); anything else is recreated.
  Status AdoptOrStart(ModuleRuntime& rt) {
    auto info = deps_.engine->InspectContainer(ContainerName(rt.spec.name));
    if (info.ok() && info->state.running && info->image == rt.spec.image &&
        info->labels.count(kLabelManifest) &&
        info->labels.at(kLabelManifest) == deployment_->digest) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        rt.container_id = info->id;
      }
      return MeasureAndWatch(rt, info->id, "adopted");
    }
    return StartModule(rt, "deployed");
  }

  void Restore() {
    const std::string dir = options_.state_dir + "/deployment";
    // A pair left as .new by a crash after its acceptance is the accepted one.
    std::string suffix;
    if (auto fresh = freshness_->LastAccepted(); fresh.ok()) {
      auto pending = ReadFile(dir + "/manifest.json.new", deploy::kMaxManifestBytes);
      if (pending.ok()) {
        auto parsed = deploy::ParseManifest(*pending);
        if (parsed.ok() && parsed->sequence == *fresh) suffix = ".new";
      }
    }
    auto manifest = ReadFile(dir + "/manifest.json" + suffix, deploy::kMaxManifestBytes);
    if (!manifest.ok()) return;  // nothing deployed yet
    auto sig = ReadFile(dir + "/manifest.sig" + suffix, deploy::kMaxSignatureBytes);
    if (!sig.ok()) {
      Record({{"event", "deployment-refused"},
              {"origin", "restore"},
              {"reason", "the stored manifest has no signature: " + sig.status().ToString()}});
      return;
    }
    std::lock_guard<std::mutex> op(op_mu_);
    // What the secure domain already holds (it may have outlived the agent).
    if (auto log = sd_->ReadEventLog(); log.ok()) {
      for (const auto& e : *log) {
        if (e.register_index == kRegisterContainers) measured_.insert(DigestHex(e.digest));
      }
    }
    if (auto saved = ReadFile(dir + "/archive_dir", 4096); saved.ok()) {
      archive_dir_.assign(saved->begin(), saved->end());
    }
    auto r = DeployLocked(*manifest, *sig, archive_dir_.empty() ? options_.image_dir : archive_dir_,
                          "restore", /*restoring=*/true);
    if (!r.ok()) {
      Record({{"event", "deployment-refused"},
              {"origin", "restore"},
              {"reason", r.status().ToString()}});
    }
  }

  // ---- engine events ----------------------------------------------------------------------

  Status StartEventStream() {
    docker::EventFilter filter;
    filter.types = {"container"};
    filter.events = {"start", "die"};
    auto stream = deps_.engine->Events(
        filter,
        [this](const docker::Event& e) {
          if (e.action == "die") {
            int64_t code = 0;
            auto it = e.attributes.find("exitCode");
            if (it != e.attributes.end()) code = std::atoll(it->second.c_str());
            Push(DiedItem{e.id, code});
          } else if (e.action == "start") {
            Push(StartedItem{e.id});
          }
        },
        [this](const Status& why) { Push(StreamEndedItem{why}); });
    if (!stream.ok()) {
      return Status(stream.status().code(), "docker event stream: " + stream.status().message());
    }
    stream_ = std::move(stream).value();
    return Status::Ok();
  }

  // ---- worker -----------------------------------------------------------------------------

  void Push(WorkItem item) {
    {
      std::lock_guard<std::mutex> lock(work_mu_);
      if (stopping_) return;
      // Bounded: past the cap, violations are counted and dropped (engine events never are).
      if (work_.size() >= kMaxQueuedWork && std::holds_alternative<ViolationItem>(item)) {
        ++dropped_violations_;
        return;
      }
      work_.push_back(std::move(item));
    }
    work_cv_.notify_one();
  }

  void WorkerLoop() {
    for (;;) {
      std::optional<WorkItem> item;
      // Computed before work_mu_ is taken: it takes mu_, and work_mu_ and mu_ are never held
      // together.
      const auto wake = Clock::now() + std::chrono::milliseconds(NextTimerInMs());
      {
        std::unique_lock<std::mutex> lock(work_mu_);
        work_cv_.wait_until(lock, wake, [this] { return stopping_ || !work_.empty(); });
        if (stopping_) return;
        if (!work_.empty()) {
          item = std::move(work_.front());
          work_.pop_front();
        }
      }
      std::lock_guard<std::mutex> op(op_mu_);
      if (item) {
        std::visit([this](auto& it) { Handle(it); }, *item);
      }
      RunTimers();
    }
  }

  // Milliseconds until the nearest backoff or layer check (at most 1 s).
  int64_t NextTimerInMs() {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = NowMs();
    int64_t next = now + 1000;
    for (const auto& [name, rt] : modules_) {
      if (rt->due_ms) next = std::min(next, *rt->due_ms);
      if (rt->next_layer_check_ms && rt->state == "running") {
        next = std::min(next, rt->next_layer_check_ms);
      }
    }
    if (stream_retry_ms_) next = std::min(next, stream_retry_ms_);
    return std::max<int64_t>(0, next - now);
  }

  void RunTimers() {
    const int64_t now = NowMs();
    std::vector<ModuleRuntime*> due, layer;
    bool retry_stream = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      retry_stream = stream_retry_ms_ != 0 && stream_retry_ms_ <= now;
      for (auto& [name, rt] : modules_) {
        if (rt->due_ms && *rt->due_ms <= now) due.push_back(rt.get());
        if (rt->next_layer_check_ms && rt->next_layer_check_ms <= now && rt->state == "running") {
          layer.push_back(rt.get());
        }
      }
    }
    for (ModuleRuntime* rt : due) {
      std::string reason;
      std::optional<Violation> v;
      {
        std::lock_guard<std::mutex> lock(mu_);
        reason = rt->due_reason;
        v = rt->due_violation;
        rt->due_ms.reset();
        rt->due_violation.reset();
      }
      Recreate(*rt, reason, v);
    }
    for (ModuleRuntime* rt : layer) CheckLayers(*rt, now);
    if (retry_stream) RetryEventStream();
  }

  void CheckLayers(ModuleRuntime& rt, int64_t now) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      rt.next_layer_check_ms = now + int64_t{rt.spec.integrity.layer_check_seconds} * 1000;
    }
    if (!rt.index) {
      auto image = deps_.engine->InspectImage(rt.spec.image);
      if (!image.ok()) return;
      auto index = IndexFor(*image);
      if (!index.ok()) return;
      rt.index = *index;
    }
    auto diffs = VerifyLayers(*rt.index);
    if (!diffs.ok()) {
      Record({{"event", "layer-check-failed"},
              {"module", rt.spec.name},
              {"reason", diffs.status().ToString()}});
      return;
    }
    if (diffs->empty()) return;
    // One violation per check (the first difference, and how many there are): the remedy is
    // the same for one changed file or a hundred.
    const LayerDifference& d = diffs->front();
    Violation v;
    v.kind = Violation::kLayer;
    v.module = rt.spec.name;
    v.container_id = rt.container_id;
    v.path = d.path;
    v.sha256 = d.found;
    v.reason = d.kind == LayerDifference::kAdded     ? "file added to an image layer on disk"
               : d.kind == LayerDifference::kRemoved ? "file removed from an image layer on disk"
                                                     : "image layer file changed on disk";
    if (diffs->size() > 1) {
      v.reason += " (and " + std::to_string(diffs->size() - 1) + " more differences)";
    }
    v.time_ns = NowMs() * 1'000'000;
    HandleViolation(v);
  }

  void Handle(ViolationItem& item) { HandleViolation(item.v); }

  void HandleViolation(const Violation& v) {
    ModuleRuntime* rt = Find(v.module);
    if (rt == nullptr || (v.kind != Violation::kLayer && rt->container_id != v.container_id)) {
      return;  // a container we already replaced
    }
    const int64_t detected_ms = v.time_ns / 1'000'000;
    bool remediating = false;
    uint64_t suppressed = 0;
    bool record = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++rt->violations;
      rt->last_violation_ms = detected_ms;
      remediating = rt->state == "remediating" || rt->due_ms.has_value();
      // A module that writes in a loop must not flood the record, the log and the cloud queue:
      // at most kMaxRecordedViolations per window, then one summary.
      const int64_t now = NowMs();
      if (now - rt->window_start_ms >= kViolationWindowMs) {
        suppressed = rt->suppressed;
        rt->suppressed = 0;
        rt->recorded_in_window = 0;
        rt->window_start_ms = now;
      }
      if (rt->recorded_in_window >= kMaxRecordedViolations) {
        ++rt->suppressed;
        record = false;
      } else {
        ++rt->recorded_in_window;
      }
    }
    if (suppressed > 0) {
      Record({{"event", "violations-suppressed"},
              {"module", v.module},
              {"count", suppressed},
              {"window_ms", kViolationWindowMs}});
    }
    if (record)
      Record({{"event", "violation"},
              {"module", v.module},
              {"container", v.container_id},
              {"kind", KindName(v.kind)},
              {"path", v.path},
              {"sha256", v.sha256},
              {"reason", v.reason},
              {"pid", v.pid},
              {"process", v.process},
              {"denied", v.denied},
              {"detected_ns", v.time_ns},
              {"action", rt->spec.remediation.action}});
    if (remediating || rt->spec.remediation.action == "alert") return;
    if (v.kind == Violation::kLayer) {
      // Recreating from a tampered image would run the tampering: the image must come back
      // first, from the archive or registry the manifest names.
      Status restored = RestoreImage(*rt);
      if (!restored.ok()) {
        Record(
            {{"event", "module-failed"},
             {"module", rt->spec.name},
             {"reason", "image layers tampered and cannot be restored: " + restored.ToString()}});
        return;
      }
    }
    Schedule(*rt, std::string(KindName(v.kind)) + " violation at " + v.path, v);
  }

  Status RestoreImage(ModuleRuntime& rt) {
    if (rt.spec.archive.empty() && rt.spec.registry.empty()) {
      return Status(ErrorCode::kFailedPrecondition,
                    "the manifest gives no archive or registry for image " + rt.spec.image);
    }
    const std::string dir = archive_dir_.empty() ? options_.image_dir : archive_dir_;
    if (!rt.spec.archive.empty() && ::access((dir + "/" + rt.spec.archive).c_str(), R_OK) != 0) {
      return Status(ErrorCode::kNotFound, "the image archive " + dir + "/" + rt.spec.archive +
                                              " is not readable: " + ErrnoText(errno));
    }
    // Every module on this image stops using it first.
    std::vector<ModuleRuntime*> users;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [name, m] : modules_) {
        if (m->spec.image == rt.spec.image) users.push_back(m.get());
      }
    }
    for (ModuleRuntime* m : users) {
      monitor_->Unwatch(m->spec.name);
      if (!m->container_id.empty()) RemoveContainer(m->container_id);
      std::lock_guard<std::mutex> lock(mu_);
      m->state = "stopped";
    }
    indexes_.erase(rt.spec.image);
    Status st = deps_.engine->RemoveImage(rt.spec.image, /*force=*/true);
    if (st.ok()) st = EnsureImage(rt.spec, dir);
    for (ModuleRuntime* m : users) {
      m->index.reset();
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        m->state = "failed";
        m->last_error = "image " + rt.spec.image + " tampered and not restored: " + st.ToString();
      } else if (m != &rt) {
        Schedule(*m, "image " + rt.spec.image + " restored after tampering", std::nullopt);
      }
    }
    return st;
  }

  // Recreates now or after the budget's backoff; a module past its budget is stopped as failed.
  // `min_delay_ms`: a crashed module waits at least this long, so that an operator's
  // `docker restart` (stop, then start) wins over our recreation.
  void Schedule(ModuleRuntime& rt, const std::string& reason, std::optional<Violation> v,
                int64_t min_delay_ms = 0) {
    const int64_t now = NowMs();
    std::optional<int64_t> delay;
    {
      std::lock_guard<std::mutex> lock(mu_);
      delay = rt.budget.Next(now);
    }
    if (delay) delay = std::max(*delay, min_delay_ms);
    if (!delay) {
      monitor_->Unwatch(rt.spec.name);
      if (!rt.container_id.empty()) RemoveContainer(rt.container_id);
      {
        std::lock_guard<std::mutex> lock(mu_);
        rt.state = "failed";
        rt.last_error = "restart budget exhausted: " + reason;
      }
      Record({{"event", "module-failed"},
              {"module", rt.spec.name},
              {"reason", "more than " + std::to_string(rt.spec.remediation.max_restarts) +
                             " recreations within " +
                             std::to_string(rt.spec.remediation.window_seconds) +
                             " s; stopped until the next deployment (last: " + reason + ")"}});
      return;
    }
    if (*delay == 0) {
      Recreate(rt, reason, v);
      return;
    }
    if (v && !rt.container_id.empty()) {
      // A compromised container does not keep running while its recreation waits: paused, it
      // can do nothing, and its writable layer stays for a quarantine copy.
      monitor_->Unwatch(rt.spec.name);
      (void)deps_.engine->PauseContainer(rt.container_id);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      rt.due_ms = now + *delay;
      rt.due_reason = reason;
      rt.due_violation = v;
      rt.state = "backoff";
    }
    Record({{"event", "remediation-delayed"},
            {"module", rt.spec.name},
            {"delay_ms", *delay},
            {"reason", reason}});
  }

  void Recreate(ModuleRuntime& rt, const std::string& reason, const std::optional<Violation>& v) {
    const std::string old_id = rt.container_id;
    std::string action = v ? rt.spec.remediation.action : "restart";
    {
      std::lock_guard<std::mutex> lock(mu_);
      rt.state = "remediating";
      ++rt.remediations;
    }
    monitor_->Unwatch(rt.spec.name);
    nlohmann::json forensic = nullptr;
    if (action == "quarantine" && !old_id.empty()) forensic = Quarantine(rt, old_id, *v);
    Status st = StartModule(rt, reason);
    const int64_t healthy_ms = NowMs();
    if (!st.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        rt.state = "failed";
        rt.last_error = st.ToString();
      }
      Record({{"event", "module-failed"}, {"module", rt.spec.name}, {"reason", st.ToString()}});
      return;
    }
    nlohmann::json e = {
        {"event", "remediated"},  {"module", rt.spec.name},        {"action", action},
        {"reason", reason},       {"old_container", old_id},       {"container", rt.container_id},
        {"image", rt.spec.image}, {"measurement", rt.measurement}, {"healthy_ms", healthy_ms}};
    if (v) {
      e["detected_ns"] = v->time_ns;
      e["detection_to_healthy_ms"] = healthy_ms - v->time_ns / 1'000'000;
    }
    if (!forensic.is_null()) e["quarantine"] = forensic;
    Record(std::move(e));
  }

  nlohmann::json Quarantine(ModuleRuntime& rt, const std::string& id, const Violation& v) {
    (void)deps_.engine->PauseContainer(id);
    nlohmann::json out = {{"paused", true}};
    auto info = deps_.engine->InspectContainer(id);
    if (!info.ok()) {
      out["error"] = info.status().ToString();
      return out;
    }
    const std::string dir = options_.state_dir + "/quarantine/" + rt.spec.name + "-" +
                            std::to_string(NowMs()) + "-" + Short(id);
    if (Status st = MakeDirs(dir); !st.ok()) {
      out["error"] = st.ToString();
      return out;
    }
    auto copied = CopyLayer(info->upper_dir, dir + "/upper", options_.max_quarantine_bytes);
    nlohmann::json record = {{"module", rt.spec.name}, {"container", id},
                             {"image", info->image},   {"path", v.path},
                             {"sha256", v.sha256},     {"process", v.process},
                             {"reason", v.reason},     {"detected_ns", v.time_ns}};
    const std::string text = record.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    (void)WriteFileAtomic(dir + "/violation.json", AsBytes(text), 0600, WriteMode::kReplace);
    out["folder"] = dir;
    if (copied.ok()) {
      out["files"] = copied->files;
      out["bytes"] = copied->bytes;
      out["truncated"] = copied->truncated;
    } else {
      out["error"] = copied.status().ToString();
    }
    return out;
  }

  void Handle(DiedItem& item) {
    bool ours = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ours = ours_stopping_.erase(item.id) > 0;
    }
    if (ours) return;
    ModuleRuntime* rt = FindByContainer(item.id);
    if (rt == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (rt->state != "running") return;
      ++rt->crashes;
      rt->state = "exited";
    }
    monitor_->Unwatch(rt->spec.name);
    Record({{"event", "module-exited"},
            {"module", rt->spec.name},
            {"container", item.id},
            {"exit_code", item.exit_code}});
    const std::string& policy = rt->spec.restart;
    if (policy == "always" || (policy == "on-failure" && item.exit_code != 0)) {
      Schedule(*rt, "exited with code " + std::to_string(item.exit_code), std::nullopt,
               options_.crash_grace_ms);
    }
  }

  void Handle(StartedItem& item) {
    if (ModuleRuntime* rt = FindByContainer(item.id); rt != nullptr) {
      // Our container started again by someone else (`docker restart`, `docker start`): it is the
      // same module on a freshly mounted overlay, so it is measured and watched again and any
      // recreation waiting for it is called off.
      bool restarted = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        // A recreation after a violation is not called off: `docker restart` keeps the
        // writable layer, and with it whatever was planted there.
        if (rt->state == "exited" || (rt->state == "backoff" && !rt->due_violation)) {
          rt->due_ms.reset();
          rt->due_violation.reset();
          restarted = true;
        }
      }
      if (restarted) {
        if (Status st = MeasureAndWatch(*rt, item.id, "restarted"); !st.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          rt->last_error = st.ToString();
        }
      }
      return;
    }
    if (!options_.report_unmanaged) return;
    auto info = deps_.engine->InspectContainer(item.id);
    if (!info.ok()) return;
    if (!unmanaged_.insert(item.id).second) return;
    std::string measurement;
    auto image = deps_.engine->InspectImage(info->image);
    if (image.ok()) {
      const deploy::EffectiveConfig c =
          FromInspect(info->name, *info, *image, options_.sd_socket_dir);
      const Digest256 d = deploy::Measure(c);
      measurement = DigestHex(d);
      (void)Extend(d, "unmanaged container " + info->name + " image " + info->image);
    }
    Record({{"event", "unmanaged-container"},
            {"container", item.id},
            {"name", info->name},
            {"image", info->image},
            {"measurement", measurement}});
  }

  void Handle(StreamEndedItem& item) {
    Record({{"event", "engine-events-lost"}, {"reason", item.why.ToString()}});
    // Reopened from the timers, with backoff, so the worker keeps going meanwhile.
    std::lock_guard<std::mutex> lock(mu_);
    stream_retry_delay_ms_ = 500;
    stream_retry_ms_ = NowMs() + stream_retry_delay_ms_;
  }

  void RetryEventStream() {
    if (Status st = StartEventStream(); !st.ok()) {
      spdlog::error("event=container-events-reconnect-failed error=\"{}\"", st.ToString());
      std::lock_guard<std::mutex> lock(mu_);
      stream_retry_delay_ms_ = std::min<int64_t>(stream_retry_delay_ms_ * 2, 30'000);
      stream_retry_ms_ = NowMs() + stream_retry_delay_ms_;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stream_retry_ms_ = 0;
    }
    Record({{"event", "engine-events-restored"}});
    // What happened while the stream was down: a module whose container is no longer running
    // died unseen.
    std::vector<std::pair<std::string, std::string>> running;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [name, rt] : modules_) {
        if (rt->state == "running") running.emplace_back(name, rt->container_id);
      }
    }
    for (const auto& [name, id] : running) {
      auto info = deps_.engine->InspectContainer(id);
      if (!info.ok() || !info->state.running) {
        DiedItem died{id, info.ok() ? info->state.exit_code : 137};
        Handle(died);
      }
    }
  }

  const GuardOptions options_;
  const GuardDeps deps_;
  GuardEvents events_;
  std::unique_ptr<Client> sd_;
  std::unique_ptr<deploy::Freshness> freshness_;
  std::unique_ptr<Monitor> monitor_;
  std::unique_ptr<docker::EventStream> stream_;
  std::thread worker_;

  std::mutex op_mu_;  // serialises deployments and remediations (taken before mu_)
  std::mutex mu_;     // the state below
  std::optional<deploy::Manifest> deployment_;
  std::string signer_;
  std::string accepted_;
  std::map<std::string, std::unique_ptr<ModuleRuntime>> modules_;
  std::set<std::string> ours_stopping_;  // containers we remove: their "die" is not a crash

  // Worker-only (under op_mu_).
  std::map<std::string, std::shared_ptr<const ImageIndex>> indexes_;
  std::set<std::string> measured_;  // register-2 digests already in the secure domain's log
  std::set<std::string> unmanaged_;
  int64_t stream_retry_ms_ = 0;  // under mu_: when to reopen the engine's event stream
  int64_t stream_retry_delay_ms_ = 500;
  std::string archive_dir_;  // of the accepted deployment, for restoring tampered images

  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::deque<WorkItem> work_;
  bool stopping_ = false;
  uint64_t dropped_violations_ = 0;  // under work_mu_
};

}  // namespace

Result<std::unique_ptr<ContainerGuard>> ContainerGuard::Start(GuardOptions options,
                                                              GuardDeps deps) {
  if (deps.engine == nullptr) {
    return Status(ErrorCode::kInvalidArgument, "container guard: no container engine");
  }
  auto guard = std::make_unique<GuardImpl>(std::move(options), std::move(deps));
  ET_RETURN_IF_ERROR(guard->Init());
  return std::unique_ptr<ContainerGuard>(std::move(guard));
}

}  // namespace edgetrust::guard
