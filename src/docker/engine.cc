// DockerEngine: ContainerEngine over the engine's Unix socket (engine.h, docs/docker.md).
#include "docker/engine.h"

#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>

#include "docker/answers.h"
#include "docker/create_body.h"
#include "docker/events.h"
#include "docker/http.h"

namespace edgetrust::docker {
namespace {

// The newest API version we speak, and the oldest engine we accept.
constexpr int kMaxMinor = 41;
constexpr int kMinMinor = 40;

// "1.41" -> 41; -1 when it is not "1.<minor>".
int ApiMinor(std::string_view v) {
  if (v.substr(0, 2) != "1.") return -1;
  int minor = -1;
  const auto* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data() + 2, end, minor);
  if (ec != std::errc() || p != end || v.size() == 2) return -1;
  return minor;
}

Status InvalidRef(std::string_view what, std::string_view ref) {
  std::string shown(ref.substr(0, 80));
  for (char& c : shown) {
    if (c < 0x20 || c >= 0x7f) c = '?';
  }
  return Status(ErrorCode::kInvalidArgument,
                "docker: not a valid " + std::string(what) + ": \"" + shown + "\"");
}

// An image reference in a URL path: each '/'-separated segment escaped.
std::string ImagePath(std::string_view ref) {
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t slash = ref.find('/', start);
    out += EscapePart(ref.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

std::string FilterQuery(const std::map<std::string, std::vector<std::string>>& filters) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [key, values] : filters) {
    if (!values.empty()) j[key] = values;
  }
  return EscapePart(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

class DockerEngine final : public ContainerEngine {
 public:
  DockerEngine(const EngineOptions& options)
      : options_(options),
        http_(options.socket_path, options.connect_timeout_ms, options.max_answer_bytes) {}

  Status Negotiate() {
    // Unversioned: the engine answers in its own newest version.
    ET_ASSIGN_OR_RETURN(VersionInfo v, VersionAt(""));
    const int newest = ApiMinor(v.api_version);
    if (newest < 0) {
      return Status(ErrorCode::kMalformed,
                    "docker: engine API version \"" + v.api_version + "\" is not 1.<minor>");
    }
    if (newest < kMinMinor) {
      return Status(ErrorCode::kUnsupported, "docker: engine " + v.version + " speaks API " +
                                                 v.api_version + ", older than 1.40");
    }
    prefix_ = "/v1." + std::to_string(std::min(newest, kMaxMinor));
    return Status::Ok();
  }

  Result<VersionInfo> Version() override { return VersionAt(prefix_); }

  Result<ImageInfo> InspectImage(const std::string& ref) override {
    if (!IsValidImageRef(ref)) return InvalidRef("image reference", ref);
    ET_ASSIGN_OR_RETURN(HttpAnswer a, Call("GET", "/images/" + ImagePath(ref) + "/json"));
    ET_RETURN_IF_ERROR(StatusFromHttp(a, "inspect image " + ref));
    return ParseImageInspect(a.body);
  }

  Result<std::vector<std::string>> LoadImage(const std::string& archive_path) override {
    HttpRequest r;
    r.method = "POST";
    r.path = prefix_ + "/images/load?quiet=1";
    r.content_type = "application/x-tar";
    r.upload_file = archive_path;
    r.timeout_ms = LongTimeout();
    ET_ASSIGN_OR_RETURN(HttpAnswer a, http_.Send(r));
    ET_RETURN_IF_ERROR(StatusFromHttp(a, "load image " + archive_path));
    return ParseLoadStream(a.body);
  }

  Status PullImage(const std::string& ref) override {
    const size_t at = ref.find("@sha256:");
    if (!IsValidImageRef(ref) || at == std::string::npos || at == 0 ||
        !IsImageId(std::string_view(ref).substr(at + 1))) {
      return InvalidRef("image reference pinned by digest (name@sha256:<64 hex>)", ref);
    }
    HttpRequest r;
    r.method = "POST";
    r.path = prefix_ + "/images/create?fromImage=" + EscapePart(ref.substr(0, at)) +
             "&tag=" + EscapePart(ref.substr(at + 1));
    r.timeout_ms = LongTimeout();
    ET_ASSIGN_OR_RETURN(HttpAnswer a, http_.Send(r));
    ET_RETURN_IF_ERROR(StatusFromHttp(a, "pull " + ref));
    return ParseProgressStream(a.body);
  }

  Status RemoveImage(const std::string& ref, bool force) override {
    if (!IsValidImageRef(ref)) return InvalidRef("image reference", ref);
    ET_ASSIGN_OR_RETURN(HttpAnswer a, Call("DELETE", "/images/" + ImagePath(ref) +
                                                         (force ? "?force=1" : "?force=0")));
    return StatusFromHttp(a, "remove image " + ref);
  }

  Result<std::string> CreateContainer(const ContainerSpec& spec) override {
    ET_ASSIGN_OR_RETURN(std::string body, BuildCreateBody(spec));
    HttpRequest r;
    r.method = "POST";
    r.path = prefix_ + "/containers/create";
    if (!spec.name.empty()) r.path += "?name=" + EscapePart(spec.name);
    r.body = std::move(body);
    r.content_type = "application/json";
    r.timeout_ms = options_.request_timeout_ms;
    ET_ASSIGN_OR_RETURN(HttpAnswer a, http_.Send(r));
    ET_RETURN_IF_ERROR(StatusFromHttp(a, "create container " + spec.name, true));
    return ParseCreateAnswer(a.body);
  }

  Status StartContainer(const std::string& id) override {
    return ContainerPost(id, "/start", "start");
  }
  Status StopContainer(const std::string& id, int timeout_seconds) override {
    if (timeout_seconds < 0) timeout_seconds = 0;
    return ContainerPost(id, "/stop?t=" + std::to_string(timeout_seconds), "stop",
                         int64_t{timeout_seconds} * 1000);
  }
  Status KillContainer(const std::string& id, const std::string& signal) override {
    if (signal.empty() || signal.size() > 16) return InvalidRef("signal", signal);
    for (char c : signal) {
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return InvalidRef("signal", signal);
    }
    return ContainerPost(id, "/kill?signal=" + signal, "kill");
  }
  Status PauseContainer(const std::string& id) override {
    return ContainerPost(id, "/pause", "pause");
  }
  Status UnpauseContainer(const std::string& id) override {
    return ContainerPost(id, "/unpause", "unpause");
  }
  Status RemoveContainer(const std::string& id, bool force, bool volumes) override {
    if (!IsValidContainerRef(id)) return InvalidRef("container id or name", id);
    ET_ASSIGN_OR_RETURN(HttpAnswer a,
                        Call("DELETE", "/containers/" + id + "?force=" + (force ? "1" : "0") +
                                           "&v=" + (volumes ? "1" : "0")));
    return StatusFromHttp(a, "remove container " + id);
  }

  Result<ContainerInfo> InspectContainer(const std::string& id) override {
    if (!IsValidContainerRef(id)) return InvalidRef("container id or name", id);
    ET_ASSIGN_OR_RETURN(HttpAnswer a, Call("GET", "/containers/" + id + "/json"));
    ET_RETURN_IF_ERROR(StatusFromHttp(a, "inspect container " + id));
    return ParseContainerInspect(a.body);
  }

  Result<std::vector<ContainerSummary>> ListContainers(
      bool all, const std::vector<std::string>& label_filters) override {
    std::string path = std::string("/containers/json?all=") + (all ? "1" : "0");
    if (!label_filters.empty()) path += "&filters=" + FilterQuery({{"label", label_filters}});
    ET_ASSIGN_OR_RETURN(HttpAnswer a, Call("GET", path));
    ET_RETURN_IF_ERROR(StatusFromHttp(a, "list containers"));
    return ParseContainerList(a.body);
  }

  Result<std::vector<Change>> Changes(const std::string& id) override {
    if (!IsValidContainerRef(id)) return InvalidRef("container id or name", id);
    ET_ASSIGN_OR_RETURN(HttpAnswer a, Call("GET", "/containers/" + id + "/changes"));
    ET_RETURN_IF_ERROR(StatusFromHttp(a, "changes of container " + id));
    return ParseChanges(a.body);
  }

  Result<std::unique_ptr<EventStream>> Events(const EventFilter& filter,
                                              std::function<void(const Event&)> on_event,
                                              std::function<void(const Status&)> on_end) override {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
    char since[40];
    std::snprintf(since, sizeof since, "%lld.%09lld", static_cast<long long>(ns / 1000000000),
                  static_cast<long long>(ns % 1000000000));
    std::string path = prefix_ + "/events?since=" + since;
    if (!filter.types.empty() || !filter.events.empty() || !filter.labels.empty()) {
      path +=
          "&filters=" +
          FilterQuery({{"type", filter.types}, {"event", filter.events}, {"label", filter.labels}});
    }
    return DockerEventStream::Start(http_, path, options_.request_timeout_ms, std::move(on_event),
                                    std::move(on_end));
  }

 private:
  long LongTimeout() const { return static_cast<long>(options_.request_timeout_ms) * 10; }

  Result<HttpAnswer> Call(const char* method, const std::string& path, int64_t extra_ms = 0) {
    HttpRequest r;
    r.method = method;
    r.path = prefix_ + path;
    r.timeout_ms = static_cast<long>(options_.request_timeout_ms + extra_ms);
    return http_.Send(r);
  }

  Status ContainerPost(const std::string& id, const std::string& tail, const char* what,
                       int64_t extra_ms = 0) {
    if (!IsValidContainerRef(id)) return InvalidRef("container id or name", id);
    ET_ASSIGN_OR_RETURN(HttpAnswer a, Call("POST", "/containers/" + id + tail, extra_ms));
    return StatusFromHttp(a, std::string(what) + " container " + id);
  }

  Result<VersionInfo> VersionAt(const std::string& prefix) {
    HttpRequest r;
    r.path = prefix + "/version";
    r.timeout_ms = options_.request_timeout_ms;
    ET_ASSIGN_OR_RETURN(HttpAnswer a, http_.Send(r));
    ET_RETURN_IF_ERROR(StatusFromHttp(a, "version"));
    return ParseVersion(a.body);
  }

  const EngineOptions options_;
  const HttpClient http_;
  std::string prefix_;  // "/v1.41", set once by Negotiate()
};

}  // namespace

Result<std::unique_ptr<ContainerEngine>> ConnectDockerEngine(const EngineOptions& options) {
  if (options.socket_path.empty() || options.socket_path.size() >= 108) {
    return Status(ErrorCode::kInvalidArgument, "docker: socket path empty or too long");
  }
  auto engine = std::make_unique<DockerEngine>(options);
  ET_RETURN_IF_ERROR(engine->Negotiate());
  return std::unique_ptr<ContainerEngine>(std::move(engine));
}

}  // namespace edgetrust::docker
