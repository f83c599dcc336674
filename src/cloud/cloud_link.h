// The gateway's link to the cloud: an MQTT client (3.1.1 or 5, libmosquitto) over mutual TLS
// that forwards the messages of a MessageSource and hands commands from the cloud to a callback
// (docs/cloud-link.md).
//
// - TLS: the caller's SSL_CTX (identity::BuildTlsContext: the device certificate, its private key
//   in the secure domain through the edgetrust provider, the cloud trust bundle). Create() adds
//   the server-name check to it (server_check.h): a broker whose certificate does not chain to
//   the bundle, or does not carry server_name, is refused with OpenSSL's reason.
// - Delivery: QoS 1, at least once. A message leaves the source (MessageSource::Ack) only when
//   the broker acknowledged it (PUBACK); when the connection ends, everything unacknowledged goes
//   back (MessageSource::Return) and is sent again on a later connection. Up to max_inflight
//   messages are in flight at once; the source is read in batches.
// - Connection: Start() returns at once and a network thread connects in the background; when
//   the connection fails or ends it reconnects after a jittered exponential backoff
//   (backoff.h). Every event is one log line (event=cloud-connected, cloud-disconnected,
//   cloud-refused, cloud-unreachable, ...) and the last reason is kept in LinkStatus::last_error.
// - Commands: the profile's command filter is subscribed at QoS 1 on every connection; each
//   command for a leaf goes to the CommandHandler, on the network thread (so it must not block:
//   it delays acknowledgements). Commands whose topic names no leaf, or larger than
//   max_command_bytes, are logged and ignored.
//
// Threads: a network thread (libmosquitto, poll loop, acknowledgements, commands) and a feeder
// thread (Take from the source, topics and envelopes), both started by Start() and joined by
// Stop().
// Thread safety: Status() from any thread; Start and Stop from one thread (the owner's).
// Ownership: the link borrows the source, the SSL_CTX and whatever the handler captures; all must
// outlive it (or at least Stop()).
// Errors: Create() returns kInvalidArgument for bad options (naming the option), kInternal when
// the TLS context or an eventfd cannot be set up; the link itself never fails after that, it keeps
// reconnecting until stopped.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cloud/backoff.h"
#include "cloud/inflight_table.h"
#include "cloud/message_source.h"
#include "cloud/mqtt_client.h"
#include "cloud/profile.h"
#include "edgetrust/status.h"

namespace edgetrust::cloud {

struct CloudOptions {
  std::string host;
  uint16_t port = 8883;
  std::string server_name;     // the name the broker's certificate must carry; empty: host
  std::string device_id;       // {device}, the envelope's "gateway"
  int mqtt_version = 4;        // 4: MQTT 3.1.1, 5: MQTT 5
  uint16_t keep_alive_s = 30;  // also how long a connection attempt may take (5..65535)
  Profile profile;
  uint32_t max_inflight = 512;  // QoS 1 messages sent and not yet acknowledged (1..32768)
  uint32_t backoff_min_ms = 250;
  uint32_t backoff_max_ms = 30000;
  SSL_CTX* ssl_ctx = nullptr;  // borrowed, outlives the link; configured in place by Create()
  bool clean_session = true;   // false: the broker keeps our command subscription while away
  size_t max_command_bytes = 256 * 1024;
  // A connection that lasted this long resets the backoff to backoff_min_ms.
  uint32_t stable_after_ms = 10000;
};

enum class LinkState { kStopped, kConnecting, kConnected, kBackoff };

struct LinkStatus {
  LinkState state = LinkState::kStopped;
  std::string last_error;          // why the last connection failed or ended; "" if none did
  int64_t connected_since_ms = 0;  // Unix ms of the current (or last) connection
  int64_t last_change_ms = 0;      // Unix ms of the last state change
  uint64_t connects_total = 0;     // connections the broker accepted
  uint64_t disconnects_total = 0;  // accepted connections that ended (not counting Stop)
  uint64_t forwarded_total = 0;    // messages the broker acknowledged
  uint64_t inflight = 0;           // messages taken from the source and not yet acknowledged
  uint64_t commands_total = 0;     // commands handed to the handler
  uint64_t dropped_total = 0;      // messages that can never be delivered (docs/cloud-link.md)
  uint32_t next_retry_ms = 0;      // in kBackoff: time left until the next attempt
  std::string tls_version;         // of the current connection
};

using CommandHandler =
    std::function<void(std::string leaf, std::string subtopic, std::string payload)>;

class CloudLink : private MqttEvents {
 public:
  static Result<std::unique_ptr<CloudLink>> Create(CloudOptions options, MessageSource& source,
                                                   CommandHandler on_command);
  ~CloudLink() override;
  CloudLink(const CloudLink&) = delete;
  CloudLink& operator=(const CloudLink&) = delete;

  // Starts the threads and returns at once; the link connects in the background.
  // kFailedPrecondition when called twice or after Stop().
  ::edgetrust::Status Start();
  // Disconnects cleanly, gives everything in flight back to the source, joins the threads.
  // Returns promptly in every state (connecting, connected, in backoff). Idempotent.
  void Stop();
  LinkStatus Status() const;

  // "stopped", "connecting", "connected", "backoff".
  static std::string_view StateName(LinkState state);

 private:
  // A message ready to publish: built by the feeder, published by the network thread. Batches
  // of these cycle between the two threads with their strings' capacity kept, so steady-state
  // forwarding allocates nothing of ours per message.
  struct Prepared {
    uint64_t id = 0;
    std::string topic;
    std::string payload;
    std::string leaf;  // MQTT 5 user properties
    std::string seq;
  };
  struct Batch {
    std::vector<Prepared> items;
    size_t size = 0;
    Prepared& Next() {
      if (size == items.size()) items.emplace_back();
      return items[size++];
    }
  };
  struct SessionEnd {
    CloseKind kind = CloseKind::kLocal;
    std::string reason;
    bool was_connected = false;
    std::chrono::steady_clock::duration connected_for{};
    size_t returned = 0;
  };

  CloudLink(CloudOptions options, MessageSource& source, CommandHandler on_command);

  void NetworkLoop();
  SessionEnd RunSession();
  void PublishPending();
  void FinishStop();
  void FlushAcks();
  void FeedLoop();
  void WakeNetwork();
  bool StopRequested() const;
  void SetState(LinkState state);

  // MqttEvents, on the network thread.
  void OnConnected() override;
  void OnPuback(uint16_t mid, int reason_code) override;
  void OnSubscribed(int granted_qos) override;
  void OnMessage(std::string_view topic, std::string_view payload) override;

  const CloudOptions options_;
  MessageSource& source_;
  const CommandHandler on_command_;
  CompiledProfile profile_;
  std::string broker_;  // "host:port", for logs
  int wake_fd_ = -1;    // eventfd: the feeder and Stop() wake the network thread's poll

  mutable std::mutex mu_;
  std::condition_variable cv_;  // feeder: room or a session; backoff: Stop()
  bool started_ = false;
  bool stopping_ = false;
  bool session_open_ = false;  // the feeder may hand messages over
  uint64_t session_epoch_ = 0;
  size_t reserved_ = 0;  // handed over and not yet acknowledged, dropped or returned
  Batch pending_;        // handed over, not yet published
  LinkStatus status_;
  std::chrono::steady_clock::time_point retry_at_;

  // Network thread only.
  std::unique_ptr<MqttClient> client_;
  InflightTable inflight_;
  Batch work_;
  Backoff backoff_;
  bool connected_ = false;
  bool subscribe_pending_ = false;
  std::chrono::steady_clock::time_point connected_at_;
  size_t freed_ = 0;               // acknowledged or dropped since the last FlushAcks
  uint64_t acked_ = 0;             // acknowledged since the last FlushAcks
  uint64_t dropped_ = 0;           // dropped since the last FlushAcks
  std::vector<uint64_t> refused_;  // refused by the broker for now: to be returned
  std::string refusal_;            // why, for the session's end

  // Feeder thread only.
  Batch fill_;

  std::thread feeder_;
  std::thread network_;
};

}  // namespace edgetrust::cloud
