#include "agent/metrics_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>

#include "common/files.h"
#include "common/thread_start.h"

namespace edgetrust::agent {

using nlohmann::json;

// --- MetricsText --------------------------------------------------------------------------------

namespace {

bool IsNameChar(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) <= 9007199254740992.0) {  // 2^53: exact as an integer
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

}  // namespace

bool MetricsText::IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, true)) return false;
  }
  return true;
}

bool MetricsText::IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, false)) return false;
  }
  return true;
}

void MetricsText::Fail(std::string why) {
  if (status_.ok()) status_ = Status(ErrorCode::kInvalidArgument, std::move(why));
}

void MetricsText::Family(std::string_view name, MetricType type, std::string_view help) {
  family_.clear();
  if (!IsValidMetricName(name)) {
    Fail("invalid metric name \"" + std::string(name.substr(0, 80)) + "\"");
    return;
  }
  if (std::find(declared_.begin(), declared_.end(), name) != declared_.end()) {
    // A family's samples must be together; a second block of them would be refused by scrapers.
    Fail("metric family " + std::string(name) + " declared twice");
    return;
  }
  declared_.emplace_back(name);
  family_ = std::string(name);
  family_series_.clear();
  text_ += "# HELP " + family_ + " " + EscapeHelp(help) + "\n";
  text_ += "# TYPE " + family_ + (type == MetricType::kCounter ? " counter\n" : " gauge\n");
}

void MetricsText::Sample(double value, const MetricLabels& labels) {
  if (family_.empty()) {
    Fail("a sample outside a valid metric family");
    return;
  }
  std::string line = family_;
  if (!labels.empty()) {
    line += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      const auto& [label, label_value] = labels[i];
      if (!IsValidLabelName(label)) {
        Fail("invalid label name \"" + label.substr(0, 80) + "\" in " + family_);
        return;
      }
      for (size_t j = 0; j < i; ++j) {
        if (labels[j].first == label) {
          Fail("label " + label + " twice in a sample of " + family_);
          return;
        }
      }
      if (i > 0) line += ",";
      line += label + "=\"" + EscapeLabelValue(label_value) + "\"";
    }
    line += "}";
  }
  if (!family_series_.insert(line).second) {
    Fail("duplicate sample " + line);
    return;
  }
  text_ += line + " " + FormatValue(value) + "\n";
}

void MetricsText::Counter(std::string_view name, std::string_view help, double value,
                          const MetricLabels& labels) {
  Family(name, MetricType::kCounter, help);
  Sample(value, labels);
}

void MetricsText::Gauge(std::string_view name, std::string_view help, double value,
                        const MetricLabels& labels) {
  Family(name, MetricType::kGauge, help);
  Sample(value, labels);
}

// --- Status metrics ---------------------------------------------------------------------------

namespace {

const json* Field(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::optional<double> Number(const json& obj, std::string_view key) {
  const json* v = Field(obj, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

std::string Text(const json& obj, std::string_view key) {
  const json* v = Field(obj, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

void GaugeIf(MetricsText& out, const json& obj, std::string_view key, std::string_view name,
             std::string_view help, double scale = 1) {
  if (auto v = Number(obj, key)) out.Gauge(name, help, *v * scale);
}

void CounterIf(MetricsText& out, const json& obj, std::string_view key, std::string_view name,
               std::string_view help) {
  if (auto v = Number(obj, key)) out.Counter(name, help, *v);
}

}  // namespace

void AppendStatusMetrics(MetricsText& out, const json& status) {
  if (!status.is_object()) return;
  out.Gauge("edgetrust_agent_info", "The agent's device id and version (always 1)", 1,
            {{"device", Text(status, "device")}, {"version", Text(status, "version")}});
  GaugeIf(out, status, "uptime_s", "edgetrust_agent_uptime_seconds",
          "Seconds since the agent started");

  if (const json* cloud = Field(status, "cloud"); cloud != nullptr && cloud->is_object()) {
    if (const json* state = Field(*cloud, "state"); state != nullptr && state->is_string()) {
      out.Gauge(
          "edgetrust_cloud_connected", "1 while the cloud link is connected to its broker, else 0",
          state->get<std::string>() == "connected" ? 1 : 0, {{"broker", Text(*cloud, "broker")}});
    }
    CounterIf(out, *cloud, "forwarded_total", "edgetrust_cloud_forwarded_total",
              "Messages the cloud acknowledged");
    GaugeIf(out, *cloud, "inflight", "edgetrust_cloud_inflight",
            "Messages sent to the cloud and not acknowledged yet");
  }
  if (const json* queue = Field(status, "queue"); queue != nullptr && queue->is_object()) {
    GaugeIf(out, *queue, "depth", "edgetrust_queue_depth",
            "Messages stored and not yet acknowledged by the cloud");
    GaugeIf(out, *queue, "bytes", "edgetrust_queue_bytes", "Payload bytes stored in the queue");
    GaugeIf(out, *queue, "oldest_age_ms", "edgetrust_queue_oldest_age_seconds",
            "Age of the oldest stored message (0 when the queue is empty)", 0.001);
    CounterIf(out, *queue, "dropped_total", "edgetrust_queue_dropped_total",
              "Stored messages dropped to make room (drop-oldest policy)");
    CounterIf(out, *queue, "rejected_total", "edgetrust_queue_rejected_total",
              "Messages refused because the queue was full (reject-new policy)");
  }
  if (const json* leaves = Field(status, "leaves"); leaves != nullptr && leaves->is_object()) {
    if (const json* connected = Field(*leaves, "connected");
        connected != nullptr && connected->is_array()) {
      out.Gauge("edgetrust_leaves_connected", "Leaves connected to the hub now",
                static_cast<double>(connected->size()));
    }
    GaugeIf(out, *leaves, "known", "edgetrust_leaves_known", "Leaves in the registry");
    GaugeIf(out, *leaves, "pending", "edgetrust_leaves_pending",
            "Leaves with an enrollment token not used yet");
    GaugeIf(out, *leaves, "revoked", "edgetrust_leaves_revoked", "Revoked leaves");
  }
  if (const json* certs = Field(status, "certificates"); certs != nullptr && certs->is_array()) {
    // One sample per certificate name: a repeated name (which the agent should never send)
    // would be a duplicate series.
    std::set<std::string> days_seen, due_seen;
    bool days_family = false;
    for (const json& c : *certs) {
      auto days = Number(c, "days_left");
      if (!days || !days_seen.insert(Text(c, "name")).second) continue;
      if (!days_family) {
        out.Family("edgetrust_certificate_days_left", MetricType::kGauge,
                   "Days until the certificate expires");
        days_family = true;
      }
      out.Sample(*days, {{"name", Text(c, "name")}});
    }
    bool due_family = false;
    for (const json& c : *certs) {
      const json* due = Field(c, "renewal_due");
      if (due == nullptr || !due->is_boolean() || !due_seen.insert(Text(c, "name")).second) {
        continue;
      }
      if (!due_family) {
        out.Family("edgetrust_certificate_renewal_due", MetricType::kGauge,
                   "1 when the certificate is due for renewal");
        due_family = true;
      }
      out.Sample(due->get<bool>() ? 1 : 0, {{"name", Text(c, "name")}});
    }
  }
}

// --- MetricsServer ------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxRequestHead = size_t{8} * 1024;
constexpr std::chrono::milliseconds kRequestTimeout{5000};

struct ListenAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

Result<ListenAddress> ParseListen(const std::string& listen) {
  auto bad = [&](const std::string& why) {
    return Status(ErrorCode::kInvalidArgument,
                  "metrics listen address \"" + listen.substr(0, 80) + "\": " + why);
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return bad("expected HOST:PORT");
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return bad("the port must be a number");
  }
  const unsigned long port = std::stoul(port_text);
  if (port > 65535) return bad("the port must be at most 65535");
  ListenAddress out;
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a.sin6_addr) != 1) {
      return bad("not an IPv6 address");
    }
    if (!IN6_IS_ADDR_LOOPBACK(&a.sin6_addr)) {
      return bad("metrics are served on loopback only (127.0.0.0/8 or [::1])");
    }
    std::memcpy(&out.addr, &a, sizeof a);
    out.len = sizeof a;
    return out;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    return bad("the host must be a numeric loopback address: 127.0.0.1, [::1] or localhost");
  }
  if ((ntohl(a.sin_addr.s_addr) >> 24) != 127) {
    return bad("metrics are served on loopback only (127.0.0.0/8 or [::1])");
  }
  std::memcpy(&out.addr, &a, sizeof a);
  out.len = sizeof a;
  return out;
}

std::string Response(int code, std::string_view reason, std::string_view content_type,
                     const std::string& body, bool head_only, std::string_view extra = {}) {
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
  out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra;
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

std::string Plain(int code, std::string_view reason, std::string_view extra = {}) {
  return Response(code, reason, "text/plain; charset=utf-8", std::string(reason) + "\n", false,
                  extra);
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  });
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(std::string listen,
                                                            std::function<std::string()> render) {
  ET_ASSIGN_OR_RETURN(ListenAddress where, ParseListen(listen));
  if (!render) return Status(ErrorCode::kInvalidArgument, "metrics server without a renderer");
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(render)));
  if (::pipe2(server->wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status(ErrorCode::kInternal, "pipe: " + ErrnoText(errno));
  }
  server->listen_fd_ = ::socket(where.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server->listen_fd_ < 0) return Status(ErrorCode::kIoError, "socket: " + ErrnoText(errno));
  int one = 1;
  ::setsockopt(server->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&where.addr), where.len) != 0) {
    return Status(ErrorCode::kIoError,
                  "cannot bind the metrics endpoint " + listen + ": " + ErrnoText(errno));
  }
  if (::listen(server->listen_fd_, 16) != 0) {
    return Status(ErrorCode::kIoError, "listen: " + ErrnoText(errno));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return Status(ErrorCode::kIoError, "getsockname: " + ErrnoText(errno));
  }
  server->port_ =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  try {
    server->thread_ = StartThread([s = server.get()] { s->Run(); });
  } catch (const std::exception& e) {
    return Status(ErrorCode::kResourceExhausted, std::string("cannot start a thread: ") + e.what());
  }
  spdlog::info("event=metrics-listening address={} port={}", listen, server->port_);
  return server;
}

MetricsServer::~MetricsServer() {
  Stop();
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void MetricsServer::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    char c = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &c, 1);
    thread_.join();
  }
  // Closed here, not in the destructor: a stopped server must refuse connections rather than
  // let them wait in the backlog.
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void MetricsServer::Run() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    const int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      spdlog::error("event=metrics-poll-failed reason=\"{}\"", ErrnoText(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pollfd wake{wake_pipe_[0], POLLIN, 0};
        if (::poll(&wake, 1, 100) > 0) return;
      }
      continue;
    }
    try {
      ServeConnection(fd);
    } catch (const std::exception& e) {
      spdlog::error("event=metrics-error error=\"{}\"", e.what());
    }
    ::close(fd);
  }
}

void MetricsServer::ServeConnection(int fd) {
  timeval send_timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  const auto deadline = Clock::now() + kRequestTimeout;

  // Reads until the end of the request head, the size limit, the deadline or Stop().
  auto wait_readable = [&](Clock::time_point until) -> int {  // 1 readable, 0 timeout, -1 stop
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (left.count() <= 0) return 0;
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
      const int rc = ::poll(fds, 2, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0 || fds[1].revents != 0) return -1;
      if (rc > 0) return 1;
    }
  };

  std::string head;
  std::string answer;
  size_t head_end = std::string::npos;
  char buf[2048];
  while (head_end == std::string::npos) {
    const int ready = wait_readable(deadline);
    if (ready < 0) return;
    if (ready == 0) {
      answer = Plain(408, "Request Timeout");
      break;
    }
    const size_t room = kMaxRequestHead + 1 - head.size();
    const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, room), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return;
    }
    if (n == 0) {
      if (head.empty()) return;
      answer = Plain(400, "Bad Request");
      break;
    }
    const size_t search_from = head.size() < 3 ? 0 : head.size() - 3;
    head.append(buf, static_cast<size_t>(n));
    for (std::string_view end : {"\r\n\r\n", "\n\n"}) {
      const size_t at = head.find(end, search_from);
      if (at != std::string::npos && at + end.size() <= kMaxRequestHead &&
          (head_end == std::string::npos || at < head_end)) {
        head_end = at;
      }
    }
    if (head_end == std::string::npos && head.size() > kMaxRequestHead) {
      answer = Plain(431, "Request Header Fields Too Large");
      break;
    }
  }

  if (answer.empty()) {
    // Request line, then header lines; "\r\n" or a bare "\n" ends each line.
    std::vector<std::string_view> lines;
    std::string_view rest(head.data(), head_end);
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      lines.push_back(line);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
    std::string_view method, target, version;
    bool ok = !lines.empty();
    if (ok) {
      std::string_view l = lines[0];
      const size_t s1 = l.find(' ');
      const size_t s2 = s1 == std::string_view::npos ? s1 : l.find(' ', s1 + 1);
      ok = s2 != std::string_view::npos && l.find(' ', s2 + 1) == std::string_view::npos;
      if (ok) {
        method = l.substr(0, s1);
        target = l.substr(s1 + 1, s2 - s1 - 1);
        version = l.substr(s2 + 1);
        ok = IsToken(method) && !target.empty() && target.front() == '/' &&
             (version == "HTTP/1.1" || version == "HTTP/1.0") &&
             std::none_of(target.begin(), target.end(), [](char c) {
               return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
             });
      }
    }
    for (size_t i = 1; ok && i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      ok = colon != std::string_view::npos && IsToken(lines[i].substr(0, colon));
    }
    const bool head_only = method == "HEAD";
    const std::string_view path = target.substr(0, target.find('?'));
    if (!ok) {
      answer = Plain(400, "Bad Request");
    } else if (method != "GET" && method != "HEAD") {
      answer = Plain(405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
    } else if (path != "/metrics") {
      answer = Response(404, "Not Found", "text/plain; charset=utf-8", "Not Found\n", head_only);
    } else {
      std::string body;
      bool rendered = true;
      try {
        body = render_();
      } catch (const std::exception& e) {
        spdlog::error("event=metrics-render-failed error=\"{}\"", e.what());
        rendered = false;
      }
      answer = rendered ? Response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body,
                                   head_only)
                        : Plain(500, "Internal Server Error");
    }
  }

  size_t sent = 0;
  while (sent < answer.size()) {
    const ssize_t n = ::send(fd, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    sent += static_cast<size_t>(n);
  }
  // Unread request bytes would make the kernel reset the connection on close, and a reset can
  // discard the answer before the client read it: say we are done, and let the client close
  // first (briefly; it has the whole answer).
  ::shutdown(fd, SHUT_WR);
  const auto linger_until = Clock::now() + std::chrono::milliseconds(1000);
  size_t drained = 0;
  while (drained < size_t{64} * 1024 && wait_readable(linger_until) == 1) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
}

}  // namespace edgetrust::agent
