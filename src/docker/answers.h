// Strict parsers of the Docker engine's answers (docs/docker.md): answer text -> the structs of
// engine.h. The engine is untrusted input: every field used is type-checked, a missing required
// field or a wrong type is a kMalformed error naming the field ("Config.Env[2]: expected a
// string"), and text over kMaxAnswerText is kTooLarge. JSON null for an array or object field
// means empty (the engine writes "Cmd": null, "Env": null, "Mounts": null); null for a required
// field is an error. Ids are checked: container ids are 64 lower-case hex digits, image ids
// "sha256:" and 64 hex digits.
//
// Thread safety: pure functions. Errors: kMalformed, kTooLarge; never an exception.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "docker/engine.h"
#include "edgetrust/status.h"

namespace edgetrust::docker {

// The largest answer any parser accepts (the engine's client bounds it lower, see EngineOptions).
inline constexpr size_t kMaxAnswerText = size_t{64} << 20;

Result<VersionInfo> ParseVersion(std::string_view text);
Result<ImageInfo> ParseImageInspect(std::string_view text);
Result<ContainerInfo> ParseContainerInspect(std::string_view text);
Result<std::vector<ContainerSummary>> ParseContainerList(std::string_view text);
// null (no changes) is an empty list.
Result<std::vector<Change>> ParseChanges(std::string_view text);
// One line of GET /events (without its newline).
Result<Event> ParseEvent(std::string_view line);
// The id of POST /containers/create's answer ({"Id": "...", "Warnings": [...]}).
Result<std::string> ParseCreateAnswer(std::string_view text);
// The JSON-lines answer of POST /images/load: the ids ("sha256:...") of "Loaded image ID: ..."
// lines and the references of "Loaded image: name:tag" lines, in order. An {"error": ...} line is
// kInternal with the engine's text; an answer that loads nothing is kMalformed.
Result<std::vector<std::string>> ParseLoadStream(std::string_view text);
// The JSON-lines progress of POST /images/create: OK unless a line has "error" (kInternal with
// the engine's text) or a line is not a JSON object (kMalformed).
Status ParseProgressStream(std::string_view text);
// The engine's error text of an error answer ({"message": "..."}), or the start of the raw body
// (printable ASCII only, at most 200 characters) when it is not that.
std::string EngineMessage(std::string_view body);

// Validation of what goes into URLs.
// A container id or name: 1-128 of [a-zA-Z0-9_.-], starting with a letter or digit.
bool IsValidContainerRef(std::string_view ref);
// An image id ("sha256:<64 hex>", or a hex prefix) or reference ("name[:tag][@sha256:<hex>]"):
// 1-255 of [a-zA-Z0-9_.:/@-], no "..", not starting with '/', '.' or '-'.
bool IsValidImageRef(std::string_view ref);
bool IsHex64(std::string_view s);
// "sha256:" followed by 64 lower-case hex digits.
bool IsImageId(std::string_view s);

}  // namespace edgetrust::docker
