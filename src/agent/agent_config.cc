#include "agent/agent_config.h"

#include <toml++/toml.h>

#include <functional>
#include <map>
#include <optional>

#include "common/files.h"

namespace edgetrust::agent {
namespace {

constexpr size_t kMaxConfigSize = 1 << 20;

Status Bad(const std::string& what) {
  return Status(ErrorCode::kInvalidArgument, "config: " + what);
}

std::string Line(const toml::node& n) {
  return n.source().begin ? " (line " + std::to_string(n.source().begin.line) + ")" : "";
}

// One key of a table: how to read it into the config.
using Setter = std::function<Status(const toml::node&, const std::string& key)>;
using Schema = std::map<std::string, Setter, std::less<>>;

Setter String(std::string& out, bool allow_empty = true) {
  return [&out, allow_empty](const toml::node& n, const std::string& key) -> Status {
    auto v = n.value<std::string>();
    if (!n.is_string() || !v || (!allow_empty && v->empty())) {
      return Bad(key + " must be a " + (allow_empty ? "" : "non-empty ") + "string" + Line(n));
    }
    if (v->find('\0') != std::string::npos) return Bad(key + " contains NUL" + Line(n));
    out = *v;
    return Status::Ok();
  };
}

Setter OneOf(std::string& out, std::vector<std::string> allowed) {
  return [&out, allowed](const toml::node& n, const std::string& key) -> Status {
    auto v = n.value<std::string>();
    if (n.is_string() && v) {
      for (const auto& a : allowed) {
        if (*v == a) {
          out = *v;
          return Status::Ok();
        }
      }
    }
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + ("\"" + a + "\"");
    return Bad(key + " must be one of " + list + Line(n));
  };
}

template <typename T>
Setter Integer(T& out, int64_t min, int64_t max) {
  return [&out, min, max](const toml::node& n, const std::string& key) -> Status {
    // is_integer() first: toml++ converts an out-of-range float with undefined behaviour.
    const std::optional<int64_t> v = n.is_integer() ? n.value<int64_t>() : std::optional<int64_t>();
    if (!v || *v < min || *v > max) {
      return Bad(key + " must be an integer in " + std::to_string(min) + ".." +
                 std::to_string(max) + Line(n));
    }
    out = static_cast<T>(*v);
    return Status::Ok();
  };
}

Setter Bool(bool& out) {
  return [&out](const toml::node& n, const std::string& key) -> Status {
    auto v = n.value<bool>();
    if (!n.is_boolean() || !v) return Bad(key + " must be true or false" + Line(n));
    out = *v;
    return Status::Ok();
  };
}

Setter MqttVersion(int& out) {
  return [&out](const toml::node& n, const std::string& key) -> Status {
    auto v = n.value<std::string>();
    if (n.is_string() && v && (*v == "3.1.1" || *v == "5")) {
      out = *v == "5" ? 5 : 4;
      return Status::Ok();
    }
    return Bad(key + " must be \"3.1.1\" or \"5\"" + Line(n));
  };
}

// "127.0.0.1:8884" -> host and port; brackets for IPv6 ("[::1]:8884").
Setter HostPort(std::string& host, uint16_t& port) {
  return [&host, &port](const toml::node& n, const std::string& key) -> Status {
    auto v = n.value<std::string>();
    const std::string bad = key + " must be \"HOST:PORT\"" + Line(n);
    if (!n.is_string() || !v) return Bad(bad);
    const size_t colon = v->rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == v->size()) return Bad(bad);
    std::string h = v->substr(0, colon);
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    const std::string p = v->substr(colon + 1);
    if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return Bad(bad);
    const unsigned long value = std::stoul(p);
    if (value > 65535) return Bad(bad);
    host = h;
    port = static_cast<uint16_t>(value);
    return Status::Ok();
  };
}

Status ApplyTable(const toml::table& t, const std::string& prefix, const Schema& schema) {
  for (const auto& [key, node] : t) {
    const std::string full = prefix + "." + std::string(key.str());
    auto it = schema.find(key.str());
    if (it == schema.end()) return Bad("unknown key " + full + Line(node));
    ET_RETURN_IF_ERROR(it->second(node, full));
  }
  return Status::Ok();
}

}  // namespace

Result<AgentConfig> ParseAgentConfig(std::string_view toml_text) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return Bad(std::string(e.description()) + " (line " + std::to_string(e.source().begin.line) +
               ")");
  } catch (const std::exception& e) {
    return Bad(e.what());
  }
  AgentConfig c;
  std::string metrics_host;
  uint16_t metrics_port = 0;
  const std::map<std::string, Schema, std::less<>> tables = {
      {"agent",
       {{"device_id", String(c.agent.device_id)},
        {"state_dir", String(c.agent.state_dir, false)},
        {"sd_socket", String(c.agent.sd_socket)},
        {"cert_dir", String(c.agent.cert_dir)},
        {"control_socket", String(c.agent.control_socket, false)},
        {"identity", String(c.agent.identity, false)},
        {"log_level", OneOf(c.agent.log_level, {"trace", "debug", "info", "warn", "error"})}}},
      {"cloud",
       {{"enabled", Bool(c.cloud.enabled)},
        {"host", String(c.cloud.host, false)},
        {"port", Integer(c.cloud.port, 1, 65535)},
        {"server_name", String(c.cloud.server_name)},
        {"mqtt", MqttVersion(c.cloud.mqtt_version)},
        {"profile", OneOf(c.cloud.profile, {"generic", "azure-iot-hub"})},
        {"hub_host", String(c.cloud.hub_host)},
        {"telemetry_topic", String(c.cloud.telemetry_topic)},
        {"command_filter", String(c.cloud.command_filter)},
        {"keep_alive_s", Integer(c.cloud.keep_alive_s, 5, 3600)},
        {"max_inflight", Integer(c.cloud.max_inflight, 1, 65535)},
        {"backoff_min_ms", Integer(c.cloud.backoff_min_ms, 10, 600000)},
        {"backoff_max_ms", Integer(c.cloud.backoff_max_ms, 10, 3600000)}}},
      {"leaf_hub",
       {{"enabled", Bool(c.leaf_hub.enabled)},
        {"listen", HostPort(c.leaf_hub.listen_host, c.leaf_hub.listen_port)},
        {"identity", String(c.leaf_hub.identity, false)},
        {"leaf_ca", String(c.leaf_hub.leaf_ca, false)},
        {"enrollment_days", Integer(c.leaf_hub.enrollment_days, 1, 3650)},
        {"max_connections", Integer(c.leaf_hub.max_connections, 1, 100000)},
        {"max_packet_size", Integer(c.leaf_hub.max_packet_size, 1024, 16 << 20)},
        {"psk", Bool(c.leaf_hub.psk)},
        {"handshake_timeout_ms", Integer(c.leaf_hub.handshake_timeout_ms, 100, 120000)}}},
      {"queue",
       {{"max_messages", Integer(c.queue.max_messages, 1, int64_t{1} << 40)},
        {"max_bytes", Integer(c.queue.max_bytes, 4096, int64_t{1} << 50)},
        {"full_policy", OneOf(c.queue.full_policy, {"reject-new", "drop-oldest"})},
        {"quarantine_on_tamper", Bool(c.queue.quarantine_on_tamper)}}},
      {"containers",
       {{"enabled", Bool(c.containers.enabled)},
        {"docker_socket", String(c.containers.docker_socket, false)},
        {"state_dir", String(c.containers.state_dir)},
        {"image_dir", String(c.containers.image_dir)},
        {"report_unmanaged", Bool(c.containers.report_unmanaged)},
        {"max_quarantine_bytes", Integer(c.containers.max_quarantine_bytes, 0, int64_t{1} << 40)}}},
      {"metrics",
       {{"enabled", Bool(c.metrics.enabled)}, {"listen", HostPort(metrics_host, metrics_port)}}},
  };
  bool metrics_listen_set = false;
  for (const auto& [key, node] : root) {
    auto it = tables.find(key.str());
    if (it == tables.end())
      return Bad("unknown table [" + std::string(key.str()) + "]" + Line(node));
    const toml::table* t = node.as_table();
    if (t == nullptr) return Bad(std::string(key.str()) + " must be a table" + Line(node));
    ET_RETURN_IF_ERROR(ApplyTable(*t, std::string(key.str()), it->second));
    if (key.str() == "metrics" && t->contains("listen")) metrics_listen_set = true;
  }
  if (metrics_listen_set) {
    c.metrics.listen =
        (metrics_host.find(':') != std::string::npos ? "[" + metrics_host + "]" : metrics_host) +
        ":" + std::to_string(metrics_port);
  }
  if (c.cloud.backoff_min_ms > c.cloud.backoff_max_ms) {
    return Bad("cloud.backoff_min_ms must not exceed cloud.backoff_max_ms");
  }
  if (c.cloud.enabled && c.cloud.profile == "azure-iot-hub" && c.cloud.hub_host.empty()) {
    return Bad("cloud.hub_host is required with profile \"azure-iot-hub\"");
  }
  return c;
}

Result<AgentConfig> LoadAgentConfig(const std::string& path) {
  auto data = ReadFile(path, kMaxConfigSize);
  if (!data.ok()) {
    return Status(data.status().code(), "config " + path + ": " + data.status().message());
  }
  const Bytes& bytes = data.value();
  return ParseAgentConfig(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace edgetrust::agent
