// Gateway benchmark: sensors -> gateway -> cloud, TLS on both hops, against Mosquitto's own bridge
// in the same run (BRIEF.md section 7, "gateway").
//
//   edgetrust:  publishers --mTLS--> edgetrust-agent (durable encrypted queue, group commit)
//                          --mTLS, key in edgetrust-sd--> cloud mosquitto --> subscriber
//   mosquitto:  publishers --mTLS--> local mosquitto (bridge, in memory, not durable)
//                          --mTLS, PEM key--> the same cloud mosquitto --> subscriber
//
// Both paths use QoS 1 on every hop, TLS 1.3 with P-256 certificates, the same publishers (our
// MQTT client, many messages in flight per connection) and the same subscriber (libmosquitto). A
// message counts when the subscriber has it. Measured per path, in turns:
//   - throughput: P publishers send M messages each as fast as acknowledgements allow;
//   - latency at a fixed rate (default 5000 msgs/s for 4 s): publish -> subscriber, p50/p99;
//   - peak RSS (VmHWM) of the agent and of the bridging mosquitto.
// Prints a table, the goals, and `metric NAME VALUE` lines.
#include <mosquitto.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench_table.h"
#include "../test/gateway_rig.h"  // not on the include path: test/mosquitto.h would hide <mosquitto.h>
#include "mqtt/client.h"
#include "mqtt/tls_stream.h"

namespace {

using edgetrust::bench::Fixed;
using edgetrust::bench::Metric;
using edgetrust::bench::Table;
using Clock = std::chrono::steady_clock;

int64_t MonoNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Options {
  int publishers = 4;
  int messages = 10000;  // per publisher, throughput phase
  int window = 256;
  int rate = 5000;
  double rate_seconds = 4;
  int payload = 64;
};

// The cloud-side subscriber: counts messages of the current run and records latencies.
class Subscriber {
 public:
  bool Start(int port, const std::string& ca, const std::string& cert, const std::string& key) {
    mosquitto_lib_init();
    mosq_ = mosquitto_new("bench-sub", true, this);
    if (mosq_ == nullptr) return false;
    mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (mosquitto_tls_set(mosq_, ca.c_str(), nullptr, cert.c_str(), key.c_str(), nullptr) !=
        MOSQ_ERR_SUCCESS) {
      return false;
    }
    mosquitto_message_callback_set(mosq_, [](mosquitto*, void* self, const mosquitto_message* m) {
      static_cast<Subscriber*>(self)->OnMessage(m);
    });
    mosquitto_connect_callback_set(mosq_, [](mosquitto* m, void*, int rc) {
      if (rc == 0) mosquitto_subscribe(m, nullptr, "#", 1);
    });
    mosquitto_subscribe_callback_set(
        mosq_, [](mosquitto*, void* self, int, int, const int*) {
          static_cast<Subscriber*>(self)->subscribed_ = true;
        });
    if (mosquitto_connect(mosq_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) return false;
    mosquitto_loop_start(mosq_);
    for (int i = 0; i < 1000 && !subscribed_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return subscribed_;
  }
  ~Subscriber() {
    if (mosq_ != nullptr) {
      mosquitto_disconnect(mosq_);
      mosquitto_loop_stop(mosq_, true);
      mosquitto_destroy(mosq_);
    }
  }

  // A new run: messages whose payload carries `run` are counted.
  void Reset(const std::string& run) {
    std::lock_guard<std::mutex> lock(mu_);
    run_ = "\"r\":\"" + run + "\"";
    seen_.clear();
    latencies_us_.clear();
    last_ns_ = 0;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }
  int64_t last_ns() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_ns_;
  }
  std::vector<double> latencies() {
    std::lock_guard<std::mutex> lock(mu_);
    return latencies_us_;
  }

 private:
  void OnMessage(const mosquitto_message* m) {
    const int64_t now = MonoNs();
    std::string_view p(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
    std::lock_guard<std::mutex> lock(mu_);
    if (p.find(run_) == std::string_view::npos) return;
    // {"r":"RUN","p":P,"i":I,"t":NS,...}: wrapped in the agent's envelope or bare (bridge).
    auto field = [&p](std::string_view name) -> int64_t {
      const size_t at = p.find(name);
      if (at == std::string_view::npos) return -1;
      return std::strtoll(p.data() + at + name.size(), nullptr, 10);
    };
    const int64_t pub = field("\"p\":"), idx = field("\"i\":"), t = field("\"t\":");
    if (pub < 0 || idx < 0 || t < 0) return;
    if (seen_.insert(pub * 10'000'000 + idx).second) {
      latencies_us_.push_back(static_cast<double>(now - t) / 1000.0);
      last_ns_ = now;
    }
  }

  mosquitto* mosq_ = nullptr;
  std::atomic<bool> subscribed_{false};
  std::mutex mu_;
  std::string run_;
  std::unordered_set<int64_t> seen_;
  std::vector<double> latencies_us_;
  int64_t last_ns_ = 0;
};

struct Target {
  std::string name;
  int port = 0;
  std::string server_name;
  std::string ca;
};

// One publisher connection with a leaf certificate.
std::unique_ptr<edgetrust::mqtt::Client> ConnectPublisher(const Target& target, SSL_CTX* ctx,
                                                          const std::string& id, int window,
                                                          std::string* error) {
  edgetrust::mqtt::TlsStreamOptions so;
  so.host = "127.0.0.1";
  so.port = static_cast<uint16_t>(target.port);
  so.ctx = ctx;
  so.server_name = target.server_name;
  auto stream = edgetrust::mqtt::TlsStream::Connect(so);
  if (!stream.ok()) {
    *error = stream.status().ToString();
    return nullptr;
  }
  edgetrust::mqtt::Client::Options co;
  co.client_id = id;
  co.window = static_cast<uint16_t>(window);
  auto client = edgetrust::mqtt::Client::Connect(std::move(stream).value(), co);
  if (!client.ok()) {
    *error = client.status().ToString();
    return nullptr;
  }
  return std::move(client).value();
}

std::string Payload(const std::string& run, int pub, int i, int pad) {
  std::string p = "{\"r\":\"" + run + "\",\"p\":" + std::to_string(pub) +
                  ",\"i\":" + std::to_string(i) + ",\"t\":" + std::to_string(MonoNs()) + ",\"x\":\"";
  if (static_cast<int>(p.size()) + 2 < pad) p.append(static_cast<size_t>(pad) - p.size() - 2, 'x');
  return p + "\"}";
}

struct RunResult {
  bool ok = false;
  std::string error;
  double msgs_per_s = 0;
  double p50_ms = 0, p99_ms = 0, rate_achieved = 0;
  size_t delivered = 0, expected = 0;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// Sends from P publishers; `per_second` == 0: as fast as the window allows.
RunResult Run(const Target& target, const std::vector<SSL_CTX*>& ctxs, Subscriber& sub,
              const std::string& run, int per_publisher, double per_second, const Options& o) {
  RunResult r;
  sub.Reset(run);
  std::vector<std::unique_ptr<edgetrust::mqtt::Client>> clients;
  for (int p = 0; p < o.publishers; ++p) {
    auto c = ConnectPublisher(target, ctxs[static_cast<size_t>(p)], "bench-" + std::to_string(p),
                              o.window, &r.error);
    if (!c) return r;
    clients.push_back(std::move(c));
  }
  r.expected = static_cast<size_t>(per_publisher) * static_cast<size_t>(o.publishers);
  const int64_t start = MonoNs();
  std::vector<std::thread> threads;
  std::atomic<bool> failed{false};
  std::mutex err_mu;
  for (int p = 0; p < o.publishers; ++p) {
    threads.emplace_back([&, p] {
      auto& c = *clients[static_cast<size_t>(p)];
      const std::string topic = "bench-" + std::to_string(p) + "/t";
      const double interval_ns = per_second > 0 ? 1e9 / (per_second / o.publishers) : 0;
      for (int i = 0; i < per_publisher && !failed; ++i) {
        if (interval_ns > 0) {
          const int64_t due = start + static_cast<int64_t>(i * interval_ns);
          while (MonoNs() < due) {
            auto st = c.Poll(0);
            (void)st;
            const int64_t left = due - MonoNs();
            if (left > 200'000) std::this_thread::sleep_for(std::chrono::nanoseconds(left / 2));
          }
        }
        auto id = c.Publish(topic, Payload(run, p, i, o.payload), 1);
        if (!id.ok()) {
          std::lock_guard<std::mutex> lock(err_mu);
          r.error = id.status().ToString();
          failed = true;
        }
      }
      auto st = c.WaitAllAcked(120000);
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(err_mu);
        r.error = st.ToString();
        failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  // Everything the gateway acknowledged must reach the subscriber.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (sub.count() < r.expected && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.delivered = sub.count();
  for (auto& c : clients) (void)c->Disconnect();
  if (failed) return r;
  const double elapsed_s = static_cast<double>(sub.last_ns() - start) / 1e9;
  r.msgs_per_s = elapsed_s > 0 ? static_cast<double>(r.delivered) / elapsed_s : 0;
  const auto lat = sub.latencies();
  r.p50_ms = Percentile(lat, 0.50) / 1000.0;
  r.p99_ms = Percentile(lat, 0.99) / 1000.0;
  r.ok = r.delivered == r.expected;
  if (!r.ok) r.error = "delivered " + std::to_string(r.delivered) + " of " + std::to_string(r.expected);
  return r;
}

long VmHwmKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

}  // namespace

namespace {

SSL_CTX* PublisherContext(const std::string& ca, const std::string& cert, const std::string& key) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr || SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  return ctx;
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--publishers N] [--messages N] [--window N] [--rate N] "
               "[--rate-seconds S] [--payload BYTES]\n"
               "Sensors -> gateway -> cloud with TLS on both hops: edgetrust-agent (durable queue)\n"
               "against Mosquitto's bridge, same machine, same run. Prints a table, the goals and\n"
               "`metric NAME VALUE` lines.\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return Usage(argv[0]), 0;
    if (i + 1 >= argc) return Usage(argv[0]);
    const double v = std::atof(argv[++i]);
    if (v <= 0) return Usage(argv[0]);
    if (a == "--publishers") o.publishers = static_cast<int>(v);
    else if (a == "--messages") o.messages = static_cast<int>(v);
    else if (a == "--window") o.window = static_cast<int>(v);
    else if (a == "--rate") o.rate = static_cast<int>(v);
    else if (a == "--rate-seconds") o.rate_seconds = v;
    else if (a == "--payload") o.payload = static_cast<int>(v);
    else return Usage(argv[0]);
  }
  using edgetrust::test::GatewayRig;
  using edgetrust::test::MosquittoProcess;
  edgetrust::test::TempDir dir;
  GatewayRig rig(dir);
  std::string error;
  if (!rig.Setup(&error)) {
    std::fprintf(stderr, "setup: %s\n", error.c_str());
    return 1;
  }
  if (!rig.StartCloud()) {
    std::fprintf(stderr, "cloud broker: %s\n", rig.cloud().log().c_str());
    return 1;
  }
  // The agent, as deployed: info logging, queue and cloud link with their defaults.
  std::string config = rig.AgentConfig();
  config.replace(config.find("log_level = \"debug\""), 19, "log_level = \"info\"");
  if (!rig.StartAgent(config)) {
    std::fprintf(stderr, "agent: %s\n", rig.AgentLog().c_str());
    return 1;
  }
  if (!rig.WaitForAgentLog("event=cloud-connected")) {
    std::fprintf(stderr, "agent did not connect to the cloud: %s\n", rig.AgentLog().c_str());
    return 1;
  }
  std::vector<SSL_CTX*> to_agent, to_bridge;
  for (int p = 0; p < o.publishers; ++p) {
    const std::string name = "bench-" + std::to_string(p);
    if (rig.AddLeaf(name, "certificate") != "ok" || !rig.IssueLeafCertificate(name, &error)) {
      std::fprintf(stderr, "leaf %s: %s\n", name.c_str(), error.c_str());
      return 1;
    }
    to_agent.push_back(PublisherContext(rig.device_ca_pem(), rig.File(name + ".pem"),
                                        rig.File(name + ".key")));
    to_bridge.push_back(PublisherContext(rig.cloud_ca_pem(), rig.File(name + ".pem"),
                                         rig.File(name + ".key")));
    if (!to_agent.back() || !to_bridge.back()) {
      std::fprintf(stderr, "publisher TLS context failed\n");
      return 1;
    }
  }

  // Mosquitto's bridge: a local broker for the sensors, bridging everything to the cloud.
  MosquittoProcess::Options bo;
  MosquittoProcess::Listener bl;
  bl.cafile = rig.File("cloud-clients.pem");
  bl.certfile = rig.File("broker.pem");
  bl.keyfile = rig.File("broker.key");
  bl.require_certificate = true;
  bo.listeners = {bl};
  bo.user = "root";
  bo.extra_config = {"max_inflight_messages 1000",
                     "max_queued_messages 0",
                     "connection cloud",
                     "address 127.0.0.1:" + std::to_string(rig.cloud().port()),
                     "topic # out 1",
                     "bridge_protocol_version mqttv311",
                     "bridge_cafile " + rig.cloud_ca_pem(),
                     "bridge_certfile " + rig.File("cloud-sub.pem"),
                     "bridge_keyfile " + rig.File("cloud-sub.key"),
                     "cleansession true",
                     "try_private false"};
  MosquittoProcess bridge(dir, bo);
  if (!bridge.Start() || !rig.cloud().WaitForLog("New client connected")) {
    std::fprintf(stderr, "bridge: %s\n", bridge.log().c_str());
    return 1;
  }
  // Give the bridge's connection to the cloud time to come up.
  std::this_thread::sleep_for(std::chrono::seconds(1));

  Subscriber sub;
  if (!sub.Start(rig.cloud().port(), rig.cloud_ca_pem(), rig.File("cloud-sub.pem"),
                 rig.File("cloud-sub.key"))) {
    std::fprintf(stderr, "subscriber could not subscribe\n");
    return 1;
  }
  const Target agent_target{"edgetrust-agent", rig.hub_port(), GatewayRig::kDeviceId,
                            rig.device_ca_pem()};
  const Target bridge_target{"mosquitto bridge", bridge.port(), "localhost", rig.cloud_ca_pem()};

  // Warm-up of both paths (connections, caches), not measured.
  (void)Run(agent_target, to_agent, sub, "warm-a", 500, 0, o);
  (void)Run(bridge_target, to_bridge, sub, "warm-b", 500, 0, o);

  const int rate_messages = static_cast<int>(o.rate * o.rate_seconds / o.publishers);
  RunResult agent_tp = Run(agent_target, to_agent, sub, "tp-a", o.messages, 0, o);
  RunResult bridge_tp = Run(bridge_target, to_bridge, sub, "tp-b", o.messages, 0, o);
  RunResult agent_rate = Run(agent_target, to_agent, sub, "rate-a", rate_messages, o.rate, o);
  RunResult bridge_rate = Run(bridge_target, to_bridge, sub, "rate-b", rate_messages, o.rate, o);
  const long agent_rss_kb = VmHwmKb(rig.agent().pid());
  // The bridging broker's pid is not exposed; its peak RSS is read by name.
  long bridge_rss_kb = -1;
  {
    auto r = edgetrust::test::RunCommand({"pgrep", "-f", bridge.config_path()});
    if (r.exit_code == 0) bridge_rss_kb = VmHwmKb(static_cast<pid_t>(std::atol(r.out.c_str())));
  }

  auto cell = [](const RunResult& r, double v, int d) { return r.ok ? Fixed(v, d) : "n/a"; };
  std::printf("\nGateway: sensors -> gateway -> cloud, TLS 1.3 on both hops, QoS 1, %d publishers, "
              "window %d, %d-byte payloads\n\n",
              o.publishers, o.window, o.payload);
  Table table({"path", "msgs/s (max)", "p50 ms @rate", "p99 ms @rate", "peak RSS MB", "durable"});
  table.Add({"edgetrust-agent", cell(agent_tp, agent_tp.msgs_per_s, 0),
             cell(agent_rate, agent_rate.p50_ms, 2), cell(agent_rate, agent_rate.p99_ms, 2),
             Fixed(static_cast<double>(agent_rss_kb) / 1024.0, 1), "yes (fsync per group commit)"});
  table.Add({"mosquitto bridge", cell(bridge_tp, bridge_tp.msgs_per_s, 0),
             cell(bridge_rate, bridge_rate.p50_ms, 2), cell(bridge_rate, bridge_rate.p99_ms, 2),
             Fixed(static_cast<double>(bridge_rss_kb) / 1024.0, 1), "no (memory)"});
  table.Print();
  for (const auto* r : {&agent_tp, &bridge_tp, &agent_rate, &bridge_rate}) {
    if (!r->ok) std::printf("error: %s\n", r->error.c_str());
  }
  const double ratio = bridge_tp.msgs_per_s > 0 ? agent_tp.msgs_per_s / bridge_tp.msgs_per_s : 0;
  std::printf("\n");
  Table goals({"goal", "target", "measured", "result"});
  auto verdict = [](bool ok) { return std::string(ok ? "met" : "NOT met"); };
  goals.Add({"throughput", ">= 20000 msgs/s", Fixed(agent_tp.msgs_per_s, 0),
             verdict(agent_tp.ok && agent_tp.msgs_per_s >= 20000)});
  goals.Add({"p99 at " + std::to_string(o.rate) + " msgs/s", "<= 50 ms",
             Fixed(agent_rate.p99_ms, 2), verdict(agent_rate.ok && agent_rate.p99_ms <= 50)});
  goals.Add({"vs mosquitto bridge", ">= 0.8x", Fixed(ratio, 2), verdict(ratio >= 0.8)});
  goals.Add({"agent peak RSS", "<= 20 MB", Fixed(static_cast<double>(agent_rss_kb) / 1024.0, 1),
             verdict(agent_rss_kb > 0 && agent_rss_kb <= 20 * 1024)});
  goals.Print();
  Metric("gateway_agent_msgs_per_s", agent_tp.msgs_per_s, 0);
  Metric("gateway_bridge_msgs_per_s", bridge_tp.msgs_per_s, 0);
  Metric("gateway_agent_vs_bridge", ratio, 2);
  Metric("gateway_agent_p50_ms", agent_rate.p50_ms, 2);
  Metric("gateway_agent_p99_ms", agent_rate.p99_ms, 2);
  Metric("gateway_bridge_p50_ms", bridge_rate.p50_ms, 2);
  Metric("gateway_bridge_p99_ms", bridge_rate.p99_ms, 2);
  Metric("gateway_agent_rss_mb", static_cast<double>(agent_rss_kb) / 1024.0, 1);
  Metric("gateway_bridge_rss_mb", static_cast<double>(bridge_rss_kb) / 1024.0, 1);
  for (SSL_CTX* c : to_agent) SSL_CTX_free(c);
  for (SSL_CTX* c : to_bridge) SSL_CTX_free(c);
  const bool all_ok = agent_tp.ok && bridge_tp.ok && agent_rate.ok && bridge_rate.ok;
  return all_ok ? 0 : 1;
}
