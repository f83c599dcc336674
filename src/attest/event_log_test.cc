// Unit tests of the register and event-log helpers: extension, the chain, the canonical event
// encoding, replay, the JSON form and the reference-values parser.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attest/attest_test_util.h"
#include "attest/sha256.h"
#include "common/hex.h"
#include "edgetrust/attestation.h"

namespace edgetrust {
namespace {

using attest::testing::Filled;
using attest::testing::SampleLog;

std::string Hex64(char c) { return std::string(64, c); }

// The same message every time for a failing parse, so tests can look for words in it.
template <typename T>
std::string ErrorOf(const Result<T>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.status().message();
}

TEST(Registers, ExtendIsSha256OfOldAndDigest) {
  const Digest256 zero{};
  const Digest256 d = Filled(3);
  Bytes concat(zero.begin(), zero.end());
  concat.insert(concat.end(), d.begin(), d.end());
  unsigned char md[32];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(concat.data(), concat.size(), md, &len, EVP_sha256(), nullptr), 1);
  Digest256 expected{};
  std::copy(md, md + 32, expected.begin());
  EXPECT_EQ(ExtendRegisterValue(zero, d), expected);
  EXPECT_NE(ExtendRegisterValue(expected, d), expected);
}

TEST(EventLog, CanonicalEncodingBytes) {
  LogEvent e;
  e.seq = 0;
  e.register_index = 2;
  e.digest = Digest256{};
  e.principal = "p";
  e.description = "d";
  e.time = 1700000000;  // 0x6553f100
  EXPECT_EQ(HexEncode(CanonicalEventEncoding(e)),
            "8600025820" + std::string(64, '0') + "617061641a6553f100");

  e.seq = 24;
  e.register_index = 15;
  e.description = std::string(24, 'x');
  e.time = 65536;
  const std::string hex = HexEncode(CanonicalEventEncoding(e));
  EXPECT_EQ(hex.substr(0, 10), "8618180f58");
  EXPECT_EQ(hex.substr(hex.size() - 10), "1a00010000");
  EXPECT_NE(hex.find("7818" + HexEncode(AsBytes(std::string(24, 'x')))), std::string::npos);
}

TEST(EventLog, ChainIsSha256OfHeadAndEncoding) {
  const auto log = SampleLog();
  Digest256 head{};
  for (const auto& e : log) {
    const Bytes enc = CanonicalEventEncoding(e);
    EXPECT_EQ(ChainLogDigest(head, e), attest::Sha256({head, enc}));
    head = ChainLogDigest(head, e);
  }
  auto replay = ReplayLog(log);
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->log_digest, head);
}

TEST(EventLog, ReplayExtendsEachRegisterInOrder) {
  const auto log = SampleLog();
  auto replay = ReplayLog(log);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_EQ(replay->count, log.size());
  std::array<Digest256, kRegisterCount> expected{};
  for (const auto& e : log) {
    expected[e.register_index] = ExtendRegisterValue(expected[e.register_index], e.digest);
  }
  EXPECT_EQ(replay->registers, expected);
  EXPECT_EQ(replay->registers[3], Digest256{});

  auto empty = ReplayLog({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->log_digest, Digest256{});
  EXPECT_EQ(empty->count, 0u);
}

TEST(EventLog, ReplayRefusesGapsAndBadRegisters) {
  auto log = SampleLog();
  log[2].seq = 3;
  EXPECT_NE(ErrorOf(ReplayLog(log)).find("entry 2 has seq 3, expected 2"), std::string::npos);
  log = SampleLog();
  log.erase(log.begin());
  EXPECT_EQ(ReplayLog(log).status().code(), ErrorCode::kInvalidArgument);
  log = SampleLog();
  log[1].register_index = 16;
  EXPECT_NE(ErrorOf(ReplayLog(log)).find("register 16"), std::string::npos);
}

TEST(EventLog, JsonRoundTrip) {
  const auto log = SampleLog();
  const std::string json = EventLogToJson(log);
  auto parsed = ParseEventLogJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), log.size());
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ((*parsed)[i].seq, log[i].seq);
    EXPECT_EQ((*parsed)[i].register_index, log[i].register_index);
    EXPECT_EQ((*parsed)[i].digest, log[i].digest);
    EXPECT_EQ((*parsed)[i].principal, log[i].principal);
    EXPECT_EQ((*parsed)[i].description, log[i].description);
    EXPECT_EQ((*parsed)[i].time, log[i].time);
  }
  EXPECT_EQ(EventLogToJson({}), "[]");
  std::vector<LogEvent> one(log.begin(), log.begin() + 1);
  EXPECT_EQ(EventLogToJson(one),
            "[{\"seq\":0,\"register\":0,\"digest\":\"" + HexEncode(log[0].digest) +
                "\",\"principal\":\"edgetrust-sd\",\"event\":\"edgetrust-sd configuration and "
                "policy\",\"time\":1767225600}]");
}

std::string EventJson(const std::string& fields) { return "[{" + fields + "}]"; }
const std::string kGoodFields = "\"seq\":0,\"register\":2,\"digest\":\"" + Hex64('a') +
                                "\",\"principal\":\"uid:0\",\"event\":\"x\",\"time\":5";

TEST(EventLog, JsonParserIsStrict) {
  ASSERT_TRUE(ParseEventLogJson(EventJson(kGoodFields)).ok());
  // Upper-case hex is accepted too.
  ASSERT_TRUE(ParseEventLogJson(EventJson("\"seq\":0,\"register\":2,\"digest\":\"" + Hex64('A') +
                                          "\",\"principal\":\"uid:0\",\"event\":\"\",\"time\":5"))
                  .ok());

  EXPECT_NE(ErrorOf(ParseEventLogJson("{}")).find("must be a JSON array"), std::string::npos);
  EXPECT_EQ(ParseEventLogJson("[").status().code(), ErrorCode::kMalformed);
  EXPECT_EQ(ParseEventLogJson("").status().code(), ErrorCode::kMalformed);
  EXPECT_EQ(ParseEventLogJson("[] x").status().code(), ErrorCode::kMalformed);
  EXPECT_NE(ErrorOf(ParseEventLogJson("[1]")).find("entry 0 must be an object"), std::string::npos);

  auto with = [](const std::string& from, const std::string& to) {
    std::string f = kGoodFields;
    f.replace(f.find(from), from.size(), to);
    return ParseEventLogJson(EventJson(f));
  };
  EXPECT_NE(ErrorOf(with("\"seq\":0", "\"seq\":\"0\"")).find("\"seq\" must be an unsigned integer"),
            std::string::npos);
  EXPECT_FALSE(with("\"seq\":0", "\"seq\":-1").ok());
  EXPECT_FALSE(with("\"seq\":0", "\"seq\":0.0").ok());
  EXPECT_FALSE(with("\"seq\":0", "\"seq\":18446744073709551616").ok());
  EXPECT_NE(ErrorOf(with("\"register\":2", "\"register\":16")).find("\"register\" is 16"),
            std::string::npos);
  EXPECT_NE(ErrorOf(with(Hex64('a'), Hex64('a') + "aa")).find("entry 0: \"digest\""),
            std::string::npos);
  EXPECT_FALSE(with(Hex64('a'), Hex64('g')).ok());
  EXPECT_FALSE(with("\"" + Hex64('a') + "\"", "null").ok());
  EXPECT_NE(ErrorOf(with("\"event\":\"x\"", "\"event\":\"" + std::string(256, 'x') + "\""))
                .find("\"event\" is 256 bytes"),
            std::string::npos);
  EXPECT_TRUE(with("\"event\":\"x\"", "\"event\":\"" + std::string(255, 'x') + "\"").ok());
  EXPECT_FALSE(with("\"uid:0\"", "\"" + std::string(129, 'u') + "\"").ok());
  EXPECT_FALSE(with("\"uid:0\"", "\"\"").ok());
  EXPECT_NE(ErrorOf(with(",\"time\":5", "")).find("\"time\" is missing"), std::string::npos);
  EXPECT_NE(ErrorOf(with("\"time\":5", "\"time\":5,\"extra\":1")).find("unknown field \"extra\""),
            std::string::npos);
  EXPECT_NE(ErrorOf(with("\"time\":5", "\"time\":5,\"time\":6")).find("duplicate key"),
            std::string::npos);

  // The second entry is named by its index.
  const std::string two = "[{" + kGoodFields + "},{\"seq\":1}]";
  EXPECT_NE(ErrorOf(ParseEventLogJson(two)).find("entry 1"), std::string::npos);
}

TEST(EventLog, JsonParserLimits) {
  EXPECT_EQ(ParseEventLogJson("[[[[1]]]]").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseEventLogJson(std::string(64 * 1024 * 1024 + 1, ' ')).status().code(),
            ErrorCode::kInvalidArgument);
  // Lots of tiny values stop at the value limit, long before 64 MiB of them are built.
  std::string many = "[";
  for (int i = 0; i < 500000; ++i) many += "0,";
  many += "0]";
  EXPECT_EQ(ParseEventLogJson(many).status().code(), ErrorCode::kInvalidArgument);

  // One event too many is refused as such, before any entry is looked at.
  std::string big = "[";
  for (int i = 0; i < 65537; ++i) big += "{},";
  big.back() = ']';
  EXPECT_NE(ErrorOf(ParseEventLogJson(big)).find("65537 events"), std::string::npos);
}

TEST(Reference, ParsesTheDocumentedForm) {
  const std::string text = R"({
    "registers": {"2": ")" +
                           Hex64('b') + R"(", "10": ")" + Hex64('c') + R"("},
    "events": [{"register": 2, "digest": ")" +
                           Hex64('d') + R"(", "event": "deploy"},
               {"register": 1, "digest": ")" +
                           Hex64('e') + R"("}],
    "allow_emulated": true,
    "max_age_seconds": 300
  })";
  auto ref = ParseReferenceJson(text);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  ASSERT_EQ(ref->registers.size(), 2u);
  EXPECT_EQ(ref->registers[0].first, 2u);  // sorted by index
  EXPECT_EQ(ref->registers[1].first, 10u);
  EXPECT_EQ(ref->registers[1].second[0], 0xcc);
  ASSERT_EQ(ref->events.size(), 2u);
  EXPECT_EQ(ref->events[0].description, "deploy");
  EXPECT_FALSE(ref->events[1].description.has_value());
  EXPECT_TRUE(ref->allow_emulated);
  EXPECT_EQ(ref->max_age_seconds, 300u);

  auto empty = ParseReferenceJson("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->allow_emulated);
  EXPECT_FALSE(empty->max_age_seconds.has_value());
}

TEST(Reference, ParserIsStrict) {
  EXPECT_NE(ErrorOf(ParseReferenceJson(R"({"allow_emulatd": true})"))
                .find("unknown key \"allow_emulatd\""),
            std::string::npos);
  EXPECT_FALSE(ParseReferenceJson("[]").ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"allow_emulated": 1})").ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"max_age_seconds": -1})").ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"max_age_seconds": 1.5})").ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"registers": []})").ok());
  for (const char* bad_index : {"16", "01", "-1", "x", "", "+1", "100"}) {
    EXPECT_FALSE(ParseReferenceJson(std::string(R"({"registers": {")") + bad_index + R"(": ")" +
                                    Hex64('a') + R"("}})")
                     .ok())
        << bad_index;
  }
  EXPECT_FALSE(ParseReferenceJson(R"({"registers": {"1": "abcd"}})").ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"events": [{"register": 1}]})").ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"events": [{"digest": ")" + Hex64('a') + R"("}]})").ok());
  EXPECT_FALSE(
      ParseReferenceJson(R"({"events": [{"register": 16, "digest": ")" + Hex64('a') + R"("}]})")
          .ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"events": [{"register": 1, "digest": ")" + Hex64('a') +
                                  R"(", "extra": 1}]})")
                   .ok());
  EXPECT_FALSE(ParseReferenceJson(R"({"allow_emulated": true, "allow_emulated": false})").ok());
}

}  // namespace
}  // namespace edgetrust
