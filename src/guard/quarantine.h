// Forensic copies of a compromised container's writable layer (docs/container-guard.md,
// "Remediation"): before a quarantined module is recreated, its overlay upper folder is copied to
// <state>/quarantine/<module>-<time>-<id12>/upper with the violation and the inspect answer beside
// it, so what the attacker left behind survives the recreation.
//
// The upper folder is attacker-controlled: symlinks are copied as links (never followed), device
// nodes and whiteouts are listed in special.txt rather than recreated, and the copy stops at
// `max_bytes` (noted in truncated.txt) so a filled layer cannot fill the state folder.
//
// Thread safety: free function.
#pragma once

#include <cstdint>
#include <string>

#include "edgetrust/status.h"

namespace edgetrust::guard {

struct CopyReport {
  uint64_t files = 0;
  uint64_t bytes = 0;
  bool truncated = false;
};

// Copies `src` (a folder) to `dst` (created, must not exist).
Result<CopyReport> CopyLayer(const std::string& src, const std::string& dst, uint64_t max_bytes);

}  // namespace edgetrust::guard
