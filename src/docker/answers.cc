#include "docker/answers.h"

#include <cstdint>
#include <functional>
#include <utility>

#include "docker/json_fields.h"

namespace edgetrust::docker {
namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool IsAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

Status CheckImageId(std::string_view value, std::string_view path) {
  if (!IsImageId(value)) return Malformed(path, "expected an image id \"sha256:<64 hex>\"");
  return Status::Ok();
}

Status CheckContainerId(std::string_view value, std::string_view path) {
  if (!IsHex64(value)) return Malformed(path, "expected a container id (64 hex digits)");
  return Status::Ok();
}

std::string StripSlash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

// "a:b:c" -> {"a","b","c"}; "" -> {}.
std::vector<std::string> SplitColons(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    const size_t colon = s.find(':', start);
    out.push_back(s.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

Result<Json> ParseObject(std::string_view text, std::string_view what) {
  ET_ASSIGN_OR_RETURN(Json value, ParseJsonText(text, what, kMaxAnswerText));
  ET_RETURN_IF_ERROR(Fields::CheckObject(value, ""));
  return value;
}

// The lines of a JSON-lines answer, blank lines skipped; each must be an object.
Status ForEachLine(std::string_view text, std::string_view what,
                   const std::function<Status(const Fields&)>& each) {
  if (text.size() > kMaxAnswerText) {
    return Status(ErrorCode::kTooLarge, "docker answer: " + std::string(what) + " too large");
  }
  size_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = std::string(what) + " line " + std::to_string(line_no);
    ET_ASSIGN_OR_RETURN(Json value, ParseJsonText(line, where, kMaxAnswerText));
    ET_RETURN_IF_ERROR(Fields::CheckObject(value, where));
    ET_RETURN_IF_ERROR(each(Fields(value, where)));
  }
  return Status::Ok();
}

// {"error": "...", "errorDetail": {...}} -> kInternal with the text, OK when there is no "error".
Status StreamError(const Fields& f) {
  const Json* error = f.Get("error");
  if (error == nullptr) return Status::Ok();
  if (!error->is_string()) return Malformed(f.PathOf("error"), "expected a string");
  return Status(ErrorCode::kInternal, "docker engine: " + error->get<std::string>());
}

Status ParseGraphDriver(const Fields& top, std::string* name, std::string* merged,
                        std::string* upper, std::string* work, std::vector<std::string>* lower) {
  const Json* gd = nullptr;
  ET_RETURN_IF_ERROR(top.Object("GraphDriver", Need::kOptional, &gd));
  if (gd == nullptr) return Status::Ok();
  Fields g(*gd, top.PathOf("GraphDriver"));
  ET_RETURN_IF_ERROR(g.String("Name", Need::kOptional, name));
  std::map<std::string, std::string> data;
  ET_RETURN_IF_ERROR(g.StringMap("Data", Need::kOptional, &data));
  auto take = [&](const char* key, std::string* out) {
    auto it = data.find(key);
    if (it != data.end() && out != nullptr) *out = it->second;
  };
  take("MergedDir", merged);
  take("UpperDir", upper);
  take("WorkDir", work);
  std::string lower_text;
  take("LowerDir", &lower_text);
  *lower = SplitColons(lower_text);
  return Status::Ok();
}

}  // namespace

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

bool IsImageId(std::string_view s) {
  return s.size() == 71 && s.substr(0, 7) == "sha256:" && IsHex64(s.substr(7));
}

bool IsValidContainerRef(std::string_view ref) {
  if (ref.empty() || ref.size() > 128 || !IsAlnum(ref.front())) return false;
  for (char c : ref) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsValidImageRef(std::string_view ref) {
  if (ref.empty() || ref.size() > 255) return false;
  if (ref.front() == '/' || ref.front() == '.' || ref.front() == '-') return false;
  if (ref.find("..") != std::string_view::npos || ref.find("//") != std::string_view::npos) {
    return false;
  }
  if (ref.back() == '/') return false;
  for (char c : ref) {
    if (!IsAlnum(c) && c != '_' && c != '.' && c != ':' && c != '/' && c != '@' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string EngineMessage(std::string_view body) {
  if (body.size() <= (size_t{1} << 20) && body.find('\0') == std::string_view::npos) {
    Json value = Json::parse(body.begin(), body.end(), nullptr, false);
    if (value.is_object()) {
      auto it = value.find("message");
      if (it != value.end() && it->is_string()) return it->get<std::string>();
    }
  }
  std::string text;
  for (char c : body.substr(0, 200)) {
    text.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  while (!text.empty() && text.back() == '?') text.pop_back();  // a trailing "\n"
  return text;
}

Result<VersionInfo> ParseVersion(std::string_view text) {
  ET_ASSIGN_OR_RETURN(Json doc, ParseObject(text, "version"));
  Fields f(doc, "");
  VersionInfo v;
  ET_RETURN_IF_ERROR(f.String("Version", Need::kRequired, &v.version));
  ET_RETURN_IF_ERROR(f.String("ApiVersion", Need::kRequired, &v.api_version));
  ET_RETURN_IF_ERROR(f.String("MinAPIVersion", Need::kRequired, &v.min_api_version));
  ET_RETURN_IF_ERROR(f.String("Os", Need::kOptional, &v.os));
  ET_RETURN_IF_ERROR(f.String("Arch", Need::kOptional, &v.arch));
  ET_RETURN_IF_ERROR(f.String("KernelVersion", Need::kOptional, &v.kernel));
  return v;
}

Result<ImageInfo> ParseImageInspect(std::string_view text) {
  ET_ASSIGN_OR_RETURN(Json doc, ParseObject(text, "image"));
  Fields f(doc, "");
  ImageInfo info;
  ET_RETURN_IF_ERROR(f.String("Id", Need::kRequired, &info.id));
  ET_RETURN_IF_ERROR(CheckImageId(info.id, "Id"));
  ET_RETURN_IF_ERROR(f.StringList("RepoTags", Need::kOptional, &info.repo_tags));
  ET_RETURN_IF_ERROR(f.StringList("RepoDigests", Need::kOptional, &info.repo_digests));
  const Json* rootfs = nullptr;
  ET_RETURN_IF_ERROR(f.Object("RootFS", Need::kRequired, &rootfs));
  Fields r(*rootfs, "RootFS");
  ET_RETURN_IF_ERROR(r.StringList("Layers", Need::kOptional, &info.layers));
  for (size_t i = 0; i < info.layers.size(); ++i) {
    ET_RETURN_IF_ERROR(CheckImageId(info.layers[i], "RootFS.Layers[" + std::to_string(i) + "]"));
  }
  const Json* config = nullptr;
  ET_RETURN_IF_ERROR(f.Object("Config", Need::kOptional, &config));
  if (config != nullptr) {
    Fields c(*config, "Config");
    ET_RETURN_IF_ERROR(c.StringList("Env", Need::kOptional, &info.env));
    ET_RETURN_IF_ERROR(c.StringList("Entrypoint", Need::kOptional, &info.entrypoint));
    ET_RETURN_IF_ERROR(c.StringList("Cmd", Need::kOptional, &info.cmd));
  }
  std::string merged, work;
  ET_RETURN_IF_ERROR(
      ParseGraphDriver(f, &info.graph_driver, &merged, &info.upper_dir, &work, &info.lower_dirs));
  return info;
}

Result<ContainerInfo> ParseContainerInspect(std::string_view text) {
  ET_ASSIGN_OR_RETURN(Json doc, ParseObject(text, "container"));
  Fields f(doc, "");
  ContainerInfo info;
  ET_RETURN_IF_ERROR(f.String("Id", Need::kRequired, &info.id));
  ET_RETURN_IF_ERROR(CheckContainerId(info.id, "Id"));
  ET_RETURN_IF_ERROR(f.String("Name", Need::kRequired, &info.name));
  info.name = StripSlash(std::move(info.name));
  ET_RETURN_IF_ERROR(f.String("Image", Need::kRequired, &info.image));
  ET_RETURN_IF_ERROR(CheckImageId(info.image, "Image"));
  ET_RETURN_IF_ERROR(f.String("Path", Need::kRequired, &info.path));
  ET_RETURN_IF_ERROR(f.StringList("Args", Need::kOptional, &info.args));
  ET_RETURN_IF_ERROR(f.Int("RestartCount", Need::kOptional, &info.restart_count));

  const Json* state = nullptr;
  ET_RETURN_IF_ERROR(f.Object("State", Need::kRequired, &state));
  Fields s(*state, "State");
  ContainerState& st = info.state;
  ET_RETURN_IF_ERROR(s.String("Status", Need::kRequired, &st.status));
  ET_RETURN_IF_ERROR(s.Bool("Running", Need::kRequired, &st.running));
  ET_RETURN_IF_ERROR(s.Bool("Paused", Need::kOptional, &st.paused));
  ET_RETURN_IF_ERROR(s.Bool("Restarting", Need::kOptional, &st.restarting));
  ET_RETURN_IF_ERROR(s.Bool("OOMKilled", Need::kOptional, &st.oom_killed));
  ET_RETURN_IF_ERROR(s.Int("Pid", Need::kRequired, &st.pid));
  if (st.pid < 0 || st.pid > INT32_MAX) return Malformed("State.Pid", "out of range");
  ET_RETURN_IF_ERROR(s.Int("ExitCode", Need::kOptional, &st.exit_code));
  ET_RETURN_IF_ERROR(s.String("StartedAt", Need::kOptional, &st.started_at));
  ET_RETURN_IF_ERROR(s.String("FinishedAt", Need::kOptional, &st.finished_at));

  const Json* config = nullptr;
  ET_RETURN_IF_ERROR(f.Object("Config", Need::kOptional, &config));
  if (config != nullptr) {
    Fields c(*config, "Config");
    ET_RETURN_IF_ERROR(c.StringList("Env", Need::kOptional, &info.env));
    ET_RETURN_IF_ERROR(c.String("User", Need::kOptional, &info.user));
    ET_RETURN_IF_ERROR(c.String("WorkingDir", Need::kOptional, &info.working_dir));
    ET_RETURN_IF_ERROR(c.StringMap("Labels", Need::kOptional, &info.labels));
  }

  const Json* host = nullptr;
  ET_RETURN_IF_ERROR(f.Object("HostConfig", Need::kOptional, &host));
  if (host != nullptr) {
    Fields h(*host, "HostConfig");
    ET_RETURN_IF_ERROR(h.Bool("ReadonlyRootfs", Need::kOptional, &info.read_only_rootfs));
    ET_RETURN_IF_ERROR(h.Bool("Privileged", Need::kOptional, &info.privileged));
    ET_RETURN_IF_ERROR(h.StringList("CapAdd", Need::kOptional, &info.cap_add));
    ET_RETURN_IF_ERROR(h.StringList("CapDrop", Need::kOptional, &info.cap_drop));
    ET_RETURN_IF_ERROR(h.String("NetworkMode", Need::kOptional, &info.network_mode));
    ET_RETURN_IF_ERROR(h.StringMap("Tmpfs", Need::kOptional, &info.tmpfs));
    ET_RETURN_IF_ERROR(h.StringList("SecurityOpt", Need::kOptional, &info.security_opt));
    ET_RETURN_IF_ERROR(h.String("PidMode", Need::kOptional, &info.pid_mode));
    ET_RETURN_IF_ERROR(h.String("IpcMode", Need::kOptional, &info.ipc_mode));
    const Json* devices = nullptr;
    ET_RETURN_IF_ERROR(h.Array("Devices", Need::kOptional, &devices));
    info.device_count = devices == nullptr ? 0 : devices->size();
  }

  const Json* mounts = nullptr;
  ET_RETURN_IF_ERROR(f.Array("Mounts", Need::kOptional, &mounts));
  if (mounts != nullptr) {
    for (size_t i = 0; i < mounts->size(); ++i) {
      const std::string path = "Mounts[" + std::to_string(i) + "]";
      ET_RETURN_IF_ERROR(Fields::CheckObject((*mounts)[i], path));
      Fields m((*mounts)[i], path);
      MountPoint mp;
      ET_RETURN_IF_ERROR(m.String("Type", Need::kRequired, &mp.type));
      ET_RETURN_IF_ERROR(m.String("Name", Need::kOptional, &mp.name));
      ET_RETURN_IF_ERROR(m.String("Source", Need::kOptional, &mp.source));
      ET_RETURN_IF_ERROR(m.String("Destination", Need::kRequired, &mp.destination));
      ET_RETURN_IF_ERROR(m.Bool("RW", Need::kRequired, &mp.rw));
      info.mounts.push_back(std::move(mp));
    }
  }
  ET_RETURN_IF_ERROR(ParseGraphDriver(f, &info.graph_driver, &info.merged_dir, &info.upper_dir,
                                      &info.work_dir, &info.lower_dirs));
  return info;
}

// A JSON array of objects (null: empty), each read by `one` with its own path ("[3]").
template <typename T, typename Fn>
Result<std::vector<T>> ParseObjectArray(std::string_view text, const char* what, Fn one) {
  ET_ASSIGN_OR_RETURN(Json doc, ParseJsonText(text, what, kMaxAnswerText));
  std::vector<T> out;
  if (doc.is_null()) return out;
  if (!doc.is_array()) return Malformed("", "expected an array");
  out.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const std::string path = "[" + std::to_string(i) + "]";
    ET_RETURN_IF_ERROR(Fields::CheckObject(doc[i], path));
    Fields f(doc[i], path);
    T item;
    ET_RETURN_IF_ERROR(one(f, item));
    out.push_back(std::move(item));
  }
  return out;
}

Result<std::vector<ContainerSummary>> ParseContainerList(std::string_view text) {
  return ParseObjectArray<ContainerSummary>(
      text, "container list", [](Fields& f, ContainerSummary& c) -> Status {
        ET_RETURN_IF_ERROR(f.String("Id", Need::kRequired, &c.id));
        ET_RETURN_IF_ERROR(CheckContainerId(c.id, f.PathOf("Id")));
        ET_RETURN_IF_ERROR(f.StringList("Names", Need::kOptional, &c.names));
        for (auto& n : c.names) n = StripSlash(std::move(n));
        ET_RETURN_IF_ERROR(f.String("Image", Need::kOptional, &c.image));
        ET_RETURN_IF_ERROR(f.String("ImageID", Need::kRequired, &c.image_id));
        ET_RETURN_IF_ERROR(CheckImageId(c.image_id, f.PathOf("ImageID")));
        ET_RETURN_IF_ERROR(f.String("State", Need::kRequired, &c.state));
        return f.StringMap("Labels", Need::kOptional, &c.labels);
      });
}

Result<std::vector<Change>> ParseChanges(std::string_view text) {
  return ParseObjectArray<Change>(text, "changes", [](Fields& f, Change& c) -> Status {
    ET_RETURN_IF_ERROR(f.String("Path", Need::kRequired, &c.path));
    if (c.path.empty() || c.path.front() != '/') {
      return Malformed(f.PathOf("Path"), "expected an absolute path");
    }
    int64_t kind = 0;
    ET_RETURN_IF_ERROR(f.Int("Kind", Need::kRequired, &kind));
    if (kind < 0 || kind > 2) return Malformed(f.PathOf("Kind"), "expected 0, 1 or 2");
    c.kind = static_cast<Change::Kind>(kind);
    return Status::Ok();
  });
}

Result<Event> ParseEvent(std::string_view line) {
  ET_ASSIGN_OR_RETURN(Json doc, ParseObject(line, "event"));
  Fields f(doc, "");
  Event e;
  ET_RETURN_IF_ERROR(f.String("Type", Need::kRequired, &e.type));
  ET_RETURN_IF_ERROR(f.String("Action", Need::kRequired, &e.action));
  ET_RETURN_IF_ERROR(f.Int("timeNano", Need::kRequired, &e.time_nano));
  const Json* actor = nullptr;
  ET_RETURN_IF_ERROR(f.Object("Actor", Need::kOptional, &actor));
  if (actor != nullptr) {
    Fields a(*actor, "Actor");
    ET_RETURN_IF_ERROR(a.String("ID", Need::kOptional, &e.id));
    ET_RETURN_IF_ERROR(a.StringMap("Attributes", Need::kOptional, &e.attributes));
  }
  return e;
}

Result<std::string> ParseCreateAnswer(std::string_view text) {
  ET_ASSIGN_OR_RETURN(Json doc, ParseObject(text, "create"));
  Fields f(doc, "");
  std::string id;
  ET_RETURN_IF_ERROR(f.String("Id", Need::kRequired, &id));
  ET_RETURN_IF_ERROR(CheckContainerId(id, "Id"));
  std::vector<std::string> warnings;
  ET_RETURN_IF_ERROR(f.StringList("Warnings", Need::kOptional, &warnings));
  return id;
}

Result<std::vector<std::string>> ParseLoadStream(std::string_view text) {
  static constexpr std::string_view kById = "Loaded image ID: ";
  static constexpr std::string_view kByRef = "Loaded image: ";
  std::vector<std::string> loaded;
  Status status = ForEachLine(text, "load", [&](const Fields& f) -> Status {
    ET_RETURN_IF_ERROR(StreamError(f));
    std::string stream;
    ET_RETURN_IF_ERROR(f.String("stream", Need::kOptional, &stream));
    while (!stream.empty() && (stream.back() == '\n' || stream.back() == '\r')) stream.pop_back();
    std::string_view s = stream;
    if (s.substr(0, kById.size()) == kById) {
      std::string id(s.substr(kById.size()));
      ET_RETURN_IF_ERROR(CheckImageId(id, f.PathOf("stream")));
      loaded.push_back(std::move(id));
    } else if (s.substr(0, kByRef.size()) == kByRef) {
      std::string ref(s.substr(kByRef.size()));
      if (!IsValidImageRef(ref)) return Malformed(f.PathOf("stream"), "not an image reference");
      loaded.push_back(std::move(ref));
    }
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (loaded.empty()) return Malformed("load", "the engine reported no loaded image");
  return loaded;
}

Status ParseProgressStream(std::string_view text) {
  return ForEachLine(text, "progress", [](const Fields& f) { return StreamError(f); });
}

}  // namespace edgetrust::docker
