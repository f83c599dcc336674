#include "identity/lifetime.h"

#include <gtest/gtest.h>

namespace edgetrust::identity {
namespace {

TEST(LifetimeTest, ShareUsed) {
  EXPECT_DOUBLE_EQ(LifetimeUsed(1000, 2000, 1000), 0.0);
  EXPECT_DOUBLE_EQ(LifetimeUsed(1000, 2000, 1500), 0.5);
  EXPECT_DOUBLE_EQ(LifetimeUsed(1000, 2000, 1800), 0.8);
  EXPECT_DOUBLE_EQ(LifetimeUsed(1000, 2000, 500), 0.0);   // not yet valid
  EXPECT_DOUBLE_EQ(LifetimeUsed(1000, 2000, 9000), 1.0);  // expired
  EXPECT_DOUBLE_EQ(LifetimeUsed(2000, 1000, 1500), 1.0);  // inverted span
  EXPECT_DOUBLE_EQ(LifetimeUsed(1000, 1000, 1000), 1.0);  // empty span
}

TEST(LifetimeTest, RenewalIsDueExactlyAtTheShare) {
  // A year from 2025-01-01, renewed at 80%.
  const int64_t nb = 1735689600;
  const int64_t na = nb + 365 * 86400;
  const int64_t at = RenewalTime(nb, na, 0.8);
  EXPECT_EQ(at, nb + 292 * 86400);
  EXPECT_FALSE(RenewalDue(nb, na, 0.8, at - 1));
  EXPECT_TRUE(RenewalDue(nb, na, 0.8, at));
  EXPECT_TRUE(RenewalDue(nb, na, 0.8, na + 10));
  EXPECT_FALSE(RenewalDue(nb, na, 1.0, na - 1));
  EXPECT_TRUE(RenewalDue(nb, na, 1.0, na));
}

TEST(LifetimeTest, ShareIsRoundedDownToAWholeSecond) {
  EXPECT_EQ(RenewalTime(0, 10, 0.25), 2);     // 2.5 s -> 2 s
  EXPECT_EQ(RenewalTime(100, 50, 0.5), 100);  // inverted: due at once
}

TEST(LifetimeTest, InvalidSharesFallBackToTheDefault) {
  EXPECT_FALSE(IsValidShare(0.0));
  EXPECT_FALSE(IsValidShare(-0.1));
  EXPECT_FALSE(IsValidShare(1.01));
  EXPECT_TRUE(IsValidShare(1.0));
  EXPECT_TRUE(IsValidShare(0.01));
  EXPECT_EQ(RenewalTime(0, 1000, 7.0), RenewalTime(0, 1000, kDefaultRenewShare));
}

TEST(LifetimeTest, LongLifetimesKeepSecondPrecision) {
  const int64_t nb = 0;
  const int64_t na = 36500LL * 86400;  // a century
  EXPECT_EQ(RenewalTime(nb, na, 0.5), na / 2);
  EXPECT_TRUE(Expired(na, na));
  EXPECT_FALSE(Expired(na, na - 1));
}

}  // namespace
}  // namespace edgetrust::identity
