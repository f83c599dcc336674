// Unit tests of manifest signatures with certificates made in-process: a signature by a signer of
// a trusted CA verifies and names the signer; another CA, a changed manifest, an expired signer,
// a signer without digitalSignature, garbage and an empty trust list are refused. Interoperability
// with the openssl CLI is tested in test/deploy_test.cc.
#include "deploy/signature.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <string>

#include "identity/certificate.h"

namespace edgetrust::deploy {
namespace {

struct Party {
  EvpPkeyPtr key;
  X509Ptr cert;
};

void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  ASSERT_TRUE(ext);
  ASSERT_EQ(X509_add_ext(cert, ext.get(), -1), 1);
}

// A certificate for a new P-256 key, issued by `issuer` (self-signed when null), valid from
// now + not_before to now + not_after seconds.
Party Make(const std::string& cn, const Party* issuer, bool ca, long not_before = -3600,
           long not_after = 86400, const char* key_usage = nullptr) {
  Party p;
  p.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  p.cert.reset(X509_new());
  X509* c = p.cert.get();
  X509_set_version(c, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
  X509_gmtime_adj(X509_getm_notBefore(c), not_before);
  X509_gmtime_adj(X509_getm_notAfter(c), not_after);
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer->cert.get()) : name);
  X509_set_pubkey(c, p.key.get());
  X509* issuer_cert = issuer ? issuer->cert.get() : c;
  AddExt(c, issuer_cert, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (ca) AddExt(c, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (!ca && key_usage) AddExt(c, issuer_cert, NID_key_usage, key_usage);
  EXPECT_GT(X509_sign(c, issuer ? issuer->key.get() : p.key.get(), EVP_sha256()), 0);
  return p;
}

std::vector<X509Ptr> Trust(const Party& ca) {
  std::vector<X509Ptr> v;
  v.emplace_back(X509_dup(ca.cert.get()));
  return v;
}

class SignatureTest : public ::testing::Test {
 protected:
  const std::string manifest_ = R"({"format":"edgetrust-deployment/1"})";
  Party ca_ = Make("deploy CA", nullptr, true, -86400);
  Party signer_ = Make("release signer", &ca_, false, -3600, 86400, "critical,digitalSignature");
};

TEST_F(SignatureTest, SignAndVerify) {
  auto sig = SignManifest(AsBytes(manifest_), signer_.key.get(), signer_.cert.get());
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  auto info = VerifyManifestSignature(AsBytes(manifest_), *sig, Trust(ca_));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->subject, "CN=release signer");
  EXPECT_EQ(info->fingerprint, identity::Fingerprint(signer_.cert.get()));
}

TEST_F(SignatureTest, ThroughAnIntermediate) {
  Party intermediate = Make("intermediate", &ca_, true);
  Party leaf = Make("leaf signer", &intermediate, false);
  std::vector<X509Ptr> chain;
  chain.emplace_back(X509_dup(intermediate.cert.get()));
  auto sig = SignManifest(AsBytes(manifest_), leaf.key.get(), leaf.cert.get(), chain);
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  EXPECT_TRUE(VerifyManifestSignature(AsBytes(manifest_), *sig, Trust(ca_)).ok());
  // Without the intermediate in the signature the leaf does not chain.
  auto bare = SignManifest(AsBytes(manifest_), leaf.key.get(), leaf.cert.get());
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(VerifyManifestSignature(AsBytes(manifest_), *bare, Trust(ca_)).status().code(),
            ErrorCode::kVerifyFailed);
}

TEST_F(SignatureTest, Refusals) {
  auto sig = SignManifest(AsBytes(manifest_), signer_.key.get(), signer_.cert.get());
  ASSERT_TRUE(sig.ok());

  Party other_ca = Make("other CA", nullptr, true);
  auto r = VerifyManifestSignature(AsBytes(manifest_), *sig, Trust(other_ca));
  EXPECT_EQ(r.status().code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(r.status().message().find("does not chain to a trusted deployment CA"),
            std::string::npos)
      << r.status().message();

  std::string changed = manifest_;
  changed[5] ^= 1;
  r = VerifyManifestSignature(AsBytes(changed), *sig, Trust(ca_));
  EXPECT_EQ(r.status().code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(r.status().message().find("does not match the signature"), std::string::npos)
      << r.status().message();

  r = VerifyManifestSignature(AsBytes(manifest_), *sig, {});
  EXPECT_EQ(r.status().code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(r.status().message().find("trust bundle is empty"), std::string::npos);

  Bytes truncated(sig->begin(), sig->begin() + static_cast<long>(sig->size() / 2));
  EXPECT_EQ(VerifyManifestSignature(AsBytes(manifest_), truncated, Trust(ca_)).status().code(),
            ErrorCode::kMalformed);
  EXPECT_EQ(
      VerifyManifestSignature(AsBytes(manifest_), AsBytes("garbage"), Trust(ca_)).status().code(),
      ErrorCode::kMalformed);
  EXPECT_EQ(VerifyManifestSignature(AsBytes(manifest_), {}, Trust(ca_)).status().code(),
            ErrorCode::kMalformed);
  Bytes huge(kMaxSignatureBytes + 1, 0x30);
  EXPECT_EQ(VerifyManifestSignature(AsBytes(manifest_), huge, Trust(ca_)).status().code(),
            ErrorCode::kTooLarge);
}

TEST_F(SignatureTest, TimeOfCheck) {
  Party expired = Make("expired", &ca_, false, -7200, -3600);
  auto sig = SignManifest(AsBytes(manifest_), expired.key.get(), expired.cert.get());
  ASSERT_TRUE(sig.ok());
  auto r = VerifyManifestSignature(AsBytes(manifest_), *sig, Trust(ca_));
  EXPECT_EQ(r.status().code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(r.status().message().find("expired"), std::string::npos) << r.status().message();
  // At a time when it was valid it verifies.
  const int64_t then = static_cast<int64_t>(std::time(nullptr)) - 5400;
  auto at_then = VerifyManifestSignature(AsBytes(manifest_), *sig, Trust(ca_), then);
  EXPECT_TRUE(at_then.ok()) << at_then.status().ToString();
}

TEST_F(SignatureTest, KeyUsageWithoutDigitalSignature) {
  Party encipher = Make("encipher only", &ca_, false, -3600, 86400, "critical,keyAgreement");
  auto sig = SignManifest(AsBytes(manifest_), encipher.key.get(), encipher.cert.get());
  ASSERT_TRUE(sig.ok());
  auto r = VerifyManifestSignature(AsBytes(manifest_), *sig, Trust(ca_));
  EXPECT_EQ(r.status().code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(r.status().message().find("digitalSignature"), std::string::npos)
      << r.status().message();
}

TEST_F(SignatureTest, KeyMustMatchCertificate) {
  Party other = Make("other", &ca_, false);
  EXPECT_EQ(SignManifest(AsBytes(manifest_), other.key.get(), signer_.cert.get()).status().code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgetrust::deploy
