#include "identity/inventory.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace edgetrust::identity {
namespace {

using nlohmann::json;

Inventory Sample() {
  Inventory inv;
  inv.device_id = "gw-0042";
  InventoryEntry ca;
  ca.name = "device-ca";
  ca.issuer = "self";
  ca.profile = Profile::kCa;
  ca.subject = *ParseSubject("/CN=gw-0042 device CA/O=EdgeTrust");
  ca.days = 3650;
  inv.entries.push_back(ca);
  InventoryEntry dev;
  dev.name = "device-id";
  dev.issuer = "device-ca";
  dev.profile = Profile::kClientServer;
  dev.subject = *ParseSubject("/CN=gw-0042/O=EdgeTrust");
  dev.sans = *ParseSans({"URI:urn:edgetrust:device:gw-0042", "DNS:gw-0042"});
  dev.days = 365;
  dev.renew_share = 0.75;
  dev.fresh_key = true;
  dev.key_type = KeyType::kEcdsaP384;
  inv.entries.push_back(dev);
  return inv;
}

json SampleJson() { return json::parse(SerializeInventory(Sample())); }

Status ParseJson(const json& j) {
  auto r = ParseInventory(j.dump());
  return r.ok() ? Status::Ok() : r.status();
}

TEST(InventoryTest, RoundTrips) {
  const std::string text = SerializeInventory(Sample());
  auto inv = ParseInventory(text);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->device_id, "gw-0042");
  ASSERT_EQ(inv->entries.size(), 2u);
  const InventoryEntry* dev = inv->Find("device-id");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->issuer, "device-ca");
  EXPECT_EQ(dev->profile, Profile::kClientServer);
  EXPECT_EQ(FormatSubject(dev->subject), "/CN=gw-0042/O=EdgeTrust");
  EXPECT_EQ(FormatSans(dev->sans),
            (std::vector<std::string>{"URI:urn:edgetrust:device:gw-0042", "DNS:gw-0042"}));
  EXPECT_DOUBLE_EQ(dev->renew_share, 0.75);
  EXPECT_TRUE(dev->fresh_key);
  EXPECT_EQ(dev->key_type, KeyType::kEcdsaP384);
  EXPECT_EQ(SerializeInventory(*inv), text);
}

TEST(InventoryTest, OptionalFieldsTakeDefaults) {
  auto inv = ParseInventory(R"({"version": 1, "identities": [
      {"name": "ca", "issuer": "self", "profile": "ca", "subject": "/CN=ca", "days": 10}]})");
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  const auto& e = inv->entries[0];
  EXPECT_DOUBLE_EQ(e.renew_share, 0.8);
  EXPECT_FALSE(e.fresh_key);
  EXPECT_EQ(e.key_type, KeyType::kEcdsaP256);
  EXPECT_TRUE(e.sans.empty());
  EXPECT_TRUE(inv->device_id.empty());
}

TEST(InventoryTest, RefusesMalformedFiles) {
  for (const char* text :
       {"", "not json", "[]", "{\"version\": 1}", "{\"identities\": []}",
        "{\"version\": \"1\", \"identities\": []}", "{\"version\": 1, \"identities\": {}}",
        "{\"version\": 1, \"identities\": [], \"extra\": 1}",
        "{\"version\": 1, \"identities\": [7]}"}) {
    auto r = ParseInventory(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), ErrorCode::kMalformed) << text;
    EXPECT_EQ(r.status().message().rfind("inventory: ", 0), 0u);
  }
  auto future = ParseInventory(R"({"version": 2, "identities": []})");
  ASSERT_FALSE(future.ok());
  EXPECT_NE(future.status().message().find("not supported"), std::string::npos);
  EXPECT_EQ(ParseInventory(std::string(kMaxInventorySize + 1, ' ')).status().code(),
            ErrorCode::kTooLarge);
}

TEST(InventoryTest, RefusesBadFieldsNamingThem) {
  struct Case {
    const char* field;
    json value;
    std::string reason;
  };
  const Case cases[] = {
      {"name", "bad name!", "invalid name"},
      {"name", "trust", "invalid name"},
      {"name", ".hidden", "invalid name"},
      {"name", 5, "must be a string"},
      {"issuer", "not a name!", "issuer must be"},
      {"profile", "admin", "unknown profile"},
      {"subject", "CN=x", "start with '/'"},
      {"sans", json::array({"DNS:ok", 3}), "array of strings"},
      {"sans", json::array({"DNS:ok", "DNS:OK"}), "duplicate SAN"},
      {"sans", json::array({"FTP:x"}), "must start with"},
      {"days", 0, "days must be"},
      {"days", 36501, "days must be"},
      {"days", 1.5, "integer"},
      {"days", -1, "days must be"},
      {"renew_share", 0, "renew_share must be"},
      {"renew_share", 1.5, "renew_share must be"},
      {"renew_share", "0.8", "must be a number"},
      {"fresh_key", "yes", "true or false"},
      {"key_type", "aes-256", "signing key type"},
      {"colour", "blue", "unknown field"},
  };
  for (const auto& c : cases) {
    json j = SampleJson();
    j["identities"][1][c.field] = c.value;
    Status st = ParseJson(j);
    ASSERT_FALSE(st.ok()) << c.field << "=" << c.value.dump();
    EXPECT_NE(st.message().find(c.reason), std::string::npos) << st.message();
  }
}

TEST(InventoryTest, CrossEntryRules) {
  json j = SampleJson();
  j["identities"][1]["name"] = "device-ca";
  EXPECT_NE(ParseJson(j).message().find("appears twice"), std::string::npos);

  j = SampleJson();
  j["identities"][1]["issuer"] = "nobody";
  EXPECT_NE(ParseJson(j).message().find("not a tracked identity"), std::string::npos);

  j = SampleJson();
  j["identities"][0]["profile"] = "server";  // device-id's issuer is no longer a CA
  EXPECT_FALSE(ParseJson(j).ok());

  j = SampleJson();
  j["identities"][1]["issuer"] = "self";  // a self-signed leaf
  EXPECT_NE(ParseJson(j).message().find("only a CA can be self-signed"), std::string::npos);

  j = SampleJson();
  j["identities"][0]["issuer"] = "device-id";  // a CA issued by a leaf
  EXPECT_FALSE(ParseJson(j).ok());

  j = SampleJson();
  j["identities"][1]["issuer"] = "external";
  EXPECT_TRUE(ParseJson(j).ok()) << ParseJson(j).ToString();

  j = SampleJson();
  j["device_id"] = "-bad";
  EXPECT_NE(ParseJson(j).message().find("device_id"), std::string::npos);
}

TEST(InventoryTest, NameRules) {
  EXPECT_TRUE(IsValidIdentityName("device-id"));
  EXPECT_TRUE(IsValidIdentityName("mqtt.server_1"));
  EXPECT_TRUE(IsValidIdentityName(std::string(48, 'a')));
  EXPECT_FALSE(IsValidIdentityName(std::string(49, 'a')));
  EXPECT_FALSE(IsValidIdentityName(""));
  EXPECT_FALSE(IsValidIdentityName("a/b"));
  EXPECT_FALSE(IsValidIdentityName("-x"));
  EXPECT_FALSE(IsValidIdentityName("inventory.json"));
  EXPECT_TRUE(IsValidDeviceId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidDeviceId(std::string(65, 'a')));
}

TEST(InventoryTest, PutReplacesByName) {
  Inventory inv = Sample();
  InventoryEntry e = *inv.Find("device-id");
  e.days = 30;
  inv.Put(e);
  EXPECT_EQ(inv.entries.size(), 2u);
  EXPECT_EQ(inv.Find("device-id")->days, 30u);
  e.name = "other";
  inv.Put(e);
  EXPECT_EQ(inv.entries.size(), 3u);
}

}  // namespace
}  // namespace edgetrust::identity
