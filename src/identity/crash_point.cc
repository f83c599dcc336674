#include "identity/crash_point.h"

#include <unistd.h>

#include <cstdlib>

namespace edgetrust::identity {

#ifdef EDGETRUST_TEST_HOOKS
void CrashPoint(std::string_view step) {
  const char* at = std::getenv("EDGETRUST_TEST_CRASH_AT");
  if (at != nullptr && step == at) ::_exit(kCrashExitCode);
}
#else
void CrashPoint(std::string_view /*step*/) {}
#endif

}  // namespace edgetrust::identity
