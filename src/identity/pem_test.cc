#include "identity/pem.h"

#include <gtest/gtest.h>

#include "identity/certificate.h"

namespace edgetrust::identity {
namespace {

TEST(PemTest, EncodesAndParsesBlocks) {
  Bytes der = {0x30, 0x03, 0x02, 0x01, 0x05};
  std::string pem = EncodePem("TEST DATA", der);
  EXPECT_EQ(pem, "-----BEGIN TEST DATA-----\nMAMCAQU=\n-----END TEST DATA-----\n");
  auto blocks =
      ParsePemBlocks("# a comment\n\n" + pem + "\r\n" + EncodePem("OTHER", Bytes{1, 2}), "t");
  ASSERT_TRUE(blocks.ok()) << blocks.status().ToString();
  ASSERT_EQ(blocks->size(), 2u);
  EXPECT_EQ((*blocks)[0].label, "TEST DATA");
  EXPECT_EQ((*blocks)[0].der, der);
  EXPECT_EQ((*blocks)[0].line, 3u);
  EXPECT_EQ((*blocks)[1].der, (Bytes{1, 2}));
}

TEST(PemTest, LongBodiesWrapAt64Columns) {
  Bytes der(200, 0xAB);
  std::string pem = EncodePem("X", der);
  auto blocks = ParsePemBlocks(pem, "t");
  ASSERT_TRUE(blocks.ok());
  EXPECT_EQ((*blocks)[0].der, der);
  size_t start = 0;
  while (start < pem.size()) {
    size_t nl = pem.find('\n', start);
    EXPECT_LE(nl - start, 64u) << pem;
    start = nl + 1;
  }
}

TEST(PemTest, RefusesAnythingThatIsNotCleanPem) {
  struct Case {
    std::string text;
    std::string reason;
  };
  const Case cases[] = {
      {"hello\n-----BEGIN X-----\nAQI=\n-----END X-----\n", "line 1: text outside"},
      {"-----BEGIN X-----\nAQI=\n", "without an END"},
      {"-----BEGIN X-----\nAQI=\n-----END Y-----\n", "does not match"},
      {"-----BEGIN X-----\nAQ*=\n-----END X-----\n", "invalid base64"},
      {"-----BEGIN X-----\nAQ=I\n-----END X-----\n", "not valid base64"},
      {"-----BEGIN X-----\nAQI\n-----END X-----\n", "not valid base64"},
      {"-----BEGIN X-----\n-----END X-----\n", "not valid base64"},
      {"-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\nAQI=\n-----END X-----\n", "headers"},
      {std::string("-----BEGIN X-----\nAQI=\0\n-----END X-----\n", 36), "NUL"},
      {"-----BEGIN x-----\nAQI=\n-----END x-----\n", "text outside"},
  };
  for (const auto& c : cases) {
    auto r = ParsePemBlocks(c.text, "file.pem");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.reason), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().rfind("file.pem: ", 0), 0u) << r.status().message();
  }
}

TEST(PemTest, CertificateFilesRefuseKeysOtherBlocksAndBadDer) {
  auto key = ParseCertificates(EncodePem("PRIVATE KEY", Bytes{1, 2, 3}), "c.pem");
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("private key"), std::string::npos);
  auto other = ParseCertificates(EncodePem("CERTIFICATE REQUEST", Bytes{1, 2, 3}), "c.pem");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("unexpected PEM block"), std::string::npos);
  auto bad =
      ParseCertificates(EncodePem("CERTIFICATE", Bytes{0x30, 0x03, 0x02, 0x01, 0x05}), "c.pem");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not a valid DER certificate"), std::string::npos);
  auto none = ParseCertificates("# only a comment\n", "c.pem");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no certificate"), std::string::npos);
  EXPECT_TRUE(ParseCertificatesOrEmpty("", "c.pem").ok());
}

TEST(PemTest, LooksLikePem) {
  EXPECT_TRUE(LooksLikePem(AsBytes("  \n-----BEGIN CERTIFICATE REQUEST-----")));
  EXPECT_FALSE(LooksLikePem(AsBytes("\x30\x82")));
  EXPECT_FALSE(LooksLikePem(AsBytes("")));
}

TEST(PemTest, FingerprintsNormalise) {
  const std::string hex(64, 'a');
  std::string colons;
  for (size_t i = 0; i < 64; i += 2) colons += (i ? ":" : "") + std::string("AA");
  EXPECT_EQ(NormalizeFingerprint(colons), hex);
  EXPECT_EQ(NormalizeFingerprint(hex), hex);
  EXPECT_EQ(NormalizeFingerprint("abc"), "");
  EXPECT_EQ(NormalizeFingerprint(std::string(63, 'a') + "g"), "");
}

}  // namespace
}  // namespace edgetrust::identity
