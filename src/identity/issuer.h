// Issuing certificates with the device's own CAs: self-signed CA certificates, certificates for
// tracked identities, and certificates for requests from elsewhere (`edgetrust cert issue`).
// Signing happens in the secure domain (KeyService::SigningKey); this code builds, checks and
// returns the certificate, and writes nothing.
// Errors: kNotFound for an unknown CA, kFailedPrecondition for a CA that cannot issue (expired,
// not a CA), plus those of csr_policy.h and cert_builder.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"
#include "identity/cert_store.h"
#include "identity/csr_policy.h"
#include "identity/inventory.h"
#include "identity/key_service.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {

// A tracked CA ready to sign: its current generation and a handle to its key.
struct LoadedCa {
  std::string name;
  Generation generation;
  std::string key_name;
  EvpPkeyPtr signing_key;
};
Result<LoadedCa> LoadCa(const CertStore& store, KeyService& keys, const Inventory& inventory,
                        std::string_view ca_name, int64_t now);

struct IssuedCertificate {
  X509Ptr cert;
  std::vector<X509Ptr> chain;  // the issuer and what is above it; empty when self-signed
  bool capped = false;         // the lifetime was cut to end with the issuer's
};

std::string ChainPem(const IssuedCertificate& issued);

// A self-signed CA certificate for `key_name`.
Result<IssuedCertificate> SelfSignCa(KeyService& keys, std::string_view key_name,
                                     const InventoryEntry& entry, int64_t now);
// A certificate for identity `entry` and key `key_name`, signed by `ca`.
Result<IssuedCertificate> IssueForIdentity(KeyService& keys, const LoadedCa& ca,
                                           std::string_view key_name, const InventoryEntry& entry,
                                           int64_t now);

struct CsrIssue {
  IssuedCertificate issued;
  CsrPlan plan;
};
// `edgetrust cert issue`: the CSR goes through PlanFromCsr, then is certified by `ca`.
Result<CsrIssue> IssueFromCsr(KeyService& keys, const LoadedCa& ca, ByteView csr,
                              const CsrRequest& request, uint32_t days, int64_t now);

}  // namespace edgetrust::identity
