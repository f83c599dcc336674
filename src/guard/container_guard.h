// The container guard: runs the modules of the accepted deployment manifest on the Docker engine,
// measures them into the secure domain, watches them for drift and remediates
// (docs/container-guard.md).
//
// Deploy(): the manifest's CMS signature must chain to the deployment trust bundle, its sequence
// must be newer than the last accepted one (deploy::Freshness, anchored to a secure-domain
// counter), and every image must be present (or loadable from its archive, or pullable by
// digest) with exactly the pinned id, before anything running is touched. Then register 2
// (kRegisterContainers) is extended with the manifest's digest, and each module is (re)created,
// started, inspected, and extended with the measurement of its effective configuration as the
// engine reports it (guard/inspect_config.h). Each module's overlay is then watched
// (guard/monitor.h).
//
// Violations, crashes ("die" events the guard did not cause) and periodic layer checks are handled
// on one worker thread, per module policy: alert; restart (kill, remove, recreate from the pinned
// image, named volumes kept); quarantine (pause, copy the writable layer to
// <state>/quarantine/, then recreate). Recreations are bounded by a RestartBudget; every
// remediation is extended into register 2 (with the module's measurement, so a verifier's
// reference values still match) and reported. A container started outside the deployment is
// reported and extended with its own measurement, so evidence no longer matches the deployment's
// reference values.
//
// Every event goes to GuardEvents and to `report` (the agent queues it for the cloud).
//
// Threads: the worker, the monitor's thread and the engine's event stream; Deploy, Modules and
// Events may be called from any thread (deployments and remediations are serialised).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "identity/x509_ptr.h"

namespace edgetrust::docker {
class ContainerEngine;
}

namespace edgetrust::guard {

struct GuardOptions {
  std::string state_dir;         // deployment, freshness, events.jsonl, quarantine/
  std::string sd_socket;         // the secure domain's socket ("" = the client's default)
  std::string sd_socket_dir;     // mounted into modules that declare secure_domain
  std::string image_dir;         // where cloud-delivered manifests' archives are found
  bool report_unmanaged = true;  // report (and measure) containers started outside the deployment
  uint64_t max_quarantine_bytes = uint64_t{256} << 20;
  // A module that exited is recreated no sooner than this, so that `docker restart` by an
  // operator (stop, then start) is not raced by a recreation.
  int64_t crash_grace_ms = 2000;
};

struct GuardDeps {
  docker::ContainerEngine* engine = nullptr;  // borrowed, outlives the guard
  // The deployment trust bundle's certificates, verified (identity::TrustStore::Load).
  std::function<Result<std::vector<X509Ptr>>()> deployment_trust;
  // Called for every event (on the guard's threads; must not block for long).
  std::function<void(const nlohmann::json& event)> report;
};

class ContainerGuard {
 public:
  // Starts the monitor, the engine's event stream and the worker, then restores the last accepted
  // deployment: running modules are adopted (and re-measured if the secure domain's log lacks
  // them), missing ones recreated.
  static Result<std::unique_ptr<ContainerGuard>> Start(GuardOptions options, GuardDeps deps);
  virtual ~ContainerGuard() = default;

  // `archive_dir`: the folder module archives are relative to ("" = options.image_dir);
  // `origin`: "cli", "cloud", ... for the record. Returns {"deployment","sequence","signer",
  // "modules":[{"name","container","state","measurement","config_matches",...}],"failed":[...]}.
  virtual Result<nlohmann::json> Deploy(ByteView manifest, ByteView signature,
                                        const std::string& archive_dir,
                                        const std::string& origin) = 0;
  virtual nlohmann::json Modules() = 0;
  virtual nlohmann::json Events(size_t limit, const std::string& module) = 0;
  virtual void Stop() = 0;
};

}  // namespace edgetrust::guard
