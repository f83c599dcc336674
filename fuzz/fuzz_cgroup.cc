// Fuzz target: container identification from /proc/<pid>/cgroup (sd/principal.h).
//
// The cgroup file is written by the kernel, but its path components are chosen by whoever names
// the cgroups (container runtimes, systemd units, a process in a delegated subtree), so a caller
// controls part of it. ContainerIdFromCgroup on the input as text; when it finds an id, the id
// must be 64 lower-case hex digits taken from the text, and the principal made of it valid.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "sd/principal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace sd = edgetrust::sd;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto id = sd::ContainerIdFromCgroup(text);
  if (!id) return 0;
  ET_FUZZ_CHECK(id->size() == 64);
  ET_FUZZ_CHECK(id->find_first_not_of("0123456789abcdef") == std::string::npos);
  ET_FUZZ_CHECK(text.find(*id) != std::string_view::npos);
  ET_FUZZ_CHECK(sd::IsValidPrincipal(sd::PrincipalForContainer(*id)));
  return 0;
}
