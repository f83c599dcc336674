// edgetrust-sensor, the reference leaf, against the real Mosquitto broker over TLS: mutual TLS
// with a PEM key and with a key held by a real edgetrust-sd, TLS-PSK, enrollment (a Python hub
// on the broker signs the CSR with the test CA), a broker stopped and restarted on the same port
// while the sensor runs (every reading acknowledged, and every one reaches a persistent
// mosquitto_sub), commands, refusals (TLS, CONNACK, an MQTT 5 PUBACK, an MQTT 3.1.1 server that
// closes instead) and usage errors.
//
// A scripted TLS server (Python) that drops the first connection at its first PUBLISH checks
// that the reading comes again on the next one, byte for byte, with the DUP flag.
//
// mosquitto_sub is the independent checker of what arrived. Certificates come from the openssl
// CLI. Every background process is a ChildProcess killed when the test ends; every wait polls
// its condition with a generous deadline; no figure of time is asserted.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "harness.h"
#include "mosquitto.h"
#include "ports.h"

#ifndef EDGETRUST_SENSOR_BIN
#error "EDGETRUST_SENSOR_BIN must be defined by the build"
#endif

namespace edgetrust::test {
namespace {

using std::chrono::seconds;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kPsk[] = "8c1f0e2d3c4b5a69788796a5b4c3d2e1f0112233445566778899aabbccddeeff";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

CommandResult RunTimed(std::vector<std::string> argv, const std::string& input = "") {
  argv.insert(argv.begin(), {"timeout", "-k", "5", "300"});
  return RunCommand(argv, input);
}

// The n of every "acked n=N ..." line.
std::vector<uint64_t> AckedNumbers(const std::string& out) {
  std::vector<uint64_t> n;
  static const std::regex kAcked(R"(^acked n=(\d+) temp_c=-?\d+\.\d\d$)");
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kAcked)) n.push_back(std::stoull(m[1]));
  }
  return n;
}

std::vector<uint64_t> OneTo(uint64_t count) {
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= count; ++i) v.push_back(i);
  return v;
}

std::set<uint64_t> OneToSet(uint64_t count) {
  const std::vector<uint64_t> v = OneTo(count);
  return {v.begin(), v.end()};
}

// The Python hub of the enrollment test: on $enroll/csr it verifies the CSR and answers on
// $enroll/result with a certificate from the test CA plus the CA, or with "error: ..." for names
// starting with "refuse". argv: port cafile certfile keyfile ca.pem ca.key.
constexpr char kEnrollHub[] = R"(
import datetime, sys, paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
port, cafile, certfile, keyfile, ca_pem, ca_key = sys.argv[1:7]
ca = x509.load_pem_x509_certificate(open(ca_pem, "rb").read())
ca_private = serialization.load_pem_private_key(open(ca_key, "rb").read(), None)
def on_connect(c, userdata, flags, rc):
    c.subscribe("$enroll/csr", qos=1)
def on_message(c, userdata, m):
    csr = x509.load_pem_x509_csr(m.payload)
    cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    if not csr.is_signature_valid:
        c.publish("$enroll/result", b"error: bad CSR signature", qos=1)
        return
    if cn.startswith("refuse"):
        c.publish("$enroll/result", ("error: leaf " + cn + " is not expected").encode(), qos=1)
        print("refused", cn, flush=True)
        return
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_private, hashes.SHA256()))
    pem = (cert.public_bytes(serialization.Encoding.PEM) +
           ca.public_bytes(serialization.Encoding.PEM))
    c.publish("$enroll/result", pem, qos=1)
    print("issued", cn, flush=True)
c = mqtt.Client(client_id="hub")
c.tls_set(ca_certs=cafile, certfile=certfile, keyfile=keyfile)
c.on_connect = on_connect
c.on_message = on_message
c.connect("127.0.0.1", int(port))
c.loop_forever()
)";

// A TLS server that accepts MQTT 3.1.1 connections and closes each one at its first PUBLISH,
// as a gateway refusing a leaf's topic does. argv: port cert key.
constexpr char kClosingBroker[] = R"(
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    srv.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    print("bind failed:", e, flush=True)
    sys.exit(3)
srv.listen(8)
print("LISTENING", flush=True)
def packet(s):
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
        more = s.recv(n - len(body))
        if not more:
            return None
        body += more
    return head[0] >> 4, body
while True:
    conn, _ = srv.accept()
    try:
        s = ctx.wrap_socket(conn, server_side=True)
        while True:
            p = packet(s)
            if p is None:
                break
            kind, body = p
            if kind == 1:
                s.sendall(b"\x20\x02\x00\x00")
            elif kind == 8:
                s.sendall(b"\x90\x03" + body[0:2] + b"\x01")
            elif kind == 3:
                print("closing at PUBLISH", flush=True)
                break
        s.close()
    except (OSError, ssl.SSLError, IndexError):
        pass
)";

// A TLS server that takes MQTT 3.1.1: the first connection is closed at its first PUBLISH,
// unacknowledged; later ones acknowledge everything. It prints "conn=K dup=D payload=P" per
// PUBLISH. argv: port cert key.
constexpr char kForgetfulBroker[] = R"(
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    srv.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    print("bind failed:", e, flush=True)
    sys.exit(3)
srv.listen(8)
print("LISTENING", flush=True)
def packet(s):
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
        more = s.recv(n - len(body))
        if not more:
            return None
        body += more
    return head[0], body
conn_no = 0
while True:
    conn, _ = srv.accept()
    conn_no += 1
    try:
        s = ctx.wrap_socket(conn, server_side=True)
        while True:
            p = packet(s)
            if p is None:
                break
            first, body = p
            kind = first >> 4
            if kind == 1:
                s.sendall(b"\x20\x02\x00\x00")
            elif kind == 8:
                s.sendall(b"\x90\x03" + body[0:2] + b"\x01")
            elif kind == 12:
                s.sendall(b"\xd0\x00")
            elif kind == 3:
                topic_len = (body[0] << 8) | body[1]
                pid = body[2 + topic_len:4 + topic_len]
                payload = body[4 + topic_len:].decode()
                dup = (first >> 3) & 1
                print("conn=%d dup=%d payload=%s" % (conn_no, dup, payload), flush=True)
                if conn_no == 1:
                    break
                s.sendall(b"\x40\x02" + pid)
        s.close()
    except (OSError, ssl.SSLError, IndexError):
        pass
)";

class SensorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MosquittoProcess::Available()) << "mosquitto is not installed";
    ASSERT_EQ(::access(EDGETRUST_SENSOR_BIN, X_OK), 0) << EDGETRUST_SENSOR_BIN;
    ASSERT_NO_FATAL_FAILURE(MakeCa("ca", "/CN=Leaf Test CA"));
    ASSERT_NO_FATAL_FAILURE(MakeCa("other-ca", "/CN=Some Other CA"));
    WriteText(F("server.ext"),
              "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    WriteText(F("client.ext"), "extendedKeyUsage=clientAuth\n");
    ASSERT_NO_FATAL_FAILURE(Issue("broker", "/CN=localhost", "server.ext", "ca"));
    ASSERT_NO_FATAL_FAILURE(Issue("checker", "/CN=checker", "client.ext", "ca"));
  }

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
  // A key and a certificate for it; with `public_key`, the certificate is for that public key
  // instead (one held by a secure domain), the CSR's own key then only a placeholder.
  void Issue(const std::string& name, const std::string& subject, const std::string& ext,
             const std::string& ca, const std::string& public_key = "") {
    Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", F(name + ".key"), "-out", F(name + ".csr"), "-subj", subject});
    std::vector<std::string> x509 = {"x509",
                                     "-req",
                                     "-in",
                                     F(name + ".csr"),
                                     "-CA",
                                     F(ca + ".pem"),
                                     "-CAkey",
                                     F(ca + ".key"),
                                     "-CAcreateserial",
                                     "-out",
                                     F(name + ".pem"),
                                     "-days",
                                     "1",
                                     "-extfile",
                                     F(ext)};
    if (!public_key.empty()) x509.insert(x509.end(), {"-force_pubkey", public_key});
    Openssl(x509);
  }

  // A TLS listener requiring client certificates of the test CA (mutual TLS), the CN as the
  // user name.
  MosquittoProcess::Listener MutualListener() const {
    MosquittoProcess::Listener l;
    l.cafile = F("ca.pem");
    l.certfile = F("broker.pem");
    l.keyfile = F("broker.key");
    l.require_certificate = true;
    l.extra_config = {"use_identity_as_username true"};
    return l;
  }
  std::unique_ptr<MosquittoProcess> StartBroker(MosquittoProcess::Options options,
                                                const std::vector<std::string>& owned = {}) {
    auto broker = std::make_unique<MosquittoProcess>(dir_, std::move(options));
    std::vector<std::string> files = owned;
    files.push_back(F("broker.key"));
    for (const auto& file : files) {
      EXPECT_EQ(::chown(file.c_str(), broker->uid(), broker->gid()), 0) << file;
    }
    if (!broker->Start()) {
      ADD_FAILURE() << "broker did not start: " << broker->log();
      return nullptr;
    }
    return broker;
  }
  std::unique_ptr<MosquittoProcess> StartMutualBroker() {
    MosquittoProcess::Options options;
    options.listeners = {MutualListener()};
    return StartBroker(options);
  }

  std::vector<std::string> SensorArgs(const MosquittoProcess& broker, const std::string& name,
                                      size_t listener = 0) const {
    return {EDGETRUST_SENSOR_BIN, "--gateway", "127.0.0.1:" + std::to_string(broker.port(listener)),
            "--name", name};
  }
  std::vector<std::string> CertArgs(const std::string& name) const {
    return {"--ca", F("ca.pem"), "--cert", F(name + ".pem"), "--key", F(name + ".key")};
  }
  CommandResult RunSensor(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return RunTimed(args);
  }

  // A persistent mosquitto_sub (client id `id`, clean session off, QoS 1) printing payloads of
  // `topic`, started once the broker acknowledged its subscription.
  bool StartChecker(ChildProcess& sub, MosquittoProcess& broker, const std::string& id,
                    const std::string& topic, const std::string& mqtt_version = "mqttv311") {
    return sub.Start({"mosquitto_sub",
                      "-h",
                      "127.0.0.1",
                      "-p",
                      std::to_string(broker.port()),
                      "--cafile",
                      F("ca.pem"),
                      "--cert",
                      F("checker.pem"),
                      "--key",
                      F("checker.key"),
                      "-V",
                      mqtt_version,
                      "-q",
                      "1",
                      "-c",
                      "-i",
                      id,
                      "-t",
                      topic,
                      "-F",
                      "%p"},
                     F(id + ".log")) &&
           broker.WaitForLog("Sending SUBACK to " + id, seconds(60));
  }
  // The readings the checker printed: n values, each checked to be a reading of `sensor`.
  std::set<uint64_t> Readings(const ChildProcess& sub, const std::string& sensor) {
    std::set<uint64_t> n;
    std::istringstream lines(sub.output());
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] != '{') continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) {
        ADD_FAILURE() << "not JSON: " << line;
        continue;
      }
      EXPECT_EQ(j.value("sensor", ""), sensor) << line;
      EXPECT_TRUE(j.contains("temp_c") && j["temp_c"].is_number()) << line;
      EXPECT_TRUE(j.contains("ts_ms") && j["ts_ms"].is_number_integer()) << line;
      if (j.contains("temp_c") && j["temp_c"].is_number()) {
        const double t = j["temp_c"].get<double>();
        EXPECT_TRUE(t > 10 && t < 35) << line;
      }
      // Exactly the documented fields, in the documented order.
      EXPECT_EQ(line.rfind("{\"sensor\":", 0), 0u) << line;
      EXPECT_EQ(j.size(), 4u) << line;
      if (j.contains("n")) n.insert(j["n"].get<uint64_t>());
    }
    return n;
  }
  // Waits until the checker saw readings 1..count.
  bool WaitForReadings(const ChildProcess& sub, const std::string& sensor, uint64_t count) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Readings(sub, sensor).size() >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  int StartPythonServer(ChildProcess& server, const std::string& script,
                        const std::vector<std::string>& args) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = PickLoopbackPort();
      std::vector<std::string> argv = {kPython, script, std::to_string(port)};
      argv.insert(argv.end(), args.begin(), args.end());
      if (!server.Start(argv, F("server-" + std::to_string(port) + ".log"))) return 0;
      if (server.WaitForOutput("LISTENING", seconds(60))) return port;
      server.Kill();
    }
    return 0;
  }

  TempDir dir_;
};

TEST_F(SensorTest, MutualTlsWithPemKey) {
  ASSERT_NO_FATAL_FAILURE(Issue("s1", "/CN=s1", "client.ext", "ca"));
  auto broker = StartMutualBroker();
  ASSERT_TRUE(broker);
  ChildProcess checker;
  ASSERT_TRUE(StartChecker(checker, *broker, "check-s1", "s1/temperature")) << broker->log();

  // The defaults: 10 readings at 1 per second, QoS 1, MQTT 3.1.1.
  auto defaults = RunSensor(SensorArgs(*broker, "s1"), CertArgs("s1"));
  ASSERT_EQ(defaults.exit_code, 0) << defaults.out << defaults.err << broker->log();
  EXPECT_EQ(AckedNumbers(defaults.out), OneTo(10)) << defaults.out;
  EXPECT_TRUE(Contains(defaults.out, "sent=10 acked=10 reconnects=0")) << defaults.out;
  EXPECT_TRUE(Contains(defaults.err, "connected to 127.0.0.1:")) << defaults.err;
  EXPECT_TRUE(Contains(defaults.err, "mutual TLS")) << defaults.err;
  ASSERT_TRUE(WaitForReadings(checker, "s1", 10)) << checker.output();

  auto r = RunSensor(SensorArgs(*broker, "s1"),
                     {"--ca", F("ca.pem"), "--cert", F("s1.pem"), "--key", F("s1.key"), "--count",
                      "20", "--rate", "50", "--window", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << broker->log();
  EXPECT_EQ(AckedNumbers(r.out), OneTo(20)) << r.out;
  EXPECT_TRUE(Contains(r.out, "sent=20 acked=20 reconnects=0")) << r.out;
  ASSERT_TRUE(WaitForReadings(checker, "s1", 20)) << checker.output();
  EXPECT_EQ(Readings(checker, "s1"), OneToSet(20));
  // 30 messages in all: each run's readings arrived once.
  const std::string lines = checker.output();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 30) << lines;
}

TEST_F(SensorTest, SecureDomainKeyOverMqtt5) {
  SdProcess sd(dir_);
  ASSERT_TRUE(sd.Start()) << sd.log();
  auto created = RunCli(sd.socket(), {"key", "create", "s2-key", "--type", "ecdsa-p256"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto pub = RunCli(sd.socket(), {"key", "public", "s2-key"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  WriteText(F("s2-public.pem"), pub.out);
  ASSERT_NO_FATAL_FAILURE(Issue("s2", "/CN=s2", "client.ext", "ca", F("s2-public.pem")));
  auto broker = StartMutualBroker();
  ASSERT_TRUE(broker);
  ChildProcess checker;
  ASSERT_TRUE(StartChecker(checker, *broker, "check-s2", "s2/temperature", "mqttv5"));

  auto r = RunSensor(SensorArgs(*broker, "s2"),
                     {"--ca", F("ca.pem"), "--cert", F("s2.pem"), "--key", "edgetrust:s2-key",
                      "--sd-socket", sd.socket(), "--mqtt", "5", "--count", "10", "--rate", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << broker->log() << sd.log();
  EXPECT_EQ(AckedNumbers(r.out), OneTo(10)) << r.out;
  EXPECT_TRUE(Contains(r.err, "key edgetrust:s2-key in the secure domain")) << r.err;
  EXPECT_TRUE(Contains(r.err, "MQTT 5")) << r.err;
  ASSERT_TRUE(WaitForReadings(checker, "s2", 10)) << checker.output();

  // The certificate's own placeholder key is not the one: the handshake fails without the
  // secure domain's key.
  auto wrong = RunSensor(SensorArgs(*broker, "s2"), {"--ca", F("ca.pem"), "--cert", F("s2.pem"),
                                                     "--key", F("s2.key"), "--count", "1"});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
  EXPECT_TRUE(Contains(wrong.err, "the certificate is not for the key")) << wrong.err;
  EXPECT_EQ(sd.Stop(), 0) << sd.log();
}

TEST_F(SensorTest, TlsPsk) {
  WriteText(F("psk"), std::string("s3:") + kPsk + "\n");
  WriteText(F("s3.psk"), std::string(kPsk) + "\n");
  MosquittoProcess::Options options;
  MosquittoProcess::Listener l;
  l.extra_config = {"psk_hint leaf-hub", "use_identity_as_username true"};
  options.listeners = {l};
  options.extra_config = {"psk_file " + F("psk")};
  auto broker = StartBroker(options, {F("psk")});
  ASSERT_TRUE(broker);

  auto r = RunSensor(SensorArgs(*broker, "s3"),
                     {"--psk", kPsk, "--count", "5", "--rate", "50", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << broker->log();
  std::vector<uint64_t> acked;
  nlohmann::json summary;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    if (j["event"] == "acked") acked.push_back(j["n"].get<uint64_t>());
    if (j["event"] == "summary") summary = j;
  }
  EXPECT_EQ(acked, OneTo(5));
  EXPECT_EQ(summary,
            (nlohmann::json{{"event", "summary"}, {"sent", 5}, {"acked", 5}, {"reconnects", 0}}));
  EXPECT_TRUE(Contains(r.err, "TLS-PSK (identity s3)")) << r.err;

  // From a file, at QoS 0: "sent" lines, nothing to acknowledge.
  auto q0 = RunSensor(SensorArgs(*broker, "s3"),
                      {"--psk-file", F("s3.psk"), "--count", "3", "--rate", "50", "--qos", "0"});
  ASSERT_EQ(q0.exit_code, 0) << q0.out << q0.err;
  EXPECT_TRUE(Contains(q0.out, "sent n=3 temp_c=")) << q0.out;
  EXPECT_TRUE(Contains(q0.out, "sent=3 acked=0 reconnects=0")) << q0.out;

  // Another key for the same identity: refused, exit 1.
  std::string other(kPsk);
  other[0] = other[0] == '8' ? '9' : '8';
  auto wrong = RunSensor(SensorArgs(*broker, "s3"), {"--psk", other, "--count", "1"});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
  EXPECT_TRUE(Contains(wrong.err, "refused by the server")) << wrong.err;
}

TEST_F(SensorTest, BrokerRestartLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(Issue("s4", "/CN=s4", "client.ext", "ca"));
  ::mkdir(F("persist").c_str(), 0755);
  MosquittoProcess::Options options;
  options.listeners = {MutualListener()};
  // Persistent sessions survive the restart, so the checker misses nothing while it is away.
  options.extra_config = {"persistence true", "persistence_location " + F("persist") + "/",
                          "max_queued_messages 100000"};
  auto broker = StartBroker(options, {F("persist")});
  ASSERT_TRUE(broker);
  ChildProcess checker;
  ASSERT_TRUE(StartChecker(checker, *broker, "check-s4", "s4/temperature")) << broker->log();

  constexpr uint64_t kCount = 100;
  ChildProcess sensor;
  std::vector<std::string> args = SensorArgs(*broker, "s4");
  const auto cert = CertArgs("s4");
  args.insert(args.end(), cert.begin(), cert.end());
  args.insert(args.end(), {"--count", std::to_string(kCount), "--rate", "10", "--retry-ms", "100"});
  ASSERT_TRUE(sensor.Start(args, F("s4.log")));
  ASSERT_TRUE(sensor.WaitForOutput("acked n=10 ", seconds(120))) << sensor.output();
  ASSERT_TRUE(broker->Restart()) << broker->log();
  ASSERT_EQ(sensor.Wait(seconds(300)), std::optional<int>(0)) << sensor.output() << broker->log();
  const std::string out = sensor.output();
  EXPECT_EQ(AckedNumbers(out), OneTo(kCount)) << out;
  EXPECT_TRUE(Contains(out, "connection lost: ")) << out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m,
                                std::regex("sent=" + std::to_string(kCount) + " acked=" +
                                           std::to_string(kCount) + R"( reconnects=(\d+))")))
      << out;
  EXPECT_GE(std::stoi(m[1]), 1);
  // Everything reached the subscriber (some perhaps twice: sent again after a lost PUBACK).
  ASSERT_TRUE(WaitForReadings(checker, "s4", kCount)) << checker.output() << broker->log();
  EXPECT_EQ(Readings(checker, "s4"), OneToSet(kCount));
}

TEST_F(SensorTest, ResendsUnacknowledgedReadingsWithDup) {
  ASSERT_NO_FATAL_FAILURE(Issue("s10", "/CN=s10", "client.ext", "ca"));
  WriteText(F("forgetful.py"), kForgetfulBroker);
  ChildProcess server;
  const int port = StartPythonServer(server, F("forgetful.py"), {F("broker.pem"), F("broker.key")});
  ASSERT_NE(port, 0) << server.output();
  auto r = RunTimed({EDGETRUST_SENSOR_BIN, "--gateway", "127.0.0.1:" + std::to_string(port),
                     "--name", "s10", "--ca", F("ca.pem"), "--cert", F("s10.pem"), "--key",
                     F("s10.key"), "--count", "3", "--rate", "20", "--retry-ms", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << server.output();
  EXPECT_EQ(AckedNumbers(r.out), OneTo(3)) << r.out;
  EXPECT_TRUE(Contains(r.out, "sent=3 acked=3 reconnects=1")) << r.out;
  // What the first connection took unacknowledged came again first on the second, byte for
  // byte, with DUP set; the readings after it without.
  std::vector<std::string> first;
  std::vector<std::pair<int, std::string>> second;
  static const std::regex kLine(R"(^conn=(\d+) dup=(\d) payload=(.*)$)");
  std::istringstream lines(server.output());
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, kLine)) continue;
    if (m[1] == "1") {
      EXPECT_EQ(m[2], "0") << line;
      first.push_back(m[3]);
    } else {
      second.emplace_back(std::stoi(m[2]), m[3]);
    }
  }
  ASSERT_FALSE(first.empty()) << server.output();
  ASSERT_GE(second.size(), 3u) << server.output();
  ASSERT_TRUE(Contains(first[0], "\"n\":1,")) << first[0];
  EXPECT_EQ(second[0], std::make_pair(1, first[0])) << server.output();
  EXPECT_EQ(second.back().first, 0) << server.output();
  EXPECT_TRUE(Contains(second.back().second, "\"n\":3,")) << server.output();
}

TEST_F(SensorTest, PrintsCommandsAndStopsOnSigterm) {
  ASSERT_NO_FATAL_FAILURE(Issue("s5", "/CN=s5", "client.ext", "ca"));
  auto broker = StartMutualBroker();
  ASSERT_TRUE(broker);
  ChildProcess sensor;
  std::vector<std::string> args = SensorArgs(*broker, "s5");
  const auto cert = CertArgs("s5");
  args.insert(args.end(), cert.begin(), cert.end());
  args.insert(args.end(), {"--count", "0", "--rate", "5", "--mqtt", "5"});
  ASSERT_TRUE(sensor.Start(args, F("s5.log")));
  ASSERT_TRUE(broker->WaitForLog("Sending SUBACK to s5", seconds(60))) << sensor.output();
  auto pub = RunTimed({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker->port()),
                       "--cafile", F("ca.pem"), "--cert", F("checker.pem"), "--key",
                       F("checker.key"), "-q", "1", "-t", "s5/commands/led", "-m", "on\x01"});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  ASSERT_TRUE(sensor.WaitForOutput("command topic=s5/commands/led payload=on\\x01", seconds(60)))
      << sensor.output();
  ASSERT_TRUE(sensor.WaitForOutput("acked n=3 ", seconds(60))) << sensor.output();
  EXPECT_EQ(sensor.Stop(seconds(60)), 0) << sensor.output();
  std::smatch m;
  const std::string out = sensor.output();
  ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(sent=(\d+) acked=(\d+) reconnects=0)")))
      << out;
  EXPECT_EQ(m[1], m[2]) << out;
}

TEST_F(SensorTest, Enrollment) {
  SdProcess sd(dir_);
  ASSERT_TRUE(sd.Start()) << sd.log();
  ASSERT_NO_FATAL_FAILURE(Issue("hub", "/CN=hub", "client.ext", "ca"));
  auto pw = RunTimed({"mosquitto_passwd", "-b", "-c", F("passwords"), "s7", "tok-7"});
  ASSERT_EQ(pw.exit_code, 0) << pw.err;
  ASSERT_EQ(RunTimed({"mosquitto_passwd", "-b", F("passwords"), "s8", "tok-8"}).exit_code, 0);
  ASSERT_EQ(RunTimed({"mosquitto_passwd", "-b", F("passwords"), "refuse-9", "tok-9"}).exit_code, 0);
  // Listener 0 is where leaves enroll (server certificate only, user name and token); listener 1
  // wants client certificates (the hub, and enrolled leaves).
  MosquittoProcess::Options options;
  MosquittoProcess::Listener enroll;
  enroll.certfile = F("broker.pem");
  enroll.keyfile = F("broker.key");
  options.listeners = {enroll, MutualListener()};
  options.extra_config = {"password_file " + F("passwords")};
  auto broker = StartBroker(options, {F("passwords")});
  ASSERT_TRUE(broker);
  WriteText(F("hub.py"), kEnrollHub);
  ChildProcess hub;
  ASSERT_TRUE(hub.Start({kPython, F("hub.py"), std::to_string(broker->port(1)), F("ca.pem"),
                         F("hub.pem"), F("hub.key"), F("ca.pem"), F("ca.key")},
                        F("hub.log")));
  ASSERT_TRUE(broker->WaitForLog("Sending SUBACK to hub", seconds(60))) << hub.output();

  // A PEM key in the state folder.
  const std::string state = F("s7-state");
  auto r = RunSensor(SensorArgs(*broker, "s7"), {"--ca", F("ca.pem"), "--enroll", "tok-7",
                                                 "--state", state, "--count", "3", "--rate", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << hub.output() << broker->log();
  EXPECT_TRUE(Contains(r.err, "enrolled: certificate in " + state + "/cert.pem")) << r.err;
  EXPECT_EQ(AckedNumbers(r.out), OneTo(3));
  struct stat st {};
  ASSERT_EQ(::stat((state + "/key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((state + "/cert.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  auto verified = RunTimed({"openssl", "verify", "-CAfile", F("ca.pem"), state + "/cert.pem"});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  auto subject = RunTimed({"openssl", "x509", "-in", state + "/cert.pem", "-noout", "-subject"});
  EXPECT_TRUE(Contains(subject.out, "CN = s7")) << subject.out;
  // What the enrollment left is a working mutual-TLS identity.
  auto again = RunSensor(SensorArgs(*broker, "s7", 1),
                         {"--ca", F("ca.pem"), "--state", state, "--count", "2", "--rate", "50"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err << broker->log();
  EXPECT_TRUE(Contains(again.err, "mutual TLS")) << again.err;
  // Enrolling again with the same folder does not ask the hub again.
  auto twice = RunSensor(SensorArgs(*broker, "s7", 1), {"--ca", F("ca.pem"), "--enroll", "tok-7",
                                                        "--state", state, "--count", "1"});
  EXPECT_EQ(twice.exit_code, 0) << twice.out << twice.err;
  EXPECT_TRUE(Contains(twice.err, "enrolled earlier, not enrolling again")) << twice.err;

  // A key created in the secure domain.
  const std::string sd_state = F("s8-state");
  auto sd_run = RunSensor(
      SensorArgs(*broker, "s8"),
      {"--ca", F("ca.pem"), "--enroll", "tok-8", "--state", sd_state, "--sd-key", "s8-key",
       "--sd-socket", sd.socket(), "--count", "2", "--rate", "50", "--mqtt", "5"});
  ASSERT_EQ(sd_run.exit_code, 0) << sd_run.out << sd_run.err << hub.output();
  EXPECT_TRUE(Contains(ReadText(sd_state + "/key.pem"), "-----BEGIN EDGETRUST KEY-----"));
  auto keys = RunCli(sd.socket(), {"key", "list"});
  EXPECT_TRUE(Contains(keys.out, "s8-key")) << keys.out;
  auto sd_again = RunSensor(SensorArgs(*broker, "s8", 1),
                            {"--ca", F("ca.pem"), "--state", sd_state, "--sd-socket", sd.socket(),
                             "--count", "2", "--rate", "50"});
  EXPECT_EQ(sd_again.exit_code, 0) << sd_again.out << sd_again.err << broker->log();
  EXPECT_TRUE(Contains(sd_again.err, "key s8-key in the secure domain")) << sd_again.err;

  // Refusals: a wrong token (CONNACK) and the hub's "error: " answer.
  auto bad_token = RunSensor(SensorArgs(*broker, "s7"),
                             {"--ca", F("ca.pem"), "--enroll", "nope", "--state", F("bad-state")});
  EXPECT_EQ(bad_token.exit_code, 1);
  EXPECT_TRUE(Contains(bad_token.err, "enrollment refused")) << bad_token.err;
  EXPECT_TRUE(Contains(bad_token.err, "not authorized (CONNACK code 5)")) << bad_token.err;
  EXPECT_NE(::access(F("bad-state/cert.pem").c_str(), F_OK), 0);
  auto refused = RunSensor(SensorArgs(*broker, "refuse-9"),
                           {"--ca", F("ca.pem"), "--enroll", "tok-9", "--state", F("r-state")});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(
      Contains(refused.err, "the gateway refused the enrollment: leaf refuse-9 is not expected"))
      << refused.err << hub.output();
  EXPECT_EQ(sd.Stop(), 0) << sd.log();
}

TEST_F(SensorTest, Refusals) {
  ASSERT_NO_FATAL_FAILURE(Issue("s6", "/CN=s6", "client.ext", "ca"));
  ASSERT_NO_FATAL_FAILURE(Issue("stranger", "/CN=stranger", "client.ext", "other-ca"));
  WriteText(F("acl"), "user s6\ntopic readwrite s6/commands/#\n");
  MosquittoProcess::Options options;
  options.listeners = {MutualListener()};
  options.extra_config = {"acl_file " + F("acl")};
  auto broker = StartBroker(options, {F("acl")});
  ASSERT_TRUE(broker);

  // A gateway the sensor cannot verify.
  auto unverified = RunSensor(
      SensorArgs(*broker, "s6"),
      {"--ca", F("other-ca.pem"), "--cert", F("s6.pem"), "--key", F("s6.key"), "--count", "1"});
  EXPECT_EQ(unverified.exit_code, 1);
  // (The broker sends its CA along, so OpenSSL says "self-signed certificate in certificate
  // chain" rather than "unable to get local issuer certificate".)
  EXPECT_TRUE(Contains(unverified.err, "server certificate refused: ")) << unverified.err;
  // A certificate the gateway does not trust: it ends the handshake.
  auto stranger =
      RunSensor(SensorArgs(*broker, "stranger"), {"--ca", F("ca.pem"), "--cert", F("stranger.pem"),
                                                  "--key", F("stranger.key"), "--count", "1"});
  EXPECT_EQ(stranger.exit_code, 1);
  EXPECT_TRUE(Contains(stranger.err, "refused by the server")) << stranger.err;
  // MQTT 5: the ACL refuses the topic and the PUBACK says so.
  auto denied =
      RunSensor(SensorArgs(*broker, "s6"), {"--ca", F("ca.pem"), "--cert", F("s6.pem"), "--key",
                                            F("s6.key"), "--mqtt", "5", "--count", "3"});
  EXPECT_EQ(denied.exit_code, 1) << denied.out << denied.err;
  EXPECT_TRUE(Contains(denied.err,
                       "the gateway refused reading n=1 on s6/temperature: not authorized "
                       "(PUBACK reason 0x87)"))
      << denied.err;

  // MQTT 3.1.1: a gateway that closes the connection at every reading.
  WriteText(F("closing.py"), kClosingBroker);
  ChildProcess closing;
  const int port = StartPythonServer(closing, F("closing.py"), {F("broker.pem"), F("broker.key")});
  ASSERT_NE(port, 0) << closing.output();
  auto closed = RunTimed({EDGETRUST_SENSOR_BIN, "--gateway", "127.0.0.1:" + std::to_string(port),
                          "--name", "s6", "--ca", F("ca.pem"), "--cert", F("s6.pem"), "--key",
                          F("s6.key"), "--count", "2", "--retry-ms", "50"});
  EXPECT_EQ(closed.exit_code, 1) << closed.out << closed.err;
  EXPECT_TRUE(Contains(closed.err, "closed the connection 3 times in a row without acknowledging"))
      << closed.err;
  EXPECT_TRUE(Contains(closed.out, "sent=2 acked=0")) << closed.out;
}

TEST_F(SensorTest, UsageErrors) {
  const std::string bin = EDGETRUST_SENSOR_BIN;
  auto help = RunTimed({bin, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* text : {"--gateway", "--enroll", "--sd-key", "--psk", "--retry-ms", "--json",
                           "Exit status", "\"temp_c\"", "DUP"}) {
    EXPECT_TRUE(Contains(help.out, text)) << text << "\n" << help.out;
  }
  const std::vector<std::string> base = {bin,  "--gateway", "127.0.0.1:1", "--name",
                                         "s9", "--ca",      F("ca.pem")};
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "choose exactly one way to authenticate"},
      {{"--cert", "c.pem"}, "--cert needs --key"},
      {{"--key", "k.pem"}, "choose exactly one way"},
      {{"--cert", "c.pem", "--key", "k.pem", "--psk", "00"}, "choose exactly one way"},
      {{"--psk", "0g"}, "--psk wants 1 to 256 bytes in hex"},
      {{"--psk", "00", "--qos", "2"}, "--qos"},
      {{"--psk", "00", "--mqtt", "4"}, "--mqtt"},
      {{"--psk", "00", "--rate", "0"}, "--rate wants"},
      {{"--psk", "00", "--topic", "a/#"}, "--topic wants"},
      {{"--psk", "00", "--window", "0"}, "--window"},
      {{"--enroll", "t"}, "--enroll needs --state DIR"},
      {{"--psk", "00", "--sd-key", "k"}, "--sd-key goes with --enroll"},
  };
  for (const auto& [extra, message] : cases) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = RunTimed(argv);
    EXPECT_EQ(r.exit_code, 2) << message << ": " << r.out << r.err;
    EXPECT_TRUE(Contains(r.err, message)) << message << ": " << r.err;
  }
  auto bad_name = RunTimed({bin, "--gateway", "127.0.0.1:1", "--name", "a/b", "--psk", "00"});
  EXPECT_EQ(bad_name.exit_code, 2);
  EXPECT_TRUE(Contains(bad_name.err, "--name wants")) << bad_name.err;
  auto bad_gateway = RunTimed({bin, "--gateway", "nohost", "--name", "s9", "--psk", "00"});
  EXPECT_EQ(bad_gateway.exit_code, 2);
  EXPECT_TRUE(Contains(bad_gateway.err, "--gateway wants HOST:PORT")) << bad_gateway.err;
  auto no_ca = RunTimed({bin, "--gateway", "127.0.0.1:1", "--name", "s9", "--state", F("x")});
  EXPECT_EQ(no_ca.exit_code, 2);
  EXPECT_TRUE(Contains(no_ca.err, "--ca is required")) << no_ca.err;
  // Files that are not there: a clear error, exit 1.
  auto missing = RunTimed({bin, "--gateway", "127.0.0.1:1", "--name", "s9", "--ca", F("ca.pem"),
                           "--cert", F("none.pem"), "--key", F("none.key")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(Contains(missing.err, F("none.key"))) << missing.err;
}

}  // namespace
}  // namespace edgetrust::test
