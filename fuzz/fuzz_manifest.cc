// Fuzz target: deployment manifests (src/deploy/manifest.h, docs/deployment.md), the JSON an
// operator signs and the agent parses before it checks anything else.
//
// ParseManifest on the input. A refusal must be kMalformed, kInvalidArgument or kTooLarge with a
// message starting "manifest"; an accepted manifest must hold only what the format allows (valid
// and unique names, pinned image ids, normalised non-overlapping container paths, normalised
// capabilities, known enumerations, the digest of exactly the input), and its modules must
// measure deterministically.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "attest/sha256.h"
#include "common/hex.h"
#include "deploy/effective_config.h"
#include "deploy/manifest.h"
#include "deploy/manifest_rules.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace d = edgetrust::deploy;
  using edgetrust::ErrorCode;
  const edgetrust::ByteView input(data, size);
  auto parsed = d::ParseManifest(input);
  if (!parsed.ok()) {
    const auto code = parsed.status().code();
    ET_FUZZ_CHECK(code == ErrorCode::kMalformed || code == ErrorCode::kInvalidArgument ||
                  code == ErrorCode::kTooLarge);
    ET_FUZZ_CHECK(parsed.status().message().rfind("manifest", 0) == 0);
    return 0;
  }
  const d::Manifest& m = *parsed;
  ET_FUZZ_CHECK(size <= d::kMaxManifestBytes);
  ET_FUZZ_CHECK(m.sequence > 0);
  ET_FUZZ_CHECK(d::IsValidName(m.deployment));
  ET_FUZZ_CHECK(m.modules.size() <= d::kMaxModules);
  ET_FUZZ_CHECK(m.digest == edgetrust::HexEncode(edgetrust::attest::Sha256({input})));
  std::set<std::string> names;
  for (const auto& mod : m.modules) {
    ET_FUZZ_CHECK(d::IsValidName(mod.name));
    ET_FUZZ_CHECK(names.insert(mod.name).second);
    ET_FUZZ_CHECK(d::IsImageId(mod.image));
    ET_FUZZ_CHECK(mod.archive.empty() || d::IsSafeRelativePath(mod.archive));
    ET_FUZZ_CHECK(mod.registry.empty() || d::IsPinnedReference(mod.registry));
    ET_FUZZ_CHECK(!mod.command.empty() && !mod.command[0].empty());
    ET_FUZZ_CHECK(mod.working_dir.empty() || d::IsNormalisedAbsolutePath(mod.working_dir));
    ET_FUZZ_CHECK(mod.network == "none" || mod.network == "host");
    ET_FUZZ_CHECK(mod.restart == "no" || mod.restart == "on-failure" || mod.restart == "always");
    ET_FUZZ_CHECK(mod.integrity.mode == "detect" || mod.integrity.mode == "enforce");
    ET_FUZZ_CHECK(mod.integrity.fail == "open" || mod.integrity.fail == "closed");
    ET_FUZZ_CHECK(mod.remediation.backoff_initial_ms <= mod.remediation.backoff_max_ms);
    ET_FUZZ_CHECK(d::NormaliseCapabilities(mod.cap_add) == mod.cap_add);
    ET_FUZZ_CHECK(d::NormaliseCapabilities(mod.cap_drop) == mod.cap_drop);
    for (const auto& [k, v] : mod.env) {
      ET_FUZZ_CHECK(d::IsEnvName(k));
      ET_FUZZ_CHECK(v.find('\0') == std::string::npos);
    }
    std::vector<std::string> targets;
    for (const auto& w : mod.writable) {
      ET_FUZZ_CHECK(d::IsNormalisedAbsolutePath(w.path));
      ET_FUZZ_CHECK(w.type == "tmpfs" || (w.type == "volume" && d::IsVolumeName(w.volume)));
      targets.push_back(w.path);
    }
    for (const auto& b : mod.mounts) {
      ET_FUZZ_CHECK(d::IsNormalisedAbsolutePath(b.source));
      ET_FUZZ_CHECK(d::IsNormalisedAbsolutePath(b.target));
      targets.push_back(b.target);
    }
    if (mod.secure_domain) targets.push_back(d::kSecureDomainMountTarget);
    for (size_t i = 0; i < targets.size(); ++i) {
      for (size_t j = 0; j < i; ++j) ET_FUZZ_CHECK(!d::PathsOverlap(targets[i], targets[j]));
    }
    const d::EffectiveConfig config = d::FromManifest(mod);
    ET_FUZZ_CHECK(d::Differences(config, config).empty());
    ET_FUZZ_CHECK(d::Measure(config) == d::Measure(d::FromManifest(mod)));
    ET_FUZZ_CHECK(config.mounts.size() == targets.size());
  }
  return 0;
}
