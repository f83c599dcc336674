// MQTT 5 properties (MQTT 5 section 2.2.2): parsing and validating every property a packet
// carries, keeping the few the gateway uses, and writing them. Internal to the codec.
//
// Validation: a known identifier, allowed in that packet (or will), of its type and size, not
// repeated (only User Property and, in PUBLISH, Subscription Identifier may be), and a value in
// its range (flags 0 or 1, Receive Maximum / Maximum Packet Size / Topic Alias / Subscription
// Identifier not 0, Maximum QoS 0 or 1). Authentication Data needs an Authentication Method.
// Errors: kMalformed naming the packet and the property.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edgetrust/status.h"
#include "mqtt/codec.h"
#include "mqtt/wire.h"

namespace edgetrust::mqtt::internal {

// Where a property list sits; decides which properties are allowed there.
enum class PropertyScope : uint8_t {
  kConnect,
  kConnack,
  kPublish,
  kWill,
  kPubackPubrec,
  kPubrelPubcomp,
  kSubscribe,
  kSuback,
  kUnsubscribe,
  kUnsuback,
  kDisconnect,
  kAuth,
};

// The properties the codec keeps; the others are validated and dropped.
struct Properties {
  std::optional<uint32_t> session_expiry;
  std::optional<uint16_t> receive_maximum;
  std::optional<uint32_t> maximum_packet_size;
  std::optional<uint16_t> topic_alias_maximum;
  std::optional<uint16_t> topic_alias;
  std::optional<uint16_t> server_keep_alive;
  std::optional<uint8_t> maximum_qos;
  std::optional<std::string> reason_string;
  std::optional<std::string> auth_method;
  std::optional<std::string> assigned_client_id;
  UserProperties user_properties;
};

// Reads a property length and the properties after it. `packet` names the packet in errors.
Status ReadProperties(Reader& reader, PropertyScope scope, std::string_view packet,
                      Properties* out);

// Writes the property length and the properties that are set.
void WriteProperties(const Properties& props, std::string* out);

}  // namespace edgetrust::mqtt::internal
