// `edgetrust cert renew` (and later the agent's renewal timer): renews every tracked identity
// past its share of lifetime, each through CommitIdentity (identity_commit.h), so an interrupted
// renewal leaves the previous certificate and key current and the next run completes it.
//
// Order: self-signed CAs first, then the certificates they issue, which are re-evaluated after
// their CA was renewed (a renewed CA makes its leaves due, so their chains stay current).
// Identities of an external issuer cannot be renewed here: they are reported as
// "needs-external-renewal" (with --name, that is an error).
// With fresh_key, the new certificate is for a new key NAME.gN created in the secure domain;
// otherwise the current key is certified again.
//
// Crash points (crash_point.h), in order: key-created, cert-signed, then those of
// CertStore::WriteGeneration / SwitchCurrent (cert-written, generation-written,
// generation-committed, link-created, current-switched) and of pruning (old-key-deleted,
// old-generation-removed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "edgetrust/status.h"
#include "identity/cert_store.h"
#include "identity/key_service.h"

namespace edgetrust::identity {

struct RenewOptions {
  std::optional<double> share;  // overrides every entry's renew share
  std::string name;             // only this identity
  bool force = false;           // renew even when not due
  bool dry_run = false;         // decide and report, change nothing
  int64_t at = 0;               // the time due-ness is judged at
  int64_t now = 0;              // the time new certificates start at
};

struct RenewOutcome {
  std::string name;
  // "renewed", "not-due", "due" (dry run), "needs-external-renewal", "failed"
  std::string action;
  std::string reason;  // why it was due, or what failed
  int64_t old_not_after = 0;
  int64_t new_not_after = 0;
  uint32_t generation = 0;
  std::string key;
  bool fresh_key = false;
  bool capped = false;
  std::vector<std::string> deleted_keys;
  Status status;
};

// Takes the folder lock (unless dry_run). Per-identity failures are reported in their outcome
// and do not stop the others; the Result is an error only when nothing could be attempted
// (unreadable inventory, unknown --name, lock held). `keys` may be null for a dry run, which
// decides from the files alone.
Result<std::vector<RenewOutcome>> RenewIdentities(const CertStore& store, KeyService* keys,
                                                  const RenewOptions& options);

// Renews one identity unconditionally (no lock taken: the caller holds it).
Result<RenewOutcome> RenewIdentity(const CertStore& store, KeyService& keys,
                                   const Inventory& inventory, const InventoryEntry& entry,
                                   int64_t now);

}  // namespace edgetrust::identity
