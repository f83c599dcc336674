#include "sd/principal.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <vector>

#include "common/files.h"

namespace edgetrust::sd {
namespace {

constexpr size_t kContainerIdLength = 64;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return !s.empty();
}

constexpr std::array<std::string_view, 6> kPrefixes = {"/docker/", "docker-", "cri-containerd-",
                                                       "crio-",    "libpod-", "/containerd/"};

// The earliest container component in one cgroup path: {position, id, end of the component}.
struct PathHit {
  size_t pos = std::string_view::npos;
  std::string id;
  size_t end = 0;
};

PathHit FindInPath(std::string_view path) {
  PathHit best;
  for (auto prefix : kPrefixes) {
    size_t pos = 0;
    while ((pos = path.find(prefix, pos)) != std::string_view::npos && pos < best.pos) {
      // A prefix without a leading '/' must start a path component ("docker-" in ".../docker-x").
      bool starts_component = prefix[0] == '/' || pos == 0 || path[pos - 1] == '/';
      size_t start = pos + prefix.size();
      if (starts_component && path.size() - start >= kContainerIdLength) {
        std::string_view id = path.substr(start, kContainerIdLength);
        size_t end = start + kContainerIdLength;
        if (path.substr(end).starts_with(".scope")) end += 6;
        bool terminated = end == path.size() || path[end] == '/';
        if (IsLowerHex(id) && terminated) {
          best = PathHit{pos, std::string(id), end};
          break;
        }
      }
      ++pos;
    }
  }
  return best;
}

}  // namespace

std::optional<CgroupMatch> FindContainerCgroup(std::string_view text) {
  std::optional<CgroupMatch> first_v1;
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t nl = text.find('\n', line_start);
    std::string_view line = text.substr(
        line_start, nl == std::string_view::npos ? std::string_view::npos : nl - line_start);
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 != std::string_view::npos) {
      std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
      std::string_view path = line.substr(c2 + 1);
      PathHit hit = FindInPath(path);
      if (hit.pos != std::string_view::npos) {
        CgroupMatch m{hit.id, std::string(controllers), std::string(path.substr(0, hit.end))};
        if (controllers.empty()) return m;  // cgroup v2
        if (!first_v1) first_v1 = std::move(m);
      }
    }
    if (nl == std::string_view::npos) break;
    line_start = nl + 1;
  }
  return first_v1;
}

std::optional<std::string> ContainerIdFromCgroup(std::string_view text) {
  auto m = FindContainerCgroup(text);
  if (!m) return std::nullopt;
  return m->id;
}

std::string PrincipalForUid(uid_t uid) { return "uid:" + std::to_string(uid); }
std::string PrincipalForContainer(std::string_view id) { return "container:" + std::string(id); }

bool IsValidPrincipal(std::string_view p) {
  if (p.starts_with("uid:")) {
    std::string_view digits = p.substr(4);
    if (digits.empty() || digits.size() > 10) return false;
    // One spelling per uid, the one PrincipalForUid() gives: "uid:01" would never match a caller.
    if (digits.size() > 1 && digits[0] == '0') return false;
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    return ec == std::errc() && ptr == digits.data() + digits.size() && v <= 0xFFFFFFFFull;
  }
  if (p.starts_with("container:")) {
    std::string_view id = p.substr(10);
    return id.size() == kContainerIdLength && IsLowerHex(id);
  }
  return false;
}

namespace {

// Folders a cgroup line can live in: v2 at the root (or "unified" on hybrid hosts), v1 under its
// controller list ("name=systemd" mounts as "systemd").
std::vector<std::string> CgroupDirs(const std::string& root, const CgroupMatch& m) {
  if (m.controllers.empty()) return {root + m.path, root + "/unified" + m.path};
  std::string c = m.controllers;
  if (c.starts_with("name=")) c = c.substr(5);
  return {root + "/" + c + m.path};
}

}  // namespace

Result<Peer> IdentifyPeer(int fd, const std::string& proc_root, const std::string& cgroup_root) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    return Status(ErrorCode::kInternal, "SO_PEERCRED: " + ErrnoText(errno));
  }
  Peer peer;
  peer.uid = cred.uid;
  peer.gid = cred.gid;
  peer.pid = cred.pid;
  // The pid could exit and be reused between connect and this read; reading once, at accept,
  // keeps that window tiny (docs/THREAT_MODEL.md). Unreadable means refused, never "host".
  auto cgroup = ReadFile(proc_root + "/" + std::to_string(cred.pid) + "/cgroup", 64 * 1024);
  if (!cgroup.ok()) {
    if (cgroup.status().code() == ErrorCode::kResourceExhausted) {
      return Status(ErrorCode::kResourceExhausted, "out of file descriptors; try again");
    }
    return Status(ErrorCode::kPermissionDenied,
                  "cannot read the cgroup of pid " + std::to_string(cred.pid) + " (" +
                      cgroup.status().message() + "); refusing the caller");
  }
  std::string_view text(reinterpret_cast<const char*>(cgroup->data()), cgroup->size());
  if (auto match = FindContainerCgroup(text)) {
    bool found = false;
    for (const auto& dir : CgroupDirs(cgroup_root, *match)) {
      struct stat st {};
      if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      found = true;
      if (st.st_uid == 0) peer.container_id = match->id;
      break;
    }
    if (!found) {
      return Status(ErrorCode::kPermissionDenied,
                    "pid " + std::to_string(cred.pid) + " is in cgroup " + match->path +
                        ", which cannot be verified; refusing the caller");
    }
  }
  peer.principal = peer.container_id.empty() ? PrincipalForUid(peer.uid)
                                             : PrincipalForContainer(peer.container_id);
  return peer;
}

}  // namespace edgetrust::sd
