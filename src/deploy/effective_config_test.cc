// Unit tests of effective configurations: what FromManifest derives from a module, the canonical
// JSON (a fixed text, so any change to the measurement is deliberate), the measurement itself
// recomputed with OpenSSL's EVP API, and the difference lines.
#include "deploy/effective_config.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

#include "common/hex.h"
#include "deploy/manifest.h"

namespace edgetrust::deploy {
namespace {

const std::string kImage = "sha256:" + std::string(64, 'c');

Module Sample() {
  Module m;
  m.name = "app";
  m.image = kImage;
  m.command = {"/app", "--serve"};
  m.env = {{"B", "2"}, {"A", "1"}};
  m.user = "1000";
  m.working_dir = "/srv";
  m.writable = {{"/tmp", "tmpfs", 8, false, ""}, {"/var/lib/app", "volume", 16, false, "app-data"}};
  m.mounts = {{"/etc/app", "/etc/app", true}};
  m.cap_add = {"NET_BIND_SERVICE"};
  m.cap_drop = {"ALL"};
  m.secure_domain = true;
  return m;
}

TEST(EffectiveConfigTest, FromManifest) {
  const EffectiveConfig c = FromManifest(Sample());
  EXPECT_EQ(c.module, "app");
  EXPECT_EQ(c.image_id, kImage);
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/app", "--serve"}));
  EXPECT_EQ(c.env, (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(c.user, "1000");
  EXPECT_EQ(c.working_dir, "/srv");
  EXPECT_TRUE(c.read_only_rootfs);
  EXPECT_FALSE(c.privileged);
  EXPECT_EQ(c.cap_add, std::vector<std::string>{"NET_BIND_SERVICE"});
  EXPECT_EQ(c.cap_drop, std::vector<std::string>{"ALL"});
  ASSERT_EQ(c.mounts.size(), 4u);  // sorted by target
  EXPECT_EQ(c.mounts[0], (MountConfig{"bind", "/etc/app", "/etc/app", true, ""}));
  EXPECT_EQ(c.mounts[1],
            (MountConfig{"bind", kSecureDomainSource, kSecureDomainMountTarget, true, ""}));
  EXPECT_EQ(c.mounts[2],
            (MountConfig{"tmpfs", "", "/tmp", false, "rw,noexec,nosuid,nodev,size=8m"}));
  EXPECT_EQ(c.mounts[3], (MountConfig{"volume", "app-data", "/var/lib/app", false, ""}));
  EXPECT_EQ(c.network_mode, "none");
  EXPECT_EQ(c.pid_mode, "");
  EXPECT_EQ(c.ipc_mode, "private");
  EXPECT_EQ(c.device_count, 0u);
  EXPECT_EQ(c.security_opt, std::vector<std::string>{"no-new-privileges"});
}

TEST(EffectiveConfigTest, TmpfsAndCapabilities) {
  EXPECT_EQ(TmpfsOptions({"/x", "tmpfs", 16, false, ""}), "rw,noexec,nosuid,nodev,size=16m");
  EXPECT_EQ(TmpfsOptions({"/x", "tmpfs", 1, true, ""}), "rw,exec,nosuid,nodev,size=1m");
  EXPECT_EQ(NormaliseCapabilities({"cap_net_admin", "CHOWN", "NET_ADMIN", "Cap_Chown"}),
            (std::vector<std::string>{"CHOWN", "NET_ADMIN"}));
  EXPECT_EQ(DefaultSecurityOptions(), std::vector<std::string>{"no-new-privileges"});
}

TEST(EffectiveConfigTest, CanonicalJsonIsFixed) {
  Module m;
  m.name = "m";
  m.image = kImage;
  m.command = {"/b", "/a"};
  m.cap_drop = {"ALL"};
  const std::string expected =
      R"({"argv":["/b","/a"],"cap_add":[],"cap_drop":["ALL"],"device_count":0,"env":[],)"
      R"("image_id":")" +
      kImage +
      R"(","ipc_mode":"private","module":"m","mounts":[],"network_mode":"none","pid_mode":"",)"
      R"("privileged":false,"read_only_rootfs":true,"security_opt":["no-new-privileges"],)"
      R"("user":"","working_dir":""})";
  EXPECT_EQ(CanonicalJson(FromManifest(m)), expected);
}

TEST(EffectiveConfigTest, CanonicalJsonIgnoresSetOrder) {
  EffectiveConfig a = FromManifest(Sample());
  EffectiveConfig b = a;
  std::reverse(b.env.begin(), b.env.end());
  std::reverse(b.mounts.begin(), b.mounts.end());
  b.cap_add = {"B", "A"};
  a.cap_add = {"A", "B"};
  EXPECT_EQ(CanonicalJson(a), CanonicalJson(b));
  EXPECT_EQ(Measure(a), Measure(b));
  b.argv = {"--serve", "/app"};  // argv order matters
  EXPECT_NE(Measure(a), Measure(b));
}

TEST(EffectiveConfigTest, MeasureIsLabelledSha256) {
  const EffectiveConfig c = FromManifest(Sample());
  const std::string input = "edgetrust-module/1\n" + CanonicalJson(c);
  unsigned char md[32];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr), 1);
  EXPECT_EQ(HexEncode(Measure(c)), HexEncode(ByteView(md, len)));
}

TEST(EffectiveConfigTest, EveryFieldIsMeasured) {
  const EffectiveConfig base = FromManifest(Sample());
  std::vector<EffectiveConfig> changed(16, base);
  changed[0].module = "x";
  changed[1].image_id = "sha256:" + std::string(64, 'd');
  changed[2].argv.push_back("-v");
  changed[3].env.push_back("C=3");
  changed[4].user = "0";
  changed[5].working_dir = "/";
  changed[6].read_only_rootfs = false;
  changed[7].privileged = true;
  changed[8].cap_add.push_back("SYS_ADMIN");
  changed[9].cap_drop.clear();
  changed[10].mounts[0].read_only = false;
  changed[11].network_mode = "host";
  changed[12].pid_mode = "host";
  changed[13].ipc_mode = "host";
  changed[14].device_count = 1;
  changed[15].security_opt.clear();
  for (size_t i = 0; i < changed.size(); ++i) {
    EXPECT_NE(Measure(changed[i]), Measure(base)) << i;
    EXPECT_EQ(Differences(base, changed[i]).size(), 1u) << i;
  }
  EXPECT_TRUE(Differences(base, base).empty());
}

TEST(EffectiveConfigTest, DifferencesNameTheField) {
  const EffectiveConfig base = FromManifest(Sample());
  EffectiveConfig running = base;
  running.cap_add.push_back("NET_ADMIN");
  running.privileged = true;
  const auto diffs = Differences(base, running);
  ASSERT_EQ(diffs.size(), 2u);
  EXPECT_EQ(diffs[0], "privileged: manifest false but running true");
  EXPECT_EQ(diffs[1],
            "cap_add: manifest [NET_BIND_SERVICE] but running [NET_ADMIN, NET_BIND_SERVICE]");
}

TEST(EffectiveConfigTest, EventTexts) {
  Manifest m;
  m.deployment = "plant-a";
  m.sequence = 12;
  m.digest = std::string(62, '0') + "ff";
  EXPECT_EQ(DeploymentEventText(m), "deployment plant-a sequence 12");
  const Digest256 d = ManifestDigest(m);
  EXPECT_EQ(d[31], 0xff);
  EXPECT_EQ(d[0], 0);
  EXPECT_EQ(ModuleEventText(FromManifest(Sample())), "module app image " + kImage);
}

}  // namespace
}  // namespace edgetrust::deploy
