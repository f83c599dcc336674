// The MQTT client (src/mqtt/client.h, tls_stream.h, client_tls.h) against the real Mosquitto
// broker over TLS, in MQTT 3.1.1 and 5: what it publishes reaches mosquitto_sub byte for byte,
// what paho-mqtt publishes reaches it, a full window waits for PUBACKs, refused CONNECTs (password
// file) and refused PUBLISHes (ACL) name their codes, TLS-PSK works, a server that is not who it
// should be is refused, the keep-alive pings, and a broker that goes away ends the connection
// with an error. A scripted TLS server (Python) plays a misbehaving broker: a malformed CONNACK,
// a refused SUBSCRIBE, a QoS 2 PUBLISH, silence.
//
// Certificates come from the openssl CLI. Every server and subscriber is a ChildProcess killed
// when the test ends; every wait polls for its condition with a generous deadline.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "common/hex.h"
#include "harness.h"
#include "mosquitto.h"
#include "mqtt/client.h"
#include "mqtt/client_tls.h"
#include "ports.h"

namespace edgetrust::test {
namespace {

using mqtt::Client;
using mqtt::Version;
using std::chrono::seconds;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kPsk[] = "00112233445566778899aabbccddeeff0123456789abcdef";

std::string VersionArg(Version v) { return v == Version::k5 ? "mqttv5" : "mqttv311"; }

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Runs argv under timeout(1), so nothing hangs.
CommandResult RunTimed(std::vector<std::string> argv, const std::string& input = "") {
  argv.insert(argv.begin(), {"timeout", "-k", "5", "120"});
  return RunCommand(argv, input);
}

// paho-mqtt publishes: argv = version port cafile, then topic qos hex-payload triples. MQTT 5
// messages carry the user properties k=v and sensor=s1.
constexpr char kPahoPublish[] = R"(
import sys, paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
v5 = sys.argv[1] == "5"
c = mqtt.Client(client_id="paho-pub", protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
c.tls_set(ca_certs=sys.argv[3])
c.connect("127.0.0.1", int(sys.argv[2]))
c.loop_start()
props = None
if v5:
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("k", "v"), ("sensor", "s1")]
infos = []
rest = sys.argv[4:]
for i in range(0, len(rest), 3):
    infos.append(c.publish(rest[i], bytes.fromhex(rest[i + 2]), qos=int(rest[i + 1]),
                           properties=props))
for info in infos:
    info.wait_for_publish(timeout=60)
    if not info.is_published():
        sys.exit("not published")
c.disconnect()
c.loop_stop()
print("published", len(infos))
)";

// A TLS server that plays a broker misbehaving in one way (argv: port cert key mode version).
constexpr char kFakeBroker[] = R"(
import socket, ssl, sys, time
port, cert, key, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
v5 = sys.argv[5] == "5"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    srv.bind(("127.0.0.1", port))
except OSError as e:
    print("bind failed:", e, flush=True)
    sys.exit(3)
srv.listen(1)
print("LISTENING", flush=True)
conn, _ = srv.accept()
s = ctx.wrap_socket(conn, server_side=True)
def packet():
    head = s.recv(1)
    if not head:
        return None
    n, mult = 0, 1
    while True:
        b = s.recv(1)[0]
        n += (b & 127) * mult
        mult *= 128
        if not b & 128:
            break
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return head[0] >> 4, body
ok_connack = b"\x20\x03\x00\x00\x00" if v5 else b"\x20\x02\x00\x00"
while True:
    p = packet()
    if p is None:
        break
    kind, body = p
    print("got", kind, flush=True)
    if kind == 1:
        if mode == "bad-connack":
            s.sendall(b"\x20\x02\x02\x00")
        elif mode == "silent":
            pass
        else:
            s.sendall(ok_connack)
            if mode == "qos2":
                # QoS 2 PUBLISH to "t", packet id 5, payload "x"
                s.sendall(b"\x34\x07\x00\x01\x74\x00\x05\x00\x78" if v5
                          else b"\x34\x06\x00\x01\x74\x00\x05\x78")
    elif kind == 8:
        pid = body[0:2]
        refuse = body.find(b"refused") >= 0
        code = (b"\x87" if v5 else b"\x80") if refuse else b"\x01"
        props = b"\x00" if v5 else b""
        s.sendall(b"\x90" + bytes([len(pid) + len(props) + 1]) + pid + props + code)
    elif kind == 12:
        s.sendall(b"\xd0\x00")
    elif kind == 14:
        break
time.sleep(1)
)";

class MqttClientTest : public ::testing::TestWithParam<Version> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MosquittoProcess::Available()) << "mosquitto is not installed";
    ASSERT_NO_FATAL_FAILURE(MakeCa("ca", "/CN=MQTT Test CA"));
    ASSERT_NO_FATAL_FAILURE(MakeCa("other-ca", "/CN=Some Other CA"));
    WriteText(F("server.ext"),
              "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    ASSERT_NO_FATAL_FAILURE(Issue("broker", "/CN=localhost", "server.ext", "ca"));
    WriteText(F("paho_publish.py"), kPahoPublish);
    WriteText(F("fake_broker.py"), kFakeBroker);
  }

  Version V() const { return GetParam(); }
  std::string F(const std::string& name) const { return dir_.File(name); }

  void Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto r = RunTimed(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void MakeCa(const std::string& name, const std::string& subject) {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", F(name + ".key"), "-out", F(name + ".pem"), "-subj", subject, "-days", "2",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign"});
  }
  void Issue(const std::string& name, const std::string& subject, const std::string& ext,
             const std::string& ca) {
    Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", F(name + ".key"), "-out", F(name + ".csr"), "-subj", subject});
    Openssl({"x509", "-req", "-in", F(name + ".csr"), "-CA", F(ca + ".pem"), "-CAkey",
             F(ca + ".key"), "-CAcreateserial", "-out", F(name + ".pem"), "-days", "1", "-extfile",
             F(ext)});
  }

  MosquittoProcess::Listener TlsListener() const {
    MosquittoProcess::Listener l;
    l.certfile = F("broker.pem");
    l.keyfile = F("broker.key");
    return l;
  }
  // Starts a broker; files it reads as its own user (mosquitto.h) are given to that user.
  std::unique_ptr<MosquittoProcess> StartBroker(MosquittoProcess::Options options,
                                                const std::vector<std::string>& owned = {}) {
    auto broker = std::make_unique<MosquittoProcess>(dir_, std::move(options));
    for (const auto& file : owned) {
      EXPECT_EQ(::chown(file.c_str(), broker->uid(), broker->gid()), 0) << file;
    }
    EXPECT_EQ(::chown(F("broker.key").c_str(), broker->uid(), broker->gid()), 0);
    if (!broker->Start()) {
      ADD_FAILURE() << "broker did not start: " << broker->log();
      return nullptr;
    }
    return broker;
  }
  std::unique_ptr<MosquittoProcess> StartTlsBroker() {
    MosquittoProcess::Options options;
    options.listeners = {TlsListener()};
    return StartBroker(options);
  }

  SslCtxPtr Context(const std::string& ca = "ca.pem") {
    mqtt::ClientTlsConfig config;
    config.ca_file = F(ca);
    auto ctx = mqtt::BuildClientTlsContext(config);
    EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
    return ctx.ok() ? std::move(ctx).value() : nullptr;
  }
  Result<std::unique_ptr<mqtt::TlsStream>> Dial(int port, SSL_CTX* ctx,
                                                const std::string& server_name = "") {
    mqtt::TlsStreamOptions o;
    o.host = "127.0.0.1";
    o.port = static_cast<uint16_t>(port);
    o.ctx = ctx;
    o.server_name = server_name;
    o.timeout_ms = 60000;
    return mqtt::TlsStream::Connect(o);
  }
  Client::Options ClientOptions(const std::string& id) const {
    Client::Options o;
    o.version = V();
    o.client_id = id;
    o.timeout_ms = 60000;
    return o;
  }
  Result<std::unique_ptr<Client>> ConnectClient(int port, SSL_CTX* ctx,
                                                const Client::Options& options) {
    ET_ASSIGN_OR_RETURN(auto stream, Dial(port, ctx));
    return Client::Connect(std::move(stream), options);
  }

  // A mosquitto_sub that prints "topic hexpayload" per message and exits after `count`.
  bool StartSubscriber(ChildProcess& sub, MosquittoProcess& broker, const std::string& id,
                       const std::string& filter, int count) {
    return sub.Start({"mosquitto_sub",
                      "-h",
                      "127.0.0.1",
                      "-p",
                      std::to_string(broker.port()),
                      "--cafile",
                      F("ca.pem"),
                      "-V",
                      VersionArg(V()),
                      "-q",
                      "1",
                      "-i",
                      id,
                      "-t",
                      filter,
                      "-F",
                      "%t %x",
                      "-C",
                      std::to_string(count),
                      "-W",
                      "120"},
                     F(id + ".log")) &&
           broker.WaitForLog("Sending SUBACK to " + id, seconds(60));
  }

  // Polls the client until `done` or 60 s passed.
  template <typename Done>
  bool PollUntil(Client& client, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      Status st = client.Poll(200);
      if (!st.ok()) {
        ADD_FAILURE() << st.ToString();
        return false;
      }
    }
    return true;
  }

  // Starts the scripted broker in `mode` on a free port; its port, or 0.
  int StartFakeBroker(ChildProcess& server, const std::string& mode) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = PickLoopbackPort();
      const std::string log = F("fake-" + mode + "-" + std::to_string(attempt) + ".log");
      if (!server.Start({kPython, F("fake_broker.py"), std::to_string(port), F("broker.pem"),
                         F("broker.key"), mode, V() == Version::k5 ? "5" : "4"},
                        log)) {
        return 0;
      }
      if (server.WaitForOutput("LISTENING", seconds(60))) return port;
      server.Kill();
    }
    return 0;
  }

  TempDir dir_;
};

std::string Payload(size_t i) {
  std::string p;
  const size_t len = i == 7 ? 100 * 1024 : 1 + (i * 37) % 300;
  for (size_t k = 0; k < len; ++k) p.push_back(static_cast<char>((i * 31 + k * 7) & 0xFF));
  return p;
}

TEST_P(MqttClientTest, PublishesWhatMosquittoSubReceivesByteExact) {
  auto broker = StartTlsBroker();
  ASSERT_TRUE(broker);
  constexpr size_t kQos1 = 200;
  constexpr size_t kQos0 = 50;
  ChildProcess sub;
  ASSERT_TRUE(StartSubscriber(sub, *broker, "checker", "exact/#", kQos1 + kQos0)) << broker->log();

  auto ctx = Context();
  ASSERT_TRUE(ctx);
  Client::Options options = ClientOptions("publisher");
  options.window = 8;
  auto client = ConnectClient(broker->port(), ctx.get(), options);
  ASSERT_TRUE(client.ok()) << client.status().ToString() << broker->log();
  EXPECT_EQ((*client)->window(), 8);
  std::map<uint16_t, int> acked;
  (*client)->on_ack = [&](uint16_t id, uint8_t reason) {
    EXPECT_EQ(reason, 0);
    ++acked[id];
  };
  size_t most_in_flight = 0;
  std::map<std::string, std::vector<std::string>> expected;
  for (size_t i = 0; i < kQos1 + kQos0; ++i) {
    const bool qos1 = i % 5 != 4;
    const std::string topic = qos1 ? "exact/q1" : "exact/q0";
    const std::string payload = Payload(i);
    auto id = (*client)->Publish(topic, payload, qos1 ? 1 : 0);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_EQ(*id == 0, !qos1);
    most_in_flight = std::max(most_in_flight, (*client)->inflight());
    expected[topic].push_back(HexEncode(AsBytes(payload)));
  }
  EXPECT_LE(most_in_flight, 8u);
  EXPECT_EQ(most_in_flight, 8u) << "the window was never full: nothing waited for PUBACKs";
  ASSERT_TRUE((*client)->WaitAllAcked(60000).ok());
  EXPECT_EQ((*client)->inflight(), 0u);
  size_t acks = 0;
  for (const auto& [id, n] : acked) acks += static_cast<size_t>(n);
  EXPECT_EQ(acks, kQos1);
  EXPECT_TRUE((*client)->Disconnect().ok());

  ASSERT_EQ(sub.Wait(seconds(120)), std::optional<int>(0)) << sub.output() << broker->log();
  std::map<std::string, std::vector<std::string>> got;
  std::istringstream lines(sub.output());
  for (std::string line; std::getline(lines, line);) {
    const size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << line;
    got[line.substr(0, space)].push_back(line.substr(space + 1));
  }
  EXPECT_EQ(got["exact/q1"].size(), kQos1);
  EXPECT_EQ(got["exact/q0"].size(), kQos0);
  EXPECT_TRUE(got == expected) << "payloads differ from what was published";
}

TEST_P(MqttClientTest, ReceivesWhatPahoPublishes) {
  auto broker = StartTlsBroker();
  ASSERT_TRUE(broker);
  auto ctx = Context();
  auto client = ConnectClient(broker->port(), ctx.get(), ClientOptions("receiver"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  std::vector<mqtt::Publish> got;
  (*client)->on_message = [&](const mqtt::Publish& p) { got.push_back(p); };
  ASSERT_TRUE((*client)->Subscribe("in/+/data", 1).ok());

  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  const std::string hex_all = HexEncode(AsBytes(all_bytes));
  auto r = RunTimed({kPython, F("paho_publish.py"), V() == Version::k5 ? "5" : "4",
                     std::to_string(broker->port()), F("ca.pem"), "in/x/data", "1", hex_all,
                     "in/x/other", "1", "6e6f", "in/y/data", "0", "", "in/z/data", "1", "00ff00"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << broker->log();
  ASSERT_TRUE(PollUntil(**client, [&] { return got.size() >= 3; }));
  // Nothing more comes: in/x/other does not match.
  EXPECT_TRUE((*client)->Poll(500).ok());

  ASSERT_EQ(got.size(), 3u);
  std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.topic < b.topic; });
  EXPECT_EQ(got[0].topic, "in/x/data");
  EXPECT_EQ(got[0].payload, all_bytes);
  EXPECT_EQ(got[0].qos, 1);
  EXPECT_EQ(got[1].topic, "in/y/data");
  EXPECT_EQ(got[1].payload, "");
  EXPECT_EQ(got[1].qos, 0);
  EXPECT_EQ(got[2].payload, std::string("\0\xff\0", 3));
  if (V() == Version::k5) {
    EXPECT_EQ(got[0].user_properties, (mqtt::UserProperties{{"k", "v"}, {"sensor", "s1"}}));
  } else {
    EXPECT_TRUE(got[0].user_properties.empty());
  }
  // Our PUBACKs reached the broker: it logs them for the QoS 1 deliveries.
  EXPECT_TRUE(broker->WaitForLog("Received PUBACK from receiver", seconds(60))) << broker->log();
  EXPECT_TRUE((*client)->Disconnect().ok());
}

TEST_P(MqttClientTest, WindowFollowsTheServersReceiveMaximum) {
  MosquittoProcess::Options options;
  options.listeners = {TlsListener()};
  options.extra_config = {"max_inflight_messages 5"};
  auto broker = StartBroker(options);
  ASSERT_TRUE(broker);
  auto ctx = Context();
  Client::Options o = ClientOptions("windowed");
  o.window = 64;
  auto client = ConnectClient(broker->port(), ctx.get(), o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  // MQTT 5 servers announce their receive maximum; 3.1.1 has none.
  EXPECT_EQ((*client)->window(), V() == Version::k5 ? 5 : 64);
  size_t most = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*client)->Publish("w/t", "m" + std::to_string(i), 1).ok());
    most = std::max(most, (*client)->inflight());
  }
  EXPECT_LE(most, (*client)->window());
  ASSERT_TRUE((*client)->WaitAllAcked(60000).ok());
}

TEST_P(MqttClientTest, RefusedConnectNamesTheCode) {
  auto pw = RunTimed({"mosquitto_passwd", "-b", "-c", F("passwords"), "alice", "right"});
  ASSERT_EQ(pw.exit_code, 0) << pw.err;
  WriteText(F("acl"), "user alice\ntopic readwrite allowed/#\n");
  MosquittoProcess::Options options;
  options.listeners = {TlsListener()};
  options.allow_anonymous = false;
  options.extra_config = {"password_file " + F("passwords"), "acl_file " + F("acl")};
  auto broker = StartBroker(options, {F("passwords"), F("acl")});
  ASSERT_TRUE(broker);
  auto ctx = Context();

  Client::Options wrong = ClientOptions("intruder");
  wrong.username = "alice";
  wrong.password = "wrong";
  auto refused = ConnectClient(broker->port(), ctx.get(), wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kPermissionDenied);
  // Mosquitto answers a bad password with "not authorized".
  const std::string expected = V() == Version::k5 ? "not authorized (CONNACK reason 0x87)"
                                                  : "not authorized (CONNACK code 5)";
  EXPECT_TRUE(Contains(refused.status().message(), expected)) << refused.status().message();

  Client::Options anonymous = ClientOptions("anonymous");
  EXPECT_EQ(ConnectClient(broker->port(), ctx.get(), anonymous).status().code(),
            ErrorCode::kPermissionDenied);

  Client::Options right = ClientOptions("alice-client");
  right.username = "alice";
  right.password = "right";
  auto client = ConnectClient(broker->port(), ctx.get(), right);
  ASSERT_TRUE(client.ok()) << client.status().ToString() << broker->log();
  // The ACL refuses publishing outside allowed/#: MQTT 5 says so in the PUBACK, 3.1.1 cannot.
  std::map<uint16_t, uint8_t> reasons;
  (*client)->on_ack = [&](uint16_t id, uint8_t reason) { reasons[id] = reason; };
  auto denied = (*client)->Publish("forbidden/x", "no", 1);
  auto allowed = (*client)->Publish("allowed/x", "yes", 1);
  ASSERT_TRUE(denied.ok() && allowed.ok());
  ASSERT_TRUE((*client)->WaitAllAcked(60000).ok());
  EXPECT_EQ(reasons[*denied], V() == Version::k5 ? 0x87 : 0x00);
  // Accepted; nobody subscribed, which MQTT 5 says too (0x10, a success code).
  EXPECT_EQ(reasons[*allowed], V() == Version::k5 ? 0x10 : 0x00);
  EXPECT_TRUE((*client)->connected());
}

TEST_P(MqttClientTest, TlsPsk) {
  WriteText(F("psk"), std::string("leaf-1:") + kPsk + "\n");
  MosquittoProcess::Options options;
  MosquittoProcess::Listener l;
  l.extra_config = {"psk_hint edgetrust-test"};
  options.listeners = {l};
  options.extra_config = {"psk_file " + F("psk")};
  auto broker = StartBroker(options, {F("psk")});
  ASSERT_TRUE(broker);

  auto psk = HexDecode(kPsk);
  ASSERT_TRUE(psk.ok());
  mqtt::ClientTlsConfig config;
  config.psk_identity = "leaf-1";
  config.psk = SecretBytes(*psk);
  auto ctx = mqtt::BuildClientTlsContext(config);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  auto client = ConnectClient(broker->port(), ctx->get(), ClientOptions("leaf-1"));
  ASSERT_TRUE(client.ok()) << client.status().ToString() << broker->log();
  EXPECT_TRUE(Contains((*client)->stream().Description(), "TLSv1.3"))
      << (*client)->stream().Description();
  std::vector<std::string> got;
  (*client)->on_message = [&](const mqtt::Publish& p) { got.push_back(p.payload); };
  ASSERT_TRUE((*client)->Subscribe("leaf-1/echo", 1).ok());
  ASSERT_TRUE((*client)->Publish("leaf-1/echo", "over psk", 1).ok());
  ASSERT_TRUE(PollUntil(**client, [&] { return !got.empty(); }));
  EXPECT_EQ(got, std::vector<std::string>{"over psk"});

  // Another key for the same identity: the handshake is refused.
  std::string other(kPsk);
  other.back() = other.back() == '0' ? '1' : '0';
  config.psk = SecretBytes(*HexDecode(other));
  auto wrong_ctx = mqtt::BuildClientTlsContext(config);
  ASSERT_TRUE(wrong_ctx.ok());
  auto wrong = ConnectClient(broker->port(), wrong_ctx->get(), ClientOptions("leaf-1b"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), ErrorCode::kPermissionDenied) << wrong.status().ToString();
}

TEST_P(MqttClientTest, RefusesAServerItCannotVerify) {
  auto broker = StartTlsBroker();
  ASSERT_TRUE(broker);
  auto other = Context("other-ca.pem");
  auto stranger = Dial(broker->port(), other.get());
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(stranger.status().message(), "server certificate refused: "))
      << stranger.status().message();
  EXPECT_TRUE(Contains(stranger.status().message(), "unable to get local issuer certificate"))
      << stranger.status().message();

  auto ctx = Context();
  auto misnamed = Dial(broker->port(), ctx.get(), "gateway.example");
  ASSERT_FALSE(misnamed.ok());
  EXPECT_TRUE(Contains(misnamed.status().message(), "hostname mismatch"))
      << misnamed.status().message();
  EXPECT_TRUE(Dial(broker->port(), ctx.get(), "localhost").ok());

  // Nobody listening: unavailable, worth retrying.
  const int port = PickLoopbackPort();
  auto nobody = Dial(port, ctx.get());
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.status().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(
      Contains(nobody.status().message(), "cannot connect to 127.0.0.1:" + std::to_string(port)))
      << nobody.status().message();
}

TEST_P(MqttClientTest, KeepAlivePings) {
  auto broker = StartTlsBroker();
  ASSERT_TRUE(broker);
  auto ctx = Context();
  Client::Options o = ClientOptions("idle");
  o.keep_alive = 1;
  auto client = ConnectClient(broker->port(), ctx.get(), o);
  ASSERT_TRUE(client.ok());
  // Two rounds: a PINGRESP cleared the first ping, or no second one would go out.
  const auto pings = [&] {
    const std::string log = broker->log();
    size_t n = 0;
    for (size_t at = log.find("Received PINGREQ from idle"); at != std::string::npos;
         at = log.find("Received PINGREQ from idle", at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_TRUE(PollUntil(**client, [&] { return pings() >= 2; })) << broker->log();
  EXPECT_TRUE((*client)->connected());
}

TEST_P(MqttClientTest, BrokerGoingAwayEndsTheConnection) {
  auto broker = StartTlsBroker();
  ASSERT_TRUE(broker);
  auto ctx = Context();
  auto client = ConnectClient(broker->port(), ctx.get(), ClientOptions("abandoned"));
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Publish("gone/t", "before", 1).ok());
  ASSERT_TRUE((*client)->WaitAllAcked(60000).ok());
  broker->Stop();
  Status st;
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (st.ok() && std::chrono::steady_clock::now() < deadline) st = (*client)->Poll(200);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), ErrorCode::kUnavailable) << st.ToString();
  EXPECT_FALSE((*client)->connected());
  // The same error from then on.
  auto again = (*client)->Publish("gone/t", "after", 1);
  EXPECT_EQ(again.status().message(), st.message());
}

TEST_P(MqttClientTest, BadArgumentsLeaveTheConnectionUsable) {
  auto broker = StartTlsBroker();
  ASSERT_TRUE(broker);
  auto ctx = Context();
  auto client = ConnectClient(broker->port(), ctx.get(), ClientOptions("careful"));
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Publish("a/b", "x", 2).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ((*client)->Publish("a/#", "x", 1).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ((*client)->Publish("", "x", 0).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ((*client)->Subscribe("a#", 1).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ((*client)->Subscribe("a/b", 2).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE((*client)->connected());
  ASSERT_TRUE((*client)->Subscribe("a/+", 1).ok());
  ASSERT_TRUE((*client)->Unsubscribe("a/+").ok());
  ASSERT_TRUE((*client)->Publish("a/b", "x", 1).ok());
  ASSERT_TRUE((*client)->WaitAllAcked(60000).ok());
}

TEST_P(MqttClientTest, MisbehavingServers) {
  auto ctx = Context();
  {
    ChildProcess server;
    const int port = StartFakeBroker(server, "bad-connack");
    ASSERT_NE(port, 0) << server.output();
    auto client = ConnectClient(port, ctx.get(), ClientOptions("c1"));
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.status().code(), ErrorCode::kMalformed);
    EXPECT_TRUE(Contains(client.status().message(), "CONNACK reserved flags are set"))
        << client.status().message();
  }
  {
    ChildProcess server;
    const int port = StartFakeBroker(server, "suback");
    ASSERT_NE(port, 0) << server.output();
    auto client = ConnectClient(port, ctx.get(), ClientOptions("c2"));
    ASSERT_TRUE(client.ok()) << client.status().ToString() << server.output();
    Status refused = (*client)->Subscribe("refused/#", 1);
    EXPECT_EQ(refused.code(), ErrorCode::kPermissionDenied);
    EXPECT_TRUE(Contains(refused.message(), V() == Version::k5 ? "refused: not authorized (0x87)"
                                                               : "refused: failure (0x80)"))
        << refused.message();
    EXPECT_TRUE((*client)->Subscribe("granted/#", 1).ok());
  }
  {
    ChildProcess server;
    const int port = StartFakeBroker(server, "qos2");
    ASSERT_NE(port, 0) << server.output();
    auto client = ConnectClient(port, ctx.get(), ClientOptions("c3"));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    Status st;
    const auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (st.ok() && std::chrono::steady_clock::now() < deadline) st = (*client)->Poll(200);
    EXPECT_EQ(st.code(), ErrorCode::kUnsupported) << st.ToString();
    EXPECT_TRUE(Contains(st.message(), "QoS 2 is not supported")) << st.message();
  }
  {
    ChildProcess server;
    const int port = StartFakeBroker(server, "silent");
    ASSERT_NE(port, 0) << server.output();
    Client::Options o = ClientOptions("c4");
    o.timeout_ms = 1000;
    auto client = ConnectClient(port, ctx.get(), o);
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.status().code(), ErrorCode::kUnavailable);
    EXPECT_TRUE(Contains(client.status().message(), "no CONNACK from 127.0.0.1:"))
        << client.status().message();
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, MqttClientTest, ::testing::Values(Version::k311, Version::k5),
                         [](const auto& param_info) {
                           return param_info.param == Version::k5 ? std::string("Mqtt5")
                                                                  : std::string("Mqtt311");
                         });

}  // namespace
}  // namespace edgetrust::test
