// The arithmetic of renewal: how much of a certificate's lifetime is used, and when it is due.
//
// A certificate valid from `not_before` to `not_after` is due for renewal once `share` of that
// span has passed (0.8: after 80%), and of course once it has expired. Computed in integer
// seconds (the share is rounded down to a whole second), so the boundary is exact and the same
// on every machine. Thread safety: pure functions.
#pragma once

#include <cstdint>

namespace edgetrust::identity {

inline constexpr double kDefaultRenewShare = 0.8;

// True for 0 < share <= 1 (and not NaN).
bool IsValidShare(double share);
// The share of the lifetime used at `now`, clamped to [0, 1]; 1 for an empty or inverted span.
double LifetimeUsed(int64_t not_before, int64_t not_after, int64_t now);
// The first second at which renewal is due: not_before + floor(share * lifetime), at the latest
// not_after.
int64_t RenewalTime(int64_t not_before, int64_t not_after, double share);
bool RenewalDue(int64_t not_before, int64_t not_after, double share, int64_t now);
bool Expired(int64_t not_after, int64_t now);

}  // namespace edgetrust::identity
