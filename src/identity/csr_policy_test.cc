#include "identity/csr_policy.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "identity/csr.h"
#include "identity/software_keys_test_util.h"

namespace edgetrust::identity {
namespace {

using testing::GenerateKey;

Bytes CsrBytes(const Subject& subject, const std::vector<San>& sans, EVP_PKEY* key) {
  auto req = BuildCsr(subject, sans, key, nullptr);
  EXPECT_TRUE(req.ok()) << req.status().ToString();
  std::string pem = CsrToPem(req->get());
  return Bytes(pem.begin(), pem.end());
}

// A request with extensions a requester might try to sneak in.
Bytes GreedyCsr(EVP_PKEY* key) {
  X509ReqPtr req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("greedy"), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key);
  X509ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, nullptr, nullptr, req.get(), nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "keyCertSign"},
                            std::pair{NID_subject_alt_name, "DNS:greedy.example,IP:10.1.2.3"}}) {
    sk_X509_EXTENSION_push(exts.get(), X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  }
  X509_REQ_add_extensions(req.get(), exts.get());
  X509_REQ_sign(req.get(), key, EVP_sha256());
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

TEST(CsrPolicyTest, TakesSubjectSansAndKey) {
  auto key = GenerateKey(KeyType::kEcdsaP256);
  auto subject = *ParseSubject("/CN=sensor-7/O=Acme");
  auto sans = *ParseSans({"DNS:sensor-7.local", "URI:urn:acme:sensor:7"});
  CsrRequest request;
  request.profile = Profile::kServer;
  request.extra_sans = *ParseSans({"IP:10.0.0.7", "DNS:SENSOR-7.local"});
  auto plan = PlanFromCsr(CsrBytes(subject, sans, key.get()), request);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->subject, subject);
  EXPECT_EQ(
      FormatSans(plan->sans),
      (std::vector<std::string>{"DNS:sensor-7.local", "URI:urn:acme:sensor:7", "IP:10.0.0.7"}));
  EXPECT_TRUE(SameKey(plan->public_key.get(), key.get()));
  EXPECT_TRUE(plan->ignored_extensions.empty());
}

TEST(CsrPolicyTest, NeverCopiesRequestedCaPowers) {
  auto key = GenerateKey(KeyType::kEcdsaP256);
  auto plan = PlanFromCsr(GreedyCsr(key.get()), CsrRequest{});  // DER
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->ignored_extensions, (std::vector<std::string>{"basicConstraints", "keyUsage"}));
  EXPECT_EQ(FormatSans(plan->sans),
            (std::vector<std::string>{"DNS:greedy.example", "IP:10.1.2.3"}));
}

TEST(CsrPolicyTest, SignatureMustVerify) {
  auto key = GenerateKey(KeyType::kEcdsaP256);
  auto other = GenerateKey(KeyType::kEcdsaP256);
  X509ReqPtr req(X509_REQ_new());
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("x"), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key.get());
  X509_REQ_sign(req.get(), other.get(), EVP_sha256());  // signed by someone else
  std::string pem = CsrToPem(req.get());
  auto plan = PlanFromCsr(AsBytes(pem), CsrRequest{});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(plan.status().message().find("signature does not verify"), std::string::npos);
}

TEST(CsrPolicyTest, RefusesWhatCannotBeIssued) {
  auto key = GenerateKey(KeyType::kEcdsaP256);
  CsrRequest server;
  server.profile = Profile::kServer;
  auto no_name = PlanFromCsr(CsrBytes(*ParseSubject("/CN=x"), {}, key.get()), server);
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.status().message().find("DNS or IP"), std::string::npos);
  // With --san it is fine.
  server.extra_sans = *ParseSans({"DNS:x.example"});
  EXPECT_TRUE(PlanFromCsr(CsrBytes(*ParseSubject("/CN=x"), {}, key.get()), server).ok());

  CsrRequest ca;
  ca.profile = Profile::kCa;
  EXPECT_FALSE(PlanFromCsr(CsrBytes(*ParseSubject("/CN=x"), {}, key.get()), ca).ok());

  EvpPkeyPtr weak(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  auto small = PlanFromCsr(CsrBytes(*ParseSubject("/CN=x"), {}, weak.get()), CsrRequest{});
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().code(), ErrorCode::kUnsupported);
  EXPECT_NE(small.status().message().find("1024 bits"), std::string::npos);
}

TEST(CsrPolicyTest, MalformedInputGetsAClearError) {
  for (std::string text : {std::string(""), std::string("garbage"),
                           std::string("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                       "-----END CERTIFICATE REQUEST-----\n"),
                           std::string("-----BEGIN CERTIFICATE-----\nMAMCAQU=\n"
                                       "-----END CERTIFICATE-----\n")}) {
    auto plan = PlanFromCsr(AsBytes(text), CsrRequest{});
    ASSERT_FALSE(plan.ok()) << text;
    EXPECT_EQ(plan.status().code(), ErrorCode::kInvalidArgument) << plan.status().ToString();
  }
  auto key = GenerateKey(KeyType::kEcdsaP256);
  Bytes der = GreedyCsr(key.get());
  der.push_back(0);
  auto trailing = PlanFromCsr(der, CsrRequest{});
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.status().message().find("bytes after"), std::string::npos);
  EXPECT_EQ(PlanFromCsr(Bytes(kMaxCsrSize + 1, 0x30), CsrRequest{}).status().code(),
            ErrorCode::kTooLarge);
}

TEST(CsrPolicyTest, EveryKeyTypeWorks) {
  for (KeyType t :
       {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa3072}) {
    auto key = GenerateKey(t);
    auto plan = PlanFromCsr(CsrBytes(*ParseSubject("/CN=k"), {}, key.get()), CsrRequest{});
    EXPECT_TRUE(plan.ok()) << KeyTypeName(t) << ": " << plan.status().ToString();
  }
}

}  // namespace
}  // namespace edgetrust::identity
