// The fixture of the conformance suite (sd_conformance_test.cc, sd_conformance_state_test.cc):
// one backend's device (BackendEnv) and one edgetrust-sd on it, parameterised over every
// backend, plus checks with the openssl CLI shared by the tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "backend_env.h"
#include "edgetrust/client.h"
#include "harness.h"

namespace edgetrust::test {

inline std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }
inline std::string Str(const SecretBytes& b) { return std::string(b.data(), b.data() + b.size()); }

inline std::string Hex(ByteView b) {
  std::string hex;
  for (uint8_t x : b) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", x);
    hex += buf;
  }
  return hex;
}

// The fixture of every conformance test: one backend's device and one daemon on it.
class ConformanceBase : public ::testing::Test {
 protected:
  virtual std::string Backend() const = 0;
  void SetUp() override {
    env_ = std::make_unique<BackendEnv>(dir_, Backend());
    ASSERT_TRUE(env_->Start()) << env_->error();
    StartDaemon();
  }
  void TearDown() override {
    client_.reset();
    if (sd_) {
      EXPECT_EQ(sd_->Stop(), 0) << sd_->log();
    }
  }
  void StartDaemon() {
    sd_ = std::make_unique<SdProcess>(dir_, env_->DaemonOptions());
    ASSERT_TRUE(sd_->Start()) << sd_->log();
    auto c = Client::Connect(sd_->socket());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
    auto info = client_->Info();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    info_ = *info;
  }
  void RestartDaemon() {
    client_.reset();
    ASSERT_EQ(sd_->Stop(), 0) << sd_->log();
    StartDaemon();
  }
  bool Supports(KeyType type) const {
    const std::string entry = "key-type:" + std::string(KeyTypeName(type));
    return std::find(info_.supported.begin(), info_.supported.end(), entry) !=
           info_.supported.end();
  }
  CommandResult Cli(std::vector<std::string> args) { return RunCli(sd_->socket(), args); }

  // Verifies a signature over `message` with the openssl CLI and the exported public key.
  void ExpectOpensslVerifies(const std::string& key, KeyType type, const std::string& message,
                             const Bytes& sig, bool expect_ok = true) {
    auto pem = client_->PublicKeyPem(key);
    ASSERT_TRUE(pem.ok()) << pem.status().ToString();
    WriteText(dir_.File("pub.pem"), *pem);
    WriteText(dir_.File("msg.bin"), message);
    WriteText(dir_.File("sig.bin"), Str(sig));
    std::vector<std::string> argv;
    switch (type) {
      case KeyType::kEd25519:
        argv = {"openssl",
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                dir_.File("pub.pem"),
                "-rawin",
                "-in",
                dir_.File("msg.bin"),
                "-sigfile",
                dir_.File("sig.bin")};
        break;
      case KeyType::kRsa3072:
        argv = {"openssl",
                "dgst",
                "-sha256",
                "-verify",
                dir_.File("pub.pem"),
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
                "-signature",
                dir_.File("sig.bin"),
                dir_.File("msg.bin")};
        break;
      default:
        argv = {"openssl",
                "dgst",
                type == KeyType::kEcdsaP384 ? "-sha384" : "-sha256",
                "-verify",
                dir_.File("pub.pem"),
                "-signature",
                dir_.File("sig.bin"),
                dir_.File("msg.bin")};
    }
    auto r = RunCommand(argv);
    if (expect_ok) {
      EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
      bool said_ok = r.out.find("Verified OK") != std::string::npos ||
                     r.out.find("Signature Verified Successfully") != std::string::npos;
      EXPECT_TRUE(said_ok) << r.out;
    } else {
      EXPECT_NE(r.exit_code, 0) << "openssl accepted a bad signature: " << r.out;
    }
  }

  TempDir dir_;
  std::unique_ptr<BackendEnv> env_;
  std::unique_ptr<SdProcess> sd_;
  std::unique_ptr<Client> client_;
  DaemonInfo info_;
};

class Conformance : public ConformanceBase, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string Backend() const override { return GetParam(); }
};

#define SKIP_UNLESS_SUPPORTED(type)                                                        \
  if (!Supports(type)) {                                                                   \
    GTEST_SKIP() << "backend " << Backend() << " has no " << KeyTypeName(type) << " keys"; \
  }

}  // namespace edgetrust::test
