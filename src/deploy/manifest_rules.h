// The value rules of the manifest format (docs/deployment.md), one predicate each, shared by the
// parser and by code that builds manifests or checks the engine's answers against them.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace edgetrust::deploy {

// [a-z0-9][a-z0-9_.-]{0,62}: module and deployment names.
bool IsValidName(std::string_view name);
// "sha256:" and 64 lower-case hex digits.
bool IsImageId(std::string_view id);
// "name@sha256:<64 lower-case hex>", name of [A-Za-z0-9._/:-] (at most 255 bytes).
bool IsPinnedReference(std::string_view ref);
// Relative, no empty, "." or ".." components, no control characters.
bool IsSafeRelativePath(std::string_view path);
// "/" followed by components that are not empty, "." or "..", no trailing "/", no control
// characters. "/" itself is refused too (nothing may cover the whole filesystem).
bool IsNormalisedAbsolutePath(std::string_view path);
// True when `a` equals `b` or one is inside the other ("/data" and "/data/x").
bool PathsOverlap(std::string_view a, std::string_view b);
// [A-Za-z_][A-Za-z0-9_]*: environment variable names.
bool IsEnvName(std::string_view name);
// [a-zA-Z0-9][a-zA-Z0-9_.-]*: Docker volume names.
bool IsVolumeName(std::string_view name);
// [A-Za-z0-9_]+ (before normalisation, "CAP_" allowed in front).
bool IsCapabilityName(std::string_view name);
// Docker's user syntax: "user", "uid", "user:group", "uid:gid" of [A-Za-z0-9_.-].
bool IsUserSpec(std::string_view user);
// RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM).
bool IsRfc3339(std::string_view text);

}  // namespace edgetrust::deploy
