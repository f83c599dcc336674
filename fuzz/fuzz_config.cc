// Fuzz target: the daemon's TOML configuration (sd/config.h), including its [policy] table.
//
// ParseConfig on the input as text. A rejected config must be kInvalidArgument (the daemon prints
// it and exits); an accepted one must hold only values the daemon can use: limits in range, a
// known log level, admins that are valid principals, grants of valid operations only.
// The TOML parser itself (toml++) is a prebuilt shared library here, so libFuzzer sees coverage of
// config.cc and policy.cc only; toml++ is still exercised and ASan-checked at its interface.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "sd/config.h"
#include "sd/principal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace sd = edgetrust::sd;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = sd::ParseConfig(text);
  if (!config.ok()) {
    ET_FUZZ_CHECK(config.status().code() == edgetrust::ErrorCode::kInvalidArgument);
    ET_FUZZ_CHECK(!config.status().message().empty());
    return 0;
  }
  const sd::DaemonConfig& c = *config;
  ET_FUZZ_CHECK(!c.user.empty());
  ET_FUZZ_CHECK(c.socket_mode <= 0777);
  ET_FUZZ_CHECK(c.max_connections >= 1 && c.max_connections <= 65536);
  ET_FUZZ_CHECK(c.frame_timeout_ms >= 10 && c.frame_timeout_ms <= 600000);
  ET_FUZZ_CHECK(c.log_level == "trace" || c.log_level == "debug" || c.log_level == "info" ||
                c.log_level == "warn" || c.log_level == "error");
  for (const auto& admin : c.policy.admins()) {
    ET_FUZZ_CHECK(sd::IsValidPrincipal(admin));
    ET_FUZZ_CHECK(c.policy.IsAdmin(admin));
  }
  // An owner may always use its own keys; nobody else gets an operation no grant can name.
  ET_FUZZ_CHECK(c.policy.Allows("uid:1000", "uid:1000", "k", "sign"));
  ET_FUZZ_CHECK(!c.policy.IsAdmin("*"));
  ET_FUZZ_CHECK(!c.policy.Allows("uid:not-a-principal", "uid:0", "k", "not-an-operation"));
  return 0;
}
