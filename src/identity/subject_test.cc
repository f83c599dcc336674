#include "identity/subject.h"

#include <gtest/gtest.h>

namespace edgetrust::identity {
namespace {

TEST(SubjectTest, ParsesAttributesInOrder) {
  auto s = ParseSubject("/CN=gw-0042/O=Acme Corp/OU=Plant 4/C=DE");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->attributes.size(), 4u);
  EXPECT_EQ(s->attributes[0], (NameAttribute{"CN", "gw-0042"}));
  EXPECT_EQ(s->attributes[1], (NameAttribute{"O", "Acme Corp"}));
  EXPECT_EQ(s->attributes[3], (NameAttribute{"C", "DE"}));
  EXPECT_EQ(s->Get("OU"), "Plant 4");
  EXPECT_EQ(s->Get("L"), "");
}

TEST(SubjectTest, FieldNamesAreCaseInsensitiveAndCanonicalised) {
  auto s = ParseSubject("/cn=x/emailaddress=a@b.c/o=y");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->attributes[0].field, "CN");
  EXPECT_EQ(s->attributes[1].field, "emailAddress");
  EXPECT_EQ(FormatSubject(*s), "/CN=x/emailAddress=a@b.c/O=y");
}

TEST(SubjectTest, EscapesRoundTrip) {
  auto s = ParseSubject(R"(/CN=a\/b\+c\\d/O=x=y\=z)");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->attributes[0].value, R"(a/b+c\d)");
  EXPECT_EQ(s->attributes[1].value, "x=y=z");
  auto again = ParseSubject(FormatSubject(*s));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *s);
}

TEST(SubjectTest, Utf8ValuesAreKept) {
  auto s = ParseSubject("/CN=Gerät Süd/O=Müller");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->attributes[0].value, "Gerät Süd");
}

TEST(SubjectTest, RefusesBadInputWithAReason) {
  struct Case {
    std::string text;
    std::string reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"CN=x", "start with '/'"},
      {"/", "empty component"},
      {"/CN=x/", "empty component"},
      {"/CN=x//O=y", "empty component"},
      {"/CN", "not FIELD=value"},
      {"/CN=", "empty value"},
      {"/CM=x", "unknown subject attribute"},
      {"/CN=a+O=b", "multi-valued"},
      {"/CN=a\\x", "unknown escape"},
      {"/CN=a\\", "lone backslash"},
      {"/C=Germany", "two-letter"},
      {"/C=de", "two-letter"},
      {std::string("/CN=a\x01"), "control characters"},
      {std::string("/CN=a\xff"), "control characters"},
      {"/CN=" + std::string(65, 'a'), "longer than 64"},
  };
  for (const auto& c : cases) {
    auto s = ParseSubject(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(c.reason), std::string::npos)
        << c.text << ": " << s.status().message();
  }
}

TEST(SubjectTest, LimitsTheNumberOfAttributes) {
  std::string text;
  for (size_t i = 0; i <= kMaxNameAttributes; ++i) text += "/OU=u" + std::to_string(i);
  EXPECT_FALSE(ParseSubject(text).ok());
}

TEST(SubjectTest, X509NameRoundTrip) {
  auto s = ParseSubject("/C=DE/O=Acme/CN=gw-1/DC=example/emailAddress=ops@example.com");
  ASSERT_TRUE(s.ok());
  auto name = ToX509Name(*s);
  ASSERT_TRUE(name.ok()) << name.status().ToString();
  auto back = FromX509Name(name->get());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, *s);
  EXPECT_EQ(DisplayName(name->get()),
            "/C=DE/O=Acme/CN=gw-1/DC=example/emailAddress=ops@example.com");
}

TEST(SubjectTest, NonAsciiInAnIa5AttributeIsRefused) {
  auto s = ParseSubject("/CN=x/emailAddress=müller@example.com");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(ToX509Name(*s).ok());
}

TEST(SubjectTest, FromX509NameRefusesMultiValuedAndUnknownAttributes) {
  X509NamePtr multi(X509_NAME_new());
  X509_NAME_add_entry_by_txt(multi.get(), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("a"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(multi.get(), "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("b"), -1, -1, -1);  // same RDN
  auto r = FromX509Name(multi.get());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("multi-valued"), std::string::npos);

  X509NamePtr odd(X509_NAME_new());
  X509_NAME_add_entry_by_txt(odd.get(), "businessCategory", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("x"), -1, -1, 0);
  r = FromX509Name(odd.get());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unsupported attribute"), std::string::npos);
  // Display never fails.
  EXPECT_EQ(DisplayName(odd.get()), "/businessCategory=x");
}

TEST(SubjectTest, EmptyX509NameIsAnEmptySubject) {
  X509NamePtr empty(X509_NAME_new());
  auto r = FromX509Name(empty.get());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace edgetrust::identity
