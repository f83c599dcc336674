// The strict parser of "edgetrust-deployment/1" manifests (manifest.h, docs/deployment.md).
#include "deploy/manifest.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "attest/json_util.h"
#include "attest/sha256.h"
#include "common/hex.h"
#include "deploy/effective_config.h"
#include "deploy/json_fields.h"
#include "deploy/manifest_rules.h"

namespace edgetrust::deploy {
namespace {

using nlohmann::json;

// Limits besides those of manifest.h (docs/deployment.md, "Limits").
constexpr size_t kMaxJsonValues = 256 * 1024;
constexpr size_t kMaxJsonDepth = 6;
constexpr size_t kMaxText = 4096;            // any string without a smaller limit
constexpr size_t kMaxArgs = 256;             // command
constexpr size_t kMaxEnv = 256;              // env entries
constexpr size_t kMaxPaths = 32;             // writable, mounts (each)
constexpr size_t kMaxCapabilities = 64;      // add, drop (each)
constexpr uint64_t kMaxTmpfsMb = 64 * 1024;  // 64 GiB
constexpr uint64_t kMaxSeconds = 7 * 24 * 3600;

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Status Invalid(const std::string& path, const std::string& message) {
  return PathError(ErrorCode::kInvalidArgument, path, message);
}

// A string member that must be one of `choices`.
Status Choice(const Fields& f, std::string_view key, std::string& out,
              std::initializer_list<std::string_view> choices) {
  std::string value = out;
  ET_RETURN_IF_ERROR(f.String(key, value, false, 64));
  std::string list;
  for (auto c : choices) {
    if (value == c) {
      out = std::move(value);
      return Status::Ok();
    }
    list += (list.empty() ? "\"" : ", \"") + std::string(c) + "\"";
  }
  return Invalid(f.At(key), "is \"" + value + "\", must be one of " + list);
}

// A normalised absolute path member.
Status AbsolutePath(const Fields& f, std::string_view key, std::string& out, bool required) {
  ET_RETURN_IF_ERROR(f.String(key, out, required, kMaxText));
  if (f.Get(key) == nullptr && !required) return Status::Ok();
  if (!IsNormalisedAbsolutePath(out)) {
    return Invalid(f.At(key),
                   "must be an absolute path without \".\", \"..\", empty components or a "
                   "trailing \"/\" (and not \"/\")");
  }
  return Status::Ok();
}

Result<WritablePath> ParseWritable(const json& v, const std::string& path) {
  ET_ASSIGN_OR_RETURN(Fields f,
                      Fields::Open(v, path, {"path", "type", "size_mb", "exec", "volume"}));
  WritablePath w;
  w.type = "tmpfs";
  ET_RETURN_IF_ERROR(AbsolutePath(f, "path", w.path, true));
  ET_RETURN_IF_ERROR(Choice(f, "type", w.type, {"tmpfs", "volume"}));
  ET_RETURN_IF_ERROR(f.Uint64("size_mb", w.size_mb, false, 1, kMaxTmpfsMb));
  ET_RETURN_IF_ERROR(f.Bool("exec", w.exec));
  ET_RETURN_IF_ERROR(f.String("volume", w.volume, false, 255));
  if (w.type == "volume") {
    if (f.Get("volume") == nullptr)
      return Invalid(f.At("volume"), "is required for type \"volume\"");
    if (!IsVolumeName(w.volume)) {
      return Invalid(f.At("volume"), "must be a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)");
    }
    for (auto key : {"size_mb", "exec"}) {
      if (f.Get(key) != nullptr) return Invalid(f.At(key), "applies to type \"tmpfs\" only");
    }
  } else if (f.Get("volume") != nullptr) {
    return Invalid(f.At("volume"), "applies to type \"volume\" only");
  }
  return w;
}

Result<BindMount> ParseMount(const json& v, const std::string& path) {
  ET_ASSIGN_OR_RETURN(Fields f, Fields::Open(v, path, {"source", "target", "read_only"}));
  BindMount m;
  ET_RETURN_IF_ERROR(AbsolutePath(f, "source", m.source, true));
  ET_RETURN_IF_ERROR(AbsolutePath(f, "target", m.target, true));
  ET_RETURN_IF_ERROR(f.Bool("read_only", m.read_only));
  return m;
}

template <typename T, typename Parse>
Status ParseArray(const Fields& f, std::string_view key, size_t max, std::vector<T>& out,
                  Parse parse) {
  const json* v = f.Get(key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_array()) {
    return PathError(ErrorCode::kMalformed, f.At(key), "must be an array, not " + TypeName(*v));
  }
  if (v->size() > max) {
    return PathError(ErrorCode::kTooLarge, f.At(key),
                     "has more than " + std::to_string(max) + " entries");
  }
  for (size_t i = 0; i < v->size(); ++i) {
    ET_ASSIGN_OR_RETURN(T item, parse((*v)[i], Index(f.At(key), i)));
    out.push_back(std::move(item));
  }
  return Status::Ok();
}

Status ParseEnv(const Fields& f, Module& m) {
  const json* v = f.Get("env");
  if (v == nullptr) return Status::Ok();
  const std::string path = f.At("env");
  if (!v->is_object()) {
    return PathError(ErrorCode::kMalformed, path,
                     "must be an object {\"NAME\": \"value\"}, not " + TypeName(*v));
  }
  if (v->size() > kMaxEnv) {
    return PathError(ErrorCode::kTooLarge, path,
                     "has more than " + std::to_string(kMaxEnv) + " variables");
  }
  for (const auto& [name, value] : v->items()) {
    const std::string at = path + "." + name;
    if (!IsEnvName(name)) {
      return Invalid(at, "is not a variable name ([A-Za-z_][A-Za-z0-9_]*, at most 256 bytes)");
    }
    ET_RETURN_IF_ERROR(CheckString(value, at, kMaxText));
    m.env[name] = value.get<std::string>();
  }
  return Status::Ok();
}

Status ParseCapabilityList(const Fields& f, std::string_view key, std::vector<std::string>& out) {
  std::vector<std::string> caps;
  const bool given = f.Get(key) != nullptr;
  ET_RETURN_IF_ERROR(f.StringArray(key, caps, false, kMaxCapabilities, 64));
  if (!given) return Status::Ok();
  for (size_t i = 0; i < caps.size(); ++i) {
    if (!IsCapabilityName(caps[i])) {
      return Invalid(Index(f.At(key), i),
                     "is not a capability name (like \"NET_BIND_SERVICE\" or \"ALL\")");
    }
  }
  out = NormaliseCapabilities(std::move(caps));
  return Status::Ok();
}

Status ParseCapabilities(const Fields& module, Module& m) {
  const json* v = module.Get("capabilities");
  if (v == nullptr) return Status::Ok();
  ET_ASSIGN_OR_RETURN(Fields f, Fields::Open(*v, module.At("capabilities"), {"add", "drop"}));
  ET_RETURN_IF_ERROR(ParseCapabilityList(f, "add", m.cap_add));
  ET_RETURN_IF_ERROR(ParseCapabilityList(f, "drop", m.cap_drop));
  return Status::Ok();
}

Status ParseIntegrity(const Fields& module, IntegrityPolicy& p) {
  const json* v = module.Get("integrity");
  if (v == nullptr) return Status::Ok();
  ET_ASSIGN_OR_RETURN(Fields f,
                      Fields::Open(*v, module.At("integrity"),
                                   {"mode", "fail", "answer_timeout_ms", "layer_check_seconds"}));
  ET_RETURN_IF_ERROR(Choice(f, "mode", p.mode, {"detect", "enforce"}));
  ET_RETURN_IF_ERROR(Choice(f, "fail", p.fail, {"open", "closed"}));
  ET_RETURN_IF_ERROR(f.Uint32("answer_timeout_ms", p.answer_timeout_ms, 1, 60000));
  ET_RETURN_IF_ERROR(f.Uint32("layer_check_seconds", p.layer_check_seconds, 0, kMaxSeconds));
  return Status::Ok();
}

Status ParseRemediation(const Fields& module, RemediationPolicy& p) {
  const json* v = module.Get("remediation");
  if (v == nullptr) return Status::Ok();
  ET_ASSIGN_OR_RETURN(Fields f, Fields::Open(*v, module.At("remediation"),
                                             {"action", "max_restarts", "window_seconds",
                                              "backoff_initial_ms", "backoff_max_ms"}));
  ET_RETURN_IF_ERROR(Choice(f, "action", p.action, {"alert", "restart", "quarantine"}));
  ET_RETURN_IF_ERROR(f.Uint32("max_restarts", p.max_restarts, 0, 1000));
  ET_RETURN_IF_ERROR(f.Uint32("window_seconds", p.window_seconds, 1, kMaxSeconds));
  ET_RETURN_IF_ERROR(f.Uint32("backoff_initial_ms", p.backoff_initial_ms, 1, 3600 * 1000));
  ET_RETURN_IF_ERROR(f.Uint32("backoff_max_ms", p.backoff_max_ms, 1, 24 * 3600 * 1000));
  if (p.backoff_max_ms < p.backoff_initial_ms) {
    return Invalid(f.At("backoff_max_ms"), "is less than backoff_initial_ms");
  }
  return Status::Ok();
}

// No two of the module's container paths (writable paths, mount targets, the secure-domain
// mount) are equal or nested.
Status CheckTargets(const Module& m, const std::string& path) {
  std::vector<std::pair<std::string, std::string>> targets;  // (target, where)
  for (size_t i = 0; i < m.writable.size(); ++i) {
    targets.emplace_back(m.writable[i].path, Index(path + ".writable", i) + ".path");
  }
  for (size_t i = 0; i < m.mounts.size(); ++i) {
    targets.emplace_back(m.mounts[i].target, Index(path + ".mounts", i) + ".target");
  }
  if (m.secure_domain) targets.emplace_back(kSecureDomainMountTarget, path + ".secure_domain");
  for (size_t i = 0; i < targets.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (PathsOverlap(targets[i].first, targets[j].first)) {
        return Invalid(targets[i].second, "\"" + targets[i].first + "\" overlaps \"" +
                                              targets[j].first + "\" of " + targets[j].second +
                                              " (equal or nested)");
      }
    }
  }
  return Status::Ok();
}

Result<Module> ParseModule(const json& v, const std::string& path) {
  ET_ASSIGN_OR_RETURN(
      Fields f,
      Fields::Open(v, path,
                   {"name", "image", "archive", "registry", "command", "env", "user", "working_dir",
                    "read_only_rootfs", "writable", "mounts", "capabilities", "network",
                    "secure_domain", "restart", "integrity", "remediation"}));
  Module m;
  m.cap_drop = {"ALL"};
  ET_RETURN_IF_ERROR(f.String("name", m.name, true, 63));
  if (!IsValidName(m.name)) {
    return Invalid(f.At("name"), "\"" + m.name + "\" is not a name ([a-z0-9][a-z0-9_.-]{0,62})");
  }
  ET_RETURN_IF_ERROR(f.String("image", m.image, true, 71));
  if (!IsImageId(m.image)) {
    return Invalid(f.At("image"), "must be an image id \"sha256:<64 lower-case hex digits>\"");
  }
  ET_RETURN_IF_ERROR(f.String("archive", m.archive, false, kMaxText));
  if (f.Get("archive") != nullptr && !IsSafeRelativePath(m.archive)) {
    return Invalid(f.At("archive"),
                   "must be a relative path without \"..\", \".\" or empty components");
  }
  ET_RETURN_IF_ERROR(f.String("registry", m.registry, false, 255 + 72));
  if (f.Get("registry") != nullptr && !IsPinnedReference(m.registry)) {
    return Invalid(f.At("registry"), "must be a pinned reference \"name@sha256:<64 hex digits>\"");
  }
  ET_RETURN_IF_ERROR(f.StringArray("command", m.command, true, kMaxArgs, kMaxText));
  if (m.command.empty() || m.command[0].empty()) {
    return Invalid(f.At("command"), "must name a program (a non-empty first entry)");
  }
  ET_RETURN_IF_ERROR(ParseEnv(f, m));
  ET_RETURN_IF_ERROR(f.String("user", m.user, false, 256));
  if (f.Get("user") != nullptr && !IsUserSpec(m.user)) {
    return Invalid(f.At("user"), "must be \"user\", \"uid\", \"user:group\" or \"uid:gid\"");
  }
  ET_RETURN_IF_ERROR(AbsolutePath(f, "working_dir", m.working_dir, false));
  ET_RETURN_IF_ERROR(f.Bool("read_only_rootfs", m.read_only_rootfs));
  ET_RETURN_IF_ERROR(ParseArray<WritablePath>(f, "writable", kMaxPaths, m.writable, ParseWritable));
  ET_RETURN_IF_ERROR(ParseArray<BindMount>(f, "mounts", kMaxPaths, m.mounts, ParseMount));
  ET_RETURN_IF_ERROR(ParseCapabilities(f, m));
  ET_RETURN_IF_ERROR(Choice(f, "network", m.network, {"none", "host"}));
  ET_RETURN_IF_ERROR(f.Bool("secure_domain", m.secure_domain));
  ET_RETURN_IF_ERROR(Choice(f, "restart", m.restart, {"no", "on-failure", "always"}));
  ET_RETURN_IF_ERROR(ParseIntegrity(f, m.integrity));
  ET_RETURN_IF_ERROR(ParseRemediation(f, m.remediation));
  ET_RETURN_IF_ERROR(CheckTargets(m, path));
  return m;
}

}  // namespace

Result<Manifest> ParseManifest(ByteView bytes) {
  if (bytes.size() > kMaxManifestBytes) {
    return Status(ErrorCode::kTooLarge,
                  "manifest: larger than " + std::to_string(kMaxManifestBytes) + " bytes");
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  // Strict parsing (attest/json_util.h): limits on values and depth, and duplicate keys refused,
  // so that no two JSON parsers can read one signed manifest differently.
  const attest::JsonLimits limits{kMaxManifestBytes, kMaxJsonValues, kMaxJsonDepth};
  ET_ASSIGN_OR_RETURN(json doc, attest::ParseStrictJson(text, "manifest", limits));
  ET_ASSIGN_OR_RETURN(
      Fields f, Fields::Open(doc, "", {"format", "deployment", "sequence", "created", "modules"}));
  std::string format;
  ET_RETURN_IF_ERROR(f.String("format", format, true, 64));
  if (format != kManifestFormat) {
    return Invalid("format", "is \"" + format + "\", must be \"" + kManifestFormat + "\"");
  }
  Manifest m;
  ET_RETURN_IF_ERROR(f.String("deployment", m.deployment, true, 63));
  if (!IsValidName(m.deployment)) {
    return Invalid("deployment",
                   "\"" + m.deployment + "\" is not a name ([a-z0-9][a-z0-9_.-]{0,62})");
  }
  ET_RETURN_IF_ERROR(f.Uint64("sequence", m.sequence, true, 1, UINT64_MAX));
  ET_RETURN_IF_ERROR(f.String("created", m.created, false, 64));
  if (f.Get("created") != nullptr && !IsRfc3339(m.created)) {
    return Invalid("created", "must be an RFC 3339 time like \"2026-05-01T12:00:00Z\"");
  }
  ET_RETURN_IF_ERROR(f.Require("modules"));
  const json& modules = *f.Get("modules");
  if (!modules.is_array()) {
    return PathError(ErrorCode::kMalformed, "modules",
                     "must be an array, not " + TypeName(modules));
  }
  if (modules.size() > kMaxModules) {
    return PathError(ErrorCode::kTooLarge, "modules",
                     "has more than " + std::to_string(kMaxModules) + " modules");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < modules.size(); ++i) {
    ET_ASSIGN_OR_RETURN(Module module, ParseModule(modules[i], Index("modules", i)));
    if (!names.insert(module.name).second) {
      return Invalid(Index("modules", i) + ".name",
                     "\"" + module.name + "\" is already the name of another module");
    }
    m.modules.push_back(std::move(module));
  }
  m.digest = HexEncode(attest::Sha256({bytes}));
  return m;
}

}  // namespace edgetrust::deploy
