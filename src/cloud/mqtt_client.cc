#include "cloud/mqtt_client.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <exception>
#include <mutex>
#include <system_error>

namespace edgetrust::cloud {
namespace {

// The largest remaining length of an MQTT packet (MQTT 3.1.1 section 2.2.3).
constexpr size_t kMaxMqttPayload = 268435455;

// libmosquitto calls us from C frames: nothing may unwind through them.
template <typename F>
void Guarded(const char* where, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("event=cloud-internal-error where={} error=\"{}\"", where, e.what());
  } catch (...) {
    spdlog::error("event=cloud-internal-error where={}", where);
  }
}

std::string ErrnoText(int e) {
  if (e == 0) return "system error";
  return std::system_category().message(e);
}

// OpenSSL 3 error strings read "error:0A000086:SSL routines::certificate verify failed": the
// text after the last ':' is the part a person needs.
std::string ShortOpensslText(std::string_view line) {
  const size_t colon = line.rfind(':');
  std::string_view text = colon == std::string_view::npos ? line : line.substr(colon + 1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return std::string(text.empty() ? line : text);
}

std::string MosquittoErrorText(int rc, int saved_errno) {
  switch (rc) {
    case MOSQ_ERR_ERRNO:
      return ErrnoText(saved_errno);
    case MOSQ_ERR_CONN_LOST:
      return "the connection was closed";
    case MOSQ_ERR_NO_CONN:
      return "not connected";
    case MOSQ_ERR_KEEPALIVE:
      return "no answer from the broker within the keep-alive time";
    case MOSQ_ERR_PROTOCOL:
      return "MQTT protocol error";
    case MOSQ_ERR_MALFORMED_PACKET:
      return "malformed MQTT packet from the broker";
    case MOSQ_ERR_TLS:
      return "TLS error";
    case MOSQ_ERR_EAI:
      return std::string("cannot resolve the host: ") + ::gai_strerror(saved_errno);
    default:
      return mosquitto_strerror(rc);
  }
}

Status OptionError(const char* option, int rc) {
  return Status(ErrorCode::kInternal,
                std::string("libmosquitto option ") + option + ": " + mosquitto_strerror(rc));
}

}  // namespace

void InitMosquittoLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

MqttClient::MqttClient(MqttEvents& events, int mqtt_version, uint16_t keep_alive_s)
    : events_(events), mqtt_version_(mqtt_version), keep_alive_s_(keep_alive_s) {}

MqttClient::~MqttClient() {
  if (mosq_ != nullptr) mosquitto_destroy(mosq_);
}

Result<std::unique_ptr<MqttClient>> MqttClient::Start(const MqttClientOptions& options,
                                                      MqttEvents& events) {
  InitMosquittoLibrary();
  std::unique_ptr<MqttClient> c(new MqttClient(events, options.mqtt_version, options.keep_alive_s));
  c->mosq_ = mosquitto_new(options.client_id.c_str(), options.clean_session, c.get());
  if (c->mosq_ == nullptr) {
    return Status(ErrorCode::kResourceExhausted, "mosquitto_new: " + ErrnoText(errno));
  }
  struct mosquitto* m = c->mosq_;
  int rc = mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION,
                                options.mqtt_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  if (rc != MOSQ_ERR_SUCCESS) return OptionError("protocol version", rc);
  rc = mosquitto_void_option(m, MOSQ_OPT_SSL_CTX, options.ssl_ctx);
  if (rc != MOSQ_ERR_SUCCESS) return OptionError("SSL_CTX", rc);
  // Our context as it is: no CA files, no libmosquitto verify callback.
  rc = mosquitto_int_option(m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
  if (rc != MOSQ_ERR_SUCCESS) return OptionError("SSL_CTX_WITH_DEFAULTS", rc);
  rc = mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, static_cast<int>(options.max_inflight));
  if (rc != MOSQ_ERR_SUCCESS) return OptionError("send maximum", rc);
  if (!options.username.empty() || options.password != nullptr) {
    SecretBytes password;
    if (options.password != nullptr) {
      password = SecretBytes(options.password->size() + 1);  // NUL-terminated for C
      std::copy(options.password->data(), options.password->data() + options.password->size(),
                password.data());
      password.data()[options.password->size()] = 0;
    }
    rc = mosquitto_username_pw_set(
        m, options.username.empty() ? nullptr : options.username.c_str(),
        options.password != nullptr ? reinterpret_cast<const char*>(password.data()) : nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      return Status(ErrorCode::kInvalidArgument,
                    std::string("user name and password: ") + mosquitto_strerror(rc) +
                        (options.username.empty() ? " (MQTT 3.1.1 needs a user name with a "
                                                    "password)"
                                                  : ""));
    }
  }
  mosquitto_connect_v5_callback_set(m, &MqttClient::OnConnect);
  mosquitto_disconnect_v5_callback_set(m, &MqttClient::OnDisconnect);
  mosquitto_publish_v5_callback_set(m, &MqttClient::OnPublish);
  mosquitto_subscribe_v5_callback_set(m, &MqttClient::OnSubscribe);
  mosquitto_message_v5_callback_set(m, &MqttClient::OnMessageArrived);
  mosquitto_log_callback_set(m, &MqttClient::OnLog);

  errno = 0;
  rc = mosquitto_connect_bind_async(m, options.host.c_str(), options.port, options.keep_alive_s,
                                    nullptr);
  const int saved = errno;
  if (rc != MOSQ_ERR_SUCCESS) c->Fail(rc, saved);
  return c;
}

int MqttClient::fd() const { return closed_ ? -1 : mosquitto_socket(mosq_); }

short MqttClient::PollEvents() const {
  short events = POLLIN;
  if (!closed_ && mosquitto_want_write(mosq_)) events |= POLLOUT;
  return events;
}

bool MqttClient::Service(short revents) {
  if (closed_) return false;
  const int sock = mosquitto_socket(mosq_);
  if (sock < 0 || (revents & POLLNVAL) != 0) {
    Fail(MOSQ_ERR_CONN_LOST, 0);
    return false;
  }
  if ((revents & POLLERR) != 0) {
    // A failed connect shows up here; libmosquitto itself would keep retrying the handshake.
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      Fail(MOSQ_ERR_ERRNO, err);
      return false;
    }
  }
  if (revents != 0) {
    errno = 0;
    const int rc = mosquitto_loop_read(mosq_, 1);
    const int saved = errno;
    if (closed_) return false;
    if (rc != MOSQ_ERR_SUCCESS) {
      Fail(rc, saved);
      return false;
    }
    if ((revents & POLLHUP) != 0 && (!connected_ || (revents & POLLIN) == 0)) {
      // Connected, libmosquitto reads to the end of the stream and reports it. Before CONNACK a
      // hang-up ends the attempt: libmosquitto 2.0 takes the failed write of a refused connect
      // (SSL_ERROR_SYSCALL) for "handshake pending" and would retry on the dead socket until the
      // keep-alive time; the write's errno was caught by server_check's info callback.
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof peer;
      const bool established =
          ::getpeername(sock, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0;
      if (!connected_ && !established && handshake_.socket_error() != 0) {
        Fail(MOSQ_ERR_ERRNO, handshake_.socket_error());
      } else if (!connected_ && !established) {
        Close(CloseKind::kUnreachable, "the connection failed before it was established");
      } else {
        Fail(MOSQ_ERR_CONN_LOST, 0);
      }
      return false;
    }
  }
  if (mosquitto_socket(mosq_) >= 0 && mosquitto_want_write(mosq_)) {
    errno = 0;
    const int rc = mosquitto_loop_write(mosq_, 1);
    const int saved = errno;
    if (closed_) return false;
    if (rc != MOSQ_ERR_SUCCESS) {
      Fail(rc, saved);
      return false;
    }
  }
  errno = 0;
  const int rc = mosquitto_loop_misc(mosq_);
  const int saved = errno;
  if (closed_) return false;
  if (rc != MOSQ_ERR_SUCCESS) {
    Fail(rc, saved);
    return false;
  }
  return true;
}

Result<uint16_t> MqttClient::Publish(const std::string& topic, std::string_view payload,
                                     const PublishProperties* properties) {
  if (closed_ || !connected_) return Status(ErrorCode::kUnavailable, "not connected");
  if (payload.size() > kMaxMqttPayload) {
    return Status(ErrorCode::kInvalidArgument, "the message is larger than MQTT allows");
  }
  mosquitto_property* props = nullptr;
  if (mqtt_version_ == 5 && properties != nullptr) {
    if (mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "leaf",
                                           properties->leaf) != MOSQ_ERR_SUCCESS ||
        mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "seq",
                                           properties->seq) != MOSQ_ERR_SUCCESS ||
        mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "application/json") !=
            MOSQ_ERR_SUCCESS) {
      mosquitto_property_free_all(&props);
      // Only allocation fails here for strings that are valid UTF-8; the rest is the leaf name.
      return Status(ErrorCode::kInvalidArgument, "the leaf name cannot be an MQTT 5 property");
    }
  }
  int mid = 0;
  const int rc = mosquitto_publish_v5(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                      payload.data(), 1, false, props);
  mosquitto_property_free_all(&props);
  switch (rc) {
    case MOSQ_ERR_SUCCESS:
      return static_cast<uint16_t>(mid);
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_MALFORMED_UTF8:
    case MOSQ_ERR_OVERSIZE_PACKET:
    case MOSQ_ERR_DUPLICATE_PROPERTY:
      return Status(ErrorCode::kInvalidArgument, mosquitto_strerror(rc));
    case MOSQ_ERR_QOS_NOT_SUPPORTED:
      return Status(ErrorCode::kUnsupported, "the broker does not accept QoS 1");
    case MOSQ_ERR_NOMEM:
      return Status(ErrorCode::kResourceExhausted, mosquitto_strerror(rc));
    default:
      return Status(ErrorCode::kUnavailable, MosquittoErrorText(rc, errno));
  }
}

Status MqttClient::Subscribe(const std::string& filter) {
  if (closed_) return Status(ErrorCode::kUnavailable, "not connected");
  const int rc = mosquitto_subscribe(mosq_, nullptr, filter.c_str(), 1);
  if (rc == MOSQ_ERR_SUCCESS) return Status::Ok();
  return Status(rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_MALFORMED_UTF8 ? ErrorCode::kInvalidArgument
                                                                      : ErrorCode::kUnavailable,
                std::string("subscribe to ") + filter + ": " + mosquitto_strerror(rc));
}

void MqttClient::Disconnect() {
  if (closed_) return;
  disconnect_requested_ = true;
  // Written at once when the socket takes it; the disconnect callback then closes us.
  if (mosquitto_disconnect(mosq_) != MOSQ_ERR_SUCCESS && !closed_) {
    Close(CloseKind::kLocal, "stopped");
  }
}

void MqttClient::Close(CloseKind kind, std::string reason) {
  if (closed_) return;
  closed_ = true;
  close_kind_ = kind;
  close_reason_ = std::move(reason);
}

std::string MqttClient::TlsVersion() const {
  const auto* ssl = static_cast<const SSL*>(mosquitto_ssl_get(mosq_));
  return ssl != nullptr ? SSL_get_version(ssl) : "";
}

void MqttClient::Fail(int rc, int saved_errno) {
  if (closed_) return;
  if (disconnect_requested_) {
    Close(CloseKind::kLocal, "stopped");
    return;
  }
  const std::string verify = handshake_.TakeVerifyFailure();
  if (connected_) {
    Close(CloseKind::kLost, MosquittoErrorText(rc, saved_errno));
  } else if (!verify.empty()) {
    Close(CloseKind::kTlsRefused, "certificate verify failed: " + verify);
  } else if (!tls_error_.empty()) {
    Close(CloseKind::kTlsRefused, "TLS handshake failed: " + tls_error_);
  } else if (rc == MOSQ_ERR_TLS) {
    Close(CloseKind::kTlsRefused, "TLS handshake failed");
  } else if (handshake_.server_answered() && !handshake_.handshake_done()) {
    // The broker speaks TLS but ended the handshake without an alert we could read: its alert
    // can be lost when it resets the connection right after sending it.
    Close(CloseKind::kTlsRefused, "the broker ended the TLS handshake (" +
                                      MosquittoErrorText(rc, saved_errno) +
                                      "); a broker refusing the gateway's certificate does this");
  } else if (handshake_.handshake_done()) {
    // In TLS 1.3 the broker checks our certificate after our side of the handshake is done; when
    // it refuses it, its alert and our CONNECT cross, and we often see only a reset.
    Close(CloseKind::kTlsRefused,
          "the broker closed the connection after the TLS handshake, before CONNACK; a broker "
          "refusing the gateway's certificate does this in TLS 1.3");
  } else {
    Close(CloseKind::kUnreachable, MosquittoErrorText(rc, saved_errno));
  }
}

void MqttClient::OnConnect(struct mosquitto* mosq, void* self, int rc, int /*flags*/,
                           const mosquitto_property* /*props*/) {
  Guarded("connect", [&] {
    auto* c = static_cast<MqttClient*>(self);
    if (rc != 0) {
      const char* text =
          c->mqtt_version_ == 5 ? mosquitto_reason_string(rc) : mosquitto_connack_string(rc);
      c->Close(CloseKind::kConnackRefused,
               std::string("the broker refused the connection: ") + text);
      return;
    }
    c->connected_ = true;
    // From here on libmosquitto would format a log line per packet.
    mosquitto_log_callback_set(mosq, nullptr);
    c->events_.OnConnected();
  });
}

void MqttClient::OnDisconnect(struct mosquitto* /*mosq*/, void* self, int rc,
                              const mosquitto_property* /*props*/) {
  const int saved = errno;
  Guarded("disconnect", [&] {
    auto* c = static_cast<MqttClient*>(self);
    if (c->disconnect_requested_) {
      c->Close(CloseKind::kLocal, "stopped");
    } else if (rc >= 0x80) {
      // An MQTT 5 DISCONNECT from the broker carries a reason code, never a MOSQ_ERR_* value.
      c->Close(c->connected_ ? CloseKind::kLost : CloseKind::kUnreachable,
               std::string("the broker disconnected: ") + mosquitto_reason_string(rc));
    } else if (rc == 0) {
      c->Close(c->connected_ ? CloseKind::kLost : CloseKind::kUnreachable,
               "the broker disconnected");
    } else {
      c->Fail(rc, saved);
    }
  });
}

void MqttClient::OnPublish(struct mosquitto* /*mosq*/, void* self, int mid, int reason,
                           const mosquitto_property* /*props*/) {
  Guarded("puback", [&] {
    static_cast<MqttClient*>(self)->events_.OnPuback(static_cast<uint16_t>(mid), reason);
  });
}

void MqttClient::OnSubscribe(struct mosquitto* /*mosq*/, void* self, int /*mid*/, int count,
                             const int* granted, const mosquitto_property* /*props*/) {
  Guarded("suback", [&] {
    static_cast<MqttClient*>(self)->events_.OnSubscribed(count > 0 ? granted[0] : 0x80);
  });
}

void MqttClient::OnMessageArrived(struct mosquitto* /*mosq*/, void* self,
                                  const mosquitto_message* message,
                                  const mosquitto_property* /*props*/) {
  Guarded("message", [&] {
    if (message == nullptr || message->topic == nullptr || message->payloadlen < 0) return;
    static_cast<MqttClient*>(self)->events_.OnMessage(
        message->topic, std::string_view(static_cast<const char*>(message->payload),
                                         static_cast<size_t>(message->payloadlen)));
  });
}

void MqttClient::OnLog(struct mosquitto* /*mosq*/, void* self, int level, const char* text) {
  Guarded("log", [&] {
    if (text == nullptr) return;
    auto* c = static_cast<MqttClient*>(self);
    const std::string_view line(text);
    if ((level & MOSQ_LOG_ERR) != 0 && line.rfind("OpenSSL Error", 0) == 0 &&
        c->tls_error_.empty()) {
      c->tls_error_ = ShortOpensslText(line);
    }
    spdlog::debug("event=mqtt-log text=\"{}\"", line);
  });
}

}  // namespace edgetrust::cloud
