#include "agent/agent.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "agent/enroller.h"
#include "agent/leaf_hub.h"
#include "agent/leaf_registry.h"
#include "agent/metrics_server.h"
#include "agent/queue_source.h"
#include "cloud/cloud_link.h"
#include "common/hex.h"
#include "identity/cert_store.h"
#include "identity/certificate.h"
#include "identity/identity_status.h"
#include "identity/key_service.h"
#include "identity/tls_context.h"
#include "identity/trust_store.h"
#include "store/message_queue.h"

namespace edgetrust::agent {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Iso8601(int64_t t) {
  char buf[32];
  std::tm tm{};
  const time_t tt = static_cast<time_t>(t);
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json Error(const Status& st) { return {{"ok", false}, {"error", st.ToString()}}; }

Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return Status::Ok();
  return Status(ErrorCode::kIoError, "cannot create " + path + ": " + std::strerror(errno));
}

}  // namespace

Agent::Agent(AgentConfig config) : config_(std::move(config)) {}

Agent::~Agent() { Stop(); }

Status Agent::Start() {
  started_ms_ = NowMs();
  const AgentSection& a = config_.agent;
  ET_RETURN_IF_ERROR(MakeDir(a.state_dir, 0700));

  // The secure domain first: nothing works without it, and its absence is the likeliest problem.
  auto client_or = Client::Connect(a.sd_socket);
  if (!client_or.ok()) {
    return Status(client_or.status().code(),
                  "secure domain: " + client_or.status().message());
  }
  std::unique_ptr<Client> client = std::move(client_or).value();
  identity::SdKeyService keys(client.get(), a.sd_socket);

  ET_ASSIGN_OR_RETURN(identity::CertStore certs,
                      identity::CertStore::Open(identity::ResolveCertDir(a.cert_dir), false));
  config_.agent.cert_dir = certs.root();
  ET_ASSIGN_OR_RETURN(identity::Inventory inventory, certs.LoadInventory());
  device_id_ = !a.device_id.empty() ? a.device_id : inventory.device_id;
  if (device_id_.empty()) {
    return Status(ErrorCode::kFailedPrecondition,
                  "the device is not provisioned (run `edgetrust provision`)");
  }

  ET_ASSIGN_OR_RETURN(registry_, LeafRegistry::Open(a.state_dir + "/leaves.json"));

  store::QueueOptions qo;
  qo.dir = a.state_dir + "/queue";
  qo.sd_socket = a.sd_socket;
  qo.max_messages = config_.queue.max_messages;
  qo.max_bytes = config_.queue.max_bytes;
  qo.full_policy = config_.queue.full_policy == "drop-oldest" ? store::FullPolicy::kDropOldest
                                                              : store::FullPolicy::kRejectNew;
  qo.quarantine_on_tamper = config_.queue.quarantine_on_tamper;
  ET_ASSIGN_OR_RETURN(queue_, store::MessageQueue::Open(qo));
  for (const auto& notice : queue_->Notices()) {
    spdlog::error("event=queue-notice detail=\"{}\"", notice);
  }
  const store::QueueStats qs = queue_->Stats();
  spdlog::info("event=queue-open depth={} bytes={}", qs.depth, qs.bytes);
  source_ = std::make_unique<QueueSource>(*queue_);

  if (config_.cloud.enabled) {
    identity::TlsOptions to;
    to.role = identity::TlsRole::kClient;
    to.identity = a.identity;
    to.trust = identity::TrustPurpose::kCloud;
    ET_ASSIGN_OR_RETURN(cloud_ctx_, identity::BuildTlsContext(certs, keys, to));
    const CloudSection& c = config_.cloud;
    ET_ASSIGN_OR_RETURN(cloud::Profile profile,
                        cloud::MakeProfile(c.profile, device_id_, c.hub_host, c.telemetry_topic,
                                           c.command_filter));
    cloud::CloudOptions co;
    co.host = c.host;
    co.port = c.port;
    co.server_name = c.server_name.empty() ? c.host : c.server_name;
    co.device_id = device_id_;
    co.mqtt_version = c.mqtt_version;
    co.keep_alive_s = c.keep_alive_s;
    co.profile = std::move(profile);
    co.max_inflight = c.max_inflight;
    co.backoff_min_ms = c.backoff_min_ms;
    co.backoff_max_ms = c.backoff_max_ms;
    co.ssl_ctx = cloud_ctx_.get();
    ET_ASSIGN_OR_RETURN(cloud_, cloud::CloudLink::Create(
                                    std::move(co), *source_,
                                    [this](std::string leaf, std::string sub, std::string body) {
                                      OnCommand(std::move(leaf), std::move(sub), std::move(body));
                                    }));
  }

  if (config_.leaf_hub.enabled) {
    const LeafHubSection& h = config_.leaf_hub;
    // Leaves with certificates from the leaf CA are verified against it.
    ET_ASSIGN_OR_RETURN(identity::Generation ca, certs.LoadCurrent(h.leaf_ca));
    identity::TrustStore trust(certs, keys);
    ET_ASSIGN_OR_RETURN(auto added, trust.Add(identity::TrustPurpose::kLeaf,
                                              identity::ToPem(ca.cert.get()), NowMs() / 1000));
    if (!added.added.empty()) {
      spdlog::info("event=trust-added purpose=leaf subject=\"{}\"", added.added[0].subject);
    }
    identity::TlsOptions to;
    to.role = identity::TlsRole::kServer;
    to.identity = h.identity;
    to.trust = identity::TrustPurpose::kLeaf;
    ET_ASSIGN_OR_RETURN(hub_ctx_, identity::BuildTlsContext(certs, keys, to));
    ET_RETURN_IF_ERROR(LeafHub::PrepareContext(hub_ctx_.get(), h.psk));
    enroller_ = std::make_unique<Enroller>(
        Enroller::Options{a.sd_socket, certs.root(), h.leaf_ca, h.enrollment_days}, *registry_);
    LeafHubOptions ho;
    ho.host = h.listen_host;
    ho.port = h.listen_port;
    ho.max_connections = h.max_connections;
    ho.max_packet_size = h.max_packet_size;
    ho.handshake_timeout_ms = h.handshake_timeout_ms;
    ho.psk = h.psk;
    ho.sd_socket = a.sd_socket;
    hub_ = std::make_unique<LeafHub>(ho, hub_ctx_.get(), *queue_, *registry_, *enroller_);
  }

  if (cloud_) ET_RETURN_IF_ERROR(cloud_->Start());
  if (hub_) ET_RETURN_IF_ERROR(hub_->Start());
  ET_ASSIGN_OR_RETURN(control_, ControlServer::Start(a.control_socket, *this, ::getuid()));
  if (config_.metrics.enabled) {
    ET_ASSIGN_OR_RETURN(metrics_,
                        MetricsServer::Start(config_.metrics.listen, [this] { return RenderMetrics(); }));
  }
  spdlog::info("event=ready device={} cloud={} leaf_hub={} hub_port={} control={} metrics={}",
               device_id_, cloud_ ? config_.cloud.host + ":" + std::to_string(config_.cloud.port)
                                  : "off",
               hub_ ? "on" : "off", hub_ ? hub_->port() : 0, a.control_socket,
               metrics_ ? config_.metrics.listen : "off");
  return Status::Ok();
}

void Agent::Stop() {
  if (control_) control_->Stop();
  if (metrics_) metrics_->Stop();
  if (hub_) hub_->Stop();      // no new messages
  if (cloud_) cloud_->Stop();  // in-flight messages back to the queue
  if (queue_) queue_->Close();
  control_.reset();
  metrics_.reset();
  hub_.reset();
  cloud_.reset();
}

void Agent::OnCommand(std::string leaf, std::string subtopic, std::string payload) {
  if (!LeafRegistry::IsValidName(leaf) || !registry_->Get(leaf).ok()) {
    spdlog::warn("event=command-dropped leaf={} reason=\"unknown leaf\"", leaf);
    return;
  }
  Status st = queue_->PutCommand(leaf, subtopic, payload, NowMs());
  if (!st.ok()) {
    spdlog::error("event=command-dropped leaf={} reason=\"{}\"", leaf, st.ToString());
    return;
  }
  spdlog::info("event=command-queued leaf={} subtopic={} bytes={}", leaf, subtopic,
               payload.size());
  if (hub_) hub_->CommandsPending(leaf);
}

nlohmann::json Agent::Handle(const nlohmann::json& request, const PeerCred& /*peer*/) {
  const std::string op = request.value("op", "");
  if (op == "status") return Status_();
  if (op == "leaf-add") return LeafAdd(request);
  if (op == "leaf-list") return LeafList();
  if (op == "leaf-revoke") return LeafRevoke(request);
  return Error(Status(ErrorCode::kInvalidArgument, "unknown op \"" + op + "\""));
}

nlohmann::json Agent::Status_() {
  nlohmann::json out = {{"ok", true},
                        {"device", device_id_},
                        {"version", EDGETRUST_VERSION},
                        {"uptime_s", (NowMs() - started_ms_) / 1000}};
  if (cloud_) {
    const cloud::LinkStatus ls = cloud_->Status();
    out["cloud"] = {{"state", std::string(cloud::CloudLink::StateName(ls.state))},
                    {"broker", config_.cloud.host + ":" + std::to_string(config_.cloud.port)},
                    {"since_ms", ls.state == cloud::LinkState::kConnected ? ls.connected_since_ms
                                                                          : ls.last_change_ms},
                    {"last_error", ls.last_error},
                    {"forwarded_total", ls.forwarded_total},
                    {"inflight", ls.inflight},
                    {"connects_total", ls.connects_total}};
  } else {
    out["cloud"] = {{"state", "disabled"}};
  }
  const store::QueueStats qs = queue_->Stats();
  out["queue"] = {{"depth", qs.depth},
                  {"bytes", qs.bytes},
                  {"oldest_age_ms", qs.oldest_received_ms == 0 ? 0 : NowMs() - qs.oldest_received_ms},
                  {"dropped_total", qs.dropped_total},
                  {"rejected_total", qs.rejected_total}};
  nlohmann::json connected = nlohmann::json::array();
  if (hub_) {
    for (const auto& c : hub_->Connected()) {
      connected.push_back({{"name", c.name},
                           {"auth", c.auth},
                           {"since_ms", c.since_ms},
                           {"address", c.address},
                           {"mqtt", c.mqtt_version == 5 ? "5" : "3.1.1"}});
    }
  }
  size_t known = 0, pending = 0, revoked = 0;
  for (const auto& r : registry_->List()) {
    ++known;
    if (r.state == LeafState::kPending) ++pending;
    if (r.state == LeafState::kRevoked) ++revoked;
  }
  out["leaves"] = {{"connected", connected},
                   {"known", known},
                   {"pending", pending},
                   {"revoked", revoked}};
  nlohmann::json certificates = nlohmann::json::array();
  auto store = identity::CertStore::Open(config_.agent.cert_dir, false);
  if (store.ok()) {
    auto inventory = store->LoadInventory();
    if (inventory.ok()) {
      const int64_t now = NowMs() / 1000;
      for (const auto& entry : inventory->entries) {
        const identity::IdentityStatus s =
            identity::DescribeIdentity(*store, *inventory, entry, now);
        certificates.push_back({{"name", entry.name},
                                {"not_after", s.not_after ? Iso8601(s.not_after) : ""},
                                {"days_left", s.not_after ? (s.not_after - now) / 86400 : 0},
                                {"renewal_due", s.due},
                                {"state", s.state}});
      }
    }
  }
  out["certificates"] = certificates;
  return out;
}

nlohmann::json Agent::LeafAdd(const nlohmann::json& request) {
  const std::string name = request.value("name", "");
  const std::string auth = request.value("auth", "enrollment");
  const int64_t now = NowMs();
  if (auth == "enrollment") {
    const int64_t ttl_s = request.value("ttl_s", int64_t{86400});
    auto token = registry_->AddEnrollment(name, ttl_s * 1000, now);
    if (!token.ok()) return Error(token.status());
    spdlog::info("event=leaf-added leaf={} auth=enrollment ttl_s={}", name, ttl_s);
    return {{"ok", true}, {"name", name}, {"auth", auth}, {"token", token.value()},
            {"token_expires_ms", now + ttl_s * 1000}};
  }
  if (auth == "psk") {
    if (!config_.leaf_hub.psk) {
      return Error(Status(ErrorCode::kFailedPrecondition, "leaf_hub.psk is off in the config"));
    }
    Status st = registry_->AddPsk(name, now);
    if (!st.ok()) return Error(st);
    auto record = registry_->Get(name);
    if (!record.ok()) return Error(record.status());
    auto client = Client::Connect(config_.agent.sd_socket);
    if (!client.ok()) return Error(client.status());
    auto psk = DeriveLeafPsk(**client, name, record->created_ms);
    if (!psk.ok()) return Error(psk.status());
    spdlog::info("event=leaf-added leaf={} auth=psk", name);
    return {{"ok", true}, {"name", name}, {"auth", auth}, {"psk", HexEncode(psk->view())}};
  }
  if (auth == "certificate") {
    Status st = registry_->AddCertificate(name, now);
    if (!st.ok()) return Error(st);
    spdlog::info("event=leaf-added leaf={} auth=certificate", name);
    return {{"ok", true}, {"name", name}, {"auth", auth}};
  }
  return Error(Status(ErrorCode::kInvalidArgument, "auth must be enrollment, psk or certificate"));
}

nlohmann::json Agent::LeafList() {
  std::map<std::string, ConnectedLeaf> connected;
  if (hub_) {
    for (auto& c : hub_->Connected()) connected[c.name] = c;
  }
  nlohmann::json leaves = nlohmann::json::array();
  for (const auto& r : registry_->List()) {
    nlohmann::json j = {{"name", r.name},
                        {"auth", std::string(LeafRegistry::AuthName(r.auth))},
                        {"state", std::string(LeafRegistry::StateName(r.state))},
                        {"created_ms", r.created_ms},
                        {"enrolled_ms", r.enrolled_ms},
                        {"revoked_ms", r.revoked_ms},
                        {"connected", connected.count(r.name) > 0}};
    if (r.state == LeafState::kPending) j["token_expires_ms"] = r.token_expires_ms;
    leaves.push_back(std::move(j));
  }
  return {{"ok", true}, {"leaves", leaves}};
}

nlohmann::json Agent::LeafRevoke(const nlohmann::json& request) {
  const std::string name = request.value("name", "");
  Status st = registry_->Revoke(name, NowMs());
  if (!st.ok()) return Error(st);
  spdlog::warn("event=leaf-revoked leaf={}", name);
  if (hub_) hub_->Disconnect(name, "revoked");
  return {{"ok", true}, {"name", name}};
}

std::string Agent::RenderMetrics() {
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help, auto value,
                       const std::string& labels = "") {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    out += std::string(name) + labels + " " + std::to_string(value) + "\n";
  };
  const store::QueueStats qs = queue_->Stats();
  metric("edgetrust_queue_depth", "gauge", "Messages stored and not yet acknowledged by the cloud.",
         qs.depth);
  metric("edgetrust_queue_bytes", "gauge", "Payload bytes in the queue.", qs.bytes);
  metric("edgetrust_queue_oldest_age_seconds", "gauge", "Age of the oldest queued message.",
         qs.oldest_received_ms == 0 ? 0.0 : static_cast<double>(NowMs() - qs.oldest_received_ms) / 1000.0);
  metric("edgetrust_queue_appended_total", "counter", "Messages made durable.", qs.appended_total);
  metric("edgetrust_queue_acked_total", "counter", "Messages acknowledged by the cloud.",
         qs.acked_total);
  metric("edgetrust_queue_dropped_total", "counter",
         "Messages dropped because the queue was full (policy drop-oldest).", qs.dropped_total);
  metric("edgetrust_queue_rejected_total", "counter",
         "Messages refused because the queue was full (policy reject-new).", qs.rejected_total);
  metric("edgetrust_queue_commits_total", "counter", "Group commits (one fsync each).",
         qs.commits_total);
  metric("edgetrust_queue_commit_seconds_total", "counter", "Time spent committing.",
         qs.commit_seconds_total);
  if (cloud_) {
    const cloud::LinkStatus ls = cloud_->Status();
    metric("edgetrust_cloud_connected", "gauge", "1 while the cloud link is up.",
           ls.state == cloud::LinkState::kConnected ? 1 : 0);
    metric("edgetrust_cloud_forwarded_total", "counter", "Messages acknowledged by the cloud.",
           ls.forwarded_total);
    metric("edgetrust_cloud_connects_total", "counter", "Connections to the cloud broker.",
           ls.connects_total);
    metric("edgetrust_cloud_inflight", "gauge", "Messages sent and not yet acknowledged.",
           ls.inflight);
  }
  if (hub_) {
    const HubStats hs = hub_->Stats();
    metric("edgetrust_leaves_connected", "gauge", "Authenticated leaf connections.",
           hub_->Connected().size());
    metric("edgetrust_leaf_messages_total", "counter", "Leaf messages stored.", hs.received_total);
    out += "# HELP edgetrust_leaf_refused_total Leaf connections or messages refused, by reason.\n"
           "# TYPE edgetrust_leaf_refused_total counter\n";
    for (const auto& [reason, n] : hs.refused_total) {
      out += "edgetrust_leaf_refused_total{reason=\"" + reason + "\"} " + std::to_string(n) + "\n";
    }
  }
  return out;
}

}  // namespace edgetrust::agent
