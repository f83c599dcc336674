#include "mqtt/decode.h"

#include <cstdio>
#include <initializer_list>
#include <string>

#include "mqtt/properties.h"
#include "mqtt/wire.h"

namespace edgetrust::mqtt::internal {
namespace {

std::string Hex(uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(v));
  return buf;
}

std::string Name(PacketType type) { return std::string(PacketTypeName(type)); }

bool OneOf(uint8_t v, std::initializer_list<uint8_t> allowed) {
  for (uint8_t a : allowed) {
    if (a == v) return true;
  }
  return false;
}

Status Unsupported(std::string message) {
  return Status(ErrorCode::kUnsupported, std::move(message));
}

Status NoTrailingBytes(const Reader& r, const std::string& what) {
  if (r.empty()) return Status::Ok();
  return Malformed(what + " has " + std::to_string(r.remaining()) + " unexpected bytes at its end");
}

Status PacketId(Reader& r, PacketType type, uint16_t* id) {
  ET_RETURN_IF_ERROR(r.U16(Name(type) + " packet identifier", id));
  if (*id == 0) return Malformed(Name(type) + " packet identifier is 0");
  return Status::Ok();
}

// Topic names and filters, with the reason spelled out for the caller's log.
Status CheckTopicName(const std::string& topic, const std::string& what) {
  if (topic.empty()) return Malformed(what + " is empty");
  if (topic.find_first_of("+#") != std::string::npos) {
    return Malformed(what + " contains a wildcard");
  }
  return Status::Ok();
}

Status CheckTopicFilter(const std::string& filter, const std::string& what) {
  if (filter.empty()) return Malformed(what + " is empty");
  if (!IsValidTopicFilter(filter)) {
    return Malformed(what + " \"" + filter.substr(0, 64) + "\" has a misplaced wildcard");
  }
  return Status::Ok();
}

Result<Packet> DecodeConnect(std::string_view body) {
  Reader r(body);
  std::string protocol;
  ET_RETURN_IF_ERROR(r.String("CONNECT protocol name", &protocol));
  uint8_t level = 0;
  ET_RETURN_IF_ERROR(r.U8("CONNECT protocol level", &level));
  if (protocol == "MQIsdp") {
    return Unsupported("MQTT 3.1 (protocol name MQIsdp) is not supported; use 3.1.1 or 5");
  }
  if (protocol != "MQTT") {
    return Malformed("CONNECT protocol name is \"" + protocol.substr(0, 32) + "\", not \"MQTT\"");
  }
  if (level != 4 && level != 5) {
    return Unsupported("CONNECT protocol level " + std::to_string(level) +
                       " is not supported (4: MQTT 3.1.1, 5: MQTT 5)");
  }
  Connect c;
  c.version = static_cast<Version>(level);
  const bool v5 = c.version == Version::k5;
  uint8_t flags = 0;
  ET_RETURN_IF_ERROR(r.U8("CONNECT flags", &flags));
  if (flags & 0x01) return Malformed("CONNECT reserved flag is set");
  c.clean_start = (flags & 0x02) != 0;
  c.has_will = (flags & 0x04) != 0;
  c.will_qos = static_cast<uint8_t>((flags >> 3) & 0x03);
  c.will_retain = (flags & 0x20) != 0;
  const bool has_password = (flags & 0x40) != 0;
  const bool has_username = (flags & 0x80) != 0;
  if (!c.has_will && (c.will_qos != 0 || c.will_retain)) {
    return Malformed("CONNECT has a will QoS or will retain flag without a will");
  }
  if (c.will_qos == 3) return Malformed("CONNECT will QoS 3 is invalid");
  if (!v5 && has_password && !has_username) {
    return Malformed("CONNECT has a password without a user name (not allowed in MQTT 3.1.1)");
  }
  ET_RETURN_IF_ERROR(r.U16("CONNECT keep alive", &c.keep_alive));
  if (v5) {
    Properties p;
    ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kConnect, "CONNECT", &p));
    c.session_expiry = p.session_expiry.value_or(0);
    c.receive_maximum = p.receive_maximum.value_or(65535);
    c.maximum_packet_size = p.maximum_packet_size.value_or(0);
    c.topic_alias_maximum = p.topic_alias_maximum.value_or(0);
    c.auth_method = std::move(p.auth_method);
    c.user_properties = std::move(p.user_properties);
  }
  ET_RETURN_IF_ERROR(r.String("CONNECT client identifier", &c.client_id));
  if (c.has_will) {
    if (v5) {
      Properties will;
      ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kWill, "CONNECT will", &will));
    }
    ET_RETURN_IF_ERROR(r.String("CONNECT will topic", &c.will_topic));
    ET_RETURN_IF_ERROR(CheckTopicName(c.will_topic, "CONNECT will topic"));
    ET_RETURN_IF_ERROR(r.Binary("CONNECT will payload", &c.will_payload));
  }
  if (has_username) {
    c.username.emplace();
    ET_RETURN_IF_ERROR(r.String("CONNECT user name", &*c.username));
  }
  if (has_password) {
    c.password.emplace();
    ET_RETURN_IF_ERROR(r.Binary("CONNECT password", &*c.password));
  }
  ET_RETURN_IF_ERROR(NoTrailingBytes(r, "CONNECT"));
  return Packet(std::move(c));
}

Result<Packet> DecodeConnack(Version version, std::string_view body) {
  Reader r(body);
  Connack c;
  uint8_t flags = 0;
  ET_RETURN_IF_ERROR(r.U8("CONNACK flags", &flags));
  if (flags & 0xFE) return Malformed("CONNACK reserved flags are set");
  c.session_present = (flags & 0x01) != 0;
  ET_RETURN_IF_ERROR(r.U8("CONNACK return code", &c.code));
  if (version == Version::k311) {
    if (c.code > 5)
      return Malformed("CONNACK return code " + std::to_string(c.code) + " is reserved");
    if (c.code != 0 && c.session_present) {
      return Malformed("CONNACK refuses the connection but sets session present");
    }
    ET_RETURN_IF_ERROR(NoTrailingBytes(r, "CONNACK"));
    return Packet(std::move(c));
  }
  if (!OneOf(c.code, {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                      0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F})) {
    return Malformed("CONNACK reason code " + Hex(c.code) + " is not defined for CONNACK");
  }
  if (c.code >= 0x80 && c.session_present) {
    return Malformed("CONNACK refuses the connection but sets session present");
  }
  Properties p;
  ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kConnack, "CONNACK", &p));
  c.reason_string = p.reason_string.value_or("");
  c.session_expiry = p.session_expiry;
  c.receive_maximum = p.receive_maximum.value_or(65535);
  c.maximum_packet_size = p.maximum_packet_size.value_or(0);
  c.maximum_qos = p.maximum_qos.value_or(2);
  c.topic_alias_maximum = p.topic_alias_maximum.value_or(0);
  c.server_keep_alive = p.server_keep_alive;
  c.assigned_client_id = p.assigned_client_id.value_or("");
  c.user_properties = std::move(p.user_properties);
  ET_RETURN_IF_ERROR(NoTrailingBytes(r, "CONNACK"));
  return Packet(std::move(c));
}

Result<Packet> DecodePublish(Version version, uint8_t flags, std::string_view body) {
  Reader r(body);
  Publish p;
  p.qos = static_cast<uint8_t>((flags >> 1) & 0x03);
  p.dup = (flags & 0x08) != 0;
  p.retain = (flags & 0x01) != 0;
  ET_RETURN_IF_ERROR(r.String("PUBLISH topic", &p.topic));
  if (p.qos > 0) ET_RETURN_IF_ERROR(PacketId(r, PacketType::kPublish, &p.packet_id));
  if (version == Version::k5) {
    Properties props;
    ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kPublish, "PUBLISH", &props));
    if (props.topic_alias) {
      return Unsupported("PUBLISH uses topic alias " + std::to_string(*props.topic_alias) +
                         ", which is not supported (topic alias maximum 0)");
    }
    p.user_properties = std::move(props.user_properties);
  }
  ET_RETURN_IF_ERROR(CheckTopicName(p.topic, "PUBLISH topic"));
  p.payload.assign(r.Rest());
  return Packet(std::move(p));
}

Result<Packet> DecodeAck(Version version, PacketType type, std::string_view body) {
  Reader r(body);
  Ack a;
  a.type = type;
  ET_RETURN_IF_ERROR(PacketId(r, type, &a.packet_id));
  if (version == Version::k5 && !r.empty()) {
    ET_RETURN_IF_ERROR(r.U8(Name(type) + " reason code", &a.reason));
    const bool first_half = type == PacketType::kPuback || type == PacketType::kPubrec;
    const bool valid = first_half
                           ? OneOf(a.reason, {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99})
                           : OneOf(a.reason, {0x00, 0x92});
    if (!valid) {
      return Malformed(Name(type) + " reason code " + Hex(a.reason) + " is not defined for " +
                       Name(type));
    }
    if (!r.empty()) {
      Properties p;
      ET_RETURN_IF_ERROR(ReadProperties(
          r, first_half ? PropertyScope::kPubackPubrec : PropertyScope::kPubrelPubcomp, Name(type),
          &p));
      a.reason_string = p.reason_string.value_or("");
    }
  }
  ET_RETURN_IF_ERROR(NoTrailingBytes(r, Name(type)));
  return Packet(std::move(a));
}

Result<Packet> DecodeSubscribe(Version version, std::string_view body) {
  Reader r(body);
  Subscribe s;
  ET_RETURN_IF_ERROR(PacketId(r, PacketType::kSubscribe, &s.packet_id));
  if (version == Version::k5) {
    Properties p;
    ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kSubscribe, "SUBSCRIBE", &p));
  }
  while (!r.empty()) {
    std::string filter;
    ET_RETURN_IF_ERROR(r.String("SUBSCRIBE topic filter", &filter));
    ET_RETURN_IF_ERROR(CheckTopicFilter(filter, "SUBSCRIBE topic filter"));
    uint8_t options = 0;
    ET_RETURN_IF_ERROR(r.U8("SUBSCRIBE options", &options));
    const uint8_t reserved = version == Version::k5 ? 0xC0 : 0xFC;
    if (options & reserved) return Malformed("SUBSCRIBE options have reserved bits set");
    if ((options & 0x03) == 3) return Malformed("SUBSCRIBE requests QoS 3");
    if (((options >> 4) & 0x03) == 3) return Malformed("SUBSCRIBE retain handling 3 is invalid");
    s.filters.emplace_back(std::move(filter), static_cast<uint8_t>(options & 0x03));
  }
  if (s.filters.empty()) return Malformed("SUBSCRIBE has no topic filter");
  return Packet(std::move(s));
}

Result<Packet> DecodeSuback(Version version, std::string_view body) {
  Reader r(body);
  Suback s;
  ET_RETURN_IF_ERROR(PacketId(r, PacketType::kSuback, &s.packet_id));
  if (version == Version::k5) {
    Properties p;
    ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kSuback, "SUBACK", &p));
    s.reason_string = p.reason_string.value_or("");
  }
  for (char ch : r.Rest()) {
    const auto code = static_cast<uint8_t>(ch);
    const bool valid =
        version == Version::k5
            ? OneOf(code, {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2})
            : OneOf(code, {0x00, 0x01, 0x02, 0x80});
    if (!valid) return Malformed("SUBACK return code " + Hex(code) + " is not defined");
    s.codes.push_back(code);
  }
  if (s.codes.empty()) return Malformed("SUBACK has no return code");
  return Packet(std::move(s));
}

Result<Packet> DecodeUnsubscribe(Version version, std::string_view body) {
  Reader r(body);
  Unsubscribe u;
  ET_RETURN_IF_ERROR(PacketId(r, PacketType::kUnsubscribe, &u.packet_id));
  if (version == Version::k5) {
    Properties p;
    ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kUnsubscribe, "UNSUBSCRIBE", &p));
  }
  while (!r.empty()) {
    std::string filter;
    ET_RETURN_IF_ERROR(r.String("UNSUBSCRIBE topic filter", &filter));
    ET_RETURN_IF_ERROR(CheckTopicFilter(filter, "UNSUBSCRIBE topic filter"));
    u.filters.push_back(std::move(filter));
  }
  if (u.filters.empty()) return Malformed("UNSUBSCRIBE has no topic filter");
  return Packet(std::move(u));
}

Result<Packet> DecodeUnsuback(Version version, std::string_view body) {
  Reader r(body);
  Unsuback u;
  ET_RETURN_IF_ERROR(PacketId(r, PacketType::kUnsuback, &u.packet_id));
  if (version == Version::k311) {
    ET_RETURN_IF_ERROR(NoTrailingBytes(r, "UNSUBACK"));
    return Packet(std::move(u));
  }
  Properties p;
  ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kUnsuback, "UNSUBACK", &p));
  u.reason_string = p.reason_string.value_or("");
  for (char ch : r.Rest()) {
    const auto code = static_cast<uint8_t>(ch);
    if (!OneOf(code, {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91})) {
      return Malformed("UNSUBACK reason code " + Hex(code) + " is not defined");
    }
    u.codes.push_back(code);
  }
  if (u.codes.empty()) return Malformed("UNSUBACK has no reason code");
  return Packet(std::move(u));
}

Result<Packet> DecodeDisconnect(Version version, std::string_view body) {
  Reader r(body);
  Disconnect d;
  if (version == Version::k5 && !r.empty()) {
    ET_RETURN_IF_ERROR(r.U8("DISCONNECT reason code", &d.reason));
    if (!OneOf(d.reason, {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                          0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                          0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2})) {
      return Malformed("DISCONNECT reason code " + Hex(d.reason) + " is not defined");
    }
    if (!r.empty()) {
      Properties p;
      ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kDisconnect, "DISCONNECT", &p));
      d.reason_string = p.reason_string.value_or("");
    }
  }
  ET_RETURN_IF_ERROR(NoTrailingBytes(r, "DISCONNECT"));
  return Packet(std::move(d));
}

Result<Packet> DecodeAuth(std::string_view body) {
  Reader r(body);
  Auth a;
  if (!r.empty()) {
    ET_RETURN_IF_ERROR(r.U8("AUTH reason code", &a.reason));
    if (!OneOf(a.reason, {0x00, 0x18, 0x19})) {
      return Malformed("AUTH reason code " + Hex(a.reason) + " is not defined");
    }
    if (!r.empty()) {
      Properties p;
      ET_RETURN_IF_ERROR(ReadProperties(r, PropertyScope::kAuth, "AUTH", &p));
      a.auth_method = p.auth_method.value_or("");
      a.reason_string = p.reason_string.value_or("");
    }
  }
  ET_RETURN_IF_ERROR(NoTrailingBytes(r, "AUTH"));
  return Packet(std::move(a));
}

Status ExpectEmpty(PacketType type, std::string_view body) {
  if (body.empty()) return Status::Ok();
  return Malformed(Name(type) + " has a remaining length of " + std::to_string(body.size()) +
                   ", not 0");
}

}  // namespace

Result<std::optional<FixedHeader>> ParseFixedHeader(Version version, std::string_view data,
                                                    size_t max_packet_size) {
  if (data.empty()) return std::optional<FixedHeader>();
  const auto first = static_cast<uint8_t>(data[0]);
  const uint8_t type = first >> 4;
  const uint8_t flags = first & 0x0F;
  if (type == 0) return Malformed("packet type 0 is reserved");
  if (type == 15 && version == Version::k311) {
    return Malformed("packet type 15 is reserved in MQTT 3.1.1");
  }
  FixedHeader h;
  h.type = static_cast<PacketType>(type);
  h.flags = flags;
  const std::string name = Name(h.type);
  if (h.type == PacketType::kPublish) {
    const uint8_t qos = (flags >> 1) & 0x03;
    if (qos == 3) return Malformed("PUBLISH QoS 3 is invalid");
    if (qos == 0 && (flags & 0x08)) return Malformed("PUBLISH has DUP set on QoS 0");
  } else {
    const bool needs_two = h.type == PacketType::kPubrel || h.type == PacketType::kSubscribe ||
                           h.type == PacketType::kUnsubscribe;
    const uint8_t expected = needs_two ? 0x02 : 0x00;
    if (flags != expected) {
      return Malformed(name + " fixed header flags are " + Hex(flags) + ", not " + Hex(expected));
    }
  }
  uint32_t remaining = 0;
  ET_ASSIGN_OR_RETURN(size_t used, ParseVarInt(data.substr(1), "remaining length", &remaining));
  if (used == 0) return std::optional<FixedHeader>();
  h.remaining = remaining;
  h.header_size = 1 + used;
  if (h.total() > max_packet_size) {
    return Status(ErrorCode::kTooLarge, name + " of " + std::to_string(h.total()) +
                                            " bytes exceeds the packet size limit of " +
                                            std::to_string(max_packet_size));
  }
  return std::optional<FixedHeader>(h);
}

Result<Packet> DecodeBody(Version version, const FixedHeader& header, std::string_view body) {
  switch (header.type) {
    case PacketType::kConnect:
      return DecodeConnect(body);
    case PacketType::kConnack:
      return DecodeConnack(version, body);
    case PacketType::kPublish:
      return DecodePublish(version, header.flags, body);
    case PacketType::kPuback:
    case PacketType::kPubrec:
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      return DecodeAck(version, header.type, body);
    case PacketType::kSubscribe:
      return DecodeSubscribe(version, body);
    case PacketType::kSuback:
      return DecodeSuback(version, body);
    case PacketType::kUnsubscribe:
      return DecodeUnsubscribe(version, body);
    case PacketType::kUnsuback:
      return DecodeUnsuback(version, body);
    case PacketType::kPingreq:
      ET_RETURN_IF_ERROR(ExpectEmpty(header.type, body));
      return Packet(PingReq{});
    case PacketType::kPingresp:
      ET_RETURN_IF_ERROR(ExpectEmpty(header.type, body));
      return Packet(PingResp{});
    case PacketType::kDisconnect:
      return DecodeDisconnect(version, body);
    case PacketType::kAuth:
      return DecodeAuth(body);
  }
  return Malformed("packet type " + std::to_string(static_cast<int>(header.type)) + " is reserved");
}

}  // namespace edgetrust::mqtt::internal
