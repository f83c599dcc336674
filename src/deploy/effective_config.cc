// Effective configurations: from a manifest's module, in canonical JSON, and their measurement
// (effective_config.h, docs/deployment.md "Measurement").
#include "deploy/effective_config.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>

#include "attest/sha256.h"
#include "common/hex.h"

namespace edgetrust::deploy {
namespace {

using nlohmann::json;

constexpr std::string_view kMeasureLabel = "edgetrust-module/1\n";

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<MountConfig> SortedMounts(std::vector<MountConfig> mounts) {
  std::sort(mounts.begin(), mounts.end(), [](const MountConfig& a, const MountConfig& b) {
    return std::tie(a.target, a.type, a.source, a.read_only, a.options) <
           std::tie(b.target, b.type, b.source, b.read_only, b.options);
  });
  return mounts;
}

std::string MountText(const MountConfig& m) {
  std::string s = m.type + ":" + (m.source.empty() ? "-" : m.source) + ":" + m.target + ":" +
                  (m.read_only ? "ro" : "rw");
  if (!m.options.empty()) s += ":" + m.options;
  return s;
}

std::string ListText(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
  return s + "]";
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

std::string TmpfsOptions(const WritablePath& path) {
  return std::string("rw,") + (path.exec ? "exec" : "noexec") +
         ",nosuid,nodev,size=" + std::to_string(path.size_mb) + "m";
}

std::vector<std::string> DefaultSecurityOptions() { return {"no-new-privileges"}; }

std::vector<std::string> NormaliseCapabilities(std::vector<std::string> caps) {
  for (auto& c : caps) {
    std::transform(c.begin(), c.end(), c.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    if (c.size() > 4 && c.compare(0, 4, "CAP_") == 0) c.erase(0, 4);
  }
  std::sort(caps.begin(), caps.end());
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());
  return caps;
}

EffectiveConfig FromManifest(const Module& module) {
  EffectiveConfig c;
  c.module = module.name;
  c.image_id = module.image;
  c.argv = module.command;
  for (const auto& [k, v] : module.env) c.env.push_back(k + "=" + v);
  std::sort(c.env.begin(), c.env.end());
  c.user = module.user;
  c.working_dir = module.working_dir;
  c.read_only_rootfs = module.read_only_rootfs;
  c.privileged = false;
  c.cap_add = NormaliseCapabilities(module.cap_add);
  c.cap_drop = NormaliseCapabilities(module.cap_drop);
  for (const auto& w : module.writable) {
    if (w.type == "volume") {
      c.mounts.push_back({"volume", w.volume, w.path, false, ""});
    } else {
      c.mounts.push_back({"tmpfs", "", w.path, false, TmpfsOptions(w)});
    }
  }
  for (const auto& m : module.mounts)
    c.mounts.push_back({"bind", m.source, m.target, m.read_only, ""});
  if (module.secure_domain) {
    c.mounts.push_back({"bind", kSecureDomainSource, kSecureDomainMountTarget, true, ""});
  }
  c.mounts = SortedMounts(std::move(c.mounts));
  c.network_mode = module.network;
  c.pid_mode = "";
  c.ipc_mode = "private";
  c.device_count = 0;
  c.security_opt = Sorted(DefaultSecurityOptions());
  return c;
}

std::string CanonicalJson(const EffectiveConfig& config) {
  // nlohmann's object is a std::map: dump() writes keys sorted. Lists that are sets are sorted
  // here as well, so a config from any producer has one form; argv keeps its order (it matters).
  json mounts = json::array();
  for (const auto& m : SortedMounts(config.mounts)) {
    mounts.push_back({{"type", m.type},
                      {"source", m.source},
                      {"target", m.target},
                      {"read_only", m.read_only},
                      {"options", m.options}});
  }
  const json doc = {{"module", config.module},
                    {"image_id", config.image_id},
                    {"argv", config.argv},
                    {"env", Sorted(config.env)},
                    {"user", config.user},
                    {"working_dir", config.working_dir},
                    {"read_only_rootfs", config.read_only_rootfs},
                    {"privileged", config.privileged},
                    {"cap_add", Sorted(config.cap_add)},
                    {"cap_drop", Sorted(config.cap_drop)},
                    {"mounts", mounts},
                    {"network_mode", config.network_mode},
                    {"pid_mode", config.pid_mode},
                    {"ipc_mode", config.ipc_mode},
                    {"device_count", config.device_count},
                    {"security_opt", Sorted(config.security_opt)}};
  // Invalid UTF-8 (possible only in what an engine reports) is replaced rather than thrown on.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

Digest256 Measure(const EffectiveConfig& config) {
  const std::string canonical = CanonicalJson(config);
  return attest::Sha256({AsBytes(kMeasureLabel), AsBytes(canonical)});
}

std::vector<std::string> Differences(const EffectiveConfig& expected,
                                     const EffectiveConfig& actual) {
  std::vector<std::string> out;
  auto text = [&](const char* field, const std::string& e, const std::string& a) {
    if (e != a) out.push_back(std::string(field) + ": manifest " + e + " but running " + a);
  };
  auto list = [&](const char* field, const std::vector<std::string>& e,
                  const std::vector<std::string>& a) { text(field, ListText(e), ListText(a)); };
  auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
  text("module", Quoted(expected.module), Quoted(actual.module));
  text("image_id", expected.image_id, actual.image_id);
  list("argv", expected.argv, actual.argv);
  list("env", Sorted(expected.env), Sorted(actual.env));
  text("user", Quoted(expected.user), Quoted(actual.user));
  text("working_dir", Quoted(expected.working_dir), Quoted(actual.working_dir));
  text("read_only_rootfs", flag(expected.read_only_rootfs), flag(actual.read_only_rootfs));
  text("privileged", flag(expected.privileged), flag(actual.privileged));
  list("cap_add", Sorted(expected.cap_add), Sorted(actual.cap_add));
  list("cap_drop", Sorted(expected.cap_drop), Sorted(actual.cap_drop));
  std::vector<std::string> em, am;
  for (const auto& m : SortedMounts(expected.mounts)) em.push_back(MountText(m));
  for (const auto& m : SortedMounts(actual.mounts)) am.push_back(MountText(m));
  list("mounts", em, am);
  text("network_mode", Quoted(expected.network_mode), Quoted(actual.network_mode));
  text("pid_mode", Quoted(expected.pid_mode), Quoted(actual.pid_mode));
  text("ipc_mode", Quoted(expected.ipc_mode), Quoted(actual.ipc_mode));
  text("device_count", std::to_string(expected.device_count), std::to_string(actual.device_count));
  list("security_opt", Sorted(expected.security_opt), Sorted(actual.security_opt));
  return out;
}

Digest256 ManifestDigest(const Manifest& manifest) {
  Digest256 d{};
  auto bytes = HexDecode(manifest.digest);
  if (bytes.ok() && bytes->size() == d.size()) std::copy(bytes->begin(), bytes->end(), d.begin());
  return d;
}

std::string DeploymentEventText(const Manifest& manifest) {
  return "deployment " + manifest.deployment + " sequence " + std::to_string(manifest.sequence);
}

std::string ModuleEventText(const EffectiveConfig& config) {
  return "module " + config.module + " image " + config.image_id;
}

}  // namespace edgetrust::deploy
