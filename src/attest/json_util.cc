// Strict, bounded JSON parsing for the attestation files (json_util.h).
#include "attest/json_util.h"

#include <algorithm>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/hex.h"

namespace edgetrust::attest {
namespace {

using nlohmann::json;

// Builds the document with nlohmann-json's own DOM builder, counting values and nesting on the
// way and stopping at the first limit, duplicate key or syntax error.
class LimitedDomBuilder {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  LimitedDomBuilder(json& root, const JsonLimits& limits) : dom_(root, false), limits_(limits) {}

  bool null() { return Count() && dom_.null(); }
  bool boolean(bool v) { return Count() && dom_.boolean(v); }
  bool number_integer(number_integer_t v) { return Count() && dom_.number_integer(v); }
  bool number_unsigned(number_unsigned_t v) { return Count() && dom_.number_unsigned(v); }
  bool number_float(number_float_t v, const string_t& s) {
    return Count() && dom_.number_float(v, s);
  }
  bool string(string_t& v) { return Count() && dom_.string(v); }
  bool binary(binary_t& v) { return Count() && dom_.binary(v); }
  bool start_object(std::size_t n) { return Open() && dom_.start_object(n); }
  bool end_object() {
    keys_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return Open() && dom_.start_array(n); }
  bool end_array() {
    keys_.pop_back();
    return dom_.end_array();
  }
  bool key(string_t& k) {
    if (!keys_.back().insert(k).second) {
      error_ = Status(ErrorCode::kMalformed, "duplicate key \"" + k + "\"");
      return false;
    }
    return dom_.key(k);
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    std::string what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..." -> "parse error ..."
    if (auto end = what.find("] ");
        what.starts_with("[json.exception") && end != std::string::npos) {
      what.erase(0, end + 2);
    }
    error_ = Status(ErrorCode::kMalformed, what);
    return false;
  }

  const Status& error() const { return error_; }

 private:
  bool Count() {
    if (++values_ > limits_.max_values) {
      error_ = Status(ErrorCode::kInvalidArgument,
                      "more than " + std::to_string(limits_.max_values) + " JSON values");
      return false;
    }
    return true;
  }
  bool Open() {
    if (!Count()) return false;
    if (keys_.size() + 1 > limits_.max_depth) {
      error_ = Status(ErrorCode::kInvalidArgument,
                      "nested deeper than " + std::to_string(limits_.max_depth) + " levels");
      return false;
    }
    keys_.emplace_back();
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const JsonLimits& limits_;
  std::vector<std::unordered_set<std::string>> keys_;  // per open object or array
  size_t values_ = 0;
  Status error_;
};

}  // namespace

Result<json> ParseStrictJson(std::string_view text, std::string_view what,
                             const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string(what) + ": " + std::to_string(text.size()) +
                      " bytes, more than the limit of " + std::to_string(limits.max_bytes));
  }
  json root;
  LimitedDomBuilder builder(root, limits);
  bool ok = false;
  try {
    ok = json::sax_parse(text.data(), text.data() + text.size(), &builder);
  } catch (const json::exception& e) {
    return Status(ErrorCode::kMalformed, std::string(what) + ": " + e.what());
  }
  if (!ok) {
    Status st = builder.error();
    if (st.ok()) st = Status(ErrorCode::kMalformed, "not valid JSON");
    return Status(st.code(), std::string(what) + ": " + st.message());
  }
  return root;
}

std::string JsonTypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
      return "a negative integer";
    case json::value_t::number_unsigned:
      return "an unsigned integer";
    case json::value_t::number_float:
      return "a number with a fraction or exponent";
    case json::value_t::binary:
      return "binary data";
    case json::value_t::discarded:
      break;
  }
  return "an unknown value";
}

Result<Digest256> DigestFromHex(const json& value, const std::string& what) {
  if (!value.is_string()) {
    return Status(ErrorCode::kMalformed,
                  what + " must be a string of 64 hex digits, not " + JsonTypeName(value));
  }
  const auto& hex = value.get_ref<const std::string&>();
  if (hex.size() != 64) {
    return Status(ErrorCode::kInvalidArgument, what + " must be 64 hex digits (SHA-256), not " +
                                                   std::to_string(hex.size()) + " characters");
  }
  auto bytes = HexDecode(hex);
  if (!bytes.ok()) {
    return Status(ErrorCode::kInvalidArgument, what + " is not hex: " + bytes.status().message());
  }
  Digest256 digest{};
  std::copy(bytes->begin(), bytes->end(), digest.begin());
  return digest;
}

}  // namespace edgetrust::attest
