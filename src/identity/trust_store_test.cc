#include "identity/trust_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "identity/cert_builder.h"
#include "identity/certificate.h"
#include "identity/identity_test_dir.h"
#include "identity/software_keys_test_util.h"

namespace edgetrust::identity {
namespace {

using testing::GenerateKey;

constexpr int64_t kNow = 1750000000;

std::string Cert(Profile profile, const std::string& cn, int64_t not_after = kNow + 86400,
                 X509* issuer = nullptr, EVP_PKEY* issuer_key = nullptr) {
  auto key = GenerateKey(KeyType::kEcdsaP256);
  CertSpec spec;
  spec.profile = profile;
  spec.subject = *ParseSubject("/CN=" + cn);
  spec.subject_key = key.get();
  spec.not_before = kNow - 100;
  spec.not_after = not_after;
  auto c = BuildCertificate(spec, CertSigner{issuer, issuer ? issuer_key : key.get(), nullptr});
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return ToPem(c->get());
}

class TrustStoreTest : public ::testing::Test {
 protected:
  TrustStoreTest()
      : store_(*CertStore::Open(dir_.path() + "/certs", true)), trust_(store_, keys_) {}
  std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  testing::TestDir dir_;
  CertStore store_;
  testing::SoftwareKeyService keys_;
  TrustStore trust_;
};

TEST_F(TrustStoreTest, AddListRemove) {
  EXPECT_TRUE(trust_.Load(TrustPurpose::kCloud)->empty());
  const std::string a = Cert(Profile::kCa, "Root A");
  const std::string b = Cert(Profile::kCa, "Root B");
  auto added = trust_.Add(TrustPurpose::kCloud, a + b, kNow);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->added.size(), 2u);
  auto again = trust_.Add(TrustPurpose::kCloud, a, kNow);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->added.empty());
  EXPECT_EQ(again->already_present.size(), 1u);
  auto list = trust_.List(TrustPurpose::kCloud);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].subject, "/CN=Root A");
  EXPECT_TRUE((*list)[0].self_signed);
  // The bundle is plain PEM other programs read.
  EXPECT_EQ(Read(trust_.BundlePath(TrustPurpose::kCloud)), a + b);
  EXPECT_TRUE(trust_.List(TrustPurpose::kLeaf)->empty());

  auto removed = trust_.Remove(TrustPurpose::kCloud, (*list)[0].fingerprint);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(trust_.List(TrustPurpose::kCloud)->size(), 1u);
  EXPECT_EQ(trust_.Remove(TrustPurpose::kCloud, (*list)[0].fingerprint).status().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(trust_.Remove(TrustPurpose::kCloud, "xyz").status().code(),
            ErrorCode::kInvalidArgument);
  // Removing the last one leaves no bundle, and that verifies as empty.
  ASSERT_TRUE(trust_.Remove(TrustPurpose::kCloud, (*list)[1].fingerprint).ok());
  EXPECT_FALSE(std::filesystem::exists(trust_.BundlePath(TrustPurpose::kCloud)));
  EXPECT_TRUE(trust_.Load(TrustPurpose::kCloud)->empty());
}

TEST_F(TrustStoreTest, OnlyCurrentCasAreAccepted) {
  auto ca_key = GenerateKey(KeyType::kEcdsaP256);
  CertSpec spec;
  spec.profile = Profile::kCa;
  spec.subject = *ParseSubject("/CN=Issuer");
  spec.subject_key = ca_key.get();
  spec.not_before = kNow - 100;
  spec.not_after = kNow + 86400;
  auto ca = BuildCertificate(spec, CertSigner{nullptr, ca_key.get(), nullptr});
  const std::string leaf = Cert(Profile::kServer, "leaf", kNow + 86400, ca->get(), ca_key.get());
  auto r = trust_.Add(TrustPurpose::kLeaf, leaf, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("neither a CA certificate"), std::string::npos);
  // One bad certificate refuses the file.
  r = trust_.Add(TrustPurpose::kLeaf, Cert(Profile::kCa, "ok") + leaf, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(trust_.Load(TrustPurpose::kLeaf)->empty());
  r = trust_.Add(TrustPurpose::kLeaf, Cert(Profile::kCa, "old", kNow - 10), kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("expired"), std::string::npos);
  r = trust_.Add(TrustPurpose::kLeaf, "junk\n" + Cert(Profile::kCa, "x"), kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("text outside a PEM block"), std::string::npos);
  EXPECT_EQ(ParseTrustPurpose("firmware").status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(TrustStoreTest, ModificationsBehindOurBackAreTampering) {
  const std::string a = Cert(Profile::kCa, "Root A");
  ASSERT_TRUE(trust_.Add(TrustPurpose::kCloud, a, kNow).ok());
  ASSERT_TRUE(trust_.Add(TrustPurpose::kUpdate, Cert(Profile::kCa, "Update"), kNow).ok());
  const std::string path = trust_.BundlePath(TrustPurpose::kCloud);
  const std::string mac = trust_.MacPath(TrustPurpose::kCloud);

  // An extra CA appended.
  std::ofstream(path, std::ios::app) << Cert(Profile::kCa, "Evil");
  auto r = trust_.Load(TrustPurpose::kCloud);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTampered);
  // Refused for changes too, until reset.
  EXPECT_EQ(trust_.Add(TrustPurpose::kCloud, a, kNow).status().code(), ErrorCode::kTampered);

  // Another purpose's bundle and MAC copied over this one.
  std::filesystem::copy_file(trust_.BundlePath(TrustPurpose::kUpdate), path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(trust_.MacPath(TrustPurpose::kUpdate), mac,
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(trust_.Load(TrustPurpose::kCloud).status().code(), ErrorCode::kTampered);

  // A missing or damaged MAC, a deleted bundle.
  ASSERT_TRUE(trust_.RemoveAll(TrustPurpose::kCloud).ok());
  ASSERT_TRUE(trust_.Add(TrustPurpose::kCloud, a, kNow).ok());
  std::string saved_mac = Read(mac);
  std::filesystem::remove(mac);
  EXPECT_EQ(trust_.Load(TrustPurpose::kCloud).status().code(), ErrorCode::kTampered);
  std::ofstream(mac) << "not hex\n";
  EXPECT_EQ(trust_.Load(TrustPurpose::kCloud).status().code(), ErrorCode::kTampered);
  std::ofstream(mac) << saved_mac;
  EXPECT_TRUE(trust_.Load(TrustPurpose::kCloud).ok());
  std::filesystem::remove(path);
  EXPECT_EQ(trust_.Load(TrustPurpose::kCloud).status().code(), ErrorCode::kTampered);
  // The MAC key gone.
  ASSERT_TRUE(keys_.Delete(kTrustMacKey).ok());
  EXPECT_EQ(trust_.Load(TrustPurpose::kUpdate).status().code(), ErrorCode::kTampered);
}

TEST_F(TrustStoreTest, AnInterruptedChangeStillVerifies) {
  const std::string a = Cert(Profile::kCa, "Root A");
  const std::string b = Cert(Profile::kCa, "Root B");
  ASSERT_TRUE(trust_.Add(TrustPurpose::kCloud, a, kNow).ok());
  const std::string old_mac = Read(trust_.MacPath(TrustPurpose::kCloud));
  ASSERT_TRUE(trust_.Add(TrustPurpose::kCloud, b, kNow).ok());
  const std::string new_mac = Read(trust_.MacPath(TrustPurpose::kCloud));
  // What a crash between the two steps leaves: the MAC file with both, either bundle.
  std::ofstream(trust_.MacPath(TrustPurpose::kCloud)) << old_mac << new_mac;
  EXPECT_TRUE(trust_.Load(TrustPurpose::kCloud).ok());
  std::ofstream(trust_.BundlePath(TrustPurpose::kCloud)) << a;
  EXPECT_TRUE(trust_.Load(TrustPurpose::kCloud).ok());
}

}  // namespace
}  // namespace edgetrust::identity
