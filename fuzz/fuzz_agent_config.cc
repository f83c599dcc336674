// Fuzz target: edgetrust-agent's TOML configuration (agent/agent_config.h).
//
// ParseAgentConfig on the input as text. A rejected config must be kInvalidArgument with a
// message; an accepted one must hold only values the agent can use.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/agent_config.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace agent = edgetrust::agent;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = agent::ParseAgentConfig(text);
  if (!config.ok()) {
    ET_FUZZ_CHECK(config.status().code() == edgetrust::ErrorCode::kInvalidArgument);
    ET_FUZZ_CHECK(!config.status().message().empty());
    return 0;
  }
  const agent::AgentConfig& c = *config;
  ET_FUZZ_CHECK(!c.agent.state_dir.empty());
  ET_FUZZ_CHECK(!c.agent.control_socket.empty());
  ET_FUZZ_CHECK(c.cloud.mqtt_version == 4 || c.cloud.mqtt_version == 5);
  ET_FUZZ_CHECK(c.cloud.port >= 1);
  ET_FUZZ_CHECK(c.cloud.backoff_min_ms <= c.cloud.backoff_max_ms);
  ET_FUZZ_CHECK(c.cloud.profile == "generic" || c.cloud.profile == "azure-iot-hub");
  ET_FUZZ_CHECK(c.queue.full_policy == "reject-new" || c.queue.full_policy == "drop-oldest");
  ET_FUZZ_CHECK(c.queue.max_bytes >= 4096);
  ET_FUZZ_CHECK(c.leaf_hub.max_packet_size >= 1024);
  return 0;
}
