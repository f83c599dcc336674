// Container drift: injection -> detection and detection -> healthy again, over many injections,
// and the CPU it costs to watch 10 idle modules, for the container guard (fanotify on each
// module's overlay, src/guard) side by side with the naive approach that tools without kernel
// hooks take: polling the engine's GET /containers/{id}/changes once per second and recreating
// the container when something appears.
//
// Both run in the same process against the same real dockerd and image, with the same
// remediation (kill, remove, create, start from the pinned image). An injection is a file written
// into the running container through /proc/<pid>/root (the container's own mount, the way a
// process inside it or `docker cp` writes); its time is taken just before the write. Detection is
// the guard's reported kernel-event time, or for the poller the time its poll saw the path. Idle
// CPU is the process's CPU time over an idle period with 10 modules watched (each module execs
// `sleep` every second, so the exec checks run), plus dockerd's for the poller, whose cost lives
// in the engine's diff of every container's layer.
//
// Prints a table and `metric NAME VALUE` lines. Usage:
//   bench_container_guard [--injections N] [--modules N] [--idle-seconds S]
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_table.h"
#include "docker/engine.h"
#include "dockerd.h"
#include "guard/container_guard.h"
#include "harness.h"
#include "identity/certificate.h"

namespace edgetrust::bench {
namespace {

using nlohmann::json;
using test::CommandResult;
using test::DockerdProcess;
using test::RunCommand;

int64_t NowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

double ProcessCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// utime + stime of a process and its waited-for children, from /proc/<pid>/stat.
double PidCpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  for (std::string s; fields >> s;) f.push_back(s);
  // After "pid (comm) ": state is field 0, utime 11, stime 12, cutime 13, cstime 14.
  if (f.size() < 15) return 0;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (std::stod(f[11]) + std::stod(f[12]) + std::stod(f[13]) + std::stod(f[14])) / ticks;
}

int DockerdPid(const DockerdProcess& d) {
  CommandResult r = RunCommand({"pgrep", "-f", "dockerd.*" + d.socket()});
  return r.exit_code == 0 ? std::atoi(r.out.c_str()) : 0;
}

struct Options {
  int injections = 50;
  int modules = 10;
  double idle_seconds = 10;
};

struct Results {
  std::vector<double> detect_ms;
  std::vector<double> healthy_ms;
  double idle_cpu_percent = 0;
  double idle_engine_cpu_percent = 0;
  int missed = 0;
};

Status Fail(const std::string& why) { return Status(ErrorCode::kInternal, why); }

class Bench {
 public:
  Bench(DockerdProcess& dockerd, Options options) : dockerd_(dockerd), options_(options) {}

  Status Setup() {
    std::string err;
    image_ = dockerd_.BuildBusyboxImage("edgetrust-bench:1", {}, &err);
    if (image_.empty()) return Fail("image: " + err);
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", dir_.File("ca.key"), "-out", dir_.File("ca.pem"), "-days", "2", "-subj",
              "/CN=bench CA", "-addext", "basicConstraints=critical,CA:TRUE"},
             {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
              dir_.File("s.key"), "-out", dir_.File("s.csr"), "-subj", "/CN=bench signer"},
             {"x509", "-req", "-in", dir_.File("s.csr"), "-CA", dir_.File("ca.pem"), "-CAkey",
              dir_.File("ca.key"), "-CAcreateserial", "-out", dir_.File("s.pem"), "-days", "2"}}) {
      std::vector<std::string> argv = {"openssl"};
      argv.insert(argv.end(), args.begin(), args.end());
      CommandResult r = RunCommand(argv);
      if (r.exit_code != 0) return Fail("openssl: " + r.err);
    }
    // The guard (this process) measures containers into register 2 (admins only by default).
    test::SdProcess::Options so;
    so.config_text =
        "[[policy.register]]\nindex = 2\nextenders = [\"uid:" + std::to_string(::getuid()) +
        "\"]\n";
    sd_ = std::make_unique<test::SdProcess>(dir_, so);
    if (!sd_->Start()) return Fail("edgetrust-sd: " + sd_->log());
    docker::EngineOptions eo;
    eo.socket_path = dockerd_.socket();
    auto engine = docker::ConnectDockerEngine(eo);
    if (!engine.ok()) return engine.status();
    engine_ = std::move(engine).value();
    return Status::Ok();
  }

  json ModuleJson(int i) const {
    return {
        {"name", "m" + std::to_string(i)},
        {"image", image_},
        {"command", {"/bin/sh", "-c", "while true; do sleep 1; done"}},
        {"read_only_rootfs", false},
        {"integrity", {{"mode", "detect"}, {"layer_check_seconds", 0}}},
        {"remediation", {{"action", "restart"}, {"max_restarts", 1000}, {"window_seconds", 1}}}};
  }

  // --- the container guard -----------------------------------------------------------------

  Status RunGuard(Results& out) {
    guard::GuardOptions go;
    go.state_dir = dir_.File("guard");
    go.sd_socket = sd_->socket();
    go.report_unmanaged = false;
    guard::GuardDeps deps;
    deps.engine = engine_.get();
    const std::string ca = dir_.File("ca.pem");
    deps.deployment_trust = [ca]() -> Result<std::vector<X509Ptr>> {
      return identity::ParseCertificates(test::ReadText(ca), "deployment CA");
    };
    deps.report = [this](const json& e) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(e);
      }
      cv_.notify_all();
    };
    auto g = guard::ContainerGuard::Start(go, deps);
    if (!g.ok()) return g.status();
    auto guard = std::move(g).value();

    json modules = json::array();
    for (int i = 0; i < options_.modules; ++i) modules.push_back(ModuleJson(i));
    const json manifest = {{"format", "edgetrust-deployment/1"},
                           {"deployment", "bench"},
                           {"sequence", 1},
                           {"modules", modules}};
    test::WriteText(dir_.File("m.json"), manifest.dump());
    CommandResult sig = RunCommand({"openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in",
                                    dir_.File("m.json"), "-signer", dir_.File("s.pem"), "-inkey",
                                    dir_.File("s.key"), "-out", dir_.File("m.sig")});
    if (sig.exit_code != 0) return Fail("sign: " + sig.err);
    const std::string mtext = test::ReadText(dir_.File("m.json"));
    const std::string stext = test::ReadText(dir_.File("m.sig"));
    auto deployed = guard->Deploy(Bytes(mtext.begin(), mtext.end()),
                                  Bytes(stext.begin(), stext.end()), dir_.path(), "bench");
    if (!deployed.ok()) return deployed.status();
    if (!(*deployed)["failed"].empty()) return Fail("modules failed: " + deployed->dump());

    // Idle first, with every module watched.
    MeasureIdle(out);

    for (int k = 0; k < options_.injections; ++k) {
      const std::string module = "m" + std::to_string(k % options_.modules);
      const std::string path = "/etc/injected-" + std::to_string(k);
      json state = json::object();
      const json all = guard->Modules();
      for (const auto& m : all.at("modules")) {
        if (m.at("name") == module) state = m;
      }
      auto info = engine_->InspectContainer(state.value("container", ""));
      if (!info.ok()) return info.status();
      const size_t from = Count();
      const int64_t injected = NowNs();
      if (!WriteInto(info->state.pid, path)) return Fail("cannot inject into " + module);
      auto v = WaitFor(from, [&](const json& e) {
        return e.value("event", "") == "violation" && e.value("path", "") == path;
      });
      auto r = WaitFor(from, [&](const json& e) {
        return e.value("event", "") == "remediated" && e.value("module", "") == module;
      });
      if (!v || !r) {
        ++out.missed;
        continue;
      }
      out.detect_ms.push_back(static_cast<double>((*v)["detected_ns"].get<int64_t>() - injected) /
                              1e6);
      out.healthy_ms.push_back(static_cast<double>((*r)["healthy_ms"].get<int64_t>()) -
                               static_cast<double>((*v)["detected_ns"].get<int64_t>()) / 1e6);
    }
    guard->Stop();
    dockerd_.RemoveAllContainers();
    return Status::Ok();
  }

  // --- the naive poller --------------------------------------------------------------------

  Status RunPoller(Results& out) {
    // The same modules, created the way the guard creates them, without any watching.
    std::vector<std::string> ids(static_cast<size_t>(options_.modules));
    auto spec_of = [&](int i) {
      docker::ContainerSpec s;
      s.name = "poll-m" + std::to_string(i);
      s.image = image_;
      s.command = {"/bin/sh", "-c", "while true; do sleep 1; done"};
      s.read_only_rootfs = false;
      s.cap_drop = {"ALL"};
      s.security_opt = {"no-new-privileges"};
      return s;
    };
    auto recreate = [&](int i) -> Status {
      if (!ids[static_cast<size_t>(i)].empty()) {
        (void)engine_->RemoveContainer(ids[static_cast<size_t>(i)], true, true);
      }
      ET_ASSIGN_OR_RETURN(ids[static_cast<size_t>(i)], engine_->CreateContainer(spec_of(i)));
      return engine_->StartContainer(ids[static_cast<size_t>(i)]);
    };
    for (int i = 0; i < options_.modules; ++i) ET_RETURN_IF_ERROR(recreate(i));

    // The poller: every second, GET /changes of every container; anything added or changed is
    // a detection (with its time), and the container is recreated.
    std::mutex pm;
    std::map<std::string, std::pair<int64_t, int64_t>> seen;  // path -> (detected, healthy)
    std::atomic<bool> stop{false};
    std::atomic<bool> remediate{false};
    std::thread poller([&] {
      while (!stop) {
        const auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        for (int i = 0; i < options_.modules && !stop; ++i) {
          std::string id;
          {
            std::lock_guard<std::mutex> lock(pm);
            id = ids[static_cast<size_t>(i)];
          }
          auto changes = engine_->Changes(id);
          if (!changes.ok()) continue;
          std::string hit;
          for (const auto& c : *changes) {
            if (c.kind != docker::Change::kDeleted && c.path.rfind("/etc/injected-", 0) == 0) {
              hit = c.path;
            }
          }
          if (hit.empty() || !remediate) continue;
          const int64_t detected = NowNs();
          std::lock_guard<std::mutex> lock(pm);
          (void)recreate(i);
          seen[hit] = {detected, NowNs()};
        }
        std::this_thread::sleep_until(next);
      }
    });

    // Idle: the poller's own CPU and the engine's work for it.
    MeasureIdle(out);
    remediate = true;

    for (int k = 0; k < options_.injections; ++k) {
      const int i = k % options_.modules;
      const std::string path = "/etc/injected-" + std::to_string(k);
      std::string id;
      {
        std::lock_guard<std::mutex> lock(pm);
        id = ids[static_cast<size_t>(i)];
      }
      auto info = engine_->InspectContainer(id);
      if (!info.ok()) return info.status();
      const int64_t injected = NowNs();
      if (!WriteInto(info->state.pid, path)) return Fail("cannot inject");
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      std::optional<std::pair<int64_t, int64_t>> got;
      while (!got && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        std::lock_guard<std::mutex> lock(pm);
        if (seen.count(path)) got = seen[path];
      }
      if (!got) {
        ++out.missed;
        continue;
      }
      out.detect_ms.push_back(static_cast<double>(got->first - injected) / 1e6);
      out.healthy_ms.push_back(static_cast<double>(got->second - got->first) / 1e6);
    }
    stop = true;
    poller.join();
    dockerd_.RemoveAllContainers();
    return Status::Ok();
  }

 private:
  // This process's CPU and dockerd's over an idle period, after a short settling time.
  void MeasureIdle(Results& out) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const int dpid = DockerdPid(dockerd_);
    const double cpu0 = ProcessCpuSeconds(), eng0 = dpid ? PidCpuSeconds(dpid) : 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(options_.idle_seconds));
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.idle_cpu_percent = 100.0 * (ProcessCpuSeconds() - cpu0) / wall;
    out.idle_engine_cpu_percent = dpid ? 100.0 * (PidCpuSeconds(dpid) - eng0) / wall : 0;
  }

  static bool WriteInto(int64_t pid, const std::string& path) {
    const std::string host = "/proc/" + std::to_string(pid) + "/root" + path;
    const int fd = ::open(host.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (fd < 0) return false;
    const char payload[] = "#!/bin/sh\necho injected\n";
    const bool ok = ::write(fd, payload, sizeof payload - 1) == sizeof payload - 1;
    ::close(fd);
    return ok;
  }

  size_t Count() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }

  std::optional<json> WaitFor(size_t from, const std::function<bool(const json&)>& pred) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<json> found;
    cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      for (size_t i = from; i < events_.size(); ++i) {
        if (pred(events_[i])) {
          found = events_[i];
          return true;
        }
      }
      return false;
    });
    return found;
  }

  DockerdProcess& dockerd_;
  Options options_;
  test::TempDir dir_;
  std::string image_;
  std::unique_ptr<test::SdProcess> sd_;
  std::unique_ptr<docker::ContainerEngine> engine_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<json> events_;
};

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : "0"; };
    if (a == "--injections") {
      o.injections = std::max(1, std::atoi(next()));
    } else if (a == "--modules") {
      o.modules = std::max(1, std::atoi(next()));
    } else if (a == "--idle-seconds") {
      o.idle_seconds = std::max(1.0, std::atof(next()));
    } else {
      std::fprintf(stderr,
                   "usage: bench_container_guard [--injections N (50)] [--modules N (10)] "
                   "[--idle-seconds S (10)]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  std::string why;
  DockerdProcess* dockerd = DockerdProcess::Shared(&why);
  if (dockerd == nullptr) {
    std::fprintf(stderr, "bench_container_guard: no Docker engine: %s\n", why.c_str());
    return 1;
  }
  Bench bench(*dockerd, o);
  if (Status st = bench.Setup(); !st.ok()) {
    std::fprintf(stderr, "bench_container_guard: %s\n", st.ToString().c_str());
    return 1;
  }
  Results guard, poll;
  if (Status st = bench.RunGuard(guard); !st.ok()) {
    std::fprintf(stderr, "bench_container_guard: guard: %s\n", st.ToString().c_str());
    return 1;
  }
  if (Status st = bench.RunPoller(poll); !st.ok()) {
    std::fprintf(stderr, "bench_container_guard: poller: %s\n", st.ToString().c_str());
    return 1;
  }

  std::printf(
      "\nContainer drift: %d injections over %d modules (file written into the running "
      "container), idle over %.0f s\n\n",
      o.injections, o.modules, o.idle_seconds);
  Table t({"approach", "detect p50 ms", "detect p99 ms", "healthy p50 ms", "healthy p99 ms",
           "idle CPU % (self)", "idle CPU % (dockerd)", "missed"});
  auto row = [&](const std::string& name, const Results& r) {
    t.Add({name, Fixed(Percentile(r.detect_ms, 0.5), 2), Fixed(Percentile(r.detect_ms, 0.99), 2),
           Fixed(Percentile(r.healthy_ms, 0.5), 1), Fixed(Percentile(r.healthy_ms, 0.99), 1),
           Fixed(r.idle_cpu_percent, 2), Fixed(r.idle_engine_cpu_percent, 2),
           std::to_string(r.missed)});
  };
  row("edgetrust guard (fanotify)", guard);
  row("poll /changes every 1 s", poll);
  t.Print();
  std::printf("\ngoals: detection p99 <= 50 ms, healthy again p99 <= 1000 ms, idle CPU <= 1%%\n");
  auto metric = [](const std::string& name, double v, int d) {
    std::printf("metric %s %s\n", name.c_str(), Fixed(v, d).c_str());
  };
  metric("guard_detect_p50_ms", Percentile(guard.detect_ms, 0.5), 2);
  metric("guard_detect_p99_ms", Percentile(guard.detect_ms, 0.99), 2);
  metric("guard_healthy_p50_ms", Percentile(guard.healthy_ms, 0.5), 1);
  metric("guard_healthy_p99_ms", Percentile(guard.healthy_ms, 0.99), 1);
  metric("guard_idle_cpu_percent", guard.idle_cpu_percent, 2);
  metric("guard_idle_dockerd_cpu_percent", guard.idle_engine_cpu_percent, 2);
  metric("guard_missed", guard.missed, 0);
  metric("poll_detect_p50_ms", Percentile(poll.detect_ms, 0.5), 2);
  metric("poll_detect_p99_ms", Percentile(poll.detect_ms, 0.99), 2);
  metric("poll_healthy_p50_ms", Percentile(poll.healthy_ms, 0.5), 1);
  metric("poll_healthy_p99_ms", Percentile(poll.healthy_ms, 0.99), 1);
  metric("poll_idle_cpu_percent", poll.idle_cpu_percent, 2);
  metric("poll_idle_dockerd_cpu_percent", poll.idle_engine_cpu_percent, 2);
  metric("poll_missed", poll.missed, 0);
  return guard.missed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace edgetrust::bench

int main(int argc, char** argv) { return edgetrust::bench::Main(argc, argv); }
