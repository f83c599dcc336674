// Who is calling: kernel-reported peer credentials turned into a principal.
//
// The principal is the unit of key ownership. A caller inside a container is the principal
// "container:<64-hex id>" whatever uid it runs as (a container's root is not the host's root);
// any other caller is "uid:<n>". Identity comes from SO_PEERCRED and /proc/<pid>/cgroup, never from
// anything the caller sends.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "edgetrust/status.h"

namespace edgetrust::sd {

struct Peer {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::string container_id;  // empty when not in a container
  std::string principal;     // "uid:N" or "container:ID"
};

// Reads SO_PEERCRED of a connected Unix socket and the peer's container, if any.
//
// Fails closed: if the peer's /proc/<pid>/cgroup cannot be read (the process already exited, a
// hidepid mount, another pid namespace), the connection is refused (kPermissionDenied) rather than
// treating a possible container's root as the host's uid 0. A cgroup that looks like a container
// counts only if its folder under `cgroup_root` belongs to root: container runtimes create those,
// while an unprivileged user can name a delegated cgroup "docker-<id>.scope" but it stays theirs
// (such a caller is its uid). A container-looking cgroup whose folder cannot be found is refused.
// `proc_root` and `cgroup_root` are "/proc" and "/sys/fs/cgroup" except in tests.
Result<Peer> IdentifyPeer(int fd, const std::string& proc_root = "/proc",
                          const std::string& cgroup_root = "/sys/fs/cgroup");

// A container found in the text of /proc/<pid>/cgroup.
struct CgroupMatch {
  std::string id;  // 64 lower-case hex digits
  std::string
      controllers;   // second field of the line: "" for cgroup v2, "memory", "name=systemd"...
  std::string path;  // the cgroup path up to and including the container's component
};

// Finds a container in the text of /proc/<pid>/cgroup (cgroup v1 or v2): Docker ("/docker/<id>",
// "docker-<id>.scope"), containerd ("cri-containerd-<id>.scope", "/containerd/<id>"), CRI-O
// ("crio-<id>.scope") and Podman ("libpod-<id>.scope"). When a path holds several (nested
// runtimes), the outermost wins: the inner one is under the outer container's control. The v2
// line ("0::") is preferred over v1 lines.
std::optional<CgroupMatch> FindContainerCgroup(std::string_view cgroup_text);
// The id of FindContainerCgroup, for callers that need only that.
std::optional<std::string> ContainerIdFromCgroup(std::string_view cgroup_text);

std::string PrincipalForUid(uid_t uid);
std::string PrincipalForContainer(std::string_view id);
// True for "uid:<decimal>" and "container:<64 hex>".
bool IsValidPrincipal(std::string_view principal);

}  // namespace edgetrust::sd
