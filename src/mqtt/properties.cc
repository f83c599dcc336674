#include "mqtt/properties.h"

#include <bitset>
#include <cstdio>

namespace edgetrust::mqtt::internal {
namespace {

enum class Type : uint8_t { kByte, kTwoByte, kFourByte, kVarInt, kString, kBinary, kStringPair };

constexpr uint32_t Bit(PropertyScope s) { return 1u << static_cast<uint8_t>(s); }

using S = PropertyScope;
constexpr uint32_t kAcks = Bit(S::kPubackPubrec) | Bit(S::kPubrelPubcomp);

struct Spec {
  uint8_t id;
  const char* name;
  Type type;
  uint32_t scopes;
};

// MQTT 5 table 2-4.
constexpr Spec kSpecs[] = {
    {0x01, "payload format indicator", Type::kByte, Bit(S::kPublish) | Bit(S::kWill)},
    {0x02, "message expiry interval", Type::kFourByte, Bit(S::kPublish) | Bit(S::kWill)},
    {0x03, "content type", Type::kString, Bit(S::kPublish) | Bit(S::kWill)},
    {0x08, "response topic", Type::kString, Bit(S::kPublish) | Bit(S::kWill)},
    {0x09, "correlation data", Type::kBinary, Bit(S::kPublish) | Bit(S::kWill)},
    {0x0B, "subscription identifier", Type::kVarInt, Bit(S::kPublish) | Bit(S::kSubscribe)},
    {0x11, "session expiry interval", Type::kFourByte,
     Bit(S::kConnect) | Bit(S::kConnack) | Bit(S::kDisconnect)},
    {0x12, "assigned client identifier", Type::kString, Bit(S::kConnack)},
    {0x13, "server keep alive", Type::kTwoByte, Bit(S::kConnack)},
    {0x15, "authentication method", Type::kString,
     Bit(S::kConnect) | Bit(S::kConnack) | Bit(S::kAuth)},
    {0x16, "authentication data", Type::kBinary,
     Bit(S::kConnect) | Bit(S::kConnack) | Bit(S::kAuth)},
    {0x17, "request problem information", Type::kByte, Bit(S::kConnect)},
    {0x18, "will delay interval", Type::kFourByte, Bit(S::kWill)},
    {0x19, "request response information", Type::kByte, Bit(S::kConnect)},
    {0x1A, "response information", Type::kString, Bit(S::kConnack)},
    {0x1C, "server reference", Type::kString, Bit(S::kConnack) | Bit(S::kDisconnect)},
    {0x1F, "reason string", Type::kString,
     Bit(S::kConnack) | kAcks | Bit(S::kSuback) | Bit(S::kUnsuback) | Bit(S::kDisconnect) |
         Bit(S::kAuth)},
    {0x21, "receive maximum", Type::kTwoByte, Bit(S::kConnect) | Bit(S::kConnack)},
    {0x22, "topic alias maximum", Type::kTwoByte, Bit(S::kConnect) | Bit(S::kConnack)},
    {0x23, "topic alias", Type::kTwoByte, Bit(S::kPublish)},
    {0x24, "maximum QoS", Type::kByte, Bit(S::kConnack)},
    {0x25, "retain available", Type::kByte, Bit(S::kConnack)},
    {0x26, "user property", Type::kStringPair, ~0u},
    {0x27, "maximum packet size", Type::kFourByte, Bit(S::kConnect) | Bit(S::kConnack)},
    {0x28, "wildcard subscription available", Type::kByte, Bit(S::kConnack)},
    {0x29, "subscription identifier available", Type::kByte, Bit(S::kConnack)},
    {0x2A, "shared subscription available", Type::kByte, Bit(S::kConnack)},
};

const Spec* FindSpec(uint32_t id) {
  for (const auto& s : kSpecs) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::string Hex(uint32_t id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(id));
  return buf;
}

// A property value of any type, as read.
struct Value {
  uint32_t number = 0;
  std::string text;
  std::string second;  // the value of a string pair
};

Status ReadValue(Reader& r, const Spec& spec, const std::string& what, Value* v) {
  switch (spec.type) {
    case Type::kByte: {
      uint8_t b = 0;
      ET_RETURN_IF_ERROR(r.U8(what, &b));
      v->number = b;
      return Status::Ok();
    }
    case Type::kTwoByte: {
      uint16_t n = 0;
      ET_RETURN_IF_ERROR(r.U16(what, &n));
      v->number = n;
      return Status::Ok();
    }
    case Type::kFourByte:
      return r.U32(what, &v->number);
    case Type::kVarInt:
      return r.VarInt(what, &v->number);
    case Type::kString:
      return r.String(what, &v->text);
    case Type::kBinary:
      return r.Binary(what, &v->text);
    case Type::kStringPair:
      ET_RETURN_IF_ERROR(r.String(what + " name", &v->text));
      return r.String(what + " value", &v->second);
  }
  return Malformed(what + " has an unknown type");
}

bool IsFlag(uint8_t id) {
  return id == 0x01 || id == 0x17 || id == 0x19 || id == 0x24 || id == 0x25 || id == 0x28 ||
         id == 0x29 || id == 0x2A;
}

// Values the specification calls a protocol error.
Status CheckRange(const Spec& spec, const Value& v, const std::string& what) {
  if (IsFlag(spec.id) && v.number > 1) {
    return Malformed(what + " is " + std::to_string(v.number) + ", not 0 or 1");
  }
  const bool nonzero = spec.id == 0x0B || spec.id == 0x21 || spec.id == 0x23 || spec.id == 0x27;
  if (nonzero && v.number == 0) return Malformed(what + " is 0");
  return Status::Ok();
}

}  // namespace

Status ReadProperties(Reader& reader, PropertyScope scope, std::string_view packet,
                      Properties* out) {
  const std::string where(packet);
  uint32_t length = 0;
  ET_RETURN_IF_ERROR(reader.VarInt(where + " property length", &length));
  std::string_view bytes;
  if (length > reader.remaining()) {
    return Malformed(where + " property length " + std::to_string(length) + " exceeds the packet");
  }
  ET_RETURN_IF_ERROR(reader.Take(where + " properties", length, &bytes));
  Reader r(bytes);
  std::bitset<128> seen;
  bool has_auth_data = false;
  while (!r.empty()) {
    uint32_t id = 0;
    ET_RETURN_IF_ERROR(r.VarInt(where + " property identifier", &id));
    const Spec* spec = FindSpec(id);
    if (spec == nullptr) return Malformed(where + " has unknown property " + Hex(id));
    const std::string what = where + " " + spec->name;
    if ((spec->scopes & Bit(scope)) == 0) {
      return Malformed(std::string("property ") + Hex(id) + " (" + spec->name +
                       ") is not allowed in " + where);
    }
    const bool repeatable = id == 0x26 || (id == 0x0B && scope == S::kPublish);
    if (seen[id] && !repeatable) return Malformed(what + " appears more than once");
    seen[id] = true;
    Value v;
    ET_RETURN_IF_ERROR(ReadValue(r, *spec, what, &v));
    ET_RETURN_IF_ERROR(CheckRange(*spec, v, what));
    switch (id) {
      case 0x11:
        out->session_expiry = v.number;
        break;
      case 0x12:
        out->assigned_client_id = std::move(v.text);
        break;
      case 0x13:
        out->server_keep_alive = static_cast<uint16_t>(v.number);
        break;
      case 0x15:
        out->auth_method = std::move(v.text);
        break;
      case 0x16:
        has_auth_data = true;
        break;
      case 0x1F:
        out->reason_string = std::move(v.text);
        break;
      case 0x21:
        out->receive_maximum = static_cast<uint16_t>(v.number);
        break;
      case 0x22:
        out->topic_alias_maximum = static_cast<uint16_t>(v.number);
        break;
      case 0x23:
        out->topic_alias = static_cast<uint16_t>(v.number);
        break;
      case 0x24:
        out->maximum_qos = static_cast<uint8_t>(v.number);
        break;
      case 0x26:
        out->user_properties.emplace_back(std::move(v.text), std::move(v.second));
        break;
      case 0x27:
        out->maximum_packet_size = v.number;
        break;
      case 0x08:
        if (!IsValidTopicName(v.text)) return Malformed(what + " is not a valid topic name");
        break;
      default:
        break;  // validated, not kept
    }
  }
  if (has_auth_data && !out->auth_method) {
    return Malformed(where + " has authentication data without an authentication method");
  }
  return Status::Ok();
}

void WriteProperties(const Properties& p, std::string* out) {
  std::string body;
  auto byte = [&](uint8_t id, uint8_t v) {
    PutU8(&body, id);
    PutU8(&body, v);
  };
  auto two = [&](uint8_t id, uint16_t v) {
    PutU8(&body, id);
    PutU16(&body, v);
  };
  auto four = [&](uint8_t id, uint32_t v) {
    PutU8(&body, id);
    PutU32(&body, v);
  };
  auto text = [&](uint8_t id, std::string_view v) {
    PutU8(&body, id);
    PutBinary(&body, v);
  };
  if (p.session_expiry) four(0x11, *p.session_expiry);
  if (p.assigned_client_id) text(0x12, *p.assigned_client_id);
  if (p.server_keep_alive) two(0x13, *p.server_keep_alive);
  if (p.auth_method) text(0x15, *p.auth_method);
  if (p.reason_string) text(0x1F, *p.reason_string);
  if (p.receive_maximum) two(0x21, *p.receive_maximum);
  if (p.topic_alias_maximum) two(0x22, *p.topic_alias_maximum);
  if (p.topic_alias) two(0x23, *p.topic_alias);
  if (p.maximum_qos) byte(0x24, *p.maximum_qos);
  for (const auto& [name, value] : p.user_properties) {
    PutU8(&body, 0x26);
    PutBinary(&body, name);
    PutBinary(&body, value);
  }
  if (p.maximum_packet_size) four(0x27, *p.maximum_packet_size);
  PutVarInt(out, static_cast<uint32_t>(body.size()));
  out->append(body);
}

}  // namespace edgetrust::mqtt::internal
