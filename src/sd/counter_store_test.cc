// Monotonic counters of the emulated backend: persistence, and what start-up finds when one of
// the two stored copies was restored, deleted or damaged.
#include "sd/counter_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "common/files.h"

namespace edgetrust::sd {
namespace {

namespace fs = std::filesystem;

class CounterStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/et-counters-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static SecretBytes Key(uint8_t fill = 7) { return SecretBytes(Bytes(32, fill)); }
  std::unique_ptr<CounterStore> Open(uint8_t fill = 7) {
    auto s = CounterStore::Open(dir_, Key(fill));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::string Path(const char* name) const { return dir_ + "/" + name; }
  void Save(const char* name) { fs::copy_file(Path(name), Path(name) + ".saved"); }
  void Restore(const char* name) {
    fs::copy_file(Path(name) + ".saved", Path(name), fs::copy_options::overwrite_existing);
  }
  static bool Mentions(const std::vector<std::string>& notices, const std::string& text) {
    for (const auto& n : notices) {
      if (n.find(text) != std::string::npos) return true;
    }
    return false;
  }

  std::string dir_;
};

TEST_F(CounterStoreTest, CountsAndSurvivesReopening) {
  {
    auto s = Open();
    EXPECT_EQ(*s->Create("uid:1", "fw", 10), 0u);
    EXPECT_EQ(*s->Increment("uid:1", "fw"), 1u);
    EXPECT_EQ(*s->Increment("uid:1", "fw"), 2u);
    EXPECT_EQ(s->Create("uid:1", "fw", 10).status().code(), ErrorCode::kAlreadyExists);
    EXPECT_EQ(s->Read("uid:2", "fw").status().code(), ErrorCode::kNotFound);
    EXPECT_EQ(*s->Create("uid:2", "fw", 10), 0u);
    EXPECT_TRUE(s->notices().empty());
  }
  auto s = Open();
  EXPECT_EQ(*s->Read("uid:1", "fw"), 2u);
  EXPECT_EQ(*s->Read("uid:2", "fw"), 0u);
  EXPECT_EQ(*s->Increment("uid:1", "fw"), 3u);
  EXPECT_TRUE(s->notices().empty());
  EXPECT_EQ(s->Increment("uid:1", "nope").status().code(), ErrorCode::kNotFound);
}

TEST_F(CounterStoreTest, RestoredOlderDataFileIsReportedAndNeverGoesBack) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Create("uid:1", "fw", 1).ok());
    ASSERT_TRUE(s->Increment("uid:1", "fw").ok());
    Save("counters.dat");
    ASSERT_TRUE(s->Increment("uid:1", "fw").ok());
    ASSERT_EQ(*s->Increment("uid:1", "fw"), 3u);
  }
  Restore("counters.dat");
  {
    auto s = Open();
    EXPECT_TRUE(Mentions(s->notices(), "counters.dat")) << ::testing::PrintToString(s->notices());
    EXPECT_TRUE(Mentions(s->notices(), "older"));
    EXPECT_EQ(*s->Read("uid:1", "fw"), 3u);
    EXPECT_EQ(*s->Increment("uid:1", "fw"), 4u);
  }
  // Repaired: the next start finds nothing to report.
  auto s = Open();
  EXPECT_TRUE(s->notices().empty()) << ::testing::PrintToString(s->notices());
  EXPECT_EQ(*s->Read("uid:1", "fw"), 4u);
}

TEST_F(CounterStoreTest, DeletedOrDamagedDataFileIsRecoveredFromTheAnchor) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Create("uid:1", "c", 1).ok());
    ASSERT_TRUE(s->Increment("uid:1", "c").ok());
  }
  fs::remove(Path("counters.dat"));
  {
    auto s = Open();
    EXPECT_TRUE(Mentions(s->notices(), "deleted"));
    EXPECT_EQ(*s->Read("uid:1", "c"), 1u);
  }
  auto bytes = ReadFile(Path("counters.dat"), 1 << 20);
  ASSERT_TRUE(bytes.ok());
  Bytes flipped = *bytes;
  flipped.back() ^= 1;
  ASSERT_TRUE(WriteFileAtomic(Path("counters.dat"), flipped, 0600, WriteMode::kReplace).ok());
  auto s = Open();
  EXPECT_TRUE(Mentions(s->notices(), "authentication"));
  EXPECT_EQ(*s->Read("uid:1", "c"), 1u);
}

TEST_F(CounterStoreTest, RestoredOlderAnchorIsReportedWithoutLosingCounts) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Create("uid:1", "c", 1).ok());
    Save("counters.anchor");
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->Increment("uid:1", "c").ok());
  }
  Restore("counters.anchor");
  auto s = Open();
  EXPECT_TRUE(Mentions(s->notices(), "anchor"));
  EXPECT_EQ(*s->Read("uid:1", "c"), 3u);
}

TEST_F(CounterStoreTest, CrashBetweenTheTwoWritesIsNotARollback) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Create("uid:1", "c", 1).ok());
    Save("counters.anchor");
    ASSERT_TRUE(s->Increment("uid:1", "c").ok());
  }
  // As if the process died after writing counters.dat but before the anchor.
  Restore("counters.anchor");
  auto s = Open();
  EXPECT_TRUE(s->notices().empty()) << ::testing::PrintToString(s->notices());
  EXPECT_EQ(*s->Read("uid:1", "c"), 1u);
}

TEST_F(CounterStoreTest, SwappedCopiesAndForeignKeysAreNotTrusted) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Create("uid:1", "c", 1).ok());
  }
  // Both copies unreadable under another key: the store refuses to make up counters.
  auto other = Open(9);
  EXPECT_FALSE(other->notices().empty());
  EXPECT_EQ(other->Read("uid:1", "c").status().code(), ErrorCode::kTampered);
  EXPECT_EQ(other->Create("uid:1", "d", 1).status().code(), ErrorCode::kTampered);

  // The data file copied over the anchor carries the wrong role.
  fs::copy_file(Path("counters.dat"), Path("counters.anchor"),
                fs::copy_options::overwrite_existing);
  auto s = Open();
  EXPECT_TRUE(Mentions(s->notices(), "anchor"));
  EXPECT_EQ(*s->Read("uid:1", "c"), 0u);
}

TEST_F(CounterStoreTest, FileFormatRejectsGarbage) {
  SecretBytes key = Key();
  CounterStore::Table t;
  t[{"uid:1", "a"}] = {5, 1};
  Bytes f = CounterStore::EncodeFile(t, 42, 'D', key);
  auto d = CounterStore::DecodeFile(f, 'D', key);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->generation, 42u);
  EXPECT_EQ(d->table.at({"uid:1", "a"}).value, 5u);
  EXPECT_EQ(CounterStore::DecodeFile(f, 'A', key).status().code(), ErrorCode::kTampered);
  for (size_t i = 0; i < f.size(); ++i) {
    Bytes g = f;
    g[i] ^= 0x40;
    EXPECT_FALSE(CounterStore::DecodeFile(g, 'D', key).ok()) << i;
  }
  EXPECT_FALSE(CounterStore::DecodeFile(Bytes(f.begin(), f.begin() + 20), 'D', key).ok());
}

TEST_F(CounterStoreTest, LimitsPerPrincipal) {
  auto s = Open();
  for (size_t i = 0; i < kMaxCountersPerPrincipal; ++i) {
    ASSERT_TRUE(s->Create("uid:1", "c" + std::to_string(i), 1).ok()) << i;
  }
  EXPECT_EQ(s->Create("uid:1", "one-more", 1).status().code(), ErrorCode::kResourceExhausted);
  EXPECT_TRUE(s->Create("uid:2", "c0", 1).ok());
}

}  // namespace
}  // namespace edgetrust::sd
