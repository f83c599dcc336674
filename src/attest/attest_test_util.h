// Test helpers for the attestation unit tests: an in-process P-256 attestation key, a signer in
// the form BuildEvidence expects, and evidence made from a small event log.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "attest/evidence.h"
#include "common/openssl_ptr.h"
#include "edgetrust/attestation.h"

namespace edgetrust::attest::testing {

inline EvpPkeyPtr GenerateKey(const char* type = "EC", const char* param = "P-256") {
  EVP_PKEY* key = nullptr;
  if (std::string(type) == "RSA") {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  } else {
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, type, param);
  }
  EXPECT_NE(key, nullptr);
  return EvpPkeyPtr(key);
}

inline std::string PublicPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

inline Bytes SpkiDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  EXPECT_GT(len, 0);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// ECDSA with SHA-256, DER signature: what the daemon's backends return.
inline DerSigner SignerFor(EVP_PKEY* key) {
  return [key](ByteView tbs) -> Result<Bytes> {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, tbs.data(), tbs.size()) != 1) {
      return Status(ErrorCode::kInternal, "sign");
    }
    Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, tbs.data(), tbs.size()) != 1) {
      return Status(ErrorCode::kInternal, "sign");
    }
    sig.resize(len);
    return sig;
  };
}

inline Digest256 Filled(uint8_t seed) {
  Digest256 d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(seed + i * 7);
  return d;
}

inline std::vector<LogEvent> SampleLog() {
  std::vector<LogEvent> log;
  auto add = [&](uint32_t reg, uint8_t seed, std::string principal, std::string description) {
    LogEvent e;
    e.seq = log.size();
    e.register_index = reg;
    e.digest = Filled(seed);
    e.principal = std::move(principal);
    e.description = std::move(description);
    e.time = 1767225600 + log.size();
    log.push_back(std::move(e));
  };
  add(0, 1, "edgetrust-sd", "edgetrust-sd configuration and policy");
  add(1, 2, "uid:0", "host baseline v7");
  add(2, 3, "uid:0", "deployment sensor-hub sha256:ab12");
  add(2, 4, "uid:0", "deployment mqtt-bridge sha256:cd34");
  add(9, 5, "container:3f4b9c1d2e5a6078a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f70",
      "application state");
  return log;
}

inline const Bytes& SampleNonce() {
  static const Bytes nonce = {0x6e, 0x6f, 0x6e, 0x63, 0x65, 0x2d, 0x30, 0x31,
                              0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39};
  return nonce;
}

// Claims of a device whose registers and log digest are what `log` replays to.
inline EvidenceClaims ClaimsFor(const std::vector<LogEvent>& log, EVP_PKEY* key) {
  auto replay = ReplayLog(log);
  EXPECT_TRUE(replay.ok()) << replay.status().ToString();
  EvidenceClaims c;
  c.nonce = SampleNonce();
  c.ueid = UeidFromPublicKeyDer(SpkiDer(key));
  c.iat = 1767225700;
  c.dbgstat = 0;
  c.profile = std::string(kProfile);
  c.uptime = 100;
  c.bootseed = Bytes(32, 0x5a);
  c.swname = "edgetrust-sd 0.1.0";
  c.registers = replay->registers;
  c.log_digest = replay->log_digest;
  c.log_count = replay->count;
  c.backend = "emulated";
  c.emulated = true;
  c.requester = "uid:1000";
  return c;
}

inline Bytes Build(const EvidenceClaims& c, EVP_PKEY* key, ByteView kid = {}) {
  auto evidence = BuildEvidence(c, kid, SignerFor(key));
  EXPECT_TRUE(evidence.ok()) << evidence.status().ToString();
  return evidence.ok() ? *evidence : Bytes{};
}

}  // namespace edgetrust::attest::testing
