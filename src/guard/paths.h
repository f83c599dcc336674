// Container-path helpers of the guard: NormalisePath (declared in image_index.h) lives in
// paths.cc with these.
//
// Thread safety: pure functions. Errors: none (they work on already normalised paths).
#pragma once

#include <string>
#include <vector>

namespace edgetrust::guard {

// The container path of a path fanotify reported: `reported` with the host prefix `merged_dir`
// (a normalised absolute host path) removed when present ("/tmp/x/merged/bin/sh" -> "/bin/sh",
// "/tmp/x/merged" -> "/"); any other path is returned unchanged (a container's own process
// already reports paths relative to the container's root).
std::string StripMergedPrefix(const std::string& reported, const std::string& merged_dir);

// True when `path` is `prefix` or below it, at '/' boundaries ("/var/lib" covers "/var/lib/x",
// not "/var/library"). "/" covers everything. Both normalised.
bool IsUnderPrefix(const std::string& path, const std::string& prefix);
bool IsUnderAny(const std::string& path, const std::vector<std::string>& prefixes);

}  // namespace edgetrust::guard
