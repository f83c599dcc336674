#include "identity/lifetime.h"

#include <algorithm>
#include <cmath>

namespace edgetrust::identity {

bool IsValidShare(double share) { return share > 0.0 && share <= 1.0; }

double LifetimeUsed(int64_t not_before, int64_t not_after, int64_t now) {
  if (not_after <= not_before) return 1.0;
  if (now <= not_before) return 0.0;
  if (now >= not_after) return 1.0;
  // long double: spans up to centuries in seconds keep their precision.
  const long double used =
      static_cast<long double>(now - not_before) / static_cast<long double>(not_after - not_before);
  return static_cast<double>(used);
}

int64_t RenewalTime(int64_t not_before, int64_t not_after, double share) {
  if (not_after <= not_before) return not_before;
  const double s = IsValidShare(share) ? share : kDefaultRenewShare;
  const long double span = static_cast<long double>(not_after - not_before);
  const auto offset = static_cast<int64_t>(std::floor(span * static_cast<long double>(s)));
  return std::min(not_after, not_before + offset);
}

bool RenewalDue(int64_t not_before, int64_t not_after, double share, int64_t now) {
  return now >= RenewalTime(not_before, not_after, share) || Expired(not_after, now);
}

bool Expired(int64_t not_after, int64_t now) { return now >= not_after; }

}  // namespace edgetrust::identity
