// Secure-domain benchmark: edgetrust-sd side by side with in-process OpenSSL (the limit) and with
// SoftHSM2 through PKCS#11 (the peer), in one run, with 1 and 2 client threads.
//
// Columns, in this order: edgetrust-sd on its emulated backend ("sd"), in-process OpenSSL,
// SoftHSM2 in-process, then edgetrust-sd on its other backends: `--backend tpm` on a swtpm
// ("tpm") and `--backend pkcs11` on a SoftHSM2 token ("pkcs11"), each started with the test
// harness's BackendEnv. swtpm and SoftHSM2 are software, so those two columns show our daemon's
// overhead over them, not the speed of hardware; "pkcs11/SoftHSM2" is the daemon's overhead over
// the same module called in-process. The tpm column has 1-thread rows only: swtpm executes one
// command at a time, so a second client thread only queues behind the first. An operation a
// backend lacks (a key type missing from Client::Info().supported, e.g. Ed25519 on a TPM) is n/a,
// and so is a whole column whose device or daemon does not start, with the reason below the table.
//
// Operations: ECDSA P-256 sign, Ed25519 sign, HMAC-SHA256 of 32 bytes, AES-256-GCM encryption of
// 1 KiB, sealing 1 KiB, attestation evidence. Each cell reports operations per second and the
// p50/p99 latency of one call. Then, for the emulated daemon: ECDSA pipelined on one connection,
// evidence verification per second, start-up to ready, and the daemon's memory with many keys; a
// table of the performance goals (met or missed); and `metric NAME VALUE` lines (the backends'
// as tpm_<op>_ops_1t, pkcs11_<op>_ops_<N>t, ratio_sd_pkcs11_vs_softhsm_<op>_<N>t, ...).
//
// Usage: sd_bench [--seconds S] [--keys N] [--softhsm MODULE] [--help]. Run as root (the daemons
// drop to the user daemon); swtpm and softhsm2-util from install-deps.sh.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "attest/evidence.h"
#include "backend_env.h"
#include "bench_table.h"
#include "client/connection.h"
#include "common/openssl_ptr.h"
#include "edgetrust/attestation.h"
#include "edgetrust/client.h"
#include "harness.h"
#include "protocol/message.h"
#include "softhsm_peer.h"

namespace {

using edgetrust::AsBytes;
using edgetrust::Bytes;
using edgetrust::ByteView;
using edgetrust::Client;
using edgetrust::ErrorCode;
using edgetrust::KeyType;
using edgetrust::Result;
using edgetrust::Status;
using edgetrust::bench::Cell;
using edgetrust::bench::Fixed;
using edgetrust::bench::Metric;
using edgetrust::bench::OpFactory;
using edgetrust::bench::SoftHsmPeer;
using edgetrust::bench::Table;
using edgetrust::bench::ThreadOp;
using Clock = std::chrono::steady_clock;

struct Options {
  double seconds = 1.5;
  int keys = 1000;
  std::string softhsm = SoftHsmPeer::kDefaultModule;
};

// What the operations work on.
const std::string kMessage = "benchmark message of typical size for a telemetry record: 21.5 C";
const std::string kData32(32, 'x');
const std::string kData1k(1024, 'p');

enum class Op { kEcdsaSign, kEd25519Sign, kHmac32, kAesGcm1k, kSeal1k, kAttest };
struct OpInfo {
  Op op;
  const char* title;
  const char* metric;  // metric name part
};
constexpr OpInfo kOps[] = {
    {Op::kEcdsaSign, "ECDSA P-256 sign", "ecdsa_p256_sign"},
    {Op::kEd25519Sign, "Ed25519 sign", "ed25519_sign"},
    {Op::kHmac32, "HMAC-SHA256, 32 B", "hmac32"},
    {Op::kAesGcm1k, "AES-256-GCM encrypt, 1 KiB", "aes256gcm_1k"},
    {Op::kSeal1k, "seal, 1 KiB (a)", "seal_1k"},
    {Op::kAttest, "attest (b)", "attest"},
};
constexpr int kThreadCounts[] = {1, 2};
// Each cell's time is split into this many slices, taken in turns with the other implementations.
constexpr int kRounds = 3;

// The implementations, in the order of their columns; kImplNames are the metric name prefixes.
enum Impl { kSd, kOpenSsl, kSoftHsm, kSdTpm, kSdPkcs11, kImplCount };
constexpr const char* kImplNames[kImplCount] = {"sd", "openssl", "softhsm", "tpm", "pkcs11"};
constexpr const char* kImplLabels[kImplCount] = {"sd", "OpenSSL", "SoftHSM2", "sd tpm",
                                                 "sd pkcs11"};

// Whether `impl` runs at `threads` client threads: the tpm backend at one only (swtpm executes one
// command at a time; a second thread would only wait for it).
bool Runs(Impl impl, int threads) { return impl != kSdTpm || threads == 1; }

Status Failed(const char* what) { return Status(ErrorCode::kInternal, what); }

// --- edgetrust-sd through libedgetrust, one Client (one connection) per thread ----------------

OpFactory DaemonOp(const std::string& socket, Op op) {
  return [socket, op](int) -> Result<ThreadOp> {
    ET_ASSIGN_OR_RETURN(std::unique_ptr<Client> owned, Client::Connect(socket));
    std::shared_ptr<Client> c(std::move(owned));
    switch (op) {
      case Op::kEcdsaSign:
        return ThreadOp([c] { return c->Sign("p256", AsBytes(kMessage)).status(); });
      case Op::kEd25519Sign:
        return ThreadOp([c] { return c->Sign("ed", AsBytes(kMessage)).status(); });
      case Op::kHmac32:
        return ThreadOp([c] { return c->Mac("mac", AsBytes(kData32)).status(); });
      case Op::kAesGcm1k:
        return ThreadOp([c] { return c->Encrypt("aes", AsBytes(kData1k)).status(); });
      case Op::kSeal1k:
        return ThreadOp([c] { return c->Seal(AsBytes(kData1k), {}).status(); });
      case Op::kAttest:
        return ThreadOp([c] { return c->Attest(AsBytes(kData32)).status(); });
    }
    return Failed("unknown operation");
  };
}

// --- edgetrust-sd on a device backend (tpm on a swtpm, pkcs11 on a SoftHSM2 token) -------------

// The device, the daemon on it, and which of the benchmark's keys it could create. Start() fails
// with the reason when the device or the daemon does not start; the column is then n/a.
class BackendDaemon {
 public:
  explicit BackendDaemon(const std::string& backend) : env_(dir_, backend) {}

  Status Start() {
    if (!env_.Start()) return error_ = Status(ErrorCode::kUnavailable, env_.error());
    sd_ = std::make_unique<edgetrust::test::SdProcess>(dir_, env_.DaemonOptions());
    if (!sd_->Start()) {
      std::string log = sd_->log();
      if (log.size() > 2000) log = "..." + log.substr(log.size() - 2000);
      return error_ = Status(ErrorCode::kUnavailable, "edgetrust-sd --backend " + env_.backend() +
                                                          " did not start:\n" + log);
    }
    auto client = Client::Connect(sd_->socket());
    if (!client.ok()) return error_ = client.status();
    auto info = (*client)->Info();
    if (!info.ok()) return error_ = info.status();
    for (const auto& f : info->features) {
      const char* benchmarked[] = {"sign", "aead", "mac", "seal", "attest"};
      if (!f.native && std::find(std::begin(benchmarked), std::end(benchmarked), f.name) !=
                           std::end(benchmarked)) {
        in_daemon_.push_back(f.name + ": " + f.how);
      }
    }
    for (auto [name, type] : {std::pair{"p256", KeyType::kEcdsaP256},
                              {"ed", KeyType::kEd25519},
                              {"mac", KeyType::kHmacSha256},
                              {"aes", KeyType::kAes256}}) {
      const std::string entry = "key-type:" + std::string(edgetrust::KeyTypeName(type));
      Status st =
          Status(ErrorCode::kUnsupported, "the " + env_.backend() + " backend lacks " + entry);
      if (std::find(info->supported.begin(), info->supported.end(), entry) !=
          info->supported.end()) {
        st = (*client)->CreateKey(name, type).status();
      }
      keys_.emplace_back(name, std::move(st));
    }
    return Status::Ok();
  }

  // Stops the daemon (SIGTERM); its exit code, or 0 when it never ran.
  int Stop() { return sd_ && sd_->running() ? sd_->Stop() : 0; }

  // Why the backend's column is n/a; Ok when it runs.
  const Status& error() const { return error_; }
  // The benchmarked features the daemon provides on top of the device rather than the device
  // itself (DaemonInfo::features with native false), each as "name: how".
  const std::vector<std::string>& in_daemon() const { return in_daemon_; }

  // The operation's factory: n/a (with the reason) when the daemon is not running or lacks the
  // operation's key.
  OpFactory Factory(Op op) const {
    Status why = error_;
    if (why.ok() && !sd_) why = Status(ErrorCode::kUnavailable, "not started");
    const char* key = op == Op::kEcdsaSign     ? "p256"
                      : op == Op::kEd25519Sign ? "ed"
                      : op == Op::kHmac32      ? "mac"
                      : op == Op::kAesGcm1k    ? "aes"
                                               : nullptr;
    for (const auto& [name, st] : keys_) {
      if (why.ok() && key != nullptr && name == key && !st.ok()) why = st;
    }
    if (!why.ok()) return [why](int) -> Result<ThreadOp> { return why; };
    return DaemonOp(sd_->socket(), op);
  }

 private:
  edgetrust::test::TempDir dir_;  // one folder each: SdProcess keeps its log at a fixed name
  edgetrust::test::BackendEnv env_;
  std::unique_ptr<edgetrust::test::SdProcess> sd_;
  std::vector<std::pair<std::string, Status>> keys_;  // key name, Ok or why it does not exist
  std::vector<std::string> in_daemon_;
  Status error_;
};

// "0.7.1" from `swtpm --version`, or "" when it does not say.
std::string SwtpmVersion() {
  const std::string out = edgetrust::test::RunCommand({"swtpm", "--version"}).out;
  const auto at = out.find("version ");
  if (at == std::string::npos) return "";
  const auto end = out.find_first_of(", \n", at + 8);
  return out.substr(at + 8, end == std::string::npos ? std::string::npos : end - at - 8);
}

// --- in-process OpenSSL: the same work with everything prepared per thread, the fastest a
// program holding its own keys can do -------------------------------------------------------

struct InProcessKeys {
  edgetrust::EvpPkeyPtr p256;
  edgetrust::EvpPkeyPtr ed25519;
  unsigned char mac_key[32];
  unsigned char aes_key[32];
  Bytes ueid;
};

const EVP_MD* Sha256() {
  static const std::unique_ptr<EVP_MD, edgetrust::OsslDeleter<EVP_MD_free>> md(
      EVP_MD_fetch(nullptr, "SHA2-256", nullptr));
  return md.get();
}

// A per-thread ECDSA signer: SHA-256, then EVP_PKEY_sign on a context initialised once.
class EcdsaSigner {
 public:
  explicit EcdsaSigner(EVP_PKEY* key) : ctx_(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr)) {
    ok_ = ctx_ && EVP_PKEY_sign_init(ctx_.get()) == 1 &&
          EVP_PKEY_CTX_set_signature_md(ctx_.get(), Sha256()) == 1;
  }
  Result<Bytes> Sign(ByteView message) {
    unsigned char digest[32];
    unsigned int dlen = 0;
    if (!ok_ || EVP_Digest(message.data(), message.size(), digest, &dlen, Sha256(), nullptr) != 1)
      return Failed("SHA-256");
    Bytes sig(80);
    size_t len = sig.size();
    if (EVP_PKEY_sign(ctx_.get(), sig.data(), &len, digest, dlen) != 1) return Failed("sign");
    sig.resize(len);
    return sig;
  }

 private:
  edgetrust::EvpPkeyCtxPtr ctx_;
  bool ok_ = false;
};

// AES-256-GCM with a fresh random nonce, the key schedule set up once per thread.
class GcmEncryptor {
 public:
  explicit GcmEncryptor(const unsigned char* key) : ctx_(EVP_CIPHER_CTX_new()) {
    static const std::unique_ptr<EVP_CIPHER, edgetrust::OsslDeleter<EVP_CIPHER_free>> gcm(
        EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
    ok_ = ctx_ && EVP_EncryptInit_ex2(ctx_.get(), gcm.get(), key, nullptr, nullptr) == 1;
    out_.resize(12 + kData1k.size() + 16);
  }
  Status Encrypt(ByteView in) {
    int len = 0;
    unsigned char* nonce = out_.data();
    unsigned char* ct = nonce + 12;
    if (!ok_ || RAND_bytes(nonce, 12) != 1 ||
        EVP_EncryptInit_ex2(ctx_.get(), nullptr, nullptr, nonce, nullptr) != 1 ||
        EVP_EncryptUpdate(ctx_.get(), ct, &len, in.data(), static_cast<int>(in.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx_.get(), ct + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_GET_TAG, 16, ct + in.size()) != 1) {
      return Failed("AES-GCM");
    }
    return Status::Ok();
  }

 private:
  edgetrust::EvpCipherCtxPtr ctx_;
  Bytes out_;
  bool ok_ = false;
};

OpFactory InProcessOp(const InProcessKeys& keys, Op op) {
  return [&keys, op](int) -> Result<ThreadOp> {
    switch (op) {
      case Op::kEcdsaSign: {
        auto signer = std::make_shared<EcdsaSigner>(keys.p256.get());
        return ThreadOp([signer] { return signer->Sign(AsBytes(kMessage)).status(); });
      }
      case Op::kEd25519Sign: {
        std::shared_ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
        if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr,
                                          keys.ed25519.get(), nullptr) != 1)
          return Failed("Ed25519 init");
        return ThreadOp([ctx] {
          unsigned char sig[64];
          size_t len = sizeof sig;
          auto m = AsBytes(kMessage);
          return EVP_DigestSign(ctx.get(), sig, &len, m.data(), m.size()) == 1
                     ? Status::Ok()
                     : Failed("Ed25519 sign");
        });
      }
      case Op::kHmac32: {
        static const edgetrust::EvpMacPtr hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
        std::shared_ptr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(hmac.get()), EVP_MAC_CTX_free);
        char digest[] = "SHA2-256";
        const OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
        if (!ctx || EVP_MAC_init(ctx.get(), keys.mac_key, sizeof keys.mac_key, params) != 1)
          return Failed("HMAC init");
        return ThreadOp([ctx] {
          unsigned char out[32];
          size_t len = 0;
          auto d = AsBytes(kData32);
          return EVP_MAC_init(ctx.get(), nullptr, 0, nullptr) == 1 &&
                         EVP_MAC_update(ctx.get(), d.data(), d.size()) == 1 &&
                         EVP_MAC_final(ctx.get(), out, &len, sizeof out) == 1
                     ? Status::Ok()
                     : Failed("HMAC");
        });
      }
      case Op::kAesGcm1k:
      case Op::kSeal1k: {
        auto enc = std::make_shared<GcmEncryptor>(keys.aes_key);
        return ThreadOp([enc] { return enc->Encrypt(AsBytes(kData1k)); });
      }
      case Op::kAttest: {
        auto signer = std::make_shared<EcdsaSigner>(keys.p256.get());
        edgetrust::EvidenceClaims claims;
        claims.nonce.assign(kData32.begin(), kData32.end());
        claims.ueid = keys.ueid;
        claims.iat = static_cast<uint64_t>(::time(nullptr));
        claims.profile = std::string(edgetrust::attest::kProfile);
        claims.bootseed.assign(32, 0x5a);
        claims.swname = "edgetrust-sd bench";
        claims.backend = "emulated";
        claims.requester = "uid:0";
        Bytes kid(keys.ueid.begin() + 1, keys.ueid.end());
        return ThreadOp([signer, claims, kid] {
          return edgetrust::attest::BuildEvidence(claims, kid,
                                                  [&](ByteView tbs) { return signer->Sign(tbs); })
              .status();
        });
      }
    }
    return Failed("unknown operation");
  };
}

// --- SoftHSM2 through PKCS#11, one session per thread -----------------------------------------

OpFactory SoftHsmOp(SoftHsmPeer* peer, Op op) {
  return [peer, op](int) -> Result<ThreadOp> {
    if (peer == nullptr) return Status(ErrorCode::kUnavailable, "SoftHSM2 not available");
    SoftHsmPeer::Op p;
    ByteView data;
    switch (op) {
      case Op::kEcdsaSign:
        p = SoftHsmPeer::Op::kEcdsaP256Sign;
        data = AsBytes(kMessage);
        break;
      case Op::kEd25519Sign:
        p = SoftHsmPeer::Op::kEd25519Sign;
        data = AsBytes(kMessage);
        break;
      case Op::kHmac32:
        p = SoftHsmPeer::Op::kHmacSha256;
        data = AsBytes(kData32);
        break;
      case Op::kAesGcm1k:
      case Op::kSeal1k:
        p = SoftHsmPeer::Op::kAes256GcmEncrypt;
        data = AsBytes(kData1k);
        break;
      default:
        return Status(ErrorCode::kUnsupported, "PKCS#11 has no attestation");
    }
    if (!peer->Supports(p)) return Status(ErrorCode::kUnsupported, "mechanism not in this build");
    ET_ASSIGN_OR_RETURN(std::unique_ptr<SoftHsmPeer::Session> owned, peer->OpenSession());
    std::shared_ptr<SoftHsmPeer::Session> s(std::move(owned));
    return ThreadOp([s, p, data] { return s->Run(p, data); });
  };
}

// --- the rest ---------------------------------------------------------------------------------

// ECDSA through one connection from one thread, `window` requests in flight.
Cell Pipelined(const std::string& socket, int window, double seconds) {
  Cell cell;
  (void)edgetrust::bench::MeasureInto(cell, 1, seconds, [&](int) -> Result<ThreadOp> {
    ET_ASSIGN_OR_RETURN(auto owned, edgetrust::client::Connection::Open(socket));
    std::shared_ptr<edgetrust::client::Connection> c(std::move(owned));
    return ThreadOp([c, window]() -> Status {
      using edgetrust::protocol::Field;
      using edgetrust::protocol::Opcode;
      edgetrust::protocol::Message m;
      m.PutString(Field::kName, "p256").PutBytes(Field::kData, AsBytes(kMessage));
      std::vector<uint64_t> ids;
      for (int i = 0; i < window; ++i) {
        ET_ASSIGN_OR_RETURN(uint64_t id, c->Send(Opcode::kSign, m));
        ids.push_back(id);
      }
      for (uint64_t id : ids) ET_RETURN_IF_ERROR(c->Wait(id, Opcode::kSign).status());
      return Status::Ok();
    });
  });
  edgetrust::bench::Finish(cell);
  return cell;
}

// Evidence verifications per second on one thread, of evidence the daemon produced.
Result<double> VerifyPerSecond(Client& c, double seconds) {
  ET_ASSIGN_OR_RETURN(std::string pem, c.AttestationKeyPem());
  ET_ASSIGN_OR_RETURN(Bytes evidence, c.Attest(AsBytes(kData32)));
  ET_ASSIGN_OR_RETURN(auto verifier, edgetrust::EvidenceVerifier::Create(pem));
  auto end = Clock::now() +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto start = Clock::now();
  long n = 0;
  do {
    auto verdict = verifier.Verify(evidence, AsBytes(kData32));
    if (!verdict.passed) return Failed("evidence did not verify");
    ++n;
  } while (Clock::now() < end);
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
}

// Raw ECDSA P-256 verifications per second on one thread (SHA-256 digest, context initialised
// once): the bound on evidence verification, which checks one such signature per evidence.
Result<double> RawVerifyPerSecond(EVP_PKEY* key, double seconds) {
  EcdsaSigner signer(key);
  ET_ASSIGN_OR_RETURN(Bytes sig, signer.Sign(AsBytes(kMessage)));
  unsigned char digest[32];
  unsigned int dlen = 0;
  edgetrust::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), Sha256()) != 1 ||
      EVP_Digest(kMessage.data(), kMessage.size(), digest, &dlen, Sha256(), nullptr) != 1) {
    return Failed("verify init");
  }
  auto start = Clock::now();
  auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  long n = 0;
  do {
    if (EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), digest, dlen) != 1)
      return Failed("signature did not verify");
    ++n;
  } while (Clock::now() < end);
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
}

long ReadStatusKb(pid_t pid, const char* field) {
  std::string status = edgetrust::test::ReadText("/proc/" + std::to_string(pid) + "/status");
  auto pos = status.find(field);
  if (pos == std::string::npos) return -1;
  return std::strtol(status.c_str() + pos + std::strlen(field) + 1, nullptr, 10);
}

struct Memory {
  double rss_mib = 0;
  double anon_mib = 0;  // private: heap, stacks, relocated data
  double file_mib = 0;  // pages of the executable and shared libraries, shared with others
};
Memory MemoryOf(pid_t pid) {
  return {static_cast<double>(ReadStatusKb(pid, "VmRSS:")) / 1024,
          static_cast<double>(ReadStatusKb(pid, "RssAnon:")) / 1024,
          static_cast<double>(ReadStatusKb(pid, "RssFile:")) / 1024};
}

// Starts `sd` and returns the milliseconds until its socket accepted a connection. A separate
// thread probes every 0.2 ms, finer than the harness's own wait.
Result<double> StartTimed(edgetrust::test::SdProcess& sd) {
  std::atomic<bool> done{false};
  std::atomic<double> ready_ms{-1};
  auto t0 = Clock::now();
  std::thread probe([&] {
    while (!done.load()) {
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, sd.socket().c_str(), sizeof(addr.sun_path) - 1);
      bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      ::close(fd);
      if (ok) {
        ready_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  bool started = sd.Start();
  done = true;
  probe.join();
  if (!started) return Status(ErrorCode::kUnavailable, "edgetrust-sd did not start:\n" + sd.log());
  if (ready_ms.load() < 0)
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return ready_ms.load();
}

std::string Ratio(const Cell& a, const Cell& b) {
  if (!a.measured || !b.measured || b.ops_per_s <= 0) return "n/a";
  return Fixed(a.ops_per_s / b.ops_per_s, 2) + "x";
}

struct Goal {
  std::string what;
  std::string target;
  bool measured;
  double value;
  bool higher_is_better;
  double limit;
  std::string unit;
  int decimals;
};

bool ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      o.seconds = std::atof(argv[++i]);
    } else if (a == "--keys" && i + 1 < argc) {
      o.keys = std::atoi(argv[++i]);
    } else if (a == "--softhsm" && i + 1 < argc) {
      o.softhsm = argv[++i];
    } else {
      return false;
    }
  }
  return o.seconds > 0 && o.keys >= 0;
}

int Run(const Options& o) {
  edgetrust::test::TempDir dir;
  edgetrust::test::SdProcess sd(dir);
  auto first_start = StartTimed(sd);
  if (!first_start.ok()) {
    std::fprintf(stderr, "%s\n", first_start.status().ToString().c_str());
    return 1;
  }
  auto admin = std::move(Client::Connect(sd.socket())).value();
  for (auto [name, type] : {std::pair{"p256", KeyType::kEcdsaP256},
                            {"ed", KeyType::kEd25519},
                            {"mac", KeyType::kHmacSha256},
                            {"aes", KeyType::kAes256}}) {
    if (auto k = admin->CreateKey(name, type); !k.ok()) {
      std::fprintf(stderr, "creating key %s: %s\n", name, k.status().ToString().c_str());
      return 1;
    }
  }

  InProcessKeys keys;
  keys.p256.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  keys.ed25519.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!keys.p256 || !keys.ed25519 || RAND_bytes(keys.mac_key, sizeof keys.mac_key) != 1 ||
      RAND_bytes(keys.aes_key, sizeof keys.aes_key) != 1) {
    std::fprintf(stderr, "in-process key generation failed\n");
    return 1;
  }
  keys.ueid.assign(33, 0x01);

  auto peer = SoftHsmPeer::Create(o.softhsm);
  std::string peer_name = "SoftHSM2";
  if (peer.ok()) {
    peer_name = (*peer)->description();
  } else {
    std::fprintf(stderr, "SoftHSM2 peer unavailable: %s\n", peer.status().ToString().c_str());
  }
  SoftHsmPeer* peer_ptr = peer.ok() ? peer->get() : nullptr;

  // edgetrust-sd on its device backends, each with its own swtpm or SoftHSM2 token.
  BackendDaemon tpm("tpm");
  BackendDaemon pkcs11("pkcs11");
  for (auto [b, label] :
       {std::pair{&tpm, kImplLabels[kSdTpm]}, {&pkcs11, kImplLabels[kSdPkcs11]}}) {
    if (Status st = b->Start(); !st.ok())
      std::fprintf(stderr, "%s unavailable: %s\n", label, st.ToString().c_str());
  }
  const std::string swtpm_version = SwtpmVersion();

  std::printf(
      "EdgeTrust secure-domain benchmark: edgetrust-sd (emulated backend) vs in-process OpenSSL "
      "%s vs %s (PKCS#11, in-process),\nand edgetrust-sd on its tpm backend (swtpm %s) and its "
      "pkcs11 backend (a SoftHSM2 token)\n%u cores, %.1f s per cell in %d turns; ops/s over all "
      "client threads, latency of one call in microseconds\n\n",
      OpenSSL_version(OPENSSL_VERSION_STRING), peer_name.c_str(),
      swtpm_version.empty() ? "?" : swtpm_version.c_str(), std::thread::hardware_concurrency(),
      o.seconds, kRounds);

  // rows[op][threads index].c[impl]; a cell whose implementation does not run at that thread
  // count (Runs) stays unmeasured with an empty note.
  struct Row {
    Cell c[kImplCount];
  };
  Row rows[std::size(kOps)][std::size(kThreadCounts)];
  for (size_t i = 0; i < std::size(kOps); ++i) {
    const OpFactory factories[kImplCount] = {
        DaemonOp(sd.socket(), kOps[i].op), InProcessOp(keys, kOps[i].op),
        SoftHsmOp(peer_ptr, kOps[i].op), tpm.Factory(kOps[i].op), pkcs11.Factory(kOps[i].op)};
    for (size_t t = 0; t < std::size(kThreadCounts); ++t) {
      const int n = kThreadCounts[t];
      std::vector<Impl> impls;
      std::vector<OpFactory> running;
      for (int k = 0; k < kImplCount; ++k) {
        if (!Runs(static_cast<Impl>(k), n)) continue;
        impls.push_back(static_cast<Impl>(k));
        running.push_back(factories[k]);
      }
      auto cells = edgetrust::bench::MeasureSideBySide(n, o.seconds, kRounds, running);
      for (size_t k = 0; k < impls.size(); ++k) rows[i][t].c[impls[k]] = std::move(cells[k]);
    }
  }

  std::vector<std::string> header = {
      "operation",  "thr", "sd ops/s",       "p50", "p99", "OpenSSL ops/s",
      "p50",        "p99", "SoftHSM2 ops/s", "p50", "p99", "sd/OpenSSL",
      "sd/SoftHSM2"};
  header.insert(header.end(), {"sd tpm ops/s (c)", "p50", "p99", "sd pkcs11 ops/s (d)", "p50",
                               "p99", "pkcs11/SoftHSM2"});
  Table table(std::move(header));
  std::vector<std::string> notes;
  auto add_note = [&notes](const std::string& note) {
    if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
  };
  const BackendDaemon* backends[kImplCount] = {nullptr, nullptr, nullptr, &tpm, &pkcs11};
  for (int k = kSdTpm; k < kImplCount; ++k) {
    if (!backends[k]->error().ok())
      add_note(std::string(kImplLabels[k]) + ": " + backends[k]->error().ToString());
  }
  for (size_t i = 0; i < std::size(kOps); ++i) {
    for (size_t t = 0; t < std::size(kThreadCounts); ++t) {
      const Row& r = rows[i][t];
      std::vector<std::string> line = {t == 0 ? kOps[i].title : "",
                                       std::to_string(kThreadCounts[t])};
      auto add_cell = [&](int k) {
        const Cell& c = r.c[k];
        if (c.measured) {
          line.push_back(Fixed(c.ops_per_s, 0));
          line.push_back(Fixed(c.p50_us, 1));
          line.push_back(Fixed(c.p99_us, 1));
        } else if (!Runs(static_cast<Impl>(k), kThreadCounts[t])) {
          line.insert(line.end(), {"-", "", ""});
        } else {
          line.insert(line.end(), {"n/a", "", ""});
          if (k < kSdTpm) {
            add_note(std::string(kOps[i].title) + ": " + c.note);
          } else if (backends[k]->error().ok()) {  // else noted once above
            add_note(std::string(kOps[i].title) + ", " + kImplLabels[k] + ": " + c.note);
          }
        }
      };
      for (int k = kSd; k <= kSoftHsm; ++k) add_cell(k);
      line.push_back(Ratio(r.c[kSd], r.c[kOpenSsl]));
      line.push_back(Ratio(r.c[kSd], r.c[kSoftHsm]));
      for (int k = kSdTpm; k < kImplCount; ++k) add_cell(k);
      line.push_back(Ratio(r.c[kSdPkcs11], r.c[kSoftHsm]));
      table.Add(std::move(line));
    }
  }
  table.Print();
  std::printf(
      "(a) edgetrust-sd seals: AES-256-GCM under a key derived for the caller's principal, with "
      "the blob header\n    (format, principal binding, optional register binding) as "
      "authenticated data. OpenSSL and SoftHSM2 do\n    AES-256-GCM of 1 KiB with a fresh nonce "
      "only, without the binding and header work.\n"
      "(b) edgetrust-sd: EAT evidence over the registers, signed ES256 by the attestation key. "
      "OpenSSL: the same\n    attest::BuildEvidence with an in-process P-256 key. PKCS#11 has no "
      "attestation.\n"
      "(c) edgetrust-sd --backend tpm on swtpm, the TPM 2.0 simulator, over loopback TCP "
      "(tpm2-tss swtpm TCTI). Software:\n    the figures are our daemon, tpm2-tss and the "
      "simulator, not a hardware TPM's speed. 1 thread only (-): swtpm\n    executes one "
      "command at a time, so a second client thread only waits behind the first (same ops/s, "
      "twice\n    the latency). Seal reaches the TPM only at start-up (below) and scales as in "
      "the sd column.\n"
      "(d) edgetrust-sd --backend pkcs11 on a SoftHSM2 token (software, the same module as the "
      "SoftHSM2 column):\n    pkcs11/SoftHSM2 is the daemon's overhead over calling the module "
      "in-process, not a hardware HSM's speed.\n"
      "SoftHSM2: persistent token objects; ECDSA hashes SHA-256 in the caller, then CKM_ECDSA "
      "(no CKM_ECDSA_SHA256 in\n    this module). OpenSSL: algorithms fetched and contexts "
      "initialised once per thread.\n");
  for (auto [b, label] :
       {std::pair{&tpm, kImplLabels[kSdTpm]}, {&pkcs11, kImplLabels[kSdPkcs11]}}) {
    if (b->in_daemon().empty()) continue;
    std::printf("%s, done in the daemon rather than on the device (Client::Info().features):\n",
                label);
    for (const auto& f : b->in_daemon()) std::printf("    %s\n", f.c_str());
  }
  for (const auto& n : notes) std::printf("n/a: %s\n", n.c_str());
  for (auto [b, label] :
       {std::pair{&tpm, kImplLabels[kSdTpm]}, {&pkcs11, kImplLabels[kSdPkcs11]}}) {
    if (const int rc = b->Stop(); rc != 0)
      std::fprintf(stderr, "%s did not stop cleanly (exit %d)\n", label, rc);
  }

  // More secure-domain figures.
  const Cell pipelined = Pipelined(sd.socket(), 16, o.seconds);
  const double pipelined_ops = pipelined.measured ? pipelined.ops_per_s * 16 : 0;
  auto verify = VerifyPerSecond(*admin, o.seconds);
  auto raw_verify = RawVerifyPerSecond(keys.p256.get(), o.seconds);
  const Memory idle = MemoryOf(sd.pid());
  for (int i = 0; i < o.keys; ++i) {
    if (!admin->CreateKey("bulk" + std::to_string(i), KeyType::kEcdsaP256).ok()) {
      std::fprintf(stderr, "bulk key creation failed at %d\n", i);
      return 1;
    }
  }
  // Use every key once, so each is loaded in the daemon's cache.
  for (int i = 0; i < o.keys; ++i) {
    if (!admin->Sign("bulk" + std::to_string(i), AsBytes("x")).ok()) {
      std::fprintf(stderr, "bulk key use failed at %d\n", i);
      return 1;
    }
  }
  const Memory loaded = MemoryOf(sd.pid());
  admin.reset();
  if (sd.Stop() != 0) {
    std::fprintf(stderr, "edgetrust-sd did not stop cleanly:\n%s\n", sd.log().c_str());
    return 1;
  }
  // A restart with every key in the store: start-up includes checking each stored object.
  edgetrust::test::SdProcess::Options again;
  again.state_dir = sd.state_dir();
  again.socket = sd.socket();
  edgetrust::test::SdProcess sd2(dir, again);
  auto restart = StartTimed(sd2);
  if (!restart.ok()) {
    std::fprintf(stderr, "%s\n", restart.status().ToString().c_str());
    return 1;
  }
  Memory restarted;
  {
    auto c = std::move(Client::Connect(sd2.socket())).value();
    for (int i = 0; i < o.keys; ++i) (void)c->Sign("bulk" + std::to_string(i), AsBytes("x"));
    restarted = MemoryOf(sd2.pid());
  }
  if (sd2.Stop() != 0) {
    std::fprintf(stderr, "edgetrust-sd did not stop cleanly:\n%s\n", sd2.log().c_str());
    return 1;
  }

  const std::string nk = std::to_string(o.keys);
  Table more({"measurement", "value", "unit"});
  more.Add({"ECDSA P-256 sign, edgetrust-sd, 1 thread, 16 in flight on 1 connection",
            pipelined.measured ? Fixed(pipelined_ops, 0) : "n/a", "ops/s"});
  more.Add({"evidence verification (EvidenceVerifier, 1 thread)",
            verify.ok() ? Fixed(*verify, 0) : "n/a: " + verify.status().ToString(), "/s"});
  more.Add({"ECDSA P-256 verify, in-process OpenSSL, 1 thread (bound on the above)",
            raw_verify.ok() ? Fixed(*raw_verify, 0) : "n/a: " + raw_verify.status().ToString(),
            "/s"});
  more.Add({"start-up to ready, first start (creates the root key)", Fixed(*first_start, 1), "ms"});
  more.Add({"start-up to ready, restart with " + nk + " keys stored", Fixed(*restart, 1), "ms"});
  more.Add({"RSS after the benchmark, idle", Fixed(idle.rss_mib, 2), "MiB"});
  more.Add({"RSS after the benchmark, " + nk + " more keys created and used",
            Fixed(loaded.rss_mib, 2), "MiB"});
  more.Add({"  of which anonymous (heap, stacks, relocations)", Fixed(loaded.anon_mib, 2), "MiB"});
  more.Add(
      {"  of which file pages (executable, shared libraries)", Fixed(loaded.file_mib, 2), "MiB"});
  more.Add({"RSS after a restart, " + nk + " keys used", Fixed(restarted.rss_mib, 2), "MiB"});
  std::printf("\n");
  more.Print();

  // Goals.
  const Cell& ecdsa_sd = rows[0][0].c[kSd];
  const Cell& ecdsa_ossl = rows[0][0].c[kOpenSsl];
  const Cell& ecdsa_hsm = rows[0][0].c[kSoftHsm];
  const Cell& hmac_sd = rows[2][0].c[kSd];
  const Cell& attest_sd = rows[5][0].c[kSd];
  auto ratio = [](const Cell& a, const Cell& b) {
    return a.measured && b.measured && b.ops_per_s > 0 ? a.ops_per_s / b.ops_per_s : 0.0;
  };
  const bool have_ecdsa_ossl = ecdsa_sd.measured && ecdsa_ossl.measured;
  const bool have_ecdsa_hsm = ecdsa_sd.measured && ecdsa_hsm.measured;
  const double rss_goal_value = std::max(loaded.rss_mib, restarted.rss_mib);
  std::vector<Goal> goals = {
      {"ECDSA P-256 sign vs in-process OpenSSL, 1 client thread", ">= 0.80x", have_ecdsa_ossl,
       ratio(ecdsa_sd, ecdsa_ossl), true, 0.8, "x", 2},
      {"ECDSA P-256 sign vs SoftHSM2, 1 client thread", ">= 1.90x", have_ecdsa_hsm,
       ratio(ecdsa_sd, ecdsa_hsm), true, 1.9, "x", 2},
      {"HMAC-SHA256 (32 B) round trip p50", "<= 15 us", hmac_sd.measured, hmac_sd.p50_us, false, 15,
       " us", 1},
      {"evidence produced (attest p50)", "<= 1 ms", attest_sd.measured, attest_sd.p50_us / 1000,
       false, 1, " ms", 3},
      {"evidence verification, one core", ">= 10000/s", verify.ok(), verify.ok() ? *verify : 0,
       true, 10000, "/s", 0},
      {"RSS with " + nk + " keys (the larger of the two above)", "<= 8 MiB", true, rss_goal_value,
       false, 8, " MiB", 2},
      {"start-up to ready (the larger of the two above)", "<= 50 ms", true,
       std::max(*first_start, *restart), false, 50, " ms", 1},
  };
  Table goal_table({"goal", "target", "measured", "result"});
  for (const Goal& g : goals) {
    if (!g.measured) {
      goal_table.Add({g.what, g.target, "n/a", "not measured"});
      continue;
    }
    const bool met = g.higher_is_better ? g.value >= g.limit : g.value <= g.limit;
    goal_table.Add({g.what, g.target, Fixed(g.value, g.decimals) + g.unit, met ? "met" : "MISSED"});
  }
  std::printf("\n");
  goal_table.Print();

  // Metrics.
  std::printf("\n");
  for (size_t i = 0; i < std::size(kOps); ++i) {
    for (size_t t = 0; t < std::size(kThreadCounts); ++t) {
      const std::string suffix = "_" + std::to_string(kThreadCounts[t]) + "t";
      const Row& r = rows[i][t];
      auto ratio_metric = [&](const char* name, Impl a, Impl b) {
        if (r.c[a].measured && r.c[b].measured)
          Metric(std::string(name) + kOps[i].metric + suffix, ratio(r.c[a], r.c[b]), 3);
      };
      for (int k = kSd; k <= kSoftHsm; ++k) {
        if (!r.c[k].measured) continue;
        const std::string base = std::string(kImplNames[k]) + "_" + kOps[i].metric;
        Metric(base + "_ops" + suffix, r.c[k].ops_per_s, 0);
        Metric(base + "_p50_us" + suffix, r.c[k].p50_us);
        Metric(base + "_p99_us" + suffix, r.c[k].p99_us);
      }
      ratio_metric("ratio_sd_vs_openssl_", kSd, kOpenSsl);
      ratio_metric("ratio_sd_vs_softhsm_", kSd, kSoftHsm);
    }
  }
  // The backends' cells, after all of the above so that those lines keep their order.
  for (size_t i = 0; i < std::size(kOps); ++i) {
    for (size_t t = 0; t < std::size(kThreadCounts); ++t) {
      const std::string suffix = "_" + std::to_string(kThreadCounts[t]) + "t";
      const Row& r = rows[i][t];
      for (int k = kSdTpm; k < kImplCount; ++k) {
        if (!r.c[k].measured) continue;
        const std::string base = std::string(kImplNames[k]) + "_" + kOps[i].metric;
        Metric(base + "_ops" + suffix, r.c[k].ops_per_s, 0);
        Metric(base + "_p50_us" + suffix, r.c[k].p50_us);
        Metric(base + "_p99_us" + suffix, r.c[k].p99_us);
      }
      if (r.c[kSdPkcs11].measured && r.c[kSoftHsm].measured)
        Metric(std::string("ratio_sd_pkcs11_vs_softhsm_") + kOps[i].metric + suffix,
               ratio(r.c[kSdPkcs11], r.c[kSoftHsm]), 3);
    }
  }
  if (pipelined.measured) {
    Metric("sd_ecdsa_p256_sign_pipelined16_ops_1t", pipelined_ops, 0);
    if (ecdsa_ossl.measured)
      Metric("ratio_sd_pipelined16_vs_openssl_ecdsa_p256_sign_1t",
             pipelined_ops / ecdsa_ossl.ops_per_s, 3);
  }
  if (hmac_sd.measured) {
    Metric("sd_hmac32_p50_us", hmac_sd.p50_us);
    Metric("sd_hmac32_p99_us", hmac_sd.p99_us);
  }
  if (attest_sd.measured) {
    Metric("sd_attest_p50_us", attest_sd.p50_us);
    Metric("sd_evidence_ms", attest_sd.p50_us / 1000, 3);
  }
  if (verify.ok()) Metric("verify_evidence_per_s", *verify, 0);
  if (raw_verify.ok()) Metric("openssl_ecdsa_p256_verify_per_s", *raw_verify, 0);
  Metric("sd_rss_mib_idle", idle.rss_mib, 2);
  Metric("sd_rss_mib_" + nk + "keys", loaded.rss_mib, 2);
  Metric("sd_rss_anon_mib_" + nk + "keys", loaded.anon_mib, 2);
  Metric("sd_rss_mib_" + nk + "keys_restarted", restarted.rss_mib, 2);
  Metric("sd_startup_ms", *first_start);
  Metric("sd_startup_ms_" + nk + "keys", *restart);
  return 0;
}

constexpr const char kUsage[] =
    "usage: sd_bench [--seconds S] [--keys N] [--softhsm MODULE] [--help]\n";

constexpr const char kHelp[] =
    "\n"
    "Secure-domain benchmark. Runs each operation (ECDSA P-256 sign, Ed25519 sign, HMAC-SHA256 of\n"
    "32 B, AES-256-GCM of 1 KiB, seal 1 KiB, attest) side by side, in turns, against:\n"
    "  sd         edgetrust-sd, emulated backend\n"
    "  OpenSSL    in-process OpenSSL, keys in the benchmark's memory (the limit)\n"
    "  SoftHSM2   SoftHSM2 through PKCS#11, in-process (the peer)\n"
    "  sd tpm     edgetrust-sd --backend tpm on a swtpm (1 client thread only)\n"
    "  sd pkcs11  edgetrust-sd --backend pkcs11 on a SoftHSM2 token\n"
    "swtpm and SoftHSM2 are software: the sd tpm and sd pkcs11 columns are our daemon's overhead\n"
    "over them, not hardware speed. A backend that cannot start, or lacks an operation, is n/a.\n"
    "Prints a table, the goals of BRIEF.md section 7 and `metric NAME VALUE` lines. Run as root:\n"
    "the daemons it starts drop to the user daemon.\n"
    "\n"
    "  --seconds S       time per table cell and implementation, split into 3 turns (default 1.5)\n"
    "  --keys N          keys created for the daemon's memory and restart figures (default 1000)\n"
    "  --softhsm MODULE  the PKCS#11 module of the in-process SoftHSM2 column\n"
    "                    (default /usr/lib/softhsm/libsofthsm2.so)\n"
    "  --help            this text\n";

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("%s%s", kUsage, kHelp);
      return 0;
    }
  }
  Options o;
  if (!ParseArgs(argc, argv, o)) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  return Run(o);
}
