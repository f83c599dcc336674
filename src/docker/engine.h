// The Docker Engine API, as the container guard needs it (docs/docker.md).
//
// ContainerEngine is the seam: the agent talks to a ContainerEngine, DockerEngine implements it
// over the engine's Unix socket with libcurl (never the docker CLI), and tests can put a fault
// injector behind it. Everything the engine answers is untrusted input: answers are parsed
// strictly (answers.h), bounded in size, and a missing or mistyped field is a kMalformed error
// naming it, never a crash.
//
// Thread safety: a DockerEngine may be used from several threads at once (each call uses its own
// curl handle). An EventStream runs its callback on its own thread.
// Errors: kUnavailable when the socket cannot be reached or the engine goes away mid-answer;
// kNotFound for a 404 (no such image/container); kAlreadyExists for a 409 on create (name in use);
// kFailedPrecondition for other 409s (e.g. container not running); kMalformed for an answer that
// does not parse; kInternal for a 500, carrying the engine's own message.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::docker {

struct VersionInfo {
  std::string version;      // "20.10.24"
  std::string api_version;  // the engine's newest API version, "1.41"
  std::string min_api_version;
  std::string os, arch, kernel;
};

// GET /images/{name}/json
struct ImageInfo {
  std::string id;                         // "sha256:<64 hex>": the digest of the image config
  std::vector<std::string> repo_tags;     // may be empty
  std::vector<std::string> repo_digests;  // "name@sha256:...", empty for loaded/imported images
  std::vector<std::string> layers;        // RootFS.Layers: diff ids, bottom first
  std::vector<std::string> env;           // Config.Env ("K=V"), may be empty
  std::vector<std::string> entrypoint;    // Config.Entrypoint
  std::vector<std::string> cmd;           // Config.Cmd
  std::string graph_driver;               // GraphDriver.Name, "overlay2"
  // GraphDriver.Data for overlay2: the image's top layer folder and the ones below it (top
  // first, as overlayfs orders lowerdir). Empty for other drivers.
  std::string upper_dir;
  std::vector<std::string> lower_dirs;
};

struct MountSpec {
  std::string type;    // "bind", "volume" or "tmpfs"
  std::string source;  // host path (bind), volume name (volume), empty (tmpfs)
  std::string target;  // path in the container
  bool read_only = false;
  std::string tmpfs_options;  // tmpfs only, e.g. "rw,noexec,nosuid,size=16m"
};

// What POST /containers/create is asked for. The body sets exactly these fields; anything else is
// the engine's default, except the hardening defaults listed per field.
struct ContainerSpec {
  std::string name;                  // the container's name (no leading '/')
  std::string image;                 // image id "sha256:..." or a reference
  std::vector<std::string> command;  // argv: Entrypoint = [command[0]], Cmd = the rest
  std::vector<std::string> env;      // "K=V"
  std::string user;                  // "" = the image's user
  std::string working_dir;           // "" = the image's
  bool read_only_rootfs = true;
  std::vector<MountSpec>
      mounts;  // bind and volume go to HostConfig.Mounts, tmpfs to HostConfig.Tmpfs
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  std::string network_mode = "none";  // "none" or "host"
  std::map<std::string, std::string> labels;
  std::vector<std::string> security_opt;  // e.g. "no-new-privileges"
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> pids_limit;
};

struct ContainerState {
  std::string status;  // "created", "running", "paused", "restarting", "exited", "dead"
  bool running = false;
  bool paused = false;
  bool restarting = false;
  bool oom_killed = false;
  int64_t pid = 0;  // host pid of the container's init process, 0 when not running
  int64_t exit_code = 0;
  std::string started_at;  // RFC 3339 as the engine gives it
  std::string finished_at;
};

// One entry of the inspect answer's top-level "Mounts" (what is mounted, not what was asked).
struct MountPoint {
  std::string type;  // "bind", "volume", "tmpfs"
  std::string name;  // volume name, empty otherwise
  std::string source;
  std::string destination;
  bool rw = true;
};

// GET /containers/{id}/json
struct ContainerInfo {
  std::string id;     // 64 hex
  std::string name;   // without the leading '/'
  std::string image;  // the image id the container runs, "sha256:..."
  std::string path;   // the process the container runs: Path and Args
  std::vector<std::string> args;
  ContainerState state;
  int64_t restart_count = 0;
  // Config
  std::vector<std::string> env;
  std::string user;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  // HostConfig
  bool read_only_rootfs = false;
  bool privileged = false;
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  std::string network_mode;
  std::map<std::string, std::string> tmpfs;  // path -> options
  std::vector<std::string> security_opt;
  std::string pid_mode;
  std::string ipc_mode;
  size_t device_count = 0;
  std::vector<MountPoint> mounts;
  // GraphDriver (overlay2): where the container's filesystem is on the host.
  std::string graph_driver;
  std::string merged_dir;
  std::string upper_dir;
  std::string work_dir;
  std::vector<std::string> lower_dirs;  // top first; docker's "-init" layer comes first
};

// GET /containers/json
struct ContainerSummary {
  std::string id;
  std::vector<std::string> names;  // without the leading '/'
  std::string image;
  std::string image_id;
  std::string state;
  std::map<std::string, std::string> labels;
};

// GET /containers/{id}/changes
struct Change {
  enum Kind { kModified = 0, kAdded = 1, kDeleted = 2 };
  Kind kind = kModified;
  std::string path;
};

// One message of GET /events.
struct Event {
  std::string type;    // "container", "image", "network", ...
  std::string action;  // "create", "start", "die", "exec_start: sh -c ...", ...
  std::string id;      // Actor.ID
  std::map<std::string, std::string>
      attributes;  // Actor.Attributes (name, image, labels, exitCode)
  int64_t time_nano = 0;
};

// A running GET /events. The callback runs on the stream's own thread, once per event, in order;
// `on_end` runs once when the stream ends for any reason other than Stop() (engine gone, malformed
// stream), with the reason. Destroying the stream stops it.
class EventStream {
 public:
  virtual ~EventStream() = default;
  virtual void Stop() = 0;
};

struct EventFilter {
  std::vector<std::string> types;   // e.g. {"container"}; empty: all
  std::vector<std::string> events;  // e.g. {"start", "die"}; empty: all
  std::vector<std::string> labels;  // "key" or "key=value"
};

class ContainerEngine {
 public:
  virtual ~ContainerEngine() = default;

  virtual Result<VersionInfo> Version() = 0;

  virtual Result<ImageInfo> InspectImage(const std::string& ref) = 0;
  // POST /images/load of a `docker save` archive. Returns the ids ("sha256:...") or references
  // the engine reports as loaded.
  virtual Result<std::vector<std::string>> LoadImage(const std::string& archive_path) = 0;
  // POST /images/create?fromImage=... (a reference pinned by digest, "name@sha256:...").
  virtual Status PullImage(const std::string& ref) = 0;
  virtual Status RemoveImage(const std::string& ref, bool force) = 0;

  // Returns the new container's id.
  virtual Result<std::string> CreateContainer(const ContainerSpec& spec) = 0;
  virtual Status StartContainer(const std::string& id) = 0;
  virtual Status StopContainer(const std::string& id, int timeout_seconds) = 0;
  virtual Status KillContainer(const std::string& id, const std::string& signal) = 0;
  virtual Status PauseContainer(const std::string& id) = 0;
  virtual Status UnpauseContainer(const std::string& id) = 0;
  // force: kill first if running; volumes: also remove anonymous volumes (never named ones).
  virtual Status RemoveContainer(const std::string& id, bool force, bool volumes) = 0;
  virtual Result<ContainerInfo> InspectContainer(const std::string& id) = 0;
  virtual Result<std::vector<ContainerSummary>> ListContainers(
      bool all, const std::vector<std::string>& label_filters) = 0;
  virtual Result<std::vector<Change>> Changes(const std::string& id) = 0;

  virtual Result<std::unique_ptr<EventStream>> Events(
      const EventFilter& filter, std::function<void(const Event&)> on_event,
      std::function<void(const Status&)> on_end) = 0;
};

struct EngineOptions {
  std::string socket_path = "/var/run/docker.sock";
  int connect_timeout_ms = 2000;
  int request_timeout_ms = 60000;  // per call; image load/pull may take longer (x10)
  size_t max_answer_bytes = size_t{16} << 20;
};

// Connects (GET /version), negotiates the API version (the engine's, capped at 1.41) and refuses
// engines older than API 1.40 (kUnsupported).
Result<std::unique_ptr<ContainerEngine>> ConnectDockerEngine(const EngineOptions& options);

}  // namespace edgetrust::docker
