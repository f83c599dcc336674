// Prometheus metrics of the agent: the text exposition format (version 0.0.4) built with
// MetricsText, the metrics derived from the agent's status (AppendStatusMetrics, the list in
// docs/leaves.md), and MetricsServer, a small HTTP/1.1 endpoint serving them on loopback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::agent {

enum class MetricType { kCounter, kGauge };
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Builds a text exposition: families of samples, each family introduced by its "# HELP" and
// "# TYPE" lines. Label values and help texts are escaped as the format requires (backslash,
// double quote, newline), so any text is safe in them. Misuse (an invalid metric or label name,
// a duplicate label or sample, a family declared twice, a sample outside a family) is never
// written out: the offending line is left out and status() reports the first such error, so a bug
// costs one metric, not the scrape.
//
// Thread safety: none; build one per scrape.
class MetricsText {
 public:
  // [a-zA-Z_:][a-zA-Z0-9_:]*
  static bool IsValidMetricName(std::string_view name);
  // [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus).
  static bool IsValidLabelName(std::string_view name);

  // Starts the family `name`; the samples that follow belong to it.
  void Family(std::string_view name, MetricType type, std::string_view help);
  // One sample of the current family. Integral values print exactly (up to 2^53), others with
  // 17 significant digits; NaN and infinities as "NaN", "+Inf", "-Inf".
  void Sample(double value, const MetricLabels& labels = {});
  // A family with one sample.
  void Counter(std::string_view name, std::string_view help, double value,
               const MetricLabels& labels = {});
  void Gauge(std::string_view name, std::string_view help, double value,
             const MetricLabels& labels = {});

  const std::string& text() const { return text_; }
  const Status& status() const { return status_; }

 private:
  void Fail(std::string why);

  std::string text_;
  std::string family_;  // the current family; empty before the first or after an invalid one
  std::vector<std::string> declared_;
  std::set<std::string> family_series_;  // name{labels} of the current family's samples
  Status status_;
};

// Appends the metrics that the agent's status answer (the "status" op of the control socket,
// docs/leaves.md) carries. Fields that are missing or of another type are left out.
void AppendStatusMetrics(MetricsText& out, const nlohmann::json& status);

// A single-threaded HTTP/1.1 server for Prometheus: GET (or HEAD) /metrics answers 200 with
// render()'s text as "text/plain; version=0.0.4"; any other path 404, another method 405, a
// malformed request 400, a request head over 8 KiB 431, one not complete within 5 s 408; every
// answer closes the connection. One request at a time: render() runs on the server's thread.
//
// Thread safety: Stop() from any thread; render() is called from the server's thread only.
// Ownership: owns its socket and thread; render is copied.
class MetricsServer {
 public:
  // `listen` is "127.0.0.1:9464", "[::1]:9464" or "localhost:9464": loopback only (127.0.0.0/8,
  // ::1), since the metrics are not authenticated; anything else is kInvalidArgument. Port 0
  // picks a free port (see port()). kIoError when it cannot bind.
  static Result<std::unique_ptr<MetricsServer>> Start(std::string listen,
                                                      std::function<std::string()> render);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Stops serving (the request in progress is cut short) and joins the thread. Idempotent.
  void Stop();
  uint16_t port() const { return port_; }

 private:
  explicit MetricsServer(std::function<std::string()> render) : render_(std::move(render)) {}
  void Run();
  void ServeConnection(int fd);

  std::function<std::string()> render_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex stop_mu_;  // serializes Stop()
  bool stopped_ = false;
};

}  // namespace edgetrust::agent
