#include "identity/issuer.h"

#include "identity/cert_builder.h"
#include "identity/certificate.h"

namespace edgetrust::identity {
namespace {

Result<std::vector<X509Ptr>> ChainAbove(const LoadedCa& ca) {
  std::vector<X509Ptr> chain;
  ET_ASSIGN_OR_RETURN(X509Ptr top, Duplicate(ca.generation.cert.get()));
  chain.push_back(std::move(top));
  for (const auto& c : ca.generation.chain) {
    ET_ASSIGN_OR_RETURN(X509Ptr dup, Duplicate(c.get()));
    chain.push_back(std::move(dup));
  }
  return chain;
}

Result<IssuedCertificate> Issue(KeyService& keys, const LoadedCa& ca, const CertSpec& base,
                                uint32_t days, int64_t now) {
  CertSpec spec = base;
  Validity v = ComputeValidity(now, days, NotAfter(ca.generation.cert.get()));
  spec.not_before = v.not_before;
  spec.not_after = v.not_after;
  ET_ASSIGN_OR_RETURN(OSSL_LIB_CTX * libctx, keys.LibraryContext());
  CertSigner signer{ca.generation.cert.get(), ca.signing_key.get(), libctx};
  ET_ASSIGN_OR_RETURN(X509Ptr cert, BuildCertificate(spec, signer));
  IssuedCertificate out;
  out.cert = std::move(cert);
  out.capped = v.capped;
  ET_ASSIGN_OR_RETURN(out.chain, ChainAbove(ca));
  return out;
}

}  // namespace

Result<LoadedCa> LoadCa(const CertStore& store, KeyService& keys, const Inventory& inventory,
                        std::string_view ca_name, int64_t now) {
  const InventoryEntry* entry = inventory.Find(ca_name);
  if (entry == nullptr) {
    return Status(ErrorCode::kNotFound, "no tracked CA named " + std::string(ca_name) +
                                            " (edgetrust cert list shows the tracked identities)");
  }
  if (entry->profile != Profile::kCa) {
    return Status(ErrorCode::kFailedPrecondition, std::string(ca_name) + " is a " +
                                                      std::string(ProfileName(entry->profile)) +
                                                      " identity, not a CA");
  }
  LoadedCa ca;
  ca.name = std::string(ca_name);
  ET_ASSIGN_OR_RETURN(ca.generation, store.LoadCurrent(ca_name));
  if (!IsCa(ca.generation.cert.get())) {
    return Status(ErrorCode::kFailedPrecondition,
                  "the current certificate of " + ca.name + " is not a CA certificate");
  }
  if (NotAfter(ca.generation.cert.get()) <= now) {
    return Status(
        ErrorCode::kFailedPrecondition,
        "CA " + ca.name + " has expired (renew it: edgetrust cert renew --name " + ca.name + ")");
  }
  ET_ASSIGN_OR_RETURN(ca.key_name, keys.NameFromReference(ca.generation.key_pem));
  ET_ASSIGN_OR_RETURN(ca.signing_key, keys.SigningKey(ca.key_name));
  // The key the CA certificate certifies must be the one that will sign.
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr pub, keys.PublicKey(ca.key_name));
  if (!SameKey(pub.get(), PublicKey(ca.generation.cert.get()))) {
    return Status(ErrorCode::kFailedPrecondition,
                  "CA " + ca.name + ": its certificate is not for key " + ca.key_name);
  }
  return ca;
}

std::string ChainPem(const IssuedCertificate& issued) { return ToPem(issued.chain); }

Result<IssuedCertificate> SelfSignCa(KeyService& keys, std::string_view key_name,
                                     const InventoryEntry& entry, int64_t now) {
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr pub, keys.PublicKey(key_name));
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr signing, keys.SigningKey(key_name));
  ET_ASSIGN_OR_RETURN(OSSL_LIB_CTX * libctx, keys.LibraryContext());
  CertSpec spec;
  spec.profile = Profile::kCa;
  spec.subject = entry.subject;
  spec.subject_key = pub.get();
  Validity v = ComputeValidity(now, entry.days, 0);
  spec.not_before = v.not_before;
  spec.not_after = v.not_after;
  ET_ASSIGN_OR_RETURN(X509Ptr cert,
                      BuildCertificate(spec, CertSigner{nullptr, signing.get(), libctx}));
  IssuedCertificate out;
  out.cert = std::move(cert);
  return out;
}

Result<IssuedCertificate> IssueForIdentity(KeyService& keys, const LoadedCa& ca,
                                           std::string_view key_name, const InventoryEntry& entry,
                                           int64_t now) {
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr pub, keys.PublicKey(key_name));
  CertSpec spec;
  spec.profile = entry.profile;
  spec.subject = entry.subject;
  spec.sans = entry.sans;
  spec.subject_key = pub.get();
  return Issue(keys, ca, spec, entry.days, now);
}

Result<CsrIssue> IssueFromCsr(KeyService& keys, const LoadedCa& ca, ByteView csr,
                              const CsrRequest& request, uint32_t days, int64_t now) {
  if (days < 1 || days > kMaxDays) {
    return Status(ErrorCode::kInvalidArgument, "--days must be 1.." + std::to_string(kMaxDays));
  }
  CsrIssue out;
  ET_ASSIGN_OR_RETURN(out.plan, PlanFromCsr(csr, request));
  CertSpec spec;
  spec.profile = request.profile;
  spec.subject = out.plan.subject;
  spec.sans = out.plan.sans;
  spec.subject_key = out.plan.public_key.get();
  ET_ASSIGN_OR_RETURN(out.issued, Issue(keys, ca, spec, days, now));
  return out;
}

}  // namespace edgetrust::identity
