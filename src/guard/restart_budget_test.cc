#include "guard/restart_budget.h"

#include <gtest/gtest.h>

namespace edgetrust::guard {
namespace {

deploy::RemediationPolicy Policy() {
  deploy::RemediationPolicy p;
  p.max_restarts = 4;
  p.window_seconds = 60;
  p.backoff_initial_ms = 100;
  p.backoff_max_ms = 250;
  return p;
}

TEST(RestartBudget, FirstIsImmediateThenDoublesUpToTheMaximumThenGivesUp) {
  RestartBudget b(Policy());
  EXPECT_EQ(b.Next(1000), 0);
  EXPECT_EQ(b.Next(1000), 100);
  EXPECT_EQ(b.Next(1100), 200);
  EXPECT_EQ(b.Next(1300), 250);  // capped
  EXPECT_EQ(b.Next(1600), std::nullopt);
  EXPECT_EQ(b.Recent(1600), 4u);
}

TEST(RestartBudget, AQuietWindowRestoresTheBudget) {
  RestartBudget b(Policy());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(b.Next(1000).has_value());
  EXPECT_EQ(b.Next(2000), std::nullopt);
  // 60 s after the recreations (and their delays), the window is empty again.
  EXPECT_EQ(b.Next(1000 + 60'000 + 1000), 0);
  EXPECT_EQ(b.Recent(1000 + 60'000 + 1000), 1u);
}

TEST(RestartBudget, ZeroRestartsMeansNone) {
  deploy::RemediationPolicy p = Policy();
  p.max_restarts = 0;
  RestartBudget b(p);
  EXPECT_EQ(b.Next(0), std::nullopt);
}

TEST(RestartBudget, HugeBackoffsDoNotOverflow) {
  deploy::RemediationPolicy p = Policy();
  p.max_restarts = 1000;
  p.backoff_initial_ms = 4'000'000'000u;
  p.backoff_max_ms = 4'000'000'000u;
  RestartBudget b(p);
  EXPECT_EQ(b.Next(0), 0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.Next(0), int64_t{4'000'000'000});
}

}  // namespace
}  // namespace edgetrust::guard
