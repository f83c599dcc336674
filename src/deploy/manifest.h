// Deployment manifests: what containers (modules) the gateway runs, pinned by image digest
// (docs/deployment.md defines the format, "edgetrust-deployment/1", JSON).
//
// A manifest is untrusted until Verify (signature.h) and the freshness check (freshness.h) pass;
// ParseManifest only checks its syntax and values, strictly: unknown keys, wrong types, bad
// names, unpinned images, relative or overlapping paths are refused with a message naming the key.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::deploy {

inline constexpr char kManifestFormat[] = "edgetrust-deployment/1";
inline constexpr size_t kMaxManifestBytes = size_t{1} << 20;
inline constexpr size_t kMaxModules = 64;

struct WritablePath {
  std::string path;       // absolute container path
  std::string type;       // "tmpfs" or "volume"
  uint64_t size_mb = 16;  // tmpfs
  bool exec = false;      // tmpfs: mounted noexec unless true
  std::string volume;     // volume: the named volume (kept across recreation)
};

struct BindMount {
  std::string source;  // absolute host path
  std::string target;  // absolute container path
  bool read_only = true;
};

struct IntegrityPolicy {
  std::string mode = "detect";  // "detect" or "enforce"
  std::string fail = "closed";  // "open" or "closed": the exec answer when a check cannot finish
  uint32_t answer_timeout_ms = 200;
  uint32_t layer_check_seconds = 300;  // 0: no periodic layer verification
};

struct RemediationPolicy {
  std::string action = "restart";  // "alert", "restart" or "quarantine"
  uint32_t max_restarts = 5;       // within window_seconds; past it the module is "failed"
  uint32_t window_seconds = 600;
  uint32_t backoff_initial_ms = 500;
  uint32_t backoff_max_ms = 60000;
};

struct Module {
  std::string name;      // [a-z0-9][a-z0-9_.-]{0,62}
  std::string image;     // "sha256:<64 hex>": the image id (config digest) that must run
  std::string archive;   // optional: `docker save` archive, relative to the manifest's folder
  std::string registry;  // optional: "name@sha256:<64 hex>" to pull when the image is missing
  std::vector<std::string> command;  // required, argv
  std::map<std::string, std::string> env;
  std::string user;
  std::string working_dir;
  bool read_only_rootfs = true;
  std::vector<WritablePath> writable;
  std::vector<BindMount> mounts;
  std::vector<std::string> cap_add;   // normalised: upper case, no "CAP_" prefix, sorted
  std::vector<std::string> cap_drop;  // default {"ALL"}
  std::string network = "none";       // "none" or "host"
  bool secure_domain = false;  // mount the secure domain's socket; the module is its own principal
  std::string restart = "on-failure";  // after a crash: "no", "on-failure", "always"
  IntegrityPolicy integrity;
  RemediationPolicy remediation;
};

struct Manifest {
  std::string deployment;  // name, same charset as module names
  uint64_t sequence = 0;   // > 0; must exceed the last accepted one
  std::string created;     // RFC 3339, informational
  std::vector<Module> modules;
  std::string digest;  // SHA-256 of the exact manifest bytes, 64 hex
};

Result<Manifest> ParseManifest(ByteView bytes);

}  // namespace edgetrust::deploy
