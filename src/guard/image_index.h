// What a container's image holds: every path of its read-only layers with its type, mode and
// content hash, recorded at deployment (docs/container-guard.md, "Image index").
//
// Built from the overlayfs lower folders of the container (GraphDriver.LowerDir, top first), with
// overlayfs semantics: an upper folder's entry hides the same path below it, a whiteout (a 0/0
// character device) deletes it, an opaque folder (xattr trusted.overlay.opaque = "y") hides
// everything below it. The index is what the exec check compares against, and VerifyLayers
// re-reads the folders later to find tampering with the image on the host's disk.
//
// Thread safety: an ImageIndex is immutable once built; share it as shared_ptr<const ImageIndex>.
// Errors: kIoError naming the path that could not be read; kTooLarge past the limits below.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::guard {

struct IndexEntry {
  enum Type { kFile, kDir, kSymlink, kOther };
  Type type = kFile;
  mode_t mode = 0;     // permission bits
  uint64_t size = 0;   // files
  std::string sha256;  // files: 64 hex of the content; symlinks: of the target text
};

struct LayerDifference;

struct IndexLimits {
  size_t max_entries = 1'000'000;
  uint64_t max_total_bytes = uint64_t{64} << 30;
  int max_depth = 256;  // folder nesting below a layer's root
};

class ImageIndex {
 public:
  // `lower_dirs`: top first.
  static Result<std::shared_ptr<const ImageIndex>> Build(const std::vector<std::string>& lower_dirs,
                                                         const IndexLimits& limits = {});

  // Container paths ("/bin/sh"), normalised: absolute, no "." or ".." or doubled '/'.
  const IndexEntry* Find(const std::string& path) const;
  const std::map<std::string, IndexEntry>& entries() const { return entries_; }
  const std::vector<std::string>& lower_dirs() const { return lower_dirs_; }
  // SHA-256 over the sorted entries (path, type, mode, size, hash): one digest for the whole image
  // view, logged at deployment.
  const std::string& digest() const { return digest_; }

 private:
  std::map<std::string, IndexEntry> entries_;
  std::vector<std::string> lower_dirs_;
  std::string digest_;
  IndexLimits limits_;  // what Build was given; VerifyLayers re-reads with the same
  friend Result<std::vector<LayerDifference>> VerifyLayers(const ImageIndex& recorded);
};

struct LayerDifference {
  enum Kind { kAdded, kRemoved, kChanged };
  Kind kind = kChanged;
  std::string path;      // container path
  std::string expected;  // the recorded sha256 (empty for kAdded)
  std::string found;     // the sha256 now (empty for kRemoved)
};

// Re-reads the index's lower folders and lists every difference from the recorded index (empty:
// the layers are intact). kIoError when a folder is gone entirely.
Result<std::vector<LayerDifference>> VerifyLayers(const ImageIndex& recorded);

// SHA-256 of a whole open file, 64 lower-case hex. Reads with pread from offset 0.
Result<std::string> HashFd(int fd, uint64_t max_bytes = uint64_t{4} << 30);
Result<std::string> HashFile(const std::string& path);

// "/a/./b//c" -> "/a/b/c"; ".." resolved lexically, never above "/". Empty or relative input:
// kInvalidArgument.
Result<std::string> NormalisePath(const std::string& path);

}  // namespace edgetrust::guard
