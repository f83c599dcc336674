// Measurement registers and their log: extend-only arithmetic, log order and digest, limits.
#include "sd/registers.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <thread>

namespace edgetrust::sd {
namespace {

Digest256 Sha(std::string_view s) {
  Digest256 d{};
  SHA256(reinterpret_cast<const uint8_t*>(s.data()), s.size(), d.data());
  return d;
}

// Independent of ExtendRegisterValue: SHA-256 over the 64 concatenated bytes.
Digest256 Extended(const Digest256& old_value, const Digest256& digest) {
  uint8_t buf[64];
  std::copy(old_value.begin(), old_value.end(), buf);
  std::copy(digest.begin(), digest.end(), buf + 32);
  Digest256 out{};
  SHA256(buf, sizeof buf, out.data());
  return out;
}

TEST(RegistersTest, StartZeroAndOnlyExtend) {
  RegisterBank bank;
  RegisterSnapshot s0 = bank.Snapshot();
  for (const auto& v : s0.values) EXPECT_EQ(v, Digest256{});
  EXPECT_EQ(s0.log_count, 0u);
  EXPECT_EQ(s0.log_digest, Digest256{});

  auto a = bank.Extend(8, Sha("a"), "uid:1", "first", 100);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->seq, 0u);
  EXPECT_EQ(a->value, Extended(Digest256{}, Sha("a")));
  auto b = bank.Extend(8, Sha("b"), "uid:1", "second", 101);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->seq, 1u);
  EXPECT_EQ(b->value, Extended(a->value, Sha("b")));

  RegisterSnapshot s = bank.Snapshot();
  EXPECT_EQ(s.values[8], b->value);
  for (size_t i = 0; i < kRegisterCount; ++i) {
    if (i != 8) {
      EXPECT_EQ(s.values[i], Digest256{}) << i;
    }
  }
  EXPECT_EQ(s.log_count, 2u);
}

TEST(RegistersTest, LogReplaysToRegistersAndDigest) {
  RegisterBank bank;
  ASSERT_TRUE(MeasureSelf(bank, "1.2.3", "emulated", {}, "", 5).ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(bank.Extend(static_cast<uint32_t>(1 + i % 15), Sha(std::to_string(i)), "uid:0",
                            "event " + std::to_string(i), 10)
                    .ok());
  }
  std::vector<LogEvent> log = bank.LogPage(0, 1000);
  ASSERT_EQ(log.size(), 22u);
  EXPECT_EQ(log[0].principal, "edgetrust-sd");
  EXPECT_EQ(log[0].register_index, 0u);
  auto replay = ReplayLog(log);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  RegisterSnapshot s = bank.Snapshot();
  EXPECT_EQ(replay->registers, s.values);
  EXPECT_EQ(replay->log_digest, s.log_digest);
  EXPECT_EQ(replay->count, s.log_count);

  // Pages are contiguous slices.
  auto page = bank.LogPage(20, 5);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].seq, 20u);
  EXPECT_TRUE(bank.LogPage(22, 5).empty());
  EXPECT_TRUE(bank.LogPage(UINT64_MAX, 5).empty());
}

TEST(RegistersTest, MeasureSelfDependsOnTheConfiguration) {
  RegisterBank a, b, c;
  Digest256 cfg1 = Sha("[daemon]\n"), cfg2 = Sha("[daemon]\nuser = \"x\"\n");
  ASSERT_TRUE(MeasureSelf(a, "1", "emulated", cfg1, "/etc/a.toml", 1).ok());
  ASSERT_TRUE(MeasureSelf(b, "1", "emulated", cfg2, "/etc/a.toml", 1).ok());
  ASSERT_TRUE(MeasureSelf(c, "1", "emulated", {}, "", 1).ok());
  EXPECT_NE(a.Snapshot().values[0], b.Snapshot().values[0]);
  EXPECT_NE(a.Snapshot().values[0], c.Snapshot().values[0]);
  EXPECT_EQ(a.LogPage(0, 10)[1].digest, cfg1);
}

TEST(RegistersTest, RejectsBadInput) {
  RegisterBank bank;
  EXPECT_EQ(bank.Extend(16, Sha("x"), "uid:0", "e", 1).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(bank.Extend(1, Sha("x"), "uid:0", std::string(256, 'a'), 1).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(bank.Extend(1, Sha("x"), "uid:0", "line\nbreak", 1).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(bank.Extend(1, Sha("x"), "uid:0", std::string(255, 'a'), 1).ok());
  EXPECT_TRUE(bank.Extend(1, Sha("x"), "uid:0", "température ✓", 1).ok());
  EXPECT_EQ(bank.Snapshot().log_count, 2u);  // refused extensions leave no trace
}

TEST(RegistersTest, FullLogRefusesRatherThanExtendingUnrecorded) {
  RegisterBank bank;
  for (size_t i = 0; i < kMaxLogEvents; ++i) ASSERT_TRUE(bank.Extend(9, Sha("x"), "u", "", 1).ok());
  const Digest256 before = bank.Snapshot().values[9];
  auto r = bank.Extend(9, Sha("x"), "u", "", 1);
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(bank.Snapshot().values[9], before);
}

TEST(RegistersTest, ConcurrentExtendsKeepLogAndRegistersConsistent) {
  RegisterBank bank;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&bank, t] {
      for (int i = 0; i < 200; ++i) {
        (void)bank.Extend(static_cast<uint32_t>(8 + t), Sha(std::to_string(i)), "u", "e", 1);
        (void)bank.Snapshot();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto replay = ReplayLog(bank.LogPage(0, kMaxLogEvents));
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->registers, bank.Snapshot().values);
  EXPECT_EQ(replay->count, 800u);
}

}  // namespace
}  // namespace edgetrust::sd
