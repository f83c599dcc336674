#include "docker/create_body.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace edgetrust::docker {
namespace {

ContainerSpec Spec() {
  ContainerSpec s;
  s.name = "app";
  s.image = "sha256:" + std::string(64, 'a');
  s.command = {"/bin/sleep", "3600"};
  s.env = {"A=1"};
  s.mounts = {{"bind", "/srv/cfg", "/cfg", true, ""},
              {"volume", "appdata", "/data", false, ""},
              {"tmpfs", "", "/run", false, "rw,noexec,nosuid,size=16m"}};
  s.cap_drop = {"ALL"};
  s.cap_add = {"NET_BIND_SERVICE"};
  s.labels = {{"edgetrust.app", "app"}};
  s.security_opt = {"no-new-privileges"};
  s.memory_bytes = 64 << 20;
  s.pids_limit = 32;
  return s;
}

TEST(CreateBody, CarriesTheSpecAndTheHardening) {
  auto body = BuildCreateBody(Spec());
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  auto j = nlohmann::json::parse(*body, nullptr, false);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["Image"], "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(j["Entrypoint"], nlohmann::json::array({"/bin/sleep"}));
  EXPECT_EQ(j["Cmd"], nlohmann::json::array({"3600"}));
  EXPECT_EQ(j["Env"], nlohmann::json::array({"A=1"}));
  EXPECT_EQ(j["Labels"]["edgetrust.app"], "app");
  const auto& h = j["HostConfig"];
  EXPECT_EQ(h["ReadonlyRootfs"], true);
  EXPECT_EQ(h["NetworkMode"], "none");
  EXPECT_EQ(h["Init"], false);
  EXPECT_EQ(h["CapDrop"], nlohmann::json::array({"ALL"}));
  EXPECT_EQ(h["CapAdd"], nlohmann::json::array({"NET_BIND_SERVICE"}));
  EXPECT_EQ(h["SecurityOpt"], nlohmann::json::array({"no-new-privileges"}));
  EXPECT_EQ(h["Memory"], 64 << 20);
  EXPECT_EQ(h["PidsLimit"], 32);
  EXPECT_EQ(h["Tmpfs"]["/run"], "rw,noexec,nosuid,size=16m");
  ASSERT_EQ(h["Mounts"].size(), 2u);
  EXPECT_EQ(h["Mounts"][0]["Type"], "bind");
  EXPECT_EQ(h["Mounts"][0]["Source"], "/srv/cfg");
  EXPECT_EQ(h["Mounts"][0]["ReadOnly"], true);
  EXPECT_EQ(h["Mounts"][1]["Type"], "volume");
  EXPECT_EQ(h["Mounts"][1]["ReadOnly"], false);
  EXPECT_FALSE(h.contains("Privileged"));
}

TEST(CreateBody, OmitsUnsetLimits) {
  ContainerSpec s = Spec();
  s.memory_bytes.reset();
  s.pids_limit.reset();
  auto j = nlohmann::json::parse(*BuildCreateBody(s), nullptr, false);
  EXPECT_FALSE(j["HostConfig"].contains("Memory"));
  EXPECT_FALSE(j["HostConfig"].contains("PidsLimit"));
}

TEST(CreateBody, RefusesBadSpecs) {
  auto refused = [](void (*edit)(ContainerSpec&), const char* field) {
    ContainerSpec s = Spec();
    edit(s);
    auto r = BuildCreateBody(s);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << field;
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().ToString();
  };
  refused([](ContainerSpec& s) { s.command.clear(); }, "command");
  refused([](ContainerSpec& s) { s.network_mode = "bridge"; }, "network_mode");
  refused([](ContainerSpec& s) { s.name = "../x"; }, "name");
  refused([](ContainerSpec& s) { s.image = "a?b"; }, "image");
  refused([](ContainerSpec& s) { s.mounts[0].target = "cfg"; }, "mounts[0].target");
  refused([](ContainerSpec& s) { s.mounts[0].source = "rel"; }, "mounts[0].source");
  refused([](ContainerSpec& s) { s.mounts[1].source = "a/b"; }, "mounts[1].source");
  refused([](ContainerSpec& s) { s.mounts[0].type = "npipe"; }, "mounts[0].type");
  refused([](ContainerSpec& s) { s.env = {"NOEQUALS"}; }, "env[0]");
  refused([](ContainerSpec& s) { s.command.push_back("\xff\xfe"); }, "command[2]");
  refused([](ContainerSpec& s) { s.memory_bytes = 0; }, "memory_bytes");
}

}  // namespace
}  // namespace edgetrust::docker
