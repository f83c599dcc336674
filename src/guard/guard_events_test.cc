#include "guard/guard_events.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace edgetrust::guard {
namespace {

class GuardEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/guard-events-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path() const { return dir_ + "/events.jsonl"; }
  std::string dir_;
};

TEST_F(GuardEventsTest, NumbersTimesAndFiltersEvents) {
  GuardEvents ev(Path());
  auto a = ev.Add({{"event", "violation"}, {"module", "a"}});
  auto b = ev.Add({{"event", "violation"}, {"module", "b"}, {"time_ms", 1'700'000'000'123}});
  EXPECT_EQ(a["seq"], 1);
  EXPECT_EQ(b["seq"], 2);
  EXPECT_EQ(b["time"], "2023-11-14T22:13:20.123Z");
  EXPECT_TRUE(a["time"].is_string());
  auto only_b = ev.Recent(10, "b");
  ASSERT_EQ(only_b.size(), 1u);
  EXPECT_EQ(only_b[0]["module"], "b");
  auto newest = ev.Recent(1);
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0]["seq"], 2);
}

TEST_F(GuardEventsTest, SurvivesARestartAndSkipsATornLine) {
  {
    GuardEvents ev(Path());
    ev.Add({{"event", "one"}});
    ev.Add({{"event", "two"}});
  }
  std::ofstream(Path(), std::ios::app) << "{\"event\":\"torn\",\"se";  // a crash mid-write
  GuardEvents again(Path());
  auto all = again.Recent(100);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1]["event"], "two");
  EXPECT_EQ(again.Add({{"event", "three"}})["seq"], 3);
}

TEST_F(GuardEventsTest, KeepsTheNewestInMemoryAndRotatesTheFile) {
  GuardEvents ev(Path());
  const std::string big(4096, 'x');
  const size_t n = GuardEvents::kMaxFileBytes / 4096 + 10;
  for (size_t i = 0; i < n; ++i) ev.Add({{"event", "e"}, {"blob", big}});
  EXPECT_EQ(ev.Recent(100000).size(), GuardEvents::kMemoryEvents);
  struct stat st {};
  ASSERT_EQ(::stat((Path() + ".1").c_str(), &st), 0) << "not rotated";
  ASSERT_EQ(::stat(Path().c_str(), &st), 0);
  EXPECT_LE(static_cast<uint64_t>(st.st_size), GuardEvents::kMaxFileBytes);
}

TEST_F(GuardEventsTest, InMemoryOnlyWithoutAPath) {
  GuardEvents ev("");
  ev.Add({{"event", "x"}});
  EXPECT_EQ(ev.Recent(5).size(), 1u);
}

}  // namespace
}  // namespace edgetrust::guard
