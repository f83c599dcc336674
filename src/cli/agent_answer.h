// Reading the agent's answers without trusting their shape. The answers come from another program
// (maybe another version of it): a missing field or one of an unexpected type prints as "-",
// never throws.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace edgetrust::cli {

// The member `key` of `obj`, or null when `obj` is not an object or lacks it.
const nlohmann::json& Get(const nlohmann::json& obj, const char* key);
// Text for a terminal: control characters (an escape sequence from a peer's address, a newline
// in an error) must not reach it.
std::string Printable(std::string s);
// A scalar as text; "-" for an empty string, null, an array or an object.
std::string Str(const nlohmann::json& v);
std::optional<int64_t> Int(const nlohmann::json& v);
// A time in milliseconds since the epoch; "-" for none (0, missing, not a number).
std::string TimeMs(const nlohmann::json& v);

}  // namespace edgetrust::cli
