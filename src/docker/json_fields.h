// Typed access to the fields of an engine answer's JSON objects, for answers.cc. Each getter
// checks the type and returns a kMalformed Status naming the field by its path
// ("State.Pid: expected an integer"). Optional fields that are missing or null leave the output
// empty; JSON null for a list or map is the empty list or map, as the engine writes it.
//
// Thread safety: a Fields object is a view of one JSON object, used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::docker {

using Json = nlohmann::json;

enum class Need { kRequired, kOptional };

Status Malformed(std::string_view path, std::string_view what);

// Parses text as one JSON document, without exceptions; kMalformed (with `what`) when it is not
// one, kTooLarge when over `max_size`.
Result<Json> ParseJsonText(std::string_view text, std::string_view what, size_t max_size);

class Fields {
 public:
  // `obj` must outlive the Fields; `path` is the object's own path ("" for the top level).
  Fields(const Json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}
  // kMalformed unless the value is an object.
  static Status CheckObject(const Json& value, std::string_view path);

  std::string PathOf(std::string_view key) const;
  // The member, or nullptr when missing or null.
  const Json* Get(std::string_view key) const;

  Status String(std::string_view key, Need need, std::string* out) const;
  Status Bool(std::string_view key, Need need, bool* out) const;
  Status Int(std::string_view key, Need need, int64_t* out) const;
  Status StringList(std::string_view key, Need need, std::vector<std::string>* out) const;
  Status StringMap(std::string_view key, Need need, std::map<std::string, std::string>* out) const;
  // The member as an object, or nullptr when missing or null (an error if required or of another
  // type).
  Status Object(std::string_view key, Need need, const Json** out) const;
  // The member as an array, or nullptr when missing or null.
  Status Array(std::string_view key, Need need, const Json** out) const;

 private:
  const Json& obj_;
  std::string path_;
};

}  // namespace edgetrust::docker
