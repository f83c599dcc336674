// The sealed-blob format: encoding, strict parsing, and what each header byte means.
#include "sd/sealed_blob.h"

#include <gtest/gtest.h>

namespace edgetrust::sd {
namespace {

SealedHeader Header(uint32_t mask) {
  SealedHeader h;
  h.register_mask = mask;
  for (uint32_t i = 0; i < 16; ++i) {
    if ((mask >> i) & 1u) {
      Digest256 d{};
      d.fill(static_cast<uint8_t>(i));
      h.register_values.push_back(d);
    }
  }
  h.owner = "uid:1000";
  return h;
}

Bytes Blob(const SealedHeader& h, size_t ciphertext) {
  auto header = EncodeSealedHeader(h);
  EXPECT_TRUE(header.ok());
  Bytes b = *header;
  b.resize(b.size() + 12 + ciphertext + 16, 0xAB);
  return b;
}

TEST(SealedBlobTest, RoundTripsTheHeader) {
  for (uint32_t mask : {0u, 1u, 0x300u, 0xFFFFu}) {
    Bytes b = Blob(Header(mask), 5);
    auto p = ParseSealedBlob(b);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->header.register_mask, mask);
    EXPECT_EQ(p->header.register_values, Header(mask).register_values);
    EXPECT_EQ(p->header.owner, "uid:1000");
    EXPECT_EQ(p->sealed.size(), 12u + 5 + 16);
    EXPECT_EQ(p->associated_data.size() + p->sealed.size(), b.size());
  }
}

TEST(SealedBlobTest, LayoutIsTheDocumentedOne) {
  Bytes b = Blob(Header(0x0100), 0);
  ASSERT_GE(b.size(), 10u);
  EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "ETSB");
  EXPECT_EQ(b[4], 1);     // format
  EXPECT_EQ(b[5], 0);     // flags
  EXPECT_EQ(b[8], 0x01);  // mask, big-endian: bit 8
  EXPECT_EQ(b[9], 0x00);
  EXPECT_EQ(b[10], 8);  // register 8's value follows
  EXPECT_EQ(b[42], 0);  // owner length u16
  EXPECT_EQ(b[43], 8);
  EXPECT_EQ(std::string(b.begin() + 44, b.begin() + 52), "uid:1000");
}

TEST(SealedBlobTest, RejectsMalformedBlobs) {
  Bytes good = Blob(Header(0x3), 4);
  auto expect_bad = [](Bytes b, const char* why) {
    auto p = ParseSealedBlob(b);
    EXPECT_EQ(p.status().code(), ErrorCode::kMalformed) << why;
  };
  // Anything shorter than the header plus nonce and tag cannot be a blob.
  const size_t minimum = good.size() - 4;
  for (size_t n = 0; n < minimum; ++n) {
    expect_bad(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)), "truncated");
  }
  Bytes b = good;
  b[0] = 'X';
  expect_bad(b, "magic");
  b = good;
  b[4] = 2;
  expect_bad(b, "format");
  b = good;
  b[5] = 1;
  expect_bad(b, "flags");
  b = good;
  b[6] = 0x01;  // register 16+
  expect_bad(b, "mask past the registers");
  b = Blob(Header(0), 0);
  b[10] = 0;
  b[11] = 0;  // empty owner
  expect_bad(b, "empty owner");
  b = Blob(Header(0), 0);
  b[12] = '!';  // "u!d:1000" is no principal
  expect_bad(b, "owner not a principal");
}

TEST(SealedBlobTest, EncodeRefusesInconsistentHeaders) {
  SealedHeader h = Header(0x3);
  h.register_values.pop_back();
  EXPECT_FALSE(EncodeSealedHeader(h).ok());
  h = Header(0);
  h.register_mask = 1u << 16;
  EXPECT_EQ(EncodeSealedHeader(h).status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgetrust::sd
