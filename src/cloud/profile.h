// Cloud profiles: how the gateway names itself to the broker and lays out its topics
// (docs/cloud-link.md has the exact mapping).
//
//   generic        client id = device id, no user name, telemetry to
//                  "gateways/{device}/leaves/{leaf}/{subtopic}", commands from
//                  "gateways/{device}/commands/+/#" (the '+' level names the leaf, the rest is
//                  the subtopic).
//   azure-iot-hub  client id = device id, user name "{hub_host}/{device}/?api-version=2021-04-12",
//                  telemetry to "devices/{device}/messages/events/" with a percent-encoded
//                  property bag naming the leaf, its sequence number and subtopic; commands
//                  (cloud-to-device messages) from "devices/{device}/messages/devicebound/#",
//                  the leaf and subtopic read from the property bag of the topic ("leaf=NAME").
//
// MakeProfile builds one from configuration; the telemetry template and the command filter can be
// overridden (empty: the profile's default). CompiledProfile is the form the link uses per
// message.
//
// Errors: kInvalidArgument for an unknown kind, a bad device id or hub host, or a template that
// does not compile (topic_template.h), each naming what is wrong.
// Thread safety: values; a CompiledProfile is immutable after Compile.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cloud/message_source.h"
#include "cloud/topic_template.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::cloud {

enum class ProfileKind { kGeneric, kAzureIotHub };

// "generic", "azure-iot-hub".
std::string_view ProfileKindName(ProfileKind kind);

inline constexpr std::string_view kAzureApiVersion = "2021-04-12";
inline constexpr std::string_view kGenericTelemetryTopic =
    "gateways/{device}/leaves/{leaf}/{subtopic}";
inline constexpr std::string_view kGenericCommandFilter = "gateways/{device}/commands/+/#";
inline constexpr std::string_view kAzureTelemetryTopic =
    "devices/{device}/messages/events/"
    "$.ct=application%2Fjson&$.ce=utf-8&leaf={leaf}&seq={seq}&subtopic={subtopic}";
inline constexpr std::string_view kAzureCommandFilter = "devices/{device}/messages/devicebound/#";

struct Profile {
  ProfileKind kind = ProfileKind::kGeneric;
  std::string client_id;
  std::string username;                 // empty: no user name is sent
  std::optional<SecretBytes> password;  // e.g. an IoT Hub SAS token; none with certificate auth
  std::string telemetry_topic;          // template: {device} {leaf} {subtopic} {seq}
  std::string command_filter;           // subscription filter; {device} may be used
  // Whether {leaf}, {subtopic} and {seq} are percent-encoded into the telemetry topic (they are
  // in the azure-iot-hub property bag; in the generic layout they are topic levels).
  bool percent_encode_values = false;
};

// `kind` is "generic" or "azure-iot-hub"; `hub_host` is needed by azure-iot-hub only.
Result<Profile> MakeProfile(std::string_view kind, std::string_view device_id,
                            std::string_view hub_host, std::string_view telemetry_topic = {},
                            std::string_view command_filter = {});

// A device id usable as a client id and as one topic level: 1 to 128 bytes of UTF-8 without
// '/', '+', '#' or control characters.
Status ValidateDeviceId(std::string_view device_id);

// Where a command from the cloud goes.
struct CommandTarget {
  std::string leaf;
  std::string subtopic;
};

class CompiledProfile {
 public:
  CompiledProfile() = default;
  static Result<CompiledProfile> Compile(const Profile& profile, std::string_view device_id);

  // Replaces `out` with the topic message `m` is published to; false if the message's leaf or
  // subtopic cannot be put into a topic of this layout (topic_template.h).
  bool TelemetryTopic(const OutboundMessage& m, std::string& out) const;
  // The filter subscribed to for commands, {device} expanded.
  const std::string& command_filter() const { return command_filter_; }
  // The leaf and subtopic a command published to `topic` is for. kInvalidArgument (with the
  // reason) when the topic does not match the filter or names no leaf.
  Result<CommandTarget> ParseCommand(std::string_view topic) const;

  ProfileKind kind() const { return kind_; }

 private:
  ProfileKind kind_ = ProfileKind::kGeneric;
  std::string device_;
  TopicTemplate telemetry_;
  bool percent_encode_ = false;
  std::string command_filter_;
};

}  // namespace edgetrust::cloud
