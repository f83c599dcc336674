#include "mqtt/client.h"

#include <algorithm>
#include <climits>
#include <cstdio>

namespace edgetrust::mqtt {
namespace {

constexpr size_t kReadChunk = 16 * 1024;

std::string Hex(uint8_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(v));
  return buf;
}

int MsUntil(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
  if (left <= 0) return 0;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

// What kind of failure a CONNACK refusal is (client.h).
ErrorCode ConnackError(Version version, uint8_t code) {
  if (version == Version::k311) {
    switch (code) {
      case 1:
        return ErrorCode::kUnsupported;
      case 2:
        return ErrorCode::kInvalidArgument;
      case 3:
        return ErrorCode::kUnavailable;
      default:
        return ErrorCode::kPermissionDenied;
    }
  }
  switch (code) {
    case 0x84:
      return ErrorCode::kUnsupported;
    case 0x86:
    case 0x87:
    case 0x8A:
    case 0x8C:
      return ErrorCode::kPermissionDenied;
    case 0x80:
    case 0x83:
    case 0x88:
    case 0x89:
    case 0x97:
    case 0x9C:
    case 0x9D:
    case 0x9F:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInvalidArgument;
  }
}

std::string WithReason(std::string text, const std::string& reason_string) {
  if (!reason_string.empty()) text += ": " + reason_string.substr(0, 256);
  return text;
}

}  // namespace

Client::Client(std::unique_ptr<TlsStream> stream, const Options& options)
    : stream_(std::move(stream)),
      options_(options),
      decoder_(options.max_packet_size),
      ids_(65536, IdUse::kFree),
      last_sent_(Clock::now()) {
  decoder_.set_version(options.version);
  if (options_.timeout_ms <= 0) options_.timeout_ms = 30000;
  read_buffer_.resize(kReadChunk);
}

Client::~Client() {
  if (stream_) stream_->Close();
}

Result<std::unique_ptr<Client>> Client::Connect(std::unique_ptr<TlsStream> stream,
                                                const Options& options) {
  if (!stream) return Status(ErrorCode::kInvalidArgument, "no connection");
  if (!IsValidMqttString(options.client_id) ||
      (options.username && !IsValidMqttString(*options.username)) ||
      (options.password && options.password->size() > 65535)) {
    return Status(ErrorCode::kInvalidArgument,
                  "client identifier, user name or password is not a valid MQTT string");
  }
  std::unique_ptr<Client> client(new Client(std::move(stream), options));
  mqtt::Connect connect;
  connect.version = options.version;
  connect.client_id = options.client_id;
  connect.clean_start = options.clean_start;
  connect.keep_alive = options.keep_alive;
  connect.username = options.username;
  connect.password = options.password;
  if (options.version == Version::k5) {
    connect.maximum_packet_size =
        static_cast<uint32_t>(std::min<size_t>(options.max_packet_size, UINT32_MAX));
  }
  std::string bytes;
  EncodeConnect(connect, &bytes);
  ET_RETURN_IF_ERROR(client->Send(bytes));
  ET_RETURN_IF_ERROR(client->AwaitConnack());
  return client;
}

Status Client::AwaitConnack() {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  while (!have_connack_) {
    const int wait = MsUntil(deadline);
    if (wait == 0) {
      return Fail(Status(ErrorCode::kUnavailable, "no CONNACK from " + stream_->peer() +
                                                      " within " +
                                                      std::to_string(options_.timeout_ms) + " ms"));
    }
    auto step = Step(wait);
    if (!step.ok()) {
      return Status(step.status().code(),
                    "connecting to " + stream_->peer() + ": " + step.status().message());
    }
  }
  const uint8_t code = connack_.code;
  if (code != 0) {
    const std::string what = options_.version == Version::k5
                                 ? "CONNACK reason " + Hex(code)
                                 : "CONNACK code " + std::to_string(code);
    return Fail(Status(
        ConnackError(options_.version, code),
        WithReason(stream_->peer() + " refused the connection: " +
                       std::string(ConnackCodeText(options_.version, code)) + " (" + what + ")",
                   connack_.reason_string)));
  }
  window_ = std::max<uint16_t>(1, options_.window);
  keep_alive_s_ = options_.keep_alive;
  if (options_.version == Version::k5) {
    window_ = std::min(window_, std::max<uint16_t>(1, connack_.receive_maximum));
    if (connack_.server_keep_alive) keep_alive_s_ = *connack_.server_keep_alive;
    server_max_packet_ = connack_.maximum_packet_size;
  }
  return Status::Ok();
}

Status Client::Fail(Status status) {
  if (broken_.ok()) {
    broken_ = status;
    stream_->Close();
  }
  return broken_;
}

Status Client::Send(const std::string& bytes) {
  if (!broken_.ok()) return broken_;
  Status st = stream_->WriteAll(bytes);
  if (!st.ok()) return Fail(std::move(st));
  last_sent_ = Clock::now();
  return Status::Ok();
}

uint16_t Client::TakePacketId(IdUse use) {
  // At most 65535 ids can be taken, and callers never hold that many (the window is a u16 and
  // one subscription waits at a time), so a free one is always found.
  for (int tries = 0; tries < 65536; ++tries) {
    last_id_ = static_cast<uint16_t>(last_id_ == 65535 ? 1 : last_id_ + 1);
    if (ids_[last_id_] == IdUse::kFree) break;
  }
  ids_[last_id_] = use;
  return last_id_;
}

int Client::MsUntilKeepAlive() const {
  if (keep_alive_s_ == 0 || !have_connack_) return INT_MAX;
  if (ping_sent_) return MsUntil(*ping_sent_ + std::chrono::milliseconds(options_.timeout_ms));
  return MsUntil(last_sent_ + std::chrono::seconds(keep_alive_s_));
}

Status Client::KeepAlive() {
  if (keep_alive_s_ == 0 || !have_connack_) return Status::Ok();
  const auto now = Clock::now();
  if (ping_sent_) {
    if (now - *ping_sent_ >= std::chrono::milliseconds(options_.timeout_ms)) {
      return Fail(Status(ErrorCode::kUnavailable, "no PINGRESP from " + stream_->peer() +
                                                      " within " +
                                                      std::to_string(options_.timeout_ms) + " ms"));
    }
    return Status::Ok();
  }
  if (now - last_sent_ >= std::chrono::seconds(keep_alive_s_)) {
    std::string ping;
    EncodePingReq(&ping);
    ET_RETURN_IF_ERROR(Send(ping));
    ping_sent_ = Clock::now();
  }
  return Status::Ok();
}

Result<size_t> Client::Step(int wait_ms) {
  if (!broken_.ok()) return broken_;
  ET_RETURN_IF_ERROR(KeepAlive());
  const int wait = std::min(wait_ms, MsUntilKeepAlive());
  auto n = stream_->Read(read_buffer_.data(), read_buffer_.size(), wait);
  if (!n.ok()) return Fail(n.status());
  if (*n == 0) return size_t{0};
  decoder_.Feed(read_buffer_.data(), *n);
  size_t handled = 0;
  while (true) {
    auto next = decoder_.Next();
    if (!next.ok()) {
      if (options_.version == Version::k5) {
        std::string bye;
        const uint8_t reason = next.status().code() == ErrorCode::kTooLarge ? 0x95 : 0x81;
        EncodeDisconnect(Version::k5, mqtt::Disconnect{reason}, &bye);
        (void)stream_->WriteAll(bye);
      }
      return Fail(Status(next.status().code(), "malformed packet from " + stream_->peer() + ": " +
                                                   next.status().message()));
    }
    if (!next->has_value()) break;
    ET_RETURN_IF_ERROR(Handle(**next));
    ++handled;
  }
  return handled;
}

Status Client::Handle(Packet& packet) {
  const std::string from = " from " + stream_->peer();
  if (!have_connack_) {
    auto* connack = std::get_if<Connack>(&packet);
    if (connack == nullptr) {
      return Fail(Status(ErrorCode::kMalformed,
                         std::string(PacketName(packet)) + from + " before its CONNACK"));
    }
    connack_ = std::move(*connack);
    have_connack_ = true;
    return Status::Ok();
  }
  if (auto* publish = std::get_if<mqtt::Publish>(&packet)) {
    if (publish->qos > 1) {
      if (options_.version == Version::k5) {
        std::string bye;
        EncodeDisconnect(Version::k5, mqtt::Disconnect{0x9B}, &bye);
        (void)stream_->WriteAll(bye);
      }
      return Fail(Status(ErrorCode::kUnsupported, "QoS 2 PUBLISH" + from + " on " +
                                                      publish->topic.substr(0, 128) +
                                                      ": QoS 2 is not supported"));
    }
    if (on_message) on_message(*publish);
    if (publish->qos == 1) {
      std::string ack;
      EncodeAck(options_.version, Ack{PacketType::kPuback, publish->packet_id, 0}, &ack);
      ET_RETURN_IF_ERROR(Send(ack));
    }
    return Status::Ok();
  }
  if (auto* ack = std::get_if<Ack>(&packet)) {
    if (ack->type != PacketType::kPuback) {
      return Fail(Status(ErrorCode::kUnsupported,
                         std::string(PacketName(packet)) + from + ": QoS 2 is not supported"));
    }
    // An id we do not wait for (a late answer to an earlier connection's message) is ignored.
    if (ids_[ack->packet_id] != IdUse::kPublish) return Status::Ok();
    ids_[ack->packet_id] = IdUse::kFree;
    --inflight_;
    if (on_ack) on_ack(ack->packet_id, ack->reason);
    return Status::Ok();
  }
  if (auto* suback = std::get_if<Suback>(&packet)) {
    if (suback->packet_id == awaited_ack_id_) awaited_codes_ = std::move(suback->codes);
    return Status::Ok();
  }
  if (auto* unsuback = std::get_if<Unsuback>(&packet)) {
    if (unsuback->packet_id == awaited_ack_id_) awaited_codes_ = std::move(unsuback->codes);
    return Status::Ok();
  }
  if (std::holds_alternative<PingResp>(packet)) {
    ping_sent_.reset();
    return Status::Ok();
  }
  if (auto* disconnect = std::get_if<mqtt::Disconnect>(&packet)) {
    return Fail(Status(ErrorCode::kUnavailable,
                       WithReason(stream_->peer() + " disconnected: " +
                                      std::string(ReasonCodeText(disconnect->reason)) +
                                      " (DISCONNECT reason " + Hex(disconnect->reason) + ")",
                                  disconnect->reason_string)));
  }
  return Fail(
      Status(ErrorCode::kMalformed, "unexpected " + std::string(PacketName(packet)) + from));
}

Result<uint16_t> Client::Publish(std::string_view topic, std::string_view payload, uint8_t qos,
                                 bool dup) {
  if (!broken_.ok()) return broken_;
  if (qos > 1) return Status(ErrorCode::kInvalidArgument, "QoS 2 is not supported");
  if (options_.version == Version::k5 && qos > connack_.maximum_qos) {
    return Status(ErrorCode::kInvalidArgument,
                  "the server accepts QoS " + std::to_string(connack_.maximum_qos) + " at most");
  }
  if (!IsValidTopicName(topic)) {
    return Status(ErrorCode::kInvalidArgument,
                  "\"" + std::string(topic.substr(0, 128)) + "\" is not a valid topic name");
  }
  mqtt::Publish p;
  p.qos = qos;
  p.dup = dup && qos > 0;
  p.topic.assign(topic);
  p.payload.assign(payload);
  // Largest packet: the server's limit (MQTT 5), else MQTT's own.
  const size_t limit = server_max_packet_ != 0 ? server_max_packet_ : kMaxRemainingLength;
  if (payload.size() + topic.size() + 16 > limit) {
    std::string probe;
    EncodePublish(options_.version, p, &probe);
    if (probe.size() > limit || probe.size() > kMaxRemainingLength) {
      return Status(ErrorCode::kTooLarge, "a PUBLISH of " + std::to_string(probe.size()) +
                                              " bytes exceeds the limit of " +
                                              std::to_string(limit));
    }
  }
  if (qos == 1) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    while (inflight_ >= window_) {
      const int wait = MsUntil(deadline);
      if (wait == 0) {
        return Fail(
            Status(ErrorCode::kUnavailable, "no PUBACK from " + stream_->peer() + " within " +
                                                std::to_string(options_.timeout_ms) + " ms with " +
                                                std::to_string(inflight_) + " messages in flight"));
      }
      ET_RETURN_IF_ERROR(Step(wait).status());
    }
    p.packet_id = TakePacketId(IdUse::kPublish);
    ++inflight_;
  }
  std::string bytes;
  EncodePublish(options_.version, p, &bytes);
  ET_RETURN_IF_ERROR(Send(bytes));
  return p.packet_id;
}

Result<std::vector<uint8_t>> Client::AwaitSubscriptionAck(uint16_t id, std::string_view what) {
  awaited_ack_id_ = id;
  awaited_codes_.reset();
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  Status st;
  while (st.ok() && !awaited_codes_) {
    const int wait = MsUntil(deadline);
    if (wait == 0) {
      st = Fail(Status(ErrorCode::kUnavailable, "no " + std::string(what) + " from " +
                                                    stream_->peer() + " within " +
                                                    std::to_string(options_.timeout_ms) + " ms"));
      break;
    }
    st = Step(wait).status();
  }
  ids_[id] = IdUse::kFree;
  awaited_ack_id_ = 0;
  if (!st.ok()) return st;
  std::vector<uint8_t> codes = std::move(*awaited_codes_);
  awaited_codes_.reset();
  return codes;
}

Status Client::Subscribe(std::string_view filter, uint8_t qos) {
  if (!broken_.ok()) return broken_;
  if (qos > 1) return Status(ErrorCode::kInvalidArgument, "QoS 2 is not supported");
  if (!IsValidTopicFilter(filter)) {
    return Status(ErrorCode::kInvalidArgument,
                  "\"" + std::string(filter.substr(0, 128)) + "\" is not a valid topic filter");
  }
  const uint16_t id = TakePacketId(IdUse::kSubscribe);
  std::string bytes;
  EncodeSubscribe(options_.version, mqtt::Subscribe{id, {{std::string(filter), qos}}}, &bytes);
  Status sent = Send(bytes);
  if (!sent.ok()) {
    ids_[id] = IdUse::kFree;
    return sent;
  }
  ET_ASSIGN_OR_RETURN(std::vector<uint8_t> codes, AwaitSubscriptionAck(id, "SUBACK"));
  if (codes.size() != 1) {
    return Fail(Status(ErrorCode::kMalformed, "SUBACK from " + stream_->peer() + " has " +
                                                  std::to_string(codes.size()) +
                                                  " codes for one filter"));
  }
  if (codes[0] >= 0x80) {
    const std::string why = options_.version == Version::k5
                                ? std::string(ReasonCodeText(codes[0])) + " (" + Hex(codes[0]) + ")"
                                : "failure (" + Hex(codes[0]) + ")";
    return Status(ErrorCode::kPermissionDenied,
                  "subscription to " + std::string(filter.substr(0, 128)) + " refused: " + why);
  }
  return Status::Ok();
}

Status Client::Unsubscribe(std::string_view filter) {
  if (!broken_.ok()) return broken_;
  if (!IsValidTopicFilter(filter)) {
    return Status(ErrorCode::kInvalidArgument,
                  "\"" + std::string(filter.substr(0, 128)) + "\" is not a valid topic filter");
  }
  const uint16_t id = TakePacketId(IdUse::kSubscribe);
  std::string bytes;
  EncodeUnsubscribe(options_.version, mqtt::Unsubscribe{id, {std::string(filter)}}, &bytes);
  Status sent = Send(bytes);
  if (!sent.ok()) {
    ids_[id] = IdUse::kFree;
    return sent;
  }
  ET_ASSIGN_OR_RETURN(std::vector<uint8_t> codes, AwaitSubscriptionAck(id, "UNSUBACK"));
  if (!codes.empty() && codes[0] >= 0x80) {
    return Status(ErrorCode::kPermissionDenied, "unsubscribing from " +
                                                    std::string(filter.substr(0, 128)) +
                                                    " refused: " + ReasonCodeText(codes[0]).data());
  }
  return Status::Ok();
}

Status Client::Poll(int timeout_ms) {
  if (!broken_.ok()) return broken_;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  while (true) {
    ET_ASSIGN_OR_RETURN(size_t handled, Step(MsUntil(deadline)));
    if (handled > 0 || MsUntil(deadline) == 0) return Status::Ok();
  }
}

Status Client::WaitAllAcked(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  while (inflight_ > 0) {
    if (!broken_.ok()) return broken_;
    const int wait = MsUntil(deadline);
    if (wait == 0) {
      return Status(ErrorCode::kUnavailable,
                    std::to_string(inflight_) + " messages still unacknowledged by " +
                        stream_->peer() + " after " + std::to_string(timeout_ms) + " ms");
    }
    ET_RETURN_IF_ERROR(Step(wait).status());
  }
  return broken_;
}

Status Client::Disconnect() {
  if (!broken_.ok()) return broken_;
  std::string bytes;
  EncodeDisconnect(options_.version, mqtt::Disconnect{}, &bytes);
  Status st = stream_->WriteAll(bytes);
  (void)Fail(Status(ErrorCode::kUnavailable, "disconnected from " + stream_->peer()));
  return st;
}

}  // namespace edgetrust::mqtt
