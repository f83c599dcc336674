#include "identity/provisioning.h"

#include <unistd.h>

#include <cctype>

#include "identity/certificate.h"
#include "identity/identity_commit.h"
#include "identity/issuer.h"
#include "identity/san.h"

namespace edgetrust::identity {
namespace {

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

InventoryEntry CaEntry(const std::string& id, const ProvisionOptions& o) {
  InventoryEntry e;
  e.name = kDeviceCa;
  e.issuer = std::string(kIssuerSelf);
  e.profile = Profile::kCa;
  e.subject.attributes = {{"CN", id + " device CA"}, {"O", "EdgeTrust"}};
  e.days = o.ca_days;
  e.key_type = o.key_type;
  return e;
}

InventoryEntry DeviceEntry(const std::string& id, const ProvisionOptions& o) {
  InventoryEntry e;
  e.name = kDeviceIdentity;
  e.issuer = kDeviceCa;
  e.profile = Profile::kClientServer;
  e.subject.attributes = {{"CN", id}, {"O", "EdgeTrust"}};
  e.sans.push_back(San{SanType::kUri, "urn:edgetrust:device:" + id});
  if (IsValidDnsName(id)) {
    std::string dns = id;
    for (char& c : dns) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    e.sans.push_back(San{SanType::kDns, dns});
  }
  e.days = o.days;
  e.key_type = o.key_type;
  return e;
}

// Keeps what an operator tuned on an existing entry (renewal share, fresh-key choice).
void KeepTuning(InventoryEntry& fresh, const InventoryEntry* old) {
  if (old == nullptr) return;
  fresh.renew_share = old->renew_share;
  fresh.fresh_key = old->fresh_key;
}

ProvisionedItem Describe(const CertStore& store, const std::string& identity) {
  ProvisionedItem item;
  item.identity = identity;
  item.cert_path = store.CurrentDir(identity) + "/cert.pem";
  if (auto g = store.LoadCurrent(identity); g.ok()) {
    item.generation = g->number;
    item.subject = DisplayName(X509_get_subject_name(g->cert.get()));
    if (auto sans = SansOfCertificate(g->cert.get()); sans.ok()) item.sans = FormatSans(*sans);
    item.not_after = NotAfter(g->cert.get());
    item.fingerprint = Fingerprint(g->cert.get());
  }
  return item;
}

bool HasCurrent(const CertStore& store, const std::string& identity) {
  return store.LoadCurrent(identity).ok();
}

// The key the identity's current certificate is for (renewal with fresh keys moves it to
// NAME.gN), or the identity's own name before there is a certificate.
Result<std::string> CurrentKeyOr(const CertStore& store, KeyService& keys,
                                 const std::string& identity) {
  auto g = store.LoadCurrent(identity);
  if (!g.ok()) return identity;
  return keys.NameFromReference(g->key_pem);
}

}  // namespace

Result<std::string> DefaultDeviceId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    return Invalid("cannot read the host name; pass --id DEVICE_ID");
  }
  std::string id = host;
  if (!IsValidDeviceId(id)) {
    return Invalid("host name \"" + id + "\" is not a valid device id; pass --id DEVICE_ID");
  }
  return id;
}

Result<ProvisionReport> Provision(const CertStore& store, KeyService& keys,
                                  const ProvisionOptions& o) {
  if (!o.device_id.empty() && !IsValidDeviceId(o.device_id)) {
    return Invalid("device id \"" + o.device_id.substr(0, 64) +
                   "\" must be 1..64 of [A-Za-z0-9._-], not starting with '.' or '-'");
  }
  if (!IsAsymmetric(o.key_type)) return Invalid("--key-type must be a signing key type");
  if (o.days < 1 || o.days > kMaxDays || o.ca_days < 1 || o.ca_days > kMaxDays) {
    return Invalid("--days and --ca-days must be 1.." + std::to_string(kMaxDays));
  }
  if (o.days > o.ca_days) return Invalid("--days must not exceed --ca-days");
  ET_ASSIGN_OR_RETURN(FolderLock lock, store.Lock());
  ET_ASSIGN_OR_RETURN(Inventory inv, store.LoadInventory());

  const bool complete = !inv.device_id.empty() && inv.Find(kDeviceCa) != nullptr &&
                        inv.Find(kDeviceIdentity) != nullptr && HasCurrent(store, kDeviceCa) &&
                        HasCurrent(store, kDeviceIdentity);
  if (!inv.device_id.empty() && !o.device_id.empty() && o.device_id != inv.device_id && !o.force) {
    return Status(ErrorCode::kFailedPrecondition, "this device is provisioned as " + inv.device_id +
                                                      " (pass --force to re-provision it as " +
                                                      o.device_id + ")");
  }
  ProvisionReport report;
  if (complete && !o.force) {
    report.already_provisioned = true;
    report.device_id = inv.device_id;
    for (const char* id : {kDeviceCa, kDeviceIdentity}) {
      ProvisionedItem item = Describe(store, id);
      if (const InventoryEntry* e = inv.Find(id)) item.key_type = KeyTypeName(e->key_type);
      if (auto g = store.LoadCurrent(id); g.ok()) {
        if (auto k = keys.NameFromReference(g->key_pem); k.ok()) item.key = *k;
      }
      report.items.push_back(std::move(item));
    }
    return report;
  }

  std::string id = o.device_id.empty() ? inv.device_id : o.device_id;
  if (id.empty()) {
    ET_ASSIGN_OR_RETURN(id, DefaultDeviceId());
  }
  report.device_id = id;

  // Keys first (an existing key is kept whatever its type), so the inventory records the type
  // the keys really have.
  ET_ASSIGN_OR_RETURN(const std::string ca_key, CurrentKeyOr(store, keys, kDeviceCa));
  ET_ASSIGN_OR_RETURN(const std::string dev_key, CurrentKeyOr(store, keys, kDeviceIdentity));
  ProvisionedItem ca_item, dev_item;
  ET_ASSIGN_OR_RETURN(ca_item.key_created, keys.Ensure(ca_key, o.key_type, false));
  ET_ASSIGN_OR_RETURN(dev_item.key_created, keys.Ensure(dev_key, o.key_type, false));
  ET_ASSIGN_OR_RETURN(std::optional<KeyType> ca_type, keys.Find(ca_key));
  ET_ASSIGN_OR_RETURN(std::optional<KeyType> dev_type, keys.Find(dev_key));
  if (!ca_type || !dev_type) return Status(ErrorCode::kInternal, "a key vanished after creation");

  InventoryEntry ca = CaEntry(id, o);
  ca.key_type = *ca_type;
  KeepTuning(ca, inv.Find(kDeviceCa));
  InventoryEntry dev = DeviceEntry(id, o);
  dev.key_type = *dev_type;
  KeepTuning(dev, inv.Find(kDeviceIdentity));
  const bool id_changed = inv.device_id != id;
  inv.device_id = id;
  inv.Put(ca);
  inv.Put(dev);
  ET_RETURN_IF_ERROR(store.SaveInventory(inv));

  const bool issue_ca = o.force || id_changed || !HasCurrent(store, kDeviceCa);
  if (issue_ca) {
    ET_ASSIGN_OR_RETURN(IssuedCertificate cert, SelfSignCa(keys, ca_key, ca, o.now));
    ET_ASSIGN_OR_RETURN(CommitResult c, CommitIdentity(store, keys, kDeviceCa, ca_key, cert));
    (void)c;
  }
  const bool issue_dev = issue_ca || !HasCurrent(store, kDeviceIdentity);
  if (issue_dev) {
    ET_ASSIGN_OR_RETURN(LoadedCa loaded, LoadCa(store, keys, inv, kDeviceCa, o.now));
    ET_ASSIGN_OR_RETURN(IssuedCertificate cert,
                        IssueForIdentity(keys, loaded, dev_key, dev, o.now));
    ET_ASSIGN_OR_RETURN(CommitResult c,
                        CommitIdentity(store, keys, kDeviceIdentity, dev_key, cert));
    (void)c;
  }
  ProvisionedItem ca_desc = Describe(store, kDeviceCa);
  ca_desc.key = ca_key;
  ca_desc.key_type = KeyTypeName(*ca_type);
  ca_desc.key_created = ca_item.key_created;
  ca_desc.issued = issue_ca;
  ProvisionedItem dev_desc = Describe(store, kDeviceIdentity);
  dev_desc.key = dev_key;
  dev_desc.key_type = KeyTypeName(*dev_type);
  dev_desc.key_created = dev_item.key_created;
  dev_desc.issued = issue_dev;
  report.items = {std::move(ca_desc), std::move(dev_desc)};
  return report;
}

}  // namespace edgetrust::identity
