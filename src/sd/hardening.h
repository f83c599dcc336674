// Process hardening of edgetrust-sd: privilege drop, no core dumps, no ptrace by others, seccomp.
#pragma once

#include <sys/types.h>

#include <string>

#include "edgetrust/status.h"

namespace edgetrust::sd {

struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

// Looks up a user by name. kNotFound with advice when it does not exist.
Result<UserIds> LookUpUser(const std::string& name);

// umask 077 and RLIMIT_CORE 0. Call first thing.
Status RestrictProcess();

// Creates `path` (mode `mode`) owned by `user` if it does not exist yet.
Status EnsureOwnedDir(const std::string& path, mode_t mode, const UserIds& user);

// setgroups/setgid/setuid to `user`, then checks that root cannot be regained.
Status DropPrivileges(const UserIds& user);

// PR_SET_DUMPABLE 0 (no core files, no ptrace or /proc/pid/mem by same-uid processes) and
// PR_SET_NO_NEW_PRIVS. Call after DropPrivileges: changing uid resets the dumpable flag.
Status SetNotDumpable();
// Sanitizer builds re-enable ptrace just before exit so LeakSanitizer can inspect the process.
void AllowLeakCheckAtExit();

// Installs the seccomp allowlist on every thread (when built with libseccomp). System calls
// outside the list fail with EPERM. Returns whether a filter was installed.
Result<bool> InstallSeccomp(bool allow_connect = false);

}  // namespace edgetrust::sd
