#include <string>

#include "mqtt/codec.h"
#include "mqtt/properties.h"
#include "mqtt/wire.h"

namespace edgetrust::mqtt {
namespace {

using internal::Properties;
using internal::PutBinary;
using internal::PutU16;
using internal::PutU8;
using internal::PutVarInt;
using internal::WriteProperties;

void Finish(PacketType type, uint8_t flags, const std::string& body, std::string* out) {
  PutU8(out, static_cast<uint8_t>((static_cast<uint8_t>(type) << 4) | flags));
  PutVarInt(out, static_cast<uint32_t>(body.size()));
  out->append(body);
}

std::optional<std::string> NonEmpty(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

}  // namespace

void EncodeConnect(const Connect& c, std::string* out) {
  const bool v5 = c.version == Version::k5;
  std::string body;
  PutBinary(&body, "MQTT");
  PutU8(&body, static_cast<uint8_t>(c.version));
  uint8_t flags = 0;
  if (c.clean_start) flags |= 0x02;
  if (c.has_will) {
    flags |= 0x04;
    flags |= static_cast<uint8_t>((c.will_qos & 0x03) << 3);
    if (c.will_retain) flags |= 0x20;
  }
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  PutU8(&body, flags);
  PutU16(&body, c.keep_alive);
  if (v5) {
    Properties p;
    if (c.session_expiry != 0) p.session_expiry = c.session_expiry;
    if (c.receive_maximum != 65535) p.receive_maximum = c.receive_maximum;
    if (c.maximum_packet_size != 0) p.maximum_packet_size = c.maximum_packet_size;
    if (c.topic_alias_maximum != 0) p.topic_alias_maximum = c.topic_alias_maximum;
    p.auth_method = c.auth_method;
    p.user_properties = c.user_properties;
    WriteProperties(p, &body);
  }
  PutBinary(&body, c.client_id);
  if (c.has_will) {
    if (v5) PutVarInt(&body, 0);  // no will properties
    PutBinary(&body, c.will_topic);
    PutBinary(&body, c.will_payload);
  }
  if (c.username) PutBinary(&body, *c.username);
  if (c.password) PutBinary(&body, *c.password);
  Finish(PacketType::kConnect, 0, body, out);
}

void EncodeConnack(Version version, const Connack& c, std::string* out) {
  std::string body;
  PutU8(&body, c.session_present ? 1 : 0);
  PutU8(&body, c.code);
  if (version == Version::k5) {
    Properties p;
    p.reason_string = NonEmpty(c.reason_string);
    p.session_expiry = c.session_expiry;
    if (c.receive_maximum != 65535) p.receive_maximum = c.receive_maximum;
    if (c.maximum_packet_size != 0) p.maximum_packet_size = c.maximum_packet_size;
    if (c.maximum_qos < 2) p.maximum_qos = c.maximum_qos;
    if (c.topic_alias_maximum != 0) p.topic_alias_maximum = c.topic_alias_maximum;
    p.server_keep_alive = c.server_keep_alive;
    p.assigned_client_id = NonEmpty(c.assigned_client_id);
    p.user_properties = c.user_properties;
    WriteProperties(p, &body);
  }
  Finish(PacketType::kConnack, 0, body, out);
}

void EncodePublish(Version version, const Publish& p, std::string* out) {
  std::string body;
  body.reserve(p.topic.size() + p.payload.size() + 16);
  PutBinary(&body, p.topic);
  if (p.qos > 0) PutU16(&body, p.packet_id);
  if (version == Version::k5) {
    Properties props;
    props.user_properties = p.user_properties;
    WriteProperties(props, &body);
  }
  body.append(p.payload);
  uint8_t flags = static_cast<uint8_t>((p.qos & 0x03) << 1);
  if (p.dup && p.qos > 0) flags |= 0x08;
  if (p.retain) flags |= 0x01;
  Finish(PacketType::kPublish, flags, body, out);
}

void EncodeAck(Version version, const Ack& a, std::string* out) {
  std::string body;
  PutU16(&body, a.packet_id);
  if (version == Version::k5 && (a.reason != 0 || !a.reason_string.empty())) {
    PutU8(&body, a.reason);
    if (!a.reason_string.empty()) {
      Properties p;
      p.reason_string = a.reason_string;
      WriteProperties(p, &body);
    }
  }
  Finish(a.type, a.type == PacketType::kPubrel ? 0x02 : 0x00, body, out);
}

void EncodeSubscribe(Version version, const Subscribe& s, std::string* out) {
  std::string body;
  PutU16(&body, s.packet_id);
  if (version == Version::k5) PutVarInt(&body, 0);
  for (const auto& [filter, qos] : s.filters) {
    PutBinary(&body, filter);
    PutU8(&body, qos & 0x03);
  }
  Finish(PacketType::kSubscribe, 0x02, body, out);
}

void EncodeSuback(Version version, const Suback& s, std::string* out) {
  std::string body;
  PutU16(&body, s.packet_id);
  if (version == Version::k5) {
    Properties p;
    p.reason_string = NonEmpty(s.reason_string);
    WriteProperties(p, &body);
  }
  for (uint8_t code : s.codes) PutU8(&body, code);
  Finish(PacketType::kSuback, 0, body, out);
}

void EncodeUnsubscribe(Version version, const Unsubscribe& u, std::string* out) {
  std::string body;
  PutU16(&body, u.packet_id);
  if (version == Version::k5) PutVarInt(&body, 0);
  for (const auto& filter : u.filters) PutBinary(&body, filter);
  Finish(PacketType::kUnsubscribe, 0x02, body, out);
}

void EncodeUnsuback(Version version, const Unsuback& u, std::string* out) {
  std::string body;
  PutU16(&body, u.packet_id);
  if (version == Version::k5) {
    Properties p;
    p.reason_string = NonEmpty(u.reason_string);
    WriteProperties(p, &body);
    for (uint8_t code : u.codes) PutU8(&body, code);
  }
  Finish(PacketType::kUnsuback, 0, body, out);
}

void EncodePingReq(std::string* out) { out->append("\xC0\x00", 2); }

void EncodePingResp(std::string* out) { out->append("\xD0\x00", 2); }

void EncodeDisconnect(Version version, const Disconnect& d, std::string* out) {
  std::string body;
  if (version == Version::k5 && (d.reason != 0 || !d.reason_string.empty())) {
    PutU8(&body, d.reason);
    if (!d.reason_string.empty()) {
      Properties p;
      p.reason_string = d.reason_string;
      WriteProperties(p, &body);
    }
  }
  Finish(PacketType::kDisconnect, 0, body, out);
}

void EncodeAuth(const Auth& a, std::string* out) {
  std::string body;
  if (a.reason != 0 || !a.auth_method.empty() || !a.reason_string.empty()) {
    PutU8(&body, a.reason);
    Properties p;
    p.auth_method = NonEmpty(a.auth_method);
    p.reason_string = NonEmpty(a.reason_string);
    WriteProperties(p, &body);
  }
  Finish(PacketType::kAuth, 0, body, out);
}

void EncodePacket(Version version, const Packet& packet, std::string* out) {
  struct Encoder {
    Version v;
    std::string* out;
    void operator()(const Connect& p) const { EncodeConnect(p, out); }
    void operator()(const Connack& p) const { EncodeConnack(v, p, out); }
    void operator()(const Publish& p) const { EncodePublish(v, p, out); }
    void operator()(const Ack& p) const { EncodeAck(v, p, out); }
    void operator()(const Subscribe& p) const { EncodeSubscribe(v, p, out); }
    void operator()(const Suback& p) const { EncodeSuback(v, p, out); }
    void operator()(const Unsubscribe& p) const { EncodeUnsubscribe(v, p, out); }
    void operator()(const Unsuback& p) const { EncodeUnsuback(v, p, out); }
    void operator()(const PingReq&) const { EncodePingReq(out); }
    void operator()(const PingResp&) const { EncodePingResp(out); }
    void operator()(const Disconnect& p) const { EncodeDisconnect(v, p, out); }
    void operator()(const Auth& p) const { EncodeAuth(p, out); }
  };
  std::visit(Encoder{version, out}, packet);
}

}  // namespace edgetrust::mqtt
