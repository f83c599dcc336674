// What the gateway refuses, each with a clear log line and no effect at the cloud: no or a wrong
// certificate, a reused or expired enrollment token, a revoked sensor (disconnected at once), a
// sensor publishing under another's name, a wrong PSK, malformed MQTT, a cloud broker whose
// certificate does not chain to the bundle. And the clients nobody here wrote (mosquitto_pub,
// python3 paho-mqtt) against the hub, commands from the cloud to a leaf, and the metrics.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "gateway_rig.h"
#include "ports.h"

namespace edgetrust::test {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class AgentRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!MosquittoProcess::Available()) GTEST_SKIP() << "mosquitto is not installed";
    std::string error;
    ASSERT_TRUE(rig_.Setup(&error)) << error;
    ASSERT_TRUE(rig_.StartCloud()) << rig_.cloud().log();
    ASSERT_TRUE(rig_.StartSubscriber()) << rig_.cloud().log();
  }

  void StartAgent(const std::string& extra = "") {
    ASSERT_TRUE(rig_.StartAgent(rig_.AgentConfig("", extra))) << rig_.AgentLog();
  }

  // mosquitto_pub to the hub, one message, QoS 1.
  CommandResult Pub(const std::vector<std::string>& auth, const std::string& topic,
                    const std::string& message = "{\"n\":1}") {
    std::vector<std::string> argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p",
                                     std::to_string(rig_.hub_port()), "-q", "1", "-t", topic, "-m",
                                     message, "-i", "pub-test"};
    argv.insert(argv.end(), auth.begin(), auth.end());
    return RunCommand(argv);
  }
  std::vector<std::string> CertAuth(const std::string& name) {
    return {"--cafile", rig_.device_ca_pem(), "--insecure", "--cert", rig_.File(name + ".pem"),
            "--key", rig_.File(name + ".key")};
  }

  // Nothing from `leaf` ever reached the cloud (given a moment for anything in flight).
  void ExpectNothingAtCloudFrom(const std::string& leaf) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_FALSE(Contains(rig_.SubscriberOutput(), "/leaves/" + leaf + "/"))
        << rig_.SubscriberOutput();
  }

  bool WaitForCloud(const std::string& text, int timeout_s = 60) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Contains(rig_.SubscriberOutput(), text)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  CommandResult Python(const std::string& script, const std::vector<std::string>& args) {
    WriteText(rig_.File("script.py"), script);
    std::vector<std::string> argv = {"/usr/bin/python3", rig_.File("script.py")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  TempDir dir_;
  GatewayRig rig_{dir_};
};

TEST_F(AgentRefusalTest, CertificatesFromTheLeafCaOnlyAndOnlyForKnownLeaves) {
  StartAgent();
  std::string error;
  ASSERT_EQ(rig_.AddLeaf("good", "certificate"), "ok");
  ASSERT_TRUE(rig_.IssueLeafCertificate("good", &error)) << error;
  ASSERT_TRUE(rig_.IssueForeignCertificate("foreign", &error)) << error;
  ASSERT_TRUE(rig_.IssueLeafCertificate("unknown", &error)) << error;

  auto ok = Pub(CertAuth("good"), "good/temperature", "{\"n\":7}");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err << rig_.AgentLog();
  EXPECT_TRUE(WaitForCloud("/leaves/good/temperature")) << rig_.AgentLog();

  // No certificate and no credentials at all.
  auto none = Pub({"--cafile", rig_.device_ca_pem(), "--insecure"}, "good/temperature");
  EXPECT_NE(none.exit_code, 0);
  EXPECT_TRUE(rig_.WaitForAgentLog("no client certificate, PSK or enrollment token"))
      << rig_.AgentLog();
  // A certificate from a CA the gateway does not trust: refused in the handshake.
  auto foreign = Pub(CertAuth("foreign"), "foreign/temperature");
  EXPECT_NE(foreign.exit_code, 0);
  EXPECT_TRUE(rig_.WaitForAgentLog("stage=tls reason=")) << rig_.AgentLog();
  // A good certificate for a leaf the gateway was never told about.
  auto unknown = Pub(CertAuth("unknown"), "unknown/temperature");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(rig_.WaitForAgentLog("event=leaf-refused leaf=unknown")) << rig_.AgentLog();
  ExpectNothingAtCloudFrom("foreign");
  ExpectNothingAtCloudFrom("unknown");
}

TEST_F(AgentRefusalTest, PublishingUnderAnotherNameIsRefused) {
  StartAgent();
  const std::string psk = rig_.AddLeaf("alice", "psk");
  ASSERT_FALSE(psk.empty());
  ASSERT_FALSE(rig_.AddLeaf("bob", "psk").empty());
  const std::vector<std::string> auth = {"--psk", psk, "--psk-identity", "alice"};
  auto own = Pub(auth, "alice/temperature");
  EXPECT_EQ(own.exit_code, 0) << own.err << rig_.AgentLog();
  auto other = Pub(auth, "bob/temperature", "{\"n\":666}");
  EXPECT_TRUE(rig_.WaitForAgentLog("publishes under another name: topic bob/temperature"))
      << rig_.AgentLog();
  (void)other;
  EXPECT_TRUE(WaitForCloud("/leaves/alice/temperature"));
  ExpectNothingAtCloudFrom("bob");
}

TEST_F(AgentRefusalTest, WrongPskIsRefusedInTheHandshake) {
  StartAgent();
  ASSERT_FALSE(rig_.AddLeaf("dev", "psk").empty());
  // The stock openssl client with a wrong key, in TLS 1.3 and TLS 1.2: no handshake.
  for (const std::string version : {"-tls1_3", "-tls1_2"}) {
    auto s = RunCommand({"openssl", "s_client", "-connect",
                         "127.0.0.1:" + std::to_string(rig_.hub_port()), version, "-psk",
                         std::string(64, 'a'), "-psk_identity", "dev", "-brief"},
                        "");
    EXPECT_NE(s.exit_code, 0) << version << "\n" << s.out << s.err;
  }
  auto r = Pub({"--psk", std::string(64, 'a'), "--psk-identity", "dev"}, "dev/temperature");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(rig_.WaitForAgentLog("stage=tls")) << rig_.AgentLog();
  auto unknown = Pub({"--psk", std::string(64, 'b'), "--psk-identity", "nobody"},
                     "nobody/temperature");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_TRUE(rig_.WaitForAgentLog("event=leaf-refused leaf=nobody")) << rig_.AgentLog();
  ExpectNothingAtCloudFrom("dev");
}

TEST_F(AgentRefusalTest, EnrollmentTokensWorkOnceAndExpire) {
  StartAgent();
  const std::string token = rig_.AddLeaf("e1");
  ASSERT_FALSE(token.empty());
  auto& first = rig_.StartSensor(
      "e1", {"--enroll", token, "--state", rig_.File("e1-state"), "--count", "2", "--quiet"});
  auto rc = first.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(rc.has_value() && *rc == 0) << first.output() << rig_.AgentLog();

  // The same token again, from another state folder: refused.
  auto& again = rig_.StartSensor(
      "e1", {"--enroll", token, "--state", rig_.File("e1-again"), "--count", "1", "--quiet"});
  rc = again.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 1) << again.output();
  EXPECT_TRUE(rig_.WaitForAgentLog("token already used")) << rig_.AgentLog();

  // A wrong token for a pending leaf, and an expired one.
  ASSERT_FALSE(rig_.AddLeaf("e2").empty());
  auto& wrong = rig_.StartSensor(
      "e2", {"--enroll", "not-the-token", "--state", rig_.File("e2"), "--count", "1"});
  rc = wrong.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 1) << wrong.output();
  // A token past its expiry: the registry's clock is moved instead of waiting for the shortest
  // allowed lifetime (a minute), by editing the agent's state while it is stopped.
  const std::string short_lived = rig_.AddLeaf("e3", "enrollment", "1m");
  ASSERT_FALSE(short_lived.empty());
  ASSERT_EQ(rig_.StopAgent(), 0);
  {
    auto leaves = nlohmann::json::parse(ReadText(rig_.File("agent/leaves.json")));
    bool moved = false;
    std::function<void(nlohmann::json&)> expire = [&](nlohmann::json& j) {
      if (j.is_object()) {
        if (j.value("name", "") == "e3" && j.contains("token_expires_ms")) {
          j["token_expires_ms"] = j["token_expires_ms"].get<int64_t>() - 120'000;
          moved = true;
        }
        for (auto& [k, v] : j.items()) expire(v);
      } else if (j.is_array()) {
        for (auto& v : j) expire(v);
      }
    };
    expire(leaves);
    ASSERT_TRUE(moved) << leaves.dump();
    WriteText(rig_.File("agent/leaves.json"), leaves.dump());
  }
  ASSERT_TRUE(rig_.StartAgent()) << rig_.AgentLog();
  auto& expired = rig_.StartSensor(
      "e3", {"--enroll", short_lived, "--state", rig_.File("e3"), "--count", "1"});
  rc = expired.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 1) << expired.output();
  EXPECT_TRUE(rig_.WaitForAgentLog("token expired")) << rig_.AgentLog();
  ExpectNothingAtCloudFrom("e2");
  ExpectNothingAtCloudFrom("e3");
}

TEST_F(AgentRefusalTest, RevocationDisconnectsAtOnceAndRefusesAfterwards) {
  StartAgent();
  const std::string psk = rig_.AddLeaf("r1", "psk");
  ASSERT_FALSE(psk.empty());
  auto& sensor = rig_.StartSensor("r1", {"--psk", psk, "--count", "0", "--rate", "20"});
  ASSERT_TRUE(sensor.WaitForOutput("acked n=3")) << sensor.output() << rig_.AgentLog();
  auto r = rig_.Cli({"leaf", "revoke", "r1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(rig_.WaitForAgentLog("event=leaf-disconnected leaf=r1")) << rig_.AgentLog();
  EXPECT_TRUE(rig_.WaitForAgentLog("reason=\"revoked\"")) << rig_.AgentLog();
  // It keeps trying and is refused each time.
  EXPECT_TRUE(rig_.WaitForAgentLog("event=leaf-refused leaf=r1")) << rig_.AgentLog();
  sensor.Kill();
  auto list = rig_.Cli({"leaf", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(Contains(list.out, "revoked")) << list.out;
}

TEST_F(AgentRefusalTest, MalformedMqttIsRefusedAndTheHubKeepsServing) {
  StartAgent();
  std::string error;
  ASSERT_EQ(rig_.AddLeaf("m1", "certificate"), "ok");
  ASSERT_TRUE(rig_.IssueLeafCertificate("m1", &error)) << error;
  // Raw bytes over a good TLS connection: a CONNECT with a remaining length of five bytes, a
  // PUBLISH before CONNECT, and a CONNECT with a bad protocol name.
  const char* kScript = R"(
import socket, ssl, sys
port, ca, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.load_cert_chain(cert, key)
for payload in [b"\x10\xff\xff\xff\xff\x7f", b"\x30\x05\x00\x01a\x00\x00",
                b"\x10\x0c\x00\x04MQTX\x04\x02\x00\x3c\x00\x00"]:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    s.sendall(payload)
    s.settimeout(30)
    closed = False
    try:
        while True:
            data = s.recv(100)
            if not data:
                closed = True
                break
            if data[:1] == b"\x20" and data[3:4] != b"\x00":
                continue  # a refusing CONNACK, then the close
    except (ConnectionError, ssl.SSLError):
        closed = True
    except socket.timeout:
        pass
    print("closed" if closed else "still open", flush=True)
    s.close()
)";
  auto r = Python(kScript, {std::to_string(rig_.hub_port()), rig_.device_ca_pem(),
                            rig_.File("m1.pem"), rig_.File("m1.key")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "closed\nclosed\nclosed\n") << r.out << r.err << rig_.AgentLog();
  EXPECT_TRUE(rig_.WaitForAgentLog("first packet is PUBLISH, not CONNECT")) << rig_.AgentLog();
  // One refusal per bad connection, each naming the problem.
  const std::string log = rig_.AgentLog();
  size_t refusals = 0;
  for (size_t at = log.find("stage=connect reason="); at != std::string::npos;
       at = log.find("stage=connect reason=", at + 1)) {
    ++refusals;
  }
  EXPECT_EQ(refusals, 3u) << log;
  EXPECT_TRUE(rig_.agent().running());
  // The hub still serves a well-behaved client.
  auto ok = Pub(CertAuth("m1"), "m1/temperature", "{\"n\":1}");
  EXPECT_EQ(ok.exit_code, 0) << ok.err << rig_.AgentLog();
  EXPECT_TRUE(WaitForCloud("/leaves/m1/temperature"));
}

TEST_F(AgentRefusalTest, PahoClientsOfBothVersionsAndCommandsFromTheCloud) {
  StartAgent();
  std::string error;
  ASSERT_EQ(rig_.AddLeaf("p1", "certificate"), "ok");
  ASSERT_TRUE(rig_.IssueLeafCertificate("p1", &error)) << error;
  const char* kScript = R"(
import ssl, sys, time, paho.mqtt.client as mqtt
port, ca, cert, key, version, want = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
proto = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
c = mqtt.Client(client_id="p1", protocol=proto)
c.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
c.tls_insecure_set(True)
got = []
c.on_message = lambda cl, u, m: got.append((m.topic, m.payload))
c.connect("127.0.0.1", port, 30)
c.loop_start()
r = c.subscribe("p1/commands/#", qos=1)
info = c.publish("p1/temperature", '{"sensor":"p1","n":%s}' % version, qos=1)
info.wait_for_publish()
print("published", info.rc, flush=True)
deadline = time.time() + 60
# Commands are delivered at least once: one the previous client did not acknowledge in time
# may come first.
while not any(p.decode() == want for t, p in got) and time.time() < deadline:
    time.sleep(0.05)
for t, p in got:
    print("command", t, p.decode(), flush=True)
c.disconnect()
c.loop_stop()
)";
  for (const std::string version : {"3.1.1", "5"}) {
    // The cloud sends a command while the leaf runs; it is queued and delivered.
    std::thread cloud_side([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      RunCommand({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(rig_.cloud().port()),
                  "--cafile", rig_.cloud_ca_pem(), "--cert", rig_.File("cloud-sub.pem"), "--key",
                  rig_.File("cloud-sub.key"), "-i", "cloud-cmd", "-q", "1", "-t",
                  "gateways/gw-test/commands/p1/reboot", "-m", "now-" + version});
    });
    auto r = Python(kScript, {std::to_string(rig_.hub_port()), rig_.device_ca_pem(),
                              rig_.File("p1.pem"), rig_.File("p1.key"),
                              version == "5" ? "5" : "4", "now-" + version});
    cloud_side.join();
    EXPECT_EQ(r.exit_code, 0) << r.err << rig_.AgentLog();
    EXPECT_TRUE(Contains(r.out, "published 0")) << r.out << r.err;
    EXPECT_TRUE(Contains(r.out, "command p1/commands/reboot now-" + version))
        << r.out << r.err << rig_.AgentLog();
  }
  EXPECT_TRUE(WaitForCloud("\"n\":4")) << rig_.SubscriberOutput();
  EXPECT_TRUE(WaitForCloud("\"n\":5")) << rig_.SubscriberOutput();
}

TEST_F(AgentRefusalTest, CloudBrokerOutsideTheBundleIsRefused) {
  // A broker with a certificate of a CA the gateway does not trust.
  auto r = rig_.Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-nodes", "-keyout", rig_.File("rogue.key"), "-out",
                         rig_.File("rogue.pem"), "-subj", "/CN=127.0.0.1", "-days", "2",
                         "-addext", "subjectAltName=IP:127.0.0.1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ::chmod(rig_.File("rogue.key").c_str(), 0644);
  MosquittoProcess::Options o;
  MosquittoProcess::Listener l;
  l.certfile = rig_.File("rogue.pem");
  l.keyfile = rig_.File("rogue.key");
  o.listeners = {l};
  o.user = "root";
  MosquittoProcess rogue(dir_, o);
  ASSERT_TRUE(rogue.Start()) << rogue.log();
  std::string config = rig_.AgentConfig();
  const std::string from = "port = " + std::to_string(rig_.cloud().port());
  config.replace(config.find(from), from.size(), "port = " + std::to_string(rogue.port()));
  ASSERT_TRUE(rig_.StartAgent(config)) << rig_.AgentLog();
  EXPECT_TRUE(rig_.WaitForAgentLog("event=cloud-refused")) << rig_.AgentLog();
  EXPECT_TRUE(Contains(rig_.AgentLog(), "certificate")) << rig_.AgentLog();
  auto st = rig_.Cli({"status", "--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  auto j = nlohmann::json::parse(st.out);
  EXPECT_NE(j["cloud"]["state"], "connected");
  EXPECT_FALSE(j["cloud"]["last_error"].get<std::string>().empty()) << st.out;
  EXPECT_FALSE(rogue.WaitForLog("New client connected", std::chrono::seconds(2)))
      << "no MQTT session may start with an unverified broker";
}

TEST_F(AgentRefusalTest, MetricsOnLoopback) {
  const int port = PickLoopbackPort();
  StartAgent("[metrics]\nenabled = true\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n");
  auto r = RunCommand({"/usr/bin/python3", "-c",
                       "import urllib.request,sys; print(urllib.request.urlopen("
                       "'http://127.0.0.1:" +
                           std::to_string(port) + "/metrics', timeout=10).read().decode())"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "# TYPE edgetrust_queue_depth gauge")) << r.out;
  EXPECT_TRUE(Contains(r.out, "edgetrust_cloud_connected")) << r.out;
}

}  // namespace
}  // namespace edgetrust::test
