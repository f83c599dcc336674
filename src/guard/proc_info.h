// Who a fanotify event's process is, for violation reports: "comm (exe)" from /proc.
//
// Thread safety: a pure function over /proc. Errors: none; a process that is gone gives
// "(pid N exited)", a part that cannot be read "?".
#pragma once

#include <sys/types.h>

#include <string>

namespace edgetrust::guard {

// "sh (/bin/busybox)". For a container's process the exe path is relative to the container's
// root, like the event paths (the host cannot name the container's root mount).
std::string DescribeProcess(pid_t pid);

// The path of an event's descriptor (readlink of /proc/self/fd/N), without the " (deleted)"
// suffix the kernel adds to an unlinked file (`unlinked`: st_nlink was 0). Empty on error.
std::string DescriptorPath(int fd, bool unlinked);

}  // namespace edgetrust::guard
