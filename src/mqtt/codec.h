// The MQTT packet codec of the gateway: the subset of MQTT 3.1.1 (protocol level 4) and MQTT 5
// (level 5) that a leaf hub and its sensors need (docs/mqtt.md).
//
// Packets: CONNECT, CONNACK, PUBLISH (QoS 0 and 1; QoS 2 and its PUBREC/PUBREL/PUBCOMP are
// decoded so that callers can refuse them by name), PUBACK, SUBSCRIBE, SUBACK, UNSUBSCRIBE,
// UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, and AUTH (MQTT 5; decoded so that callers can refuse
// enhanced authentication). MQTT 5 properties are all parsed and validated (known identifier,
// allowed in that packet, not repeated unless the specification allows it, value in range); the
// few the gateway uses are kept in the structs below, the others are skipped. A PUBLISH using a
// topic alias is refused (kUnsupported): nobody is ever offered one.
//
// Decoding validates what the specification requires of a receiver: the remaining length in at
// most 4 bytes and minimally encoded, the fixed-header flags of each type, QoS 3, DUP on QoS 0,
// packet id 0 where one is needed, UTF-8 strings (well-formed, no U+0000), topic names without
// wildcards, topic filters with well-placed wildcards, at least one filter per SUBSCRIBE and
// UNSUBSCRIBE, reason codes defined for the packet, and no bytes left over. Errors name the
// problem ("PUBLISH topic contains a wildcard").
//
// Encoding appends one packet to a string. The encoders trust their input: callers pass packets
// they decoded, or values they checked (Client does: topics with IsValidTopicName, sizes against
// the limits); strings must be at most 65535 bytes and a packet at most 256 MiB.
//
// Thread safety: the free functions are thread-safe; a Decoder is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::mqtt {

enum class Version : uint8_t { k311 = 4, k5 = 5 };

enum class PacketType : uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,  // MQTT 5 only
};

// The default and the upper bound of the decoder's packet size limit (the whole packet: fixed
// header, remaining length and body).
inline constexpr size_t kDefaultMaxPacketSize = 256 * 1024;
// MQTT's own ceiling: a remaining length of 268,435,455 plus 5 header bytes.
inline constexpr size_t kMaxRemainingLength = 268'435'455;

using UserProperties = std::vector<std::pair<std::string, std::string>>;

struct Connect {
  Version version = Version::k311;
  std::string client_id{};  // may be empty (the server then decides)
  bool clean_start = true;
  uint16_t keep_alive = 0;  // seconds; 0 disables keep-alive
  std::optional<std::string> username{};
  std::optional<std::string> password{};  // binary data in MQTT; here an enrollment token or secret
  bool has_will = false;
  uint8_t will_qos = 0;
  bool will_retain = false;
  std::string will_topic{};
  std::string will_payload{};
  // MQTT 5 properties (ignored when encoding 3.1.1).
  uint32_t session_expiry = 0;
  uint16_t receive_maximum = 65535;
  uint32_t maximum_packet_size = 0;  // 0: none announced
  uint16_t topic_alias_maximum = 0;
  std::optional<std::string> auth_method{};  // enhanced authentication; the hub refuses it
  UserProperties user_properties{};
  bool operator==(const Connect&) const = default;
};

struct Connack {
  bool session_present = false;
  // 3.1.1: the return code (0 accepted, 1..5 refusals). 5: the reason code (0 success, >= 0x80
  // refusals). ConnackCodeText() names both.
  uint8_t code = 0;
  std::string reason_string{};  // MQTT 5
  // MQTT 5 properties (ignored when encoding 3.1.1).
  std::optional<uint32_t> session_expiry{};
  uint16_t receive_maximum = 65535;
  uint32_t maximum_packet_size = 0;  // 0: no limit announced
  uint8_t maximum_qos = 2;
  uint16_t topic_alias_maximum = 0;
  std::optional<uint16_t> server_keep_alive{};  // the keep-alive the client must use instead
  std::string assigned_client_id{};
  UserProperties user_properties{};
  bool operator==(const Connack&) const = default;
};

struct Publish {
  uint8_t qos = 0;
  bool dup = false;
  bool retain = false;
  std::string topic{};
  uint16_t packet_id = 0;  // 0 for QoS 0 (not on the wire); never 0 for QoS > 0
  std::string payload{};
  UserProperties user_properties{};  // MQTT 5
  bool operator==(const Publish&) const = default;
};

// PUBACK, and PUBREC / PUBREL / PUBCOMP (decoded only to be refused).
struct Ack {
  PacketType type = PacketType::kPuback;
  uint16_t packet_id = 0;
  uint8_t reason = 0;           // MQTT 5; 0 is success, >= 0x80 a refusal
  std::string reason_string{};  // MQTT 5
  bool operator==(const Ack&) const = default;
};

struct Subscribe {
  uint16_t packet_id = 0;
  // Filter and requested QoS. MQTT 5's other subscription options (no local, retain as
  // published, retain handling) are validated and dropped: the gateway does not offer them.
  std::vector<std::pair<std::string, uint8_t>> filters{};
  bool operator==(const Subscribe&) const = default;
};

struct Suback {
  uint16_t packet_id = 0;
  std::vector<uint8_t> codes{};  // granted QoS (0..2) or a failure (0x80; MQTT 5: >= 0x80)
  std::string reason_string{};   // MQTT 5
  bool operator==(const Suback&) const = default;
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  std::vector<std::string> filters{};
  bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
  uint16_t packet_id = 0;
  std::vector<uint8_t> codes{};  // MQTT 5 only (3.1.1 has none: empty when decoded)
  std::string reason_string{};   // MQTT 5
  bool operator==(const Unsuback&) const = default;
};

struct PingReq {
  bool operator==(const PingReq&) const = default;
};
struct PingResp {
  bool operator==(const PingResp&) const = default;
};

struct Disconnect {
  uint8_t reason = 0;           // MQTT 5 (3.1.1's DISCONNECT has none)
  std::string reason_string{};  // MQTT 5
  bool operator==(const Disconnect&) const = default;
};

// MQTT 5 enhanced authentication, which the gateway does not support.
struct Auth {
  uint8_t reason = 0;
  std::string auth_method{};
  std::string reason_string{};
  bool operator==(const Auth&) const = default;
};

using Packet = std::variant<Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe,
                            Unsuback, PingReq, PingResp, Disconnect, Auth>;

// Splits a byte stream into packets: one per connection and direction. Not thread-safe.
//
// Bytes read from the connection go in with Feed(); Next() then returns the packets they complete,
// one at a time, until it returns nullopt (more bytes needed). The packet size limit is checked
// from the fixed header, before the body is waited for, so a caller that calls Next() after
// every Feed() never buffers more than the limit plus the bytes of one Feed().
//
// Errors: kMalformed (a violation of the specification), kTooLarge (over the limit), kUnsupported
// (MQTT 3.1 or another protocol level, a topic alias). An error is final: the stream cannot be
// resynchronised, so Next() keeps returning it and the caller closes the connection.
class Decoder {
 public:
  explicit Decoder(size_t max_packet_size = kDefaultMaxPacketSize);

  // The version packets are decoded as (default 3.1.1). A client sets the one it connected with;
  // a server the one of the CONNECT it decoded (decoding a CONNECT also sets it).
  void set_version(Version v) { version_ = v; }
  Version version() const { return version_; }

  void Feed(const char* data, size_t n);
  Result<std::optional<Packet>> Next();
  // Bytes fed and not yet returned as packets.
  size_t buffered() const { return buffer_.size() - begin_; }
  size_t max_packet_size() const { return max_packet_size_; }

 private:
  size_t max_packet_size_;
  Version version_ = Version::k311;
  std::string buffer_;
  size_t begin_ = 0;
  Status error_;
};

// Decodes one whole packet (fixed header included) that must fill `bytes` exactly.
Result<Packet> DecodePacket(Version version, std::string_view bytes,
                            size_t max_packet_size = kDefaultMaxPacketSize);

void EncodeConnect(const Connect& packet, std::string* out);  // in packet.version
void EncodeConnack(Version version, const Connack& packet, std::string* out);
void EncodePublish(Version version, const Publish& packet, std::string* out);
void EncodeAck(Version version, const Ack& packet, std::string* out);
void EncodeSubscribe(Version version, const Subscribe& packet, std::string* out);
void EncodeSuback(Version version, const Suback& packet, std::string* out);
void EncodeUnsubscribe(Version version, const Unsubscribe& packet, std::string* out);
void EncodeUnsuback(Version version, const Unsuback& packet, std::string* out);
void EncodePingReq(std::string* out);
void EncodePingResp(std::string* out);
void EncodeDisconnect(Version version, const Disconnect& packet, std::string* out);
void EncodeAuth(const Auth& packet, std::string* out);  // MQTT 5 only
// Any packet, by its type (a Connect in its own version).
void EncodePacket(Version version, const Packet& packet, std::string* out);

// Well-formed UTF-8 without U+0000, at most 65535 bytes: what MQTT allows in a string.
bool IsValidMqttString(std::string_view s);
// A topic to publish to: a valid string of 1..65535 bytes without '+' or '#'.
bool IsValidTopicName(std::string_view topic);
// A topic to subscribe to: '+' only as a whole level, '#' only as the whole last level.
bool IsValidTopicFilter(std::string_view filter);
// Whether `topic` (a valid name) matches `filter` (a valid filter). Topics starting with '$'
// match no filter that starts with a wildcard.
bool TopicMatches(std::string_view filter, std::string_view topic);

// "CONNECT", "PUBACK", ... for logs and errors.
std::string_view PacketName(const Packet& packet);
std::string_view PacketTypeName(PacketType type);

// What a CONNACK code means, e.g. "bad user name or password" (3.1.1 code 4, MQTT 5 0x86).
std::string_view ConnackCodeText(Version version, uint8_t code);
// What an MQTT 5 reason code means in a PUBACK, SUBACK, UNSUBACK or DISCONNECT, e.g.
// "not authorized" (0x87).
std::string_view ReasonCodeText(uint8_t code);

}  // namespace edgetrust::mqtt
