#include "agent/leaf_session.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <type_traits>

#include "agent/enroller.h"
#include "agent/leaf_hub.h"
#include "identity/tls_context.h"

namespace edgetrust::agent {
namespace {

constexpr size_t kMaxPacketsPerRead = 1024;  // bounds one batch (and one append)
constexpr size_t kMaxCommandsInFlight = 16;
constexpr int kWriteTimeoutMs = 10000;
constexpr std::string_view kEnrollCsrTopic = "$enroll/csr";
constexpr std::string_view kEnrollResultTopic = "$enroll/result";

// CONNACK codes, MQTT 3.1.1 return codes and MQTT 5 reason codes.
constexpr uint8_t k311BadCredentials = 4, k311NotAuthorized = 5, k311BadProtocol = 1;
constexpr uint8_t k5BadCredentials = 0x86, k5NotAuthorized = 0x87, k5BadAuthMethod = 0x8C;
constexpr uint8_t k5UnsupportedVersion = 0x84, k5QuotaExceeded = 0x97, k5QosNotSupported = 0x9B;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Quotes a value for a key=value log line.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  return out + "\"";
}

std::string OpensslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

unsigned int PskCallback(SSL* ssl, const char* identity, unsigned char* psk, unsigned int max_len) {
  auto* session = static_cast<LeafSession*>(SSL_get_ex_data(ssl, LeafSession::SessionIndex()));
  if (session == nullptr || identity == nullptr) return 0;
  return session->ServePsk(identity, psk, max_len);
}

// Whether the handshake was keyed by an external PSK: in TLS 1.3 a resumption (we issue no
// tickets and keep no session cache, so the only PSK is the leaf's), in TLS 1.2 a PSK suite.
bool PskUsed(SSL* ssl) {
  if (SSL_version(ssl) == TLS1_3_VERSION) return SSL_session_reused(ssl) == 1;
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  return cipher != nullptr && SSL_CIPHER_get_auth_nid(cipher) == NID_auth_psk;
}

// A batch's commit, waited for by the connection's thread.
struct CommitWait {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
};

}  // namespace

int LeafSession::SessionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

Status LeafHub::PrepareContext(SSL_CTX* ctx, bool psk) {
  // Leaves reconnect rarely and every connection must be authenticated afresh (a revoked leaf
  // must not resume), so no session resumption.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // OpenSSL requires a session id context when client certificates are verified, also for the
  // sessions it makes from external PSKs (TLS 1.3 treats those as resumptions).
  static constexpr unsigned char kSessionContext[] = "edgetrust-leaf-hub";
  if (SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1) != 1) {
    return Status(ErrorCode::kInternal, "leaf hub: session id context: " + OpensslErrors());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  if (psk) {
    // TLS 1.3 uses the same callback, keyed for SHA-256: OpenSSL skips (does not refuse) a PSK
    // whose hash differs from the suite it picked, so the SHA-256 suite comes first. TLS 1.2
    // needs PSK suites of its own; only clients configured with a PSK offer them, so they may
    // come first too.
    const std::string ciphers =
        "ECDHE-PSK-CHACHA20-POLY1305:PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
    if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1 ||
        SSL_CTX_set_ciphersuites(
            ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") !=
            1) {
      return Status(ErrorCode::kInternal, "leaf hub: PSK cipher suites: " + OpensslErrors());
    }
    SSL_CTX_set_psk_server_callback(ctx, PskCallback);
  }
  return Status::Ok();
}

LeafSession::LeafSession(LeafHub& hub, int fd, std::string address)
    : hub_(hub), fd_(fd), address_(std::move(address)), decoder_(hub.options().max_packet_size) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

LeafSession::~LeafSession() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::string_view LeafSession::auth_name() const {
  if (mode_ == Mode::kEnrollment) return "enrollment";
  return LeafRegistry::AuthName(auth_);
}

void LeafSession::Close(const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(close_mu_);
    if (close_reason_.empty()) close_reason_ = reason;
  }
  close_requested_ = true;
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

void LeafSession::CommandsPending() {
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

void LeafSession::Log(const std::string& event, const std::string& detail) const {
  spdlog::info("event={} leaf={} address={}{}{}", event, name_.empty() ? "-" : name_, address_,
               detail.empty() ? "" : " ", detail);
}

unsigned int LeafSession::ServePsk(const char* identity, unsigned char* psk, unsigned int max_len) {
  const std::string name(identity);
  if (!LeafRegistry::IsValidName(name)) return 0;
  Status admitted = hub_.registry().Admit(name, LeafAuth::kPsk);
  if (!admitted.ok()) {
    // The handshake fails; the reason is logged where the failure is seen.
    psk_identity_.clear();
    spdlog::info("event=leaf-refused leaf={} address={} stage=tls reason={}", name, address_,
                 Quoted("PSK identity: " + admitted.message()));
    hub_.CountRefused(admitted.code() == ErrorCode::kNotFound ? "unknown-leaf" : "not-admitted");
    return 0;
  }
  if (!sd_) {
    auto client = Client::Connect(hub_.options().sd_socket);
    if (!client.ok()) {
      spdlog::error("event=psk-failed address={} error={}", address_,
                    Quoted(client.status().ToString()));
      return 0;
    }
    sd_ = std::move(client).value();
  }
  auto record = hub_.registry().Get(name);
  if (!record.ok()) return 0;
  auto key = DeriveLeafPsk(*sd_, name, record->created_ms);
  if (!key.ok()) {
    sd_.reset();  // reconnect next time: the daemon may have restarted
    spdlog::error("event=psk-failed address={} error={}", address_,
                  Quoted(key.status().ToString()));
    return 0;
  }
  if (key->size() > max_len) return 0;
  std::memcpy(psk, key->data(), key->size());
  psk_identity_ = name;
  return static_cast<unsigned int>(key->size());
}

bool LeafSession::WaitFd(short events, int timeout_ms) {
  pollfd fds[2] = {{fd_, events, 0}, {wake_fd_, POLLIN, 0}};
  const int n = ::poll(fds, 2, timeout_ms);
  if (n <= 0) return false;
  if (close_requested_) return false;
  return (fds[0].revents & (events | POLLHUP | POLLERR)) != 0;
}

bool LeafSession::Handshake() {
  ssl_ = SSL_new(hub_.ctx());
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1 ||
      SSL_set_ex_data(ssl_, SessionIndex(), this) != 1) {
    spdlog::error("event=leaf-error address={} error={}", address_, Quoted(OpensslErrors()));
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(hub_.options().handshake_timeout_ms);
  while (true) {
    ERR_clear_error();
    const int rc = SSL_accept(ssl_);
    if (rc == 1) {
      // The PSK callback runs when a client offers an identity, not when the PSK was used: only
      // a handshake that really ran on the PSK (its binder or Finished proved the key)
      // authenticates the leaf by it. Anything else falls through to the other methods.
      if (!psk_identity_.empty() && !PskUsed(ssl_)) psk_identity_.clear();
      return true;
    }
    const int err = SSL_get_error(ssl_, rc);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && left > 0) {
      if (WaitFd(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, static_cast<int>(left))) continue;
      if (close_requested_ || hub_.stopping()) return false;
    }
    std::string why = identity::VerifyFailure(ssl_);
    if (why.empty()) why = OpensslErrors();
    if (why.empty()) why = left <= 0 ? "handshake timed out" : "connection closed during handshake";
    Log("leaf-refused", "stage=tls reason=" + Quoted(why));
    hub_.CountRefused("tls");
    return false;
  }
}

LeafSession::Io LeafSession::ReadAvailable() {
  char buf[16384];
  ERR_clear_error();
  const int n = SSL_read(ssl_, buf, sizeof buf);
  if (n > 0) {
    decoder_.Feed(buf, static_cast<size_t>(n));
    return Io::kOk;
  }
  const int err = SSL_get_error(ssl_, n);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Io::kWait;
  if (err == SSL_ERROR_ZERO_RETURN) return Io::kClosed;
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return Io::kClosed;
  return Io::kError;
}

bool LeafSession::WriteAll(const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ERR_clear_error();
    const int n = SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done));
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      pollfd p = {fd_, static_cast<short>(err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
      if (::poll(&p, 1, kWriteTimeoutMs) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool LeafSession::Refuse(const std::string& reason_key, const std::string& detail, uint8_t code_311,
                         uint8_t code_5) {
  Log("leaf-refused", "reason=" + Quoted(detail));
  hub_.CountRefused(reason_key);
  std::string out;
  mqtt::Connack ack;
  ack.session_present = false;
  ack.code = version_ == mqtt::Version::k5 ? code_5 : code_311;
  if (version_ == mqtt::Version::k5) ack.reason_string = detail;
  mqtt::EncodeConnack(version_, ack, &out);
  (void)WriteAll(out);
  return false;
}

bool LeafSession::AwaitConnect() {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(hub_.options().handshake_timeout_ms);
  while (true) {
    auto next = decoder_.Next();
    if (!next.ok()) {
      Log("leaf-refused", "stage=connect reason=" + Quoted(next.status().message()));
      hub_.CountRefused("malformed");
      return false;
    }
    if (next->has_value()) {
      auto* connect = std::get_if<mqtt::Connect>(&**next);
      if (connect == nullptr) {
        Log("leaf-refused", "stage=connect reason=" +
                                Quoted(std::string("first packet is ") +
                                       std::string(mqtt::PacketName(**next)) + ", not CONNECT"));
        hub_.CountRefused("malformed");
        return false;
      }
      return HandleConnect(*connect);
    }
    const Io io = ReadAvailable();
    if (io == Io::kOk) continue;
    if (io != Io::kWait) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0 || !WaitFd(POLLIN, static_cast<int>(left))) {
      if (!close_requested_ && !hub_.stopping()) {
        Log("leaf-refused", "stage=connect reason=\"no CONNECT in time\"");
        hub_.CountRefused("timeout");
      }
      return false;
    }
  }
}

bool LeafSession::HandleConnect(const mqtt::Connect& connect) {
  version_ = connect.version;
  decoder_.set_version(version_);
  keep_alive_s_ = connect.keep_alive;
  if (connect.version != mqtt::Version::k311 && connect.version != mqtt::Version::k5) {
    return Refuse("malformed", "unsupported MQTT protocol level", k311BadProtocol,
                  k5UnsupportedVersion);
  }
  if (connect.auth_method) {
    return Refuse("no-credentials", "MQTT 5 enhanced authentication is not supported",
                  k311NotAuthorized, k5BadAuthMethod);
  }
  const X509* peer_cert = SSL_get0_peer_certificate(ssl_);
  if (!psk_identity_.empty()) {
    auth_ = LeafAuth::kPsk;
    name_ = psk_identity_;
  } else if (peer_cert != nullptr) {
    // Verified by OpenSSL against the leaf CA during the handshake (a failure ended it there).
    if (SSL_get_verify_result(ssl_) != X509_V_OK) {
      return Refuse("tls", "client certificate did not verify", k311NotAuthorized, k5NotAuthorized);
    }
    char cn[256] = {0};
    const int len =
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer_cert), NID_commonName, cn, sizeof cn);
    if (len <= 0 || !LeafRegistry::IsValidName(std::string_view(cn, static_cast<size_t>(len)))) {
      return Refuse("wrong-name", "client certificate has no valid leaf name as CN",
                    k311NotAuthorized, k5NotAuthorized);
    }
    auth_ = LeafAuth::kCertificate;
    name_.assign(cn, static_cast<size_t>(len));
  } else if (connect.username && connect.password) {
    // Enrollment: the token allows one thing, getting a certificate.
    if (!LeafRegistry::IsValidName(*connect.username)) {
      return Refuse("bad-token", "enrollment user name is not a valid leaf name",
                    k311BadCredentials, k5BadCredentials);
    }
    name_ = *connect.username;
    Status ok = hub_.registry().CheckToken(name_, *connect.password, NowMs());
    if (!ok.ok()) {
      const std::string key = ok.code() == ErrorCode::kPermissionDenied     ? "token-used"
                              : ok.code() == ErrorCode::kFailedPrecondition ? "token-expired"
                              : ok.code() == ErrorCode::kNotFound           ? "unknown-leaf"
                                                                            : "bad-token";
      return Refuse(key, "enrollment refused: " + ok.message(), k311BadCredentials,
                    k5BadCredentials);
    }
    mode_ = Mode::kEnrollment;
    enroll_token_ = *connect.password;
  } else {
    return Refuse("no-credentials", "no client certificate, PSK or enrollment token",
                  k311NotAuthorized, k5BadAuthMethod);
  }
  if (mode_ != Mode::kEnrollment) {
    const X509* cert = SSL_get0_peer_certificate(ssl_);
    Status admitted = hub_.registry().Admit(
        name_, auth_,
        auth_ == LeafAuth::kCertificate && cert != nullptr ? CertificateSerialHex(cert) : "");
    if (!admitted.ok()) {
      const std::string key =
          admitted.code() == ErrorCode::kNotFound ? "unknown-leaf" : "not-admitted";
      return Refuse(key, admitted.message(), k311NotAuthorized, k5NotAuthorized);
    }
    mode_ = Mode::kLeaf;
  }
  since_ms_ = NowMs();
  hub_.Register(this);
  std::string out;
  mqtt::Connack ack;
  ack.session_present = false;
  ack.code = 0;
  mqtt::EncodeConnack(version_, ack, &out);
  if (!WriteAll(out)) return false;
  Log("leaf-connected", "auth=" + std::string(auth_name()) +
                            " mqtt=" + (version_ == mqtt::Version::k5 ? "5" : "3.1.1") +
                            " tls=" + SSL_get_version(ssl_));
  return true;
}

void LeafSession::RefusePublish(const std::string& detail, uint16_t packet_id, uint8_t qos) {
  Log("leaf-refused", "reason=" + Quoted(detail));
  hub_.CountRefused("wrong-topic");
  std::string out;
  if (version_ == mqtt::Version::k5) {
    if (qos == 1) {
      mqtt::EncodeAck(version_, mqtt::Ack{mqtt::PacketType::kPuback, packet_id, k5NotAuthorized},
                      &out);
    }
    mqtt::EncodeDisconnect(version_, mqtt::Disconnect{k5NotAuthorized}, &out);
  }
  (void)WriteAll(out);
}

bool LeafSession::HandleEnrollPublish(const mqtt::Publish& publish, std::string& out) {
  if (publish.topic != kEnrollCsrTopic) {
    RefusePublish("enrollment session may only publish to $enroll/csr, not " + publish.topic,
                  publish.packet_id, publish.qos);
    return false;
  }
  auto cert = hub_.enroller().Enroll(name_, enroll_token_, publish.payload, NowMs());
  mqtt::Publish result;
  result.qos = 0;
  result.topic = std::string(kEnrollResultTopic);
  if (cert.ok()) {
    result.payload = std::move(cert).value();
    Log("leaf-enrolled", "");
  } else {
    result.payload = "error: " + cert.status().message();
    Log("leaf-refused", "stage=enrollment reason=" + Quoted(cert.status().message()));
    hub_.CountRefused("enrollment");
  }
  mqtt::EncodePublish(version_, result, &out);
  if (publish.qos == 1) {
    mqtt::EncodeAck(version_, mqtt::Ack{mqtt::PacketType::kPuback, publish.packet_id, 0}, &out);
  }
  return true;
}

bool LeafSession::HandlePacket(mqtt::Packet& packet, std::vector<store::IncomingMessage>& batch,
                               std::vector<uint16_t>& ack_ids, std::string& out) {
  if (auto* publish = std::get_if<mqtt::Publish>(&packet)) {
    if (publish->qos > 1) {
      Log("leaf-refused", "reason=\"QoS 2 is not supported\"");
      hub_.CountRefused("malformed");
      if (version_ == mqtt::Version::k5) {
        mqtt::EncodeDisconnect(version_, mqtt::Disconnect{k5QosNotSupported}, &out);
        (void)WriteAll(out);
      }
      return false;
    }
    if (mode_ == Mode::kEnrollment) return HandleEnrollPublish(*publish, out);
    const std::string prefix = name_ + "/";
    if (publish->topic.size() <= prefix.size() ||
        publish->topic.compare(0, prefix.size(), prefix) != 0) {
      RefusePublish("publishes under another name: topic " + publish->topic, publish->packet_id,
                    publish->qos);
      return false;
    }
    store::IncomingMessage m;
    m.leaf = name_;
    m.subtopic = publish->topic.substr(prefix.size());
    m.payload = std::move(publish->payload);
    m.received_ms = NowMs();
    batch.push_back(std::move(m));
    ack_ids.push_back(publish->qos == 1 ? publish->packet_id : 0);
    return true;
  }
  if (auto* ack = std::get_if<mqtt::Ack>(&packet)) {
    if (ack->type == mqtt::PacketType::kPuback) {
      auto it = commands_in_flight_.find(ack->packet_id);
      if (it != commands_in_flight_.end()) {
        hub_.queue().CommandDelivered(it->second);
        hub_.CountCommandDelivered();
        commands_in_flight_.erase(it);
        DeliverCommands(out);
      }
    }
    return true;
  }
  if (auto* sub = std::get_if<mqtt::Subscribe>(&packet)) {
    mqtt::Suback suback;
    suback.packet_id = sub->packet_id;
    const std::string commands = name_ + "/commands/";
    for (const auto& [filter, qos] : sub->filters) {
      bool ok = false;
      if (mode_ == Mode::kEnrollment) {
        ok = filter == kEnrollResultTopic;
        if (ok) enroll_subscribed_ = true;
      } else {
        ok = filter.compare(0, commands.size(), commands) == 0 || filter == name_ + "/commands";
        if (ok) commands_subscribed_ = true;
      }
      if (!ok) Log("leaf-subscribe-refused", "filter=" + Quoted(filter));
      suback.codes.push_back(ok ? std::min<uint8_t>(qos, 1)
                                : (version_ == mqtt::Version::k5 ? k5NotAuthorized : 0x80));
    }
    mqtt::EncodeSuback(version_, suback, &out);
    if (commands_subscribed_) DeliverCommands(out);
    return true;
  }
  if (auto* unsub = std::get_if<mqtt::Unsubscribe>(&packet)) {
    mqtt::Unsuback unsuback;
    unsuback.packet_id = unsub->packet_id;
    unsuback.codes.assign(unsub->filters.size(), 0);
    mqtt::EncodeUnsuback(version_, unsuback, &out);
    return true;
  }
  if (std::holds_alternative<mqtt::PingReq>(packet)) {
    mqtt::EncodePingResp(&out);
    return true;
  }
  if (std::holds_alternative<mqtt::Disconnect>(packet)) {
    Log("leaf-disconnected", "reason=\"client disconnected\"");
    return false;
  }
  Log("leaf-refused", "reason=" + Quoted("unexpected " + std::string(mqtt::PacketName(packet))));
  hub_.CountRefused("malformed");
  return false;
}

bool LeafSession::CommitBatch(std::vector<store::IncomingMessage>& batch,
                              std::vector<uint16_t>& ack_ids, std::string& out) {
  if (batch.empty()) return true;
  const size_t n = batch.size();
  auto wait = std::make_shared<CommitWait>();
  hub_.queue().Append(std::move(batch),
                      [wait](const Status& status, const std::vector<uint64_t>& /*seqs*/) {
                        std::lock_guard<std::mutex> lock(wait->mu);
                        wait->status = status;
                        wait->done = true;
                        wait->cv.notify_one();
                      });
  batch.clear();
  {
    std::unique_lock<std::mutex> lock(wait->mu);
    wait->cv.wait(lock, [&] { return wait->done; });
  }
  if (!wait->status.ok()) {
    // Nothing is acknowledged: the leaf keeps its messages and sends them again.
    Log("leaf-store-refused",
        "messages=" + std::to_string(n) + " reason=" + Quoted(wait->status.ToString()));
    hub_.CountRefused(wait->status.code() == ErrorCode::kResourceExhausted ? "queue-full"
                                                                           : "store-error");
    if (version_ == mqtt::Version::k5) {
      for (uint16_t id : ack_ids) {
        if (id != 0) {
          mqtt::EncodeAck(version_, mqtt::Ack{mqtt::PacketType::kPuback, id, k5QuotaExceeded},
                          &out);
        }
      }
      (void)WriteAll(out);
    }
    ack_ids.clear();
    return false;  // MQTT 3.1.1 cannot refuse a PUBLISH: closing makes the leaf resend later
  }
  hub_.CountReceived(n);
  uint64_t acked = 0;
  for (uint16_t id : ack_ids) {
    if (id == 0) continue;
    mqtt::EncodeAck(version_, mqtt::Ack{mqtt::PacketType::kPuback, id, 0}, &out);
    ++acked;
  }
  hub_.CountAcked(acked);
  ack_ids.clear();
  return true;
}

void LeafSession::DeliverCommands(std::string& out) {
  if (!commands_subscribed_ || mode_ != Mode::kLeaf) return;
  if (commands_in_flight_.size() >= kMaxCommandsInFlight) return;
  auto pending = hub_.queue().PendingCommands(name_, kMaxCommandsInFlight);
  for (const auto& cmd : pending) {
    if (commands_in_flight_.size() >= kMaxCommandsInFlight) break;
    bool already = false;
    for (const auto& [pid, id] : commands_in_flight_) already = already || id == cmd.id;
    if (already) continue;
    uint16_t pid = next_packet_id_++;
    if (next_packet_id_ == 0) next_packet_id_ = 1;
    mqtt::Publish p;
    p.qos = 1;
    p.packet_id = pid;
    p.topic = name_ + "/commands" + (cmd.subtopic.empty() ? "" : "/" + cmd.subtopic);
    p.payload = cmd.payload;
    mqtt::EncodePublish(version_, p, &out);
    commands_in_flight_[pid] = cmd.id;
  }
}

void LeafSession::Serve() {
  std::vector<store::IncomingMessage> batch;
  std::vector<uint16_t> ack_ids;
  std::string out;
  auto last_input = std::chrono::steady_clock::now();
  // MQTT: a server closes a connection silent for one and a half keep-alive periods.
  const int keep_alive_ms = keep_alive_s_ == 0 ? -1 : keep_alive_s_ * 1500;
  if (mode_ == Mode::kLeaf) DeliverCommands(out);
  while (!close_requested_ && !hub_.stopping()) {
    // Read everything there is now, handling complete packets as they come.
    bool keep = true;
    size_t packets = 0;
    bool got_input = false;
    while (keep && packets < kMaxPacketsPerRead) {
      auto next = decoder_.Next();
      if (!next.ok()) {
        Log("leaf-refused", "reason=" + Quoted("malformed packet: " + next.status().message()));
        hub_.CountRefused("malformed");
        keep = false;
        break;
      }
      if (next->has_value()) {
        ++packets;
        keep = HandlePacket(**next, batch, ack_ids, out);
        continue;
      }
      const Io io = ReadAvailable();
      if (io == Io::kOk) {
        got_input = true;
        continue;
      }
      if (io == Io::kClosed) {
        Log("leaf-disconnected", "reason=\"connection closed\"");
        keep = false;
      } else if (io == Io::kError) {
        Log("leaf-disconnected", "reason=" + Quoted("TLS error: " + OpensslErrors()));
        keep = false;
      }
      break;
    }
    if (got_input || packets > 0) last_input = std::chrono::steady_clock::now();
    // What was read is committed (and acknowledged) before the connection goes away, so a
    // leaf's last messages are not lost to a close that followed them.
    const bool committed = CommitBatch(batch, ack_ids, out);
    if (!out.empty()) {
      if (!WriteAll(out)) return;
      out.clear();
    }
    if (!keep || !committed) return;
    if (packets >= kMaxPacketsPerRead || SSL_pending(ssl_) > 0) continue;

    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int timeout = -1;
    if (keep_alive_ms > 0) {
      const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - last_input)
                            .count();
      if (idle >= keep_alive_ms) {
        Log("leaf-disconnected", "reason=\"keep-alive expired\"");
        return;
      }
      timeout = static_cast<int>(keep_alive_ms - idle);
    }
    if (::poll(fds, 2, timeout) < 0 && errno != EINTR) return;
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      (void)!::read(wake_fd_, &v, sizeof v);
      if (close_requested_) break;
      DeliverCommands(out);
      if (!out.empty()) {
        if (!WriteAll(out)) return;
        out.clear();
      }
    }
  }
  std::string reason;
  {
    std::lock_guard<std::mutex> lock(close_mu_);
    reason = close_reason_.empty() ? "gateway stopping" : close_reason_;
  }
  Log("leaf-disconnected", "reason=" + Quoted(reason));
  if (version_ == mqtt::Version::k5) {
    mqtt::EncodeDisconnect(version_, mqtt::Disconnect{k5NotAuthorized}, &out);
    (void)WriteAll(out);
  }
}

void LeafSession::Run() {
  if (Handshake() && AwaitConnect()) Serve();
  if (ssl_ != nullptr) {
    SSL_set_quiet_shutdown(ssl_, 1);
    SSL_shutdown(ssl_);
  }
  ::shutdown(fd_, SHUT_RDWR);
  // Commands sent but not acknowledged stay queued: they go again on the next connection.
  commands_in_flight_.clear();
  hub_.Unregister(this);
  finished_ = true;
}

}  // namespace edgetrust::agent
