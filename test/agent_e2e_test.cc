// The reference scenario's gateway steps (BRIEF.md section 2, steps 1-3) with real processes:
// edgetrust-sd, a mosquitto "cloud" with mutual TLS, edgetrust-agent and edgetrust-sensor, checked
// at the cloud by mosquitto_sub. Readings from several sensors, each authenticated another way
// (enrollment, TLS-PSK, a certificate from the device CA), all arrive (after de-duplication),
// through a cloud outage and a kill -9 of the agent mid-stream.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "gateway_rig.h"

namespace edgetrust::test {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class AgentE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!MosquittoProcess::Available()) GTEST_SKIP() << "mosquitto is not installed";
    std::string error;
    ASSERT_TRUE(rig_.Setup(&error)) << error;
    ASSERT_TRUE(rig_.StartCloud()) << rig_.cloud().log();
    ASSERT_TRUE(rig_.StartSubscriber()) << rig_.cloud().log();
    ASSERT_TRUE(rig_.StartAgent()) << rig_.AgentLog();
  }

  // Waits until the cloud holds readings 1..count of every sensor in `sensors`.
  bool WaitForReadings(const std::vector<std::string>& sensors, long count, int timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      auto got = rig_.CloudReadings();
      bool all = true;
      for (const auto& s : sensors) {
        for (long n = 1; n <= count && all; ++n) all = got.count({s, n}) > 0;
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  TempDir dir_;
  GatewayRig rig_{dir_};
};

TEST_F(AgentE2eTest, ReadingsOfThreeAuthModesSurviveCloudOutageAndAgentKill) {
  constexpr long kCount = 400;
  const std::string token = rig_.AddLeaf("s-enrolled");
  ASSERT_FALSE(token.empty());
  const std::string psk = rig_.AddLeaf("s-psk", "psk");
  ASSERT_EQ(psk.size(), 64u) << "a 32-byte PSK in hex";
  ASSERT_EQ(rig_.AddLeaf("s-cert", "certificate"), "ok");
  std::string error;
  ASSERT_TRUE(rig_.IssueLeafCertificate("s-cert", &error)) << error;

  const std::vector<std::string> common = {"--rate", "100", "--count", std::to_string(kCount),
                                           "--quiet"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), common.begin(), common.end());
    return a;
  };
  ChildProcess& enrolled = rig_.StartSensor(
      "s-enrolled", with({"--enroll", token, "--state", rig_.File("s-enrolled-state")}));
  ChildProcess& psk_sensor = rig_.StartSensor("s-psk", with({"--psk", psk}));
  ChildProcess& cert_sensor = rig_.StartSensor(
      "s-cert", with({"--cert", rig_.File("s-cert.pem"), "--key", rig_.File("s-cert.key")}));

  // Some readings go through, then the cloud goes away while the sensors keep sending.
  ASSERT_TRUE(WaitForReadings({"s-enrolled", "s-psk", "s-cert"}, 20, 60))
      << rig_.AgentLog() << rig_.SubscriberOutput();
  ASSERT_EQ(rig_.cloud().Stop(), 0);
  ASSERT_TRUE(rig_.WaitForAgentLog("event=cloud-disconnected")) << rig_.AgentLog();
  // The gateway keeps acknowledging: its queue holds what the cloud cannot take now.
  const auto queued = [&] {
    auto st = rig_.Cli({"status", "--json"});
    if (st.exit_code != 0) return uint64_t{0};
    try {
      return nlohmann::json::parse(st.out)["queue"]["depth"].get<uint64_t>();
    } catch (const std::exception&) {
      return uint64_t{0};
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (queued() < 100 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(queued(), 100u) << "the queue did not fill while the cloud was away";
  ASSERT_TRUE(rig_.cloud().Restart()) << rig_.cloud().log();

  // Then the agent dies mid-stream, and comes back.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  rig_.KillAgent();
  ASSERT_TRUE(rig_.StartAgent()) << rig_.AgentLog();

  for (ChildProcess* s : {&enrolled, &psk_sensor, &cert_sensor}) {
    auto rc = s->Wait(std::chrono::seconds(120));
    ASSERT_TRUE(rc.has_value()) << s->output();
    EXPECT_EQ(*rc, 0) << s->output();
    EXPECT_TRUE(Contains(s->output(), "acked=" + std::to_string(kCount))) << s->output();
  }
  ASSERT_TRUE(WaitForReadings({"s-enrolled", "s-psk", "s-cert"}, kCount, 120))
      << "missing readings at the cloud\n"
      << rig_.AgentLog();
  int bad = 0;
  auto got = rig_.CloudReadings(&bad);
  EXPECT_EQ(bad, 0) << "envelopes that did not parse or named another leaf";
  for (const auto& [key, n] : got) {
    EXPECT_LE(key.second, kCount) << key.first << " reading " << key.second << " was never sent";
  }
  // The enrolled sensor really enrolled, and mutual TLS followed.
  EXPECT_TRUE(Contains(rig_.AgentLog(), "event=leaf-enrolled leaf=s-enrolled"));
  auto verify = rig_.Openssl({"verify", "-CAfile", rig_.device_ca_pem(),
                              rig_.File("s-enrolled-state/cert.pem")});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  auto subject = rig_.Openssl({"x509", "-in", rig_.File("s-enrolled-state/cert.pem"), "-noout",
                               "-subject"});
  EXPECT_TRUE(Contains(subject.out, "CN = s-enrolled")) << subject.out;
}

TEST_F(AgentE2eTest, EnvelopeCarriesLeafAndSequenceAndStatusShowsTheGateway) {
  const std::string psk = rig_.AddLeaf("s1", "psk");
  ASSERT_FALSE(psk.empty());
  ChildProcess& s = rig_.StartSensor("s1", {"--psk", psk, "--count", "5", "--rate", "50"});
  auto rc = s.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(rc.has_value() && *rc == 0) << s.output() << rig_.AgentLog();
  ASSERT_TRUE(WaitForReadings({"s1"}, 5, 60)) << rig_.SubscriberOutput();

  // One line per message: topic, then the envelope.
  std::set<uint64_t> seqs;
  std::istringstream in(rig_.SubscriberOutput());
  std::string line;
  while (std::getline(in, line)) {
    const size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << line;
    EXPECT_EQ(line.substr(0, space), "gateways/gw-test/leaves/s1/temperature");
    auto j = nlohmann::json::parse(line.substr(space + 1));
    EXPECT_EQ(j["leaf"], "s1");
    EXPECT_EQ(j["gateway"], "gw-test");
    EXPECT_EQ(j["subtopic"], "temperature");
    EXPECT_TRUE(j["data"].is_object()) << "a JSON payload is spliced in as JSON";
    seqs.insert(j["seq"].get<uint64_t>());
  }
  EXPECT_EQ(seqs, (std::set<uint64_t>{1, 2, 3, 4, 5}));

  // The cloud's last acknowledgements may still be on their way: wait for an empty queue.
  nlohmann::json j;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    auto st = rig_.Cli({"status", "--json"});
    ASSERT_EQ(st.exit_code, 0) << st.err;
    j = nlohmann::json::parse(st.out);
    if (j["queue"]["depth"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(j["device"], "gw-test");
  EXPECT_EQ(j["cloud"]["state"], "connected");
  EXPECT_EQ(j["queue"]["depth"], 0);
  EXPECT_EQ(j["leaves"]["known"], 1);
  bool device_cert = false;
  for (const auto& c : j["certificates"]) device_cert = device_cert || c["name"] == "device-id";
  EXPECT_TRUE(device_cert) << j.dump();
  auto human = rig_.Cli({"status"});
  EXPECT_EQ(human.exit_code, 0) << human.err;
  EXPECT_TRUE(Contains(human.out, "connected")) << human.out;
}

}  // namespace
}  // namespace edgetrust::test
