// The MQTT codec: byte-exact packets captured from mosquitto_pub and the mosquitto broker (2.0.11)
// and the specification's examples, round trips of every packet in both versions, every malformed
// case the decoder refuses, split feeding, the packet size limit, and topics.
#include "mqtt/codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/hex.h"

namespace edgetrust::mqtt {
namespace {

std::string Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << hex;
  return bytes.ok() ? std::string(bytes->begin(), bytes->end()) : std::string();
}

std::string ToHex(const std::string& s) { return HexEncode(AsBytes(s)); }

// One byte as two hex digits.
std::string Hex2(size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return {kDigits[(n >> 4) & 0xF], kDigits[n & 0xF]};
}

// Decodes exactly one packet from `hex` fed at once, checking nothing is left over.
Packet DecodeOne(Version v, std::string_view hex) {
  Decoder d;
  d.set_version(v);
  const std::string bytes = Unhex(hex);
  d.Feed(bytes.data(), bytes.size());
  auto next = d.Next();
  EXPECT_TRUE(next.ok()) << hex << ": " << next.status().ToString();
  if (!next.ok() || !next->has_value()) {
    ADD_FAILURE() << "no packet in " << hex;
    return PingReq{};
  }
  EXPECT_EQ(d.buffered(), 0u);
  return std::move(**next);
}

Status DecodeError(Version v, std::string_view hex, size_t max = kDefaultMaxPacketSize) {
  Decoder d(max);
  d.set_version(v);
  const std::string bytes = Unhex(hex);
  d.Feed(bytes.data(), bytes.size());
  auto next = d.Next();
  if (next.ok()) {
    ADD_FAILURE() << hex << " decoded as "
                  << (next->has_value() ? PacketName(**next) : "nothing (incomplete)");
    return Status::Ok();
  }
  // An error is final.
  auto again = d.Next();
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), next.status().message());
  return next.status();
}

std::string Encoded(Version v, const Packet& p) {
  std::string out;
  EncodePacket(v, p, &out);
  return out;
}

// --- Captured bytes --------------------------------------------------------------------------

// mosquitto_pub -V mqttv311 -i sensor-1 -u alice -P s3cret -k 30 -q 1 -t a/b -m hello
constexpr char kConnect311[] =
    "102300044d51545404c2001e000873656e736f722d310005616c6963650006733363726574";
constexpr char kPublish311[] = "320c0003612f62000168656c6c6f";
// The same with -V mqttv5 -D publish user-property k v -D connect session-expiry-interval 60.
constexpr char kConnect5[] =
    "102c00044d51545405c2001e08110000003c210014000873656e736f722d310005616c6963650006733363726574";
constexpr char kPublish5[] = "32140003612f620001072600016b00017668656c6c6f";

TEST(CapturedTest, MosquittoPubConnect311) {
  Packet p = DecodeOne(Version::k311, kConnect311);
  const auto& c = std::get<Connect>(p);
  EXPECT_EQ(c.version, Version::k311);
  EXPECT_EQ(c.client_id, "sensor-1");
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 30);
  EXPECT_EQ(c.username, std::optional<std::string>("alice"));
  EXPECT_EQ(c.password, std::optional<std::string>("s3cret"));
  EXPECT_FALSE(c.has_will);
  EXPECT_EQ(ToHex(Encoded(Version::k311, c)), kConnect311);
}

TEST(CapturedTest, MosquittoPubConnect5) {
  Decoder d;  // starts as 3.1.1: the CONNECT says which version follows
  const std::string bytes = Unhex(kConnect5) + Unhex(kPublish5);
  d.Feed(bytes.data(), bytes.size());
  auto first = d.Next();
  ASSERT_TRUE(first.ok() && first->has_value()) << first.status().ToString();
  const auto& c = std::get<Connect>(**first);
  EXPECT_EQ(c.version, Version::k5);
  EXPECT_EQ(d.version(), Version::k5);
  EXPECT_EQ(c.session_expiry, 60u);
  EXPECT_EQ(c.receive_maximum, 20);
  EXPECT_EQ(c.keep_alive, 30);
  EXPECT_EQ(c.username, std::optional<std::string>("alice"));
  EXPECT_EQ(ToHex(Encoded(Version::k5, c)), kConnect5);
  auto second = d.Next();
  ASSERT_TRUE(second.ok() && second->has_value()) << second.status().ToString();
  const auto& pub = std::get<Publish>(**second);
  EXPECT_EQ(pub.user_properties, (UserProperties{{"k", "v"}}));
  EXPECT_EQ(pub.payload, "hello");
}

TEST(CapturedTest, MosquittoPubPublish) {
  Packet p = DecodeOne(Version::k311, kPublish311);
  const auto& pub = std::get<Publish>(p);
  EXPECT_EQ(pub.qos, 1);
  EXPECT_FALSE(pub.dup);
  EXPECT_FALSE(pub.retain);
  EXPECT_EQ(pub.topic, "a/b");
  EXPECT_EQ(pub.packet_id, 1);
  EXPECT_EQ(pub.payload, "hello");
  EXPECT_EQ(ToHex(Encoded(Version::k311, pub)), kPublish311);
  Publish five = pub;
  five.user_properties = {{"k", "v"}};
  EXPECT_EQ(ToHex(Encoded(Version::k5, five)), kPublish5);
}

TEST(CapturedTest, MosquittoBrokerAnswers311) {
  // CONNACK, SUBACK (granted QoS 1), PUBLISH delivered, PUBACK, UNSUBACK, PINGRESP.
  const std::string stream =
      Unhex("200200009003000101320c0003612f62000168656c6c6f40020002b0020003d000");
  Decoder d;
  d.Feed(stream.data(), stream.size());
  std::vector<Packet> got;
  while (true) {
    auto next = d.Next();
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    if (!next->has_value()) break;
    got.push_back(std::move(**next));
  }
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(std::get<Connack>(got[0]), Connack{});
  EXPECT_EQ(std::get<Suback>(got[1]), (Suback{1, {1}}));
  EXPECT_EQ(std::get<Publish>(got[2]).packet_id, 1);
  EXPECT_EQ(std::get<Ack>(got[3]), (Ack{PacketType::kPuback, 2, 0}));
  EXPECT_EQ(std::get<Unsuback>(got[4]).packet_id, 3);
  EXPECT_TRUE(std::holds_alternative<PingResp>(got[5]));
  std::string again;
  for (const auto& p : got) EncodePacket(Version::k311, p, &again);
  EXPECT_EQ(again, stream);
}

TEST(CapturedTest, MosquittoBrokerAnswers5) {
  // CONNACK with topic alias maximum 10 and receive maximum 20.
  const Connack connack = std::get<Connack>(DecodeOne(Version::k5, "200900000622000a210014"));
  EXPECT_EQ(connack.code, 0);
  EXPECT_EQ(connack.topic_alias_maximum, 10);
  EXPECT_EQ(connack.receive_maximum, 20);
  EXPECT_EQ(std::get<Connack>(DecodeOne(Version::k5, ToHex(Encoded(Version::k5, connack)))),
            connack);
  EXPECT_EQ(std::get<Suback>(DecodeOne(Version::k5, "900400010001")), (Suback{1, {1}}));
  EXPECT_EQ(std::get<Ack>(DecodeOne(Version::k5, "40020002")), (Ack{PacketType::kPuback, 2, 0}));
  EXPECT_EQ(std::get<Unsuback>(DecodeOne(Version::k5, "b00400030000")), (Unsuback{3, {0}}));
  EXPECT_EQ(ToHex(Encoded(Version::k5, Unsuback{3, {0}})), "b00400030000");
  EXPECT_EQ(ToHex(Encoded(Version::k5, Suback{1, {1}})), "900400010001");
  EXPECT_EQ(ToHex(Encoded(Version::k5, Ack{PacketType::kPuback, 2, 0})), "40020002");
}

TEST(CapturedTest, FixedPackets) {
  std::string out;
  EncodePingReq(&out);
  EncodePingResp(&out);
  EncodeDisconnect(Version::k311, Disconnect{}, &out);
  EncodeDisconnect(Version::k5, Disconnect{}, &out);  // mosquitto_pub -V 5 sends this too
  EXPECT_EQ(ToHex(out), "c000d000e000e000");
  EXPECT_TRUE(std::holds_alternative<PingReq>(DecodeOne(Version::k311, "c000")));
  EXPECT_EQ(std::get<Disconnect>(DecodeOne(Version::k5, "e000")), Disconnect{});
  // MQTT 5 DISCONNECT with a reason (0x87 not authorized) and with a reason string.
  EXPECT_EQ(ToHex(Encoded(Version::k5, Disconnect{0x87})), "e00187");
  EXPECT_EQ(std::get<Disconnect>(DecodeOne(Version::k5, "e00187")), Disconnect{0x87});
  EXPECT_EQ(std::get<Disconnect>(DecodeOne(Version::k5,
                                           "e006"
                                           "87041f000162")),
            (Disconnect{0x87, "b"}));
}

// The specification's remaining-length examples (MQTT 3.1.1 table 2.4): the header of a PUBLISH
// whose body has each length.
TEST(SpecTest, RemainingLengthEncoding) {
  const std::vector<std::pair<size_t, std::string>> cases = {
      {2 + 1 + 124, "307f"}, {2 + 1 + 125, "308001"}, {16383, "30ff7f"},
      {16384, "30808001"},   {2097151, "30ffff7f"},   {2097152, "3080808001"}};
  for (const auto& [length, header] : cases) {
    Publish p;
    p.topic = "t";
    p.payload.assign(length - 3, 'x');
    std::string out;
    EncodePublish(Version::k311, p, &out);
    EXPECT_EQ(ToHex(out.substr(0, header.size() / 2)), header) << length;
    EXPECT_EQ(out.size(), header.size() / 2 + length);
    auto back = DecodePacket(Version::k311, out, 4 * 1024 * 1024);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(std::get<Publish>(*back), p);
  }
  // 268,435,455, the largest: accepted by the header, refused by the size limit.
  Status st = DecodeError(Version::k311, "30ffffff7f");
  EXPECT_EQ(st.code(), ErrorCode::kTooLarge);
  EXPECT_NE(st.message().find("268435460 bytes exceeds the packet size limit of 262144"),
            std::string::npos)
      << st.message();
}

// --- Round trips -----------------------------------------------------------------------------

std::vector<Packet> SamplePackets(Version v) {
  const bool v5 = v == Version::k5;
  std::vector<Packet> out;
  Connect c;
  c.version = v;
  c.client_id = "leaf-7";
  c.clean_start = false;
  c.keep_alive = 45;
  c.username = "leaf-7";
  c.password = std::string("tok\0en\xff", 7);
  c.has_will = true;
  c.will_qos = 1;
  c.will_retain = true;
  c.will_topic = "leaf-7/status";
  c.will_payload = std::string("gone\0", 5);
  if (v5) {
    c.session_expiry = 3600;
    c.receive_maximum = 10;
    c.maximum_packet_size = 65536;
    c.topic_alias_maximum = 0;
    c.user_properties = {{"model", "t-1000"}, {"model", "again"}};
  }
  out.push_back(c);
  Connect minimal;
  minimal.version = v;
  out.push_back(minimal);
  Connack ack;
  ack.session_present = true;
  if (v5) {
    ack.reason_string = "welcome";
    ack.session_expiry = 0;
    ack.receive_maximum = 100;
    ack.maximum_packet_size = 1 << 20;
    ack.maximum_qos = 1;
    ack.server_keep_alive = 20;
    ack.assigned_client_id = "auto-1";
    ack.user_properties = {{"a", "b"}};
  }
  out.push_back(ack);
  Connack refused;
  refused.code = v5 ? 0x87 : 5;
  out.push_back(refused);
  Publish p0;
  p0.topic = "leaf-7/temperature";
  p0.payload = std::string("\x00\x01\xfe\xff", 4);
  p0.retain = true;
  out.push_back(p0);
  Publish p1;
  p1.qos = 1;
  p1.dup = true;
  p1.packet_id = 65535;
  p1.topic = "a/b/c";
  if (v5) p1.user_properties = {{"k", ""}, {"", "v"}};
  out.push_back(p1);
  Publish p2;
  p2.qos = 2;
  p2.packet_id = 9;
  p2.topic = "x";
  out.push_back(p2);
  for (auto type :
       {PacketType::kPuback, PacketType::kPubrec, PacketType::kPubrel, PacketType::kPubcomp}) {
    out.push_back(Ack{type, 7, 0});
  }
  if (v5) {
    out.push_back(Ack{PacketType::kPuback, 8, 0x87, "not yours"});
    out.push_back(Ack{PacketType::kPuback, 8, 0x10});
    out.push_back(Ack{PacketType::kPubcomp, 8, 0x92});
  }
  out.push_back(Subscribe{5, {{"leaf-7/commands/#", 1}, {"+/x", 0}, {"#", 2}}});
  out.push_back(Suback{5, {1, 0, 0x80}, v5 ? "partly" : ""});
  out.push_back(Unsubscribe{6, {"leaf-7/commands/#", "a/+"}});
  out.push_back(Unsuback{6, v5 ? std::vector<uint8_t>{0, 0x11} : std::vector<uint8_t>{}});
  out.push_back(PingReq{});
  out.push_back(PingResp{});
  out.push_back(Disconnect{});
  if (v5) {
    out.push_back(Disconnect{0x8B, "shutting down"});
    out.push_back(Auth{});
    out.push_back(Auth{0x18, "SCRAM-SHA-1", ""});
  }
  return out;
}

class RoundTripTest : public ::testing::TestWithParam<Version> {};

TEST_P(RoundTripTest, EveryPacketDecodesToItself) {
  for (const Packet& p : SamplePackets(GetParam())) {
    const std::string bytes = Encoded(GetParam(), p);
    auto back = DecodePacket(GetParam(), bytes);
    ASSERT_TRUE(back.ok()) << PacketName(p) << " " << ToHex(bytes) << ": "
                           << back.status().ToString();
    EXPECT_TRUE(*back == p) << PacketName(p) << " " << ToHex(bytes);
    EXPECT_EQ(Encoded(GetParam(), *back), bytes);
  }
}

TEST_P(RoundTripTest, SplitFeedingGivesTheSamePackets) {
  std::string stream;
  const auto packets = SamplePackets(GetParam());
  for (const Packet& p : packets) {
    // A CONNECT switches the decoder to its own version: keep the stream in one version.
    EncodePacket(GetParam(), p, &stream);
  }
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, stream.size()}) {
    Decoder d;
    d.set_version(GetParam());
    std::vector<Packet> got;
    for (size_t at = 0; at < stream.size(); at += chunk) {
      d.Feed(stream.data() + at, std::min(chunk, stream.size() - at));
      while (true) {
        auto next = d.Next();
        ASSERT_TRUE(next.ok()) << "chunk " << chunk << ": " << next.status().ToString();
        if (!next->has_value()) break;
        got.push_back(std::move(**next));
      }
    }
    EXPECT_EQ(d.buffered(), 0u);
    ASSERT_EQ(got.size(), packets.size()) << "chunk " << chunk;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i] == packets[i]) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, RoundTripTest, ::testing::Values(Version::k311, Version::k5),
                         [](const auto& param_info) {
                           return param_info.param == Version::k5 ? std::string("Mqtt5")
                                                                  : std::string("Mqtt311");
                         });

// --- Malformed input -------------------------------------------------------------------------

struct BadCase {
  const char* what;
  Version version;
  const char* hex;
  ErrorCode code;
  const char* message;  // a part of the error message
};

constexpr Version k3 = Version::k311;
constexpr Version k5 = Version::k5;
constexpr ErrorCode kBad = ErrorCode::kMalformed;

const BadCase kBadCases[] = {
    // Fixed header.
    {"reserved type 0", k3, "0000", kBad, "packet type 0 is reserved"},
    {"type 15 in 3.1.1", k3, "f000", kBad, "packet type 15 is reserved in MQTT 3.1.1"},
    {"5 length bytes", k3, "30ffffffff01", kBad, "remaining length exceeds 4 bytes"},
    {"non-minimal length", k3, "c08000", kBad, "remaining length is not minimally encoded"},
    {"QoS 3", k3, "36050001610001", kBad, "PUBLISH QoS 3 is invalid"},
    {"DUP on QoS 0", k3, "3803000161", kBad, "PUBLISH has DUP set on QoS 0"},
    {"SUBSCRIBE flags", k3, "8006000100016100", kBad, "SUBSCRIBE fixed header flags are 0x00"},
    {"PUBREL flags", k3, "60020001", kBad, "PUBREL fixed header flags are 0x00, not 0x02"},
    {"PINGREQ flags", k3, "c100", kBad, "PINGREQ fixed header flags are 0x01, not 0x00"},
    {"PINGREQ body", k3, "c00100", kBad, "PINGREQ has a remaining length of 1, not 0"},
    // CONNECT.
    {"protocol name", k3, "100d00044d51545a04020000000178", kBad, "protocol name is \"MQTZ\""},
    {"MQTT 3.1", k3, "100f00064d514973647003020000000178", ErrorCode::kUnsupported,
     "MQTT 3.1 (protocol name MQIsdp) is not supported"},
    {"level 6", k3, "100d00044d51545406020000000178", ErrorCode::kUnsupported,
     "CONNECT protocol level 6 is not supported"},
    {"reserved flag", k3, "100d00044d51545404030000000178", kBad, "CONNECT reserved flag is set"},
    {"will QoS without will", k3, "100d00044d515454040a0000000178", kBad,
     "will QoS or will retain flag without a will"},
    {"will QoS 3", k3, "101200044d515454041e00000001780001740000", kBad,
     "CONNECT will QoS 3 is invalid"},
    {"password without user", k3,
     "100f00044d5154540442000000017800"
     "00",
     kBad, "password without a user name"},
    {"client id truncated", k3, "100d00044d51545404020000000578", kBad,
     "CONNECT client identifier is truncated"},
    {"client id NUL", k3, "100d00044d51545404020000000100", kBad,
     "CONNECT client identifier contains U+0000"},
    {"client id overlong UTF-8", k3,
     "100e00044d51545404020000"
     "0002c080",
     kBad, "not well-formed UTF-8"},
    {"will topic wildcard", k3,
     "101200044d5154540406000000017800012300"
     "00",
     kBad, "CONNECT will topic contains a wildcard"},
    {"trailing bytes", k3, "100e00044d5154540402000000017878", kBad,
     "CONNECT has 1 unexpected bytes at its end"},
    // CONNACK.
    {"CONNACK flags", k3, "20020200", kBad, "CONNACK reserved flags are set"},
    {"CONNACK code 6", k3, "20020006", kBad, "CONNACK return code 6 is reserved"},
    {"CONNACK refused with session", k3, "20020105", kBad, "sets session present"},
    {"CONNACK 3.1.1 length", k3, "2003000000", kBad, "CONNACK has 1 unexpected bytes"},
    {"CONNACK 5 reason", k5, "2003000100", kBad, "CONNACK reason code 0x01 is not defined"},
    {"CONNACK 5 no properties", k5, "20020000", kBad, "CONNACK property length is truncated"},
    // PUBLISH.
    {"topic wildcard +", k3,
     "3005000361"
     "2b62",
     kBad, "PUBLISH topic contains a wildcard"},
    {"topic wildcard #", k3, "3003000123", kBad, "PUBLISH topic contains a wildcard"},
    {"topic empty", k3, "30020000", kBad, "PUBLISH topic is empty"},
    {"topic NUL", k3, "3003000100", kBad, "PUBLISH topic contains U+0000"},
    {"topic surrogate", k3, "30050003eda080", kBad, "PUBLISH topic is not well-formed UTF-8"},
    {"topic past body", k3, "3003000561", kBad, "PUBLISH topic is truncated"},
    {"packet id 0", k3, "32050001610000", kBad, "PUBLISH packet identifier is 0"},
    {"packet id missing", k3, "3203000161", kBad, "PUBLISH packet identifier is truncated"},
    {"topic alias", k5,
     "3008000161"
     "0323000178",
     ErrorCode::kUnsupported, "PUBLISH uses topic alias 1, which is not supported"},
    {"topic alias 0", k5,
     "30060000"
     "03230000",
     kBad, "PUBLISH topic alias is 0"},
    {"unknown property", k5,
     "3005000161"
     "017f",
     kBad, "PUBLISH has unknown property 0x7F"},
    {"property not allowed", k5,
     "300700016103"
     "210001",
     kBad, "property 0x21 (receive maximum) is not allowed in PUBLISH"},
    {"property length past packet", k5,
     "3004000161"
     "09",
     kBad, "PUBLISH property length 9 exceeds the packet"},
    {"payload format 2", k5,
     "3006000161"
     "020102",
     kBad, "PUBLISH payload format indicator is 2, not 0 or 1"},
    {"duplicate property", k5,
     "3008000161"
     "04"
     "0101"
     "0101",
     kBad, "PUBLISH payload format indicator"},
    {"response topic wildcard", k5,
     "300a000161"
     "06080003612f23",
     kBad, "PUBLISH response topic is not a valid topic name"},
    {"subscription id 0", k5,
     "3006000161"
     "020b00",
     kBad, "PUBLISH subscription identifier is 0"},
    {"user property truncated", k5,
     "3007000161"
     "03260005",
     kBad, "PUBLISH user property name is truncated"},
    // Acknowledgements.
    {"PUBACK id 0", k3, "40020000", kBad, "PUBACK packet identifier is 0"},
    {"PUBACK 3.1.1 length", k3, "4003000100", kBad, "PUBACK has 1 unexpected bytes"},
    {"PUBACK short", k3, "400100", kBad, "PUBACK packet identifier is truncated"},
    {"PUBACK 5 reason", k5, "4003000101", kBad, "PUBACK reason code 0x01 is not defined"},
    {"PUBCOMP 5 reason", k5, "7003000187", kBad, "PUBCOMP reason code 0x87 is not defined"},
    {"PUBACK 5 property", k5,
     "400600018702"
     "0101",
     kBad, "property 0x01 (payload format indicator) is not allowed in PUBACK"},
    // SUBSCRIBE and friends.
    {"SUBSCRIBE no filter", k3, "82020001", kBad, "SUBSCRIBE has no topic filter"},
    {"SUBSCRIBE id 0", k3, "8206000000016100", kBad, "SUBSCRIBE packet identifier is 0"},
    {"SUBSCRIBE QoS 3", k3, "8206000100016103", kBad, "SUBSCRIBE requests QoS 3"},
    {"SUBSCRIBE reserved", k3, "8206000100016104", kBad, "reserved bits set"},
    {"SUBSCRIBE 5 reserved", k5, "820700010000016140", kBad, "reserved bits set"},
    {"SUBSCRIBE retain handling", k5, "820700010000016130", kBad, "retain handling 3 is invalid"},
    {"SUBSCRIBE bad filter", k3,
     "82070001000261"
     "2300",
     kBad, "SUBSCRIBE topic filter \"a#\" has a misplaced wildcard"},
    {"SUBSCRIBE # not last", k3,
     "8208000100032f2361"
     "00",
     kBad, "has a misplaced wildcard"},
    {"SUBSCRIBE empty filter", k3,
     "820500010000"
     "00",
     kBad, "SUBSCRIBE topic filter is empty"},
    {"SUBSCRIBE options missing", k3,
     "820500010001"
     "61",
     kBad, "SUBSCRIBE options is truncated"},
    {"SUBSCRIBE two sub ids", k5,
     "820b0001"
     "04"
     "0b01"
     "0b02"
     "00016100",
     kBad, "SUBSCRIBE subscription identifier appears more than once"},
    {"SUBACK empty", k3, "90020001", kBad, "SUBACK has no return code"},
    {"SUBACK code", k3, "9003000103", kBad, "SUBACK return code 0x03 is not defined"},
    {"SUBACK 3.1.1 code 0x87", k3, "9003000187", kBad, "SUBACK return code 0x87 is not defined"},
    {"UNSUBSCRIBE empty", k3, "a2020001", kBad, "UNSUBSCRIBE has no topic filter"},
    {"UNSUBSCRIBE bad filter", k3,
     "a20600010002"
     "2b2b",
     kBad, "has a misplaced wildcard"},
    {"UNSUBACK 3.1.1 codes", k3, "b003000100", kBad, "UNSUBACK has 1 unexpected bytes"},
    {"UNSUBACK 5 empty", k5, "b003000100", kBad, "UNSUBACK has no reason code"},
    {"UNSUBACK 5 code", k5, "b00400010001", kBad, "UNSUBACK reason code 0x01 is not defined"},
    // DISCONNECT and AUTH.
    {"DISCONNECT 3.1.1 body", k3, "e00100", kBad, "DISCONNECT has 1 unexpected bytes"},
    {"DISCONNECT 5 reason", k5, "e00101", kBad, "DISCONNECT reason code 0x01 is not defined"},
    {"DISCONNECT 5 property", k5,
     "e0050003"
     "210001",
     kBad, "property 0x21 (receive maximum) is not allowed in DISCONNECT"},
    {"AUTH reason", k5, "f00101", kBad, "AUTH reason code 0x01 is not defined"},
    {"AUTH data without method", k5,
     "f0061804"
     "16000161",
     kBad, "authentication data without an authentication method"},
    // MQTT 5 CONNECT properties.
    {"receive maximum 0", k5,
     "101100044d5154540502000003210000"
     "000178",
     kBad, "CONNECT receive maximum is 0"},
    {"maximum packet size 0", k5,
     "101300044d515454050200000527000000000001"
     "78",
     kBad, "CONNECT maximum packet size is 0"},
    {"request problem info 2", k5,
     "101000044d515454050200000217020001"
     "78",
     kBad, "CONNECT request problem information is 2, not 0 or 1"},
    {"will delay in CONNECT", k5,
     "101300044d515454050200000518000000010001"
     "78",
     kBad, "property 0x18 (will delay interval) is not allowed in CONNECT"},
    {"user property in will ok, alias not", k5,
     "101700044d5154540506000000000178"
     "03230001"
     "000174"
     "0000",
     kBad, "property 0x23 (topic alias) is not allowed in CONNECT will"},
};

TEST(MalformedTest, EveryRuleHasItsError) {
  for (const auto& c : kBadCases) {
    Status st = DecodeError(c.version, c.hex);
    EXPECT_EQ(st.code(), c.code) << c.what << ": " << st.ToString();
    EXPECT_NE(st.message().find(c.message), std::string::npos)
        << c.what << ": \"" << st.message() << "\" lacks \"" << c.message << "\"";
    EXPECT_FALSE(st.message().empty()) << c.what;
  }
}

TEST(MalformedTest, MqttFivePasswordWithoutUserIsAllowed) {
  const Connect c = std::get<Connect>(DecodeOne(k5, "101100044d5154540542000000000178000161"));
  EXPECT_FALSE(c.username.has_value());
  EXPECT_EQ(c.password, std::optional<std::string>("a"));
}

TEST(MalformedTest, QosTwoIsDecodedForCallersToRefuse) {
  const Publish p = std::get<Publish>(DecodeOne(k3,
                                                "340500016100"
                                                "07"));
  EXPECT_EQ(p.qos, 2);
  EXPECT_EQ(p.packet_id, 7);
  EXPECT_EQ(std::get<Ack>(DecodeOne(k3, "50020007")).type, PacketType::kPubrec);
  EXPECT_EQ(std::get<Ack>(DecodeOne(k3, "62020007")).type, PacketType::kPubrel);
}

TEST(MalformedTest, SkippedPropertiesAreValidatedAndDropped) {
  // PUBLISH with payload format 1, message expiry, content type, correlation data and two
  // subscription identifiers (allowed to repeat in PUBLISH).
  const std::string props =
      "01"
      "01"
      "02"
      "0000000a"
      "03"
      "0004"
      "74657874"
      "09"
      "0002"
      "abcd"
      "0b"
      "01"
      "0b"
      "ffff7f";
  const std::string body =
      "0001"
      "61" +
      Hex2(props.size() / 2) + props + "6869";
  Packet p = DecodeOne(k5, "30" + Hex2(body.size() / 2) + body);
  EXPECT_EQ(std::get<Publish>(p).payload, "hi");
  EXPECT_TRUE(std::get<Publish>(p).user_properties.empty());
}

TEST(MalformedTest, DecodePacketWantsExactlyOnePacket) {
  EXPECT_EQ(DecodePacket(k3, Unhex("c0")).status().message(), "packet is truncated");
  EXPECT_EQ(DecodePacket(k3, Unhex("c000c0")).status().message(),
            "packet is followed by 1 more bytes");
}

// --- Size limit and streaming ---------------------------------------------------------------

TEST(DecoderTest, SizeLimitIsCheckedFromTheHeaderAlone) {
  Decoder d(1000);
  // A PUBLISH announcing 5000 bytes: refused as soon as its 3-byte header is in.
  const std::string header = Unhex("30904e");
  d.Feed(header.data(), 2);
  auto partial = d.Next();
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(partial->has_value());
  d.Feed(header.data() + 2, 1);
  auto refused = d.Next();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(refused.status().message(),
            "PUBLISH of 10003 bytes exceeds the packet size limit of 1000");
  // Broken for good: nothing more is buffered and the error stays.
  const std::string more(4096, 'x');
  d.Feed(more.data(), more.size());
  EXPECT_EQ(d.buffered(), 3u);
  EXPECT_EQ(d.Next().status().code(), ErrorCode::kTooLarge);
}

TEST(DecoderTest, PacketAtTheLimitIsAccepted) {
  Publish p;
  p.topic = "t";
  p.payload.assign(1000 - 3 - 3, 'x');  // header 30 e5 07 (3 bytes), body 997
  std::string bytes;
  EncodePublish(k3, p, &bytes);
  ASSERT_EQ(bytes.size(), 1000u);
  EXPECT_TRUE(DecodePacket(k3, bytes, 1000).ok());
  EXPECT_EQ(DecodePacket(k3, bytes, 999).status().code(), ErrorCode::kTooLarge);
}

TEST(DecoderTest, WaitsForTheWholePacket) {
  Decoder d;
  const std::string bytes = Unhex(kPublish311);
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    d.Feed(bytes.data() + i, 1);
    auto next = d.Next();
    ASSERT_TRUE(next.ok());
    EXPECT_FALSE(next->has_value()) << i;
  }
  d.Feed(bytes.data() + bytes.size() - 1, 1);
  auto last = d.Next();
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ(std::get<Publish>(**last).payload, "hello");
}

TEST(DecoderTest, ErrorAfterGoodPacketsKeepsThem) {
  Decoder d;
  const std::string bytes = Unhex(
      "c000d000"
      "0000");
  d.Feed(bytes.data(), bytes.size());
  EXPECT_TRUE(std::holds_alternative<PingReq>(**d.Next()));
  EXPECT_TRUE(std::holds_alternative<PingResp>(**d.Next()));
  EXPECT_EQ(d.Next().status().message(), "packet type 0 is reserved");
}

// --- Topics ----------------------------------------------------------------------------------

TEST(TopicTest, Names) {
  for (const char* ok : {"a", "a/b", "/", "a//b", "$SYS/x", "sensor-1/temperature", " "}) {
    EXPECT_TRUE(IsValidTopicName(ok)) << ok;
  }
  EXPECT_TRUE(IsValidTopicName("caf\xc3\xa9/\xf0\x9f\x8c\xa1"));
  for (const char* bad : {"", "a/+", "#", "a/#", "a+"}) EXPECT_FALSE(IsValidTopicName(bad)) << bad;
  EXPECT_FALSE(IsValidTopicName(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidTopicName("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidTopicName("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidTopicName("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidTopicName("\xe2\x82"));          // truncated
  EXPECT_FALSE(IsValidTopicName("\x80"));              // stray continuation byte
  EXPECT_TRUE(IsValidTopicName(std::string(65535, 'a')));
  EXPECT_FALSE(IsValidTopicName(std::string(65536, 'a')));
}

TEST(TopicTest, Filters) {
  for (const char* ok : {"#", "+", "a/#", "a/+/b", "+/+", "/+", "a//#", "$share/g/a/#", "a/b"}) {
    EXPECT_TRUE(IsValidTopicFilter(ok)) << ok;
  }
  for (const char* bad : {"", "a#", "a/#/b", "#/a", "a+", "+a/b", "a/b+", "##"}) {
    EXPECT_FALSE(IsValidTopicFilter(bad)) << bad;
  }
}

TEST(TopicTest, Matching) {
  struct Case {
    const char* filter;
    const char* topic;
    bool match;
  };
  const Case cases[] = {
      {"a/b", "a/b", true},
      {"a/b", "a/b/c", false},
      {"a/+", "a/b", true},
      {"a/+", "a/b/c", false},
      {"a/+", "a", false},
      {"a/+", "a/", true},
      {"a/#", "a", true},
      {"a/#", "a/b/c", true},
      {"a/#", "ab", false},
      {"#", "a/b", true},
      {"#", "/", true},
      {"+/+", "/x", true},
      {"+", "/x", false},
      {"+/b/#", "x/b", true},
      {"#", "$SYS/x", false},
      {"+/x", "$SYS/x", false},
      {"$SYS/#", "$SYS/x", true},
      {"s1/commands/#", "s1/commands", true},
      {"s1/commands/#", "s2/commands/x", false},
      {"a//b", "a//b", true},
      {"a/+/b", "a//b", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(TopicMatches(c.filter, c.topic), c.match) << c.filter << " vs " << c.topic;
  }
}

TEST(NamesTest, CodesAndPackets) {
  EXPECT_EQ(ConnackCodeText(Version::k311, 4), "bad user name or password");
  EXPECT_EQ(ConnackCodeText(Version::k311, 5), "not authorized");
  EXPECT_EQ(ConnackCodeText(Version::k5, 0x86), "bad user name or password");
  EXPECT_EQ(ConnackCodeText(Version::k5, 0x8C), "bad authentication method");
  EXPECT_EQ(ReasonCodeText(0x87), "not authorized");
  EXPECT_EQ(PacketName(Packet(Ack{PacketType::kPubrec, 1, 0})), "PUBREC");
  EXPECT_EQ(PacketName(Packet(Auth{})), "AUTH");
}

}  // namespace
}  // namespace edgetrust::mqtt
