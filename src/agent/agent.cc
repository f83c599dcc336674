#include "agent/agent.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "agent/control_protocol.h"
#include "agent/enroller.h"
#include "agent/leaf_hub.h"
#include "agent/leaf_registry.h"
#include "agent/metrics_server.h"
#include "agent/queue_source.h"
#include "cloud/cloud_link.h"
#include "common/files.h"
#include "common/hex.h"
#include "common/thread_start.h"
#include "docker/engine.h"
#include "guard/container_guard.h"
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
    return Status(client_or.status().code(), "secure domain: " + client_or.status().message());
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
    ET_ASSIGN_OR_RETURN(
        cloud::Profile profile,
        cloud::MakeProfile(c.profile, device_id_, c.hub_host, c.telemetry_topic, c.command_filter));
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

  if (config_.containers.enabled) ET_RETURN_IF_ERROR(StartContainerGuard());
  if (cloud_) ET_RETURN_IF_ERROR(cloud_->Start());
  if (hub_) ET_RETURN_IF_ERROR(hub_->Start());
  ET_ASSIGN_OR_RETURN(control_, ControlServer::Start(a.control_socket, *this, ::getuid()));
  if (config_.metrics.enabled) {
    ET_ASSIGN_OR_RETURN(
        metrics_, MetricsServer::Start(config_.metrics.listen, [this] { return RenderMetrics(); }));
  }
  spdlog::info("event=ready device={} cloud={} leaf_hub={} hub_port={} control={} metrics={}",
               device_id_,
               cloud_ ? config_.cloud.host + ":" + std::to_string(config_.cloud.port) : "off",
               hub_ ? "on" : "off", hub_ ? hub_->port() : 0, a.control_socket,
               metrics_ ? config_.metrics.listen : "off");
  return Status::Ok();
}

Status Agent::StartContainerGuard() {
  const ContainersSection& c = config_.containers;
  docker::EngineOptions eo;
  eo.socket_path = c.docker_socket;
  auto engine = docker::ConnectDockerEngine(eo);
  if (!engine.ok()) {
    return Status(engine.status().code(), "container guard: docker engine at " + c.docker_socket +
                                              ": " + engine.status().message());
  }
  engine_ = std::move(engine).value();
  guard::GuardOptions go;
  go.state_dir = c.state_dir.empty() ? config_.agent.state_dir + "/containers" : c.state_dir;
  go.sd_socket = config_.agent.sd_socket;
  std::string sd_path = config_.agent.sd_socket;
  if (sd_path.empty() && std::getenv("EDGETRUST_SOCKET") != nullptr) {
    sd_path = std::getenv("EDGETRUST_SOCKET");
  }
  if (sd_path.empty()) sd_path = std::string(kDefaultSocketPath);
  go.sd_socket_dir = DirName(sd_path);
  go.image_dir = c.image_dir.empty() ? go.state_dir + "/images" : c.image_dir;
  go.report_unmanaged = c.report_unmanaged;
  go.max_quarantine_bytes = c.max_quarantine_bytes;
  guard::GuardDeps deps;
  deps.engine = engine_.get();
  const std::string sd_socket = config_.agent.sd_socket;
  const std::string cert_dir = config_.agent.cert_dir;
  deps.deployment_trust = [sd_socket, cert_dir]() -> Result<std::vector<X509Ptr>> {
    ET_ASSIGN_OR_RETURN(auto client, Client::Connect(sd_socket));
    identity::SdKeyService keys(client.get(), sd_socket);
    ET_ASSIGN_OR_RETURN(identity::CertStore certs, identity::CertStore::Open(cert_dir, false));
    identity::TrustStore trust(certs, keys);
    return trust.Load(identity::TrustPurpose::kDeployment);
  };
  deps.report = [this](const nlohmann::json& event) { ReportEvent(event); };
  auto g = guard::ContainerGuard::Start(std::move(go), std::move(deps));
  if (!g.ok()) return Status(g.status().code(), "container guard: " + g.status().message());
  guard_ = std::move(g).value();
  return Status::Ok();
}

void Agent::ReportEvent(const nlohmann::json& event) {
  if (!queue_) return;
  std::vector<store::IncomingMessage> batch(1);
  batch[0].leaf = kGatewayLeaf;
  batch[0].subtopic = "events/container";
  batch[0].payload = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  batch[0].received_ms = NowMs();
  queue_->Append(std::move(batch), [](const Status& st, const std::vector<uint64_t>&) {
    if (!st.ok()) spdlog::error("event=container-event-not-queued error=\"{}\"", st.ToString());
  });
}

void Agent::DeployFromCloud(std::string payload) {
  auto body = nlohmann::json::parse(payload, nullptr, false);
  ControlRequest request;
  if (body.is_object()) {
    body["op"] = "deploy";
    body.erase("archive_dir");  // archives of cloud deployments come from the image folder only
    auto parsed = ParseControlRequest(body);
    if (parsed.ok())
      request = std::move(parsed).value();
    else
      body = parsed.status().message();
  }
  if (request.op != ControlOp::kDeploy) {
    const std::string why =
        body.is_string() ? body.get<std::string>() : "the payload is not a JSON object";
    spdlog::warn("event=cloud-deploy-refused reason=\"{}\"", why);
    ReportEvent({{"event", "deployment-refused"}, {"origin", "cloud"}, {"reason", why}});
    return;
  }
  if (cloud_deploy_busy_.exchange(true)) {
    ReportEvent({{"event", "deployment-refused"},
                 {"origin", "cloud"},
                 {"reason", "another deployment from the cloud is still running"}});
    return;
  }
  std::lock_guard<std::mutex> lock(cloud_deploy_mu_);
  if (cloud_deploy_closed_) {
    cloud_deploy_busy_ = false;
    return;  // the agent is stopping
  }
  if (cloud_deploy_.joinable()) cloud_deploy_.join();
  cloud_deploy_ = StartThread([this, request = std::move(request)] {
    auto r = guard_->Deploy(request.manifest, request.signature, "", "cloud");
    if (!r.ok()) spdlog::warn("event=cloud-deploy-refused reason=\"{}\"", r.status().ToString());
    cloud_deploy_busy_ = false;
  });
}

nlohmann::json Agent::ContainerRequest(const ControlRequest& request) {
  if (!guard_) {
    return ErrorResponse(Status(ErrorCode::kFailedPrecondition,
                                "the container guard is off ([containers] enabled = false)"));
  }
  switch (request.op) {
    case ControlOp::kDeploy: {
      auto r = guard_->Deploy(request.manifest, request.signature, request.archive_dir, "cli");
      if (!r.ok()) return ErrorResponse(r.status());
      return OkResponse(std::move(r).value());
    }
    case ControlOp::kModules:
      return OkResponse(guard_->Modules());
    case ControlOp::kEvents:
      return OkResponse({{"events", guard_->Events(request.limit, request.module)}});
    default:
      return ErrorResponse(Status(ErrorCode::kInvalidArgument, "not a container operation"));
  }
}

void Agent::Stop() {
  if (control_) control_->Stop();
  if (metrics_) metrics_->Stop();
  if (cloud_) cloud_->Stop();  // no more commands from the cloud (nor messages to it)
  {
    std::lock_guard<std::mutex> lock(cloud_deploy_mu_);
    cloud_deploy_closed_ = true;
    if (cloud_deploy_.joinable()) cloud_deploy_.join();
  }
  if (guard_) guard_->Stop();  // before the queue closes: its last events go there
  if (hub_) hub_->Stop();      // no new messages (the cloud link gave its in-flight ones back)
  if (queue_) queue_->Close();
  control_.reset();
  metrics_.reset();
  hub_.reset();
  cloud_.reset();
  guard_.reset();
  engine_.reset();
}

void Agent::OnCommand(std::string leaf, std::string subtopic, std::string payload) {
  if (leaf == kGatewayLeaf) {
    if (subtopic == "deploy" && guard_) {
      DeployFromCloud(std::move(payload));
    } else {
      spdlog::warn("event=command-dropped leaf={} subtopic={} reason=\"{}\"", leaf, subtopic,
                   guard_ ? "unknown gateway command" : "the container guard is off");
    }
    return;
  }
  if (!LeafRegistry::IsValidName(leaf) || !registry_->Get(leaf).ok()) {
    spdlog::warn("event=command-dropped leaf={} reason=\"unknown leaf\"", leaf);
    return;
  }
  Status st = queue_->PutCommand(leaf, subtopic, payload, NowMs());
  if (!st.ok()) {
    spdlog::error("event=command-dropped leaf={} reason=\"{}\"", leaf, st.ToString());
    return;
  }
  spdlog::info("event=command-queued leaf={} subtopic={} bytes={}", leaf, subtopic, payload.size());
  if (hub_) hub_->CommandsPending(leaf);
}

nlohmann::json Agent::Handle(const nlohmann::json& request, const PeerCred& /*peer*/) {
  // The control server has validated the request already; parsing it again gives its fields.
  auto parsed = ParseControlRequest(request);
  if (!parsed.ok()) return ErrorResponse(parsed.status());
  if (parsed->op == ControlOp::kStatus) return Status_();
  if (parsed->op == ControlOp::kDeploy || parsed->op == ControlOp::kModules ||
      parsed->op == ControlOp::kEvents) {
    return ContainerRequest(*parsed);
  }
  return LeafRequest(*parsed);
}

nlohmann::json Agent::LeafRequest(const ControlRequest& request) {
  PskDeriver psk_for;
  if (config_.leaf_hub.psk) {
    psk_for = [this](std::string_view name, int64_t created_ms) -> Result<SecretBytes> {
      ET_ASSIGN_OR_RETURN(auto client, Client::Connect(config_.agent.sd_socket));
      return DeriveLeafPsk(*client, name, created_ms);
    };
  }
  nlohmann::json response = HandleLeafRequest(*registry_, request, NowMs(), psk_for);
  if (!response.value("ok", false)) return response;
  switch (request.op) {
    case ControlOp::kLeafAdd:
      spdlog::info("event=leaf-added leaf={} auth={}", request.name,
                   LeafRegistry::AuthName(request.auth));
      break;
    case ControlOp::kLeafRevoke:
      spdlog::warn("event=leaf-revoked leaf={}", request.name);
      if (hub_) hub_->Disconnect(request.name, "revoked");
      break;
    case ControlOp::kLeafList:
      if (hub_ && response.contains("leaves")) {
        std::set<std::string> connected;
        for (const auto& c : hub_->Connected()) connected.insert(c.name);
        for (auto& leaf : response["leaves"]) {
          leaf["connected"] = connected.count(leaf.value("name", "")) > 0;
        }
      }
      break;
    case ControlOp::kStatus:
    case ControlOp::kDeploy:
    case ControlOp::kModules:
    case ControlOp::kEvents:
      break;
  }
  return response;
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
  out["queue"] = {
      {"depth", qs.depth},
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
  out["leaves"] = {
      {"connected", connected}, {"known", known}, {"pending", pending}, {"revoked", revoked}};
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
  if (guard_) {
    const nlohmann::json modules = guard_->Modules();
    size_t running = 0;
    uint64_t violations = 0;
    for (const auto& m : modules["modules"]) {
      if (m.value("state", "") == "running") ++running;
      violations += m.value("violations", uint64_t{0});
    }
    out["containers"] = {{"state", "on"},
                         {"deployment", modules["deployment"]},
                         {"modules", modules["modules"].size()},
                         {"running", running},
                         {"violations", violations}};
  } else {
    out["containers"] = {{"state", "disabled"}};
  }
  return out;
}

std::string Agent::RenderMetrics() {
  // What the status answer carries (the list in docs/leaves.md), then the parts' own counters.
  MetricsText m;
  AppendStatusMetrics(m, Status_());
  const store::QueueStats qs = queue_->Stats();
  m.Counter("edgetrust_queue_appended_total", "Messages made durable.",
            static_cast<double>(qs.appended_total));
  m.Counter("edgetrust_queue_acked_total", "Messages acknowledged by the cloud.",
            static_cast<double>(qs.acked_total));
  m.Counter("edgetrust_queue_commits_total", "Group commits (one fsync each).",
            static_cast<double>(qs.commits_total));
  m.Counter("edgetrust_queue_commit_seconds_total", "Time spent committing.",
            qs.commit_seconds_total);
  if (cloud_) {
    m.Counter("edgetrust_cloud_connects_total", "Connections to the cloud broker.",
              static_cast<double>(cloud_->Status().connects_total));
  }
  if (hub_) {
    const HubStats hs = hub_->Stats();
    m.Counter("edgetrust_leaf_messages_total", "Leaf messages stored.",
              static_cast<double>(hs.received_total));
    m.Family("edgetrust_leaf_refused_total", MetricType::kCounter,
             "Leaf connections or messages refused, by reason.");
    for (const auto& [reason, n] : hs.refused_total) {
      m.Sample(static_cast<double>(n), {{"reason", reason}});
    }
  }
  if (!m.status().ok()) spdlog::warn("event=metrics-error error=\"{}\"", m.status().ToString());
  return m.text();
}

}  // namespace edgetrust::agent
