#include "identity/import.h"

#include <openssl/x509v3.h>

#include <algorithm>

#include "identity/certificate.h"
#include "identity/identity_commit.h"
#include "identity/issuer.h"
#include "identity/san.h"
#include "identity/subject.h"

namespace edgetrust::identity {
namespace {

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

Profile ProfileOf(X509* cert) {
  if (IsCa(cert)) return Profile::kCa;
  const uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_XKUSAGE) == 0) return Profile::kClientServer;  // no EKU: any purpose
  const uint32_t xku = X509_get_extended_key_usage(cert);
  const bool server = (xku & XKU_SSL_SERVER) != 0;
  const bool client = (xku & XKU_SSL_CLIENT) != 0;
  if (server && client) return Profile::kClientServer;
  if (server) return Profile::kServer;
  return Profile::kClient;
}

std::string Describe(const X509* cert) { return DisplayName(X509_get_subject_name(cert)); }

}  // namespace

Result<ImportReport> ImportCertificate(const CertStore& store, KeyService& keys,
                                       std::string_view name, std::string_view cert_pem,
                                       std::string_view chain_pem, int64_t now) {
  if (!IsValidIdentityName(name)) {
    return Invalid("identity name \"" + std::string(name.substr(0, 64)) +
                   "\" must be 1..48 of [A-Za-z0-9._-]");
  }
  ET_ASSIGN_OR_RETURN(auto certs, ParseCertificates(cert_pem, "certificate file"));
  ET_ASSIGN_OR_RETURN(auto extra, ParseCertificatesOrEmpty(chain_pem, "chain file"));
  IssuedCertificate issued;
  issued.cert = std::move(certs[0]);
  for (size_t i = 1; i < certs.size(); ++i) issued.chain.push_back(std::move(certs[i]));
  for (auto& c : extra) issued.chain.push_back(std::move(c));
  X509* leaf = issued.cert.get();

  ET_ASSIGN_OR_RETURN(std::optional<KeyType> key_type, keys.Find(name));
  if (!key_type) {
    return Status(ErrorCode::kNotFound, "there is no key " + std::string(name) +
                                            " (make it and a CSR with: edgetrust cert csr " +
                                            std::string(name) + " ...)");
  }
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr pub, keys.PublicKey(name));
  if (!SameKey(pub.get(), PublicKey(leaf))) {
    return Invalid("the certificate is for public key sha256:" + KeyFingerprint(PublicKey(leaf)) +
                   ", but key " + std::string(name) + " is sha256:" + KeyFingerprint(pub.get()));
  }
  if (NotAfter(leaf) <= now) return Invalid("the certificate has expired");
  for (size_t i = 0; i < issued.chain.size(); ++i) {
    const X509* below = i == 0 ? leaf : issued.chain[i - 1].get();
    if (!IsIssuedBy(below, issued.chain[i].get())) {
      return Invalid("chain certificate " + std::to_string(i + 1) + " (" +
                     Describe(issued.chain[i].get()) + ") did not issue " + Describe(below));
    }
    if (!IsCa(issued.chain[i].get())) {
      return Invalid("chain certificate " + std::to_string(i + 1) + " (" +
                     Describe(issued.chain[i].get()) + ") is not a CA certificate");
    }
  }
  ET_ASSIGN_OR_RETURN(FolderLock lock, store.Lock());
  ET_ASSIGN_OR_RETURN(Inventory inv, store.LoadInventory());

  InventoryEntry entry;
  entry.name = std::string(name);
  entry.issuer = std::string(kIssuerExternal);
  entry.profile = ProfileOf(leaf);
  // Issued by one of our own CAs? Then renewal can be ours, and the chain defaults to its.
  for (const auto& e : inv.entries) {
    if (e.profile != Profile::kCa || e.name == name || !e.self_signed()) continue;
    auto ca = store.LoadCurrent(e.name);
    if (ca.ok() && entry.profile != Profile::kCa && IsIssuedBy(leaf, ca->cert.get())) {
      entry.issuer = e.name;
      if (issued.chain.empty()) {
        ET_ASSIGN_OR_RETURN(X509Ptr dup, Duplicate(ca->cert.get()));
        issued.chain.push_back(std::move(dup));
      }
      break;
    }
  }
  auto subject = FromX509Name(X509_get_subject_name(leaf));
  if (!subject.ok()) return Invalid("certificate " + subject.status().message());
  entry.subject = std::move(subject).value();
  ET_ASSIGN_OR_RETURN(entry.sans, SansOfCertificate(leaf));
  const int64_t lifetime = NotAfter(leaf) - NotBefore(leaf);
  entry.days = static_cast<uint32_t>(
      std::clamp<int64_t>((lifetime + 43200) / 86400, 1, static_cast<int64_t>(kMaxDays)));
  entry.key_type = *key_type;
  if (const InventoryEntry* old = inv.Find(name)) {
    entry.renew_share = old->renew_share;
    entry.fresh_key = old->fresh_key && !entry.external();
  }
  inv.Put(entry);
  ET_RETURN_IF_ERROR(ValidateInventory(inv));
  ET_ASSIGN_OR_RETURN(CommitResult commit, CommitIdentity(store, keys, name, name, issued));
  ET_RETURN_IF_ERROR(store.SaveInventory(inv));

  ImportReport report;
  report.name = entry.name;
  report.issuer = entry.issuer;
  report.profile = std::string(ProfileName(entry.profile));
  report.generation = commit.generation;
  report.not_after = NotAfter(leaf);
  report.subject = Describe(leaf);
  report.fingerprint = Fingerprint(leaf);
  report.chain_length = issued.chain.size();
  return report;
}

}  // namespace edgetrust::identity
