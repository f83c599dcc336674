#include "identity/renewal.h"

#include "identity/certificate.h"
#include "identity/crash_point.h"
#include "identity/identity_commit.h"
#include "identity/identity_status.h"
#include "identity/issuer.h"
#include "identity/lifetime.h"

namespace edgetrust::identity {
namespace {

// The key the new generation will use, created if needed.
Result<std::string> ChooseKey(const CertStore& store, KeyService& keys, const InventoryEntry& entry,
                              uint32_t next_gen, bool* fresh) {
  auto current = store.LoadCurrent(entry.name);
  std::string key = entry.name;
  if (current.ok()) {
    ET_ASSIGN_OR_RETURN(key, keys.NameFromReference(current->key_pem));
  }
  *fresh = entry.fresh_key && current.ok();
  if (*fresh) {
    // A key left by an interrupted run under this name was made for this very generation and
    // never used: Ensure takes it instead of failing or leaking it.
    key = entry.name + ".g" + std::to_string(next_gen);
  }
  ET_ASSIGN_OR_RETURN(bool created, keys.Ensure(key, entry.key_type, /*require_type=*/false));
  (void)created;
  CrashPoint("key-created");
  return key;
}

bool IsCaFirst(const InventoryEntry& e) { return e.self_signed(); }

}  // namespace

Result<RenewOutcome> RenewIdentity(const CertStore& store, KeyService& keys,
                                   const Inventory& inventory, const InventoryEntry& entry,
                                   int64_t now) {
  RenewOutcome out;
  out.name = entry.name;
  if (entry.external()) {
    return Status(ErrorCode::kFailedPrecondition,
                  entry.name + " is issued by an external CA: make a CSR (edgetrust cert csr " +
                      entry.name + " ...) and import the new certificate");
  }
  if (auto current = store.LoadCurrent(entry.name); current.ok()) {
    out.old_not_after = NotAfter(current->cert.get());
  }
  ET_RETURN_IF_ERROR(store.CleanUncommitted(entry.name));
  ET_ASSIGN_OR_RETURN(uint32_t next, NextGeneration(store, entry.name));
  ET_ASSIGN_OR_RETURN(out.key, ChooseKey(store, keys, entry, next, &out.fresh_key));

  IssuedCertificate issued;
  if (entry.self_signed()) {
    ET_ASSIGN_OR_RETURN(issued, SelfSignCa(keys, out.key, entry, now));
  } else {
    ET_ASSIGN_OR_RETURN(LoadedCa ca, LoadCa(store, keys, inventory, entry.issuer, now));
    ET_ASSIGN_OR_RETURN(issued, IssueForIdentity(keys, ca, out.key, entry, now));
  }
  CrashPoint("cert-signed");
  ET_ASSIGN_OR_RETURN(CommitResult commit,
                      CommitIdentity(store, keys, entry.name, out.key, issued));
  out.action = "renewed";
  out.generation = commit.generation;
  out.new_not_after = NotAfter(issued.cert.get());
  out.capped = issued.capped;
  out.deleted_keys = std::move(commit.deleted_keys);
  return out;
}

Result<std::vector<RenewOutcome>> RenewIdentities(const CertStore& store, KeyService* keys,
                                                  const RenewOptions& options) {
  if (keys == nullptr && !options.dry_run) {
    return Status(ErrorCode::kInvalidArgument, "renewal needs the secure domain's keys");
  }
  if (options.share && !IsValidShare(*options.share)) {
    return Status(ErrorCode::kInvalidArgument, "--share must be greater than 0 and at most 1");
  }
  std::optional<FolderLock> lock;
  if (!options.dry_run) {
    ET_ASSIGN_OR_RETURN(FolderLock l, store.Lock());
    lock.emplace(std::move(l));
  }
  ET_ASSIGN_OR_RETURN(Inventory inventory, store.LoadInventory());
  if (!options.name.empty() && inventory.Find(options.name) == nullptr) {
    return Status(ErrorCode::kNotFound, "no tracked identity named " + options.name);
  }
  std::vector<const InventoryEntry*> order;
  for (bool ca_pass : {true, false}) {
    for (const auto& e : inventory.entries) {
      if (IsCaFirst(e) == ca_pass && (options.name.empty() || e.name == options.name)) {
        order.push_back(&e);
      }
    }
  }
  std::vector<RenewOutcome> outcomes;
  std::vector<std::string> due_cas;  // for the dry run: their leaves will follow
  for (const InventoryEntry* e : order) {
    IdentityStatus st = DescribeIdentity(store, inventory, *e, options.at, options.share);
    RenewOutcome out;
    out.name = e->name;
    out.old_not_after = st.not_after;
    out.reason = st.due_reason;
    bool due = st.due || options.force;
    if (!st.due && options.force) out.reason = "forced";
    if (!due && options.dry_run && !e->self_signed() && !e->external()) {
      for (const auto& ca : due_cas) {
        if (ca == e->issuer) {
          due = true;
          out.reason = "issuer " + ca + " is due";
        }
      }
    }
    if (!due) {
      out.action = "not-due";
      outcomes.push_back(std::move(out));
      continue;
    }
    if (e->external()) {
      out.action = "needs-external-renewal";
      outcomes.push_back(std::move(out));
      continue;
    }
    if (options.dry_run) {
      out.action = "due";
      if (e->self_signed()) due_cas.push_back(e->name);
      outcomes.push_back(std::move(out));
      continue;
    }
    auto renewed = RenewIdentity(store, *keys, inventory, *e, options.now);
    if (!renewed.ok()) {
      out.action = "failed";
      out.status = renewed.status();
      outcomes.push_back(std::move(out));
      continue;
    }
    std::string reason = out.reason;
    out = std::move(renewed).value();
    out.reason = reason;
    outcomes.push_back(std::move(out));
  }
  return outcomes;
}

}  // namespace edgetrust::identity
