// First secure-domain benchmark: the daemon side by side with in-process OpenSSL, in one run.
//
// Prints a table and `metric NAME VALUE` lines. Measures ECDSA P-256 and Ed25519 signatures per
// second (in-process, through the daemon with 1 and 2 client threads, and pipelined on one
// connection), the round-trip latency of a small operation (HMAC-SHA256 of 32 bytes), start-up to
// ready, and the daemon's memory with many keys. Usage: sd_bench [--seconds S] [--keys N]
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "client/connection.h"
#include "edgetrust/client.h"
#include "harness.h"
#include "protocol/message.h"

namespace {

using Clock = std::chrono::steady_clock;
using edgetrust::AsBytes;
using edgetrust::Client;
using edgetrust::KeyType;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Runs `op` on `threads` threads for `seconds`; returns operations per second.
template <typename Op>
double Throughput(int threads, double seconds, Op op) {
  std::atomic<bool> stop{false};
  std::atomic<long> total{0};
  std::vector<std::thread> pool;
  auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto state = op.Prepare(t);
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op.Run(state)) {
          std::fprintf(stderr, "operation failed\n");
          std::exit(1);
        }
        ++n;
      }
      total += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  return static_cast<double>(total.load()) / Seconds(Clock::now() - start);
}

struct InProcessSign {
  EVP_PKEY* key;
  bool ed25519;
  struct State {};
  State Prepare(int) { return {}; }
  bool Run(State&) {
    static const unsigned char msg[] = "benchmark message of typical size for a telemetry record";
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char sig[128];
    size_t len = sizeof sig;
    bool ok =
        EVP_DigestSignInit(ctx, nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr, key) == 1 &&
        EVP_DigestSign(ctx, sig, &len, msg, sizeof msg - 1) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  }
};

struct DaemonSign {
  std::string socket;
  std::string key;
  using State = std::unique_ptr<Client>;
  State Prepare(int) { return std::move(Client::Connect(socket)).value(); }
  bool Run(State& c) {
    static const std::string msg = "benchmark message of typical size for a telemetry record";
    return c->Sign(key, AsBytes(msg)).ok();
  }
};

// One connection, `window` requests in flight: the pipelining the protocol allows.
struct DaemonPipelined {
  std::string socket;
  std::string key;
  int window;
  using State = std::unique_ptr<edgetrust::client::Connection>;
  State Prepare(int) { return std::move(edgetrust::client::Connection::Open(socket)).value(); }
  bool Run(State& c) {
    using edgetrust::protocol::Field;
    using edgetrust::protocol::Opcode;
    edgetrust::protocol::Message m;
    m.PutString(Field::kName, key)
        .PutBytes(Field::kData, AsBytes("benchmark message of typical size"));
    std::vector<uint64_t> ids;
    for (int i = 0; i < window; ++i) {
      auto id = c->Send(Opcode::kSign, m);
      if (!id.ok()) return false;
      ids.push_back(*id);
    }
    for (uint64_t id : ids) {
      if (!c->Wait(id, Opcode::kSign).ok()) return false;
    }
    return true;
  }
};

long ReadStatusKb(pid_t pid, const char* field) {
  std::string status = edgetrust::test::ReadText("/proc/" + std::to_string(pid) + "/status");
  auto pos = status.find(field);
  if (pos == std::string::npos) return -1;
  return std::strtol(status.c_str() + pos + std::strlen(field) + 1, nullptr, 10);
}

void Row(const char* what, double value, const char* unit, const char* note = "") {
  std::printf("| %-52s | %12.1f | %-8s | %s\n", what, value, unit, note);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  int key_count = 1000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = std::atof(argv[++i]);
    else if (std::strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
      key_count = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: sd_bench [--seconds S] [--keys N]\n");
      return 2;
    }
  }

  edgetrust::test::TempDir dir;
  edgetrust::test::SdProcess sd(dir);
  auto t0 = Clock::now();
  if (!sd.Start()) {
    std::fprintf(stderr, "edgetrust-sd did not start:\n%s\n", sd.log().c_str());
    return 1;
  }
  double startup_ms = Seconds(Clock::now() - t0) * 1000;
  auto admin = std::move(Client::Connect(sd.socket())).value();
  if (!admin->CreateKey("p256", KeyType::kEcdsaP256).ok() ||
      !admin->CreateKey("ed", KeyType::kEd25519).ok() ||
      !admin->CreateKey("mac", KeyType::kHmacSha256).ok()) {
    std::fprintf(stderr, "key creation failed\n");
    return 1;
  }

  EVP_PKEY* p256 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  EVP_PKEY* ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");

  std::printf("EdgeTrust secure-domain benchmark (emulated backend), %u cores, %.1f s per row\n",
              std::thread::hardware_concurrency(), seconds);
  std::printf("| %-52s | %12s | %-8s |\n", "measurement", "value", "unit");
  std::printf("|%s|%s|%s|\n", std::string(54, '-').c_str(), std::string(14, '-').c_str(),
              std::string(10, '-').c_str());

  double inproc_p256 = Throughput(1, seconds, InProcessSign{p256, false});
  Row("ECDSA P-256 sign, in-process OpenSSL, 1 thread", inproc_p256, "ops/s");
  double sd_p256_1 = Throughput(1, seconds, DaemonSign{sd.socket(), "p256"});
  Row("ECDSA P-256 sign, edgetrust-sd, 1 client", sd_p256_1, "ops/s");
  double sd_p256_2 = Throughput(2, seconds, DaemonSign{sd.socket(), "p256"});
  Row("ECDSA P-256 sign, edgetrust-sd, 2 clients", sd_p256_2, "ops/s");
  double sd_p256_pipe = Throughput(1, seconds, DaemonPipelined{sd.socket(), "p256", 16}) * 16;
  Row("ECDSA P-256 sign, edgetrust-sd, 1 conn, 16 in flight", sd_p256_pipe, "ops/s");
  double inproc_p256_2 = Throughput(2, seconds, InProcessSign{p256, false});
  Row("ECDSA P-256 sign, in-process OpenSSL, 2 threads", inproc_p256_2, "ops/s");
  double inproc_ed = Throughput(1, seconds, InProcessSign{ed, true});
  Row("Ed25519 sign, in-process OpenSSL, 1 thread", inproc_ed, "ops/s");
  double sd_ed = Throughput(1, seconds, DaemonSign{sd.socket(), "ed"});
  Row("Ed25519 sign, edgetrust-sd, 1 client", sd_ed, "ops/s");

  // Round-trip latency of a small operation, one synchronous client.
  std::vector<double> lat;
  {
    auto c = std::move(Client::Connect(sd.socket())).value();
    const std::string data(32, 'x');
    for (int i = 0; i < 1000; ++i) (void)c->Mac("mac", AsBytes(data));  // warm-up
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      auto s = Clock::now();
      if (!c->Mac("mac", AsBytes(data)).ok()) return 1;
      lat.push_back(Seconds(Clock::now() - s) * 1e6);
    }
  }
  std::sort(lat.begin(), lat.end());
  double p50 = lat[lat.size() / 2];
  double p99 = lat[lat.size() * 99 / 100];
  Row("HMAC-SHA256(32 B) round trip p50", p50, "us");
  Row("HMAC-SHA256(32 B) round trip p99", p99, "us");
  Row("start-up to ready (socket accepts)", startup_ms, "ms", "process start included");

  long rss_before = ReadStatusKb(sd.pid(), "VmRSS:");
  for (int i = 0; i < key_count; ++i) {
    if (!admin->CreateKey("bulk" + std::to_string(i), KeyType::kEcdsaP256).ok()) {
      std::fprintf(stderr, "bulk key creation failed at %d\n", i);
      return 1;
    }
  }
  // Use every key once, so all of them are loaded in the daemon's cache.
  for (int i = 0; i < key_count; ++i) (void)admin->Sign("bulk" + std::to_string(i), AsBytes("x"));
  long rss_after = ReadStatusKb(sd.pid(), "VmRSS:");
  Row("edgetrust-sd RSS, idle", static_cast<double>(rss_before) / 1024, "MiB");
  Row(("edgetrust-sd RSS, " + std::to_string(key_count) + " keys loaded").c_str(),
      static_cast<double>(rss_after) / 1024, "MiB");

  std::printf("\nmetric sd_ecdsa_p256_sign_inprocess_ops %.0f\n", inproc_p256);
  std::printf("metric sd_ecdsa_p256_sign_daemon_1client_ops %.0f\n", sd_p256_1);
  std::printf("metric sd_ecdsa_p256_sign_daemon_2clients_ops %.0f\n", sd_p256_2);
  std::printf("metric sd_ecdsa_p256_sign_daemon_pipelined_ops %.0f\n", sd_p256_pipe);
  std::printf("metric sd_ecdsa_p256_sign_ratio_daemon_1client_vs_inprocess %.3f\n",
              sd_p256_1 / inproc_p256);
  // Pipelined on one connection the daemon serves on one thread: the fair one-core comparison.
  std::printf("metric sd_ecdsa_p256_sign_ratio_pipelined_1conn_vs_inprocess_1thread %.3f\n",
              sd_p256_pipe / inproc_p256);
  std::printf("metric sd_ecdsa_p256_sign_ratio_2clients_vs_inprocess_2threads %.3f\n",
              sd_p256_2 / inproc_p256_2);
  std::printf("metric sd_ed25519_sign_ratio_daemon_vs_inprocess %.3f\n", sd_ed / inproc_ed);
  std::printf("metric sd_hmac32_roundtrip_p50_us %.1f\n", p50);
  std::printf("metric sd_hmac32_roundtrip_p99_us %.1f\n", p99);
  std::printf("metric sd_startup_ms %.1f\n", startup_ms);
  std::printf("metric sd_rss_mib_%dkeys %.2f\n", key_count, static_cast<double>(rss_after) / 1024);

  EVP_PKEY_free(p256);
  EVP_PKEY_free(ed);
  admin.reset();
  return sd.Stop() == 0 ? 0 : 1;
}
