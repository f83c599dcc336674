#include "identity/identity_status.h"

#include "identity/certificate.h"
#include "identity/lifetime.h"
#include "identity/subject.h"

namespace edgetrust::identity {

IdentityStatus DescribeIdentity(const CertStore& store, const Inventory& inventory,
                                const InventoryEntry& entry, int64_t now,
                                std::optional<double> share_override) {
  IdentityStatus s;
  s.entry = entry;
  s.share = share_override.value_or(entry.renew_share);
  auto gen = store.LoadCurrent(entry.name);
  if (!gen.ok()) {
    s.state = gen.status().code() == ErrorCode::kNotFound ? "missing"
                                                          : "broken: " + gen.status().message();
    s.due = true;
    s.due_reason = "no usable current certificate";
    return s;
  }
  s.generation = gen->number;
  s.subject = DisplayName(X509_get_subject_name(gen->cert.get()));
  s.fingerprint = Fingerprint(gen->cert.get());
  s.key_reference = gen->key_pem;
  s.not_before = NotBefore(gen->cert.get());
  s.not_after = NotAfter(gen->cert.get());
  s.renew_at = RenewalTime(s.not_before, s.not_after, s.share);
  s.used = LifetimeUsed(s.not_before, s.not_after, now);
  s.expired = Expired(s.not_after, now);
  if (s.expired) {
    s.due = true;
    s.due_reason = "expired";
  } else if (RenewalDue(s.not_before, s.not_after, s.share, now)) {
    s.due = true;
    s.due_reason = "lifetime share reached";
  }
  // A leaf whose chain no longer holds its issuer's current certificate (the CA was renewed)
  // is reissued, so that chain.pem never carries an outdated CA certificate.
  if (!s.due && !entry.self_signed() && !entry.external()) {
    if (const InventoryEntry* issuer = inventory.Find(entry.issuer)) {
      auto ca = store.LoadCurrent(issuer->name);
      if (ca.ok() &&
          (gen->chain.empty() || Fingerprint(gen->chain[0].get()) != Fingerprint(ca->cert.get()))) {
        s.due = true;
        s.due_reason = "issuer " + issuer->name + " was renewed";
      }
    }
  }
  return s;
}

}  // namespace edgetrust::identity
