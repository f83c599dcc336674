// Unit tests of the frame header (wire.h) and of the schema-checked body codec (message.h).
#include "protocol/message.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/wire.h"

namespace edgetrust::protocol {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers building raw bodies byte by byte, independent of Message::Encode().

Bytes RawField(uint16_t tag, ByteView value) {
  Bytes out;
  protocol::PutU16(out, tag);
  protocol::PutU32(out, static_cast<uint32_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
  return out;
}
Bytes RawField(Field f, ByteView value) { return RawField(static_cast<uint16_t>(f), value); }
Bytes RawField(Field f, std::string_view value) { return RawField(f, AsBytes(value)); }
Bytes RawField(Field f, std::initializer_list<uint8_t> value) {
  Bytes v(value);
  return RawField(f, ByteView(v));
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string Str(ByteView v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

Result<Message> DecodeRequest(const Bytes& body, Opcode op) {
  return Message::Decode(body, op, BodyKind::kRequest);
}
Result<Message> DecodeResponse(const Bytes& body, Opcode op) {
  return Message::Decode(body, op, BodyKind::kResponse);
}

// A complete, valid KeyEntry body.
Message Entry(std::string_view name) {
  Message e;
  e.PutString(Field::kName, name)
      .PutString(Field::kOwner, "uid:1000")
      .PutString(Field::kKeyType, "ecdsa-p256")
      .PutU64(Field::kCreated, 1700000000)
      .PutString(Field::kState, "ok");
  return e;
}

// Passes when `r` failed with exactly `code`; says what happened otherwise.
template <typename R>
::testing::AssertionResult HasCode(const R& r, ErrorCode code) {
  if (r.ok()) return ::testing::AssertionFailure() << "succeeded, expected " << ErrorCodeName(code);
  if (r.status().code() != code) {
    return ::testing::AssertionFailure()
           << "got " << r.status().ToString() << ", expected " << ErrorCodeName(code);
  }
  return ::testing::AssertionSuccess();
}
#define EXPECT_CODE(result, code) EXPECT_TRUE(HasCode((result), (code)))

// ---------------------------------------------------------------------------------------------
// Frame header

TEST(FrameHeaderTest, EncodeDecodeRoundTrip) {
  FrameHeader h;
  h.version = 7;
  h.opcode = static_cast<uint16_t>(Opcode::kSign);
  h.request_id = 0x0123456789ABCDEFull;
  h.status = static_cast<uint32_t>(ErrorCode::kTampered);
  h.body_length = 4242;
  auto bytes = EncodeHeader(h);
  ASSERT_EQ(bytes.size(), kHeaderSize);
  auto d = DecodeHeader(bytes);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->version, 7);
  EXPECT_EQ(d->opcode, static_cast<uint16_t>(Opcode::kSign));
  EXPECT_EQ(d->request_id, 0x0123456789ABCDEFull);
  EXPECT_EQ(d->status, static_cast<uint32_t>(ErrorCode::kTampered));
  EXPECT_EQ(d->body_length, 4242u);
}

TEST(FrameHeaderTest, LayoutIsBigEndianWithMagicFirst) {
  FrameHeader h;
  h.opcode = 0x0102;
  h.request_id = 0x0304050607080910ull;
  h.status = 0x11121314;
  h.body_length = 0x00010203;
  auto b = EncodeHeader(h);
  const std::vector<uint8_t> expected = {'E',  'T',  'S',  'D',  0x00, 0x01, 0x01, 0x02,
                                         0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10,
                                         0x11, 0x12, 0x13, 0x14, 0x00, 0x01, 0x02, 0x03};
  EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.end()), expected);
}

TEST(FrameHeaderTest, BadMagicIsMalformed) {
  auto b = EncodeHeader(FrameHeader{});
  for (size_t i = 0; i < 4; ++i) {
    auto copy = b;
    copy[i] = static_cast<uint8_t>(copy[i] ^ 0x20);  // "ETSD" -> "eTSD", ...
    EXPECT_CODE(DecodeHeader(copy), ErrorCode::kMalformed);
  }
}

TEST(FrameHeaderTest, BodyLengthLimit) {
  FrameHeader h;
  h.body_length = kMaxBodySize;
  EXPECT_TRUE(DecodeHeader(EncodeHeader(h)).ok());
  h.body_length = kMaxBodySize + 1;
  EXPECT_CODE(DecodeHeader(EncodeHeader(h)), ErrorCode::kTooLarge);
  h.body_length = 0xFFFFFFFFu;
  EXPECT_CODE(DecodeHeader(EncodeHeader(h)), ErrorCode::kTooLarge);
}

TEST(FrameHeaderTest, TruncatedHeaderIsMalformed) {
  auto b = EncodeHeader(FrameHeader{});
  for (size_t n = 0; n < kHeaderSize; ++n) {
    EXPECT_CODE(DecodeHeader(ByteView(b.data(), n)), ErrorCode::kMalformed);
  }
}

TEST(FrameHeaderTest, VersionIsReturnedAsSent) {
  FrameHeader h;
  h.version = 0xFFFF;
  auto d = DecodeHeader(EncodeHeader(h));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->version, 0xFFFF);
}

// ---------------------------------------------------------------------------------------------
// Message encoding

TEST(MessageTest, EncodeIsTagLengthValue) {
  Message m;
  m.PutString(Field::kName, "k1").PutU32(Field::kLength, 0x01020304).PutBool(Field::kValid, true);
  const Bytes expected = {0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 'k',  '1',               // Name
                          0x00, 0x0F, 0x00, 0x00, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04,  // Length
                          0x00, 0x12, 0x00, 0x00, 0x00, 0x01, 0x01};                   // Valid
  EXPECT_EQ(m.Encode(), expected);
  EXPECT_TRUE(Message().Encode().empty());
}

TEST(MessageTest, SignRequestRoundTrip) {
  const Bytes data = {0x00, 0xFF, 0x10, 0x00};
  Message m;
  m.PutString(Field::kName, "device-identity")
      .PutString(Field::kOwner, "uid:0")
      .PutBytes(Field::kData, data)
      .PutString(Field::kAlgorithm, "ecdsa-sha384");
  auto d = DecodeRequest(m.Encode(), Opcode::kSign);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->GetString(Field::kName), "device-identity");
  EXPECT_EQ(d->GetString(Field::kOwner), "uid:0");
  ASSERT_TRUE(d->GetBytes(Field::kData).has_value());
  EXPECT_EQ(Bytes(d->GetBytes(Field::kData)->begin(), d->GetBytes(Field::kData)->end()), data);
  EXPECT_EQ(d->GetString(Field::kAlgorithm), "ecdsa-sha384");
  EXPECT_FALSE(d->Has(Field::kDigest));
  EXPECT_FALSE(d->GetBytes(Field::kDigest).has_value());
  EXPECT_EQ(d->Encode(), m.Encode());
}

TEST(MessageTest, RandomRequestRoundTripU32) {
  Message m;
  m.PutU32(Field::kLength, 1048576);
  auto d = DecodeRequest(m.Encode(), Opcode::kRandom);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->GetU32(Field::kLength), 1048576u);
  // Typed getters refuse values of the wrong shape.
  EXPECT_FALSE(d->GetU64(Field::kLength).has_value());
  EXPECT_FALSE(d->GetBool(Field::kLength).has_value());
}

TEST(MessageTest, VerifyResponseRoundTripBool) {
  for (bool valid : {false, true}) {
    Message m;
    m.PutBool(Field::kValid, valid);
    auto d = DecodeResponse(m.Encode(), Opcode::kVerify);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->GetBool(Field::kValid), valid);
  }
}

TEST(MessageTest, InfoResponseRoundTrip) {
  Message m;
  m.PutString(Field::kBackend, "emulated")
      .PutString(Field::kVersion, "0.1.0")
      .PutU32(Field::kProtocolVersion, kProtocolVersion)
      .PutString(Field::kPrincipal, "uid:1000")
      .PutString(Field::kSupported, "key-type:ed25519")
      .PutString(Field::kSupported, "op:sign")
      .PutU32(Field::kKeyCount, 3);
  auto d = DecodeResponse(m.Encode(), Opcode::kInfo);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->GetString(Field::kBackend), "emulated");
  EXPECT_EQ(d->GetU32(Field::kProtocolVersion), kProtocolVersion);
  EXPECT_EQ(d->GetU32(Field::kKeyCount), 3u);
  auto supported = d->GetAll(Field::kSupported);
  ASSERT_EQ(supported.size(), 2u);
  EXPECT_EQ(Str(supported[0]), "key-type:ed25519");
  EXPECT_EQ(Str(supported[1]), "op:sign");
  EXPECT_EQ(d->GetString(Field::kSupported), "key-type:ed25519");  // first value
}

TEST(MessageTest, KeyCreateResponseWithNestedEntryRoundTrip) {
  Message m;
  m.PutNested(Field::kKeyEntry, Entry("k"));
  auto d = DecodeResponse(m.Encode(), Opcode::kKeyCreate);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  auto nested = d->GetBytes(Field::kKeyEntry);
  ASSERT_TRUE(nested.has_value());
  auto e = Message::Decode(*nested, Opcode::kKeyCreate, BodyKind::kKeyEntry);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->GetString(Field::kName), "k");
  EXPECT_EQ(e->GetU64(Field::kCreated), 1700000000u);
  EXPECT_EQ(e->GetString(Field::kState), "ok");
}

TEST(MessageTest, EmptyBodiesWhereNothingIsRequired) {
  EXPECT_TRUE(DecodeRequest({}, Opcode::kInfo).ok());
  EXPECT_TRUE(DecodeRequest({}, Opcode::kKeyList).ok());
  EXPECT_TRUE(DecodeResponse({}, Opcode::kKeyList).ok());
  EXPECT_TRUE(Message::Decode({}, Opcode::kInfo, BodyKind::kError).ok());
}

TEST(MessageTest, RepeatableKeyEntriesDecodeInOrder) {
  Message m;
  for (std::string_view n : {"alpha", "beta", "gamma"}) m.PutNested(Field::kKeyEntry, Entry(n));
  auto d = DecodeResponse(m.Encode(), Opcode::kKeyList);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  auto all = d->GetAll(Field::kKeyEntry);
  ASSERT_EQ(all.size(), 3u);
  std::vector<std::string> names;
  for (ByteView v : all) {
    auto e = Message::Decode(v, Opcode::kKeyList, BodyKind::kKeyEntry);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    names.emplace_back(*e->GetString(Field::kName));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "beta", "gamma"}));
}

// ---------------------------------------------------------------------------------------------
// Every rejection path of Message::Decode

TEST(MessageDecodeTest, TruncatedFieldHeader) {
  Bytes ok = RawField(Field::kLength, {0, 0, 0, 1});
  for (size_t n = 1; n < 6; ++n) {
    Bytes body = ok;
    body.insert(body.end(), ok.begin(), ok.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_CODE(DecodeRequest(body, Opcode::kRandom), ErrorCode::kMalformed);
  }
}

TEST(MessageDecodeTest, FieldLengthPastBody) {
  Bytes body = RawField(Field::kName, "abc");
  body.pop_back();
  EXPECT_CODE(DecodeRequest(body, Opcode::kKeyPublic), ErrorCode::kMalformed);
  // A huge length must not wrap around.
  Bytes huge;
  protocol::PutU16(huge, static_cast<uint16_t>(Field::kName));
  protocol::PutU32(huge, 0xFFFFFFFFu);
  huge.push_back('a');
  EXPECT_CODE(DecodeRequest(huge, Opcode::kKeyPublic), ErrorCode::kMalformed);
}

TEST(MessageDecodeTest, UnknownTag) {
  for (uint16_t tag : {uint16_t{0}, uint16_t{29}, uint16_t{0x7FFF}, uint16_t{0xFFFF}}) {
    Bytes body = Cat({RawField(Field::kName, "k"), RawField(tag, AsBytes("x"))});
    EXPECT_CODE(DecodeRequest(body, Opcode::kKeyPublic), ErrorCode::kMalformed) << "tag " << tag;
  }
}

TEST(MessageDecodeTest, FieldNotAllowedForOpcode) {
  // Signature is a Verify request field and a Sign response field, never a Sign request field.
  Bytes body = Cat(
      {RawField(Field::kName, "k"), RawField(Field::kData, "m"), RawField(Field::kSignature, "s")});
  EXPECT_CODE(DecodeRequest(body, Opcode::kSign), ErrorCode::kMalformed);
  // Info requests carry no fields at all.
  EXPECT_CODE(DecodeRequest(RawField(Field::kName, "k"), Opcode::kInfo), ErrorCode::kMalformed);
  // Response fields are not request fields.
  EXPECT_CODE(DecodeRequest(RawField(Field::kValid, {1}), Opcode::kVerify), ErrorCode::kMalformed);
  // KeyEntry fields are only allowed nested.
  EXPECT_CODE(DecodeResponse(RawField(Field::kState, "ok"), Opcode::kKeyList),
              ErrorCode::kMalformed);
  // The same body decodes for the opcode that allows it.
  Bytes verify = Cat(
      {RawField(Field::kName, "k"), RawField(Field::kData, "m"), RawField(Field::kSignature, "s")});
  EXPECT_TRUE(DecodeRequest(verify, Opcode::kVerify).ok());
}

TEST(MessageDecodeTest, RepeatedNonRepeatableField) {
  Bytes body = Cat({RawField(Field::kName, "a"), RawField(Field::kName, "b")});
  EXPECT_CODE(DecodeRequest(body, Opcode::kKeyPublic), ErrorCode::kMalformed);
  Bytes valid = Cat({RawField(Field::kValid, {1}), RawField(Field::kValid, {0})});
  EXPECT_CODE(DecodeResponse(valid, Opcode::kVerify), ErrorCode::kMalformed);
}

TEST(MessageDecodeTest, MissingRequiredField) {
  // KeyCreate needs Name and KeyType.
  EXPECT_CODE(DecodeRequest(RawField(Field::kName, "k"), Opcode::kKeyCreate),
              ErrorCode::kMalformed);
  EXPECT_CODE(DecodeRequest(RawField(Field::kKeyType, "aes-256"), Opcode::kKeyCreate),
              ErrorCode::kMalformed);
  EXPECT_TRUE(
      DecodeRequest(Cat({RawField(Field::kName, "k"), RawField(Field::kKeyType, "aes-256")}),
                    Opcode::kKeyCreate)
          .ok());
  // Responses are checked too: a Verify answer without Valid.
  EXPECT_CODE(DecodeResponse({}, Opcode::kVerify), ErrorCode::kMalformed);
  EXPECT_CODE(DecodeRequest({}, Opcode::kRandom), ErrorCode::kMalformed);
}

TEST(MessageDecodeTest, ValueOverMaxLengthIsTooLarge) {
  // Name: at most 64 bytes.
  EXPECT_TRUE(DecodeRequest(RawField(Field::kName, std::string(64, 'n')), Opcode::kKeyPublic).ok());
  EXPECT_CODE(DecodeRequest(RawField(Field::kName, std::string(65, 'n')), Opcode::kKeyPublic),
              ErrorCode::kTooLarge);
  // Data: at most 1 MiB.
  Bytes big(1048576 + 1, 0x41);
  Bytes body = Cat({RawField(Field::kName, "k"), RawField(Field::kData, ByteView(big))});
  EXPECT_CODE(DecodeRequest(body, Opcode::kSign), ErrorCode::kTooLarge);
  big.pop_back();
  body = Cat({RawField(Field::kName, "k"), RawField(Field::kData, ByteView(big))});
  EXPECT_TRUE(DecodeRequest(body, Opcode::kSign).ok());
  // Digest: at most 64 bytes.
  body = Cat({RawField(Field::kName, "k"), RawField(Field::kDigest, ByteView(Bytes(65, 1)))});
  EXPECT_CODE(DecodeRequest(body, Opcode::kSign), ErrorCode::kTooLarge);
}

TEST(MessageDecodeTest, U32OfWrongSize) {
  EXPECT_CODE(DecodeRequest(RawField(Field::kLength, {0, 0, 1}), Opcode::kRandom),
              ErrorCode::kMalformed);
  EXPECT_CODE(DecodeRequest(RawField(Field::kLength, Bytes{}), Opcode::kRandom),
              ErrorCode::kMalformed);
  // Over the 4-byte limit is a size violation.
  EXPECT_CODE(DecodeRequest(RawField(Field::kLength, {0, 0, 0, 0, 1}), Opcode::kRandom),
              ErrorCode::kTooLarge);
  EXPECT_TRUE(DecodeRequest(RawField(Field::kLength, {0, 0, 0, 1}), Opcode::kRandom).ok());
}

TEST(MessageDecodeTest, U64OfWrongSizeInKeyEntry) {
  Message e;
  e.PutString(Field::kName, "k")
      .PutString(Field::kOwner, "uid:1")
      .PutString(Field::kKeyType, "aes-256")
      .PutBytes(Field::kCreated, Bytes{1, 2, 3, 4, 5, 6, 7})
      .PutString(Field::kState, "ok");
  EXPECT_CODE(Message::Decode(e.Encode(), Opcode::kKeyList, BodyKind::kKeyEntry),
              ErrorCode::kMalformed);
}

TEST(MessageDecodeTest, BoolNotZeroOrOne) {
  EXPECT_CODE(DecodeResponse(RawField(Field::kValid, {2}), Opcode::kVerify), ErrorCode::kMalformed);
  EXPECT_CODE(DecodeResponse(RawField(Field::kValid, {0xFF}), Opcode::kVerify),
              ErrorCode::kMalformed);
  EXPECT_CODE(DecodeResponse(RawField(Field::kValid, Bytes{}), Opcode::kVerify),
              ErrorCode::kMalformed);
  EXPECT_CODE(DecodeResponse(RawField(Field::kValid, {0, 1}), Opcode::kVerify),
              ErrorCode::kTooLarge);
}

struct Utf8Case {
  const char* what;
  Bytes value;
};

TEST(MessageDecodeTest, InvalidUtf8InStringField) {
  const std::vector<Utf8Case> bad = {
      {"overlong 2-byte '/'", {0xC0, 0xAF}},
      {"overlong 2-byte NUL", {0xC0, 0x80}},
      {"overlong 3-byte '/'", {0xE0, 0x80, 0xAF}},
      {"overlong 4-byte", {0xF0, 0x82, 0x82, 0xAC}},
      {"high surrogate", {0xED, 0xA0, 0x80}},
      {"low surrogate", {0xED, 0xBF, 0xBF}},
      {"truncated 2-byte", {'a', 0xC3}},
      {"truncated 3-byte", {0xE2, 0x82}},
      {"truncated 4-byte", {0xF0, 0x9F, 0x98}},
      {"NUL", {'a', 0x00, 'b'}},
      {"lone continuation", {0x80}},
      {"bad continuation", {0xC3, 0x28}},
      {"past U+10FFFF", {0xF4, 0x90, 0x80, 0x80}},
      {"0xFF", {0xFF}},
      {"5-byte lead", {0xF8, 0x88, 0x80, 0x80, 0x80}},
  };
  for (const auto& c : bad) {
    EXPECT_CODE(DecodeRequest(RawField(Field::kName, ByteView(c.value)), Opcode::kKeyPublic),
                ErrorCode::kMalformed)
        << c.what;
    // Also in a response and in an error body.
    EXPECT_CODE(DecodeResponse(RawField(Field::kPublicPem, ByteView(c.value)), Opcode::kKeyPublic),
                ErrorCode::kMalformed)
        << c.what;
    EXPECT_CODE(Message::Decode(RawField(Field::kMessage, ByteView(c.value)), Opcode::kInfo,
                                BodyKind::kError),
                ErrorCode::kMalformed)
        << c.what;
  }
  // Bytes fields carry any octets.
  Bytes body = Cat({RawField(Field::kName, "k"), RawField(Field::kData, {0xC0, 0x80, 0x00, 0xFF})});
  EXPECT_TRUE(DecodeRequest(body, Opcode::kSign).ok());
}

TEST(MessageDecodeTest, ValidUtf8Accepted) {
  const std::vector<Bytes> good = {
      {'p', 'l', 'a', 'i', 'n'},
      {0xC3, 0xA9},              // é
      {0xE2, 0x82, 0xAC},        // €
      {0xEF, 0xBF, 0xBF},        // U+FFFF
      {0xED, 0x9F, 0xBF},        // U+D7FF, just below the surrogates
      {0xF0, 0x9F, 0x98, 0x80},  // 😀
      {0xF4, 0x8F, 0xBF, 0xBF},  // U+10FFFF
      {0xC2, 0x80},              // U+0080, smallest 2-byte
      {0xE0, 0xA0, 0x80},        // U+0800, smallest 3-byte
      {0xF0, 0x90, 0x80, 0x80},  // U+10000, smallest 4-byte
  };
  for (const auto& v : good) {
    auto d = DecodeRequest(RawField(Field::kName, ByteView(v)), Opcode::kKeyPublic);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
  }
}

TEST(MessageDecodeTest, NestedKeyEntryChecked) {
  // Each required KeyEntry field, left out in turn.
  const std::vector<Field> required = {Field::kName, Field::kOwner, Field::kKeyType,
                                       Field::kCreated, Field::kState};
  for (Field missing : required) {
    Message e;
    if (missing != Field::kName) e.PutString(Field::kName, "k");
    if (missing != Field::kOwner) e.PutString(Field::kOwner, "uid:1");
    if (missing != Field::kKeyType) e.PutString(Field::kKeyType, "aes-256");
    if (missing != Field::kCreated) e.PutU64(Field::kCreated, 1);
    if (missing != Field::kState) e.PutString(Field::kState, "ok");
    Message m;
    m.PutNested(Field::kKeyEntry, e);
    EXPECT_CODE(DecodeResponse(m.Encode(), Opcode::kKeyCreate), ErrorCode::kMalformed)
        << "missing tag " << static_cast<int>(missing);
    EXPECT_CODE(DecodeResponse(m.Encode(), Opcode::kKeyList), ErrorCode::kMalformed);
  }
  // A field that is not a KeyEntry field.
  Message extra = Entry("k");
  extra.PutBytes(Field::kData, Bytes{1});
  Message m;
  m.PutNested(Field::kKeyEntry, extra);
  EXPECT_CODE(DecodeResponse(m.Encode(), Opcode::kKeyList), ErrorCode::kMalformed);
  // A nested body that does not even parse.
  EXPECT_CODE(DecodeResponse(RawField(Field::kKeyEntry, {0x00, 0x01, 0x00}), Opcode::kKeyList),
              ErrorCode::kMalformed);
  // A bad value inside the nested body.
  Message bad_state;
  bad_state.PutString(Field::kName, "k")
      .PutString(Field::kOwner, "uid:1")
      .PutString(Field::kKeyType, "aes-256")
      .PutU64(Field::kCreated, 1)
      .PutBytes(Field::kState, Bytes{0xC0, 0x80});  // overlong NUL
  Message bad;
  bad.PutNested(Field::kKeyEntry, bad_state);
  EXPECT_CODE(DecodeResponse(bad.Encode(), Opcode::kKeyList), ErrorCode::kMalformed);
  // One bad entry among good ones spoils the answer.
  Message mixed;
  Message incomplete;
  incomplete.PutString(Field::kName, "x");
  mixed.PutNested(Field::kKeyEntry, Entry("a")).PutNested(Field::kKeyEntry, incomplete);
  EXPECT_CODE(DecodeResponse(mixed.Encode(), Opcode::kKeyList), ErrorCode::kMalformed);
}

TEST(MessageDecodeTest, ErrorBodiesAcceptOnlyMessage) {
  auto ok =
      Message::Decode(RawField(Field::kMessage, "no key named x"), Opcode::kSign, BodyKind::kError);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->GetString(Field::kMessage), "no key named x");
  for (Field f : {Field::kName, Field::kSignature, Field::kState, Field::kPrincipal}) {
    Bytes body = Cat({RawField(Field::kMessage, "e"), RawField(f, "x")});
    EXPECT_CODE(Message::Decode(body, Opcode::kSign, BodyKind::kError), ErrorCode::kMalformed)
        << "tag " << static_cast<int>(f);
  }
  Bytes twice = Cat({RawField(Field::kMessage, "a"), RawField(Field::kMessage, "b")});
  EXPECT_CODE(Message::Decode(twice, Opcode::kSign, BodyKind::kError), ErrorCode::kMalformed);
  EXPECT_CODE(Message::Decode(RawField(Field::kMessage, std::string(1025, 'e')), Opcode::kSign,
                              BodyKind::kError),
              ErrorCode::kTooLarge);
}

// ---------------------------------------------------------------------------------------------
// Opcode tables

TEST(OpcodeTest, IsKnownOpcode) {
  for (uint16_t v = 1; v <= 24; ++v) EXPECT_TRUE(IsKnownOpcode(v)) << v;
  for (uint16_t v : {uint16_t{0}, uint16_t{25}, uint16_t{100}, uint16_t{0xFFFF}}) {
    EXPECT_FALSE(IsKnownOpcode(v)) << v;
  }
  EXPECT_EQ(static_cast<uint16_t>(Opcode::kInfo), 1);
  EXPECT_EQ(static_cast<uint16_t>(Opcode::kRandom), 14);
  EXPECT_EQ(static_cast<uint16_t>(Opcode::kAttestKey), 24);
}

TEST(LogEntryTest, NestedLogEntriesFollowTheirOwnSchema) {
  Message entry;
  entry.PutU64(Field::kSeq, 0)
      .PutU32(Field::kRegister, 8)
      .PutBytes(Field::kDigest, Bytes(32, 1))
      .PutString(Field::kPrincipal, "uid:0")
      .PutString(Field::kEvent, "boot")
      .PutU64(Field::kTime, 1);
  Message answer;
  answer.PutNested(Field::kLogEntry, entry).PutU64(Field::kLogCount, 1);
  EXPECT_TRUE(Message::Decode(answer.Encode(), Opcode::kReadLog, BodyKind::kResponse).ok());

  // A key entry's fields are not a log entry's, and a log entry must be complete.
  Message key_entry;
  key_entry.PutString(Field::kName, "k");
  Message wrong;
  wrong.PutNested(Field::kLogEntry, key_entry).PutU64(Field::kLogCount, 1);
  EXPECT_EQ(Message::Decode(wrong.Encode(), Opcode::kReadLog, BodyKind::kResponse).status().code(),
            ErrorCode::kMalformed);
  Message partial;
  partial.PutU64(Field::kSeq, 0);
  Message incomplete;
  incomplete.PutNested(Field::kLogEntry, partial).PutU64(Field::kLogCount, 1);
  EXPECT_EQ(
      Message::Decode(incomplete.Encode(), Opcode::kReadLog, BodyKind::kResponse).status().code(),
      ErrorCode::kMalformed);
}

TEST(OpcodeTest, OpcodeName) {
  EXPECT_EQ(OpcodeName(Opcode::kSign), "Sign");
  EXPECT_EQ(OpcodeName(Opcode::kMacVerify), "MacVerify");
  EXPECT_EQ(OpcodeName(static_cast<Opcode>(999)), "unknown");
}

TEST(OpcodeTest, PolicyOperation) {
  EXPECT_EQ(PolicyOperation(Opcode::kKeyPublic), "public");
  EXPECT_EQ(PolicyOperation(Opcode::kKeyDelete), "delete");
  EXPECT_EQ(PolicyOperation(Opcode::kSign), "sign");
  EXPECT_EQ(PolicyOperation(Opcode::kVerify), "verify");
  EXPECT_EQ(PolicyOperation(Opcode::kEncrypt), "encrypt");
  EXPECT_EQ(PolicyOperation(Opcode::kDecrypt), "decrypt");
  EXPECT_EQ(PolicyOperation(Opcode::kMac), "mac");
  EXPECT_EQ(PolicyOperation(Opcode::kMacVerify), "mac");
  EXPECT_EQ(PolicyOperation(Opcode::kDerive), "derive");
  EXPECT_EQ(PolicyOperation(Opcode::kEcdh), "ecdh");
  // Not grantable: own namespace only.
  EXPECT_EQ(PolicyOperation(Opcode::kInfo), "");
  EXPECT_EQ(PolicyOperation(Opcode::kKeyCreate), "");
  EXPECT_EQ(PolicyOperation(Opcode::kKeyList), "");
  EXPECT_EQ(PolicyOperation(Opcode::kRandom), "");
  EXPECT_EQ(PolicyOperation(static_cast<Opcode>(999)), "");
}

TEST(OpcodeTest, IsPolicyOperation) {
  for (std::string_view op :
       {"public", "delete", "sign", "verify", "encrypt", "decrypt", "mac", "derive", "ecdh"}) {
    EXPECT_TRUE(IsPolicyOperation(op)) << op;
  }
  for (std::string_view op :
       {"", "-", "Sign", "sign ", "random", "create", "list", "info", "mac-verify", "*"}) {
    EXPECT_FALSE(IsPolicyOperation(op)) << op;
  }
}

TEST(PrintableTextTest, ReplacesEverythingOutsidePrintableAscii) {
  EXPECT_EQ(PrintableText("abc", 10), "abc");
  EXPECT_EQ(PrintableText("abcdef", 3), "abc");
  EXPECT_EQ(PrintableText("a\xE2\x82\xAC\n\xff", 10), "a?????");
  // The result always passes the schema's String check, whatever went in.
  std::string text;
  for (int i = 0; i < 2000; ++i) text += static_cast<char>(i % 256);
  Message m;
  m.PutString(Field::kMessage, PrintableText(text, 1024));
  EXPECT_TRUE(Message::Decode(m.Encode(), Opcode::kInfo, BodyKind::kError).ok());
}

}  // namespace
}  // namespace edgetrust::protocol
