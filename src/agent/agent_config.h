// Configuration of edgetrust-agent: one TOML file (--config), documented in examples/agent.toml.
//
// Every part of the agent is a module with its own table and an `enabled` switch: [cloud] (the
// link to the cloud broker), [leaf_hub] (the TLS listener for sensors), [metrics] (Prometheus on
// loopback). [agent] and [queue] are always there. Unknown keys and tables are errors, so a typo
// never silently weakens the configuration; every error names the key and its line.
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edgetrust/status.h"

namespace edgetrust::agent {

struct AgentSection {
  std::string device_id;  // empty: the CN of the identity's certificate
  std::string state_dir = "/var/lib/edgetrust/agent";
  std::string sd_socket;  // empty: $EDGETRUST_SOCKET, else /run/edgetrust/sd.sock
  std::string cert_dir;   // empty: $EDGETRUST_CERT_DIR, else /var/lib/edgetrust/certs
  std::string control_socket = "/run/edgetrust/agent.sock";
  std::string identity = "device-id";  // tracked identity presented to the cloud
  std::string log_level = "info";
};

struct CloudSection {
  bool enabled = true;
  std::string host = "127.0.0.1";
  uint16_t port = 8883;
  std::string server_name;          // the name the broker's certificate must carry; empty: host
  int mqtt_version = 4;             // 4 = MQTT 3.1.1, 5 = MQTT 5
  std::string profile = "generic";  // or "azure-iot-hub"
  std::string hub_host;             // azure-iot-hub: the hub's host name for the user name
  std::string telemetry_topic;      // overrides the profile's template when set
  std::string command_filter;       // overrides the profile's command subscription when set
  uint16_t keep_alive_s = 30;
  uint32_t max_inflight = 512;
  uint32_t backoff_min_ms = 250;
  uint32_t backoff_max_ms = 30000;
};

struct LeafHubSection {
  bool enabled = true;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8884;         // 0: any free port (logged with event=hub-listening)
  std::string identity = "device-id";  // the hub's server certificate
  std::string leaf_ca = "device-ca";   // issues enrolled leaves' certificates; trusted for leaves
  uint32_t enrollment_days = 365;
  uint32_t max_connections = 1024;
  uint32_t max_packet_size = 256 * 1024;
  bool psk = true;  // accept TLS-PSK leaves
  uint32_t handshake_timeout_ms = 10000;
};

struct QueueSection {
  uint64_t max_messages = 1'000'000;
  uint64_t max_bytes = 256ull << 20;
  std::string full_policy = "reject-new";  // or "drop-oldest"
  bool quarantine_on_tamper = true;
};

struct MetricsSection {
  bool enabled = false;
  std::string listen = "127.0.0.1:9464";
};

// The container guard (docs/container-guard.md): off unless enabled, since it needs a Docker
// engine and root.
struct ContainersSection {
  bool enabled = false;
  std::string docker_socket = "/var/run/docker.sock";
  std::string state_dir;  // empty: <agent.state_dir>/containers
  std::string
      image_dir;  // archives of manifests that arrive from the cloud; empty: state_dir/images
  bool report_unmanaged = true;
  uint64_t max_quarantine_bytes = uint64_t{256} << 20;
};

struct AgentConfig {
  AgentSection agent;
  ContainersSection containers;
  CloudSection cloud;
  LeafHubSection leaf_hub;
  QueueSection queue;
  MetricsSection metrics;
};

// Errors: kInvalidArgument "config: <key> ... (line N)".
Result<AgentConfig> ParseAgentConfig(std::string_view toml_text);
Result<AgentConfig> LoadAgentConfig(const std::string& path);

}  // namespace edgetrust::agent
