#include "cloud/cloud_link.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>
#include <random>
#include <system_error>

#include "cloud/envelope.h"
#include "cloud/server_check.h"
#include "common/thread_start.h"

namespace edgetrust::cloud {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint32_t kMaxInflight = 32768;  // well below the 65535 MQTT packet ids
constexpr size_t kTakeBatch = 256;
constexpr milliseconds kTakeWait{250};
// libmosquitto's keep-alive clock counts whole seconds: polling more often gains nothing.
constexpr int kPollTimeoutMs = 1000;
constexpr auto kDisconnectGrace = std::chrono::seconds(2);

int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A log value in double quotes, with quotes, backslashes and control characters escaped, and
// cut at 512 bytes (topics come from the broker).
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  const size_t n = std::min<size_t>(s.size(), 512);
  for (size_t i = 0; i < n; ++i) {
    const char c = s[i];
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out.push_back('?');
    } else {
      out.push_back(c);
    }
  }
  if (s.size() > n) out += "...";
  out.push_back('"');
  return out;
}

// MQTT 5 PUBACK reason codes that say this message will never be accepted (section 3.4.2.1);
// the others (quota exceeded, unspecified, implementation specific) may pass later.
bool PermanentRefusal(int reason) {
  switch (reason) {
    case 0x87:  // not authorized
    case 0x90:  // topic name invalid
    case 0x95:  // packet too large
    case 0x99:  // payload format invalid
      return true;
    default:
      return false;
  }
}

const char* ReasonText(int reason) {
  switch (reason) {
    case 0x80:
      return "unspecified error";
    case 0x83:
      return "implementation specific error";
    case 0x87:
      return "not authorized";
    case 0x90:
      return "topic name invalid";
    case 0x91:
      return "packet identifier in use";
    case 0x95:
      return "packet too large";
    case 0x97:
      return "quota exceeded";
    case 0x99:
      return "payload format invalid";
    default:
      return "refused";
  }
}

}  // namespace

std::string_view CloudLink::StateName(LinkState state) {
  switch (state) {
    case LinkState::kStopped:
      return "stopped";
    case LinkState::kConnecting:
      return "connecting";
    case LinkState::kConnected:
      return "connected";
    case LinkState::kBackoff:
      return "backoff";
  }
  return "unknown";
}

Result<std::unique_ptr<CloudLink>> CloudLink::Create(CloudOptions options, MessageSource& source,
                                                     CommandHandler on_command) {
  auto bad = [](const std::string& what) {
    return ::edgetrust::Status(ErrorCode::kInvalidArgument, "cloud link: " + what);
  };
  if (options.host.empty()) return bad("host is empty");
  if (options.port == 0) return bad("port is 0");
  if (options.mqtt_version != 4 && options.mqtt_version != 5) {
    return bad("mqtt_version must be 4 (MQTT 3.1.1) or 5, not " +
               std::to_string(options.mqtt_version));
  }
  if (options.keep_alive_s < 5) return bad("keep_alive_s must be at least 5");
  if (options.max_inflight < 1 || options.max_inflight > kMaxInflight) {
    return bad("max_inflight must be between 1 and " + std::to_string(kMaxInflight));
  }
  if (options.backoff_min_ms < 1) return bad("backoff_min_ms must be at least 1");
  if (options.backoff_max_ms < options.backoff_min_ms) {
    return bad("backoff_max_ms must not be below backoff_min_ms");
  }
  if (options.ssl_ctx == nullptr) return bad("no TLS context");
  if (options.profile.client_id.empty()) return bad("the profile has no client id");
  if (options.max_command_bytes == 0) return bad("max_command_bytes is 0");
  if (::edgetrust::Status device = ValidateDeviceId(options.device_id); !device.ok()) {
    return bad(device.message());
  }
  if (options.server_name.empty()) options.server_name = options.host;
  ET_ASSIGN_OR_RETURN(CompiledProfile profile,
                      CompiledProfile::Compile(options.profile, options.device_id));
  ET_RETURN_IF_ERROR(ConfigureServerCheck(options.ssl_ctx, options.server_name));
  std::unique_ptr<CloudLink> link(new CloudLink(std::move(options), source, std::move(on_command)));
  link->profile_ = std::move(profile);
  link->wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (link->wake_fd_ < 0) {
    return ::edgetrust::Status(ErrorCode::kInternal,
                               "eventfd: " + std::system_category().message(errno));
  }
  return link;
}

CloudLink::CloudLink(CloudOptions options, MessageSource& source, CommandHandler on_command)
    : options_(std::move(options)),
      source_(source),
      on_command_(std::move(on_command)),
      broker_(options_.host + ":" + std::to_string(options_.port)),
      backoff_(options_.backoff_min_ms, options_.backoff_max_ms, std::random_device{}()) {
  status_.last_change_ms = WallMs();
}

CloudLink::~CloudLink() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

::edgetrust::Status CloudLink::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_ || stopping_) {
    return ::edgetrust::Status(ErrorCode::kFailedPrecondition, "the cloud link was started before");
  }
  started_ = true;
  InitMosquittoLibrary();
  network_ = StartThread([this] { NetworkLoop(); });
  feeder_ = StartThread([this] { FeedLoop(); });
  return ::edgetrust::Status::Ok();
}

void CloudLink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  source_.Wake();
  WakeNetwork();
  if (feeder_.joinable()) feeder_.join();
  if (network_.joinable()) network_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (status_.state != LinkState::kStopped) {
    status_.state = LinkState::kStopped;
    status_.last_change_ms = WallMs();
  }
}

LinkStatus CloudLink::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  LinkStatus s = status_;
  s.inflight = reserved_;
  if (s.state == LinkState::kBackoff) {
    const auto left = std::chrono::duration_cast<milliseconds>(retry_at_ - Clock::now()).count();
    s.next_retry_ms = left > 0 ? static_cast<uint32_t>(left) : 0;
  } else {
    s.next_retry_ms = 0;
  }
  return s;
}

bool CloudLink::StopRequested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void CloudLink::SetState(LinkState state) {
  std::lock_guard<std::mutex> lock(mu_);
  status_.state = state;
  status_.last_change_ms = WallMs();
}

void CloudLink::WakeNetwork() {
  const uint64_t one = 1;
  // A full counter (never in practice) still leaves the descriptor readable: nothing is lost.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

// ---- network thread ----

void CloudLink::NetworkLoop() {
  while (!StopRequested()) {
    SessionEnd end = RunSession();
    if (end.kind == CloseKind::kLocal || StopRequested()) break;
    if (end.was_connected && end.connected_for >= milliseconds(options_.stable_after_ms)) {
      backoff_.Reset();
    }
    const uint32_t delay = backoff_.Next();
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_.last_error = end.reason;
      status_.state = LinkState::kBackoff;
      status_.last_change_ms = WallMs();
      status_.tls_version.clear();
      retry_at_ = Clock::now() + milliseconds(delay);
    }
    const std::string reason = Quoted(end.reason);
    switch (end.kind) {
      case CloseKind::kLost:
        spdlog::warn("event=cloud-disconnected broker={} reason={} returned={} retry_in_ms={}",
                     broker_, reason, end.returned, delay);
        break;
      case CloseKind::kTlsRefused:
      case CloseKind::kConnackRefused:
        spdlog::error("event=cloud-refused broker={} reason={} retry_in_ms={}", broker_, reason,
                      delay);
        break;
      case CloseKind::kUnreachable:
        spdlog::warn("event=cloud-unreachable broker={} reason={} retry_in_ms={}", broker_, reason,
                     delay);
        break;
      case CloseKind::kLocal:
        break;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, retry_at_, [this] { return stopping_; });
  }
  SetState(LinkState::kStopped);
}

CloudLink::SessionEnd CloudLink::RunSession() {
  SetState(LinkState::kConnecting);
  connected_ = false;
  subscribe_pending_ = false;
  refused_.clear();
  refusal_.clear();

  MqttClientOptions mo;
  mo.host = options_.host;
  mo.port = options_.port;
  mo.mqtt_version = options_.mqtt_version;
  mo.keep_alive_s = options_.keep_alive_s;
  mo.clean_session = options_.clean_session;
  mo.client_id = options_.profile.client_id;
  mo.username = options_.profile.username;
  mo.password = options_.profile.password ? &*options_.profile.password : nullptr;
  mo.ssl_ctx = options_.ssl_ctx;
  mo.max_inflight = options_.max_inflight;
  auto started = MqttClient::Start(mo, *this);
  if (!started.ok()) {
    SessionEnd end;
    end.kind = CloseKind::kUnreachable;
    end.reason = started.status().message();
    return end;
  }
  client_ = std::move(started).value();

  std::optional<Clock::time_point> stop_deadline;
  while (!client_->closed()) {
    if (!stop_deadline && StopRequested()) {
      if (!connected_) {
        // Nothing to say goodbye to before CONNACK (and a DISCONNECT would wait for the
        // handshake).
        client_->Close(CloseKind::kLocal, "stopped");
        break;
      }
      stop_deadline = Clock::now() + kDisconnectGrace;
      client_->Disconnect();
      continue;
    }
    if (stop_deadline && Clock::now() >= *stop_deadline) {
      client_->Close(CloseKind::kLocal, "stopped");
      break;
    }
    pollfd fds[2] = {{client_->fd(), client_->PollEvents(), 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, stop_deadline ? 100 : kPollTimeoutMs);
    if (n < 0 && errno != EINTR) {
      client_->Close(CloseKind::kLost, "poll: " + std::system_category().message(errno));
      break;
    }
    if (n > 0 && (fds[1].revents & POLLIN) != 0) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
    }
    client_->Service(n > 0 ? fds[0].revents : 0);
    if (!refused_.empty() && !client_->closed()) {
      client_->Close(CloseKind::kLost, refusal_);
    }
    if (client_->closed()) break;
    if (subscribe_pending_) {
      subscribe_pending_ = false;
      if (::edgetrust::Status s = client_->Subscribe(profile_.command_filter()); !s.ok()) {
        spdlog::error("event=cloud-subscribe-failed filter={} reason={}",
                      Quoted(profile_.command_filter()), Quoted(s.message()));
      }
    }
    if (connected_ && !stop_deadline) PublishPending();
    FlushAcks();
  }
  FlushAcks();

  // The session is over: nothing more is handed over to it, and whatever it did not get
  // acknowledged goes back to the source.
  SessionEnd end;
  end.kind = client_->close_kind();
  end.reason = client_->close_reason();
  end.was_connected = connected_;
  if (connected_) end.connected_for = Clock::now() - connected_at_;
  std::vector<uint64_t> back = std::move(refused_);
  refused_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    session_open_ = false;
    ++session_epoch_;
    for (size_t i = 0; i < pending_.size; ++i) back.push_back(pending_.items[i].id);
    pending_.size = 0;
    inflight_.Drain(back);
    reserved_ = 0;
    if (connected_ && end.kind != CloseKind::kLocal) ++status_.disconnects_total;
  }
  end.returned = back.size();
  if (!back.empty()) {
    try {
      source_.Return(back);
    } catch (const std::exception& e) {
      spdlog::error("event=cloud-internal-error where=return error={}", Quoted(e.what()));
    }
  }
  client_.reset();
  connected_ = false;
  if (end.kind == CloseKind::kLocal) {
    spdlog::info("event=cloud-stopped broker={} returned={}", broker_, end.returned);
  }
  return end;
}

void CloudLink::PublishPending() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.size == 0) return;
    std::swap(work_, pending_);  // pending_ gets our spent batch, capacity and all
  }
  const bool v5 = options_.mqtt_version == 5;
  std::vector<uint64_t> back;
  for (size_t i = 0; i < work_.size; ++i) {
    Prepared& p = work_.items[i];
    const PublishProperties props{p.leaf.c_str(), p.seq.c_str()};
    auto mid = client_->Publish(p.topic, p.payload, v5 ? &props : nullptr);
    if (mid.ok()) {
      if (inflight_.Put(*mid, p.id)) continue;
      // An id still in flight came round again: keep the old one, send this message later.
      back.push_back(p.id);
      continue;
    }
    if (mid.status().code() == ErrorCode::kInvalidArgument) {
      // No broker will take this message as it is: it must not block the ones behind it.
      spdlog::error("event=cloud-dropped id={} topic={} reason={}", p.id, Quoted(p.topic),
                    Quoted(mid.status().message()));
      source_.Ack(p.id);
      ++freed_;
      ++dropped_;
      continue;
    }
    // The connection cannot take it now: this and the rest of the batch go back.
    for (size_t j = i; j < work_.size; ++j) back.push_back(work_.items[j].id);
    if (!client_->closed()) client_->Close(CloseKind::kLost, mid.status().message());
    break;
  }
  work_.size = 0;
  if (!back.empty()) {
    freed_ += back.size();
    source_.Return(back);
  }
}

void CloudLink::FlushAcks() {
  if (freed_ == 0 && acked_ == 0 && dropped_ == 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reserved_ -= std::min(reserved_, freed_);
    status_.forwarded_total += acked_;
    status_.dropped_total += dropped_;
  }
  freed_ = 0;
  acked_ = 0;
  dropped_ = 0;
  cv_.notify_all();
}

void CloudLink::OnConnected() {
  connected_ = true;
  connected_at_ = Clock::now();
  subscribe_pending_ = true;
  const std::string tls = client_->TlsVersion();
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.state = LinkState::kConnected;
    status_.connected_since_ms = WallMs();
    status_.last_change_ms = status_.connected_since_ms;
    status_.tls_version = tls;
    ++status_.connects_total;
    session_open_ = true;
  }
  cv_.notify_all();
  spdlog::info("event=cloud-connected broker={} tls={} mqtt={} profile={} client_id={}", broker_,
               tls, options_.mqtt_version == 5 ? "5" : "3.1.1",
               ProfileKindName(options_.profile.kind), Quoted(options_.profile.client_id));
}

void CloudLink::OnPuback(uint16_t mid, int reason_code) {
  const std::optional<uint64_t> id = inflight_.Take(mid);
  if (!id) return;
  if (reason_code < 0x80) {
    source_.Ack(*id);
    ++acked_;
    ++freed_;
    return;
  }
  if (PermanentRefusal(reason_code)) {
    spdlog::error("event=cloud-rejected id={} reason=\"{}\"", *id, ReasonText(reason_code));
    source_.Ack(*id);
    ++dropped_;
    ++freed_;
    return;
  }
  // Worth another try, later: the session ends and the backoff slows us down.
  refused_.push_back(*id);
  ++freed_;
  if (refusal_.empty()) {
    refusal_ = std::string("the broker refused a message: ") + ReasonText(reason_code);
  }
}

void CloudLink::OnSubscribed(int granted_qos) {
  if (granted_qos >= 0x80) {
    spdlog::error("event=cloud-subscribe-refused filter={}", Quoted(profile_.command_filter()));
  } else {
    spdlog::info("event=cloud-subscribed filter={} qos={}", Quoted(profile_.command_filter()),
                 granted_qos);
  }
}

void CloudLink::OnMessage(std::string_view topic, std::string_view payload) {
  if (payload.size() > options_.max_command_bytes) {
    spdlog::warn("event=cloud-command-ignored topic={} reason=\"{} bytes, more than {}\"",
                 Quoted(topic), payload.size(), options_.max_command_bytes);
    return;
  }
  Result<CommandTarget> target = profile_.ParseCommand(topic);
  if (!target.ok()) {
    spdlog::warn("event=cloud-command-ignored topic={} reason={}", Quoted(topic),
                 Quoted(target.status().message()));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.commands_total;
  }
  spdlog::info("event=cloud-command leaf={} subtopic={} bytes={}", Quoted(target->leaf),
               Quoted(target->subtopic), payload.size());
  if (!on_command_) return;
  try {
    on_command_(std::move(target->leaf), std::move(target->subtopic), std::string(payload));
  } catch (const std::exception& e) {
    spdlog::error("event=cloud-command-failed error={}", Quoted(e.what()));
  } catch (...) {
    spdlog::error("event=cloud-command-failed");
  }
}

// ---- feeder thread ----

void CloudLink::FeedLoop() {
  const bool v5 = options_.mqtt_version == 5;
  std::vector<uint64_t> undeliverable;
  std::vector<uint64_t> back;
  while (true) {
    size_t room = 0;
    uint64_t epoch = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] {
        return stopping_ || (session_open_ && reserved_ < options_.max_inflight);
      });
      if (stopping_) return;
      room = options_.max_inflight - reserved_;
      epoch = session_epoch_;
    }
    std::vector<OutboundMessage> messages;
    try {
      messages = source_.Take(std::min(room, kTakeBatch), kTakeWait);
    } catch (const std::exception& e) {
      spdlog::error("event=cloud-internal-error where=take error={}", Quoted(e.what()));
      continue;
    }
    if (messages.empty()) continue;
    if (messages.size() > room) {
      // A source that hands out more than asked for: keep to the limit, give back the rest.
      back.clear();
      for (size_t i = room; i < messages.size(); ++i) back.push_back(messages[i].id);
      messages.resize(room);
      source_.Return(back);
    }
    fill_.size = 0;
    undeliverable.clear();
    for (const OutboundMessage& m : messages) {
      Prepared& p = fill_.Next();
      p.id = m.id;
      if (!profile_.TelemetryTopic(m, p.topic)) {
        --fill_.size;
        undeliverable.push_back(m.id);
        spdlog::error(
            "event=cloud-dropped id={} leaf={} seq={} reason=\"the leaf or subtopic "
            "cannot be put into the topic layout\"",
            m.id, Quoted(m.leaf), m.seq);
        continue;
      }
      BuildEnvelope(m, options_.device_id, p.payload);
      if (v5) {
        p.leaf = m.leaf;
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, m.seq);
        p.seq.assign(buf, end);
      }
    }
    for (const uint64_t id : undeliverable) source_.Ack(id);
    const size_t count = fill_.size;
    bool handed_over = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_.dropped_total += undeliverable.size();
      if (!stopping_ && session_open_ && epoch == session_epoch_) {
        if (pending_.size == 0) {
          std::swap(pending_, fill_);  // fill_ gets the spent buffer, capacity and all
        } else {
          for (size_t i = 0; i < count; ++i) std::swap(pending_.Next(), fill_.items[i]);
        }
        reserved_ += count;
        handed_over = true;
      }
    }
    if (!handed_over) {
      back.clear();
      for (size_t i = 0; i < fill_.size; ++i) back.push_back(fill_.items[i].id);
      if (!back.empty()) source_.Return(back);
    }
    fill_.size = 0;
    if (handed_over) WakeNetwork();
  }
}

}  // namespace edgetrust::cloud
