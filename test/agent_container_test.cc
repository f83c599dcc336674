// The reference scenario's step 4 with real processes: edgetrust-agent with its container guard
// on a real dockerd, the mosquitto "cloud" and mosquitto_sub as the cloud's ear. A manifest signed
// with `edgetrust manifest sign` is deployed with `edgetrust deploy`; malware injected into the
// module is detected and the module recreated; the events reach the cloud over the cloud link
// and show in `edgetrust modules` and `edgetrust events`. A newer manifest then arrives from the
// cloud on the gateway's command topic.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "dockerd.h"
#include "gateway_rig.h"

namespace edgetrust::test {
namespace {

using nlohmann::json;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class AgentContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!MosquittoProcess::Available()) GTEST_SKIP() << "mosquitto is not installed";
    std::string why;
    dockerd_ = DockerdProcess::Shared(&why);
    if (dockerd_ == nullptr) GTEST_SKIP() << "no Docker engine: " << why;
    dockerd_->RemoveAllContainers();
    std::string error;
    ASSERT_TRUE(rig_.Setup(&error)) << error;
    ASSERT_TRUE(rig_.StartCloud()) << rig_.cloud().log();
    ASSERT_TRUE(rig_.StartSubscriber()) << rig_.cloud().log();
    image_ = dockerd_->BuildBusyboxImage("edgetrust-agent-test:1", {}, &error);
    ASSERT_FALSE(image_.empty()) << error;

    // The operator's deployment CA and signer; the device trusts the CA for deployments.
    Ok(rig_.Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", rig_.File("deploy-ca.key"), "-out",
                     rig_.File("deploy-ca.pem"), "-days", "30", "-subj", "/CN=Deploy CA", "-addext",
                     "basicConstraints=critical,CA:TRUE", "-addext",
                     "keyUsage=critical,keyCertSign"}));
    Ok(rig_.Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", rig_.File("ops.key"), "-out", rig_.File("ops.csr"), "-subj",
                     "/CN=operations"}));
    WriteText(rig_.File("ops.ext"), "keyUsage=critical,digitalSignature\n");
    Ok(rig_.Openssl({"x509", "-req", "-in", rig_.File("ops.csr"), "-CA", rig_.File("deploy-ca.pem"),
                     "-CAkey", rig_.File("deploy-ca.key"), "-CAcreateserial", "-out",
                     rig_.File("ops.pem"), "-days", "30", "-extfile", rig_.File("ops.ext")}));
    Ok(rig_.Cli({"trust", "add", "--purpose", "deployment", rig_.File("deploy-ca.pem")}));

    ASSERT_TRUE(rig_.StartAgent(rig_.AgentConfig(
        "", "[containers]\nenabled = true\ndocker_socket = \"" + dockerd_->socket() +
                "\"\nstate_dir = \"" + rig_.File("containers") + "\"\n")))
        << rig_.AgentLog();
  }

  void TearDown() override {
    if (dockerd_ != nullptr) dockerd_->RemoveAllContainers();
  }

  static void Ok(const CommandResult& r) { ASSERT_EQ(r.exit_code, 0) << r.out << r.err; }

  std::string Manifest(uint64_t sequence) {
    const json m = {
        {"format", "edgetrust-deployment/1"},
        {"deployment", "line-a"},
        {"sequence", sequence},
        {"modules",
         json::array({json{{"name", "filter"},
                           {"image", image_},
                           {"command", {"/bin/sh", "-c", "while true; do sleep 1; done"}},
                           {"read_only_rootfs", false},
                           {"writable", json::array({json{{"path", "/data"}, {"type", "tmpfs"}}})},
                           {"remediation", {{"action", "restart"}}}}})}};
    const std::string path = rig_.File("manifest-" + std::to_string(sequence) + ".json");
    WriteText(path, m.dump(2));
    Ok(rig_.Cli({"manifest", "sign", "--manifest", path, "--key", rig_.File("ops.key"), "--cert",
                 rig_.File("ops.pem"), "--out", path + ".sig"}));
    return path;
  }

  json Modules() {
    CommandResult r = rig_.Cli({"--json", "modules"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  // Polls `check` until it holds; the bound only stops a hung test.
  static bool Eventually(const std::function<bool()>& check, int timeout_s = 60) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      if (check()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Cloud messages on the gateway's own container-event topic.
  std::vector<std::string> CloudEvents() {
    std::vector<std::string> out;
    std::istringstream in(rig_.SubscriberOutput());
    for (std::string line; std::getline(in, line);) {
      if (Contains(line, "gateways/gw-test/leaves/_gateway/events/container ")) out.push_back(line);
    }
    return out;
  }
  bool CloudHas(const std::string& text) {
    for (const auto& e : CloudEvents()) {
      if (Contains(e, text)) return true;
    }
    return false;
  }

  TempDir dir_;
  GatewayRig rig_{dir_};
  DockerdProcess* dockerd_ = nullptr;
  std::string image_;
};

TEST_F(AgentContainerTest, SignedDeployInjectionDetectedRemediatedAndReportedToTheCloud) {
  const std::string m1 = Manifest(1);
  CommandResult d = rig_.Cli({"deploy", "--manifest", m1, "--sig", m1 + ".sig"});
  ASSERT_EQ(d.exit_code, 0) << d.out << d.err << rig_.AgentLog();
  EXPECT_TRUE(Contains(d.out, "Deployed line-a sequence 1")) << d.out;
  json mods = Modules();
  ASSERT_EQ(mods["modules"].size(), 1u) << mods.dump(2);
  const std::string old = mods["modules"][0]["container"];
  EXPECT_EQ(mods["modules"][0]["state"], "running");
  EXPECT_TRUE(mods["modules"][0]["config_matches"].get<bool>());
  EXPECT_EQ(mods["deployment"]["signer"].get<std::string>().find("operations") != std::string::npos,
            true);

  // The same manifest again is a replay.
  CommandResult replay = rig_.Cli({"deploy", "--manifest", m1, "--sig", m1 + ".sig"});
  EXPECT_EQ(replay.exit_code, 1);
  EXPECT_TRUE(Contains(replay.err, "not newer")) << replay.err;

  // Malware: written and run through docker exec.
  dockerd_->Docker({"exec", old, "/bin/sh", "-c",
                    "printf '#!/bin/sh\\necho pwned\\n' > /bin/evil; chmod +x /bin/evil; "
                    "/bin/evil"});
  ASSERT_TRUE(Eventually([&] {
    json m = Modules();
    return m["modules"].size() == 1 && m["modules"][0]["container"] != old &&
           m["modules"][0]["state"] == "running";
  })) << rig_.AgentLog();
  CommandResult ev = rig_.Cli({"events", "--module", "filter"});
  ASSERT_EQ(ev.exit_code, 0) << ev.err;
  EXPECT_TRUE(Contains(ev.out, "violation  filter")) << ev.out;
  EXPECT_TRUE(Contains(ev.out, "path=/bin/evil")) << ev.out;
  EXPECT_TRUE(Contains(ev.out, "remediated  filter")) << ev.out;
  const std::string fresh = Modules()["modules"][0]["container"];
  EXPECT_NE(dockerd_->Docker({"exec", fresh, "test", "-e", "/bin/evil"}).code, 0);

  // The cloud heard of the violation and of the remediation.
  EXPECT_TRUE(Eventually([&] { return CloudHas("violation") && CloudHas("remediated"); }))
      << rig_.SubscriberOutput() << rig_.AgentLog();
  EXPECT_TRUE(CloudHas("/bin/evil"));

  // status summarises the guard.
  CommandResult st = rig_.Cli({"--json", "status"});
  ASSERT_EQ(st.exit_code, 0);
  json s = json::parse(st.out, nullptr, false);
  EXPECT_EQ(s["containers"]["running"], 1);
  EXPECT_GE(s["containers"]["violations"].get<int>(), 1);
}

TEST_F(AgentContainerTest, ManifestFromTheCloudCommandTopicIsDeployed) {
  const std::string m1 = Manifest(1);
  Ok(rig_.Cli({"deploy", "--manifest", m1, "--sig", m1 + ".sig"}));
  const std::string m2 = Manifest(2);
  const std::string b64m = RunCommand({"openssl", "base64", "-A", "-in", m2}).out;
  const std::string b64s = RunCommand({"openssl", "base64", "-A", "-in", m2 + ".sig"}).out;
  const json payload = {{"manifest", b64m}, {"signature", b64s}};
  WriteText(rig_.File("deploy-cmd.json"), payload.dump());
  auto pub =
      RunCommand({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(rig_.cloud().port()),
                  "--cafile", rig_.cloud_ca_pem(), "--cert", rig_.File("cloud-sub.pem"), "--key",
                  rig_.File("cloud-sub.key"), "-i", "cloud-deployer", "-q", "1", "-t",
                  "gateways/gw-test/commands/_gateway/deploy", "-f", rig_.File("deploy-cmd.json")});
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  ASSERT_TRUE(Eventually([&] { return Modules()["deployment"]["sequence"] == 2; }))
      << rig_.AgentLog();
  EXPECT_TRUE(Eventually([&] { return CloudHas("deployment-accepted") && CloudHas("cloud"); }))
      << rig_.SubscriberOutput();
  // A tampered payload from the cloud is refused, and the cloud is told.
  json bad = payload;
  bad["signature"] = b64s.substr(0, b64s.size() - 8) + "AAAAAAAA";
  WriteText(rig_.File("deploy-bad.json"), bad.dump());
  RunCommand({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(rig_.cloud().port()),
              "--cafile", rig_.cloud_ca_pem(), "--cert", rig_.File("cloud-sub.pem"), "--key",
              rig_.File("cloud-sub.key"), "-i", "cloud-deployer", "-q", "1", "-t",
              "gateways/gw-test/commands/_gateway/deploy", "-f", rig_.File("deploy-bad.json")});
  EXPECT_TRUE(Eventually([&] { return CloudHas("deployment-refused"); }))
      << rig_.SubscriberOutput() << rig_.AgentLog();
  EXPECT_EQ(Modules()["deployment"]["sequence"], 2);
}

}  // namespace
}  // namespace edgetrust::test
