// ImageIndex::Build and VerifyLayers: the overlayfs view of a container's read-only layers.
//
// Every layer is untrusted (an image is whatever its publisher put in it): the walk opens each
// folder with openat(O_NOFOLLOW | O_DIRECTORY) relative to its parent's descriptor and checks with
// fstat that it opened what fstatat saw, never resolves a symlink, and reads file contents only
// from descriptors of regular files.
#include "guard/image_index.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <set>
#include <utility>

#include "common/files.h"
#include "common/unique_fd.h"
#include "guard/file_hash.h"

namespace edgetrust::guard {
namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

bool IsOpaque(int dir_fd) {
  for (const char* name : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    char value[4];
    const ssize_t n = ::fgetxattr(dir_fd, name, value, sizeof value);
    if (n == 1 && value[0] == 'y') return true;
  }
  return false;
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

IndexEntry::Type TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return IndexEntry::kFile;
  if (S_ISDIR(mode)) return IndexEntry::kDir;
  if (S_ISLNK(mode)) return IndexEntry::kSymlink;
  return IndexEntry::kOther;
}

// Merges the layers, top first, into one map with overlayfs's rules.
class LayerWalker {
 public:
  explicit LayerWalker(const IndexLimits& limits) : limits_(limits) {}

  Status AddLayer(const std::string& root) {
    root_ = root;
    UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Status(ErrorCode::kIoError, root + ": " + ErrnoText(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Status(ErrorCode::kIoError, root + ": fstat");
    auto it = entries_.find("/");
    if (it == entries_.end()) {
      entries_["/"] = IndexEntry{IndexEntry::kDir, static_cast<mode_t>(st.st_mode & 07777), 0, ""};
    }
    const bool hidden_below = opaque_.count("/") > 0;
    if (hidden_below) return Status::Ok();  // an opaque root hides every lower layer
    if (IsOpaque(fd.get())) pending_opaque_.push_back("/");
    ET_RETURN_IF_ERROR(WalkDir(fd.get(), "/", 0));
    // Opaque folders of this layer hide the layers below it, not this one.
    for (auto& p : pending_opaque_) opaque_.insert(std::move(p));
    pending_opaque_.clear();
    for (auto& p : pending_masked_) masked_.insert(std::move(p));
    pending_masked_.clear();
    return Status::Ok();
  }

  std::map<std::string, IndexEntry> Take() { return std::move(entries_); }

 private:
  std::string HostPath(const std::string& path) const { return root_ + path; }

  Status WalkDir(int dir_fd, const std::string& path, int depth) {
    if (depth >= limits_.max_depth) {
      return Status(ErrorCode::kTooLarge, HostPath(path) + ": nested deeper than " +
                                              std::to_string(limits_.max_depth) + " folders");
    }
    const int list_fd = ::dup(dir_fd);
    if (list_fd < 0) return Status(ErrorCode::kIoError, HostPath(path) + ": dup");
    DirPtr dir(::fdopendir(list_fd));
    if (!dir) {
      ::close(list_fd);
      return Status(ErrorCode::kIoError, HostPath(path) + ": " + ErrnoText(errno));
    }
    // Names first, so the folder's descriptor is not held open through a deep recursion twice.
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      const dirent* de = ::readdir(dir.get());
      if (de == nullptr) {
        if (errno != 0) return Status(ErrorCode::kIoError, HostPath(path) + ": readdir");
        break;
      }
      const std::string name = de->d_name;
      if (name == "." || name == "..") continue;
      names.push_back(name);
    }
    for (const std::string& name : names) ET_RETURN_IF_ERROR(Visit(dir_fd, path, name, depth));
    return Status::Ok();
  }

  Status Visit(int dir_fd, const std::string& dir_path, const std::string& name, int depth) {
    const std::string path = Join(dir_path, name);
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Status(ErrorCode::kIoError, HostPath(path) + ": " + ErrnoText(errno));
    }
    if (masked_.count(path)) return Status::Ok();  // deleted by a whiteout above
    if (IsWhiteout(st)) {
      // Deletes the path in the layers below; an entry above it stays.
      pending_masked_.push_back(path);
      return Status::Ok();
    }
    auto above = entries_.find(path);
    if (above != entries_.end()) {
      // Only two folders merge; anything else above hides this entry and its subtree.
      if (above->second.type != IndexEntry::kDir || !S_ISDIR(st.st_mode)) return Status::Ok();
      if (opaque_.count(path)) return Status::Ok();
      return Descend(dir_fd, path, name, st, depth);
    }
    if (entries_.size() >= limits_.max_entries) {
      return Status(ErrorCode::kTooLarge,
                    "image has more than " + std::to_string(limits_.max_entries) + " entries");
    }
    IndexEntry e;
    e.type = TypeOf(st.st_mode);
    e.mode = static_cast<mode_t>(st.st_mode & 07777);
    if (e.type == IndexEntry::kFile) {
      ET_RETURN_IF_ERROR(HashRegular(dir_fd, path, name, st, e));
    } else if (e.type == IndexEntry::kSymlink) {
      ET_RETURN_IF_ERROR(ReadSymlink(dir_fd, path, name, e));
    }
    entries_[path] = e;
    if (e.type == IndexEntry::kDir) return Descend(dir_fd, path, name, st, depth);
    return Status::Ok();
  }

  Status Descend(int dir_fd, const std::string& path, const std::string& name,
                 const struct stat& seen, int depth) {
    UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Status(ErrorCode::kIoError, HostPath(path) + ": " + ErrnoText(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || st.st_dev != seen.st_dev || st.st_ino != seen.st_ino) {
      return Status(ErrorCode::kIoError, HostPath(path) + ": changed while being read");
    }
    if (IsOpaque(fd.get())) pending_opaque_.push_back(path);
    return WalkDir(fd.get(), path, depth + 1);
  }

  Status HashRegular(int dir_fd, const std::string& path, const std::string& name,
                     const struct stat& seen, IndexEntry& e) {
    UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!fd) return Status(ErrorCode::kIoError, HostPath(path) + ": " + ErrnoText(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_ino != seen.st_ino) {
      return Status(ErrorCode::kIoError, HostPath(path) + ": changed while being read");
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size > limits_.max_total_bytes - total_bytes_) {
      return Status(ErrorCode::kTooLarge, "image files total more than " +
                                              std::to_string(limits_.max_total_bytes) + " bytes");
    }
    auto hash = HashFd(fd.get(), limits_.max_total_bytes - total_bytes_);
    if (!hash.ok()) {
      return Status(hash.status().code(), HostPath(path) + ": " + hash.status().message());
    }
    total_bytes_ += size;
    e.size = size;
    e.sha256 = std::move(hash).value();
    return Status::Ok();
  }

  Status ReadSymlink(int dir_fd, const std::string& path, const std::string& name, IndexEntry& e) {
    char target[4096];
    const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target, sizeof target);
    if (n < 0) return Status(ErrorCode::kIoError, HostPath(path) + ": " + ErrnoText(errno));
    if (static_cast<size_t>(n) >= sizeof target) {
      return Status(ErrorCode::kTooLarge, HostPath(path) + ": symlink target too long");
    }
    e.size = static_cast<uint64_t>(n);
    e.sha256 = Sha256Hex(target, static_cast<size_t>(n));
    return Status::Ok();
  }

  const IndexLimits limits_;
  std::string root_;
  std::map<std::string, IndexEntry> entries_;
  std::set<std::string> masked_;  // whited out by a layer above
  std::set<std::string> opaque_;  // opaque folders of a layer above
  std::vector<std::string> pending_masked_;
  std::vector<std::string> pending_opaque_;
  uint64_t total_bytes_ = 0;
};

char TypeLetter(IndexEntry::Type t) {
  switch (t) {
    case IndexEntry::kFile:
      return 'f';
    case IndexEntry::kDir:
      return 'd';
    case IndexEntry::kSymlink:
      return 'l';
    case IndexEntry::kOther:
      break;
  }
  return 'o';
}

// One line per entry, in path order: path NUL type NUL mode(octal) NUL size NUL sha256 LF.
std::string DigestOf(const std::map<std::string, IndexEntry>& entries) {
  std::string text;
  for (const auto& [path, e] : entries) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(e.mode));
    text += path;
    text += '\0';
    text += TypeLetter(e.type);
    text += '\0';
    text += mode;
    text += '\0';
    text += std::to_string(e.size);
    text += '\0';
    text += e.sha256;
    text += '\n';
  }
  return Sha256Hex(text.data(), text.size());
}

}  // namespace

Result<std::shared_ptr<const ImageIndex>> ImageIndex::Build(
    const std::vector<std::string>& lower_dirs, const IndexLimits& limits) {
  if (lower_dirs.empty()) return Status(ErrorCode::kInvalidArgument, "no lower folders");
  LayerWalker walker(limits);
  for (const std::string& dir : lower_dirs) {
    if (dir.empty() || dir[0] != '/') {
      return Status(ErrorCode::kInvalidArgument, "lower folder is not absolute: '" + dir + "'");
    }
    ET_RETURN_IF_ERROR(walker.AddLayer(dir));
  }
  auto index = std::make_shared<ImageIndex>();
  index->entries_ = walker.Take();
  index->lower_dirs_ = lower_dirs;
  index->limits_ = limits;
  index->digest_ = DigestOf(index->entries_);
  return std::shared_ptr<const ImageIndex>(std::move(index));
}

const IndexEntry* ImageIndex::Find(const std::string& path) const {
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : &it->second;
}

Result<std::vector<LayerDifference>> VerifyLayers(const ImageIndex& recorded) {
  for (const std::string& dir : recorded.lower_dirs()) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status(ErrorCode::kIoError, dir + ": layer folder is gone");
    }
  }
  ET_ASSIGN_OR_RETURN(auto now, ImageIndex::Build(recorded.lower_dirs(), recorded.limits_));
  std::vector<LayerDifference> out;
  const auto& before = recorded.entries();
  const auto& after = now->entries();
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out.push_back({LayerDifference::kRemoved, b->first, b->second.sha256, ""});
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out.push_back({LayerDifference::kAdded, a->first, "", a->second.sha256});
      ++a;
    } else {
      const IndexEntry& x = b->second;
      const IndexEntry& y = a->second;
      if (x.type != y.type || x.mode != y.mode || x.size != y.size || x.sha256 != y.sha256) {
        out.push_back({LayerDifference::kChanged, b->first, x.sha256, y.sha256});
      }
      ++a;
      ++b;
    }
  }
  return out;
}

}  // namespace edgetrust::guard
