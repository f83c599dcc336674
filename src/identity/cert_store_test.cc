// The certificate folder, provisioning, renewal and import, with in-process keys.
#include "identity/cert_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "identity/certificate.h"
#include "identity/identity_status.h"
#include "identity/identity_test_dir.h"
#include "identity/import.h"
#include "identity/issuer.h"
#include "identity/provisioning.h"
#include "identity/renewal.h"
#include "identity/software_keys_test_util.h"

namespace edgetrust::identity {
namespace {

namespace fs = std::filesystem;
using testing::SoftwareKeyService;
using testing::TestDir;

constexpr int64_t kNow = 1750000000;

class CertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = CertStore::Open(dir_.path() + "/certs", true);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_.emplace(std::move(s).value());
  }
  ProvisionReport Provision(bool force = false, std::string id = "gw-1") {
    ProvisionOptions o;
    o.device_id = std::move(id);
    o.now = kNow;
    o.force = force;
    auto r = identity::Provision(*store_, keys_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : ProvisionReport{};
  }
  std::string KeyOfCurrent(const std::string& name) {
    auto g = store_->LoadCurrent(name);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return *keys_.NameFromReference(g->key_pem);
  }
  // The current certificate is for the key its key.pem names.
  void ExpectMatchingPair(const std::string& name) {
    auto g = store_->LoadCurrent(name);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    auto key = keys_.NameFromReference(g->key_pem);
    ASSERT_TRUE(key.ok());
    auto pub = keys_.PublicKey(*key);
    ASSERT_TRUE(pub.ok()) << *key;
    EXPECT_TRUE(SameKey(pub->get(), PublicKey(g->cert.get()))) << name;
  }
  Result<std::vector<RenewOutcome>> Renew(RenewOptions o) {
    if (o.now == 0) o.now = kNow;
    if (o.at == 0) o.at = o.now;
    return RenewIdentities(*store_, &keys_, o);
  }

  TestDir dir_;
  std::optional<CertStore> store_;
  SoftwareKeyService keys_;
};

TEST_F(CertStoreTest, ProvisionWritesTheLayoutAndIsIdempotent) {
  ProvisionReport r = Provision();
  EXPECT_FALSE(r.already_provisioned);
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_TRUE(r.items[0].key_created);
  EXPECT_TRUE(r.items[1].issued);
  const std::string root = store_->root();
  for (const char* f : {"cert.pem", "chain.pem", "fullchain.pem", "key.pem"}) {
    EXPECT_TRUE(fs::exists(root + "/device-id/gen-1/" + f)) << f;
  }
  EXPECT_EQ(fs::read_symlink(root + "/device-id/current"), "gen-1");
  ExpectMatchingPair("device-id");
  ExpectMatchingPair("device-ca");
  auto dev = store_->LoadCurrent("device-id");
  auto ca = store_->LoadCurrent("device-ca");
  ASSERT_EQ(dev->chain.size(), 1u);
  EXPECT_TRUE(IsIssuedBy(dev->cert.get(), ca->cert.get()));
  EXPECT_TRUE(ca->chain.empty());
  EXPECT_EQ(DisplayName(X509_get_subject_name(dev->cert.get())), "/CN=gw-1/O=EdgeTrust");
  auto sans = SansOfCertificate(dev->cert.get());
  EXPECT_EQ(FormatSans(*sans),
            (std::vector<std::string>{"URI:urn:edgetrust:device:gw-1", "DNS:gw-1"}));

  const int created = keys_.created;
  ProvisionReport again = Provision();
  EXPECT_TRUE(again.already_provisioned);
  EXPECT_EQ(keys_.created, created);
  EXPECT_EQ(fs::read_symlink(root + "/device-id/current"), "gen-1");
  // Another id is refused without --force; with it, new certificates for the same keys.
  ProvisionOptions o;
  o.device_id = "gw-2";
  o.now = kNow;
  auto refused = identity::Provision(*store_, keys_, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kFailedPrecondition);
  ProvisionReport forced = Provision(true, "gw-2");
  EXPECT_FALSE(forced.already_provisioned);
  EXPECT_EQ(keys_.created, created);
  EXPECT_EQ(fs::read_symlink(root + "/device-id/current"), "gen-2");
  ExpectMatchingPair("device-id");
}

TEST_F(CertStoreTest, RenewalOnlyWhenDueAndCasFirst) {
  Provision();
  auto r = Renew({});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const auto& o : *r) EXPECT_EQ(o.action, "not-due") << o.name;

  // 300 days later the device certificate (365 days) is past 80%; the CA (3650) is not.
  RenewOptions later;
  later.at = kNow + 300 * 86400;
  later.dry_run = true;
  r = Renew(later);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].name, "device-ca");
  EXPECT_EQ((*r)[0].action, "not-due");
  EXPECT_EQ((*r)[1].action, "due");
  EXPECT_EQ((*r)[1].reason, "lifetime share reached");
  EXPECT_EQ(fs::read_symlink(store_->root() + "/device-id/current"), "gen-1");  // dry run

  later.dry_run = false;
  r = Renew(later);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[1].action, "renewed");
  EXPECT_EQ((*r)[1].generation, 2u);
  EXPECT_FALSE((*r)[1].fresh_key);
  EXPECT_EQ(KeyOfCurrent("device-id"), "device-id");
  ExpectMatchingPair("device-id");

  // A share override makes the CA due too; its leaves follow because their chain changed.
  RenewOptions share;
  share.share = 0.0001;
  share.at = kNow + 86400;
  r = Renew(share);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].action, "renewed");
  EXPECT_EQ((*r)[1].action, "renewed");
  auto dev = store_->LoadCurrent("device-id");
  auto ca = store_->LoadCurrent("device-ca");
  EXPECT_EQ(Fingerprint(dev->chain[0].get()), Fingerprint(ca->cert.get()));
}

TEST_F(CertStoreTest, FreshKeysRotateAndOldOnesAreDeleted) {
  Provision();
  auto inv = store_->LoadInventory();
  inv->Find("device-id")->fresh_key = true;
  ASSERT_TRUE(store_->SaveInventory(*inv).ok());
  RenewOptions force;
  force.force = true;
  force.name = "device-id";
  for (int i = 2; i <= 4; ++i) {
    auto r = Renew(force);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].action, "renewed") << (*r)[0].status.ToString();
    EXPECT_EQ((*r)[0].key, "device-id.g" + std::to_string(i));
    ExpectMatchingPair("device-id");
  }
  // Kept: the current (gen-4) and previous (gen-3) generations and their keys.
  auto gens = store_->Generations("device-id");
  EXPECT_EQ(*gens, (std::vector<uint32_t>{3, 4}));
  EXPECT_FALSE(keys_.Has("device-id"));
  EXPECT_FALSE(keys_.Has("device-id.g2"));
  EXPECT_TRUE(keys_.Has("device-id.g3"));
  EXPECT_TRUE(keys_.Has("device-id.g4"));
  EXPECT_TRUE(keys_.Has("device-ca"));
}

TEST_F(CertStoreTest, LeftoversOfInterruptedRunsAreCleaned) {
  Provision();
  const std::string dir = store_->IdentityDir("device-id");
  fs::create_directory(dir + "/gen-7");  // never committed: newer than current
  fs::create_directory(dir + "/.tmp.gen-2.abc");
  ASSERT_EQ(::symlink("gen-1", (dir + "/.tmp.current.x").c_str()), 0);
  ASSERT_TRUE(store_->CleanUncommitted("device-id").ok());
  EXPECT_FALSE(fs::exists(dir + "/gen-7"));
  EXPECT_FALSE(fs::exists(dir + "/.tmp.gen-2.abc"));
  EXPECT_FALSE(fs::is_symlink(dir + "/.tmp.current.x"));
  EXPECT_TRUE(fs::exists(dir + "/gen-1/cert.pem"));
}

TEST_F(CertStoreTest, BrokenFilesAreReportedNotTrusted) {
  Provision();
  const std::string dir = store_->IdentityDir("device-id");
  std::ofstream(dir + "/gen-1/cert.pem") << "garbage\n";
  auto g = store_->LoadCurrent("device-id");
  ASSERT_FALSE(g.ok());
  auto inv = store_->LoadInventory();
  IdentityStatus s = DescribeIdentity(*store_, *inv, *inv->Find("device-id"), kNow);
  EXPECT_TRUE(s.due);
  EXPECT_EQ(s.state.rfind("broken: ", 0), 0u) << s.state;
  // Renewal repairs it.
  RenewOptions o;
  o.name = "device-id";
  auto r = Renew(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].action, "renewed") << (*r)[0].status.ToString();
  ExpectMatchingPair("device-id");

  fs::remove(dir + "/current");
  ASSERT_EQ(::symlink("../../etc", (dir + "/current").c_str()), 0);
  EXPECT_FALSE(store_->CurrentGeneration("device-id").ok());
}

TEST_F(CertStoreTest, LockIsExclusive) {
  auto first = store_->Lock();
  ASSERT_TRUE(first.ok());
  auto second = store_->Lock();
  // flock locks belong to open file descriptions: a second open in the same process conflicts.
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(CertStoreTest, RefusesAFolderOthersCanWrite) {
  ASSERT_EQ(::chmod(store_->root().c_str(), 0777), 0);
  auto s = CertStore::Open(store_->root(), false);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("writable by group or others"), std::string::npos);
  EXPECT_EQ(CertStore::Open(dir_.path() + "/missing", false).status().code(), ErrorCode::kNotFound);
}

TEST_F(CertStoreTest, ImportChecksTheKeyAndDetectsTheLocalIssuer) {
  Provision();
  ASSERT_TRUE(keys_.Create("mqtt", KeyType::kEcdsaP256).ok());
  auto inv = store_->LoadInventory();
  auto ca = LoadCa(*store_, keys_, *inv, "device-ca", kNow);
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  InventoryEntry spec;
  spec.name = "mqtt";
  spec.profile = Profile::kServer;
  spec.subject = *ParseSubject("/CN=mqtt");
  spec.sans = *ParseSans({"DNS:mqtt.local"});
  spec.days = 90;
  auto issued = IssueForIdentity(keys_, *ca, "mqtt", spec, kNow);
  ASSERT_TRUE(issued.ok());
  const std::string pem = ToPem(issued->cert.get());

  auto wrong = ImportCertificate(*store_, keys_, "device-id", pem, "", kNow);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("but key device-id is sha256:"), std::string::npos)
      << wrong.status().message();
  auto missing = ImportCertificate(*store_, keys_, "nokey", pem, "", kNow);
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  auto expired = ImportCertificate(*store_, keys_, "mqtt", pem, "", kNow + 91 * 86400);
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
  auto bad_chain = ImportCertificate(*store_, keys_, "mqtt", pem, ToPem(issued->cert.get()), kNow);
  EXPECT_NE(bad_chain.status().message().find("did not issue"), std::string::npos);

  auto ok = ImportCertificate(*store_, keys_, "mqtt", pem, "", kNow);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->issuer, "device-ca");
  EXPECT_EQ(ok->profile, "server");
  EXPECT_EQ(ok->chain_length, 1u);
  inv = store_->LoadInventory();
  ASSERT_NE(inv->Find("mqtt"), nullptr);
  EXPECT_EQ(inv->Find("mqtt")->days, 90u);
  ExpectMatchingPair("mqtt");
  // Tracked with our CA as issuer, so renewal can renew it.
  RenewOptions o;
  o.name = "mqtt";
  o.force = true;
  auto r = Renew(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].action, "renewed") << (*r)[0].status.ToString();
}

}  // namespace
}  // namespace edgetrust::identity
