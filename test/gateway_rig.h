// The reference scenario's processes, for the gateway's tests and its benchmark: edgetrust-sd
// (emulated), a provisioned device, a "cloud" mosquitto with mutual TLS (its own CA, which the
// gateway trusts for purpose cloud; it accepts the device CA's and its own clients), a cloud
// subscriber (mosquitto_sub with a persistent session, so nothing published while it reconnects
// is lost to it), edgetrust-agent, and sensors.
//
// Everything lives in one TempDir and listens on loopback ports picked at run time; the agent's
// hub port is fixed for the rig's life, so sensors find a restarted agent where it was.
//
// Ownership: the rig owns every process it started and stops them on destruction. One thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "child_process.h"
#include "harness.h"
#include "mosquitto.h"

namespace edgetrust::test {

std::string AgentBinary();
std::string SensorBinary();

class GatewayRig {
 public:
  static constexpr const char* kDeviceId = "gw-test";

  explicit GatewayRig(const TempDir& dir);
  ~GatewayRig();

  // edgetrust-sd, provisioning, the cloud CA and certificates, trust. False with `error` set.
  bool Setup(std::string* error);

  // The cloud broker (persistent sessions; no per-client queue limit).
  bool StartCloud();
  MosquittoProcess& cloud() { return *cloud_; }
  // mosquitto_sub on the cloud for `filter`, QoS 1, persistent session, output in a file.
  bool StartSubscriber(const std::string& filter = "gateways/#");
  std::string SubscriberOutput() const;

  // The agent's config text; `extra` is appended (TOML tables must not repeat ours).
  std::string AgentConfig(const std::string& extra_agent = "", const std::string& extra = "") const;
  bool StartAgent(const std::string& config_text = "");
  void KillAgent();  // SIGKILL
  int StopAgent();   // SIGTERM
  ChildProcess& agent() { return agent_; }
  std::string AgentLog() const;
  bool WaitForAgentLog(const std::string& text, int timeout_s = 60) const;
  int hub_port() const { return hub_port_; }

  // edgetrust ... with --cert-dir and the agent socket set.
  CommandResult Cli(std::vector<std::string> args) const;
  // `edgetrust leaf add NAME`: the enrollment token, or with psk the PSK hex. "" on failure.
  std::string AddLeaf(const std::string& name, const std::string& mode = "enrollment",
                      const std::string& ttl = "") const;
  // A key and certificate from the device CA for leaf `name` (issued with `edgetrust cert issue`),
  // written to DIR/NAME.key and DIR/NAME.pem. False with `error`.
  bool IssueLeafCertificate(const std::string& name, std::string* error) const;
  // A key and certificate from a CA the gateway does not trust.
  bool IssueForeignCertificate(const std::string& name, std::string* error) const;

  // edgetrust-sensor with the hub's address and CA, plus `args`; output in DIR/NAME.log.
  ChildProcess& StartSensor(const std::string& name, const std::vector<std::string>& args);
  std::vector<std::string> SensorBaseArgs(const std::string& name) const;

  const std::string& sd_socket() const { return sd_->socket(); }
  std::string cert_dir() const { return dir_.File("certs"); }
  std::string device_ca_pem() const { return dir_.File("certs/device-ca/current/cert.pem"); }
  std::string cloud_ca_pem() const { return dir_.File("cloud-ca.pem"); }
  std::string agent_socket() const { return dir_.File("agent.sock"); }
  std::string File(const std::string& name) const { return dir_.File(name); }
  // openssl with the given arguments (no provider).
  CommandResult Openssl(std::vector<std::string> args) const;

  // Readings the subscriber got: (leaf, n) -> count, from envelopes whose data carries "n".
  // `bad` counts lines that did not parse or whose leaf did not match the payload's sensor.
  std::map<std::pair<std::string, long>, int> CloudReadings(int* bad = nullptr) const;

 private:
  const TempDir& dir_;
  std::unique_ptr<SdProcess> sd_;
  std::unique_ptr<MosquittoProcess> cloud_;
  ChildProcess subscriber_;
  ChildProcess agent_;
  std::map<std::string, std::unique_ptr<ChildProcess>> sensors_;
  int hub_port_ = 0;
  std::string last_config_;
};

}  // namespace edgetrust::test
