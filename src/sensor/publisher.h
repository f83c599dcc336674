// The sensor's main loop: connect, take readings at the configured rate and publish them, keep
// every QoS 1 reading until the gateway acknowledges it, and on a lost connection reconnect
// (Backoff) and send the unacknowledged readings again with the same n and the DUP flag.
//
// What ends it: all readings taken and acknowledged (exit 0); a stop request (SIGINT/SIGTERM),
// after up to 10 s for what is in flight; or a refusal that retrying cannot fix: the TLS
// handshake or CONNACK refused, a PUBACK that refuses a reading (MQTT 5 reason >= 0x80, except
// the transient quota exceeded / unspecified / implementation specific / packet id in use, after
// which the reading is sent again on a new connection), or, in MQTT 3.1.1, which cannot say why,
// the gateway closing the connection three times in a row while readings were in flight and
// none was acknowledged (exit 1, with the reason).
//
// Thread safety: one thread; `stop` is set from a signal handler.
#pragma once

#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "mqtt/client.h"
#include "sensor/backoff.h"
#include "sensor/credentials.h"
#include "sensor/options.h"
#include "sensor/output.h"
#include "sensor/reading.h"

namespace edgetrust::sensor {

// Connects to the gateway with `ctx`: TLS, then CONNECT as `options.name` (with the user name
// and password when given), waiting for the CONNACK.
Result<std::unique_ptr<mqtt::Client>> ConnectToGateway(const SensorOptions& options, SSL_CTX* ctx,
                                                       std::optional<std::string> username = {},
                                                       std::optional<std::string> password = {});

// Whether an error is worth retrying (the gateway is unreachable or went away) rather than a
// refusal.
bool IsTransient(const Status& status);

// Sleeps for `delay`, waking early when `stop` is set.
void SleepUnlessStopped(std::chrono::milliseconds delay, const volatile std::sig_atomic_t* stop);

class Publisher {
 public:
  Publisher(const SensorOptions& options, const Output& output,
            const volatile std::sig_atomic_t* stop);

  // Runs until done; the process exit status.
  int Run(const Credentials& credentials);

 private:
  struct Pending {
    double temp_c = 0;
    std::string payload;
  };

  // One connection's life: resend, publish, drain. OK when everything is done and acknowledged;
  // the error that ended the connection otherwise.
  Status Session(mqtt::Client& client);
  Status PublishReading(mqtt::Client& client);
  void OnAck(uint16_t packet_id, uint8_t reason);
  bool AllTaken() const { return options_.count != 0 && next_n_ > options_.count; }
  bool Stopping();
  int Finish(int code);

  const SensorOptions& options_;
  const Output& out_;
  const volatile std::sig_atomic_t* stop_;
  TemperatureModel model_;
  Backoff backoff_;
  std::map<uint64_t, Pending> unacked_;        // QoS 1 readings by n
  std::map<uint16_t, uint64_t> inflight_ids_;  // packet id -> n, this connection
  uint64_t next_n_ = 1;
  uint64_t sent_ = 0;
  uint64_t acked_ = 0;
  uint64_t reconnects_ = 0;
  uint64_t session_acks_ = 0;
  int silent_closes_ = 0;
  std::optional<std::string> fatal_;   // a refusal: exit 1 with it
  std::optional<std::string> resend_;  // a transient refusal: reconnect and send again
  std::optional<std::chrono::steady_clock::time_point> stop_deadline_;
  std::chrono::steady_clock::time_point last_progress_;
};

}  // namespace edgetrust::sensor
