// A strict reader of PEM text (RFC 7468) for files that come from outside: certificates to
// import, trust bundles, CSRs.
//
// OpenSSL's own PEM reader skips anything it does not recognise, so a truncated or corrupted
// file can silently yield fewer certificates than it seems to hold. This reader accepts only
// BEGIN/END blocks with strict base64 between them, blank lines, and '#' comment lines outside
// blocks (as in distribution CA bundles); anything else is an error naming the line.
// Errors: kInvalidArgument. Thread safety: free functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::identity {

struct PemBlock {
  std::string label;  // "CERTIFICATE", "CERTIFICATE REQUEST", ...
  Bytes der;
  size_t line = 0;  // 1-based line of its BEGIN
};

inline constexpr size_t kMaxPemBlocks = 1000;

// Every block of `text`, in order. `what` names the input in errors ("trust.pem").
Result<std::vector<PemBlock>> ParsePemBlocks(std::string_view text, std::string_view what);
// True if `data`, after leading whitespace, starts like PEM ("-----BEGIN ").
bool LooksLikePem(ByteView data);
// One block as PEM text with 64-column lines.
std::string EncodePem(std::string_view label, ByteView der);

}  // namespace edgetrust::identity
