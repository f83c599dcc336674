// A real dockerd for process-level tests (BRIEF.md section 5, docs/docker.md "Test harness").
//
// Shared() starts one dockerd per test process, in folders of its own (data root under
// /tmp/edgetrust-dockerd-*, a short exec root /tmp/etdX.* that also holds its socket and the
// containerd it starts), so two test processes (ctest -j2) each have their own engine and nothing
// collides. It runs with --bridge=none --iptables=false: containers get --network none or the
// host network only. At exit it is stopped (SIGTERM, SIGKILL after 20 s), whatever it left
// mounted under its folders is unmounted and the folders are removed.
//
// Docker() runs /usr/bin/docker (Debian's client, not /usr/local/bin/docker) against that engine.
// BuildBusyboxImage() makes images offline from Debian's busybox-static.
//
// Thread safety: Shared() may be called from any thread; the other methods are const and may run
// concurrently. Errors: Shared() returns nullptr with the reason (not root, no dockerd, it did not
// get ready: the tail of its log); the helpers report failures in their return values.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace edgetrust::test {

class DockerdProcess {
 public:
  static DockerdProcess* Shared(std::string* why_not);

  const std::string& socket() const { return socket_; }
  const std::string& data_root() const { return data_root_; }

  struct Run {
    int code = -1;  // -1: did not exit normally (or timed out and was killed)
    std::string out, err;
  };
  // /usr/bin/docker -H unix://SOCK args..., killed after timeout_s.
  Run Docker(const std::vector<std::string>& args, int timeout_s = 120) const;

  // A root filesystem with /bin/busybox and its applets, /etc/passwd, /etc/group, /tmp, /data
  // and `extra_files` (container path -> content, mode 0755), imported with
  // CMD ["/bin/sleep","3600"] under `tag`. The image id "sha256:...", or "" with *error set.
  std::string BuildBusyboxImage(const std::string& tag,
                                const std::map<std::string, std::string>& extra_files = {},
                                std::string* error = nullptr) const;
  // docker save of `ref` to `path`.
  bool SaveImage(const std::string& ref, const std::string& path) const;
  // docker rm -f -v of every container.
  void RemoveAllContainers() const;
  // The last `bytes` of dockerd's log, for failure messages.
  std::string LogTail(size_t bytes = 4000) const;

  DockerdProcess(const DockerdProcess&) = delete;
  DockerdProcess& operator=(const DockerdProcess&) = delete;

 private:
  DockerdProcess() = default;
  bool Start(std::string* why_not);
  void Shutdown();
  bool Ping() const;

  int pid_ = -1;
  std::string base_;       // data root, pidfile, log
  std::string exec_root_;  // short: socket paths must fit in 108 bytes
  std::string data_root_;
  std::string socket_;
  std::string log_path_;
};

}  // namespace edgetrust::test
