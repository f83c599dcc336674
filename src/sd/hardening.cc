#include "sd/hardening.h"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#ifdef EDGETRUST_HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "common/files.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ET_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ET_SANITIZED 1
#endif
#endif

namespace edgetrust::sd {

Result<UserIds> LookUpUser(const std::string& name) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* out = nullptr;
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &out);
  if (rc != 0 || out == nullptr) {
    return Status(ErrorCode::kNotFound,
                  "user \"" + name + "\" does not exist; create it (useradd --system " + name +
                      ") or pass --user with another unprivileged user");
  }
  return UserIds{pw.pw_uid, pw.pw_gid, name};
}

Status RestrictProcess() {
  ::umask(077);
  rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0)
    return Status(ErrorCode::kInternal, "setrlimit(RLIMIT_CORE): " + ErrnoText(errno));
  return Status::Ok();
}

Status EnsureOwnedDir(const std::string& path, mode_t mode, const UserIds& user) {
  if (::mkdir(path.c_str(), mode) == 0) {
    if (::chown(path.c_str(), user.uid, user.gid) != 0) {
      return Status(ErrorCode::kIoError, "chown " + path + ": " + ErrnoText(errno));
    }
    // mkdir applies the umask; set the intended mode explicitly.
    if (::chmod(path.c_str(), mode) != 0)
      return Status(ErrorCode::kIoError, "chmod " + path + ": " + ErrnoText(errno));
    return Status::Ok();
  }
  if (errno != EEXIST)
    return Status(ErrorCode::kIoError, "cannot create " + path + ": " + ErrnoText(errno));
  return Status::Ok();
}

Status DropPrivileges(const UserIds& user) {
  if (user.uid == 0)
    return Status(ErrorCode::kInvalidArgument,
                  "refusing to run as root: --user must name an unprivileged user");
  gid_t groups[1] = {user.gid};
  if (::setgroups(1, groups) != 0)
    return Status(ErrorCode::kInternal, "setgroups: " + ErrnoText(errno));
  if (::setresgid(user.gid, user.gid, user.gid) != 0)
    return Status(ErrorCode::kInternal, "setresgid: " + ErrnoText(errno));
  if (::setresuid(user.uid, user.uid, user.uid) != 0)
    return Status(ErrorCode::kInternal, "setresuid: " + ErrnoText(errno));
  if (::setuid(0) == 0 || ::geteuid() == 0) {
    return Status(ErrorCode::kInternal, "privileges could be regained after dropping them");
  }
  return Status::Ok();
}

Status SetNotDumpable() {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return Status(ErrorCode::kInternal, "PR_SET_DUMPABLE: " + ErrnoText(errno));
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status(ErrorCode::kInternal, "PR_SET_NO_NEW_PRIVS: " + ErrnoText(errno));
  }
  return Status::Ok();
}

void AllowLeakCheckAtExit() {
#ifdef ET_SANITIZED
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
}

Result<bool> InstallSeccomp(bool allow_connect) {
  (void)allow_connect;
#ifdef EDGETRUST_HAVE_SECCOMP
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == nullptr) return Status(ErrorCode::kInternal, "seccomp_init failed");
  // What a running daemon needs: socket I/O, files in its state folder, threads, memory, time,
  // randomness, signals, exit. No exec, no network sockets, no ptrace, no mount, no module load.
  static const char* const kAllowed[] = {
      "read",
      "write",
      "readv",
      "writev",
      "pread64",
      "pwrite64",
      "recvfrom",
      "recvmsg",
      "sendto",
      "sendmsg",
      "accept",
      "accept4",
      "shutdown",
      "getsockopt",
      "setsockopt",
      "getsockname",
      "getpeername",
      "poll",
      "ppoll",
      "epoll_wait",
      "epoll_pwait",
      "epoll_ctl",
      "epoll_create1",
      "select",
      "pselect6",
      "close",
      "openat",
      "open",
      "newfstatat",
      "fstat",
      "stat",
      "lstat",
      "statx",
      "lseek",
      "fsync",
      "fdatasync",
      "rename",
      "renameat",
      "renameat2",
      "link",
      "linkat",
      "unlink",
      "unlinkat",
      "getdents64",
      "getdents",
      "fchmod",
      "chmod",
      "fcntl",
      "flock",
      "access",
      "faccessat",
      "faccessat2",
      "readlink",
      "readlinkat",
      "mkdir",
      "mkdirat",
      "ftruncate",
      "getcwd",
      "pipe2",
      "dup",
      "dup3",
      "futex",
      "clone",
      "clone3",
      "set_robust_list",
      "rseq",
      "set_tid_address",
      "exit",
      "exit_group",
      "gettid",
      "getpid",
      "getppid",
      "getuid",
      "geteuid",
      "getgid",
      "getegid",
      "getresuid",
      "getresgid",
      "tgkill",
      "sched_yield",
      "sched_getaffinity",
      "sched_setaffinity",
      "getrusage",
      "prlimit64",
      "getrlimit",
      "mmap",
      "munmap",
      "mprotect",
      "mremap",
      "madvise",
      "brk",
      "membarrier",
      "clock_gettime",
      "clock_getres",
      "clock_nanosleep",
      "nanosleep",
      "gettimeofday",
      "time",
      "getrandom",
      "rt_sigaction",
      "rt_sigprocmask",
      "rt_sigreturn",
      "sigaltstack",
      "restart_syscall",
      "uname",
      "sysinfo",
      "prctl",
      "ioctl",
#ifdef ET_SANITIZED
      // Sanitizer runtimes: LeakSanitizer stops the world with ptrace from a helper task.
      "ptrace",
      "wait4",
      "waitid",
      "kill",
      "sched_getparam",
      "getpgid",
      "personality",
      "process_vm_readv",
#endif
  };
  for (const char* name : kAllowed) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0) {
      seccomp_release(ctx);
      return Status(ErrorCode::kInternal, std::string("seccomp_rule_add ") + name);
    }
  }
  // Hardware backends reconnect to their device when it comes back: a TPM simulator over TCP,
  // or a PKCS#11 module's own daemon. The emulated backend never opens a socket of its own.
  if (allow_connect) {
    for (const char* name : {"socket", "connect"}) {
      if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, seccomp_syscall_resolve_name(name), 0) != 0) {
        seccomp_release(ctx);
        return Status(ErrorCode::kInternal, std::string("seccomp_rule_add ") + name);
      }
    }
  }
  // Apply to every thread the process already has (spdlog, OpenSSL helpers).
  if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
    seccomp_release(ctx);
    return Status(ErrorCode::kInternal, "seccomp TSYNC unavailable");
  }
  int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return Status(ErrorCode::kInternal, "seccomp_load failed: " + ErrnoText(-rc));
  return true;
#else
  return false;
#endif
}

}  // namespace edgetrust::sd
