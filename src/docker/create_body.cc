#include "docker/create_body.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "common/utf8.h"
#include "docker/answers.h"

namespace edgetrust::docker {
namespace {

using Json = nlohmann::json;

Status Invalid(std::string_view field, std::string_view what) {
  return Status(ErrorCode::kInvalidArgument,
                "container spec: " + std::string(field) + ": " + std::string(what));
}

Status CheckText(std::string_view field, std::string_view value) {
  if (!IsValidUtf8(value) || value.find('\0') != std::string_view::npos) {
    return Invalid(field, "not UTF-8 text without NUL");
  }
  return Status::Ok();
}

Status CheckList(std::string_view field, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    ET_RETURN_IF_ERROR(CheckText(std::string(field) + "[" + std::to_string(i) + "]", values[i]));
  }
  return Status::Ok();
}

Status CheckAbsolute(std::string_view field, const std::string& path) {
  if (path.empty() || path.front() != '/') return Invalid(field, "expected an absolute path");
  return CheckText(field, path);
}

}  // namespace

Result<std::string> BuildCreateBody(const ContainerSpec& spec) {
  if (!spec.name.empty() && !IsValidContainerRef(spec.name)) {
    return Invalid("name", "expected 1-128 of [a-zA-Z0-9_.-], starting with a letter or digit");
  }
  if (!IsValidImageRef(spec.image)) return Invalid("image", "not an image id or reference");
  if (spec.command.empty() || spec.command[0].empty()) return Invalid("command", "empty");
  ET_RETURN_IF_ERROR(CheckList("command", spec.command));
  ET_RETURN_IF_ERROR(CheckList("env", spec.env));
  for (size_t i = 0; i < spec.env.size(); ++i) {
    const size_t eq = spec.env[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      return Invalid("env[" + std::to_string(i) + "]", "expected K=V");
    }
  }
  ET_RETURN_IF_ERROR(CheckText("user", spec.user));
  if (!spec.working_dir.empty()) ET_RETURN_IF_ERROR(CheckAbsolute("working_dir", spec.working_dir));
  ET_RETURN_IF_ERROR(CheckList("cap_add", spec.cap_add));
  ET_RETURN_IF_ERROR(CheckList("cap_drop", spec.cap_drop));
  ET_RETURN_IF_ERROR(CheckList("security_opt", spec.security_opt));
  if (spec.network_mode != "none" && spec.network_mode != "host") {
    return Invalid("network_mode", "only \"none\" or \"host\"");
  }
  if (spec.memory_bytes && *spec.memory_bytes <= 0) return Invalid("memory_bytes", "not positive");
  if (spec.pids_limit && *spec.pids_limit <= 0) return Invalid("pids_limit", "not positive");

  Json host = Json::object();
  host["ReadonlyRootfs"] = spec.read_only_rootfs;
  host["NetworkMode"] = spec.network_mode;
  host["Init"] = false;
  Json mounts = Json::array();
  Json tmpfs = Json::object();
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const MountSpec& m = spec.mounts[i];
    const std::string field = "mounts[" + std::to_string(i) + "]";
    ET_RETURN_IF_ERROR(CheckAbsolute(field + ".target", m.target));
    if (m.type == "tmpfs") {
      if (!m.source.empty()) return Invalid(field + ".source", "must be empty for tmpfs");
      ET_RETURN_IF_ERROR(CheckText(field + ".tmpfs_options", m.tmpfs_options));
      if (tmpfs.contains(m.target)) return Invalid(field + ".target", "tmpfs mounted twice");
      tmpfs[m.target] = m.tmpfs_options;
      continue;
    }
    if (m.type == "bind") {
      ET_RETURN_IF_ERROR(CheckAbsolute(field + ".source", m.source));
    } else if (m.type == "volume") {
      if (!IsValidContainerRef(m.source)) return Invalid(field + ".source", "not a volume name");
    } else {
      return Invalid(field + ".type", "expected bind, volume or tmpfs");
    }
    if (!m.tmpfs_options.empty()) return Invalid(field + ".tmpfs_options", "tmpfs only");
    mounts.push_back(
        {{"Type", m.type}, {"Source", m.source}, {"Target", m.target}, {"ReadOnly", m.read_only}});
  }
  host["Mounts"] = std::move(mounts);
  host["Tmpfs"] = std::move(tmpfs);
  host["CapAdd"] = spec.cap_add;
  host["CapDrop"] = spec.cap_drop;
  host["SecurityOpt"] = spec.security_opt;
  if (spec.memory_bytes) host["Memory"] = *spec.memory_bytes;
  if (spec.pids_limit) host["PidsLimit"] = *spec.pids_limit;

  Json labels = Json::object();
  for (const auto& [key, value] : spec.labels) {
    if (key.empty()) return Invalid("labels", "empty key");
    ET_RETURN_IF_ERROR(CheckText("labels." + key, key));
    ET_RETURN_IF_ERROR(CheckText("labels." + key, value));
    labels[key] = value;
  }

  Json body = Json::object();
  body["Image"] = spec.image;
  body["Entrypoint"] = Json::array({spec.command[0]});
  body["Cmd"] = std::vector<std::string>(spec.command.begin() + 1, spec.command.end());
  body["Env"] = spec.env;
  body["User"] = spec.user;
  body["WorkingDir"] = spec.working_dir;
  body["Labels"] = std::move(labels);
  body["HostConfig"] = std::move(host);
  // Every string was checked for UTF-8 above, so dump() cannot throw; `replace` keeps it so.
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace edgetrust::docker
