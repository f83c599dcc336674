// A small blocking MQTT client over a TlsStream, for edgetrust-sensor and the gateway benchmark:
// MQTT 3.1.1 or 5, QoS 0 and 1, many QoS 1 messages in flight on one connection.
//
// Nothing runs in the background. The calls that wait (Connect, a Publish with a full window,
// Subscribe, Poll, WaitAllAcked) read and handle whatever arrives meanwhile: PUBACKs call
// on_ack, PUBLISHes call on_message (and QoS 1 ones are acknowledged after it returns), and
// PINGREQ goes out when the keep-alive is due. A caller that does not publish for a while calls
// Poll() so that acknowledgements and commands are seen and the keep-alive holds.
//
// Errors: a refused CONNECT names the code ("bad user name or password (CONNACK code 4)") as
// kPermissionDenied (credentials, authorization), kUnsupported (protocol version),
// kInvalidArgument (our request was refused as invalid) or kUnavailable (the server cannot serve
// now). A connection that breaks (closed, reset, a timeout, a malformed packet from the server,
// an MQTT 5 DISCONNECT) makes the call fail, mostly with kUnavailable, and every later call fail
// with the same status: the caller connects a new Client and sends what was not acknowledged
// again. Invalid arguments (a wildcard topic, QoS 2) are kInvalidArgument and leave the
// connection as it was.
// Ownership: the Client owns its TlsStream. Thread safety: one thread at a time; the callbacks
// run on that thread, inside the call that read the packet, and must not call the Client.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"
#include "mqtt/codec.h"
#include "mqtt/tls_stream.h"

namespace edgetrust::mqtt {

class Client {
 public:
  struct Options {
    Version version = Version::k311;
    std::string client_id;
    std::optional<std::string> username;
    std::optional<std::string> password;
    uint16_t keep_alive = 30;  // seconds; 0: none
    bool clean_start = true;
    // QoS 1 messages unacknowledged at most; an MQTT 5 server's receive maximum lowers it.
    uint16_t window = 64;
    // The longest wait for what the server owes: CONNACK, SUBACK, a PUBACK when the window is
    // full, PINGRESP.
    int timeout_ms = 30000;
    // Largest packet accepted from the server (announced to an MQTT 5 server).
    size_t max_packet_size = kDefaultMaxPacketSize;
  };

  // Sends CONNECT and waits for the CONNACK.
  static Result<std::unique_ptr<Client>> Connect(std::unique_ptr<TlsStream> stream,
                                                 const Options& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Publishes at QoS 0 or 1 (`dup` marks a QoS 1 message sent again). With `window` QoS 1
  // messages unacknowledged, first waits (handling input) for a PUBACK. Returns the packet id,
  // 0 for QoS 0.
  Result<uint16_t> Publish(std::string_view topic, std::string_view payload, uint8_t qos,
                           bool dup = false);
  // Subscribes with QoS 0 or 1 and waits for the SUBACK. A refused filter is kPermissionDenied
  // naming the code; the connection stays usable.
  Status Subscribe(std::string_view filter, uint8_t qos);
  Status Unsubscribe(std::string_view filter);
  // Waits up to `timeout_ms` for input and handles what arrived; returns after the first batch
  // or when the time is up, whichever is first.
  Status Poll(int timeout_ms);
  // Handles input until every QoS 1 message is acknowledged. kUnavailable (the connection stays
  // usable) when some still are not after `timeout_ms`.
  Status WaitAllAcked(int timeout_ms);
  // Sends DISCONNECT and closes the connection.
  Status Disconnect();

  size_t inflight() const { return inflight_; }
  uint16_t window() const { return window_; }
  bool connected() const { return broken_.ok(); }
  Version version() const { return options_.version; }
  const Connack& connack() const { return connack_; }
  const TlsStream& stream() const { return *stream_; }

  std::function<void(uint16_t packet_id, uint8_t reason)> on_ack;
  std::function<void(const mqtt::Publish&)> on_message;

 private:
  using Clock = std::chrono::steady_clock;
  enum class IdUse : uint8_t { kFree, kPublish, kSubscribe };

  Client(std::unique_ptr<TlsStream> stream, const Options& options);
  Status AwaitConnack();
  Status Send(const std::string& bytes);
  // Keep-alive, then one read waiting up to `wait_ms`, and every complete packet handled.
  // Returns how many packets were handled.
  Result<size_t> Step(int wait_ms);
  Status Handle(Packet& packet);
  Status KeepAlive();
  int MsUntilKeepAlive() const;
  // Ends the connection with `status`, which every later call returns.
  Status Fail(Status status);
  uint16_t TakePacketId(IdUse use);
  // SUBSCRIBE/UNSUBSCRIBE: waits for the acknowledgement of `id`.
  Result<std::vector<uint8_t>> AwaitSubscriptionAck(uint16_t id, std::string_view what);

  std::unique_ptr<TlsStream> stream_;
  Options options_;
  Decoder decoder_;
  Connack connack_;
  bool have_connack_ = false;
  uint16_t window_ = 1;
  uint16_t keep_alive_s_ = 0;
  uint32_t server_max_packet_ = 0;
  std::vector<IdUse> ids_;  // by packet id
  uint16_t last_id_ = 0;
  size_t inflight_ = 0;
  uint16_t awaited_ack_id_ = 0;
  std::optional<std::vector<uint8_t>> awaited_codes_;
  Clock::time_point last_sent_;
  std::optional<Clock::time_point> ping_sent_;
  std::string read_buffer_;
  Status broken_;
};

}  // namespace edgetrust::mqtt
