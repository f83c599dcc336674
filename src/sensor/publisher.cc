#include "sensor/publisher.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <thread>

namespace edgetrust::sensor {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kConnectTimeoutMs = 10000;
constexpr int kReplyTimeoutMs = 30000;
constexpr uint16_t kKeepAliveS = 30;
// How long a stop request waits for acknowledgements, and how long a connection may go without
// acknowledging anything while readings are in flight before it is given up as dead.
constexpr auto kStopGrace = std::chrono::seconds(10);
constexpr auto kAckSilence = std::chrono::seconds(30);
constexpr int kPollSliceMs = 200;
constexpr int kSilentClosesBeforeGivingUp = 3;

std::string Hex(uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(v));
  return buf;
}

int MsUntil(Clock::time_point t) {
  const auto left = std::chrono::duration_cast<milliseconds>(t - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, kPollSliceMs));
}

bool IsTransientRefusal(uint8_t reason) {
  return reason == 0x80 || reason == 0x83 || reason == 0x91 || reason == 0x97;
}

uint64_t Seed(const std::string& name) {
  return std::hash<std::string>{}(name) ^ static_cast<uint64_t>(UnixMs());
}

}  // namespace

bool IsTransient(const Status& status) { return status.code() == ErrorCode::kUnavailable; }

void SleepUnlessStopped(milliseconds delay, const volatile std::sig_atomic_t* stop) {
  const auto until = Clock::now() + delay;
  while (Clock::now() < until && !*stop) {
    std::this_thread::sleep_for(std::min<milliseconds>(
        milliseconds(kPollSliceMs),
        std::chrono::duration_cast<milliseconds>(until - Clock::now()) + milliseconds(1)));
  }
}

Result<std::unique_ptr<mqtt::Client>> ConnectToGateway(const SensorOptions& options, SSL_CTX* ctx,
                                                       std::optional<std::string> username,
                                                       std::optional<std::string> password) {
  mqtt::TlsStreamOptions tls;
  tls.host = options.host;
  tls.port = options.port;
  tls.ctx = ctx;
  tls.server_name = options.server_name;
  tls.timeout_ms = kConnectTimeoutMs;
  ET_ASSIGN_OR_RETURN(auto stream, mqtt::TlsStream::Connect(tls));
  mqtt::Client::Options mqtt;
  mqtt.version = options.version;
  mqtt.client_id = options.name;
  mqtt.username = std::move(username);
  mqtt.password = std::move(password);
  mqtt.keep_alive = kKeepAliveS;
  mqtt.clean_start = true;
  mqtt.window = options.window;
  mqtt.timeout_ms = kReplyTimeoutMs;
  return mqtt::Client::Connect(std::move(stream), mqtt);
}

Publisher::Publisher(const SensorOptions& options, const Output& output,
                     const volatile std::sig_atomic_t* stop)
    : options_(options),
      out_(output),
      stop_(stop),
      model_(Seed(options.name)),
      backoff_(milliseconds(options.retry_ms), milliseconds(10000), Seed(options.name) + 1) {}

bool Publisher::Stopping() {
  if (*stop_ && !stop_deadline_) stop_deadline_ = Clock::now() + kStopGrace;
  return *stop_ != 0;
}

int Publisher::Finish(int code) {
  out_.Summary(sent_, acked_, reconnects_);
  return code;
}

int Publisher::Run(const Credentials& credentials) {
  bool connected_before = false;
  const std::string version = options_.version == mqtt::Version::k5 ? "MQTT 5" : "MQTT 3.1.1";
  while (true) {
    const bool stopping = Stopping();
    if ((AllTaken() || stopping) && unacked_.empty()) break;
    if (stopping && Clock::now() >= *stop_deadline_) break;
    auto client = ConnectToGateway(options_, credentials.ctx.get());
    if (!client.ok()) {
      if (!IsTransient(client.status())) {
        out_.Error(client.status().message());
        return Finish(1);
      }
      if (Stopping()) break;
      const milliseconds delay = backoff_.Next();
      out_.Notice(client.status().message() + "; retrying in " + std::to_string(delay.count()) +
                  " ms");
      SleepUnlessStopped(delay, stop_);
      continue;
    }
    if (connected_before) ++reconnects_;
    connected_before = true;
    out_.Notice("connected to " + (*client)->stream().peer() + " (" + credentials.description +
                ", " + (*client)->stream().Description() + ", " + version + ")");
    const bool had_pending = !unacked_.empty() || !AllTaken();
    Status end = Session(**client);
    if (fatal_) {
      out_.Error(*fatal_);
      return Finish(1);
    }
    if (end.ok()) break;
    // A connection that took readings starts the delays over; one that did not (refused them
    // for now, or failed at once) lets them grow, so a gateway in trouble is not hammered.
    if (session_acks_ > 0) backoff_.Reset();
    if (!IsTransient(end)) {
      out_.Error(end.message());
      return Finish(1);
    }
    // MQTT 3.1.1 has no way to refuse a PUBLISH but to close the connection.
    if (options_.version == mqtt::Version::k311 && options_.qos == 1 && had_pending &&
        session_acks_ == 0 && !unacked_.empty()) {
      if (++silent_closes_ >= kSilentClosesBeforeGivingUp) {
        out_.Error("the gateway closed the connection " + std::to_string(silent_closes_) +
                   " times in a row without acknowledging a reading: it may refuse publishing to " +
                   options_.topic() +
                   " (MQTT 3.1.1 cannot say why; MQTT 5 would); last: " + end.message());
        return Finish(1);
      }
    } else {
      silent_closes_ = 0;
    }
    if (Stopping() && Clock::now() >= *stop_deadline_) break;
    const milliseconds delay = backoff_.Next();
    out_.Notice("connection lost: " + (resend_ ? *resend_ : end.message()) + "; reconnecting in " +
                std::to_string(delay.count()) + " ms" +
                (unacked_.empty()
                     ? ""
                     : " (" + std::to_string(unacked_.size()) + " readings to send again)"));
    resend_.reset();
    SleepUnlessStopped(delay, stop_);
  }
  if (!unacked_.empty()) {
    out_.Error(std::to_string(unacked_.size()) + " of " + std::to_string(sent_) +
               " readings were not acknowledged");
    return Finish(1);
  }
  if (options_.count != 0 && !AllTaken()) {
    out_.Error("stopped after " + std::to_string(sent_) + " of " + std::to_string(options_.count) +
               " readings");
    return Finish(1);
  }
  return Finish(0);
}

void Publisher::OnAck(uint16_t packet_id, uint8_t reason) {
  auto id = inflight_ids_.find(packet_id);
  if (id == inflight_ids_.end()) return;
  const uint64_t n = id->second;
  inflight_ids_.erase(id);
  auto pending = unacked_.find(n);
  if (pending == unacked_.end()) return;
  if (reason < 0x80) {
    out_.Reading("acked", n, pending->second.temp_c);
    unacked_.erase(pending);
    ++acked_;
    ++session_acks_;
    last_progress_ = Clock::now();
    return;
  }
  const std::string why =
      std::string(mqtt::ReasonCodeText(reason)) + " (PUBACK reason " + Hex(reason) + ")";
  if (IsTransientRefusal(reason)) {
    if (!resend_)
      resend_ = "the gateway could not take reading n=" + std::to_string(n) + ": " + why;
  } else if (!fatal_) {
    fatal_ = "the gateway refused reading n=" + std::to_string(n) + " on " + options_.topic() +
             ": " + why;
  }
}

Status Publisher::PublishReading(mqtt::Client& client) {
  const uint64_t n = next_n_;
  const double temp_c = model_.Next();
  std::string payload = ReadingPayload(options_.name, n, temp_c, UnixMs());
  if (options_.qos == 0) {
    // Not sent unless written: on failure the same n is taken again on the next connection.
    ET_RETURN_IF_ERROR(client.Publish(options_.topic(), payload, 0).status());
    ++next_n_;
    ++sent_;
    out_.Reading("sent", n, temp_c);
    return Status::Ok();
  }
  // Counted as sent from here on: kept until acknowledged, whatever happens to this connection.
  auto& pending = unacked_[n];
  pending.temp_c = temp_c;
  pending.payload = std::move(payload);
  ++next_n_;
  ++sent_;
  ET_ASSIGN_OR_RETURN(uint16_t id, client.Publish(options_.topic(), pending.payload, 1));
  inflight_ids_[id] = n;
  return Status::Ok();
}

Status Publisher::Session(mqtt::Client& client) {
  inflight_ids_.clear();
  session_acks_ = 0;
  last_progress_ = Clock::now();
  client.on_ack = [this](uint16_t id, uint8_t reason) { OnAck(id, reason); };
  const std::string filter = options_.commands_filter();
  client.on_message = [this, &filter](const mqtt::Publish& p) {
    if (mqtt::TopicMatches(filter, p.topic)) out_.Command(p.topic, p.payload);
  };
  const auto check = [this]() -> Status {
    if (fatal_) return Status(ErrorCode::kPermissionDenied, *fatal_);
    if (resend_) return Status(ErrorCode::kUnavailable, *resend_);
    return Status::Ok();
  };

  Status subscribed = client.Subscribe(filter, 1);
  if (!subscribed.ok()) {
    if (!client.connected()) return subscribed;
    out_.Notice("no commands: " + subscribed.message());
  }
  // What the last connection left unacknowledged goes first, in order, marked as a resend.
  for (const auto& [n, pending] : unacked_) {
    ET_ASSIGN_OR_RETURN(uint16_t id, client.Publish(options_.topic(), pending.payload, 1, true));
    inflight_ids_[id] = n;
    ET_RETURN_IF_ERROR(check());
  }

  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / options_.rate_hz));
  auto next_due = Clock::now();
  while (!AllTaken() && !Stopping()) {
    while (Clock::now() < next_due && !Stopping()) {
      ET_RETURN_IF_ERROR(client.Poll(MsUntil(next_due)));
      ET_RETURN_IF_ERROR(check());
    }
    if (Stopping()) break;
    ET_RETURN_IF_ERROR(PublishReading(client));
    ET_RETURN_IF_ERROR(check());
    next_due += period;
    // After a wait for the window, carry on at the rate rather than in a burst.
    next_due = std::max(next_due, Clock::now() - period);
  }

  // Wait for what is in flight.
  while (!inflight_ids_.empty()) {
    if (Stopping() && Clock::now() >= *stop_deadline_) {
      return Status(ErrorCode::kUnavailable, "stopped while readings were in flight");
    }
    if (Clock::now() - last_progress_ > kAckSilence) {
      (void)client.Disconnect();
      return Status(ErrorCode::kUnavailable,
                    "no acknowledgement within " +
                        std::to_string(std::chrono::seconds(kAckSilence).count()) + " s");
    }
    ET_RETURN_IF_ERROR(client.Poll(kPollSliceMs));
    ET_RETURN_IF_ERROR(check());
  }
  if (!unacked_.empty()) {
    // Refused for now (resend_) or lost: send them again on a new connection.
    return Status(ErrorCode::kUnavailable, "readings to send again");
  }
  (void)client.Disconnect();
  return Status::Ok();
}

}  // namespace edgetrust::sensor
