// Fuzz target: the MQTT codec (src/mqtt/codec.h), which parses what leaves and brokers send the
// gateway's leaf hub and edgetrust-sensor: untrusted bytes from the network.
//
// Input: a selector byte, then a byte stream as it would arrive on one connection.
//   bit 0     the version the decoder starts with (0: 3.1.1, 1: 5; a CONNECT switches it)
//   bits 1-2  the size of the pieces it is fed in: all at once, 64, 3 or 1 bytes
//   bits 3-4  the packet size limit: the default (256 KiB), 65536, 1024 or 64 bytes
// Invariants: errors are kMalformed, kTooLarge or kUnsupported with a message, and final; the
// decoder never holds more than the limit plus one piece; feeding byte by byte gives the same
// packets and the same error; every packet re-encodes to at most its own size, and that decodes
// to an equal packet and re-encodes to the same bytes; decoded packets keep the rules
// (valid topic names and filters, QoS and packet ids, will flags); TopicMatches agrees with a
// plain reference matcher on the topics and filters of the input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "mqtt/codec.h"

namespace {

namespace mqtt = edgetrust::mqtt;
using edgetrust::ErrorCode;

struct Decoded {
  mqtt::Version version;
  size_t size;  // bytes it took in the stream
  mqtt::Packet packet;
};

struct Run {
  std::vector<Decoded> packets;
  std::string error;  // "" when the stream ended without one
};

Run DecodeStream(mqtt::Version start, size_t max, std::string_view stream, size_t piece) {
  Run run;
  mqtt::Decoder d(max);
  d.set_version(start);
  for (size_t at = 0; at < stream.size() && run.error.empty(); at += piece) {
    const size_t n = std::min(piece, stream.size() - at);
    d.Feed(stream.data() + at, n);
    while (true) {
      const size_t before = d.buffered();
      auto next = d.Next();
      if (!next.ok()) {
        const auto code = next.status().code();
        ET_FUZZ_CHECK(code == ErrorCode::kMalformed || code == ErrorCode::kTooLarge ||
                      code == ErrorCode::kUnsupported);
        ET_FUZZ_CHECK(!next.status().message().empty());
        auto again = d.Next();
        ET_FUZZ_CHECK(!again.ok() && again.status().message() == next.status().message());
        run.error = next.status().ToString();
        break;
      }
      if (!next->has_value()) break;
      ET_FUZZ_CHECK(d.buffered() < before);
      run.packets.push_back({d.version(), before - d.buffered(), std::move(**next)});
    }
    ET_FUZZ_CHECK(!run.error.empty() || d.buffered() <= max + piece);
  }
  return run;
}

std::vector<std::string_view> Levels(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

bool ReferenceMatch(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() &&
      (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  const auto f = Levels(filter);
  const auto t = Levels(topic);
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;
    if (i >= t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return f.size() == t.size();
}

void CheckRules(const mqtt::Packet& packet, std::vector<std::string>& topics,
                std::vector<std::string>& filters) {
  ET_FUZZ_CHECK(!mqtt::PacketName(packet).empty());
  if (const auto* p = std::get_if<mqtt::Publish>(&packet)) {
    ET_FUZZ_CHECK(mqtt::IsValidTopicName(p->topic));
    ET_FUZZ_CHECK(p->qos <= 2);
    ET_FUZZ_CHECK((p->qos == 0) == (p->packet_id == 0));
    ET_FUZZ_CHECK(!(p->dup && p->qos == 0));
    ET_FUZZ_CHECK(mqtt::TopicMatches(p->topic, p->topic));
    if (topics.size() < 16) topics.push_back(p->topic);
  } else if (const auto* s = std::get_if<mqtt::Subscribe>(&packet)) {
    ET_FUZZ_CHECK(!s->filters.empty() && s->packet_id != 0);
    for (const auto& [filter, qos] : s->filters) {
      ET_FUZZ_CHECK(mqtt::IsValidTopicFilter(filter) && qos <= 2);
      if (filters.size() < 16) filters.push_back(filter);
    }
  } else if (const auto* u = std::get_if<mqtt::Unsubscribe>(&packet)) {
    ET_FUZZ_CHECK(!u->filters.empty() && u->packet_id != 0);
    for (const auto& filter : u->filters) ET_FUZZ_CHECK(mqtt::IsValidTopicFilter(filter));
  } else if (const auto* c = std::get_if<mqtt::Connect>(&packet)) {
    ET_FUZZ_CHECK(mqtt::IsValidMqttString(c->client_id));
    ET_FUZZ_CHECK(c->will_qos <= 2 && c->receive_maximum != 0);
    ET_FUZZ_CHECK(c->has_will || (c->will_qos == 0 && !c->will_retain));
    ET_FUZZ_CHECK(!c->has_will || mqtt::IsValidTopicName(c->will_topic));
    ET_FUZZ_CHECK(!c->username || mqtt::IsValidMqttString(*c->username));
  } else if (const auto* a = std::get_if<mqtt::Ack>(&packet)) {
    ET_FUZZ_CHECK(a->packet_id != 0);
  } else if (const auto* sa = std::get_if<mqtt::Suback>(&packet)) {
    ET_FUZZ_CHECK(!sa->codes.empty() && sa->packet_id != 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const auto start = (selector & 1) ? mqtt::Version::k5 : mqtt::Version::k311;
  static constexpr size_t kPieces[] = {SIZE_MAX, 64, 3, 1};
  static constexpr size_t kLimits[] = {mqtt::kDefaultMaxPacketSize, 65536, 1024, 64};
  const size_t piece = kPieces[(selector >> 1) & 3];
  const size_t max = kLimits[(selector >> 3) & 3];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  const Run run = DecodeStream(start, max, stream, piece);
  const Run bytewise = DecodeStream(start, max, stream, 1);
  ET_FUZZ_CHECK(run.error == bytewise.error);
  ET_FUZZ_CHECK(run.packets.size() == bytewise.packets.size());

  std::vector<std::string> topics;
  std::vector<std::string> filters;
  for (size_t i = 0; i < run.packets.size(); ++i) {
    const Decoded& d = run.packets[i];
    ET_FUZZ_CHECK(d.packet == bytewise.packets[i].packet && d.size == bytewise.packets[i].size);
    CheckRules(d.packet, topics, filters);
    std::string encoded;
    mqtt::EncodePacket(d.version, d.packet, &encoded);
    ET_FUZZ_CHECK(encoded.size() <= d.size);
    auto back = mqtt::DecodePacket(d.version, encoded, max);
    ET_FUZZ_CHECK(back.ok());
    ET_FUZZ_CHECK(*back == d.packet);
    std::string again;
    mqtt::EncodePacket(d.version, *back, &again);
    ET_FUZZ_CHECK(again == encoded);
  }
  for (const auto& filter : filters) {
    for (const auto& topic : topics) {
      ET_FUZZ_CHECK(mqtt::TopicMatches(filter, topic) == ReferenceMatch(filter, topic));
    }
  }
  return 0;
}
