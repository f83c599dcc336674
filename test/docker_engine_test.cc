// DockerEngine against a real dockerd (test/dockerd.h): images, containers, events and errors.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "docker/engine.h"
#include "dockerd.h"
#include "harness.h"

namespace edgetrust::test {
namespace {

using docker::ContainerEngine;
using docker::ContainerSpec;

bool Exists(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

std::string Unique(const std::string& prefix) {
  static int counter = 0;
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

class DockerEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    dockerd_ = DockerdProcess::Shared(&why);
    if (dockerd_ == nullptr) GTEST_SKIP() << "no dockerd: " << why;
    docker::EngineOptions options;
    options.socket_path = dockerd_->socket();
    auto engine = docker::ConnectDockerEngine(options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString() << "\n" << dockerd_->LogTail();
    engine_ = std::move(engine).value();
  }
  void TearDown() override {
    if (dockerd_ != nullptr) dockerd_->RemoveAllContainers();
  }

  // One busybox image per test process, built on first use.
  const std::string& Image() {
    static std::string id;
    if (id.empty()) {
      std::string error;
      id = dockerd_->BuildBusyboxImage("etbusybox:test", {}, &error);
      EXPECT_FALSE(id.empty()) << error;
    }
    return id;
  }

  ContainerSpec Sleeper(const std::string& name) {
    ContainerSpec spec;
    spec.name = name;
    spec.image = Image();
    spec.command = {"/bin/sleep", "3600"};
    return spec;
  }

  DockerdProcess* dockerd_ = nullptr;
  std::unique_ptr<ContainerEngine> engine_;
};

TEST_F(DockerEngineTest, NegotiatesTheApiVersion) {
  auto v = engine_->Version();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->api_version, "1.41");  // docker.io 20.10 speaks 1.41, our cap
  EXPECT_FALSE(v->version.empty());
  EXPECT_EQ(v->os, "linux");
  EXPECT_FALSE(v->kernel.empty());
}

TEST_F(DockerEngineTest, InspectsAnImportedImage) {
  std::string error;
  const std::string tag = Unique("etinspect") + ":1";
  const std::string id =
      dockerd_->BuildBusyboxImage(tag, {{"/app/run.sh", "#!/bin/sh\necho hi\n"}}, &error);
  ASSERT_FALSE(id.empty()) << error;
  auto image = engine_->InspectImage(tag);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->id, id);
  EXPECT_EQ(image->repo_tags, std::vector<std::string>{tag});
  ASSERT_EQ(image->layers.size(), 1u);
  EXPECT_EQ(image->layers[0].rfind("sha256:", 0), 0u);
  EXPECT_EQ(image->cmd, (std::vector<std::string>{"/bin/sleep", "3600"}));
  EXPECT_EQ(image->graph_driver, "overlay2");
  EXPECT_TRUE(Exists(image->upper_dir + "/bin/busybox")) << image->upper_dir;
  EXPECT_TRUE(Exists(image->upper_dir + "/app/run.sh"));
  for (const auto& dir : image->lower_dirs) EXPECT_TRUE(Exists(dir)) << dir;
  // By id too.
  auto by_id = engine_->InspectImage(id);
  ASSERT_TRUE(by_id.ok()) << by_id.status().ToString();
  EXPECT_EQ(by_id->id, id);
}

TEST_F(DockerEngineTest, SaveRemoveLoadBringsBackTheSameImage) {
  TempDir tmp;
  std::string error;
  const std::string tag = Unique("etload") + ":1";
  const std::string id = dockerd_->BuildBusyboxImage(tag, {{"/marker", tag}}, &error);
  ASSERT_FALSE(id.empty()) << error;
  ASSERT_TRUE(dockerd_->SaveImage(tag, tmp.File("by-tag.tar")));
  ASSERT_TRUE(dockerd_->SaveImage(id, tmp.File("by-id.tar")));

  ASSERT_TRUE(engine_->RemoveImage(tag, true).ok());
  EXPECT_EQ(engine_->InspectImage(id).status().code(), ErrorCode::kNotFound);
  auto loaded = engine_->LoadImage(tmp.File("by-tag.tar"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, std::vector<std::string>{tag});
  auto image = engine_->InspectImage(tag);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(image->id, id);

  ASSERT_TRUE(engine_->RemoveImage(id, true).ok());
  loaded = engine_->LoadImage(tmp.File("by-id.tar"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, std::vector<std::string>{id});

  // Not an archive: the engine's own error.
  WriteText(tmp.File("bad.tar"), "not a tar archive\n");
  auto bad = engine_->LoadImage(tmp.File("bad.tar"));
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(bad.status().message().empty());
  EXPECT_EQ(engine_->LoadImage(tmp.File("missing.tar")).status().code(), ErrorCode::kIoError);
}

TEST_F(DockerEngineTest, ContainerLifecycle) {
  TempDir tmp;
  WriteText(tmp.File("config"), "x=1\n");
  const std::string volume = Unique("etvol");
  ContainerSpec spec = Sleeper(Unique("etlife"));
  spec.env = {"EDGE=1"};
  spec.read_only_rootfs = true;
  spec.cap_drop = {"ALL"};
  spec.cap_add = {"CHOWN"};
  spec.security_opt = {"no-new-privileges"};
  spec.pids_limit = 64;
  spec.labels = {{"edgetrust.test", "lifecycle"}, {"edgetrust.app", spec.name}};
  spec.mounts = {{"tmpfs", "", "/run", false, "rw,noexec,nosuid,size=1m"},
                 {"volume", volume, "/data", false, ""},
                 {"bind", tmp.path(), "/host", true, ""}};
  auto id = engine_->CreateContainer(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(engine_->StartContainer(*id).ok());

  auto info = engine_->InspectContainer(*id);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->id, *id);
  EXPECT_EQ(info->name, spec.name);
  EXPECT_EQ(info->image, Image());
  EXPECT_TRUE(info->state.running);
  EXPECT_EQ(info->state.status, "running");
  EXPECT_GT(info->state.pid, 0);
  EXPECT_TRUE(Exists("/proc/" + std::to_string(info->state.pid)));
  EXPECT_EQ(info->path, "/bin/sleep");
  EXPECT_EQ(info->args, std::vector<std::string>{"3600"});
  EXPECT_TRUE(info->read_only_rootfs);
  EXPECT_FALSE(info->privileged);
  EXPECT_EQ(info->cap_drop, std::vector<std::string>{"ALL"});
  EXPECT_EQ(info->cap_add, std::vector<std::string>{"CHOWN"});
  EXPECT_EQ(info->security_opt, std::vector<std::string>{"no-new-privileges"});
  EXPECT_EQ(info->network_mode, "none");
  EXPECT_EQ(info->tmpfs.at("/run"), "rw,noexec,nosuid,size=1m");
  EXPECT_EQ(info->labels, spec.labels);
  EXPECT_NE(std::find(info->env.begin(), info->env.end(), "EDGE=1"), info->env.end());
  bool saw_volume = false, saw_bind = false;
  for (const auto& m : info->mounts) {
    if (m.type == "volume" && m.name == volume && m.destination == "/data" && m.rw) {
      saw_volume = true;
    }
    if (m.type == "bind" && m.source == tmp.path() && m.destination == "/host" && !m.rw) {
      saw_bind = true;
    }
  }
  EXPECT_TRUE(saw_volume);
  EXPECT_TRUE(saw_bind);
  EXPECT_EQ(info->graph_driver, "overlay2");
  EXPECT_TRUE(Exists(info->merged_dir + "/bin/busybox")) << info->merged_dir;
  EXPECT_TRUE(Exists(info->upper_dir)) << info->upper_dir;
  EXPECT_TRUE(Exists(info->work_dir)) << info->work_dir;
  ASSERT_GE(info->lower_dirs.size(), 2u);
  for (const auto& dir : info->lower_dirs) EXPECT_TRUE(Exists(dir)) << dir;
  EXPECT_NE(info->lower_dirs[0].find("-init"), std::string::npos);

  ASSERT_TRUE(engine_->PauseContainer(*id).ok());
  info = engine_->InspectContainer(*id);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->state.paused);
  EXPECT_EQ(info->state.status, "paused");
  ASSERT_TRUE(engine_->UnpauseContainer(*id).ok());
  EXPECT_EQ(engine_->InspectContainer(*id)->state.status, "running");

  ASSERT_TRUE(engine_->StopContainer(*id, 1).ok());
  info = engine_->InspectContainer(*id);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->state.running);
  EXPECT_EQ(info->state.status, "exited");
  EXPECT_EQ(info->state.pid, 0);
  // Pausing a stopped container is a conflict of state.
  EXPECT_EQ(engine_->PauseContainer(*id).code(), ErrorCode::kFailedPrecondition);

  ASSERT_TRUE(engine_->StartContainer(*id).ok());
  ASSERT_TRUE(engine_->KillContainer(*id, "SIGKILL").ok());
  auto waited = dockerd_->Docker({"wait", *id});
  EXPECT_EQ(waited.out, "137\n") << waited.err;
  info = engine_->InspectContainer(*id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state.exit_code, 137);

  ASSERT_TRUE(engine_->RemoveContainer(*id, true, true).ok());
  EXPECT_EQ(engine_->InspectContainer(*id).status().code(), ErrorCode::kNotFound);
  // A named volume outlives its container.
  EXPECT_EQ(dockerd_->Docker({"volume", "rm", volume}).code, 0);
}

TEST_F(DockerEngineTest, ListsContainersByLabel) {
  const std::string mark = Unique("mark");
  ContainerSpec a = Sleeper(Unique("etlist"));
  a.labels = {{"edgetrust.mark", mark}};
  ContainerSpec b = Sleeper(Unique("etlist"));
  b.labels = {{"edgetrust.mark", "other"}};
  auto ida = engine_->CreateContainer(a);
  auto idb = engine_->CreateContainer(b);
  ASSERT_TRUE(ida.ok() && idb.ok());
  auto created = engine_->ListContainers(true, {"edgetrust.mark=" + mark});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(created->size(), 1u);
  EXPECT_EQ((*created)[0].id, *ida);
  EXPECT_EQ((*created)[0].names, std::vector<std::string>{a.name});
  EXPECT_EQ((*created)[0].image_id, Image());
  EXPECT_EQ((*created)[0].state, "created");
  EXPECT_EQ((*created)[0].labels.at("edgetrust.mark"), mark);
  // Not running: all=false leaves it out.
  auto running = engine_->ListContainers(false, {"edgetrust.mark=" + mark});
  ASSERT_TRUE(running.ok());
  EXPECT_TRUE(running->empty());
  auto both = engine_->ListContainers(true, {"edgetrust.mark"});
  ASSERT_TRUE(both.ok());
  EXPECT_GE(both->size(), 2u);
}

TEST_F(DockerEngineTest, ChangesAfterExec) {
  ContainerSpec spec = Sleeper(Unique("etchanges"));
  spec.read_only_rootfs = false;
  auto id = engine_->CreateContainer(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(engine_->StartContainer(*id).ok());
  auto before = engine_->Changes(*id);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  auto exec = dockerd_->Docker(
      {"exec", *id, "/bin/sh", "-c", "echo dropped > /data/payload && rm /bin/wc"});
  ASSERT_EQ(exec.code, 0) << exec.err;
  auto changes = engine_->Changes(*id);
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  auto has = [&](docker::Change::Kind kind, const std::string& path) {
    return std::any_of(changes->begin(), changes->end(),
                       [&](const docker::Change& c) { return c.kind == kind && c.path == path; });
  };
  EXPECT_TRUE(has(docker::Change::kAdded, "/data/payload"));
  EXPECT_TRUE(has(docker::Change::kModified, "/data"));
  EXPECT_TRUE(has(docker::Change::kDeleted, "/bin/wc"));
}

TEST_F(DockerEngineTest, EventStreamSeesCreateStartDieInOrder) {
  const std::string mark = Unique("evmark");
  std::mutex mu;
  std::condition_variable cv;
  std::vector<docker::Event> events;
  int ends = 0;
  docker::EventFilter filter;
  filter.types = {"container"};
  filter.labels = {"edgetrust.mark=" + mark};
  auto stream = engine_->Events(
      filter,
      [&](const docker::Event& e) {
        std::lock_guard lock(mu);
        events.push_back(e);
        cv.notify_all();
      },
      [&](const Status&) {
        std::lock_guard lock(mu);
        ++ends;
      });
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();

  ContainerSpec spec = Sleeper(Unique("etevents"));
  spec.command = {"/bin/sh", "-c", "exit 3"};
  spec.labels = {{"edgetrust.mark", mark}};
  auto id = engine_->CreateContainer(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(engine_->StartContainer(*id).ok());
  {
    std::unique_lock lock(mu);
    // Generous: this bounds a hang, it does not measure anything.
    cv.wait_for(lock, std::chrono::seconds(60), [&] {
      return std::any_of(events.begin(), events.end(),
                         [](const docker::Event& e) { return e.action == "die"; });
    });
  }
  (*stream)->Stop();
  std::lock_guard lock(mu);
  std::vector<std::string> actions;
  for (const auto& e : events) {
    EXPECT_EQ(e.type, "container");
    EXPECT_EQ(e.id, *id);
    EXPECT_EQ(e.attributes.at("edgetrust.mark"), mark);
    actions.push_back(e.action);
  }
  auto pos = [&](const std::string& a) {
    return std::find(actions.begin(), actions.end(), a) - actions.begin();
  };
  ASSERT_LT(pos("create"), static_cast<long>(actions.size()));
  ASSERT_LT(pos("start"), static_cast<long>(actions.size()));
  ASSERT_LT(pos("die"), static_cast<long>(actions.size()));
  EXPECT_LT(pos("create"), pos("start"));
  EXPECT_LT(pos("start"), pos("die"));
  const auto& die = events[static_cast<size_t>(pos("die"))];
  EXPECT_EQ(die.attributes.at("exitCode"), "3");
  EXPECT_EQ(die.attributes.at("name"), spec.name);
  EXPECT_EQ(ends, 0);  // Stop() is not an end
}

TEST_F(DockerEngineTest, IdleEventStreamStops) {
  docker::EventFilter filter;
  filter.labels = {"edgetrust.never=" + Unique("x")};
  int calls = 0;
  auto stream = engine_->Events(
      filter, [&](const docker::Event&) { ++calls; }, [&](const Status&) { ++calls; });
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  (*stream)->Stop();  // returns although the engine sent nothing
  (*stream)->Stop();  // and again
  stream->reset();
  EXPECT_EQ(calls, 0);
}

TEST_F(DockerEngineTest, ErrorsMapToCodes) {
  auto missing = engine_->InspectContainer("no-such-container");
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("No such container"), std::string::npos)
      << missing.status().ToString();
  EXPECT_EQ(engine_->InspectImage("no-such-image:1").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(engine_->StartContainer("no-such-container").code(), ErrorCode::kNotFound);
  EXPECT_EQ(engine_->Changes("no-such-container").status().code(), ErrorCode::kNotFound);

  ContainerSpec spec = Sleeper(Unique("etconflict"));
  ASSERT_TRUE(engine_->CreateContainer(spec).ok());
  auto again = engine_->CreateContainer(spec);
  EXPECT_EQ(again.status().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("already in use"), std::string::npos)
      << again.status().ToString();

  // Refused before anything is sent.
  EXPECT_EQ(engine_->InspectContainer("../../images/x").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->InspectImage("a?b").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->KillContainer(spec.name, "KILL; rm").code(), ErrorCode::kInvalidArgument);
  spec.network_mode = "bridge";
  EXPECT_EQ(engine_->CreateContainer(spec).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(engine_->PullImage("busybox:latest").code(), ErrorCode::kInvalidArgument);
}

TEST_F(DockerEngineTest, PullFailureIsReported) {
  // A registry on a loopback port where nothing listens: the engine's error comes back, and no
  // traffic leaves the machine.
  const Status s = engine_->PullImage("127.0.0.1:1/none@sha256:" + std::string(64, '0'));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.code(), ErrorCode::kMalformed) << s.ToString();
  EXPECT_FALSE(s.message().empty());
}

TEST(DockerEngineUnavailable, NothingListening) {
  TempDir tmp;
  docker::EngineOptions options;
  options.socket_path = tmp.File("nobody.sock");
  auto engine = docker::ConnectDockerEngine(options);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(engine.status().message().find(options.socket_path), std::string::npos)
      << engine.status().ToString();
  EXPECT_NE(engine.status().message().find("cannot reach"), std::string::npos);
}

}  // namespace
}  // namespace edgetrust::test
