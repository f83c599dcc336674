// Configuration of edgetrust-sd: an optional TOML file (--config), command-line flags override it.
//
//   [daemon]
//   user = "edgetrust"          # unprivileged user to run as when started as root
//   socket_mode = "0666"        # who may connect; principals, not file modes, isolate callers
//   max_connections = 256
//   max_connections_per_principal = 64
//   frame_timeout_ms = 10000    # a started frame must be complete within this time
//   seccomp = true
//   log_level = "info"          # trace, debug, info, warn, error
//
//   [policy]                    # see policy.h and docs/policy.md
//   admins = ["uid:0"]
//   [[policy.grant]]
//   ...
//
// Unknown keys are errors, so a typo never silently weakens the configuration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "sd/policy.h"

namespace edgetrust::sd {

struct DaemonConfig {
  std::string user = "edgetrust";
  uint32_t socket_mode = 0666;
  uint32_t max_connections = 256;
  uint32_t max_connections_per_principal = 64;
  uint32_t frame_timeout_ms = 10000;
  bool seccomp = true;
  std::string log_level = "info";
  Policy policy;
  // SHA-256 of the file LoadConfigFile read (the very bytes parsed), for the measurement of the
  // daemon's configuration into register 0; empty for built-in defaults.
  Bytes source_sha256;
};

// Parses config text. Errors: kInvalidArgument with the line of the problem.
Result<DaemonConfig> ParseConfig(std::string_view toml_text);
Result<DaemonConfig> LoadConfigFile(const std::string& path);

}  // namespace edgetrust::sd
