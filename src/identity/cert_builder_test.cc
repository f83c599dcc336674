#include "identity/cert_builder.h"

#include <gtest/gtest.h>

#include "identity/certificate.h"
#include "identity/software_keys_test_util.h"

namespace edgetrust::identity {
namespace {

using testing::GenerateKey;

constexpr int64_t kNow = 1750000000;

X509Ptr MakeCa(EVP_PKEY* key, uint32_t days = 3650) {
  CertSpec spec;
  spec.profile = Profile::kCa;
  spec.subject = *ParseSubject("/CN=Test CA/O=EdgeTrust");
  spec.subject_key = key;
  Validity v = ComputeValidity(kNow, days, 0);
  spec.not_before = v.not_before;
  spec.not_after = v.not_after;
  auto ca = BuildCertificate(spec, CertSigner{nullptr, key, nullptr});
  EXPECT_TRUE(ca.ok()) << ca.status().ToString();
  return std::move(ca).value();
}

Result<X509Ptr> MakeLeaf(X509* ca, EVP_PKEY* ca_key, EVP_PKEY* key, Profile profile,
                         const std::vector<std::string>& sans,
                         const std::string& subject = "/CN=leaf") {
  CertSpec spec;
  spec.profile = profile;
  if (!subject.empty()) spec.subject = *ParseSubject(subject);
  spec.sans = *ParseSans(sans);
  spec.subject_key = key;
  Validity v = ComputeValidity(kNow, 30, NotAfter(ca));
  spec.not_before = v.not_before;
  spec.not_after = v.not_after;
  return BuildCertificate(spec, CertSigner{ca, ca_key, nullptr});
}

TEST(CertBuilderTest, CaExtensions) {
  auto key = GenerateKey(KeyType::kEcdsaP256);
  X509Ptr ca = MakeCa(key.get());
  EXPECT_TRUE(IsCa(ca.get()));
  EXPECT_TRUE(IsSelfSigned(ca.get()));
  EXPECT_EQ(X509_get_version(ca.get()), X509_VERSION_3);
  int crit = -1;
  BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(ca.get(), NID_basic_constraints, &crit, nullptr)));
  ASSERT_TRUE(bc);
  EXPECT_EQ(crit, 1);
  EXPECT_TRUE(bc->ca);
  ASSERT_NE(bc->pathlen, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(bc->pathlen), 0);
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  EXPECT_EQ(X509_get_ext_by_NID(ca.get(), NID_ext_key_usage, -1), -1);
  EXPECT_EQ(NotBefore(ca.get()), kNow - kBackdateSeconds);
  EXPECT_EQ(NotAfter(ca.get()), kNow + 3650LL * 86400);
}

TEST(CertBuilderTest, LeafExtensionsAndChain) {
  auto ca_key = GenerateKey(KeyType::kEcdsaP256);
  X509Ptr ca = MakeCa(ca_key.get());
  auto key = GenerateKey(KeyType::kEcdsaP256);
  auto leaf = MakeLeaf(ca.get(), ca_key.get(), key.get(), Profile::kClientServer,
                       {"DNS:gw.example", "IP:10.0.0.1"});
  ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
  X509* c = leaf->get();
  EXPECT_FALSE(IsCa(c));
  EXPECT_TRUE(IsIssuedBy(c, ca.get()));
  int crit = -1;
  BasicConstraintsPtr bc(
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(c, NID_basic_constraints, &crit, nullptr)));
  ASSERT_TRUE(bc);
  EXPECT_EQ(crit, 1);
  EXPECT_FALSE(bc->ca);
  EXPECT_EQ(X509_get_key_usage(c), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(c), static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  // AKI = the CA's SKI.
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(c);
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(ca.get())), 0);
  auto sans = SansOfCertificate(c);
  ASSERT_TRUE(sans.ok());
  EXPECT_EQ(FormatSans(*sans), (std::vector<std::string>{"DNS:gw.example", "IP:10.0.0.1"}));
  // Serial: positive, 16 bytes.
  const ASN1_INTEGER* serial = X509_get0_serialNumber(c);
  EXPECT_EQ(ASN1_STRING_length(serial), 16);
  EXPECT_NE(ASN1_STRING_type(serial), V_ASN1_NEG_INTEGER);
  // The chain verifies as a TLS client and server certificate.
  X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  for (int purpose : {X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER}) {
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), c, nullptr);
    X509_STORE_CTX_set_purpose(ctx.get(), purpose);
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), kNow);
    EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
        << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
}

TEST(CertBuilderTest, ProfilesAndKeyTypes) {
  auto ca_key = GenerateKey(KeyType::kEcdsaP384);
  X509Ptr ca = MakeCa(ca_key.get());
  EXPECT_EQ(X509_get_signature_nid(ca.get()), NID_ecdsa_with_SHA384);
  auto rsa = GenerateKey(KeyType::kRsa3072);
  auto server = MakeLeaf(ca.get(), ca_key.get(), rsa.get(), Profile::kServer, {"DNS:s"});
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(X509_get_extended_key_usage(server->get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_get_key_usage(server->get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  auto ed = GenerateKey(KeyType::kEd25519);
  auto client = MakeLeaf(ca.get(), ca_key.get(), ed.get(), Profile::kClient, {});
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(X509_get_extended_key_usage(client->get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_ext_by_NID(client->get(), NID_subject_alt_name, -1), -1);
  // An Ed25519 CA signs without a separate digest.
  X509Ptr ed_ca = MakeCa(ed.get());
  EXPECT_EQ(X509_get_signature_nid(ed_ca.get()), NID_ED25519);
}

TEST(CertBuilderTest, EmptySubjectMakesTheSanCritical) {
  auto ca_key = GenerateKey(KeyType::kEcdsaP256);
  X509Ptr ca = MakeCa(ca_key.get());
  auto key = GenerateKey(KeyType::kEcdsaP256);
  auto leaf = MakeLeaf(ca.get(), ca_key.get(), key.get(), Profile::kClient, {"URI:urn:x:y"}, "");
  ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
  int idx = X509_get_ext_by_NID(leaf->get(), NID_subject_alt_name, -1);
  ASSERT_GE(idx, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(leaf->get(), idx)), 1);
  EXPECT_FALSE(MakeLeaf(ca.get(), ca_key.get(), key.get(), Profile::kClient, {}, "").ok());
}

TEST(CertBuilderTest, RefusesInconsistentSpecs) {
  auto key = GenerateKey(KeyType::kEcdsaP256);
  auto other = GenerateKey(KeyType::kEcdsaP256);
  CertSpec spec;
  spec.profile = Profile::kClient;
  spec.subject = *ParseSubject("/CN=x");
  spec.subject_key = key.get();
  spec.not_before = kNow;
  spec.not_after = kNow + 10;
  EXPECT_FALSE(BuildCertificate(spec, CertSigner{nullptr, key.get(), nullptr}).ok());  // leaf self
  spec.profile = Profile::kCa;
  spec.not_after = kNow;
  EXPECT_FALSE(BuildCertificate(spec, CertSigner{nullptr, key.get(), nullptr}).ok());  // empty span
  // A self-signed certificate signed by a key that is not its own fails the self-check.
  spec.not_after = kNow + 10;
  auto bad = BuildCertificate(spec, CertSigner{nullptr, other.get(), nullptr});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("does not verify"), std::string::npos);
}

TEST(CertBuilderTest, ValidityIsBackdatedAndCappedAtTheIssuer) {
  Validity v = ComputeValidity(kNow, 10, 0);
  EXPECT_EQ(v.not_before, kNow - 300);
  EXPECT_EQ(v.not_after, kNow + 10 * 86400);
  EXPECT_FALSE(v.capped);
  v = ComputeValidity(kNow, 10, kNow + 86400);
  EXPECT_EQ(v.not_after, kNow + 86400);
  EXPECT_TRUE(v.capped);
}

TEST(CertBuilderTest, SerialsDiffer) {
  auto key = GenerateKey(KeyType::kEcdsaP256);
  X509Ptr a = MakeCa(key.get());
  X509Ptr b = MakeCa(key.get());
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a.get()), X509_get0_serialNumber(b.get())), 0);
}

}  // namespace
}  // namespace edgetrust::identity
