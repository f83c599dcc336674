// The cloud link end to end, with real components: edgetrust-sd holds the gateway's key (used in
// this process through the edgetrust provider, by identity::BuildTlsContext), the Mosquitto
// broker plays the cloud (a TLS listener requiring client certificates from the device CA, and a
// plain loopback listener for the cloud side of the test), the openssl CLI makes the cloud's
// certificates, and Python's paho-mqtt is the cloud application that receives the telemetry
// (mosquitto_pub sends the commands). The message source is an in-memory one: that is the link's
// own seam, the durable queue implements the same interface.
#include "cloud/cloud_link.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "cloud/profile.h"
#include "edgetrust/client.h"
#include "harness.h"
#include "identity/cert_store.h"
#include "identity/key_service.h"
#include "identity/tls_context.h"
#include "mosquitto.h"
#include "ports.h"

namespace edgetrust::test {
namespace {

using cloud::CloudLink;
using cloud::CloudOptions;
using cloud::LinkState;
using cloud::LinkStatus;
using cloud::OutboundMessage;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kDevice[] = "gw-test";

// Polls `condition` (every 10 ms) until it holds or `timeout` passes.
template <typename F>
bool WaitFor(F condition, std::chrono::milliseconds timeout = 90s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- the message source ----

// Messages in memory with the delivery contract of MessageSource, and counters that let a test
// see what the link did with them.
class MemorySource : public cloud::MessageSource {
 public:
  struct Counts {
    size_t ready = 0;
    size_t inflight = 0;
    size_t acked = 0;
    size_t returned = 0;
    size_t bad_calls = 0;  // Ack or Return of a message that was not in flight
  };

  // Adds messages with ids following the last ones.
  void Add(std::vector<OutboundMessage> messages) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& m : messages) {
      m.id = ++last_id_;
      ready_.emplace(m.id, std::move(m));
    }
    cv_.notify_all();
  }
  // `n` messages of leaf `leaf`, sequence numbers from `first_seq`.
  void AddSeries(const std::string& leaf, uint64_t first_seq, size_t n) {
    std::vector<OutboundMessage> batch;
    for (size_t i = 0; i < n; ++i) {
      OutboundMessage m;
      m.leaf = leaf;
      m.seq = first_seq + i;
      m.subtopic = "temperature";
      m.payload = "{\"t\":" + std::to_string(20 + (first_seq + i) % 10) + "}";
      m.received_ms = 1700000000000 + static_cast<int64_t>(first_seq + i);
      batch.push_back(std::move(m));
    }
    Add(std::move(batch));
  }

  std::vector<OutboundMessage> Take(size_t max, std::chrono::milliseconds wait) override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [this] { return !ready_.empty() || woken_; });
    woken_ = false;
    std::vector<OutboundMessage> out;
    while (!ready_.empty() && out.size() < max) {
      auto it = ready_.begin();
      out.push_back(it->second);
      inflight_.emplace(it->first, std::move(it->second));
      ready_.erase(it);
    }
    return out;
  }
  void Ack(uint64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (inflight_.erase(id) == 1) {
      ++acked_;
      acked_ids_.insert(id);
    } else {
      ++bad_calls_;
    }
  }
  void Return(const std::vector<uint64_t>& ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t id : ids) {
      auto it = inflight_.find(id);
      if (it == inflight_.end()) {
        ++bad_calls_;
        continue;
      }
      ready_.emplace(id, std::move(it->second));
      inflight_.erase(it);
      ++returned_;
    }
    cv_.notify_all();
  }
  void Wake() override {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
    cv_.notify_all();
  }

  Counts counts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return Counts{ready_.size(), inflight_.size(), acked_, returned_, bad_calls_};
  }
  size_t distinct_acked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_ids_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, OutboundMessage> ready_;
  std::map<uint64_t, OutboundMessage> inflight_;
  std::set<uint64_t> acked_ids_;
  uint64_t last_id_ = 0;
  size_t acked_ = 0;
  size_t returned_ = 0;
  size_t bad_calls_ = 0;
  bool woken_ = false;
};

// ---- the cloud application ----

// A paho-mqtt subscriber on the broker's plain listener: one JSON line per message received
// (topic, payload in base64, and with MQTT 5 the user properties and content type).
constexpr char kSubscriber[] = R"PY(
import base64, json, sys
import paho.mqtt.client as mqtt
host, port, version, topic, out_path, client_id, clean = sys.argv[1:8]
v5 = version == '5'
out = open(out_path, 'a', buffering=1)
def on_connect(client, userdata, flags, rc, properties=None):
    client.subscribe(topic, qos=1)
def on_subscribe(client, userdata, mid, granted, properties=None):
    print('subscribed', flush=True)
def on_message(client, userdata, msg):
    rec = {'topic': msg.topic, 'payload': base64.b64encode(msg.payload).decode('ascii'),
           'qos': msg.qos}
    props = getattr(msg, 'properties', None)
    if v5 and props is not None:
        rec['user'] = [[k, v] for k, v in getattr(props, 'UserProperty', [])]
        rec['content_type'] = getattr(props, 'ContentType', None)
    out.write(json.dumps(rec) + '\n')
if v5:
    c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
else:
    c = mqtt.Client(client_id=client_id, clean_session=(clean == '1'), protocol=mqtt.MQTTv311)
c.on_connect = on_connect
c.on_subscribe = on_subscribe
c.on_message = on_message
c.reconnect_delay_set(min_delay=1, max_delay=2)
c.connect(host, int(port), keepalive=30)
c.loop_forever(retry_first_connection=True)
)PY";

// Python's base64 back to bytes (OpenSSL's decoder; it counts padding as zero bytes).
std::string DecodeBase64(const std::string& b64) {
  std::string out(b64.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) return "<not base64>";
  size_t size = static_cast<size_t>(n);
  for (size_t i = b64.size(); i > 0 && b64[i - 1] == '=' && size > 0; --i) --size;
  out.resize(size);
  return out;
}

class CloudApp {
 public:
  CloudApp(const TempDir& dir, std::string client_id)
      : client_id_(std::move(client_id)),
        out_(dir.File(client_id_ + ".jsonl")),
        log_(dir.File(client_id_ + ".log")) {}

  // Connects, subscribes to `filter` at QoS 1, and returns once the broker acknowledged it.
  // `persistent`: MQTT 3.1.1 clean session off, so the broker queues messages while it is away.
  bool Start(int port, int version, const std::string& filter, bool persistent = false) {
    return process_.Start(
               {kPython, "-u", "-c", kSubscriber, "127.0.0.1", std::to_string(port),
                std::to_string(version), filter, out_, client_id_, persistent ? "0" : "1"},
               log_) &&
           process_.WaitForOutput("subscribed", 60s);
  }
  // Every complete line written so far.
  std::vector<json> Messages() const {
    std::vector<json> out;
    std::istringstream in(ReadText(out_));
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // a line still being written
      json j = json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }
  // The (leaf, seq) pairs of the envelopes received.
  std::set<std::pair<std::string, uint64_t>> Distinct() const {
    std::set<std::pair<std::string, uint64_t>> seen;
    for (const json& m : Messages()) {
      json e = json::parse(Base64Payload(m), nullptr, false);
      if (e.is_object() && e.contains("leaf") && e.contains("seq")) {
        seen.emplace(e["leaf"].get<std::string>(), e["seq"].get<uint64_t>());
      }
    }
    return seen;
  }
  static std::string Base64Payload(const json& m) {
    return DecodeBase64(m["payload"].get<std::string>());
  }
  std::string log() const { return ReadText(log_); }

 private:
  std::string client_id_;
  std::string out_;
  std::string log_;
  ChildProcess process_;
};

// ---- log lines ----

// The link's log lines, kept in memory (and still printed) while a test runs.
class LogCapture {
 public:
  LogCapture() : ring_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(20000)) {
    previous_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>(
        "cloud-link-test",
        spdlog::sinks_init_list{ring_, std::make_shared<spdlog::sinks::stderr_sink_mt>()});
    // EDGETRUST_TEST_DEBUG=1 adds the debug lines (libmosquitto's own log while connecting).
    logger->set_level(std::getenv("EDGETRUST_TEST_DEBUG") != nullptr ? spdlog::level::debug
                                                                     : spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The first line holding every one of `parts`, or "".
  std::string Find(const std::vector<std::string>& parts) const {
    for (const std::string& line : ring_->last_formatted()) {
      bool all = true;
      for (const auto& p : parts) all = all && Contains(line, p);
      if (all) return line;
    }
    return "";
  }
  std::string All() const {
    std::string out;
    for (const std::string& line : ring_->last_formatted()) out += line;
    return out;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
  std::shared_ptr<spdlog::logger> previous_;
};

// The pid of the process with a TCP socket listening on 127.0.0.1:port (from /proc), or -1.
pid_t PidListeningOn(int port) {
  char want[32];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::string inode;
  std::getline(tcp, line);  // header
  while (std::getline(tcp, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout, ino;
    f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> ino;
    if (local == want && state == "0A") inode = ino;
  }
  if (inode.empty()) return -1;
  const std::string target = "socket:[" + inode + "]";
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return -1;
  pid_t found = -1;
  while (dirent* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    const std::string fd_dir = std::string("/proc/") + e->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* f = ::readdir(fds)) {
      char link[128];
      const std::string path = fd_dir + "/" + f->d_name;
      const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
      if (n > 0 && std::string(link, static_cast<size_t>(n)) == target) found = pid;
    }
    ::closedir(fds);
    if (found > 0) break;
  }
  ::closedir(proc);
  return found;
}

// A TCP listener that accepts nothing: connections complete in the kernel's backlog and the TLS
// handshake never gets an answer.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~SilentServer() {
    if (fd_ >= 0) ::close(fd_);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  uint16_t port() const { return port_; }
  // Whether a connection waits in the backlog.
  bool HasPendingConnection() const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// ---- the fixture ----

struct Command {
  std::string leaf;
  std::string subtopic;
  std::string payload;
};

class CloudLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MosquittoProcess::Available()) << "mosquitto is not installed";
    sd_ = std::make_unique<SdProcess>(dir_);
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    certs_ = dir_.File("certs");
    // The gateway's identity, as the agent finds it: device CA and device-id in the secure domain.
    ASSERT_NO_FATAL_FAILURE(Cli({"provision", "--id", kDevice}));
    // The cloud's CA and broker certificates, and a stranger CA with a broker of its own.
    ASSERT_NO_FATAL_FAILURE(MakeCa("cloud-root"));
    ASSERT_NO_FATAL_FAILURE(MakeCa("stranger"));
    ASSERT_NO_FATAL_FAILURE(MakeServerCert("cloud-root", "broker", "IP:127.0.0.1,DNS:localhost"));
    ASSERT_NO_FATAL_FAILURE(Cli({"trust", "add", "--purpose", "cloud", F("cloud-root.pem")}));
    // The broker verifies the gateway against the device CA; a copy it can read as its user.
    WriteText(F("device-ca.pem"), ReadText(certs_ + "/device-ca/current/cert.pem"));
    ::chmod(F("device-ca.pem").c_str(), 0644);

    auto client = Client::Connect(sd_->socket());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    keys_ = std::make_unique<identity::SdKeyService>(client_.get(), sd_->socket());
  }
  void TearDown() override {
    link_.reset();
    broker_.reset();
    contexts_.clear();
    keys_.reset();
    client_.reset();
    if (sd_) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }

  std::string F(const std::string& name) const { return dir_.File(name); }

  void Cli(std::vector<std::string> args) {
    args.insert(args.end(), {"--cert-dir", certs_});
    auto r = RunCli(sd_->socket(), args);
    ASSERT_EQ(r.exit_code, 0) << "edgetrust " << args[0] << ": " << r.out << r.err;
  }
  void Openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunCommand(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void MakeCa(const std::string& name) {
    ASSERT_NO_FATAL_FAILURE(
        Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", F(name + ".key"), "-out", F(name + ".pem"), "-subj", "/CN=" + name,
                 "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                 "keyUsage=critical,keyCertSign,cRLSign"}));
  }
  // A TLS server certificate from `ca` with subjectAltName `san`; key and certificate are made
  // readable by the broker's user.
  void MakeServerCert(const std::string& ca, const std::string& name, const std::string& san) {
    WriteText(F(name + ".ext"),
              "[v3]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=serverAuth\nsubjectAltName=" +
                  san + "\n");
    ASSERT_NO_FATAL_FAILURE(
        Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", F(name + ".key"), "-out", F(name + ".csr"), "-subj", "/CN=" + name}));
    ASSERT_NO_FATAL_FAILURE(
        Openssl({"x509", "-req", "-in", F(name + ".csr"), "-CA", F(ca + ".pem"), "-CAkey",
                 F(ca + ".key"), "-CAcreateserial", "-days", "30", "-extfile", F(name + ".ext"),
                 "-extensions", "v3", "-out", F(name + ".pem")}));
    ::chmod(F(name + ".key").c_str(), 0644);
    ::chmod(F(name + ".pem").c_str(), 0644);
  }

  // Listener 0: TLS with `cert`, client certificates required and verified against `client_ca`
  // (the gateway's side). Listener 1: plain MQTT (the cloud application's side).
  void StartBroker(const std::string& cert = "broker",
                   const std::string& client_ca = "device-ca.pem",
                   std::vector<std::string> extra = {}) {
    MosquittoProcess::Options o;
    MosquittoProcess::Listener tls;
    tls.cafile = F(client_ca);
    tls.certfile = F(cert + ".pem");
    tls.keyfile = F(cert + ".key");
    tls.require_certificate = true;
    o.listeners = {tls, MosquittoProcess::Listener{}};
    // Nothing queued for the cloud application may be dropped while it lags behind.
    o.extra_config = {"max_queued_messages 0"};
    o.extra_config.insert(o.extra_config.end(), extra.begin(), extra.end());
    broker_ = std::make_unique<MosquittoProcess>(dir_, o);
    ASSERT_TRUE(broker_->Start()) << broker_->log();
  }

  // A TLS client context for the device identity against the cloud bundle (one per link: the
  // link sets the server name on it).
  SSL_CTX* NewContext() {
    auto store = identity::CertStore::Open(certs_, false);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    identity::TlsOptions to;
    to.role = identity::TlsRole::kClient;
    to.identity = "device-id";
    to.trust = identity::TrustPurpose::kCloud;
    auto ctx = identity::BuildTlsContext(*store, *keys_, to);
    EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
    if (!ctx.ok()) return nullptr;
    contexts_.push_back(std::move(ctx).value());
    return contexts_.back().get();
  }

  CloudOptions Options(int version, const std::string& profile, int port) {
    CloudOptions o;
    o.host = "127.0.0.1";
    o.port = static_cast<uint16_t>(port);
    o.device_id = kDevice;
    o.mqtt_version = version;
    auto p = cloud::MakeProfile(profile, kDevice, "hub.example.net");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (p.ok()) o.profile = std::move(p).value();
    o.max_inflight = 64;
    o.backoff_min_ms = 50;
    o.backoff_max_ms = 500;
    o.ssl_ctx = NewContext();
    return o;
  }

  void StartLink(CloudOptions options) {
    auto link = CloudLink::Create(
        std::move(options), source_, [this](std::string leaf, std::string sub, std::string body) {
          std::lock_guard<std::mutex> lock(commands_mu_);
          commands_.push_back(Command{std::move(leaf), std::move(sub), std::move(body)});
        });
    ASSERT_TRUE(link.ok()) << link.status().ToString();
    link_ = std::move(link).value();
    ASSERT_TRUE(link_->Start().ok());
  }
  LinkStatus LinkNow() const { return link_->Status(); }
  bool WaitConnected() {
    return WaitFor([&] { return LinkNow().state == LinkState::kConnected; });
  }
  std::vector<Command> Commands() {
    std::lock_guard<std::mutex> lock(commands_mu_);
    return commands_;
  }
  // What went wrong, for failure messages.
  std::string Diagnostics() const {
    std::string out = "link last_error: " + (link_ ? LinkNow().last_error : std::string("-"));
    out += "\n--- log ---\n" + logs_.All();
    if (broker_) out += "\n--- broker ---\n" + broker_->log();
    return out;
  }

  TempDir dir_;
  LogCapture logs_;
  std::unique_ptr<SdProcess> sd_;
  std::string certs_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<identity::SdKeyService> keys_;
  std::vector<SslCtxPtr> contexts_;
  std::unique_ptr<MosquittoProcess> broker_;
  MemorySource source_;
  std::mutex commands_mu_;
  std::vector<Command> commands_;
  std::unique_ptr<CloudLink> link_;
};

// ---- telemetry, every protocol version and profile ----

struct Flavour {
  int version;
  std::string profile;
};
void PrintTo(const Flavour& f, std::ostream* os) {
  *os << "MQTT " << (f.version == 5 ? "5" : "3.1.1") << ", " << f.profile;
}

class CloudLinkFlavourTest : public CloudLinkTest, public ::testing::WithParamInterface<Flavour> {};

TEST_P(CloudLinkFlavourTest, MessagesArriveByteExactInTheEnvelope) {
  const Flavour f = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  CloudApp app(dir_, "cloud-app");
  ASSERT_TRUE(app.Start(broker_->port(1), f.version, "#")) << app.log();

  struct Expected {
    std::string topic;
    std::string envelope;
  };
  const bool azure = f.profile == "azure-iot-hub";
  const std::string bag = "devices/gw-test/messages/events/$.ct=application%2Fjson&$.ce=utf-8&";
  std::map<std::pair<std::string, uint64_t>, Expected> expected;
  std::vector<OutboundMessage> messages(3);
  messages[0] = {0, "sensor-1", 1, "env/temp", R"({"t":21.5})", 1700000000001};
  expected[{"sensor-1", 1}] = {
      azure ? bag + "leaf=sensor-1&seq=1&subtopic=env%2Ftemp"
            : "gateways/gw-test/leaves/sensor-1/env/temp",
      R"({"leaf":"sensor-1","seq":1,"subtopic":"env/temp","received_ms":1700000000001,)"
      R"("gateway":"gw-test","data":{"t":21.5}})"};
  messages[1] = {0, "sensor-1", 2, "env/temp", std::string("\x00\x01\xfe\xff", 4), 1700000000002};
  expected[{"sensor-1", 2}] = {
      azure ? bag + "leaf=sensor-1&seq=2&subtopic=env%2Ftemp"
            : "gateways/gw-test/leaves/sensor-1/env/temp",
      R"({"leaf":"sensor-1","seq":2,"subtopic":"env/temp","received_ms":1700000000002,)"
      R"("gateway":"gw-test","data_b64":"AAH+/w=="})"};
  messages[2] = {0, "sensor-2", 7, "a b&c/\"d\"", "21.5 C", 1700000000003};
  expected[{"sensor-2", 7}] = {
      azure ? bag + "leaf=sensor-2&seq=7&subtopic=a%20b%26c%2F%22d%22"
            : "gateways/gw-test/leaves/sensor-2/a b&c/\"d\"",
      R"({"leaf":"sensor-2","seq":7,"subtopic":"a b&c/\"d\"","received_ms":1700000000003,)"
      R"("gateway":"gw-test","data_b64":"MjEuNSBD"})"};
  source_.Add(messages);

  ASSERT_NO_FATAL_FAILURE(StartLink(Options(f.version, f.profile, broker_->port(0))));
  ASSERT_TRUE(WaitFor([&] { return app.Messages().size() >= 3; })) << Diagnostics();
  ASSERT_TRUE(WaitFor([&] { return source_.counts().acked == 3; })) << Diagnostics();

  const std::vector<json> got = app.Messages();
  ASSERT_EQ(got.size(), 3u);
  for (const json& m : got) {
    const std::string payload = CloudApp::Base64Payload(m);
    json e = json::parse(payload, nullptr, false);
    ASSERT_TRUE(e.is_object()) << payload;
    const auto key = std::make_pair(e["leaf"].get<std::string>(), e["seq"].get<uint64_t>());
    ASSERT_EQ(expected.count(key), 1u) << payload;
    EXPECT_EQ(m["topic"].get<std::string>(), expected[key].topic);
    EXPECT_EQ(payload, expected[key].envelope);
    EXPECT_EQ(m["qos"].get<int>(), 1);
    if (f.version == 5) {
      EXPECT_EQ(m["user"], json::parse(R"([["leaf",")" + key.first + R"("],["seq",")" +
                                       std::to_string(key.second) + R"("]])"));
      EXPECT_EQ(m["content_type"], "application/json");
    }
    expected.erase(key);
  }
  EXPECT_TRUE(expected.empty());

  const LinkStatus s = LinkNow();
  EXPECT_EQ(s.state, LinkState::kConnected);
  EXPECT_EQ(s.forwarded_total, 3u);
  EXPECT_EQ(s.inflight, 0u);
  EXPECT_EQ(s.connects_total, 1u);
  EXPECT_EQ(s.tls_version, "TLSv1.3");
  EXPECT_NE(logs_.Find({"event=cloud-connected",
                        "broker=127.0.0.1:" + std::to_string(broker_->port(0)), "tls=TLSv1.3"}),
            "")
      << Diagnostics();
  // The broker saw the gateway's certificate (verified against the device CA).
  EXPECT_TRUE(broker_->WaitForLog("New client connected from 127.0.0.1")) << broker_->log();

  link_->Stop();
  const MemorySource::Counts c = source_.counts();
  EXPECT_EQ(c.acked, 3u);
  EXPECT_EQ(c.ready + c.inflight, 0u);
  EXPECT_EQ(c.bad_calls, 0u);
  EXPECT_EQ(LinkNow().state, LinkState::kStopped);
}

INSTANTIATE_TEST_SUITE_P(Flavours, CloudLinkFlavourTest,
                         ::testing::Values(Flavour{4, "generic"}, Flavour{5, "generic"},
                                           Flavour{4, "azure-iot-hub"},
                                           Flavour{5, "azure-iot-hub"}),
                         [](const ::testing::TestParamInfo<Flavour>& i) {
                           return std::string(i.param.version == 5 ? "Mqtt5" : "Mqtt311") +
                                  (i.param.profile == "generic" ? "Generic" : "AzureIotHub");
                         });

// ---- outages ----

TEST_F(CloudLinkTest, BrokerOutageLosesNothingAndAcknowledgedMessagesLeaveTheSource) {
  // The broker keeps the cloud application's session across its restart (persistence, clean
  // session off), so every message the broker acknowledged reaches the application.
  const std::string db = F("broker-db");
  ::mkdir(db.c_str(), 0777);
  ::chmod(db.c_str(), 0777);
  ASSERT_NO_FATAL_FAILURE(StartBroker("broker", "device-ca.pem",
                                      {"persistence true", "persistence_location " + db + "/"}));
  CloudApp app(dir_, "cloud-app");
  ASSERT_TRUE(app.Start(broker_->port(1), 4, "gateways/#", /*persistent=*/true)) << app.log();

  source_.AddSeries("sensor-a", 1, 300);
  ASSERT_NO_FATAL_FAILURE(StartLink(Options(4, "generic", broker_->port(0))));
  // Acknowledged messages leave the source.
  ASSERT_TRUE(WaitFor([&] { return source_.counts().acked == 300; })) << Diagnostics();
  MemorySource::Counts c = source_.counts();
  EXPECT_EQ(c.ready + c.inflight, 0u);
  ASSERT_TRUE(WaitFor([&] { return app.Distinct().size() == 300; })) << app.log();

  // A long series, and the broker goes away in the middle of it.
  source_.AddSeries("sensor-b", 1, 3000);
  ASSERT_TRUE(WaitFor([&] { return source_.counts().acked >= 800; })) << Diagnostics();
  broker_->Stop();
  ASSERT_TRUE(WaitFor([&] { return LinkNow().disconnects_total == 1; })) << Diagnostics();
  // More arrives while the cloud is away; nothing is acknowledged without the broker, and a
  // reconnect attempt fails.
  source_.AddSeries("sensor-c", 1, 200);
  ASSERT_TRUE(WaitFor([&] {
    const LinkStatus s = LinkNow();
    return s.state == LinkState::kBackoff && Contains(s.last_error, "refused");
  })) << Diagnostics();
  c = source_.counts();
  EXPECT_LT(c.acked, 3500u);
  EXPECT_EQ(c.inflight, 0u) << "what was in flight went back to the source";
  EXPECT_EQ(c.ready, 3500u - c.acked);
  EXPECT_EQ(LinkNow().inflight, 0u);
  EXPECT_NE(logs_.Find({"event=cloud-disconnected", "reason="}), "") << Diagnostics();
  EXPECT_NE(logs_.Find({"event=cloud-unreachable", "Connection refused", "retry_in_ms="}), "")
      << Diagnostics();

  ASSERT_TRUE(broker_->Restart()) << broker_->log();
  ASSERT_TRUE(WaitFor([&] { return source_.counts().acked == 3500; })) << Diagnostics();
  ASSERT_TRUE(WaitFor([&] { return app.Distinct().size() == 3500; }))
      << app.Distinct().size() << " distinct\n"
      << app.log();
  c = source_.counts();
  EXPECT_EQ(c.ready + c.inflight, 0u);
  EXPECT_EQ(c.bad_calls, 0u);
  EXPECT_EQ(source_.distinct_acked(), 3500u);
  const LinkStatus s = LinkNow();
  EXPECT_EQ(s.state, LinkState::kConnected);
  EXPECT_GE(s.connects_total, 2u);
  EXPECT_EQ(s.forwarded_total, 3500u);
}

TEST_F(CloudLinkTest, UnacknowledgedMessagesGoBackWhenTheBrokerDies) {
  // MQTT 5, and a broker that lets only 10 messages in at a time (Receive Maximum): the link
  // still keeps its own 32 taken from the source, libmosquitto queues the rest.
  ASSERT_NO_FATAL_FAILURE(StartBroker("broker", "device-ca.pem", {"max_inflight_messages 10"}));
  source_.AddSeries("sensor-a", 1, 100);
  CloudOptions o = Options(5, "generic", broker_->port(0));
  o.max_inflight = 32;
  ASSERT_NO_FATAL_FAILURE(StartLink(std::move(o)));
  ASSERT_TRUE(WaitFor([&] { return source_.counts().acked == 100; })) << Diagnostics();

  // Frozen, the broker acknowledges nothing more: the link fills its window and waits. The rest
  // of the messages arrive only now, so a fast link cannot have sent them all before the freeze.
  const pid_t broker_pid = PidListeningOn(broker_->port(1));
  ASSERT_GT(broker_pid, 0);
  ASSERT_EQ(::kill(broker_pid, SIGSTOP), 0);
  source_.AddSeries("sensor-a", 101, 900);
  ASSERT_TRUE(WaitFor([&] { return LinkNow().inflight == 32 && source_.counts().inflight == 32; }))
      << Diagnostics();
  MemorySource::Counts c = source_.counts();
  EXPECT_LT(c.acked, 1000u);

  // It dies without acknowledging them: they go back to the source, none is lost or acked.
  ASSERT_EQ(::kill(broker_pid, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return LinkNow().disconnects_total == 1; })) << Diagnostics();
  ASSERT_TRUE(WaitFor([&] { return source_.counts().inflight == 0; })) << Diagnostics();
  c = source_.counts();
  EXPECT_GE(c.returned, 1u);
  EXPECT_EQ(c.ready, 1000u - c.acked);
  EXPECT_EQ(c.bad_calls, 0u);

  ASSERT_TRUE(broker_->Restart()) << broker_->log();
  ASSERT_TRUE(WaitFor([&] { return source_.counts().acked == 1000; })) << Diagnostics();
  c = source_.counts();
  EXPECT_EQ(c.bad_calls, 0u);
  EXPECT_EQ(source_.distinct_acked(), 1000u);
  EXPECT_EQ(LinkNow().forwarded_total, 1000u);
}

// ---- the broker's identity ----

TEST_F(CloudLinkTest, BrokerOfAnotherCaIsRefusedWithTheVerifyReason) {
  ASSERT_NO_FATAL_FAILURE(MakeServerCert("stranger", "stranger-broker", "IP:127.0.0.1"));
  ASSERT_NO_FATAL_FAILURE(StartBroker("stranger-broker"));
  source_.AddSeries("sensor-a", 1, 5);
  ASSERT_NO_FATAL_FAILURE(StartLink(Options(4, "generic", broker_->port(0))));
  ASSERT_TRUE(WaitFor([&] { return !LinkNow().last_error.empty(); })) << Diagnostics();
  const LinkStatus s = LinkNow();
  EXPECT_EQ(s.last_error,
            "certificate verify failed: unable to get local issuer certificate (depth 0, "
            "/CN=stranger-broker)");
  EXPECT_EQ(s.connects_total, 0u);
  EXPECT_NE(
      logs_.Find({"event=cloud-refused", "broker=127.0.0.1:" + std::to_string(broker_->port(0)),
                  "reason=\"certificate verify failed: unable to get local issuer "
                  "certificate"}),
      "")
      << Diagnostics();
  link_->Stop();
  const MemorySource::Counts c = source_.counts();
  EXPECT_EQ(c.acked, 0u);
  EXPECT_EQ(c.ready, 5u);
}

TEST_F(CloudLinkTest, BrokerWithTheWrongNameIsRefused) {
  // A valid chain to the cloud CA, for another name.
  ASSERT_NO_FATAL_FAILURE(MakeServerCert("cloud-root", "other-broker", "DNS:other.example"));
  ASSERT_NO_FATAL_FAILURE(StartBroker("other-broker"));
  ASSERT_NO_FATAL_FAILURE(StartLink(Options(4, "generic", broker_->port(0))));
  ASSERT_TRUE(WaitFor([&] { return !LinkNow().last_error.empty(); })) << Diagnostics();
  EXPECT_EQ(LinkNow().last_error,
            "certificate verify failed: IP address mismatch (depth 0, /CN=other-broker)");
  EXPECT_EQ(LinkNow().connects_total, 0u);
  link_.reset();

  // The good broker, expected under a DNS name it does not carry: refused; under one it carries:
  // connected.
  ASSERT_NO_FATAL_FAILURE(StartBroker("broker"));
  CloudOptions o = Options(4, "generic", broker_->port(0));
  o.server_name = "cloud.example";
  ASSERT_NO_FATAL_FAILURE(StartLink(std::move(o)));
  ASSERT_TRUE(WaitFor([&] { return !LinkNow().last_error.empty(); })) << Diagnostics();
  EXPECT_EQ(LinkNow().last_error,
            "certificate verify failed: hostname mismatch (depth 0, /CN=broker)");
  EXPECT_NE(logs_.Find({"event=cloud-refused", "hostname mismatch"}), "");
  link_.reset();

  o = Options(4, "generic", broker_->port(0));
  o.server_name = "localhost";
  ASSERT_NO_FATAL_FAILURE(StartLink(std::move(o)));
  ASSERT_TRUE(WaitConnected()) << Diagnostics();
  EXPECT_EQ(LinkNow().last_error, "");
}

TEST_F(CloudLinkTest, BrokerRefusingTheGatewayCertificateIsReported) {
  // The broker trusts another CA for client certificates. In TLS 1.2 it refuses ours inside the
  // handshake, and its alert is the reason.
  ::chmod(F("stranger.pem").c_str(), 0644);
  ASSERT_NO_FATAL_FAILURE(StartBroker("broker", "stranger.pem"));
  CloudOptions tls12 = Options(5, "generic", broker_->port(0));
  ASSERT_EQ(SSL_CTX_set_max_proto_version(tls12.ssl_ctx, TLS1_2_VERSION), 1);
  ASSERT_NO_FATAL_FAILURE(StartLink(std::move(tls12)));
  ASSERT_TRUE(WaitFor([&] { return !LinkNow().last_error.empty(); })) << Diagnostics();
  // Its alert, unless it reset the connection before the alert left (then our reason says so).
  std::string error = LinkNow().last_error;
  EXPECT_TRUE(error == "TLS handshake failed: tlsv1 alert unknown ca" ||
              error.rfind("the broker ended the TLS handshake (", 0) == 0)
      << error;
  EXPECT_EQ(LinkNow().connects_total, 0u);
  EXPECT_NE(logs_.Find({"event=cloud-refused", "reason=\"" + error}), "") << Diagnostics();
  link_.reset();

  // In TLS 1.3 the refusal comes after our side of the handshake: the alert, or only a reset.
  ASSERT_NO_FATAL_FAILURE(StartBroker("broker", "stranger.pem"));
  ASSERT_NO_FATAL_FAILURE(StartLink(Options(4, "generic", broker_->port(0))));
  ASSERT_TRUE(WaitFor([&] { return !LinkNow().last_error.empty(); })) << Diagnostics();
  error = LinkNow().last_error;
  EXPECT_TRUE(error == "TLS handshake failed: tlsv1 alert unknown ca" ||
              Contains(error, "after the TLS handshake, before CONNACK"))
      << error;
  EXPECT_EQ(LinkNow().connects_total, 0u);
  EXPECT_NE(
      logs_.Find({"event=cloud-refused", "broker=127.0.0.1:" + std::to_string(broker_->port(0))}),
      "")
      << Diagnostics();
}

// ---- commands ----

class CloudLinkCommandTest : public CloudLinkTest, public ::testing::WithParamInterface<Flavour> {};

TEST_P(CloudLinkCommandTest, CommandsReachTheHandlerWithTheRightLeaf) {
  const Flavour f = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  ASSERT_NO_FATAL_FAILURE(StartLink(Options(f.version, f.profile, broker_->port(0))));
  ASSERT_TRUE(WaitConnected()) << Diagnostics();
  ASSERT_TRUE(broker_->WaitForLog(std::string("Sending SUBACK to ") + kDevice)) << broker_->log();

  const bool azure = f.profile == "azure-iot-hub";
  const std::string prefix =
      azure ? "devices/gw-test/messages/devicebound/" : "gateways/gw-test/commands/";
  struct Published {
    std::string topic;
    std::string payload;
  };
  std::vector<Published> published;
  if (azure) {
    published.push_back(
        {prefix + "%24.to=%2Fdevices%2Fgw-test%2Fmessages%2FdeviceBound", "no leaf"});
    published.push_back({prefix +
                             "%24.to=%2Fdevices%2Fgw-test%2Fmessages%2FdeviceBound&leaf=sensor-1"
                             "&subtopic=set%2Finterval",
                         R"({"interval_s":5})"});
    published.push_back({prefix + "leaf=sensor-2", "reboot"});
  } else {
    published.push_back({prefix, "no leaf"});
    published.push_back({prefix + "sensor-1/set/interval", R"({"interval_s":5})"});
    published.push_back({prefix + "sensor-2", "reboot"});
  }
  for (const Published& p : published) {
    auto r = RunCommand({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port(1)),
                         "-q", "1", "-t", p.topic, "-m", p.payload});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  ASSERT_TRUE(WaitFor([&] { return Commands().size() >= 2; })) << Diagnostics();
  const std::vector<Command> got = Commands();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].leaf, "sensor-1");
  EXPECT_EQ(got[0].subtopic, "set/interval");
  EXPECT_EQ(got[0].payload, R"({"interval_s":5})");
  EXPECT_EQ(got[1].leaf, "sensor-2");
  EXPECT_EQ(got[1].subtopic, "");
  EXPECT_EQ(got[1].payload, "reboot");
  EXPECT_EQ(LinkNow().commands_total, 2u);
  EXPECT_NE(logs_.Find({"event=cloud-command-ignored"}), "") << Diagnostics();
  EXPECT_NE(logs_.Find({"event=cloud-subscribed", prefix}), "") << Diagnostics();
}

INSTANTIATE_TEST_SUITE_P(Profiles, CloudLinkCommandTest,
                         ::testing::Values(Flavour{4, "generic"}, Flavour{5, "azure-iot-hub"}),
                         [](const ::testing::TestParamInfo<Flavour>& i) {
                           return std::string(i.param.version == 5 ? "Mqtt5" : "Mqtt311") +
                                  (i.param.profile == "generic" ? "Generic" : "AzureIotHub");
                         });

// ---- stopping ----

TEST_F(CloudLinkTest, StopWhileConnectingReturnsPromptly) {
  SilentServer server;
  ASSERT_NE(server.port(), 0);
  source_.AddSeries("sensor-a", 1, 10);
  CloudOptions o = Options(4, "generic", server.port());
  // Nothing but Stop() ends this attempt: no keep-alive timeout within the test's lifetime.
  o.keep_alive_s = 3600;
  ASSERT_NO_FATAL_FAILURE(StartLink(std::move(o)));
  ASSERT_TRUE(WaitFor([&] { return server.HasPendingConnection(); }));
  EXPECT_EQ(LinkNow().state, LinkState::kConnecting);
  link_->Stop();
  EXPECT_EQ(LinkNow().state, LinkState::kStopped);
  EXPECT_EQ(LinkNow().connects_total, 0u);
  const MemorySource::Counts c = source_.counts();
  EXPECT_EQ(c.ready, 10u);
  EXPECT_EQ(c.inflight, 0u);
  link_->Stop();  // idempotent
}

TEST_F(CloudLinkTest, StopInBackoffReturnsPromptly) {
  const int port = PickLoopbackPort();  // nothing listens there
  ASSERT_GT(port, 0);
  CloudOptions o = Options(4, "generic", port);
  o.backoff_min_ms = 3600000;  // an hour
  o.backoff_max_ms = 3600000;
  ASSERT_NO_FATAL_FAILURE(StartLink(std::move(o)));
  ASSERT_TRUE(WaitFor([&] { return LinkNow().state == LinkState::kBackoff; })) << Diagnostics();
  const LinkStatus s = LinkNow();
  EXPECT_EQ(s.last_error, "Connection refused");
  EXPECT_GT(s.next_retry_ms, 1000000u);
  EXPECT_NE(logs_.Find({"event=cloud-unreachable", "reason=\"Connection refused\""}), "");
  link_->Stop();
  EXPECT_EQ(LinkNow().state, LinkState::kStopped);
}

TEST_F(CloudLinkTest, StopWhileConnectedGivesInFlightMessagesBack) {
  ASSERT_NO_FATAL_FAILURE(StartBroker());
  source_.AddSeries("sensor-a", 1, 5000);
  ASSERT_NO_FATAL_FAILURE(StartLink(Options(4, "generic", broker_->port(0))));
  ASSERT_TRUE(WaitFor([&] { return source_.counts().acked >= 1; })) << Diagnostics();
  const pid_t broker_pid = PidListeningOn(broker_->port(1));
  ASSERT_GT(broker_pid, 0);
  ASSERT_EQ(::kill(broker_pid, SIGSTOP), 0);  // nothing more is acknowledged
  ASSERT_TRUE(WaitFor([&] { return LinkNow().inflight > 0; })) << Diagnostics();
  link_->Stop();  // the broker cannot even take the DISCONNECT
  const MemorySource::Counts c = source_.counts();
  EXPECT_EQ(c.inflight, 0u);
  EXPECT_EQ(c.ready, 5000u - c.acked);
  EXPECT_GE(c.returned, 1u);
  EXPECT_EQ(c.bad_calls, 0u);
  EXPECT_EQ(LinkNow().state, LinkState::kStopped);
  ::kill(broker_pid, SIGCONT);
}

}  // namespace
}  // namespace edgetrust::test
