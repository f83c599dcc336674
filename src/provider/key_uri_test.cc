#include "provider/key_uri.h"

#include <gtest/gtest.h>

namespace edgetrust::provider {
namespace {

TEST(KeyUri, ParsesNameAndSocket) {
  auto r = ParseKeyUri("edgetrust:device-id");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "device-id");
  EXPECT_EQ(r->socket, "");
  r = ParseKeyUri("edgetrust:uid:0/device-ca?socket=/tmp/a%20b/sd.sock");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "uid:0/device-ca");
  EXPECT_EQ(r->socket, "/tmp/a b/sd.sock");
}

TEST(KeyUri, FormatRoundTrips) {
  KeyRef ref{"leaf.1", "/run/x y/sd.sock"};
  auto r = ParseKeyUri(FormatKeyUri(ref));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, ref.name);
  EXPECT_EQ(r->socket, ref.socket);
}

TEST(KeyUri, RefusesMalformed) {
  for (const char* bad :
       {"", "edgetrust:", "pkcs11:foo", "edgetrust://x", "edgetrust:a/b/c", "edgetrust:/x",
        "edgetrust:x/", "edgetrust:sp ace", "edgetrust:x?sock=/a",
        "edgetrust:x?socket=", "edgetrust:x?socket=rel/path", "edgetrust:x?socket=/a%2",
        "edgetrust:x?socket=/a%zz", "edgetrust:x?socket=/a%00", "edgetrust:x?socket=/a%0a",
        "edgetrust:x?socket=/a&socket=/b"}) {
    auto r = ParseKeyUri(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(KeyUri, RefusesRawControlCharactersInTheSocketPath) {
  // Found by fuzz_key_ref: a raw NUL passed, and formatted back as %00, which is refused.
  for (char c : {'\0', '\n', '\x7f'}) {
    std::string uri = "edgetrust:x?socket=/tmp/sd.sock";
    uri += c;
    auto r = ParseKeyUri(uri);
    EXPECT_FALSE(r.ok()) << static_cast<int>(c);
  }
}

TEST(KeyPem, RoundTripsAndNamesTheKeyOnly) {
  KeyRef ref{"device-id", "/run/edgetrust/sd.sock"};
  std::string pem = FormatKeyPem(ref);
  EXPECT_EQ(pem.rfind("-----BEGIN EDGETRUST KEY-----\n", 0), 0u) << pem;
  auto r = ParseKeyPem("junk before\n" + pem + "junk after\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, ref.name);
  EXPECT_EQ(r->socket, ref.socket);
  // Every length of URI (base64 padding of 0, 1 and 2 bytes) survives.
  for (std::string name : {"a", "ab", "abc", "abcd"}) {
    auto back = ParseKeyPem(FormatKeyPem({name, ""}));
    ASSERT_TRUE(back.ok()) << name;
    EXPECT_EQ(back->name, name);
  }
}

TEST(KeyPem, RefusesBrokenBlocks) {
  for (const char* bad : {"", "-----BEGIN EDGETRUST KEY-----\nZWRnZXRydXN0Onh5\n",
                          "-----BEGIN EDGETRUST KEY-----\n!!!!\n-----END EDGETRUST KEY-----\n",
                          "-----BEGIN EDGETRUST KEY-----\nZm9v\n-----END EDGETRUST KEY-----\n",
                          "-----BEGIN PRIVATE KEY-----\nZm9v\n-----END PRIVATE KEY-----\n"}) {
    EXPECT_FALSE(ParseKeyPem(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace edgetrust::provider
