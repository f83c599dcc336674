// One leaf sensor's connection to the hub: TLS handshake, authentication, MQTT session, durable
// acknowledgement of its messages and delivery of its commands (leaf_hub.h has the picture).
//
// Run() is the connection's thread. Close() and CommandsPending() may be called from any thread;
// they wake the connection through an eventfd. name(), auth() and the like are stable once the
// session registered with the hub (after an accepted CONNECT).
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/leaf_registry.h"
#include "edgetrust/client.h"
#include "edgetrust/secret.h"
#include "mqtt/codec.h"
#include "store/message_queue.h"

namespace edgetrust::agent {

class LeafHub;

class LeafSession {
 public:
  LeafSession(LeafHub& hub, int fd, std::string address);
  ~LeafSession();
  LeafSession(const LeafSession&) = delete;
  LeafSession& operator=(const LeafSession&) = delete;

  void Run();
  void Close(const std::string& reason);
  void CommandsPending();
  bool finished() const { return finished_.load(); }

  const std::string& name() const { return name_; }
  std::string_view auth_name() const;
  const std::string& address() const { return address_; }
  int64_t since_ms() const { return since_ms_; }
  int mqtt_version() const { return static_cast<int>(version_); }

  // The hub context's PSK callback lands here (through the SSL's ex-data).
  unsigned int ServePsk(const char* identity, unsigned char* psk, unsigned int max_len);
  static int SessionIndex();

 private:
  enum class Io { kOk, kWait, kClosed, kError };
  enum class Mode { kNone, kLeaf, kEnrollment };

  bool Handshake();
  bool AwaitConnect();
  bool HandleConnect(const mqtt::Connect& connect);
  void Serve();
  // Reads what is available into the decoder; kWait when nothing more is there now.
  Io ReadAvailable();
  bool WriteAll(const std::string& data);
  bool WaitFd(short events, int timeout_ms);
  bool HandlePacket(mqtt::Packet& packet, std::vector<store::IncomingMessage>& batch,
                    std::vector<uint16_t>& ack_ids, std::string& out);
  bool HandleEnrollPublish(const mqtt::Publish& publish, std::string& out);
  bool CommitBatch(std::vector<store::IncomingMessage>& batch, std::vector<uint16_t>& ack_ids,
                   std::string& out);
  void DeliverCommands(std::string& out);
  bool Refuse(const std::string& reason_key, const std::string& detail, uint8_t code_311,
              uint8_t code_5);
  void RefusePublish(const std::string& detail, uint16_t packet_id, uint8_t qos);
  void Log(const std::string& event, const std::string& detail) const;

  LeafHub& hub_;
  int fd_;
  int wake_fd_ = -1;
  std::string address_;
  SSL* ssl_ = nullptr;
  mqtt::Decoder decoder_;
  mqtt::Version version_ = mqtt::Version::k311;
  Mode mode_ = Mode::kNone;
  LeafAuth auth_ = LeafAuth::kCertificate;
  std::string name_;
  std::string psk_identity_;    // set by ServePsk for an accepted identity
  std::string enroll_token_;
  int64_t since_ms_ = 0;
  uint16_t keep_alive_s_ = 0;
  bool commands_subscribed_ = false;
  bool enroll_subscribed_ = false;
  uint16_t next_packet_id_ = 1;
  std::map<uint16_t, uint64_t> commands_in_flight_;  // packet id -> command id
  std::unique_ptr<Client> sd_;                       // PSK derivation, this thread only

  std::atomic<bool> finished_{false};
  std::atomic<bool> close_requested_{false};
  std::mutex close_mu_;
  std::string close_reason_;
};

}  // namespace edgetrust::agent
