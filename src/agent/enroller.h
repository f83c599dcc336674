// Enrollment of leaf sensors: a one-time token (from `edgetrust leaf add NAME`) and a CSR for a
// key the sensor generated itself become a client certificate from the gateway's leaf CA.
//
// The CSR must be for CN=NAME (the name the token was issued for) and is checked by the same
// policy as `edgetrust cert issue` (csr_policy.h): signature verified, CA powers ignored. The
// token is consumed in the registry only once the certificate exists, atomically, so of two
// connections racing with one token exactly one gets a certificate.
//
// Errors carry the reason for the log and for the sensor ("token already used", "token expired",
// "the CSR is for CN=x, not CN=y", ...). Thread safety: Enroll may be called from any thread;
// issuing is serialised (enrollment is rare, and the certificate folder is shared).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/leaf_registry.h"
#include "edgetrust/status.h"

#include <openssl/types.h>

namespace edgetrust::agent {

// A certificate's serial number in upper-case hex, as the registry records it for a leaf.
std::string CertificateSerialHex(const X509* cert);

class Enroller {
 public:
  struct Options {
    std::string sd_socket;
    std::string cert_dir;
    std::string leaf_ca = "device-ca";
    uint32_t days = 365;
  };
  Enroller(Options options, LeafRegistry& registry) : options_(std::move(options)), registry_(registry) {}

  // The PEM certificate followed by its chain.
  Result<std::string> Enroll(std::string_view name, std::string_view token,
                             std::string_view csr_pem, int64_t now_ms);

 private:
  Options options_;
  LeafRegistry& registry_;
  std::mutex mu_;
};

}  // namespace edgetrust::agent
