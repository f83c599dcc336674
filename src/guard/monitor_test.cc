// Drift detection against real overlay mounts, real fanotify and real fork+execve.
//
// Absence of a violation is asserted with a sentinel: after the action, a file is written outside
// the writable paths; the group's queue is FIFO and the monitor handles events in order, so once
// the sentinel's violation arrived, everything before it has been handled.
#include "guard/monitor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "guard/test_overlay.h"

namespace edgetrust::guard {
namespace {

using testing::Collector;
using testing::Overlay;
using testing::TempDir;

const std::string& Skip() {
  static const std::string why = testing::Unavailable();
  return why;
}

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Skip().empty()) GTEST_SKIP() << Skip();
    a_ = MakeOverlay("a");
    ASSERT_TRUE(a_);
    auto mon = Monitor::Start(collector_.callback());
    ASSERT_TRUE(mon.ok()) << mon.status().ToString();
    monitor_ = std::move(mon).value();
  }
  void TearDown() override {
    if (monitor_) monitor_->Stop();
  }

  std::unique_ptr<Overlay> MakeOverlay(const std::string& name) {
    auto o = std::make_unique<Overlay>(dir_.path() + "/" + name);
    testing::PopulateImage(*o);
    const std::string why = o->Mount();
    EXPECT_EQ(why, "");
    if (!why.empty()) return nullptr;
    return o;
  }

  WatchSpec Spec(const Overlay& o, const std::string& module, Mode mode) {
    auto idx = ImageIndex::Build(o.lowers());
    EXPECT_TRUE(idx.ok()) << idx.status().ToString();
    WatchSpec s;
    s.module = module;
    s.container_id = "cid-" + module;
    s.merged_dir = o.merged;
    s.upper_dir = o.upper;
    s.image = idx.ok() ? *idx : nullptr;
    s.writable_paths = {"/data"};
    s.mode = mode;
    return s;
  }

  // Writes a sentinel file on `o` and waits for its violation; returns every violation so far.
  std::vector<Violation> Sentinel(const Overlay& o) {
    const std::string name = "/sentinel-" + std::to_string(++sentinels_);
    testing::WriteFile(o.merged + name, "sentinel");
    return collector_.WaitForPath(name);
  }

  static std::vector<Violation> Without(std::vector<Violation> all, const std::string& prefix) {
    std::vector<Violation> out;
    for (auto& v : all) {
      if (v.path.rfind(prefix, 0) != 0) out.push_back(std::move(v));
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Overlay> a_;
  Collector collector_;
  std::unique_ptr<Monitor> monitor_;
  int sentinels_ = 0;
};

TEST_F(MonitorTest, ImageBinaryRunsCleanInBothModes) {
  for (Mode mode : {Mode::kDetect, Mode::kEnforce}) {
    ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", mode)).ok());
    auto r = testing::Exec(a_->merged + "/bin/true", "true");
    EXPECT_EQ(r.exec_errno, 0);
    EXPECT_EQ(r.exit_code, 0);
    r = testing::Exec(a_->merged + "/bin/busybox", "true");
    EXPECT_EQ(r.exit_code, 0);
  }
  auto all = Sentinel(*a_);
  EXPECT_TRUE(Without(all, "/sentinel-").empty());
  const MonitorStats s = monitor_->Stats();
  EXPECT_EQ(s.exec_checks, 4u);
  EXPECT_EQ(s.denied, 0u);
  EXPECT_EQ(s.violations, 1u);  // the sentinel
  // One hash per mode's first exec (a re-Watch starts a new cache), then cache hits.
  EXPECT_EQ(s.hash_cache_hits, 2u);
}

TEST_F(MonitorTest, WriteOutsideWritablePathsIsReportedWithItsHash) {
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", Mode::kDetect)).ok());
  testing::WriteFile(a_->merged + "/etc/new.conf", "hello drift\n");
  auto all = collector_.WaitForPath("/etc/new.conf");
  ASSERT_EQ(all.size(), 1u);
  const Violation& v = all[0];
  EXPECT_EQ(v.kind, Violation::kWrite);
  EXPECT_EQ(v.module, "app");
  EXPECT_EQ(v.container_id, "cid-app");
  EXPECT_EQ(v.sha256, testing::OpensslSha256(a_->merged + "/etc/new.conf"));
  EXPECT_EQ(v.pid, ::getpid());
  EXPECT_NE(v.process.find("guard_unit_test"), std::string::npos) << v.process;
  EXPECT_GT(v.time_ns, 0);
  EXPECT_FALSE(v.denied);
}

TEST_F(MonitorTest, WriteUnderWritablePathIsSilent) {
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", Mode::kEnforce)).ok());
  testing::WriteFile(a_->merged + "/data/state.db", "ok");
  testing::WriteFile(a_->merged + "/data/sub/dir/x", "ok");
  testing::WriteFile(a_->merged + "/database", "not under /data");
  auto all = Without(Sentinel(*a_), "/sentinel-");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].path, "/database");
}

TEST_F(MonitorTest, DetectReportsNewExecutable) {
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", Mode::kDetect)).ok());
  testing::CopyFile("/bin/busybox", a_->merged + "/bin/newtool", 0755);
  auto r = testing::Exec(a_->merged + "/bin/newtool", "true");
  EXPECT_EQ(r.exec_errno, 0);
  EXPECT_EQ(r.exit_code, 0);
  auto all = collector_.WaitFor([](const Violation& v) { return v.kind == Violation::kExec; });
  const Violation* exec = nullptr;
  for (const auto& v : all) {
    if (v.kind == Violation::kExec) exec = &v;
  }
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->path, "/bin/newtool");
  EXPECT_EQ(exec->reason, "not in image");
  EXPECT_FALSE(exec->denied);
  EXPECT_EQ(exec->sha256, testing::OpensslSha256("/bin/busybox"));
  EXPECT_GT(exec->pid, 0);
  EXPECT_NE(exec->pid, ::getpid());  // the child that executed it
}

TEST_F(MonitorTest, EnforceDeniesNewExecutable) {
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", Mode::kEnforce)).ok());
  testing::CopyFile("/bin/busybox", a_->merged + "/bin/newtool", 0755);
  auto r = testing::Exec(a_->merged + "/bin/newtool", "true");
  EXPECT_EQ(r.exec_errno, EPERM);
  auto all = collector_.WaitFor([](const Violation& v) { return v.kind == Violation::kExec; });
  bool found = false;
  for (const auto& v : all) {
    if (v.kind != Violation::kExec) continue;
    found = true;
    EXPECT_EQ(v.path, "/bin/newtool");
    EXPECT_EQ(v.reason, "not in image");
    EXPECT_TRUE(v.denied);
    EXPECT_NE(v.process.find("guard_unit_test"), std::string::npos) << v.process;
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(monitor_->Stats().denied, 1u);
  // The write that put it there was reported too.
  EXPECT_EQ(all.front().kind, Violation::kWrite);
  EXPECT_EQ(all.front().path, "/bin/newtool");
}

TEST_F(MonitorTest, EnforceDeniesImageBinaryChangedInWritableLayer) {
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", Mode::kEnforce)).ok());
  // Same content, but copied up: the upper folder's copy is not the image's.
  testing::CopyFile("/bin/busybox", a_->merged + "/bin/busybox", 0755);
  auto r = testing::Exec(a_->merged + "/bin/busybox", "true");
  EXPECT_EQ(r.exec_errno, EPERM);
  auto all = collector_.WaitFor([](const Violation& v) { return v.kind == Violation::kExec; });
  EXPECT_EQ(all.back().reason, "changed in the writable layer");
  EXPECT_EQ(all.back().path, "/bin/busybox");
  EXPECT_TRUE(all.back().denied);
}

TEST_F(MonitorTest, EnforceDeniesContentChangedBelow) {
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", Mode::kEnforce)).ok());
  // Tampering with the lower folder on the host's disk after the index was made.
  std::string content = testing::ReadFile("/bin/busybox");
  content += "appended";
  testing::WriteFile(a_->lower2 + "/bin/tool2", content, 0755);
  auto r = testing::Exec(a_->merged + "/bin/tool2", "true");
  EXPECT_EQ(r.exec_errno, EPERM);
  auto all = collector_.WaitFor([](const Violation& v) { return v.kind == Violation::kExec; });
  EXPECT_EQ(all.back().reason, "content differs");
  EXPECT_EQ(all.back().sha256, testing::OpensslSha256(a_->lower2 + "/bin/tool2"));
}

TEST_F(MonitorTest, UnwatchStopsEventsAndOverlaysMapToTheirModules) {
  auto b = MakeOverlay("b");
  ASSERT_TRUE(b);
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app-a", Mode::kEnforce)).ok());
  ASSERT_TRUE(monitor_->Watch(Spec(*b, "app-b", Mode::kDetect)).ok());
  testing::WriteFile(a_->merged + "/etc/in-a", "a");
  testing::WriteFile(b->merged + "/etc/in-b", "b");
  auto all = Sentinel(*b);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].path, "/etc/in-a");
  EXPECT_EQ(all[0].module, "app-a");
  EXPECT_EQ(all[1].path, "/etc/in-b");
  EXPECT_EQ(all[1].module, "app-b");
  EXPECT_EQ(all[2].module, "app-b");

  monitor_->Unwatch("app-a");
  testing::WriteFile(a_->merged + "/etc/after-unwatch", "a");
  testing::CopyFile("/bin/busybox", a_->merged + "/bin/newtool", 0755);
  auto r = testing::Exec(a_->merged + "/bin/newtool", "true");
  EXPECT_EQ(r.exec_errno, 0);  // no longer enforced
  all = Sentinel(*b);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[3].module, "app-b");
}

TEST_F(MonitorTest, ReWatchChangesMode) {
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", Mode::kDetect)).ok());
  testing::CopyFile("/bin/busybox", a_->merged + "/bin/newtool", 0755);
  EXPECT_EQ(testing::Exec(a_->merged + "/bin/newtool", "true").exec_errno, 0);
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", Mode::kEnforce)).ok());
  EXPECT_EQ(testing::Exec(a_->merged + "/bin/newtool", "true").exec_errno, EPERM);
  ASSERT_TRUE(monitor_->Watch(Spec(*a_, "app", Mode::kDetect)).ok());
  EXPECT_EQ(testing::Exec(a_->merged + "/bin/newtool", "true").exec_errno, 0);
  auto all = Sentinel(*a_);
  int execs = 0, denied = 0;
  for (const auto& v : all) {
    if (v.kind == Violation::kExec) ++execs;
    if (v.denied) ++denied;
  }
  EXPECT_EQ(execs, 3);
  EXPECT_EQ(denied, 1);
}

// answer_timeout 0: hashing an uncached file larger than one read (busybox, ~2 MB) cannot finish
// in time, so the fail policy answers.
Violation ExecWithTimeout(Monitor& monitor, Collector& collector, const WatchSpec& base,
                          FailPolicy fail, testing::ExecResult& r) {
  WatchSpec s = base;
  s.answer_timeout = std::chrono::milliseconds(0);
  s.fail = fail;
  EXPECT_TRUE(monitor.Watch(s).ok());
  r = testing::Exec(s.merged_dir + "/bin/busybox", "true");
  auto all = collector.WaitFor([](const Violation& v) { return v.kind == Violation::kExec; });
  return all.empty() ? Violation{} : all.back();
}

TEST_F(MonitorTest, FailOpenAllowsAndReportsWhenHashingTimesOut) {
  testing::ExecResult r;
  const Violation v = ExecWithTimeout(*monitor_, collector_, Spec(*a_, "app", Mode::kEnforce),
                                      FailPolicy::kOpen, r);
  EXPECT_EQ(r.exec_errno, 0);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(v.kind, Violation::kExec);
  EXPECT_EQ(v.path, "/bin/busybox");
  EXPECT_EQ(v.reason, "content not verified: hashing timed out (fail-open: allowed)");
  EXPECT_FALSE(v.denied);
  const MonitorStats s = monitor_->Stats();
  EXPECT_EQ(s.allowed_by_timeout, 1u);
  EXPECT_EQ(s.denied, 0u);
}

TEST_F(MonitorTest, FailClosedDeniesAndReportsWhenHashingTimesOut) {
  testing::ExecResult r;
  const Violation v = ExecWithTimeout(*monitor_, collector_, Spec(*a_, "app", Mode::kEnforce),
                                      FailPolicy::kClosed, r);
  EXPECT_EQ(r.exec_errno, EPERM);
  EXPECT_EQ(v.reason, "content not verified: hashing timed out (fail-closed: denied)");
  EXPECT_TRUE(v.denied);
  const MonitorStats s = monitor_->Stats();
  EXPECT_EQ(s.allowed_by_timeout, 0u);
  EXPECT_EQ(s.denied, 1u);
}

TEST_F(MonitorTest, QueueOverflowIsReported) {
  TempDir fast;
  ASSERT_EQ(fast.MountTmpfs(), "");
  auto o = std::make_unique<Overlay>(fast.path());
  testing::PopulateImage(*o);
  ASSERT_EQ(o->Mount(), "");
  ASSERT_TRUE(monitor_->Watch(Spec(*o, "app", Mode::kDetect)).ok());
  spdlog::set_level(spdlog::level::err);  // some 19000 violations follow
  collector_.Block();  // the monitor's thread stops in the callback of the first violation
  // More events than the queue holds (16384 by default) plus one read buffer's worth.
  // The files are made in the upper folder directly (creating files through overlayfs costs
  // milliseconds each here), then opened for writing and closed through the overlay: one
  // FAN_CLOSE_WRITE each, on distinct files, so none merge in the queue.
  testing::MakeDirs(o->upper + "/flood");
  for (int i = 0; i < 20000; ++i) {
    testing::WriteFile(o->upper + "/flood/" + std::to_string(i), "x");
  }
  for (int i = 0; i < 20000; ++i) {
    const std::string path = o->merged + "/flood/" + std::to_string(i);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
    ::close(fd);
  }
  collector_.Unblock();
  auto all =
      collector_.WaitFor([](const Violation& v) { return v.reason == "event queue overflowed"; });
  spdlog::set_level(spdlog::level::info);
  bool found = false;
  for (const auto& v : all) {
    if (v.reason == "event queue overflowed") {
      found = true;
      EXPECT_EQ(v.module, "app");
      EXPECT_EQ(v.kind, Violation::kWrite);
    }
  }
  EXPECT_TRUE(found);
  monitor_->Unwatch("app");
}

TEST_F(MonitorTest, WatchRejectsBadSpecs) {
  WatchSpec s = Spec(*a_, "app", Mode::kDetect);
  WatchSpec not_overlay = s;
  not_overlay.merged_dir = dir_.path();
  EXPECT_EQ(monitor_->Watch(not_overlay).code(), ErrorCode::kInvalidArgument);
  WatchSpec subdir = s;
  subdir.merged_dir = a_->merged + "/bin";
  EXPECT_EQ(monitor_->Watch(subdir).code(), ErrorCode::kInvalidArgument);
  WatchSpec no_image = s;
  no_image.image = nullptr;
  EXPECT_EQ(monitor_->Watch(no_image).code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(monitor_->Watch(s).ok());
  WatchSpec twice = s;
  twice.module = "other";
  EXPECT_EQ(monitor_->Watch(twice).code(), ErrorCode::kAlreadyExists);
  monitor_->Stop();
  EXPECT_EQ(monitor_->Watch(s).code(), ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace edgetrust::guard
