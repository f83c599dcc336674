// A module's effective configuration: the part of a container's configuration that decides what
// runs and what it can reach, in one canonical form whose digest is the module's measurement
// (docs/deployment.md, "Measurement").
//
// Two producers must agree byte for byte for an honest deployment:
//  - FromManifest: what the signed manifest asks for (a verifier computes reference values from
//    the manifest alone, `edgetrust manifest reference`);
//  - the container guard's FromInspect (src/guard/inspect_config.h): what the engine reports
//    actually runs.
// Measured fields: image id, argv, the environment the module adds on top of its image (the
// image's own variables are covered by its digest), user, working folder, read-only root,
// privileged, capabilities, mounts (bind/volume/tmpfs with options; the secure-domain socket mount
// as source "<secure-domain>"), network mode, pid/ipc mode, device count, security options.
#pragma once

#include <string>
#include <vector>

#include "deploy/manifest.h"
#include "edgetrust/attestation.h"

namespace edgetrust::deploy {

// The path inside a module where the secure domain's socket folder is mounted, read-only.
inline constexpr char kSecureDomainMountTarget[] = "/run/edgetrust";
inline constexpr char kSecureDomainSource[] = "<secure-domain>";

struct MountConfig {
  std::string type;    // "bind", "volume", "tmpfs"
  std::string source;  // host path, volume name, "" (tmpfs) or kSecureDomainSource
  std::string target;
  bool read_only = false;
  std::string options;  // tmpfs: the option string; "" otherwise
  bool operator==(const MountConfig&) const = default;
};

struct EffectiveConfig {
  std::string module;
  std::string image_id;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "K=V", sorted
  std::string user;
  std::string working_dir;
  bool read_only_rootfs = true;
  bool privileged = false;
  std::vector<std::string> cap_add;  // normalised like Module::cap_add
  std::vector<std::string> cap_drop;
  std::vector<MountConfig> mounts;  // sorted by target
  std::string network_mode;
  std::string pid_mode;  // FromManifest: "" (Docker reports "" for a container created without)
  std::string ipc_mode;  // FromManifest: "private" (what Docker reports by default)
  size_t device_count = 0;
  std::vector<std::string> security_opt;  // sorted
  bool operator==(const EffectiveConfig&) const = default;
};

// The tmpfs option string a writable tmpfs path is mounted with (both producers use it).
std::string TmpfsOptions(const WritablePath& path);
// The security options every module runs with.
std::vector<std::string> DefaultSecurityOptions();  // {"no-new-privileges"}
// Upper case, "CAP_" prefix removed, sorted, de-duplicated.
std::vector<std::string> NormaliseCapabilities(std::vector<std::string> caps);

EffectiveConfig FromManifest(const Module& module);
// Deterministic JSON (sorted keys, no spaces) of every field.
std::string CanonicalJson(const EffectiveConfig& config);
// SHA-256("edgetrust-module/1\n" || CanonicalJson): what register 2 is extended with.
Digest256 Measure(const EffectiveConfig& config);
// Field-by-field differences, for logs: {"cap_add: manifest [] but running [NET_ADMIN]", ...}.
std::vector<std::string> Differences(const EffectiveConfig& expected,
                                     const EffectiveConfig& actual);

// What a deployment extends register 2 (kRegisterContainers) with (docs/deployment.md,
// "Measurement"); the agent and `edgetrust manifest reference` use these same functions.
//  - the manifest event: digest ManifestDigest (SHA-256 of the exact manifest bytes),
//    description DeploymentEventText: "deployment <name> sequence <n>";
//  - one event per module: digest Measure(FromManifest(module)), description ModuleEventText:
//    "module <name> image <id>".
// Reference values pin register + digest only, never the description.
Digest256 ManifestDigest(const Manifest& manifest);
std::string DeploymentEventText(const Manifest& manifest);
std::string ModuleEventText(const EffectiveConfig& config);

}  // namespace edgetrust::deploy
