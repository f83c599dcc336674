// The cloud link's pure parts: the envelope, topic templates, profiles, command topics, the
// backoff and the packet id table. Independent checkers where one exists: nlohmann::json parses
// every envelope, OpenSSL's EVP_EncodeBlock checks the base64.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cloud/backoff.h"
#include "cloud/cloud_link.h"
#include "cloud/envelope.h"
#include "cloud/inflight_table.h"
#include "cloud/profile.h"
#include "cloud/topic_template.h"

namespace edgetrust::cloud {
namespace {

using nlohmann::json;

OutboundMessage Message(std::string leaf, uint64_t seq, std::string subtopic, std::string payload,
                        int64_t received_ms = 1700000000123) {
  OutboundMessage m;
  m.id = 7;
  m.leaf = std::move(leaf);
  m.seq = seq;
  m.subtopic = std::move(subtopic);
  m.payload = std::move(payload);
  m.received_ms = received_ms;
  return m;
}

std::string Envelope(const OutboundMessage& m, std::string_view gateway = "gw-1") {
  std::string out = "stale contents";
  BuildEnvelope(m, gateway, out);
  return out;
}

std::string OpensslBase64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

TEST(Envelope, JsonPayloadIsSplicedVerbatim) {
  const std::string payload = R"({"t": 21.5, "unit":"C", "list":[1,2,{"x":null}]})";
  const std::string e = Envelope(Message("sensor-1", 42, "temp", payload));
  EXPECT_EQ(e, std::string(R"({"leaf":"sensor-1","seq":42,"subtopic":"temp",)") +
                   R"("received_ms":1700000000123,"gateway":"gw-1","data":)" + payload + "}");
  json j = json::parse(e);
  EXPECT_EQ(j["data"]["list"][2]["x"], nullptr);
  // Scalars and white space around a document are JSON too.
  for (const std::string doc : {"42", "\"text\"", "true", "null", " [ ] \n", "-1.5e3"}) {
    EXPECT_TRUE(IsJsonDocument(doc)) << doc;
    const std::string env = Envelope(Message("s", 1, "x", doc));
    EXPECT_NE(env.find(",\"data\":" + doc + "}"), std::string::npos) << env;
    EXPECT_TRUE(json::accept(env)) << env;
  }
}

TEST(Envelope, OtherPayloadsGoInBase64) {
  const std::vector<std::string> payloads = {
      "", "plain text", "{\"unterminated\": ", "{} {}", "\x01\x02\xff\xfe",
      std::string("\0\0\0", 3), "{\"k\":\"\xff\"}",  // a JSON shape with invalid UTF-8
      "NaN", "[1,]", std::string(1000, '['), "a", "ab", "abc", "abcd",
      // A NUL ends nlohmann's input: what follows it must not slip into the envelope.
      std::string("7777\0garbage", 12), std::string("{}\0", 3), std::string("\0", 1)};
  for (const auto& payload : payloads) {
    EXPECT_FALSE(IsJsonDocument(payload)) << payload;
    const std::string e = Envelope(Message("s", 9, "raw", payload));
    json j = json::parse(e);
    ASSERT_TRUE(j.contains("data_b64")) << e;
    EXPECT_FALSE(j.contains("data"));
    EXPECT_EQ(j["data_b64"].get<std::string>(), OpensslBase64(payload)) << payload;
  }
}

TEST(Envelope, DeepNestingIsValidatedWithoutRecursionTrouble) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_TRUE(IsJsonDocument(deep));
  const std::string e = Envelope(Message("s", 1, "x", deep));
  EXPECT_EQ(e.size(), deep.size() + Envelope(Message("s", 1, "x", "0")).size() - 1);
}

TEST(Envelope, NamesAreEscapedAndAlwaysValidUtf8) {
  const OutboundMessage m = Message("le\"af\\", 18446744073709551615ull,
                                    "a/b\n\t\x01 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "{}", -5);
  const std::string e = Envelope(m, "gw\xff");
  json j = json::parse(e);  // throws on invalid JSON or invalid UTF-8
  EXPECT_EQ(j["leaf"], "le\"af\\");
  EXPECT_EQ(j["seq"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(j["subtopic"], "a/b\n\t\x01 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(j["received_ms"].get<int64_t>(), -5);
  EXPECT_EQ(j["gateway"], "gw\xef\xbf\xbd");
  EXPECT_NE(e.find("\\u0001"), std::string::npos) << e;
  // Overlong forms, surrogates, truncated sequences and bytes above U+10FFFF are replaced.
  for (const std::string bad : {"\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\x80",
                                "\xf8\x88\x80\x80\x80"}) {
    std::string out;
    AppendJsonString(bad, out);
    json parsed = json::parse(out);
    EXPECT_NE(parsed.get<std::string>().find("\xef\xbf\xbd"), std::string::npos) << out;
  }
}

TEST(Envelope, BufferIsReused) {
  std::string out;
  BuildEnvelope(Message("s", 1, "x", std::string(500, 'a')), "gw", out);
  const size_t capacity = out.capacity();
  const char* data = out.data();
  BuildEnvelope(Message("s", 2, "x", "{}"), "gw", out);
  EXPECT_EQ(out.capacity(), capacity);
  EXPECT_EQ(out.data(), data);
}

TEST(TopicTemplate, ExpandsRawAndPercentEncoded) {
  auto t =
      TopicTemplate::Compile("a/{device}/{leaf}/{subtopic}/{seq}", "t", kAllPlaceholders, false);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  std::string out;
  ASSERT_TRUE(t->Expand({"gw", "s-1", "x/y", 12}, false, out));
  EXPECT_EQ(out, "a/gw/s-1/x/y/12");
  ASSERT_TRUE(t->Expand({"gw", "s 1&=", "x/y%", 12}, true, out));
  EXPECT_EQ(out, "a/gw/s%201%26%3D/x%2Fy%25/12");
  // Raw values that would change the topic's levels or add wildcards are refused.
  EXPECT_FALSE(t->Expand({"gw", "a/b", "x", 1}, false, out));
  EXPECT_FALSE(t->Expand({"gw", "", "x", 1}, false, out));
  EXPECT_FALSE(t->Expand({"gw", "a+", "x", 1}, false, out));
  EXPECT_FALSE(t->Expand({"gw", "a", "x/#", 1}, false, out));
  EXPECT_FALSE(t->Expand({"gw", "a", std::string_view("x\0y", 3), 1}, false, out));
  EXPECT_TRUE(t->Expand({"gw", "a", "", 1}, false, out));
  EXPECT_EQ(out, "a/gw/a//1");
}

TEST(TopicTemplate, CompileErrorsNameTheProblem) {
  struct Case {
    std::string text;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{{"a/{nope}", "unknown placeholder {nope}"},
                                         {"a/{leaf", "unterminated"},
                                         {"a/}", "'}' without '{'"},
                                         {"a/+/b", "wildcards"},
                                         {"a/#", "wildcards"},
                                         {"", "empty"},
                                         {std::string("a\0b", 3), "NUL"}}) {
    auto t = TopicTemplate::Compile(c.text, "telemetry_topic", kAllPlaceholders, false);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find(c.error), std::string::npos) << t.status().message();
    EXPECT_NE(t.status().message().find("telemetry_topic"), std::string::npos);
  }
  auto only_device = TopicTemplate::Compile("c/{leaf}/#", "command_filter",
                                            PlaceholderBit(Placeholder::kDevice), true);
  ASSERT_FALSE(only_device.ok());
  EXPECT_NE(only_device.status().message().find("cannot be used here"), std::string::npos);
}

TEST(PercentCoding, RoundTripsAndRefusesBadEscapes) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string encoded;
  AppendPercentEncoded(all, encoded);
  EXPECT_EQ(encoded.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"),
            std::string::npos);
  std::string decoded;
  ASSERT_TRUE(PercentDecode(encoded, decoded));
  EXPECT_EQ(decoded, all);
  for (const char* bad : {"%", "%4", "%G0", "a%zz", "%%"}) {
    EXPECT_FALSE(PercentDecode(bad, decoded)) << bad;
  }
  ASSERT_TRUE(PercentDecode("a+b%2B", decoded));
  EXPECT_EQ(decoded, "a+b+");
}

TEST(Profile, GenericDefaults) {
  auto p = MakeProfile("generic", "gw-test", "");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->kind, ProfileKind::kGeneric);
  EXPECT_EQ(p->client_id, "gw-test");
  EXPECT_EQ(p->username, "");
  EXPECT_FALSE(p->password.has_value());
  EXPECT_EQ(p->telemetry_topic, "gateways/{device}/leaves/{leaf}/{subtopic}");
  EXPECT_EQ(p->command_filter, "gateways/{device}/commands/+/#");
  auto c = CompiledProfile::Compile(*p, "gw-test");
  ASSERT_TRUE(c.ok());
  std::string topic;
  ASSERT_TRUE(c->TelemetryTopic(Message("sensor-1", 5, "env/temp", "{}"), topic));
  EXPECT_EQ(topic, "gateways/gw-test/leaves/sensor-1/env/temp");
  EXPECT_EQ(c->command_filter(), "gateways/gw-test/commands/+/#");
  EXPECT_FALSE(c->TelemetryTopic(Message("a/b", 5, "x", "{}"), topic));
}

TEST(Profile, AzureIotHub) {
  auto p = MakeProfile("azure-iot-hub", "gw-test", "myhub.azure-devices.net");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->client_id, "gw-test");
  EXPECT_EQ(p->username, "myhub.azure-devices.net/gw-test/?api-version=2021-04-12");
  EXPECT_TRUE(p->percent_encode_values);
  auto c = CompiledProfile::Compile(*p, "gw-test");
  ASSERT_TRUE(c.ok());
  std::string topic;
  ASSERT_TRUE(c->TelemetryTopic(Message("sensor 1", 77, "env/temp", "{}"), topic));
  EXPECT_EQ(topic,
            "devices/gw-test/messages/events/"
            "$.ct=application%2Fjson&$.ce=utf-8&leaf=sensor%201&seq=77&subtopic=env%2Ftemp");
  EXPECT_EQ(c->command_filter(), "devices/gw-test/messages/devicebound/#");

  auto no_hub = MakeProfile("azure-iot-hub", "gw-test", "");
  ASSERT_FALSE(no_hub.ok());
  EXPECT_NE(no_hub.status().message().find("hub_host"), std::string::npos);
  EXPECT_FALSE(MakeProfile("azure-iot-hub", "gw-test", "hub/x").ok());
}

TEST(Profile, OverridesAndErrors) {
  auto p = MakeProfile("generic", "gw", "", "site/{device}/{leaf}/{seq}", "site/{device}/cmd/+");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto c = CompiledProfile::Compile(*p, "gw");
  ASSERT_TRUE(c.ok());
  std::string topic;
  ASSERT_TRUE(c->TelemetryTopic(Message("s1", 3, "ignored", "{}"), topic));
  EXPECT_EQ(topic, "site/gw/s1/3");
  auto t = c->ParseCommand("site/gw/cmd/s1");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->leaf, "s1");
  EXPECT_EQ(t->subtopic, "");

  auto unknown = MakeProfile("aws", "gw", "");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown cloud profile \"aws\""), std::string::npos);
  for (const char* id : {"", "a/b", "a+b", "a#", "a\nb"}) {
    EXPECT_FALSE(MakeProfile("generic", id, "").ok()) << id;
  }
  EXPECT_FALSE(MakeProfile("generic", std::string(129, 'x'), "").ok());
  EXPECT_TRUE(MakeProfile("generic", std::string(128, 'x'), "").ok());
  struct Bad {
    std::string filter;
    std::string error;
  };
  for (const Bad& b : std::vector<Bad>{{"gw/{device}/cmd/#", "exactly one '+'"},
                                       {"gw/+/+/#", "exactly one '+'"},
                                       {"gw/a+/#", "whole topic levels"},
                                       {"gw/#/x", "whole topic levels"},
                                       {"gw/{leaf}/#", "cannot be used here"}}) {
    auto bad = MakeProfile("generic", "gw", "", "", b.filter);
    ASSERT_FALSE(bad.ok()) << b.filter;
    EXPECT_NE(bad.status().message().find(b.error), std::string::npos) << bad.status().message();
  }
  auto azure_no_hash = MakeProfile("azure-iot-hub", "gw", "hub", "", "devices/{device}/x");
  ASSERT_FALSE(azure_no_hash.ok());
  EXPECT_NE(azure_no_hash.status().message().find("final '#'"), std::string::npos);
  EXPECT_FALSE(MakeProfile("generic", "gw", "", "gateways/{device}/{nope}").ok());
}

TEST(CommandTopic, Generic) {
  auto c = CompiledProfile::Compile(*MakeProfile("generic", "gw", ""), "gw");
  ASSERT_TRUE(c.ok());
  auto t = c->ParseCommand("gateways/gw/commands/sensor-1/set/interval");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->leaf, "sensor-1");
  EXPECT_EQ(t->subtopic, "set/interval");
  t = c->ParseCommand("gateways/gw/commands/sensor-1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->subtopic, "");
  for (const std::string& bad : std::vector<std::string>{
           "gateways/gw/commands", "gateways/other/commands/s/x", "gateways/gw/command/s/x",
           "gateways/gw/commands//x", "", "/", "gateways/gw", std::string(70000, '/')}) {
    EXPECT_FALSE(c->ParseCommand(bad).ok()) << bad.substr(0, 60);
  }
  EXPECT_FALSE(c->ParseCommand("gateways/gw/commands/" + std::string(300, 'l') + "/x").ok());
  EXPECT_FALSE(c->ParseCommand("gateways/gw/commands/a\x01/x").ok());
}

TEST(CommandTopic, AzurePropertyBag) {
  auto c = CompiledProfile::Compile(*MakeProfile("azure-iot-hub", "gw", "hub"), "gw");
  ASSERT_TRUE(c.ok());
  auto t = c->ParseCommand(
      "devices/gw/messages/devicebound/%24.mid=5f2c&%24.to=%2Fdevices%2Fgw%2Fmessages%2Fdevicebound"
      "&leaf=sensor%201&subtopic=set%2Finterval");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->leaf, "sensor 1");
  EXPECT_EQ(t->subtopic, "set/interval");
  t = c->ParseCommand("devices/gw/messages/devicebound/leaf=s1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->leaf, "s1");
  EXPECT_EQ(t->subtopic, "");
  struct Bad {
    std::string topic;
    std::string error;
  };
  for (const Bad& b : std::vector<Bad>{
           {"devices/gw/messages/devicebound/", "no leaf"},
           {"devices/gw/messages/devicebound", "no leaf"},
           {"devices/gw/messages/devicebound/%24.to=x", "no leaf"},
           {"devices/gw/messages/devicebound/leaf=a&leaf=b", "twice"},
           {"devices/gw/messages/devicebound/leaf=%zz", "percent-encoding"},
           {"devices/gw/messages/devicebound/leaf=", "names no leaf"},
           {"devices/gw/messages/devicebound/leaf=a%2Fb", "not allowed"},
           {"devices/gw/messages/devicebound/leaf=" + std::string(5000, 'x'), "longer"},
           {"devices/other/messages/devicebound/leaf=a", "does not match"}}) {
    auto r = c->ParseCommand(b.topic);
    ASSERT_FALSE(r.ok()) << b.topic.substr(0, 80);
    EXPECT_NE(r.status().message().find(b.error), std::string::npos) << r.status().message();
  }
}

TEST(Backoff, GrowsWithJitterUpToTheCapAndResets) {
  Backoff b(100, 1000, 42);
  const uint32_t expected_ceiling[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (uint32_t ceiling : expected_ceiling) {
    const uint32_t d = b.Next();
    EXPECT_GE(d, ceiling / 2);
    EXPECT_LE(d, ceiling);
  }
  b.Reset();
  EXPECT_EQ(b.failures(), 0u);
  EXPECT_LE(b.Next(), 100u);
  // Jitter: many draws at the cap are not all the same.
  std::set<uint32_t> seen;
  for (int i = 0; i < 50; ++i) seen.insert(b.Next());
  EXPECT_GT(seen.size(), 10u);
  EXPECT_EQ(Backoff::Ceiling(250, 30000, 100), 30000u);
  EXPECT_EQ(Backoff::Ceiling(250, 30000, 0), 250u);
  Backoff tiny(1, 1, 1);
  EXPECT_EQ(tiny.Next(), 1u);
}

TEST(InflightTable, MapsPacketIdsToMessages) {
  InflightTable t;
  EXPECT_TRUE(t.Put(1, 100));
  EXPECT_TRUE(t.Put(65535, 200));
  EXPECT_FALSE(t.Put(1, 300));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.Take(1), std::optional<uint64_t>(100));
  EXPECT_EQ(t.Take(1), std::nullopt);
  EXPECT_TRUE(t.Put(0, 5));
  std::vector<uint64_t> drained;
  t.Drain(drained);
  EXPECT_EQ(std::set<uint64_t>(drained.begin(), drained.end()), (std::set<uint64_t>{5, 200}));
  EXPECT_EQ(t.size(), 0u);
}

class NoMessages : public MessageSource {
 public:
  std::vector<OutboundMessage> Take(size_t, std::chrono::milliseconds) override { return {}; }
  void Ack(uint64_t) override {}
  void Return(const std::vector<uint64_t>&) override {}
  void Wake() override {}
};

TEST(CloudLinkOptions, BadOptionsAreRefusedByName) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  ASSERT_NE(ctx, nullptr);
  auto good = [&] {
    CloudOptions o;
    o.host = "broker.example";
    o.port = 8883;
    o.device_id = "gw";
    o.profile = std::move(MakeProfile("generic", "gw", "")).value();
    o.ssl_ctx = ctx.get();
    return o;
  };
  NoMessages source;
  {
    auto link = CloudLink::Create(good(), source, nullptr);
    ASSERT_TRUE(link.ok()) << link.status().ToString();
    EXPECT_EQ((*link)->Status().state, LinkState::kStopped);
    (*link)->Stop();  // never started: nothing to do, and still idempotent
    EXPECT_EQ((*link)->Start().code(), ErrorCode::kFailedPrecondition);
  }
  struct Case {
    std::function<void(CloudOptions&)> change;
    std::string error;
  };
  const std::vector<Case> cases = {
      {[](CloudOptions& o) { o.host.clear(); }, "host"},
      {[](CloudOptions& o) { o.port = 0; }, "port"},
      {[](CloudOptions& o) { o.mqtt_version = 3; }, "mqtt_version"},
      {[](CloudOptions& o) { o.keep_alive_s = 4; }, "keep_alive_s"},
      {[](CloudOptions& o) { o.max_inflight = 0; }, "max_inflight"},
      {[](CloudOptions& o) { o.max_inflight = 40000; }, "max_inflight"},
      {[](CloudOptions& o) { o.backoff_min_ms = 0; }, "backoff_min_ms"},
      {[](CloudOptions& o) { o.backoff_max_ms = 10; }, "backoff_max_ms"},
      {[](CloudOptions& o) { o.ssl_ctx = nullptr; }, "TLS context"},
      {[](CloudOptions& o) { o.device_id = "a/b"; }, "device id"},
      {[](CloudOptions& o) { o.profile.client_id.clear(); }, "client id"},
      {[](CloudOptions& o) { o.profile.telemetry_topic = "x/{bad}"; }, "telemetry_topic"},
  };
  for (const Case& c : cases) {
    CloudOptions o = good();
    c.change(o);
    auto link = CloudLink::Create(std::move(o), source, nullptr);
    ASSERT_FALSE(link.ok()) << c.error;
    EXPECT_EQ(link.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(link.status().message().find(c.error), std::string::npos) << link.status().message();
  }
}

}  // namespace
}  // namespace edgetrust::cloud
