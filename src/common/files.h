// File helpers for the state folder: whole-file reads and crash-safe writes.
//
// WriteFileAtomic writes to a temporary file in the same folder (".tmp.<random>"), fsyncs it,
// renames it into place and fsyncs the folder, so after a crash the target holds either the old or
// the new content, never a mix. Leftover ".tmp." files are garbage a reader must ignore.
#pragma once

#include <sys/types.h>

#include <string>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust {

inline constexpr std::string_view kTempPrefix = ".tmp.";

// Reads a whole file, refusing files over max_size (kTooLarge).
Result<Bytes> ReadFile(const std::string& path, size_t max_size);

enum class WriteMode {
  kReplace,    // replace the target if it exists
  kNoReplace,  // fail with kAlreadyExists if the target exists (atomic check)
};
Status WriteFileAtomic(const std::string& path, ByteView data, mode_t mode, WriteMode write_mode);

// Removes the temporary files ("<dir>/.tmp.*") a crash during WriteFileAtomic left behind;
// returns how many.
size_t RemoveStaleTemporaries(const std::string& dir);

// Unlinks a file and fsyncs its folder. kNotFound if it did not exist.
Status RemoveFileDurable(const std::string& path);
Status FsyncDir(const std::string& dir);

std::string DirName(const std::string& path);
std::string ErrnoText(int err);

}  // namespace edgetrust
