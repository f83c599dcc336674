// The state of a tracked identity as `edgetrust cert list` and `cert renew` see it: its current
// certificate's validity, the share of its lifetime used, and whether (and why) it is due for
// renewal. Reads only; never needs the secure domain.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "identity/cert_store.h"
#include "identity/inventory.h"
#include "identity/lifetime.h"

namespace edgetrust::identity {

struct IdentityStatus {
  InventoryEntry entry;
  double share = kDefaultRenewShare;  // the share in force (the entry's or an override)
  std::optional<uint32_t> generation;
  std::string state = "ok";  // "ok", or what is wrong with the current generation
  std::string subject;       // of the current certificate
  std::string fingerprint;
  std::string key_reference;  // key.pem's contents
  int64_t not_before = 0;
  int64_t not_after = 0;
  int64_t renew_at = 0;
  double used = 0;
  bool expired = false;
  bool due = false;
  std::string due_reason;  // "lifetime share reached", "expired", "issuer renewed", ...
};

// `share_override` (if set) replaces the entry's renew share.
IdentityStatus DescribeIdentity(const CertStore& store, const Inventory& inventory,
                                const InventoryEntry& entry, int64_t now,
                                std::optional<double> share_override = std::nullopt);

}  // namespace edgetrust::identity
