// Drift-detection benchmark: the cost the fanotify monitor adds to an exec. Runs
// /bin/busybox true (busybox-static copied into an overlay's lower folder) by fork + execve from
// the overlay's merged folder, --iterations times (default 2000) per configuration:
//   unwatched  no mark on the overlay
//   detect     FAN_OPEN_EXEC: the exec is reported to the monitor, never waits for it
//   enforce    FAN_OPEN_EXEC_PERM: every exec waits for the monitor's answer (hash cached)
// The configurations are measured in alternating slices, so a machine whose speed drifts favours
// none. Prints p50/p99 per configuration and the enforce/unwatched ratio, as a table and as
// `metric NAME VALUE` lines. Needs root (overlay mount, fanotify). Asserts no timing; it fails
// only if an exec fails or the monitor reports a violation (the measured execs must be clean).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench_table.h"
#include "guard/image_index.h"
#include "guard/monitor.h"

namespace {

namespace fs = std::filesystem;
using edgetrust::bench::Cell;
using edgetrust::bench::Fixed;
using edgetrust::bench::Metric;
using Clock = std::chrono::steady_clock;

constexpr int kSlices = 4;
constexpr int kWarmUp = 50;

struct OverlayDir {
  std::string root, lower, upper, work, merged;
  bool mounted = false;
  ~OverlayDir() {
    if (mounted) ::umount2(merged.c_str(), MNT_DETACH);
    std::error_code ec;
    if (!root.empty()) fs::remove_all(root, ec);
  }
};

bool MakeOverlay(OverlayDir& o) {
  char tmpl[] = "/tmp/et-guard-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return false;
  o.root = tmpl;
  o.lower = o.root + "/lower";
  o.upper = o.root + "/upper";
  o.work = o.root + "/work";
  o.merged = o.root + "/merged";
  std::error_code ec;
  for (const auto& d : {o.lower + "/bin", o.upper, o.work, o.merged}) fs::create_directories(d, ec);
  fs::copy_file("/bin/busybox", o.lower + "/bin/busybox", ec);
  if (ec) {
    std::fprintf(stderr, "copy /bin/busybox: %s\n", ec.message().c_str());
    return false;
  }
  ::chmod((o.lower + "/bin/busybox").c_str(), 0755);
  const std::string opts = "lowerdir=" + o.lower + ",upperdir=" + o.upper + ",workdir=" + o.work;
  if (::mount("overlay", o.merged.c_str(), "overlay", 0, opts.c_str()) != 0) {
    std::fprintf(stderr, "mount overlay: %s (needs root)\n", std::strerror(errno));
    return false;
  }
  o.mounted = true;
  return true;
}

// One fork + execve + waitpid; false if the exec or the program failed.
bool RunOnce(const std::string& path) {
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    char argv0[] = "true";
    char* argv[] = {argv0, nullptr};
    char* envp[] = {nullptr};
    ::execve(path.c_str(), argv, envp);
    ::_exit(126);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool MeasureSlice(Cell& cell, const std::string& path, int n) {
  for (int i = 0; i < kWarmUp; ++i) {
    if (!RunOnce(path)) return false;
  }
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    if (!RunOnce(path)) return false;
    cell.samples_us.push_back(std::chrono::duration<float, std::micro>(Clock::now() - t0).count());
  }
  cell.elapsed_s += std::chrono::duration<double>(Clock::now() - start).count();
  return true;
}

int Run(int iterations) {
  OverlayDir o;
  if (!MakeOverlay(o)) return 1;
  auto index = edgetrust::guard::ImageIndex::Build({o.lower});
  if (!index.ok()) {
    std::fprintf(stderr, "image index: %s\n", index.status().ToString().c_str());
    return 1;
  }
  std::atomic<int> violations{0};
  auto monitor = edgetrust::guard::Monitor::Start([&](edgetrust::guard::Violation v) {
    std::fprintf(stderr, "violation: %s %s\n", v.path.c_str(), v.reason.c_str());
    violations.fetch_add(1);
  });
  if (!monitor.ok()) {
    std::fprintf(stderr, "monitor: %s\n", monitor.status().ToString().c_str());
    return 1;
  }
  const std::string exe = o.merged + "/bin/busybox";
  const char* names[] = {"unwatched", "detect", "enforce"};
  Cell cells[3];
  const int per_slice = std::max(1, iterations / kSlices);
  for (int slice = 0; slice < kSlices; ++slice) {
    for (int c = 0; c < 3; ++c) {
      (*monitor)->Unwatch("bench");
      if (c > 0) {
        edgetrust::guard::WatchSpec spec;
        spec.module = "bench";
        spec.container_id = "bench";
        spec.merged_dir = o.merged;
        spec.upper_dir = o.upper;
        spec.image = *index;
        spec.mode = c == 1 ? edgetrust::guard::Mode::kDetect : edgetrust::guard::Mode::kEnforce;
        auto st = (*monitor)->Watch(spec);
        if (!st.ok()) {
          std::fprintf(stderr, "watch: %s\n", st.ToString().c_str());
          return 1;
        }
      }
      if (!MeasureSlice(cells[c], exe, per_slice)) {
        std::fprintf(stderr, "%s: exec of %s failed\n", names[c], exe.c_str());
        return 1;
      }
    }
  }
  (*monitor)->Stop();
  if (violations.load() != 0) {
    std::fprintf(stderr, "the monitor reported %d violations for image binaries\n",
                 violations.load());
    return 1;
  }
  for (Cell& c : cells) edgetrust::bench::Finish(c);
  const auto stats = (*monitor)->Stats();

  std::printf("exec latency of %s (fork + execve + waitpid), %d runs per mode\n", exe.c_str(),
              per_slice * kSlices);
  edgetrust::bench::Table table({"mode", "p50 us", "p99 us", "execs/s", "p50 vs unwatched"});
  for (int c = 0; c < 3; ++c) {
    const std::string ratio =
        cells[0].p50_us > 0 ? Fixed(cells[c].p50_us / cells[0].p50_us, 2) + "x" : "n/a";
    table.Add({names[c], Fixed(cells[c].p50_us, 0), Fixed(cells[c].p99_us, 0),
               Fixed(cells[c].ops_per_s, 0), ratio});
  }
  table.Print();
  std::printf("monitor: %llu events, %llu exec checks, %llu hash cache hits\n",
              static_cast<unsigned long long>(stats.events),
              static_cast<unsigned long long>(stats.exec_checks),
              static_cast<unsigned long long>(stats.hash_cache_hits));
  for (int c = 0; c < 3; ++c) {
    Metric(std::string("guard_exec_p50_us_") + names[c], cells[c].p50_us, 0);
    Metric(std::string("guard_exec_p99_us_") + names[c], cells[c].p99_us, 0);
  }
  if (cells[0].p50_us > 0) {
    Metric("guard_exec_ratio_p50_enforce_unwatched", cells[2].p50_us / cells[0].p50_us, 2);
  }
  if (cells[0].p99_us > 0) {
    Metric("guard_exec_ratio_p99_enforce_unwatched", cells[2].p99_us / cells[0].p99_us, 2);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 2000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc) {
      iterations = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--iterations N]   (default 2000; needs root)\n", argv[0]);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (iterations <= 0) {
    std::fprintf(stderr, "--iterations must be positive\n");
    return 2;
  }
  return Run(iterations);
}
