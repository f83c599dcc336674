// Unit tests of the evidence encoding: deterministic CBOR heads, claims and COSE_Sign1 round
// trips, and the decoders' refusals.
#include "attest/evidence.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attest/attest_test_util.h"
#include "attest/cbor_util.h"
#include "attest/sha256.h"
#include "common/hex.h"

namespace edgetrust::attest {
namespace {

using testing::Build;
using testing::ClaimsFor;
using testing::GenerateKey;
using testing::SampleLog;
using testing::SignerFor;

std::string HexOf(const Bytes& b) { return HexEncode(b); }
Bytes Unhex(std::string_view hex) {
  auto b = HexDecode(hex);
  EXPECT_TRUE(b.ok());
  return b.ok() ? *b : Bytes{};
}

TEST(CborUtil, UnsignedIntegersUseTheSmallestHead) {
  const std::pair<uint64_t, const char*> cases[] = {
      {0, "00"},
      {23, "17"},
      {24, "1818"},
      {255, "18ff"},
      {256, "190100"},
      {65535, "19ffff"},
      {65536, "1a00010000"},
      {4294967295u, "1affffffff"},
      {4294967296u, "1b0000000100000000"},
      {UINT64_MAX, "1bffffffffffffffff"},
  };
  for (const auto& [value, hex] : cases) {
    EXPECT_EQ(HexOf(cbor::Serialize(cbor::Uint(value))), hex) << value;
  }
}

TEST(CborUtil, NegativeIntegersUseTheSmallestHead) {
  const std::pair<int64_t, const char*> cases[] = {
      {-1, "20"},
      {-7, "26"},
      {-24, "37"},
      {-25, "3818"},
      {-256, "38ff"},
      {-257, "390100"},
      {-70001, "3a00011170"},
      {-4294967297LL, "3b0000000100000000"},
      {INT64_MIN, "3b7fffffffffffffff"},
      {5, "05"},
  };
  for (const auto& [value, hex] : cases) {
    EXPECT_EQ(HexOf(cbor::Serialize(cbor::Int(value))), hex) << value;
  }
}

TEST(CborUtil, StringsAndContainersAreDefinite) {
  EXPECT_EQ(HexOf(cbor::Serialize(cbor::ByteString(Bytes(24, 0xab)))).substr(0, 4), "5818");
  EXPECT_EQ(HexOf(cbor::Serialize(cbor::ByteString({}))), "40");
  EXPECT_EQ(HexOf(cbor::Serialize(cbor::Text(""))), "60");
  EXPECT_EQ(HexOf(cbor::Serialize(cbor::Text("abc"))), "63616263");
  cbor::Item map = cbor::Map(2);
  cbor::Put(map, cbor::Int(1), cbor::Int(-7));
  cbor::Put(map, cbor::Int(-70005), cbor::Bool(true));
  EXPECT_EQ(HexOf(cbor::Serialize(map)), "a201263a00011174f5");
  cbor::Item array = cbor::Array(0);
  EXPECT_EQ(HexOf(cbor::Serialize(cbor::Tag(18, std::move(array)))), "d280");
}

TEST(CborUtil, ReaderRefusesIndefiniteLengthsAndTrailingBytes) {
  const Bytes indefinite_array = Unhex("9f01ff");
  cbor::Reader indefinite(indefinite_array);
  EXPECT_EQ(indefinite.ReadArray("x").status().code(), ErrorCode::kMalformed);
  const Bytes indefinite_bytes = Unhex("5f4101ff");
  cbor::Reader indefinite_bstr(indefinite_bytes);
  EXPECT_FALSE(indefinite_bstr.ReadBytes("x").ok());
  const Bytes two_items = Unhex("0102");
  cbor::Reader trailing(two_items);
  ASSERT_TRUE(trailing.ReadUint("x").ok());
  EXPECT_FALSE(trailing.ExpectEnd("x").ok());
  const Bytes short_bstr = Unhex("5820aabb");
  cbor::Reader truncated(short_bstr);
  EXPECT_FALSE(truncated.ReadBytes("x").ok());
  // A huge claimed length costs nothing: the data is not there.
  const Bytes huge_array = Unhex("9bffffffffffffffff");
  cbor::Reader huge(huge_array);
  EXPECT_FALSE(huge.Skip("x").ok());
  const Bytes bad_text = Unhex("62c328");
  cbor::Reader bad_utf8(bad_text);
  EXPECT_FALSE(bad_utf8.ReadText("x").ok());
}

TEST(CborUtil, ReaderReadsOneByteTagHeadsLibcborRefuses) {
  const Bytes tagged = Unhex("d280");
  cbor::Reader r(tagged);
  auto tag = r.ReadTag("x");
  ASSERT_TRUE(tag.ok()) << tag.status().ToString();
  EXPECT_EQ(*tag, 18u);
  EXPECT_EQ(*r.ReadArray("x"), 0u);
  EXPECT_TRUE(r.AtEnd());
}

TEST(CborUtil, SkipLimitsNesting) {
  Bytes deep(cbor::Reader::kMaxSkipDepth + 2, 0x81);
  deep.push_back(0x00);
  cbor::Reader r(deep);
  EXPECT_FALSE(r.Skip("x").ok());
  Bytes shallow(4, 0x81);
  shallow.push_back(0x00);
  cbor::Reader ok(shallow);
  EXPECT_TRUE(ok.Skip("x").ok());
  EXPECT_TRUE(ok.AtEnd());
}

TEST(CborUtil, Utf8Validation) {
  EXPECT_TRUE(cbor::IsValidUtf8("plain"));
  EXPECT_TRUE(cbor::IsValidUtf8("\xc3\xa9t\xc3\xa9 \xf0\x9f\x94\x92"));
  EXPECT_FALSE(cbor::IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(cbor::IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(cbor::IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(cbor::IsValidUtf8("\xe2\x82"));          // truncated
}

TEST(Evidence, ProtectedHeaderAndSigStructureBytes) {
  EXPECT_EQ(HexOf(ProtectedHeaderEs256()), "a10126");
  // ["Signature1", h'a10126', h'', h'0102']
  EXPECT_EQ(HexOf(SigStructure(ProtectedHeaderEs256(), Bytes{1, 2})),
            "846a5369676e61747572653143a101264042"
            "0102");
}

TEST(Evidence, ClaimsUseTheDocumentedKeyOrder) {
  auto key = GenerateKey();
  EvidenceClaims c = ClaimsFor(SampleLog(), key.get());
  auto encoded = EncodeClaims(c);
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  auto again = EncodeClaims(c);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*encoded, *again);

  cbor::Reader r(*encoded);
  ASSERT_EQ(*r.ReadMap("claims"), 14u);
  std::vector<int64_t> keys;
  for (int i = 0; i < 14; ++i) {
    keys.push_back(*r.ReadInt("key"));
    ASSERT_TRUE(r.Skip("value").ok());
  }
  EXPECT_TRUE(r.AtEnd());
  const std::vector<int64_t> expected = {10,  256, 6,      261,    263,    265,    268,
                                         270, 273, -70001, -70002, -70003, -70004, -70005};
  EXPECT_EQ(keys, expected);
  // The nonce comes first: map head, key 10, a 16-byte bstr.
  EXPECT_EQ(HexOf(Bytes(encoded->begin(), encoded->begin() + 3)), "ae0a50");
}

TEST(Evidence, ClaimsRoundTrip) {
  auto key = GenerateKey();
  EvidenceClaims c = ClaimsFor(SampleLog(), key.get());
  c.emulated = false;
  c.dbgstat = 3;
  auto decoded = DecodeClaims(*EncodeClaims(c));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->nonce, c.nonce);
  EXPECT_EQ(decoded->ueid, c.ueid);
  EXPECT_EQ(decoded->iat, c.iat);
  EXPECT_EQ(decoded->dbgstat, 3u);
  EXPECT_EQ(decoded->profile, c.profile);
  EXPECT_EQ(decoded->uptime, c.uptime);
  EXPECT_EQ(decoded->bootseed, c.bootseed);
  EXPECT_EQ(decoded->swname, c.swname);
  EXPECT_EQ(decoded->registers, c.registers);
  EXPECT_EQ(decoded->log_digest, c.log_digest);
  EXPECT_EQ(decoded->log_count, c.log_count);
  EXPECT_EQ(decoded->backend, c.backend);
  EXPECT_FALSE(decoded->emulated);
  EXPECT_EQ(decoded->requester, c.requester);
}

TEST(Evidence, EncodeClaimsValidates) {
  auto key = GenerateKey();
  const EvidenceClaims good = ClaimsFor(SampleLog(), key.get());
  EvidenceClaims c = good;
  c.nonce.resize(7);
  EXPECT_EQ(EncodeClaims(c).status().code(), ErrorCode::kInvalidArgument);
  c = good;
  c.nonce.resize(65);
  EXPECT_FALSE(EncodeClaims(c).ok());
  c = good;
  c.ueid[0] = 2;
  EXPECT_FALSE(EncodeClaims(c).ok());
  c = good;
  c.bootseed.resize(31);
  EXPECT_FALSE(EncodeClaims(c).ok());
  c = good;
  c.dbgstat = 5;
  EXPECT_FALSE(EncodeClaims(c).ok());
  c = good;
  c.requester = "\xff";
  EXPECT_FALSE(EncodeClaims(c).ok());
}

// Claims written by hand, to make what EncodeClaims never would.
struct ClaimWriter {
  std::vector<std::pair<cbor::Item, cbor::Item>> entries;
  void Add(int64_t key, cbor::Item value) {
    entries.emplace_back(cbor::Int(key), std::move(value));
  }
  Bytes Encode() const {
    cbor::Item map = cbor::Map(entries.size());
    for (const auto& [k, v] : entries) cbor::Put(map, k, v);
    return cbor::Serialize(map);
  }
};

ClaimWriter AllClaims(const EvidenceClaims& c, int64_t skip = 0) {
  ClaimWriter w;
  auto add = [&](int64_t key, cbor::Item value) {
    if (key != skip) w.Add(key, std::move(value));
  };
  cbor::Item regs = cbor::Array(kRegisterCount);
  for (const auto& r : c.registers) cbor::Push(regs, cbor::ByteString(r));
  cbor::Item entry = cbor::Array(2);
  cbor::Push(entry, cbor::Uint(kRegistersContentFormat));
  cbor::Push(entry, cbor::ByteString(cbor::Serialize(regs)));
  cbor::Item measurements = cbor::Array(1);
  cbor::Push(measurements, entry);
  add(kClaimNonce, cbor::ByteString(c.nonce));
  add(kClaimUeid, cbor::ByteString(c.ueid));
  add(kClaimIat, cbor::Uint(c.iat));
  add(kClaimUptime, cbor::Uint(c.uptime));
  add(kClaimDbgstat, cbor::Uint(c.dbgstat));
  add(kClaimProfile, cbor::Text(c.profile));
  add(kClaimBootseed, cbor::ByteString(c.bootseed));
  add(kClaimSwname, cbor::Text(c.swname));
  add(kClaimMeasurements, std::move(measurements));
  add(kClaimBackend, cbor::Text(c.backend));
  add(kClaimLogDigest, cbor::ByteString(c.log_digest));
  add(kClaimLogCount, cbor::Uint(c.log_count));
  add(kClaimRequester, cbor::Text(c.requester));
  add(kClaimEmulated, cbor::Bool(c.emulated));
  return w;
}

TEST(Evidence, DecodeClaimsIgnoresUnknownClaimsAndRefusesDuplicates) {
  auto key = GenerateKey();
  const EvidenceClaims c = ClaimsFor(SampleLog(), key.get());
  ClaimWriter w = AllClaims(c);
  cbor::Item nested = cbor::Array(2);
  cbor::Push(nested, cbor::Text("x"));
  cbor::Push(nested, cbor::Map(0));
  w.Add(999, std::move(nested));
  w.Add(-80000, cbor::Tag(1, cbor::Uint(5)));
  auto decoded = DecodeClaims(w.Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->registers, c.registers);

  ClaimWriter dup_known = AllClaims(c);
  dup_known.Add(kClaimIat, cbor::Uint(1));
  auto st = DecodeClaims(dup_known.Encode()).status();
  EXPECT_EQ(st.code(), ErrorCode::kMalformed);
  EXPECT_NE(st.message().find("iat (6) appears twice"), std::string::npos) << st.message();

  ClaimWriter dup_unknown = AllClaims(c);
  dup_unknown.Add(999, cbor::Uint(1));
  dup_unknown.Add(999, cbor::Uint(2));
  EXPECT_FALSE(DecodeClaims(dup_unknown.Encode()).ok());
}

TEST(Evidence, DecodeClaimsIsStrict) {
  auto key = GenerateKey();
  const EvidenceClaims c = ClaimsFor(SampleLog(), key.get());
  const Bytes good = *EncodeClaims(c);
  ASSERT_TRUE(DecodeClaims(good).ok());

  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_FALSE(DecodeClaims(trailing).ok());
  EXPECT_FALSE(DecodeClaims(Bytes(good.begin(), good.end() - 1)).ok());

  auto missing = DecodeClaims(AllClaims(c, kClaimLogDigest).Encode());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("log digest (-70002) is missing"), std::string::npos);

  auto replaced = [&](int64_t key_to_replace, cbor::Item value) {
    ClaimWriter w = AllClaims(c, key_to_replace);
    w.Add(key_to_replace, std::move(value));
    return DecodeClaims(w.Encode());
  };
  EXPECT_TRUE(replaced(kClaimIat, cbor::Uint(5)).ok());
  EXPECT_FALSE(replaced(kClaimIat, cbor::Int(-5)).ok());
  EXPECT_FALSE(replaced(kClaimIat, cbor::Text("5")).ok());
  EXPECT_FALSE(replaced(kClaimNonce, cbor::ByteString(Bytes(7, 1))).ok());
  EXPECT_FALSE(replaced(kClaimNonce, cbor::ByteString(Bytes(65, 1))).ok());
  EXPECT_FALSE(replaced(kClaimUeid, cbor::ByteString(Bytes(33, 2))).ok());
  EXPECT_FALSE(replaced(kClaimUeid, cbor::ByteString(Bytes(32, 1))).ok());
  EXPECT_FALSE(replaced(kClaimDbgstat, cbor::Uint(5)).ok());
  EXPECT_FALSE(replaced(kClaimBootseed, cbor::ByteString(Bytes(33, 1))).ok());
  EXPECT_FALSE(replaced(kClaimLogDigest, cbor::ByteString(Bytes(31, 1))).ok());
  EXPECT_FALSE(replaced(kClaimEmulated, cbor::Uint(1)).ok());
  EXPECT_FALSE(replaced(kClaimBackend, cbor::ByteString(AsBytes("emulated"))).ok());
  EXPECT_FALSE(replaced(kClaimMeasurements, cbor::Array(0)).ok());

  // A measurements entry with 15 registers.
  cbor::Item regs = cbor::Array(kRegisterCount - 1);
  for (size_t i = 0; i + 1 < kRegisterCount; ++i) cbor::Push(regs, cbor::ByteString(Bytes(32, 0)));
  cbor::Item entry = cbor::Array(2);
  cbor::Push(entry, cbor::Uint(kRegistersContentFormat));
  cbor::Push(entry, cbor::ByteString(cbor::Serialize(regs)));
  cbor::Item measurements = cbor::Array(1);
  cbor::Push(measurements, entry);
  EXPECT_FALSE(replaced(kClaimMeasurements, std::move(measurements)).ok());

  // Indefinite-length map (0xbf ... 0xff) holding the same claims.
  Bytes indefinite = good;
  indefinite[0] = 0xbf;
  indefinite.push_back(0xff);
  EXPECT_FALSE(DecodeClaims(indefinite).ok());
  EXPECT_FALSE(DecodeClaims({}).ok());
}

TEST(Evidence, Sign1RoundTrip) {
  auto key = GenerateKey();
  EvidenceClaims c = ClaimsFor(SampleLog(), key.get());
  const Bytes kid(32, 0x11);
  Bytes evidence = Build(c, key.get(), kid);
  ASSERT_FALSE(evidence.empty());
  EXPECT_EQ(evidence[0], 0xd2);  // tag 18
  EXPECT_EQ(evidence[1], 0x84);  // array of 4
  auto s = DecodeSign1(evidence);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->alg, kCoseAlgEs256);
  EXPECT_EQ(s->protected_header, ProtectedHeaderEs256());
  EXPECT_EQ(s->kid, kid);
  EXPECT_EQ(s->payload, *EncodeClaims(c));
  EXPECT_EQ(s->signature.size(), 64u);
  EXPECT_EQ(EncodeSign1(*s), evidence);

  // Without a kid the unprotected header is an empty map.
  Bytes no_kid = Build(c, key.get());
  auto s2 = DecodeSign1(no_kid);
  ASSERT_TRUE(s2.ok());
  EXPECT_TRUE(s2->kid.empty());
  EXPECT_EQ(no_kid[2 + 4], 0xa0);  // after d2 84 43 a10126
}

Bytes WithProtected(const Sign1& base, const cbor::Item& protected_map) {
  Sign1 s = base;
  s.protected_header = cbor::Serialize(protected_map);
  return EncodeSign1(s);
}

TEST(Evidence, DecodeSign1Refusals) {
  auto key = GenerateKey();
  const Bytes evidence = Build(ClaimsFor(SampleLog(), key.get()), key.get(), Bytes(4, 9));
  const Sign1 base = *DecodeSign1(evidence);
  auto message = [](ByteView b) {
    auto r = DecodeSign1(b);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kMalformed);
    return r.status().message();
  };

  Bytes trailing = evidence;
  trailing.push_back(0x00);
  EXPECT_NE(message(trailing).find("trailing"), std::string::npos);
  EXPECT_NE(message(Bytes(evidence.begin() + 1, evidence.end())).find("tag"), std::string::npos);
  Bytes tag17 = evidence;
  tag17[0] = 0xd1;
  EXPECT_NE(message(tag17).find("tag 17"), std::string::npos);
  Bytes three = evidence;
  three[1] = 0x83;
  EXPECT_NE(message(three).find("3 elements"), std::string::npos);
  EXPECT_NE(message(Bytes(kMaxEvidenceSize + 1, 0)).find("limit"), std::string::npos);

  cbor::Item es384 = cbor::Map(1);
  cbor::Put(es384, cbor::Int(1), cbor::Int(-35));
  EXPECT_NE(message(WithProtected(base, es384)).find("algorithm -35 is not ES256"),
            std::string::npos);
  cbor::Item text_alg = cbor::Map(1);
  cbor::Put(text_alg, cbor::Int(1), cbor::Text("ES256"));
  EXPECT_FALSE(DecodeSign1(WithProtected(base, text_alg)).ok());
  cbor::Item no_alg = cbor::Map(0);
  EXPECT_NE(message(WithProtected(base, no_alg)).find("no algorithm"), std::string::npos);
  cbor::Item crit = cbor::Map(2);
  cbor::Put(crit, cbor::Int(1), cbor::Int(-7));
  cbor::Put(crit, cbor::Int(2), cbor::Array(0));
  EXPECT_NE(message(WithProtected(base, crit)).find("critical"), std::string::npos);
  cbor::Item extra = cbor::Map(2);
  cbor::Put(extra, cbor::Int(1), cbor::Int(-7));
  cbor::Put(extra, cbor::Int(3), cbor::Text("application/eat+cwt"));
  EXPECT_TRUE(DecodeSign1(WithProtected(base, extra)).ok());

  Sign1 empty_protected = base;
  empty_protected.protected_header.clear();
  EXPECT_FALSE(DecodeSign1(EncodeSign1(empty_protected)).ok());
  Sign1 short_sig = base;
  short_sig.signature.pop_back();
  EXPECT_NE(message(EncodeSign1(short_sig)).find("64"), std::string::npos);

  // Detached payload (null) and an alg in the unprotected header.
  cbor::Item detached = cbor::Array(4);
  cbor::Push(detached, cbor::ByteString(base.protected_header));
  cbor::Push(detached, cbor::Map(0));
  cbor::Push(detached, cbor::Item(cbor_new_null()));
  cbor::Push(detached, cbor::ByteString(base.signature));
  EXPECT_NE(message(cbor::Serialize(cbor::Tag(18, std::move(detached)))).find("detached"),
            std::string::npos);
  cbor::Item unprotected_alg = cbor::Map(1);
  cbor::Put(unprotected_alg, cbor::Int(1), cbor::Int(-7));
  cbor::Item moved = cbor::Array(4);
  cbor::Push(moved, cbor::ByteString(base.protected_header));
  cbor::Push(moved, unprotected_alg);
  cbor::Push(moved, cbor::ByteString(base.payload));
  cbor::Push(moved, cbor::ByteString(base.signature));
  EXPECT_FALSE(DecodeSign1(cbor::Serialize(cbor::Tag(18, std::move(moved)))).ok());
}

TEST(Evidence, EcdsaSignatureForms) {
  auto key = GenerateKey();
  auto der = SignerFor(key.get())(AsBytes("message"));
  ASSERT_TRUE(der.ok());
  auto raw = EcdsaDerToRaw(*der, 32);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(raw->size(), 64u);
  auto back = EcdsaRawToDer(*raw);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *der);

  Bytes trailing = *der;
  trailing.push_back(0);
  EXPECT_FALSE(EcdsaDerToRaw(trailing, 32).ok());
  EXPECT_FALSE(EcdsaDerToRaw(Bytes{0x30, 0x00}, 32).ok());
  EXPECT_FALSE(EcdsaDerToRaw(*der, 16).ok());  // r and s do not fit 16 bytes
  EXPECT_FALSE(EcdsaRawToDer(Bytes(63, 1)).ok());
  EXPECT_FALSE(EcdsaRawToDer({}).ok());
}

TEST(Evidence, UeidIsTypeRandAndTheKeyDigest) {
  auto key = GenerateKey();
  const Bytes spki = testing::SpkiDer(key.get());
  Bytes ueid = UeidFromPublicKeyDer(spki);
  ASSERT_EQ(ueid.size(), 33u);
  EXPECT_EQ(ueid[0], 0x01);
  Digest256 d = Sha256({spki});
  EXPECT_TRUE(std::equal(d.begin(), d.end(), ueid.begin() + 1));
}

TEST(Evidence, BuildEvidencePropagatesSignerErrors) {
  auto key = GenerateKey();
  EvidenceClaims c = ClaimsFor(SampleLog(), key.get());
  auto failing = [](ByteView) -> Result<Bytes> {
    return Status(ErrorCode::kUnavailable, "backend gone");
  };
  EXPECT_EQ(BuildEvidence(c, {}, failing).status().code(), ErrorCode::kUnavailable);
  auto garbage = [](ByteView) -> Result<Bytes> { return Bytes{1, 2, 3}; };
  EXPECT_FALSE(BuildEvidence(c, {}, garbage).ok());
  EXPECT_FALSE(BuildEvidence(c, {}, DerSigner()).ok());
}

}  // namespace
}  // namespace edgetrust::attest
