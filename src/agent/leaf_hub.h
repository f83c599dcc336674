// The leaf hub: the gateway's TLS listener for leaf sensors speaking MQTT 3.1.1 or 5
// (docs/leaves.md, "The hub on the wire").
//
// Each connection runs in a thread of its own (LeafSession) with a non-blocking socket, so the
// thread can wait at once for the leaf, for its commit to become durable and for a close or
// command request from elsewhere. A leaf is authenticated by exactly one of: a client certificate
// from the leaf CA, TLS-PSK (identity = name, key derived in the secure domain), or an enrollment
// token in CONNECT (which allows nothing but enrolling). Its name comes from that authentication,
// never from what it sends; it may publish only under "NAME/". A PUBLISH is acknowledged only after
// the queue made it durable; everything read in one go from a connection goes into one append, and
// the queue's group commit merges the appends of all connections.
//
// Thread safety: all public methods may be called from any thread. Stop() closes every connection
// and joins their threads.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/enroller.h"
#include "agent/leaf_registry.h"
#include "edgetrust/status.h"
#include "store/message_queue.h"

namespace edgetrust::agent {

class LeafSession;

struct LeafHubOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8884;  // 0: any free port
  uint32_t max_connections = 1024;
  uint32_t max_packet_size = 256 * 1024;
  uint32_t handshake_timeout_ms = 10000;
  bool psk = true;
  std::string sd_socket;  // for PSK derivation
};

struct ConnectedLeaf {
  std::string name;
  std::string auth;  // "certificate", "psk", "enrollment"
  std::string address;
  int64_t since_ms = 0;
  int mqtt_version = 4;
};

struct HubStats {
  uint64_t accepted_total = 0;
  uint64_t received_total = 0;  // PUBLISH packets stored
  uint64_t acked_total = 0;     // PUBACKs sent after durable storage
  uint64_t commands_delivered_total = 0;
  std::map<std::string, uint64_t> refused_total;  // by reason
};

class LeafHub {
 public:
  // `ctx` (owned by the caller, outliving the hub) is the hub's server context: its certificate,
  // the leaf CA as trust for optional client certificates, and, with options.psk, a PSK callback
  // installed by InstallPskCallback.
  LeafHub(LeafHubOptions options, SSL_CTX* ctx, store::MessageQueue& queue,
          LeafRegistry& registry, Enroller& enroller);
  ~LeafHub();
  LeafHub(const LeafHub&) = delete;
  LeafHub& operator=(const LeafHub&) = delete;

  // Sets up `ctx` for leaves: PSK callback (when enabled), session cache off, TLS 1.2 PSK suites.
  static Status PrepareContext(SSL_CTX* ctx, bool psk);

  // Binds and starts accepting. kIoError when the address cannot be bound.
  Status Start();
  void Stop();
  uint16_t port() const { return bound_port_; }

  // Closes the leaf's connection now (revocation); it is refused afterwards by the registry.
  void Disconnect(std::string_view leaf, const std::string& reason);
  // A command for `leaf` was queued: its connection, if any, delivers it.
  void CommandsPending(std::string_view leaf);

  std::vector<ConnectedLeaf> Connected() const;
  HubStats Stats() const;

  // For sessions.
  const LeafHubOptions& options() const { return options_; }
  SSL_CTX* ctx() const { return ctx_; }
  store::MessageQueue& queue() { return queue_; }
  LeafRegistry& registry() { return registry_; }
  Enroller& enroller() { return enroller_; }
  bool stopping() const { return stopping_.load(); }
  // The session authenticated as `leaf`: the previous connection of the same leaf is closed
  // (MQTT's session take-over).
  void Register(LeafSession* session);
  void Unregister(LeafSession* session);
  void CountRefused(const std::string& reason);
  void CountReceived(uint64_t n);
  void CountAcked(uint64_t n);
  void CountCommandDelivered();

 private:
  void AcceptLoop();
  void ReapFinished();

  LeafHubOptions options_;
  SSL_CTX* ctx_;
  store::MessageQueue& queue_;
  LeafRegistry& registry_;
  Enroller& enroller_;

  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() wakes the accept loop
  uint16_t bound_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  struct Running {
    std::shared_ptr<LeafSession> session;
    std::thread thread;
  };
  mutable std::mutex mu_;
  std::list<Running> sessions_;                       // every connection thread
  std::map<std::string, LeafSession*, std::less<>> by_name_;  // authenticated ones
  HubStats stats_;
};

}  // namespace edgetrust::agent
