// edgetrust-agent: the gateway daemon, wired from its configuration (agent_config.h).
//
// Start() brings the parts up in dependency order: the secure domain (every key operation goes
// there), the certificate folder and the device identity, the leaf registry and the durable queue,
// then the cloud link, the leaf hub, the control socket and the metrics endpoint. Any failure is
// one clear error and nothing half-started is left running. Stop() takes them down in reverse:
// no new leaf messages, the queue committed, the cloud link closed.
//
// The agent answers the control socket (status, leaf add/list/revoke) as its ControlHandler and
// renders the metrics.
//
// Thread safety: Start and Stop from one thread; Handle and RenderMetrics from any.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/agent_config.h"
#include "agent/control_protocol.h"
#include "agent/control_server.h"
#include "edgetrust/status.h"
#include "identity/x509_ptr.h"

namespace edgetrust::store {
class MessageQueue;
}
namespace edgetrust::cloud {
class CloudLink;
}
namespace edgetrust::docker {
class ContainerEngine;
}
namespace edgetrust::guard {
class ContainerGuard;
}

namespace edgetrust::agent {

class LeafRegistry;
class Enroller;
class LeafHub;
class MetricsServer;
class QueueSource;

class Agent : public ControlHandler {
 public:
  explicit Agent(AgentConfig config);
  ~Agent() override;

  Status Start();
  void Stop();

  nlohmann::json Handle(const nlohmann::json& request, const PeerCred& peer) override;
  std::string RenderMetrics();

 private:
  nlohmann::json Status_();
  // leaf-add, leaf-list, leaf-revoke: the registry's answer (control_protocol.h), plus what
  // only the running agent knows (who is connected) and does (disconnecting a revoked leaf).
  nlohmann::json LeafRequest(const ControlRequest& request);
  void OnCommand(std::string leaf, std::string subtopic, std::string payload);
  // deploy, modules, events: the container guard's answers.
  nlohmann::json ContainerRequest(const ControlRequest& request);
  Status StartContainerGuard();
  // Queues a container-guard event for the cloud (leaf kGatewayLeaf, subtopic events/container).
  void ReportEvent(const nlohmann::json& event);
  // A deployment from the cloud's command topic, run off the network thread.
  void DeployFromCloud(std::string payload);

  AgentConfig config_;
  std::string device_id_;
  int64_t started_ms_ = 0;
  SslCtxPtr hub_ctx_;
  SslCtxPtr cloud_ctx_;
  std::unique_ptr<LeafRegistry> registry_;
  std::unique_ptr<store::MessageQueue> queue_;
  std::unique_ptr<QueueSource> source_;
  std::unique_ptr<Enroller> enroller_;
  std::unique_ptr<cloud::CloudLink> cloud_;
  std::unique_ptr<LeafHub> hub_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<docker::ContainerEngine> engine_;
  std::unique_ptr<guard::ContainerGuard> guard_;
  std::mutex cloud_deploy_mu_;
  std::thread cloud_deploy_;
  std::atomic<bool> cloud_deploy_busy_{false};
  bool cloud_deploy_closed_ = false;  // under cloud_deploy_mu_: Stop() has begun
};

// The sender of the gateway's own messages (container-guard events) and the target of its own
// commands (deploy) on the cloud link: no leaf name can start with '_'.
inline constexpr char kGatewayLeaf[] = "_gateway";

}  // namespace edgetrust::agent
