// What the identity commands (provision, cert, trust, tls) share: the certificate folder option,
// the secure-domain key service for the CLI's connection, and the clock.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/context.h"
#include "edgetrust/status.h"
#include "identity/cert_store.h"
#include "identity/key_service.h"

namespace edgetrust::cli {

// Adds --cert-dir to `command`, stored in `dir`.
void AddCertDirOption(CLI::App* command, std::string& dir);
// Opens --cert-dir / $EDGETRUST_CERT_DIR / the default; `create` for commands that write.
Result<identity::CertStore> OpenCertStore(const std::string& flag, bool create);
// The key service over the context's daemon connection. The socket it names in key.pem files is
// the one this command used, as an absolute path (empty when it was the default).
Result<std::unique_ptr<identity::SdKeyService>> KeyServiceFor(Context& ctx);
int64_t Now();
// "2026-05-01T12:00:00Z" for a time that may be before the epoch or zero.
std::string FormatTimeOrDash(int64_t t);
// A file given on the command line, at most `max` bytes, as text.
Result<std::string> ReadTextInput(const std::string& path, size_t max, std::string_view what);

}  // namespace edgetrust::cli
