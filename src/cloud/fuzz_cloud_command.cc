// libFuzzer target for what the cloud link parses from the broker and the leaves: command topics
// of both profiles (levels, percent-encoded property bags) and envelopes of arbitrary payloads.
// The first byte picks the profile; the rest is the topic, and also a payload.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cloud/envelope.h"
#include "cloud/profile.h"

namespace {

const edgetrust::cloud::CompiledProfile& Compiled(bool azure) {
  using edgetrust::cloud::CompiledProfile;
  using edgetrust::cloud::MakeProfile;
  static const CompiledProfile generic =
      std::move(CompiledProfile::Compile(*MakeProfile("generic", "gw", ""), "gw")).value();
  static const CompiledProfile iot_hub =
      std::move(CompiledProfile::Compile(*MakeProfile("azure-iot-hub", "gw", "hub.example"), "gw"))
          .value();
  return azure ? iot_hub : generic;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool azure = (data[0] & 1) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string prefix = azure ? "devices/gw/messages/devicebound/" : "gateways/gw/commands/";
  auto target = Compiled(azure).ParseCommand(prefix + std::string(rest));
  if (target.ok() && target->leaf.empty()) __builtin_trap();

  edgetrust::cloud::OutboundMessage m;
  m.leaf = std::string(rest.substr(0, rest.size() / 2));
  m.subtopic = std::string(rest.substr(rest.size() / 2));
  m.payload = std::string(rest);
  std::string envelope;
  edgetrust::cloud::BuildEnvelope(m, "gw", envelope);
  // The envelope is always one valid JSON document.
  if (!nlohmann::json::accept(envelope)) __builtin_trap();
  std::string topic;
  (void)Compiled(azure).TelemetryTopic(m, topic);
  return 0;
}
