#include "identity/san.h"

#include <gtest/gtest.h>

namespace edgetrust::identity {
namespace {

TEST(SanTest, ParsesEveryTypeIntoCanonicalForm) {
  auto dns = ParseSan("DNS:GW-1.Example.COM");
  ASSERT_TRUE(dns.ok());
  EXPECT_EQ(*dns, (San{SanType::kDns, "gw-1.example.com"}));
  auto wild = ParseSan("dns:*.example.com");
  ASSERT_TRUE(wild.ok());
  EXPECT_EQ(FormatSan(*wild), "DNS:*.example.com");
  auto ip = ParseSan("IP:10.0.0.7");
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(FormatSan(*ip), "IP:10.0.0.7");
  auto ip6 = ParseSan("ip:FD00:0:0:0::1");
  ASSERT_TRUE(ip6.ok());
  EXPECT_EQ(FormatSan(*ip6), "IP:fd00::1");
  auto uri = ParseSan("URI:urn:edgetrust:device:gw-1");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(uri->type, SanType::kUri);
  auto email = ParseSan("EMAIL:ops@example.com");
  ASSERT_TRUE(email.ok());
  EXPECT_EQ(FormatSan(*email), "email:ops@example.com");
}

TEST(SanTest, RefusesMalformedEntries) {
  for (const char* bad :
       {"gw-1",           "DNS:",         "DNS:-gw",    "DNS:gw-",       "DNS:a..b",
        "DNS:a.b.",       "DNS:a_b",      "DNS:*",      "DNS:a.*.b",     "DNS:*a.b",
        "IP:10.0.0",      "IP:300.1.1.1", "IP:",        "URI:no-scheme", "URI:1http://x",
        "URI:http://a b", "URI:",         "email:nope", "email:a@b@c",   "email:@x.y",
        "email:a@*.x",    "X400:whatever"}) {
    auto s = ParseSan(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument) << bad;
    }
  }
  EXPECT_FALSE(ParseSan("DNS:" + std::string(64, 'a') + ".com").ok());  // label > 63
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abcd.";
  EXPECT_FALSE(ParseSan("DNS:" + long_name + "com").ok());  // > 253
}

TEST(SanTest, MergeDropsDuplicatesAndLimits) {
  auto a = ParseSans({"DNS:a.example", "DNS:A.EXAMPLE", "IP:::1", "IP:0:0::1"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 2u);
  std::vector<San> many;
  std::vector<San> more;
  for (size_t i = 0; i <= kMaxSans; ++i)
    more.push_back(San{SanType::kDns, "h" + std::to_string(i)});
  EXPECT_FALSE(MergeSans(many, more).ok());
}

TEST(SanTest, GeneralNamesRoundTrip) {
  auto sans = ParseSans({"DNS:gw.example", "IP:192.0.2.1", "IP:2001:db8::5",
                         "URI:urn:edgetrust:device:gw", "email:a@gw.example"});
  ASSERT_TRUE(sans.ok());
  auto names = ToGeneralNames(*sans);
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(sk_GENERAL_NAME_num(names->get()), 5);
  auto back = FromGeneralNames(names->get());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, *sans);
}

TEST(SanTest, UnsupportedGeneralNameTypesAreRefused) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  GENERAL_NAME* dir = GENERAL_NAME_new();
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("x"),
                             -1, -1, 0);
  GENERAL_NAME_set0_value(dir, GEN_DIRNAME, name);
  sk_GENERAL_NAME_push(names.get(), dir);
  auto r = FromGeneralNames(names.get());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unsupported entry type"), std::string::npos);
}

TEST(SanTest, DnsEntryWithEmbeddedNulIsRefused) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  GENERAL_NAME* gn = GENERAL_NAME_new();
  ASN1_IA5STRING* s = ASN1_IA5STRING_new();
  ASN1_STRING_set(s, "good.example\0evil.example", 25);
  GENERAL_NAME_set0_value(gn, GEN_DNS, s);
  sk_GENERAL_NAME_push(names.get(), gn);
  EXPECT_FALSE(FromGeneralNames(names.get()).ok());
}

}  // namespace
}  // namespace edgetrust::identity
