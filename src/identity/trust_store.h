// Trust bundles: the CA certificates trusted for each purpose, kept where other programs can use
// them directly and protected against modification behind our back.
//
//   <cert-dir>/trust/<purpose>.pem       the CA certificates, PEM (mosquitto's cafile, curl's
//                                        --cacert, nginx's ssl_client_certificate)
//   <cert-dir>/trust/<purpose>.pem.mac   HMAC-SHA256 over the bundle by the secure-domain key
//                                        "trust-bundle-mac" (created on first use)
//
// Purposes: cloud (the cloud endpoint's CAs), update (update signers' CAs), deployment
// (deployment manifest signers' CAs), leaf (CAs of leaf devices allowed to connect).
//
// The MAC covers a domain-separation label, the purpose and the bundle's bytes, so neither an
// edited bundle nor one bundle copied over another verifies. Loading a bundle (Load) checks it and
// answers kTampered when it does not match, when the .mac file is missing or damaged, or when a
// bundle that had a MAC has disappeared. Only CA certificates (basicConstraints CA:TRUE) or
// self-signed roots are accepted, each valid now.
//
// Crash safety: a change first writes a .mac file holding the MACs of both the old and the new
// bundle, then the bundle, then a .mac with only the new MAC (each write atomic), so a crash at any
// point leaves a bundle that verifies. A bundle stays replaceable only by one we wrote ourselves.
//
// Thread safety: a TrustStore is used by one thread at a time; processes serialise changes with
// the certificate folder's lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"
#include "identity/cert_store.h"
#include "identity/key_service.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {

enum class TrustPurpose { kCloud, kUpdate, kDeployment, kLeaf };

inline constexpr char kTrustMacKey[] = "trust-bundle-mac";

std::string_view TrustPurposeName(TrustPurpose purpose);
// kInvalidArgument naming the valid purposes.
Result<TrustPurpose> ParseTrustPurpose(std::string_view name);
std::vector<TrustPurpose> AllTrustPurposes();

struct TrustEntry {
  std::string subject;
  std::string fingerprint;  // sha256 of the DER, lower-case hex
  int64_t not_after = 0;
  bool self_signed = false;
};

class TrustStore {
 public:
  TrustStore(const CertStore& store, KeyService& keys) : store_(store), keys_(keys) {}

  std::string BundlePath(TrustPurpose purpose) const;
  std::string MacPath(TrustPurpose purpose) const;

  // The verified certificates of a bundle; empty when there is no bundle. kTampered as above.
  Result<std::vector<X509Ptr>> Load(TrustPurpose purpose);
  Result<std::vector<TrustEntry>> List(TrustPurpose purpose);

  struct AddResult {
    std::vector<TrustEntry> added;
    std::vector<TrustEntry> already_present;
  };
  // Adds every certificate of `pem` (all or none: one unacceptable certificate refuses the file).
  Result<AddResult> Add(TrustPurpose purpose, std::string_view pem, int64_t now);
  // Removes the certificate with this fingerprint; kNotFound if the bundle does not hold it.
  Result<TrustEntry> Remove(TrustPurpose purpose, std::string_view fingerprint);
  // Deletes the bundle and its MAC even if tampered: the way back to a known state.
  Status RemoveAll(TrustPurpose purpose);

 private:
  Bytes MacInput(TrustPurpose purpose, std::string_view bundle) const;
  Status EnsureMacKey();
  // Writes `certs` as the bundle (see the crash-safety note); `old_bundle` is what is there now.
  Status Write(TrustPurpose purpose, const std::string& old_bundle,
               const std::vector<X509Ptr>& certs);

  const CertStore& store_;
  KeyService& keys_;
};

}  // namespace edgetrust::identity
