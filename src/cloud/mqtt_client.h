// One connection to the cloud broker through libmosquitto, driven by the caller's poll loop.
//
// The link makes one MqttClient per connection attempt and drops it when the connection ends, so
// nothing of an old session (libmosquitto's own queue and retries) leaks into the next one: what
// was in flight goes back to the message source instead. The client never runs a thread of its
// own and never calls mosquitto_loop(): the caller polls fd() for PollEvents() together with its
// own wake-up descriptor and calls Service() with what poll reported (libmosquitto's external
// event loop API: mosquitto_loop_read / _write / _misc). Publishing from the same thread outside
// callbacks makes libmosquitto write the packet at once (no hand-off to another thread).
//
// libmosquitto 2.0.11 behaviour this relies on (lib/net_mosq.c, lib/loop.c, lib/options.c):
//   - MOSQ_OPT_SSL_CTX with MOSQ_OPT_SSL_CTX_WITH_DEFAULTS = 0 uses our SSL_CTX as is (one
//     reference taken, dropped by mosquitto_destroy); it sets SNI to the host, and checks neither
//     the chain nor the name (server_check.h puts both on the context).
//   - mosquitto_connect_bind_async resolves the host (blocking getaddrinfo), starts a
//     non-blocking TCP connect and the TLS handshake; mosquitto_loop_read continues the handshake
//     while it is incomplete and returns MOSQ_ERR_TLS without a disconnect callback when it fails.
//   - Before CONNACK, mosquitto_loop_misc gives up after keep_alive_s without an answer.
//   - MOSQ_OPT_SEND_MAXIMUM bounds QoS 1 messages in flight; an MQTT 5 broker's Receive Maximum
//     lowers it (messages beyond it wait in libmosquitto's queue and go out as PUBACKs arrive).
//   - The on_publish callback fires for a QoS 1 message when its PUBACK arrives, with the MQTT 5
//     reason code (0 for MQTT 3.1.1).
//   - With a log callback set libmosquitto formats (and allocates) a line per packet, so the log
//     callback, which catches OpenSSL's error text, is on only until CONNACK.
//
// Thread safety: none; one thread (the link's network thread) uses an object and receives every
// MqttEvents call on that thread, from inside Service(). Errors: Start fails (kInternal,
// kResourceExhausted) only when libmosquitto cannot be set up; a connection that cannot be made
// is a closed client with close_kind() and close_reason().
#pragma once

#include <openssl/ssl.h>
#include <poll.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "cloud/server_check.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"

struct mosquitto;
struct mosquitto_message;
typedef struct mqtt5__property mosquitto_property;

namespace edgetrust::cloud {

struct MqttClientOptions {
  std::string host;
  uint16_t port = 0;
  int mqtt_version = 4;  // 4: MQTT 3.1.1, 5: MQTT 5
  uint16_t keep_alive_s = 30;
  bool clean_session = true;
  std::string client_id;
  std::string username;                   // empty: none
  const SecretBytes* password = nullptr;  // borrowed for Start(); none when null
  SSL_CTX* ssl_ctx = nullptr;             // borrowed; libmosquitto holds a reference
  uint32_t max_inflight = 512;
};

// Why a connection ended.
enum class CloseKind {
  kUnreachable,     // no TCP connection, or no answer before CONNACK
  kTlsRefused,      // the handshake failed: the broker's certificate, or the broker refused ours
  kConnackRefused,  // the broker answered CONNECT with a refusal
  kLost,            // the connection ended after CONNACK
  kLocal,           // we asked for it (Disconnect)
};

// What the broker tells the link, delivered from inside MqttClient::Service().
class MqttEvents {
 public:
  virtual ~MqttEvents() = default;
  virtual void OnConnected() = 0;                            // CONNACK accepted
  virtual void OnPuback(uint16_t mid, int reason_code) = 0;  // MQTT 5 reason, 0 in 3.1.1
  virtual void OnSubscribed(int granted_qos) = 0;            // 0x80: refused
  virtual void OnMessage(std::string_view topic, std::string_view payload) = 0;
};

// MQTT 5 user properties of a telemetry message.
struct PublishProperties {
  const char* leaf = nullptr;
  const char* seq = nullptr;
};

class MqttClient {
 public:
  static Result<std::unique_ptr<MqttClient>> Start(const MqttClientOptions& options,
                                                   MqttEvents& events);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // The socket to poll, -1 once closed.
  int fd() const;
  // POLLIN, plus POLLOUT while libmosquitto has something to write.
  short PollEvents() const;
  // Does the I/O `revents` allows (0 after a poll timeout), then keep-alive work. False once the
  // connection has ended (closed()).
  bool Service(short revents);

  // QoS 1 publish; the packet id. kInvalidArgument: this message can never be sent to this
  // broker (topic, size, UTF-8); kUnsupported: the broker does not take QoS 1; kUnavailable:
  // the connection is gone.
  Result<uint16_t> Publish(const std::string& topic, std::string_view payload,
                           const PublishProperties* properties);
  Status Subscribe(const std::string& filter);
  // Asks for a clean end (DISCONNECT); Service() then completes it.
  void Disconnect();
  // Ends the connection at once; Service() is not needed afterwards.
  void Close(CloseKind kind, std::string reason);

  bool connected() const { return connected_; }
  bool closed() const { return closed_; }
  CloseKind close_kind() const { return close_kind_; }
  const std::string& close_reason() const { return close_reason_; }
  // "TLSv1.3", "" before the handshake.
  std::string TlsVersion() const;

 private:
  explicit MqttClient(MqttEvents& events, int mqtt_version, uint16_t keep_alive_s);
  void Fail(int rc, int saved_errno);
  std::string TlsFailureText();

  static void OnConnect(struct mosquitto*, void* self, int rc, int flags,
                        const mosquitto_property* props);
  static void OnDisconnect(struct mosquitto*, void* self, int rc, const mosquitto_property* props);
  static void OnPublish(struct mosquitto*, void* self, int mid, int reason,
                        const mosquitto_property* props);
  static void OnSubscribe(struct mosquitto*, void* self, int mid, int count, const int* granted,
                          const mosquitto_property* props);
  static void OnMessageArrived(struct mosquitto*, void* self, const mosquitto_message* message,
                               const mosquitto_property* props);
  static void OnLog(struct mosquitto*, void* self, int level, const char* text);

  MqttEvents& events_;
  int mqtt_version_;
  uint16_t keep_alive_s_;
  struct mosquitto* mosq_ = nullptr;
  bool connected_ = false;
  bool closed_ = false;
  bool disconnect_requested_ = false;
  CloseKind close_kind_ = CloseKind::kUnreachable;
  std::string close_reason_;
  std::string tls_error_;     // first OpenSSL error libmosquitto logged before CONNACK
  HandshakeScope handshake_;  // why the handshake failed (verification, socket), this thread
};

// mosquitto_lib_init, once per process.
void InitMosquittoLibrary();

}  // namespace edgetrust::cloud
