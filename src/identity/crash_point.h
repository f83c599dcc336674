// Fault-injection seam for the crash-safety tests of certificate renewal.
//
// In a build with EDGETRUST_TESTS=ON (CMake defines EDGETRUST_TEST_HOOKS for this library), a
// process whose environment says EDGETRUST_TEST_CRASH_AT=<step> ends with _exit(86) when it
// reaches CrashPoint("<step>"): no destructors, no buffered output, like a power cut at that
// instant as far as the files are concerned (they were fsynced or not, as the code says). In
// other builds CrashPoint does nothing and reads no environment.
#pragma once

#include <string_view>

namespace edgetrust::identity {

inline constexpr int kCrashExitCode = 86;

void CrashPoint(std::string_view step);

}  // namespace edgetrust::identity
