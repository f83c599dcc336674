// One watched module as the monitor's thread sees it: its spec (canonical folders, normalised
// writable paths), the superblock it maps events by, and its content-hash cache.
//
// Thread safety: everything but `cache` is immutable after Watch installs it; `cache` is used by
// the monitor's thread only. Shared as shared_ptr, so an Unwatch while an event of the module is
// being checked only drops the module once the check is done.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/unique_fd.h"
#include "guard/monitor.h"

namespace edgetrust::guard {

// What identifies one version of a file's content on a filesystem: a file written again gets a
// new mtime/ctime or size; a file replaced gets a new inode.
struct FileKey {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileKey&) const = default;

  static FileKey Of(const struct stat& st) {
    auto ns = [](const timespec& ts) { return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec; };
    return FileKey{st.st_dev, st.st_ino, st.st_size, ns(st.st_mtim), ns(st.st_ctim)};
  }
};

struct FileKeyHash {
  size_t operator()(const FileKey& k) const {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t v :
         {static_cast<uint64_t>(k.dev), static_cast<uint64_t>(k.ino), static_cast<uint64_t>(k.size),
          static_cast<uint64_t>(k.mtime_ns), static_cast<uint64_t>(k.ctime_ns)}) {
      h = (h ^ v) * 1099511628211ull;
    }
    return static_cast<size_t>(h);
  }
};

// Content hashes of executed files. Bounded: cleared when full (a cold start costs one hash per
// binary again, nothing else).
class HashCache {
 public:
  static constexpr size_t kMaxEntries = 8192;
  const std::string* Find(const FileKey& key) const {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }
  void Put(const FileKey& key, std::string sha256) {
    if (map_.size() >= kMaxEntries) map_.clear();
    map_[key] = std::move(sha256);
  }

 private:
  std::unordered_map<FileKey, std::string, FileKeyHash> map_;
};

struct WatchedModule {
  WatchSpec spec;     // merged_dir/upper_dir canonical, writable_paths normalised
  dev_t dev = 0;      // the overlay's superblock (stat of merged_dir at Watch)
  uint64_t mask = 0;  // what its fanotify mark asks for
  UniqueFd upper;     // O_PATH descriptor of upper_dir
  HashCache cache;    // monitor thread only
};

}  // namespace edgetrust::guard
