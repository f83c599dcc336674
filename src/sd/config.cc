#include "sd/config.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "common/files.h"

namespace edgetrust::sd {
namespace {

Status Bad(const std::string& what) {
  return Status(ErrorCode::kInvalidArgument, "config: " + what);
}

std::string Line(const toml::node& n) {
  return n.source().begin ? " (line " + std::to_string(n.source().begin.line) + ")" : "";
}

template <typename T>
Result<T> Integer(const toml::node& n, std::string_view key, int64_t min, int64_t max) {
  // is_integer() first: toml++'s value<int64_t>() converts a float out of range with undefined
  // behaviour (2e+56 in a config must be an error message, not UB).
  const std::optional<int64_t> v = n.is_integer() ? n.value<int64_t>() : std::optional<int64_t>();
  if (!v || *v < min || *v > max) {
    return Bad(std::string(key) + " must be an integer in " + std::to_string(min) + ".." +
               std::to_string(max) + Line(n));
  }
  return static_cast<T>(*v);
}

Status ParseDaemonTable(const toml::table& t, DaemonConfig& c) {
  for (const auto& [key, node] : t) {
    std::string_view k = key.str();
    if (k == "user") {
      auto v = node.value<std::string>();
      if (!node.is_string() || !v || v->empty())
        return Bad("daemon.user must be a user name" + Line(node));
      c.user = *v;
    } else if (k == "socket_mode") {
      auto v = node.value<std::string>();
      if (!node.is_string() || !v)
        return Bad("daemon.socket_mode must be an octal string like \"0660\"" + Line(node));
      char* end = nullptr;
      unsigned long mode = std::strtoul(v->c_str(), &end, 8);
      if (v->empty() || *end != '\0' || mode > 0777)
        return Bad("daemon.socket_mode \"" + *v + "\" is not a mode" + Line(node));
      c.socket_mode = static_cast<uint32_t>(mode);
    } else if (k == "max_connections") {
      ET_ASSIGN_OR_RETURN(c.max_connections,
                          Integer<uint32_t>(node, "daemon.max_connections", 1, 65536));
    } else if (k == "max_connections_per_principal") {
      ET_ASSIGN_OR_RETURN(
          c.max_connections_per_principal,
          Integer<uint32_t>(node, "daemon.max_connections_per_principal", 1, 65536));
    } else if (k == "frame_timeout_ms") {
      ET_ASSIGN_OR_RETURN(c.frame_timeout_ms,
                          Integer<uint32_t>(node, "daemon.frame_timeout_ms", 10, 600000));
    } else if (k == "seccomp") {
      auto v = node.value<bool>();
      if (!node.is_boolean() || !v) return Bad("daemon.seccomp must be true or false" + Line(node));
      c.seccomp = *v;
    } else if (k == "log_level") {
      auto v = node.value<std::string>();
      static const std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error"};
      bool ok = node.is_string() && v &&
                std::find(std::begin(kLevels), std::end(kLevels), *v) != std::end(kLevels);
      if (!ok)
        return Bad("daemon.log_level must be trace, debug, info, warn or error" + Line(node));
      c.log_level = *v;
    } else {
      return Bad("unknown key daemon." + std::string(k) + Line(node));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<DaemonConfig> ParseConfig(std::string_view text) {
  DaemonConfig c;
  try {
    toml::table root = toml::parse(text);
    for (const auto& [key, node] : root) {
      std::string_view k = key.str();
      const toml::table* t = node.as_table();
      if (k == "daemon" && t != nullptr) {
        ET_RETURN_IF_ERROR(ParseDaemonTable(*t, c));
      } else if (k == "policy" && t != nullptr) {
        ET_ASSIGN_OR_RETURN(c.policy, Policy::FromToml(*t));
      } else {
        return Bad("unknown section or key \"" + std::string(k) + "\"" + Line(node) +
                   "; expected [daemon] and [policy]");
      }
    }
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << e.description() << " (line " << e.source().begin.line << ")";
    return Bad(msg.str());
  } catch (const std::exception& e) {
    return Bad(e.what());
  }
  return c;
}

Result<DaemonConfig> LoadConfigFile(const std::string& path) {
  auto text = ReadFile(path, 1 << 20);
  if (!text.ok()) return Status(text.status().code(), "config: " + text.status().message());
  auto c = ParseConfig(std::string_view(reinterpret_cast<const char*>(text->data()), text->size()));
  if (!c.ok()) return Status(c.status().code(), path + ": " + c.status().message());
  c->source_sha256.resize(SHA256_DIGEST_LENGTH);
  SHA256(text->data(), text->size(), c->source_sha256.data());
  return c;
}

}  // namespace edgetrust::sd
