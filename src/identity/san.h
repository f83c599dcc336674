// subjectAltName entries as operators write them: "DNS:gw.example", "IP:10.0.0.7", "IP:fd00::1",
// "URI:urn:edgetrust:device:gw-1", "email:ops@example.com".
//
// Entries are validated and put in a canonical form when parsed (DNS names lower-cased, IP
// addresses as inet_ntop writes them), so equal names compare equal and duplicates can be
// dropped. Only these four kinds exist here: a request carrying any other GeneralName (otherName,
// directoryName, ...) is refused rather than copied into a certificate unseen.
// Errors: kInvalidArgument with the reason. Thread safety: plain values and free functions.
#pragma once

#include <openssl/x509v3.h>

#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"
#include "identity/x509_ptr.h"

namespace edgetrust::identity {

enum class SanType { kDns, kIp, kUri, kEmail };

struct San {
  SanType type = SanType::kDns;
  std::string value;  // canonical text without the "DNS:" prefix
  bool operator==(const San&) const = default;
};

inline constexpr size_t kMaxSans = 64;

// "DNS:x" etc.; the prefix is case-insensitive.
Result<San> ParseSan(std::string_view text);
Result<std::vector<San>> ParseSans(const std::vector<std::string>& texts);
std::string FormatSan(const San& san);
std::vector<std::string> FormatSans(const std::vector<San>& sans);
// Appends the entries of `more` not yet in `sans`; kInvalidArgument past kMaxSans.
Status MergeSans(std::vector<San>& sans, const std::vector<San>& more);

// A host name usable as a DNS SAN: labels of letters, digits and '-', at most 253 bytes, an
// optional "*." wildcard as the whole first label. Case-insensitive.
bool IsValidDnsName(std::string_view name);

Result<GeneralNamesPtr> ToGeneralNames(const std::vector<San>& sans);
// The entries of a subjectAltName extension, checked as ParseSan checks them.
Result<std::vector<San>> FromGeneralNames(const GENERAL_NAMES* names);
// The SANs of a certificate (empty when it has none); kInvalidArgument for an unsupported or
// malformed one.
Result<std::vector<San>> SansOfCertificate(const X509* cert);

}  // namespace edgetrust::identity
