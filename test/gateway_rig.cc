#include "gateway_rig.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "ports.h"

namespace edgetrust::test {
namespace {

bool Fail(std::string* error, const std::string& what, const CommandResult& r) {
  if (error != nullptr) *error = what + ": " + r.out + r.err;
  return false;
}

}  // namespace

std::string AgentBinary() { return EDGETRUST_AGENT_BIN; }
std::string SensorBinary() { return EDGETRUST_SENSOR_BIN; }

GatewayRig::GatewayRig(const TempDir& dir) : dir_(dir) {}

GatewayRig::~GatewayRig() {
  for (auto& [name, s] : sensors_) s->Kill();
  agent_.Stop(std::chrono::seconds(10));
  subscriber_.Kill();
  if (cloud_) cloud_->Stop();
  if (sd_) sd_->Stop();
}

CommandResult GatewayRig::Openssl(std::vector<std::string> args) const {
  args.insert(args.begin(), "openssl");
  return RunCommand(args);
}

CommandResult GatewayRig::Cli(std::vector<std::string> args) const {
  // --cert-dir belongs to the identity commands; the agent commands take --agent-socket.
  // The first word that is not a global flag (--json) names the command.
  std::string first;
  for (const auto& a : args) {
    if (a.rfind("--", 0) != 0) {
      first = a;
      break;
    }
  }
  if (first == "status" || first == "leaf" || first == "deploy" || first == "modules" ||
      first == "events") {
    args.push_back("--agent-socket");
    args.push_back(agent_socket());
  } else if (first == "manifest") {
    // The operator's side: no device folders.
  } else {
    args.push_back("--cert-dir");
    args.push_back(cert_dir());
  }
  return RunCli(sd_->socket(), args);
}

bool GatewayRig::Setup(std::string* error) {
  // The agent (this process's user) measures the containers it deploys into register 2, which by
  // default only admins may extend.
  SdProcess::Options so;
  so.config_text =
      "[[policy.register]]\nindex = 2\nextenders = [\"uid:" + std::to_string(::getuid()) + "\"]\n";
  sd_ = std::make_unique<SdProcess>(dir_, so);
  if (!sd_->Start()) {
    if (error) *error = "edgetrust-sd did not start: " + sd_->log();
    return false;
  }
  auto r = Cli({"provision", "--id", kDeviceId});
  if (r.exit_code != 0) return Fail(error, "provision", r);
  // The cloud: its own CA, a broker certificate for 127.0.0.1, a subscriber's client certificate.
  r = Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
               "-keyout", File("cloud-ca.key"), "-out", File("cloud-ca.pem"), "-subj",
               "/CN=Test Cloud CA", "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
               "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
  if (r.exit_code != 0) return Fail(error, "cloud CA", r);
  WriteText(File("broker.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  WriteText(File("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n");
  int serial = 1;
  for (const auto& [name, ext] :
       {std::pair<std::string, std::string>{"broker", "broker.ext"}, {"cloud-sub", "client.ext"}}) {
    r = Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", File(name + ".key"), "-out", File(name + ".csr"), "-subj",
                 "/CN=" + name});
    if (r.exit_code != 0) return Fail(error, name + " CSR", r);
    r = Openssl({"x509", "-req", "-in", File(name + ".csr"), "-CA", File("cloud-ca.pem"), "-CAkey",
                 File("cloud-ca.key"), "-set_serial", std::to_string(++serial), "-days", "2",
                 "-extfile", File(ext), "-out", File(name + ".pem")});
    if (r.exit_code != 0) return Fail(error, name + " certificate", r);
    ::chmod(File(name + ".key").c_str(), 0644);
  }
  // The broker accepts clients of its own CA (the subscriber) and of the device CA (the gateway).
  WriteText(File("cloud-clients.pem"), ReadText(File("cloud-ca.pem")) + ReadText(device_ca_pem()));
  r = Cli({"trust", "add", "--purpose", "cloud", File("cloud-ca.pem")});
  if (r.exit_code != 0) return Fail(error, "trust add", r);
  hub_port_ = PickLoopbackPort();
  return hub_port_ > 0;
}

bool GatewayRig::StartCloud() {
  MosquittoProcess::Options o;
  MosquittoProcess::Listener l;
  l.cafile = File("cloud-clients.pem");
  l.certfile = File("broker.pem");
  l.keyfile = File("broker.key");
  l.require_certificate = true;
  o.listeners = {l};
  o.user = "root";
  ::mkdir(File("cloud-db").c_str(), 0700);
  // Persistent sessions survive a broker restart (the outage), and no per-client queue limit:
  // the subscriber must see everything the gateway delivered.
  o.extra_config = {"persistence true", "persistence_location " + File("cloud-db") + "/",
                    "autosave_interval 1", "max_queued_messages 0", "max_inflight_messages 0"};
  cloud_ = std::make_unique<MosquittoProcess>(dir_, o);
  return cloud_->Start();
}

bool GatewayRig::StartSubscriber(const std::string& filter) {
  const bool ok = subscriber_.Start(
      {"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(cloud_->port()), "--cafile",
       cloud_ca_pem(), "--cert", File("cloud-sub.pem"), "--key", File("cloud-sub.key"), "-i",
       "cloud-sub", "-c", "-q", "1", "-t", filter, "-v"},
      File("cloud-sub.out"));
  return ok && cloud_->WaitForLog("Sending SUBACK to cloud-sub");
}

std::string GatewayRig::SubscriberOutput() const { return ReadText(File("cloud-sub.out")); }

std::string GatewayRig::AgentConfig(const std::string& extra_agent,
                                    const std::string& extra) const {
  std::ostringstream c;
  c << "[agent]\n"
    << "state_dir = \"" << File("agent") << "\"\n"
    << "sd_socket = \"" << sd_->socket() << "\"\n"
    << "cert_dir = \"" << cert_dir() << "\"\n"
    << "control_socket = \"" << agent_socket() << "\"\n"
    << "log_level = \"debug\"\n"
    << extra_agent << "\n"
    << "[cloud]\n"
    << "host = \"127.0.0.1\"\n"
    << "port = " << (cloud_ ? cloud_->port() : 1) << "\n"
    << "backoff_min_ms = 100\nbackoff_max_ms = 1000\n"
    << "[leaf_hub]\n"
    << "listen = \"127.0.0.1:" << hub_port_ << "\"\n"
    << extra;
  return c.str();
}

bool GatewayRig::StartAgent(const std::string& config_text) {
  if (!config_text.empty() || last_config_.empty()) {
    last_config_ = config_text.empty() ? AgentConfig() : config_text;
  }
  WriteText(File("agent.toml"), last_config_);
  // The log is appended to across restarts: this start is ready at one more event=ready.
  auto ready_lines = [this] {
    const std::string log = AgentLog();
    size_t n = 0;
    for (size_t at = log.find("event=ready"); at != std::string::npos;
         at = log.find("event=ready", at + 1)) {
      ++n;
    }
    return n;
  };
  const size_t before = ready_lines();
  if (!agent_.Start({AgentBinary(), "--config", File("agent.toml")}, File("agent.log"))) {
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready_lines() > before) return true;
    if (!agent_.running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void GatewayRig::KillAgent() { agent_.Kill(); }
int GatewayRig::StopAgent() { return agent_.Stop(std::chrono::seconds(30)); }
std::string GatewayRig::AgentLog() const { return ReadText(File("agent.log")); }

bool GatewayRig::WaitForAgentLog(const std::string& text, int timeout_s) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (AgentLog().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string GatewayRig::AddLeaf(const std::string& name, const std::string& mode,
                                const std::string& ttl) const {
  std::vector<std::string> args = {"leaf", "add", name, "--json"};
  if (mode == "psk") args.push_back("--psk");
  if (mode == "certificate") args.push_back("--certificate");
  if (!ttl.empty()) {
    args.push_back("--ttl");
    args.push_back(ttl);
  }
  auto r = Cli(args);
  if (r.exit_code != 0) return "";
  try {
    auto j = nlohmann::json::parse(r.out);
    if (mode == "psk") return j.value("psk", "");
    if (mode == "certificate") return "ok";
    return j.value("token", "");
  } catch (const std::exception&) {
    return "";
  }
}

bool GatewayRig::IssueLeafCertificate(const std::string& name, std::string* error) const {
  auto r = Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", File(name + ".key"), "-out", File(name + ".csr"), "-subj",
                    "/CN=" + name});
  if (r.exit_code != 0) return Fail(error, "leaf CSR", r);
  r = Cli({"cert", "issue", "--ca", "device-ca", "--csr", File(name + ".csr"), "--days", "30",
           "--client", "--out", File(name + ".pem")});
  if (r.exit_code != 0) return Fail(error, "cert issue", r);
  return true;
}

bool GatewayRig::IssueForeignCertificate(const std::string& name, std::string* error) const {
  auto r = Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", File(name + ".key"), "-out", File(name + ".csr"), "-subj",
                    "/CN=" + name});
  if (r.exit_code != 0) return Fail(error, "foreign CSR", r);
  // Signed by the cloud CA: a real CA, just not the gateway's leaf CA.
  r = Openssl({"x509", "-req", "-in", File(name + ".csr"), "-CA", File("cloud-ca.pem"), "-CAkey",
               File("cloud-ca.key"), "-set_serial", "99", "-days", "2", "-extfile",
               File("client.ext"), "-out", File(name + ".pem")});
  if (r.exit_code != 0) return Fail(error, "foreign certificate", r);
  return true;
}

std::vector<std::string> GatewayRig::SensorBaseArgs(const std::string& name) const {
  return {SensorBinary(),
          "--gateway",
          "127.0.0.1:" + std::to_string(hub_port_),
          "--ca",
          device_ca_pem(),
          "--server-name",
          kDeviceId,
          "--name",
          name,
          "--retry-ms",
          "100"};
}

ChildProcess& GatewayRig::StartSensor(const std::string& name,
                                      const std::vector<std::string>& args) {
  auto argv = SensorBaseArgs(name);
  argv.insert(argv.end(), args.begin(), args.end());
  auto& slot = sensors_[name];
  if (slot) slot->Kill();
  slot = std::make_unique<ChildProcess>();
  slot->Start(argv, File(name + ".log"));
  return *slot;
}

std::map<std::pair<std::string, long>, int> GatewayRig::CloudReadings(int* bad) const {
  std::map<std::pair<std::string, long>, int> out;
  int bad_lines = 0;
  std::istringstream in(SubscriberOutput());
  std::string line;
  while (std::getline(in, line)) {
    const size_t space = line.find(' ');
    if (space == std::string::npos) {
      ++bad_lines;
      continue;
    }
    try {
      auto j = nlohmann::json::parse(line.substr(space + 1));
      const std::string leaf = j.at("leaf").get<std::string>();
      const auto& data = j.at("data");
      // The identity is the gateway's (from authentication); the sensor's own claim must agree.
      if (data.at("sensor").get<std::string>() != leaf) ++bad_lines;
      ++out[{leaf, data.at("n").get<long>()}];
    } catch (const std::exception&) {
      ++bad_lines;
    }
  }
  if (bad != nullptr) *bad = bad_lines;
  return out;
}

}  // namespace edgetrust::test
