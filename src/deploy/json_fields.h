// Typed, path-naming access to the members of one JSON object, for the strict manifest parser.
//
// Every error names the JSON path of the offending value ("modules[1].writable[0].path: ...").
// Unknown keys are refused with the list of known ones; wrong types say what was expected and what
// was given. Codes: kMalformed for a missing key, an unknown key or a wrong type; kInvalidArgument
// for a value out of its range; kTooLarge for a string or array over its limit.
//
// Thread safety: a Fields refers to one json value and is used by one thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::deploy {

// "path: message", with `code`.
Status PathError(ErrorCode code, const std::string& path, const std::string& message);

// "a string", "an object", ... for messages.
std::string TypeName(const nlohmann::json& value);

// A string without NUL bytes, at most `max` bytes.
Status CheckString(const nlohmann::json& value, const std::string& path, size_t max);

class Fields {
 public:
  // `object` must outlive this. kMalformed unless it is an object with known keys only.
  static Result<Fields> Open(const nlohmann::json& object, std::string path,
                             std::initializer_list<std::string_view> known);

  // Path of a member: "<path>.<key>", or "<key>" at the top level.
  std::string At(std::string_view key) const;
  // The member, or null when absent.
  const nlohmann::json* Get(std::string_view key) const;

  // Each getter leaves `out` unchanged when the key is absent and `required` is false.
  Status String(std::string_view key, std::string& out, bool required, size_t max) const;
  Status Bool(std::string_view key, bool& out) const;
  Status Uint64(std::string_view key, uint64_t& out, bool required, uint64_t min,
                uint64_t max) const;
  Status Uint32(std::string_view key, uint32_t& out, uint64_t min, uint64_t max) const;
  // An array of strings, each at most `max_len` bytes, at most `max_items` of them.
  Status StringArray(std::string_view key, std::vector<std::string>& out, bool required,
                     size_t max_items, size_t max_len) const;
  // kMalformed unless the member exists.
  Status Require(std::string_view key) const;

 private:
  Fields(const nlohmann::json& object, std::string path)
      : object_(&object), path_(std::move(path)) {}
  const nlohmann::json* object_;
  std::string path_;
};

}  // namespace edgetrust::deploy
