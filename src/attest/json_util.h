// Strict JSON parsing for the attestation files (event logs, reference values) and the small
// typed getters their parsers share.
//
// ParseStrictJson builds the document through nlohmann-json's SAX interface with limits, so a
// hostile file cannot make the parser allocate far beyond its own size (a 64 MiB log of "{}," would
// otherwise become tens of millions of heap objects) or nest deeply; it also refuses duplicate
// object keys, which nlohmann-json would silently resolve to the last one.
//
// Thread safety: free functions without shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "edgetrust/attestation.h"
#include "edgetrust/status.h"

namespace edgetrust::attest {

struct JsonLimits {
  size_t max_bytes = 0;   // input size
  size_t max_values = 0;  // every value counts: objects, arrays, keys' values, scalars
  size_t max_depth = 0;   // nesting of objects and arrays; the top level is depth 1
};

// kInvalidArgument when a limit is exceeded, kMalformed for a syntax error or a duplicate key;
// messages start with `what` (e.g. "event log").
Result<nlohmann::json> ParseStrictJson(std::string_view text, std::string_view what,
                                       const JsonLimits& limits);

// "a string", "an unsigned integer", ... for messages.
std::string JsonTypeName(const nlohmann::json& value);

// A digest written as 64 hex digits (either case).
Result<Digest256> DigestFromHex(const nlohmann::json& value, const std::string& what);

}  // namespace edgetrust::attest
