// Unit tests of EvidenceVerifier: a good evidence passes, and every kind of tampering, a wrong key,
// a stale or foreign nonce, a log that does not match and reference values that do not hold fail
// with a reason that names what is wrong.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "attest/attest_test_util.h"
#include "attest/cbor_util.h"
#include "attest/evidence.h"
#include "attest/sha256.h"
#include "common/hex.h"
#include "edgetrust/attestation.h"

namespace edgetrust {
namespace {

using attest::testing::Build;
using attest::testing::ClaimsFor;
using attest::testing::Filled;
using attest::testing::GenerateKey;
using attest::testing::PublicPem;
using attest::testing::SampleLog;
using attest::testing::SampleNonce;

bool Mentions(const std::vector<std::string>& lines, std::string_view text) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

std::string Joined(const Verdict& v) {
  std::string s;
  for (const auto& f : v.failures) s += "failure: " + f + "\n";
  for (const auto& n : v.notes) s += "note: " + n + "\n";
  return s;
}

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = GenerateKey();
    auto verifier = EvidenceVerifier::Create(PublicPem(key_.get()));
    ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
    verifier_ = std::make_unique<EvidenceVerifier>(std::move(verifier).value());
    log_ = SampleLog();
    claims_ = ClaimsFor(log_, key_.get());
    const Digest256 kid = attest::Sha256({attest::testing::SpkiDer(key_.get())});
    evidence_ = Build(claims_, key_.get(), kid);
    allow_emulated_.allow_emulated = true;
  }

  Verdict Verify(ByteView evidence, const std::vector<LogEvent>* log = nullptr,
                 const ReferenceValues* ref = nullptr, uint64_t now = 0) const {
    return verifier_->Verify(evidence, SampleNonce(), log, ref, now);
  }

  EvpPkeyPtr key_;
  std::unique_ptr<EvidenceVerifier> verifier_;
  std::vector<LogEvent> log_;
  EvidenceClaims claims_;
  Bytes evidence_;
  ReferenceValues allow_emulated_;
};

TEST_F(VerifierTest, GoodEvidencePasses) {
  Verdict v = Verify(evidence_, &log_, &allow_emulated_, claims_.iat + 1);
  EXPECT_TRUE(v.passed) << Joined(v);
  EXPECT_TRUE(v.failures.empty());
  ASSERT_TRUE(v.claims.has_value());
  EXPECT_EQ(v.claims->registers, claims_.registers);
  EXPECT_EQ(v.claims->requester, "uid:1000");
  EXPECT_TRUE(Mentions(v.notes, "backend: emulated")) << Joined(v);
  EXPECT_TRUE(Mentions(v.notes, "log replayed: 5 events")) << Joined(v);

  // Without log or reference only signature and nonce are checked.
  Verdict bare = Verify(evidence_);
  EXPECT_TRUE(bare.passed) << Joined(bare);
}

TEST_F(VerifierTest, NonceMustMatch) {
  Bytes other = SampleNonce();
  other.back() ^= 1;
  Verdict v = verifier_->Verify(evidence_, other);
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures, "nonce does not match")) << Joined(v);
  ASSERT_TRUE(v.claims.has_value());  // the signature was good

  Bytes longer = SampleNonce();
  longer.push_back(0);
  EXPECT_FALSE(verifier_->Verify(evidence_, longer).passed);
  Bytes shorter(SampleNonce().begin(), SampleNonce().end() - 1);
  EXPECT_FALSE(verifier_->Verify(evidence_, shorter).passed);
  EXPECT_FALSE(verifier_->Verify(evidence_, {}).passed);
}

TEST_F(VerifierTest, NoFlippedByteOrTruncationEverPasses) {
  for (size_t i = 0; i < evidence_.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      Bytes bad = evidence_;
      bad[i] ^= mask;
      Verdict v = Verify(bad, &log_, &allow_emulated_, claims_.iat);
      EXPECT_FALSE(v.passed) << "byte " << i << " mask " << int{mask};
      EXPECT_FALSE(v.failures.empty());
    }
  }
  for (size_t n = 0; n < evidence_.size(); ++n) {
    EXPECT_FALSE(Verify(ByteView(evidence_).first(n)).passed) << n;
  }
}

TEST_F(VerifierTest, WrongKeyFails) {
  auto other = GenerateKey();
  auto verifier = EvidenceVerifier::Create(PublicPem(other.get()));
  ASSERT_TRUE(verifier.ok());
  Verdict v = verifier->Verify(evidence_, SampleNonce());
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures, "signature does not verify")) << Joined(v);
  EXPECT_FALSE(v.claims.has_value());
  EXPECT_EQ(v.failures.size(), 1u);
}

TEST_F(VerifierTest, OtherAlgorithmsAreRefusedEvenWhenProperlySigned) {
  // {1: -35} (ES384) in the protected header, signed over the matching Sig_structure.
  attest::cbor::Item header = attest::cbor::Map(1);
  attest::cbor::Put(header, attest::cbor::Int(1), attest::cbor::Int(-35));
  attest::Sign1 s;
  s.protected_header = attest::cbor::Serialize(header);
  s.payload = *attest::EncodeClaims(claims_);
  auto der =
      attest::testing::SignerFor(key_.get())(attest::SigStructure(s.protected_header, s.payload));
  ASSERT_TRUE(der.ok());
  s.signature = *attest::EcdsaDerToRaw(*der, 32);
  Verdict v = Verify(attest::EncodeSign1(s));
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures, "not ES256")) << Joined(v);
}

TEST_F(VerifierTest, KidMustNameTheKeyOrBeAbsent) {
  Verdict other = Verify(Build(claims_, key_.get(), Bytes(32, 7)));
  EXPECT_FALSE(other.passed);
  EXPECT_TRUE(Mentions(other.failures, "does not name the given attestation key")) << Joined(other);
  Verdict none = Verify(Build(claims_, key_.get()));
  EXPECT_TRUE(none.passed) << Joined(none);
}

TEST_F(VerifierTest, TrailingBytesFail) {
  Bytes bad = evidence_;
  bad.push_back(0);
  Verdict v = Verify(bad);
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures, "trailing")) << Joined(v);
}

TEST_F(VerifierTest, LogThatReplaysToOtherRegistersFailsNamingThem) {
  auto log = log_;
  log[2].digest = Filled(99);  // register 2
  log[4].digest = Filled(98);  // register 9
  Verdict v = Verify(evidence_, &log);
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures, "register 2: the event log replays to")) << Joined(v);
  EXPECT_TRUE(Mentions(v.failures, "register 9: the event log replays to")) << Joined(v);
  EXPECT_FALSE(Mentions(v.failures, "register 1:")) << Joined(v);
  EXPECT_TRUE(Mentions(v.failures, "event log digest")) << Joined(v);
}

TEST_F(VerifierTest, LogDigestAndCountMismatches) {
  // Same digests (so the same registers), another description: only the chain differs.
  auto log = log_;
  log[1].description = "host baseline v8";
  Verdict v = Verify(evidence_, &log);
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures, "event log digest")) << Joined(v);
  EXPECT_FALSE(Mentions(v.failures, "register ")) << Joined(v);

  // A log that stops early.
  std::vector<LogEvent> shorter(log_.begin(), log_.end() - 1);
  Verdict v2 = Verify(evidence_, &shorter);
  EXPECT_FALSE(v2.passed);
  EXPECT_TRUE(Mentions(v2.failures, "event log has 4 events but the evidence counts 5"))
      << Joined(v2);

  // A log with a gap does not replay at all.
  auto gap = log_;
  gap.erase(gap.begin() + 1);
  Verdict v3 = Verify(evidence_, &gap);
  EXPECT_TRUE(Mentions(v3.failures, "event log does not replay")) << Joined(v3);
}

TEST_F(VerifierTest, ReferenceRegisters) {
  ReferenceValues ref = allow_emulated_;
  ref.registers.emplace_back(2, claims_.registers[2]);
  ref.registers.emplace_back(3, Digest256{});
  EXPECT_TRUE(Verify(evidence_, nullptr, &ref).passed);
  ref.registers.emplace_back(1, Filled(1));
  Verdict v = Verify(evidence_, nullptr, &ref);
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures, "register 1 is " + HexEncode(claims_.registers[1]) +
                                       ", the reference expects " + HexEncode(Filled(1))))
      << Joined(v);
  EXPECT_EQ(v.failures.size(), 1u);
}

TEST_F(VerifierTest, EmulatedEvidenceNeedsAllowEmulated) {
  ReferenceValues strict;
  Verdict v = Verify(evidence_, nullptr, &strict);
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures,
                       "backend is emulated (no secure hardware); the reference does not allow "
                       "emulated evidence"))
      << Joined(v);
  EXPECT_TRUE(Verify(evidence_, nullptr, &allow_emulated_).passed);

  EvidenceClaims hardware = claims_;
  hardware.emulated = false;
  hardware.backend = "tpm";
  hardware.dbgstat = 2;
  Verdict hw = Verify(Build(hardware, key_.get()), nullptr, &strict);
  EXPECT_TRUE(hw.passed) << Joined(hw);
  EXPECT_TRUE(Mentions(hw.notes, "backend: tpm"));
}

TEST_F(VerifierTest, MaxAge) {
  ReferenceValues ref = allow_emulated_;
  ref.max_age_seconds = 300;
  const uint64_t iat = claims_.iat;
  EXPECT_TRUE(Verify(evidence_, nullptr, &ref, iat).passed);
  EXPECT_TRUE(Verify(evidence_, nullptr, &ref, iat + 300).passed);
  Verdict old = Verify(evidence_, nullptr, &ref, iat + 301);
  EXPECT_FALSE(old.passed);
  EXPECT_TRUE(Mentions(old.failures, "too old")) << Joined(old);
  EXPECT_TRUE(Verify(evidence_, nullptr, &ref, iat - 60).passed);
  Verdict future = Verify(evidence_, nullptr, &ref, iat - 61);
  EXPECT_FALSE(future.passed);
  EXPECT_TRUE(Mentions(future.failures, "in the future")) << Joined(future);
  // Without max_age_seconds the age does not matter.
  EXPECT_TRUE(Verify(evidence_, nullptr, &allow_emulated_, iat + 1000000).passed);
  // now = 0 means the current clock, far beyond this evidence's iat + 300.
  EXPECT_FALSE(Verify(evidence_, nullptr, &ref, 0).passed);
}

TEST_F(VerifierTest, ExpectedEvents) {
  ReferenceValues ref = allow_emulated_;
  ref.events.push_back({2, log_[3].digest, std::nullopt});
  ref.events.push_back({1, log_[1].digest, std::string("host baseline v7")});
  Verdict v = Verify(evidence_, &log_, &ref);
  EXPECT_TRUE(v.passed) << Joined(v);

  ReferenceValues wrong_register = allow_emulated_;
  wrong_register.events.push_back({3, log_[3].digest, std::nullopt});
  Verdict v2 = Verify(evidence_, &log_, &wrong_register);
  EXPECT_FALSE(v2.passed);
  EXPECT_TRUE(Mentions(v2.failures, "expected event not in the log: register 3")) << Joined(v2);

  ReferenceValues wrong_text = allow_emulated_;
  wrong_text.events.push_back({1, log_[1].digest, std::string("host baseline v6")});
  EXPECT_FALSE(Verify(evidence_, &log_, &wrong_text).passed);

  Verdict no_log = Verify(evidence_, nullptr, &ref);
  EXPECT_FALSE(no_log.passed);
  EXPECT_TRUE(Mentions(no_log.failures, "reference lists events but no event log was given"))
      << Joined(no_log);
}

TEST_F(VerifierTest, ExclusiveRegisters) {
  // Register 2 holds log_[2] and log_[3]: both listed, so it passes; descriptions do not matter.
  ReferenceValues ref = allow_emulated_;
  ref.exclusive_registers = {2};
  ref.events.push_back({2, log_[2].digest, std::nullopt});
  ref.events.push_back({2, log_[3].digest, std::nullopt});
  Verdict v = Verify(evidence_, &log_, &ref);
  EXPECT_TRUE(v.passed) << Joined(v);

  // One of them missing from the reference: the unlisted event is named.
  ReferenceValues partial = allow_emulated_;
  partial.exclusive_registers = {2};
  partial.events.push_back({2, log_[2].digest, std::nullopt});
  Verdict v2 = Verify(evidence_, &log_, &partial);
  EXPECT_FALSE(v2.passed);
  const std::string expected = "register 2: event 3 (" + HexEncode(log_[3].digest) +
                               ", \"deployment mqtt-bridge sha256:cd34\") is not in the reference";
  EXPECT_TRUE(Mentions(v2.failures, expected)) << Joined(v2);
  EXPECT_EQ(v2.failures.size(), 1u) << Joined(v2);

  // The same digest listed for another register does not count.
  ReferenceValues other_register = partial;
  other_register.events.push_back({3, log_[3].digest, std::nullopt});
  Verdict v3 = Verify(evidence_, &log_, &other_register);
  EXPECT_FALSE(v3.passed);
  EXPECT_TRUE(Mentions(v3.failures, "register 2: event 3 (")) << Joined(v3);

  // An exclusive register with no events at all in the log passes with an empty reference.
  ReferenceValues empty_register = allow_emulated_;
  empty_register.exclusive_registers = {5};
  EXPECT_TRUE(Verify(evidence_, &log_, &empty_register).passed);
  // Every event of an exclusive register fails when none is listed.
  empty_register.exclusive_registers = {2, 9};
  Verdict v4 = Verify(evidence_, &log_, &empty_register);
  EXPECT_EQ(v4.failures.size(), 3u) << Joined(v4);

  Verdict no_log = Verify(evidence_, nullptr, &empty_register);
  EXPECT_FALSE(no_log.passed);
  EXPECT_TRUE(
      Mentions(no_log.failures, "reference lists exclusive registers but no event log was given"))
      << Joined(no_log);
}

TEST(ReferenceJsonTest, ExclusiveRegisters) {
  auto ref = ParseReferenceJson(R"({"exclusive_registers": [9, 2], "events": []})");
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_EQ(ref->exclusive_registers, (std::vector<uint32_t>{2, 9}));
  EXPECT_TRUE(ParseReferenceJson("{}")->exclusive_registers.empty());
  EXPECT_FALSE(ParseReferenceJson(R"({"exclusive_registers": 2})").ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"exclusive_registers": ["2"]})").ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"exclusive_registers": [16]})").ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"exclusive_registers": [-1]})").ok());
  auto twice = ParseReferenceJson(R"({"exclusive_registers": [2, 2]})");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("listed twice"), std::string::npos);
  auto unknown = ParseReferenceJson(R"({"exclusive": [2]})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("exclusive_registers"), std::string::npos);
}

TEST_F(VerifierTest, EveryFailureIsListed) {
  Bytes other = SampleNonce();
  other[0] ^= 1;
  auto log = log_;
  log[0].digest = Filled(50);
  ReferenceValues ref;
  ref.max_age_seconds = 1;
  ref.registers.emplace_back(4, Filled(4));
  Verdict v = verifier_->Verify(evidence_, other, &log, &ref, claims_.iat + 100);
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures, "nonce")) << Joined(v);
  EXPECT_TRUE(Mentions(v.failures, "register 0:")) << Joined(v);
  EXPECT_TRUE(Mentions(v.failures, "emulated")) << Joined(v);
  EXPECT_TRUE(Mentions(v.failures, "too old")) << Joined(v);
  EXPECT_TRUE(Mentions(v.failures, "register 4 is")) << Joined(v);
}

TEST_F(VerifierTest, ProfileMustBeOurs) {
  EvidenceClaims c = claims_;
  c.profile = "tag:example.com,2026:other";
  Verdict v = Verify(Build(c, key_.get()));
  EXPECT_FALSE(v.passed);
  EXPECT_TRUE(Mentions(v.failures, "eat_profile")) << Joined(v);
}

TEST_F(VerifierTest, ConcurrentVerification) {
  std::vector<std::thread> threads;
  std::atomic<int> passed{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) passed += Verify(evidence_, &log_, &allow_emulated_).passed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(passed.load(), 200);
}

TEST(EvidenceVerifierCreate, RefusesOtherKeys) {
  EXPECT_FALSE(EvidenceVerifier::Create("").ok());
  EXPECT_FALSE(
      EvidenceVerifier::Create("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
          .ok());
  auto p384 = GenerateKey("EC", "P-384");
  auto r = EvidenceVerifier::Create(PublicPem(p384.get()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("P-256"), std::string::npos) << r.status().message();
  auto ed = EvidenceVerifier::Create(PublicPem(GenerateKey("ED25519", nullptr).get()));
  ASSERT_FALSE(ed.ok());
  EXPECT_NE(ed.status().message().find("ED25519"), std::string::npos) << ed.status().message();
  auto rsa = EvidenceVerifier::Create(PublicPem(GenerateKey("RSA").get()));
  ASSERT_FALSE(rsa.ok());
  EXPECT_EQ(rsa.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgetrust
