// Monitor::Start: the fanotify group, its marks and the thread that answers it
// (monitor.h; docs/container-guard.md, "Drift detection").
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/files.h"
#include "common/thread_start.h"
#include "common/unique_fd.h"
#include "guard/event_buffer.h"
#include "guard/exec_check.h"
#include "guard/file_hash.h"
#include "guard/monitor.h"
#include "guard/paths.h"
#include "guard/proc_info.h"
#include "guard/watched_module.h"

namespace edgetrust::guard {
namespace {

constexpr size_t kReadBuffer = 64 * 1024;
constexpr uint64_t kPermEvents = FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM;
constexpr uint64_t kExecEvents = FAN_OPEN_EXEC | FAN_OPEN_EXEC_PERM;
// Written files bigger than this are reported without a hash.
constexpr uint64_t kMaxWriteHashBytes = uint64_t{256} << 20;

int64_t RealtimeNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

Status MarkError(const std::string& what, int err) {
  const ErrorCode code = err == EPERM ? ErrorCode::kPermissionDenied
                         : (err == EINVAL || err == EOPNOTSUPP || err == ENOSYS)
                             ? ErrorCode::kUnsupported
                         : err == ENOENT ? ErrorCode::kNotFound
                                         : ErrorCode::kIoError;
  return Status(code, what + ": " + ErrnoText(err));
}

Result<std::string> Canonical(const std::string& path, const char* what) {
  if (path.empty() || path[0] != '/') {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(what) + " is not absolute: '" + path + "'");
  }
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    return Status(ErrorCode::kNotFound, std::string(what) + " " + path + ": " + ErrnoText(errno));
  }
  return std::string(buf);
}

// The 64 KiB read buffer, aligned for fanotify_event_metadata.
struct alignas(fanotify_event_metadata) EventBuffer {
  unsigned char bytes[kReadBuffer];
};

class FanotifyMonitor final : public Monitor {
 public:
  FanotifyMonitor(Callback cb, UniqueFd fan, UniqueFd wake)
      : callback_(std::move(cb)),
        fan_(std::move(fan)),
        wake_(std::move(wake)),
        buffer_(std::make_unique<EventBuffer>()) {}
  ~FanotifyMonitor() override { Stop(); }

  void Begin() {
    thread_ = StartThread([this] { Run(); });
  }

  Status Watch(const WatchSpec& in) override;
  void Unwatch(const std::string& module) override;
  MonitorStats Stats() const override;
  void Stop() override;

 private:
  struct Counters {
    std::atomic<uint64_t> events{0}, exec_checks{0}, denied{0}, allowed_by_timeout{0},
        hash_cache_hits{0}, violations{0};
  };

  void Run();
  void ReadAvailable(bool answer_only);
  void Handle(const RawEvent& ev, int64_t time_ns);
  void HandleExec(WatchedModule& m, int fd, const struct stat& st, const RawEvent& ev,
                  const std::string& path, int64_t time_ns, bool perm);
  void HandleWrite(const WatchedModule& m, int fd, const RawEvent& ev, const std::string& path,
                   int64_t time_ns);
  void ReportOverflow(int64_t time_ns);
  void Answer(int fd, bool allow);
  void Report(Violation v);
  std::shared_ptr<WatchedModule> ByDev(dev_t dev);
  void RemoveMark(const WatchedModule& m, uint64_t bits);

  const Callback callback_;
  const UniqueFd fan_;
  const UniqueFd wake_;
  std::unique_ptr<EventBuffer> buffer_;  // monitor thread only
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  Counters counters_;

  std::mutex watch_mu_;  // serialises Watch/Unwatch/Stop (the marks and the maps together)
  std::mutex mu_;        // guards the maps, for the thread's lookups
  std::map<std::string, std::shared_ptr<WatchedModule>> by_name_;
  std::unordered_map<dev_t, std::shared_ptr<WatchedModule>> by_dev_;
  bool stopped_ = false;  // under watch_mu_
};

Status FanotifyMonitor::Watch(const WatchSpec& in) {
  if (in.module.empty()) return Status(ErrorCode::kInvalidArgument, "watch: empty module name");
  if (!in.image)
    return Status(ErrorCode::kInvalidArgument, "watch " + in.module + ": no image index");
  if (in.answer_timeout.count() < 0) {
    return Status(ErrorCode::kInvalidArgument, "watch " + in.module + ": negative answer timeout");
  }
  auto m = std::make_shared<WatchedModule>();
  m->spec = in;
  ET_ASSIGN_OR_RETURN(m->spec.merged_dir, Canonical(in.merged_dir, "merged folder"));
  ET_ASSIGN_OR_RETURN(m->spec.upper_dir, Canonical(in.upper_dir, "upper folder"));
  m->spec.writable_paths.clear();
  for (const std::string& p : in.writable_paths) {
    ET_ASSIGN_OR_RETURN(std::string norm, NormalisePath(p));
    m->spec.writable_paths.push_back(std::move(norm));
  }
  const std::string& merged = m->spec.merged_dir;
  struct statfs fs {};
  if (::statfs(merged.c_str(), &fs) != 0) return MarkError("statfs " + merged, errno);
  if (fs.f_type != OVERLAYFS_SUPER_MAGIC) {
    return Status(ErrorCode::kInvalidArgument, merged + " is not an overlay filesystem");
  }
  struct stat st {
  }, parent{};
  if (::stat(merged.c_str(), &st) != 0) return MarkError("stat " + merged, errno);
  if (::stat((merged + "/..").c_str(), &parent) != 0 || parent.st_dev == st.st_dev) {
    return Status(ErrorCode::kInvalidArgument, merged + " is not the root of its overlay mount");
  }
  m->dev = st.st_dev;
  m->upper = UniqueFd(::open(m->spec.upper_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!m->upper) return MarkError("open " + m->spec.upper_dir, errno);
  m->mask = FAN_CLOSE_WRITE | (in.mode == Mode::kEnforce ? FAN_OPEN_EXEC_PERM : FAN_OPEN_EXEC);

  std::lock_guard<std::mutex> wl(watch_mu_);
  if (stopped_) return Status(ErrorCode::kFailedPrecondition, "monitor is stopped");
  std::shared_ptr<WatchedModule> old;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto same_dev = by_dev_.find(m->dev);
    if (same_dev != by_dev_.end() && same_dev->second->spec.module != in.module) {
      return Status(ErrorCode::kAlreadyExists,
                    merged + " is already watched for module " + same_dev->second->spec.module);
    }
    auto it = by_name_.find(in.module);
    if (it != by_name_.end()) old = it->second;
    // Installed before the mark, so that the mark's first event finds its module.
    if (old) by_dev_.erase(old->dev);
    by_name_[in.module] = m;
    by_dev_[m->dev] = m;
  }
  if (::fanotify_mark(fan_.get(), FAN_MARK_ADD | FAN_MARK_FILESYSTEM, m->mask, AT_FDCWD,
                      merged.c_str()) != 0) {
    const int err = errno;
    std::lock_guard<std::mutex> l(mu_);
    by_dev_.erase(m->dev);
    by_name_.erase(in.module);
    if (old) {
      by_name_[in.module] = old;
      by_dev_[old->dev] = old;
    }
    return MarkError("fanotify_mark " + merged, err);
  }
  if (old) {
    // Same overlay: drop the event kinds the new mode does not want; another: drop the old mark.
    RemoveMark(*old, old->dev == m->dev ? old->mask & ~m->mask : old->mask);
  }
  spdlog::info("guard: watching module {} ({}, {} mode, {} writable paths)", in.module, merged,
               in.mode == Mode::kEnforce ? "enforce" : "detect", m->spec.writable_paths.size());
  return Status::Ok();
}

void FanotifyMonitor::RemoveMark(const WatchedModule& m, uint64_t bits) {
  if (bits == 0) return;
  // Only while the folder is still that overlay: when the container is gone, so are its
  // superblock and the mark; a leftover folder is another filesystem.
  struct stat st {};
  if (::stat(m.spec.merged_dir.c_str(), &st) != 0 || st.st_dev != m.dev) return;
  if (::fanotify_mark(fan_.get(), FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM, bits, AT_FDCWD,
                      m.spec.merged_dir.c_str()) != 0) {
    spdlog::debug("guard: removing the mark of {}: {}", m.spec.merged_dir, ErrnoText(errno));
  }
}

void FanotifyMonitor::Unwatch(const std::string& module) {
  std::lock_guard<std::mutex> wl(watch_mu_);
  std::shared_ptr<WatchedModule> old;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_name_.find(module);
    if (it == by_name_.end()) return;
    old = it->second;
    by_name_.erase(it);
    by_dev_.erase(old->dev);
  }
  // From here on its queued events find no module and are allowed.
  if (!stopped_) RemoveMark(*old, old->mask);
  spdlog::info("guard: stopped watching module {}", module);
}

MonitorStats FanotifyMonitor::Stats() const {
  MonitorStats s;
  s.events = counters_.events.load();
  s.exec_checks = counters_.exec_checks.load();
  s.denied = counters_.denied.load();
  s.allowed_by_timeout = counters_.allowed_by_timeout.load();
  s.hash_cache_hits = counters_.hash_cache_hits.load();
  s.violations = counters_.violations.load();
  return s;
}

void FanotifyMonitor::Stop() {
  {
    std::lock_guard<std::mutex> wl(watch_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_.store(true);
  const uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) spdlog::warn("guard: eventfd write failed");
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> l(mu_);
  by_dev_.clear();
  by_name_.clear();
}

std::shared_ptr<WatchedModule> FanotifyMonitor::ByDev(dev_t dev) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_dev_.find(dev);
  return it == by_dev_.end() ? nullptr : it->second;
}

void FanotifyMonitor::Run() {
  pollfd fds[2] = {{fan_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  while (!stopping_.load()) {
    const int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("guard: poll: {}", ErrnoText(errno));
      break;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t value = 0;
      (void)!::read(wake_.get(), &value, sizeof value);
    }
    if (stopping_.load()) break;
    if (fds[0].revents & POLLIN) ReadAvailable(false);
  }
  // Shutdown: whatever is queued is answered (allowed) and closed.
  ReadAvailable(true);
}

void FanotifyMonitor::ReadAvailable(bool answer_only) {
  for (;;) {
    const ssize_t n = ::read(fan_.get(), buffer_->bytes, sizeof buffer_->bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) spdlog::error("guard: reading fanotify events: {}", ErrnoText(errno));
      return;
    }
    if (n == 0) return;
    const int64_t time_ns = RealtimeNs();
    const EventBatch batch = ParseEventBuffer(buffer_->bytes, static_cast<size_t>(n));
    if (batch.stop != EventBatch::kEnd) {
      spdlog::error(
          "guard: fanotify read of {} bytes: {} after {} events", n,
          batch.stop == EventBatch::kTruncated ? "truncated event" : "unknown metadata version",
          batch.events.size());
    }
    for (const RawEvent& ev : batch.events) {
      if (answer_only) {
        UniqueFd fd(ev.fd);
        if (fd && (ev.mask & kPermEvents)) Answer(fd.get(), true);
        continue;
      }
      Handle(ev, time_ns);
    }
  }
}

void FanotifyMonitor::Answer(int fd, bool allow) {
  fanotify_response r{};
  r.fd = fd;
  r.response = allow ? FAN_ALLOW : FAN_DENY;
  for (;;) {
    if (::write(fan_.get(), &r, sizeof r) == static_cast<ssize_t>(sizeof r)) return;
    if (errno == EINTR) continue;
    spdlog::error("guard: answering a permission event: {}", ErrnoText(errno));
    return;
  }
}

void FanotifyMonitor::Report(Violation v) {
  counters_.violations.fetch_add(1);
  try {
    callback_(std::move(v));
  } catch (const std::exception& e) {
    spdlog::error("guard: violation callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("guard: violation callback threw");
  }
}

void FanotifyMonitor::ReportOverflow(int64_t time_ns) {
  spdlog::error("guard: fanotify event queue overflowed: events were lost");
  std::vector<std::shared_ptr<WatchedModule>> all;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [name, m] : by_name_) all.push_back(m);
  }
  for (const auto& m : all) {
    Violation v;
    v.kind = Violation::kWrite;
    v.module = m->spec.module;
    v.container_id = m->spec.container_id;
    v.reason = "event queue overflowed";
    v.time_ns = time_ns;
    Report(std::move(v));
  }
}

void FanotifyMonitor::Handle(const RawEvent& ev, int64_t time_ns) {
  counters_.events.fetch_add(1);
  if (ev.mask & FAN_Q_OVERFLOW) {
    if (ev.fd >= 0) ::close(ev.fd);
    ReportOverflow(time_ns);
    return;
  }
  UniqueFd fd(ev.fd);  // always closed, after the answer
  if (!fd) return;
  const bool perm = (ev.mask & kPermEvents) != 0;
  struct stat st {};
  std::shared_ptr<WatchedModule> m;
  if (::fstat(fd.get(), &st) == 0) m = ByDev(st.st_dev);
  if (!m) {
    // Unwatched (or never watched) superblock: allowed.
    if (perm) Answer(fd.get(), true);
    return;
  }
  const std::string reported = DescriptorPath(fd.get(), st.st_nlink == 0);
  std::string path = "(unknown)";
  if (!reported.empty()) {
    auto norm = NormalisePath(StripMergedPrefix(reported, m->spec.merged_dir));
    if (norm.ok()) path = std::move(norm).value();
  }
  if (ev.mask & kExecEvents) {
    HandleExec(*m, fd.get(), st, ev, path, time_ns, perm);
  } else if (perm) {
    Answer(fd.get(), true);  // a permission event we never asked for
  }
  if (ev.mask & FAN_CLOSE_WRITE) HandleWrite(*m, fd.get(), ev, path, time_ns);
}

void FanotifyMonitor::HandleExec(WatchedModule& m, int fd, const struct stat& st,
                                 const RawEvent& ev, const std::string& path, int64_t time_ns,
                                 bool perm) {
  counters_.exec_checks.fetch_add(1);
  const auto deadline = std::chrono::steady_clock::now() + m.spec.answer_timeout;
  const ExecVerdict verdict = CheckExec(m, fd, st, path, deadline);
  if (verdict.cache_hit) counters_.hash_cache_hits.fetch_add(1);
  const bool enforce = perm && m.spec.mode == Mode::kEnforce;
  if (verdict.in_image && !verdict.unverified) {
    if (perm) Answer(fd, true);
    return;
  }
  bool allow = !enforce;
  if (enforce && verdict.unverified) allow = m.spec.fail == FailPolicy::kOpen;
  Violation v;
  v.kind = Violation::kExec;
  v.module = m.spec.module;
  v.container_id = m.spec.container_id;
  v.path = path;
  v.reason = verdict.reason;
  v.pid = ev.pid;
  v.process = DescribeProcess(ev.pid);  // before the answer: an allowed exec replaces it
  v.denied = !allow;
  v.time_ns = time_ns;
  if (perm) Answer(fd, allow);
  if (!allow) counters_.denied.fetch_add(1);
  if (enforce && verdict.unverified && allow) counters_.allowed_by_timeout.fetch_add(1);
  if (enforce && verdict.unverified) {
    v.reason += allow ? " (fail-open: allowed)" : " (fail-closed: denied)";
  }
  // The content's hash for the report, after the answer (bounded like the answer itself).
  v.sha256 = verdict.sha256;
  if (v.sha256.empty() && !verdict.unverified) {
    auto h = HashFdUntil(fd, kMaxWriteHashBytes,
                         std::chrono::steady_clock::now() + m.spec.answer_timeout);
    if (h.ok()) v.sha256 = std::move(h).value();
  }
  spdlog::warn("guard: module {}: exec of {} by {}: {}{}", v.module, v.path, v.process, v.reason,
               v.denied ? " (denied)" : "");
  Report(std::move(v));
}

void FanotifyMonitor::HandleWrite(const WatchedModule& m, int fd, const RawEvent& ev,
                                  const std::string& path, int64_t time_ns) {
  if (WriteAllowed(m, path)) return;
  Violation v;
  v.kind = Violation::kWrite;
  v.module = m.spec.module;
  v.container_id = m.spec.container_id;
  v.path = path;
  v.reason = "written outside the writable paths";
  v.pid = ev.pid;
  v.process = DescribeProcess(ev.pid);
  v.time_ns = time_ns;
  auto h =
      HashFdUntil(fd, kMaxWriteHashBytes, std::chrono::steady_clock::now() + m.spec.answer_timeout);
  if (h.ok()) v.sha256 = std::move(h).value();
  spdlog::warn("guard: module {}: {} written by {}", v.module, v.path, v.process);
  Report(std::move(v));
}

}  // namespace

Result<std::unique_ptr<Monitor>> Monitor::Start(Callback on_violation) {
  if (!on_violation) return Status(ErrorCode::kInvalidArgument, "monitor: no violation callback");
  UniqueFd fan(::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK,
                               O_RDONLY | O_LARGEFILE | O_CLOEXEC));
  if (!fan) {
    const int err = errno;
    if (err == EPERM) {
      return Status(ErrorCode::kPermissionDenied, "fanotify_init needs CAP_SYS_ADMIN");
    }
    if (err == EINVAL || err == ENOSYS) {
      return Status(ErrorCode::kUnsupported,
                    "the kernel lacks fanotify permission events: " + ErrnoText(err));
    }
    return Status(ErrorCode::kIoError, "fanotify_init: " + ErrnoText(err));
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return Status(ErrorCode::kIoError, "eventfd: " + ErrnoText(errno));
  auto m =
      std::make_unique<FanotifyMonitor>(std::move(on_violation), std::move(fan), std::move(wake));
  try {
    m->Begin();
  } catch (const std::system_error& e) {
    return Status(ErrorCode::kResourceExhausted, std::string("monitor thread: ") + e.what());
  }
  return std::unique_ptr<Monitor>(std::move(m));
}

}  // namespace edgetrust::guard
