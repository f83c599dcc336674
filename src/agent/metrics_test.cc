// The Prometheus exposition (checked by a parser of the text format written here from its rules,
// independent of MetricsText) and the HTTP endpoint (checked with curl and python3's urllib).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/metrics_server.h"
#include "harness.h"

namespace edgetrust::agent {
namespace {

using nlohmann::json;
using test::CommandResult;
using test::RunCommand;

// --- A parser of the text format, version 0.0.4 ------------------------------------------------

struct Exposition {
  std::string error;                        // empty when the text is valid
  std::map<std::string, std::string> type;  // family -> type
  std::map<std::string, std::string> help;  // family -> unescaped help
  // "name{label="value",...}" with label values unescaped, in the order written -> value
  std::map<std::string, double> samples;
};

Exposition ParseExposition(const std::string& text) {
  Exposition out;
  const std::regex metric_name("[a-zA-Z_:][a-zA-Z0-9_:]*");
  const std::regex label_name("[a-zA-Z_][a-zA-Z0-9_]*");
  auto fail = [&](const std::string& why, const std::string& line) {
    if (out.error.empty()) out.error = why + ": " + line;
  };
  if (!text.empty() && text.back() != '\n') fail("no final newline", "");
  std::set<std::string> finished;  // families whose block of lines ended
  std::string current;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    auto enter = [&](const std::string& family) {
      if (family == current) return;
      if (finished.count(family) != 0) fail("family in two blocks", line);
      if (!current.empty()) finished.insert(current);
      current = family;
    };
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const std::string rest = line.substr(7);
      const size_t sp = rest.find(' ');
      const std::string name = rest.substr(0, sp);
      if (!std::regex_match(name, metric_name)) fail("bad metric name", line);
      enter(name);
      const std::string arg = sp == std::string::npos ? "" : rest.substr(sp + 1);
      if (line[2] == 'T') {
        if (out.type.count(name) != 0) fail("TYPE twice", line);
        if (out.samples.lower_bound(name) != out.samples.end() &&
            out.samples.lower_bound(name)->first.rfind(name, 0) == 0) {
          fail("TYPE after samples", line);
        }
        if (arg != "counter" && arg != "gauge" && arg != "histogram" && arg != "summary" &&
            arg != "untyped") {
          fail("bad type", line);
        }
        out.type[name] = arg;
      } else {
        std::string help;
        for (size_t i = 0; i < arg.size(); ++i) {
          if (arg[i] == '\\' && i + 1 < arg.size() && (arg[i + 1] == '\\' || arg[i + 1] == 'n')) {
            help += arg[i + 1] == 'n' ? '\n' : '\\';
            ++i;
          } else if (arg[i] == '\\') {
            fail("bad escape in HELP", line);
          } else {
            help += arg[i];
          }
        }
        if (out.help.count(name) != 0) fail("HELP twice", line);
        out.help[name] = help;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    // name [{labels}] value [timestamp]
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    const std::string name = line.substr(0, i);
    if (!std::regex_match(name, metric_name)) fail("bad sample name", line);
    if (out.type.count(name) == 0) fail("sample without a TYPE", line);
    enter(name);
    std::string key = name;
    if (i < line.size() && line[i] == '{') {
      key += "{";
      ++i;
      std::set<std::string> seen;
      bool first = true;
      while (i < line.size() && line[i] != '}') {
        if (!first) {
          if (line[i] != ',') {
            fail("expected ','", line);
            break;
          }
          ++i;
          key += ",";
        }
        first = false;
        const size_t eq = line.find('=', i);
        if (eq == std::string::npos) {
          fail("label without '='", line);
          break;
        }
        const std::string label = line.substr(i, eq - i);
        if (!std::regex_match(label, label_name) || label.rfind("__", 0) == 0) {
          fail("bad label name", line);
        }
        if (!seen.insert(label).second) fail("duplicate label", line);
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') {
          fail("label value not quoted", line);
          break;
        }
        ++i;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          const char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= line.size()) break;
            const char e = line[i++];
            if (e == 'n') {
              value += '\n';
            } else if (e == '\\' || e == '"') {
              value += e;
            } else {
              fail("bad escape in label value", line);
            }
          } else {
            value += c;
          }
        }
        if (!closed) {
          fail("unterminated label value", line);
          break;
        }
        key += label + "=\"" + value + "\"";
      }
      if (i >= line.size()) {
        fail("unterminated label set", line);
        continue;
      }
      ++i;  // '}'
      key += "}";
    }
    if (i >= line.size() || line[i] != ' ') {
      fail("no value", line);
      continue;
    }
    std::string value = line.substr(i + 1);
    const size_t sp = value.find(' ');
    if (sp != std::string::npos) value = value.substr(0, sp);  // a timestamp follows
    double v = 0;
    if (value == "NaN") {
      v = std::nan("");
    } else if (value == "+Inf") {
      v = HUGE_VAL;
    } else if (value == "-Inf") {
      v = -HUGE_VAL;
    } else {
      char* end = nullptr;
      v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || value == "nan" || value == "inf") {
        fail("bad value", line);
      }
    }
    if (out.samples.count(key) != 0) fail("duplicate sample", line);
    out.samples[key] = v;
  }
  return out;
}

TEST(ExpositionParserTest, RejectsWhatTheFormatForbids) {
  // The checker itself, on texts known to be wrong, so its silence elsewhere means something.
  for (const char* bad : {
           "x 1\n",
           "# TYPE x gauge\nx{a=1} 1\n",
           "# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",
           "# TYPE x gauge\nx one\n",
           "# TYPE 1x gauge\n",
           "# TYPE x gauge\n# TYPE y gauge\ny 1\nx 2\n",
           "# TYPE x gauge\nx 1",
           "# TYPE x gauge\nx{__a=\"1\"} 1\n",
       }) {
    EXPECT_FALSE(ParseExposition(bad).error.empty()) << bad;
  }
  EXPECT_EQ(ParseExposition("# HELP x h\\\\i\\n\n# TYPE x gauge\nx{a=\"q\\\"\"} +Inf 123\n").error,
            "");
}

// --- MetricsText --------------------------------------------------------------------------------

TEST(MetricsTextTest, WritesValidExpositionWithEscaping) {
  MetricsText m;
  m.Counter("edgetrust_things_total", "Things\nseen, with a \\ backslash", 42);
  m.Family("edgetrust_temp", MetricType::kGauge, "A gauge");
  m.Sample(21.5, {{"leaf", "sensor-1"}, {"site", "a \"quoted\" \\ new\nline"}});
  m.Sample(-3, {{"leaf", "sensor-2"}});
  m.Sample(std::nan(""), {{"leaf", "nan"}});
  m.Sample(HUGE_VAL, {{"leaf", "inf"}});
  m.Sample(-HUGE_VAL, {{"leaf", "-inf"}});
  m.Gauge("big", "Large", 1e20);
  m.Gauge("exact", "Exact integer", 9007199254740992.0);
  m.Gauge("tiny", "Fraction", 0.1);
  ASSERT_TRUE(m.status().ok()) << m.status().ToString();

  const Exposition e = ParseExposition(m.text());
  ASSERT_EQ(e.error, "") << m.text();
  EXPECT_EQ(e.type.at("edgetrust_things_total"), "counter");
  EXPECT_EQ(e.type.at("edgetrust_temp"), "gauge");
  EXPECT_EQ(e.help.at("edgetrust_things_total"), "Things\nseen, with a \\ backslash");
  EXPECT_EQ(e.samples.at("edgetrust_things_total"), 42);
  EXPECT_EQ(e.samples.at("edgetrust_temp{leaf=\"sensor-1\",site=\"a \"quoted\" \\ new\nline\"}"),
            21.5);
  EXPECT_EQ(e.samples.at("edgetrust_temp{leaf=\"sensor-2\"}"), -3);
  EXPECT_TRUE(std::isnan(e.samples.at("edgetrust_temp{leaf=\"nan\"}")));
  EXPECT_EQ(e.samples.at("edgetrust_temp{leaf=\"inf\"}"), HUGE_VAL);
  EXPECT_EQ(e.samples.at("edgetrust_temp{leaf=\"-inf\"}"), -HUGE_VAL);
  EXPECT_EQ(e.samples.at("big"), 1e20);
  EXPECT_EQ(e.samples.at("tiny"), 0.1);
  EXPECT_NE(m.text().find("\nexact 9007199254740992\n"), std::string::npos) << m.text();
  EXPECT_NE(m.text().find("\nedgetrust_things_total 42\n"), std::string::npos) << m.text();
}

TEST(MetricsTextTest, MisuseIsReportedAndLeftOut) {
  EXPECT_TRUE(MetricsText::IsValidMetricName("a:b_c9"));
  EXPECT_TRUE(MetricsText::IsValidMetricName("_x"));
  EXPECT_FALSE(MetricsText::IsValidMetricName(""));
  EXPECT_FALSE(MetricsText::IsValidMetricName("9a"));
  EXPECT_FALSE(MetricsText::IsValidMetricName("a-b"));
  EXPECT_FALSE(MetricsText::IsValidMetricName("a b"));
  EXPECT_TRUE(MetricsText::IsValidLabelName("leaf_2"));
  EXPECT_FALSE(MetricsText::IsValidLabelName("a:b"));
  EXPECT_FALSE(MetricsText::IsValidLabelName("__name__"));
  EXPECT_FALSE(MetricsText::IsValidLabelName("2a"));

  struct Case {
    std::function<void(MetricsText&)> misuse;
    std::string why;
  };
  const std::vector<Case> cases = {
      {[](MetricsText& m) { m.Gauge("bad-name", "h", 1); }, "invalid metric name"},
      {[](MetricsText& m) {
         m.Gauge("g", "h", 1, {{"bad-label", "v"}});
       },
       "invalid label name"},
      {[](MetricsText& m) {
         m.Gauge("g", "h", 1, {{"a", "1"}, {"a", "2"}});
       },
       "twice"},
      {[](MetricsText& m) {
         m.Gauge("ok", "h", 1);
         m.Gauge("ok", "h", 2);
       },
       "declared twice"},
      {[](MetricsText& m) {
         m.Family("bad name", MetricType::kGauge, "h");
         m.Sample(1);
       },
       "invalid metric name"},
      {[](MetricsText& m) { m.Sample(3); }, "duplicate sample before"},
  };
  for (const auto& c : cases) {
    MetricsText m;
    m.Gauge("before", "fine", 1);
    c.misuse(m);
    m.Gauge("after", "fine", 2);
    EXPECT_EQ(m.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find(c.why), std::string::npos) << m.status().message();
    const Exposition e = ParseExposition(m.text());
    EXPECT_EQ(e.error, "") << m.text();
    EXPECT_EQ(e.samples.at("before"), 1);
    EXPECT_EQ(e.samples.at("after"), 2);
  }
  MetricsText first;
  first.Sample(1);
  EXPECT_NE(first.status().message().find("outside"), std::string::npos);
  EXPECT_EQ(first.text(), "");
}

TEST(MetricsTextTest, StatusMetrics) {
  const json status = json::parse(R"({"ok":true,"device":"gw-1","version":"0.1.0","uptime_s":12,
    "cloud":{"state":"connected","broker":"host:8883","since_ms":1,"last_error":"",
             "forwarded_total":99,"inflight":3},
    "queue":{"depth":5,"bytes":1000,"oldest_age_ms":1500,"dropped_total":2,"rejected_total":1},
    "leaves":{"connected":[{"name":"a"},{"name":"b"}],"known":4,"pending":1,"revoked":0},
    "certificates":[{"name":"device-id","not_after":"2027-01-01T00:00:00Z","days_left":364,
                     "renewal_due":false},
                    {"name":"device-ca","days_left":10,"renewal_due":true}]})");
  MetricsText m;
  AppendStatusMetrics(m, status);
  ASSERT_TRUE(m.status().ok()) << m.status().ToString();
  const Exposition e = ParseExposition(m.text());
  ASSERT_EQ(e.error, "") << m.text();
  const std::map<std::string, double> expected = {
      {"edgetrust_agent_info{device=\"gw-1\",version=\"0.1.0\"}", 1},
      {"edgetrust_agent_uptime_seconds", 12},
      {"edgetrust_cloud_connected{broker=\"host:8883\"}", 1},
      {"edgetrust_cloud_forwarded_total", 99},
      {"edgetrust_cloud_inflight", 3},
      {"edgetrust_queue_depth", 5},
      {"edgetrust_queue_bytes", 1000},
      {"edgetrust_queue_oldest_age_seconds", 1.5},
      {"edgetrust_queue_dropped_total", 2},
      {"edgetrust_queue_rejected_total", 1},
      {"edgetrust_leaves_connected", 2},
      {"edgetrust_leaves_known", 4},
      {"edgetrust_leaves_pending", 1},
      {"edgetrust_leaves_revoked", 0},
      {"edgetrust_certificate_days_left{name=\"device-id\"}", 364},
      {"edgetrust_certificate_days_left{name=\"device-ca\"}", 10},
      {"edgetrust_certificate_renewal_due{name=\"device-id\"}", 0},
      {"edgetrust_certificate_renewal_due{name=\"device-ca\"}", 1},
  };
  EXPECT_EQ(e.samples, expected) << m.text();
  EXPECT_EQ(e.type.at("edgetrust_cloud_forwarded_total"), "counter");
  EXPECT_EQ(e.type.at("edgetrust_queue_depth"), "gauge");

  // Shapes the agent should never send still give a valid exposition.
  for (const char* odd : {R"(null)", R"([])", R"({})",
                          R"({"cloud":[],"queue":{"depth":"x"},"leaves":{"connected":5},
                              "certificates":[1,{"days_left":"x"},{"name":5,"days_left":1},
                                              {"name":"a","days_left":1,"renewal_due":true},
                                              {"name":"a","days_left":2,"renewal_due":false}],
                              "device":"a\"b\nc"})"}) {
    MetricsText odd_metrics;
    AppendStatusMetrics(odd_metrics, json::parse(odd));
    EXPECT_TRUE(odd_metrics.status().ok()) << odd;
    EXPECT_EQ(ParseExposition(odd_metrics.text()).error, "") << odd_metrics.text();
  }
}

// --- The endpoint -------------------------------------------------------------------------------

std::string Url(const MetricsServer& s, const std::string& path) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + path;
}

// A raw TCP exchange with the server: sends `request` (optionally nothing), returns all it says.
std::string Exchange(uint16_t port, const std::string& request, bool half_close = false) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 60'000) <= 0) {
      out += "<no end>";
      break;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MetricsServer::Start("127.0.0.1:0", [this] {
      renders++;
      if (fail_render) throw std::runtime_error("render failed");
      MetricsText m;
      m.Counter("edgetrust_scrapes_total", "Scrapes so far", renders.load());
      m.Gauge("edgetrust_up", "Up", 1, {{"device", "gw-1"}});
      return m.text();
    });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    ASSERT_NE(server_->port(), 0);
  }

  std::atomic<int> renders{0};
  std::atomic<bool> fail_render{false};
  std::unique_ptr<MetricsServer> server_;
};

TEST_F(MetricsServerTest, CurlGetsAValidExposition) {
  CommandResult r =
      RunCommand({"curl", "-sS", "-i", "--max-time", "60", Url(*server_, "/metrics")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\r\nConnection: close\r\n"), std::string::npos);
  const std::string body = r.out.substr(r.out.find("\r\n\r\n") + 4);
  const Exposition e = ParseExposition(body);
  ASSERT_EQ(e.error, "") << body;
  EXPECT_EQ(e.samples.at("edgetrust_scrapes_total"), 1);
  EXPECT_EQ(e.samples.at("edgetrust_up{device=\"gw-1\"}"), 1);
  EXPECT_NE(r.out.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);

  // A query string is fine; HEAD has no body.
  r = RunCommand({"curl", "-sS", "--max-time", "60", Url(*server_, "/metrics?x=1")});
  EXPECT_EQ(ParseExposition(r.out).samples.at("edgetrust_scrapes_total"), 2);
  r = RunCommand({"curl", "-sS", "-I", "--max-time", "60", Url(*server_, "/metrics")});
  EXPECT_EQ(r.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.out;
  EXPECT_EQ(r.out.find("edgetrust_up"), std::string::npos) << r.out;
}

TEST_F(MetricsServerTest, PythonUrllibReadsIt) {
  const char* script = R"(
import sys, urllib.request, urllib.error
r = urllib.request.urlopen(sys.argv[1] + '/metrics', timeout=60)
print(r.status, r.headers['Content-Type'])
print(r.read().decode(), end='')
try:
    urllib.request.urlopen(sys.argv[1] + '/nothing', timeout=60)
except urllib.error.HTTPError as e:
    print('other', e.code)
)";
  CommandResult r = RunCommand(
      {"/usr/bin/python3", "-c", script, "http://127.0.0.1:" + std::to_string(server_->port())});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("200 text/plain; version=0.0.4; charset=utf-8\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("edgetrust_up{device=\"gw-1\"} 1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("other 404"), std::string::npos) << r.out;
}

TEST_F(MetricsServerTest, OtherRequestsGetTheirStatus) {
  auto code = [&](std::vector<std::string> extra, const std::string& path) {
    std::vector<std::string> argv = {"curl", "-sS",          "-o",         "/dev/null",
                                     "-w",   "%{http_code}", "--max-time", "60"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(Url(*server_, path));
    return RunCommand(argv).out;
  };
  EXPECT_EQ(code({}, "/"), "404");
  EXPECT_EQ(code({}, "/metrics/x"), "404");
  EXPECT_EQ(code({"-X", "POST", "-d", "x"}, "/metrics"), "405");
  EXPECT_EQ(code({"-X", "DELETE"}, "/metrics"), "405");
  const uint16_t port = server_->port();
  for (const char* bad : {"garbage\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n",
                          "GET /metrics HTTP/2.0\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n",
                          "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
                          "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n"}) {
    const std::string got = Exchange(port, bad);
    EXPECT_EQ(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << bad << " -> " << got;
  }
  EXPECT_EQ(Exchange(port, "GET /metrics HTTP/1.0\n\n").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  // The client ends its side before the head ended.
  EXPECT_EQ(Exchange(port, "GET /metr", /*half_close=*/true).rfind("HTTP/1.1 400 Bad Request", 0),
            0u);
  const std::string huge = "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_EQ(Exchange(port, huge).rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u);
  fail_render = true;
  EXPECT_EQ(code({}, "/metrics"), "500");
  fail_render = false;
  EXPECT_EQ(code({}, "/metrics"), "200");
}

TEST_F(MetricsServerTest, ASilentClientTimesOut) {
  // Nothing sent: after the read timeout the server answers 408 and closes.
  const std::string got = Exchange(server_->port(), "");
  EXPECT_EQ(got.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u) << got;
  EXPECT_EQ(RunCommand({"curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "60",
                        Url(*server_, "/metrics")})
                .out,
            "200");
}

TEST_F(MetricsServerTest, StopIsIdempotentAndClosesThePort) {
  const uint16_t port = server_->port();
  server_->Stop();
  server_->Stop();
  EXPECT_EQ(Exchange(port, "GET /metrics HTTP/1.1\r\n\r\n"), "<connect failed>");
}

TEST(MetricsListenTest, LoopbackOnly) {
  auto render = [] { return std::string(); };
  for (const char* bad :
       {"0.0.0.0:9464", "192.168.1.10:9464", "10.0.0.1:0", "[::]:9464", "[2001:db8::1]:9464",
        "[::ffff:127.0.0.1]:9464", "example.com:9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
        "127.0.0.1:http", "127.0.0.1:-1", ":9464", "", "[::1:9464"}) {
    auto s = MetricsServer::Start(bad, render);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
  for (const char* ok : {"127.0.0.1:0", "127.1.2.3:0", "localhost:0"}) {
    auto s = MetricsServer::Start(ok, render);
    EXPECT_TRUE(s.ok()) << ok << ": " << s.status().ToString();
  }
  auto v6 = MetricsServer::Start("[::1]:0", render);
  if (!v6.ok()) {
    EXPECT_EQ(v6.status().code(), ErrorCode::kIoError);  // a machine without IPv6 loopback
  }
  // A port in use is an I/O error, not a crash.
  auto first = MetricsServer::Start("127.0.0.1:0", render);
  ASSERT_TRUE(first.ok());
  auto second = MetricsServer::Start("127.0.0.1:" + std::to_string((*first)->port()), render);
  EXPECT_EQ(second.status().code(), ErrorCode::kIoError);
}

}  // namespace
}  // namespace edgetrust::agent
