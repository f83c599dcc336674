// The two sides of a module's measurement: what the guard reads back from the engine's inspect
// answer (FromInspect) must equal what the manifest asks for (deploy::FromManifest) when the engine
// runs exactly the create request ToContainerSpec makes, and must differ when it runs anything
// else. The inspect answer here is shaped the way dockerd 20.10 reports such a container; the
// Docker tests check the same agreement against the real engine.
#include "guard/inspect_config.h"

#include <gtest/gtest.h>

#include <functional>

#include "deploy/manifest.h"
#include "guard/module_spec.h"

namespace edgetrust::guard {
namespace {

const std::string kImage = "sha256:" + std::string(64, 'b');

deploy::Manifest Parse(const std::string& text) {
  auto m = deploy::ParseManifest(AsBytes(text));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : deploy::Manifest{};
}

deploy::Manifest Sample() {
  return Parse(R"({"format":"edgetrust-deployment/1","deployment":"d","sequence":1,"modules":[
    {"name":"web","image":")" +
               kImage + R"(","command":["/bin/web","--port","80"],
     "env":{"MODE":"prod","A":"1"},"user":"1000:1000",
     "writable":[{"path":"/data","type":"tmpfs","size_mb":8},
                 {"path":"/var/lib/web","type":"volume","volume":"web-data"}],
     "mounts":[{"source":"/etc/gw","target":"/etc/gw","read_only":true}],
     "capabilities":{"add":["net_bind_service"]},"secure_domain":true}]})");
}

// What the engine reports for a container created from `spec`.
docker::ContainerInfo AsEngineReports(const docker::ContainerSpec& spec,
                                      const std::vector<std::string>& image_env) {
  docker::ContainerInfo i;
  i.id = std::string(64, 'c');
  i.name = spec.name;
  i.image = spec.image;
  i.path = spec.command[0];
  i.args.assign(spec.command.begin() + 1, spec.command.end());
  // The image's variables first; the container's own replace those of the same name.
  for (const auto& e : image_env) {
    const std::string key = e.substr(0, e.find('='));
    bool overridden = false;
    for (const auto& c : spec.env) overridden |= c.rfind(key + "=", 0) == 0;
    if (!overridden) i.env.push_back(e);
  }
  i.env.insert(i.env.end(), spec.env.begin(), spec.env.end());
  i.user = spec.user;
  i.read_only_rootfs = spec.read_only_rootfs;
  i.cap_add = {"CAP_NET_BIND_SERVICE"};  // how the engine spells them back
  i.cap_drop = spec.cap_drop;
  i.network_mode = spec.network_mode;
  i.ipc_mode = "private";
  i.security_opt = spec.security_opt;
  for (const auto& m : spec.mounts) {
    if (m.type == "tmpfs") {
      i.tmpfs[m.target] = m.tmpfs_options;
      continue;
    }
    docker::MountPoint p;
    p.type = m.type;
    p.destination = m.target;
    p.rw = !m.read_only;
    if (m.type == "volume") {
      p.name = m.source;
      p.source = "/var/lib/docker/volumes/" + m.source + "/_data";
    } else {
      p.source = m.source;
    }
    i.mounts.push_back(p);
  }
  return i;
}

TEST(InspectConfig, WhatRunsAsAskedMeasuresLikeTheManifest) {
  const deploy::Manifest m = Sample();
  ASSERT_EQ(m.modules.size(), 1u);
  const docker::ContainerSpec spec = ToContainerSpec(m, m.modules[0], "/run/edgetrust");
  docker::ImageInfo image;
  // MODE is set by the manifest to the image's own value: still measured, as declared.
  image.env = {"PATH=/usr/bin:/bin", "MODE=prod"};
  const auto actual = FromInspect("web", AsEngineReports(spec, image.env), image, "/run/edgetrust",
                                  DeclaredEnv(m.modules[0]));
  const auto expected = deploy::FromManifest(m.modules[0]);
  EXPECT_EQ(actual, expected) << deploy::CanonicalJson(actual) << "\n"
                              << deploy::CanonicalJson(expected);
  EXPECT_EQ(deploy::Measure(actual), deploy::Measure(expected));
  EXPECT_TRUE(deploy::Differences(expected, actual).empty());
}

TEST(InspectConfig, AnythingElseMeasuresDifferently) {
  const deploy::Manifest m = Sample();
  const docker::ContainerSpec spec = ToContainerSpec(m, m.modules[0], "/run/edgetrust");
  docker::ImageInfo image;
  const auto expected = deploy::FromManifest(m.modules[0]);
  const std::vector<std::function<void(docker::ContainerInfo&)>> changes = {
      [](docker::ContainerInfo& i) { i.privileged = true; },
      [](docker::ContainerInfo& i) { i.cap_add.push_back("SYS_ADMIN"); },
      [](docker::ContainerInfo& i) { i.image = "sha256:" + std::string(64, 'e'); },
      [](docker::ContainerInfo& i) { i.args.push_back("--debug"); },
      [](docker::ContainerInfo& i) { i.env.push_back("LD_PRELOAD=/tmp/x.so"); },
      [](docker::ContainerInfo& i) { i.network_mode = "host"; },
      [](docker::ContainerInfo& i) { i.pid_mode = "host"; },
      [](docker::ContainerInfo& i) { i.device_count = 1; },
      [](docker::ContainerInfo& i) { i.read_only_rootfs = false; },
      [](docker::ContainerInfo& i) { i.tmpfs["/data"] = "rw,exec,size=8m"; },
      [](docker::ContainerInfo& i) {
        i.mounts.push_back({"bind", "", "/", "/host", true});
      },
      // The secure domain's folder is measured by role only when it is ours.
      [](docker::ContainerInfo& i) {
        for (auto& mp : i.mounts) {
          if (mp.destination == "/run/edgetrust") mp.source = "/elsewhere";
        }
      },
  };
  for (size_t n = 0; n < changes.size(); ++n) {
    docker::ContainerInfo info = AsEngineReports(spec, image.env);
    changes[n](info);
    const auto actual =
        FromInspect("web", info, image, "/run/edgetrust", DeclaredEnv(m.modules[0]));
    EXPECT_NE(deploy::Measure(actual), deploy::Measure(expected)) << "change " << n;
    EXPECT_FALSE(deploy::Differences(expected, actual).empty()) << "change " << n;
  }
}

TEST(ModuleSpec, CarriesLabelsAndHardening) {
  const deploy::Manifest m = Sample();
  const docker::ContainerSpec s = ToContainerSpec(m, m.modules[0], "/run/edgetrust");
  EXPECT_EQ(s.name, "edgetrust-web");
  EXPECT_EQ(s.labels.at(kLabelModule), "web");
  EXPECT_EQ(s.labels.at(kLabelDeployment), "d");
  EXPECT_EQ(s.labels.at(kLabelManifest), m.digest);
  EXPECT_TRUE(s.read_only_rootfs);
  EXPECT_EQ(s.cap_drop, std::vector<std::string>{"ALL"});
  EXPECT_EQ(s.network_mode, "none");
  bool sd_mount = false;
  for (const auto& mount : s.mounts) {
    if (mount.target == "/run/edgetrust") sd_mount = mount.read_only && mount.type == "bind";
    if (mount.type == "tmpfs") {
      EXPECT_NE(mount.tmpfs_options.find("noexec"), std::string::npos);
    }
  }
  EXPECT_TRUE(sd_mount);
}

}  // namespace
}  // namespace edgetrust::guard
