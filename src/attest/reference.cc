// Reference values for appraisal: the strict JSON parser (edgetrust/attestation.h,
// docs/attestation.md "Reference values").
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "attest/json_util.h"
#include "edgetrust/attestation.h"

namespace edgetrust {
namespace {

using nlohmann::json;

constexpr size_t kMaxReferenceBytes = size_t{16} << 20;
constexpr size_t kMaxReferenceEvents = 65536;
constexpr size_t kMaxDescriptionBytes = 255;  // as in the event log
constexpr size_t kMaxReferenceValues = (kMaxReferenceEvents + 1) * 4 + kRegisterCount + 8;

constexpr std::string_view kTopLevelKeys =
    "registers, events, exclusive_registers, allow_emulated, require_tpm_quote, max_age_seconds";

Status Bad(ErrorCode code, const std::string& message) {
  return Status(code, "reference values: " + message);
}

// "0" .. "15", written without sign or leading zeros.
Result<uint32_t> RegisterKey(const std::string& key) {
  const bool digits =
      !key.empty() && key.size() <= 2 &&
      std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && (key.size() == 1 || key[0] != '0')) {
    const auto index = static_cast<uint32_t>(std::stoul(key));
    if (index < kRegisterCount) return index;
  }
  return Bad(ErrorCode::kInvalidArgument, "\"registers\": key \"" + key +
                                              "\" is not a register index (0 to " +
                                              std::to_string(kRegisterCount - 1) + ")");
}

Status ParseRegisters(const json& v, ReferenceValues& ref) {
  if (!v.is_object()) {
    return Bad(ErrorCode::kMalformed,
               "\"registers\" must be an object {\"index\": \"64 hex digits\"}, not " +
                   attest::JsonTypeName(v));
  }
  for (const auto& [key, value] : v.items()) {
    ET_ASSIGN_OR_RETURN(uint32_t index, RegisterKey(key));
    auto digest = attest::DigestFromHex(value, "register " + key);
    if (!digest.ok())
      return Bad(digest.status().code(), "\"registers\": " + digest.status().message());
    ref.registers.emplace_back(index, *digest);
  }
  std::sort(ref.registers.begin(), ref.registers.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return Status::Ok();
}

Result<ReferenceValues::ExpectedEvent> ParseEvent(const json& v, size_t i) {
  const std::string at = "\"events\" entry " + std::to_string(i);
  if (!v.is_object())
    return Bad(ErrorCode::kMalformed, at + " must be an object, not " + attest::JsonTypeName(v));
  ReferenceValues::ExpectedEvent e;
  bool have_register = false;
  bool have_digest = false;
  for (const auto& [key, value] : v.items()) {
    if (key == "register") {
      if (!value.is_number_unsigned()) {
        return Bad(ErrorCode::kMalformed, at + ": \"register\" must be an unsigned integer, not " +
                                              attest::JsonTypeName(value));
      }
      const auto index = value.get<uint64_t>();
      if (index >= kRegisterCount) {
        return Bad(ErrorCode::kInvalidArgument, at + ": \"register\" is " + std::to_string(index) +
                                                    ", registers are 0 to " +
                                                    std::to_string(kRegisterCount - 1));
      }
      e.register_index = static_cast<uint32_t>(index);
      have_register = true;
    } else if (key == "digest") {
      auto digest = attest::DigestFromHex(value, at + ": \"digest\"");
      if (!digest.ok()) return Bad(digest.status().code(), digest.status().message());
      e.digest = *digest;
      have_digest = true;
    } else if (key == "event") {
      if (!value.is_string()) {
        return Bad(ErrorCode::kMalformed,
                   at + ": \"event\" must be a string, not " + attest::JsonTypeName(value));
      }
      const auto& text = value.get_ref<const std::string&>();
      if (text.size() > kMaxDescriptionBytes) {
        return Bad(ErrorCode::kInvalidArgument, at + ": \"event\" is longer than 255 bytes");
      }
      e.description = text;
    } else {
      return Bad(ErrorCode::kMalformed,
                 at + ": unknown field \"" + key + "\" (fields: register, digest, event)");
    }
  }
  if (!have_register) return Bad(ErrorCode::kMalformed, at + ": field \"register\" is missing");
  if (!have_digest) return Bad(ErrorCode::kMalformed, at + ": field \"digest\" is missing");
  return e;
}

// [2, ...]: register indices, each at most once.
Status ParseExclusive(const json& v, ReferenceValues& ref) {
  if (!v.is_array()) {
    return Bad(ErrorCode::kMalformed,
               "\"exclusive_registers\" must be an array of register "
               "indices, not " +
                   attest::JsonTypeName(v));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string at = "\"exclusive_registers\" entry " + std::to_string(i);
    if (!v[i].is_number_unsigned()) {
      return Bad(ErrorCode::kMalformed,
                 at + " must be an unsigned integer, not " + attest::JsonTypeName(v[i]));
    }
    const auto index = v[i].get<uint64_t>();
    if (index >= kRegisterCount) {
      return Bad(ErrorCode::kInvalidArgument, at + " is " + std::to_string(index) +
                                                  ", registers are 0 to " +
                                                  std::to_string(kRegisterCount - 1));
    }
    const auto r = static_cast<uint32_t>(index);
    if (std::find(ref.exclusive_registers.begin(), ref.exclusive_registers.end(), r) !=
        ref.exclusive_registers.end()) {
      return Bad(ErrorCode::kInvalidArgument,
                 at + ": register " + std::to_string(r) + " is listed twice");
    }
    ref.exclusive_registers.push_back(r);
  }
  std::sort(ref.exclusive_registers.begin(), ref.exclusive_registers.end());
  return Status::Ok();
}

}  // namespace

Result<ReferenceValues> ParseReferenceJson(std::string_view text) {
  const attest::JsonLimits limits{kMaxReferenceBytes, kMaxReferenceValues, 3};
  ET_ASSIGN_OR_RETURN(json doc, attest::ParseStrictJson(text, "reference values", limits));
  if (!doc.is_object()) {
    return Bad(ErrorCode::kMalformed, "must be a JSON object, not " + attest::JsonTypeName(doc));
  }
  ReferenceValues ref;
  for (const auto& [key, value] : doc.items()) {
    if (key == "registers") {
      ET_RETURN_IF_ERROR(ParseRegisters(value, ref));
    } else if (key == "events") {
      if (!value.is_array()) {
        return Bad(ErrorCode::kMalformed,
                   "\"events\" must be an array, not " + attest::JsonTypeName(value));
      }
      if (value.size() > kMaxReferenceEvents) {
        return Bad(ErrorCode::kInvalidArgument,
                   "\"events\" lists more than " + std::to_string(kMaxReferenceEvents) + " events");
      }
      for (size_t i = 0; i < value.size(); ++i) {
        ET_ASSIGN_OR_RETURN(auto e, ParseEvent(value[i], i));
        ref.events.push_back(std::move(e));
      }
    } else if (key == "exclusive_registers") {
      ET_RETURN_IF_ERROR(ParseExclusive(value, ref));
    } else if (key == "allow_emulated") {
      if (!value.is_boolean()) {
        return Bad(ErrorCode::kMalformed,
                   "\"allow_emulated\" must be true or false, not " + attest::JsonTypeName(value));
      }
      ref.allow_emulated = value.get<bool>();
    } else if (key == "require_tpm_quote") {
      if (!value.is_boolean()) {
        return Bad(ErrorCode::kMalformed, "\"require_tpm_quote\" must be true or false, not " +
                                              attest::JsonTypeName(value));
      }
      ref.require_tpm_quote = value.get<bool>();
    } else if (key == "max_age_seconds") {
      if (!value.is_number_unsigned()) {
        return Bad(ErrorCode::kMalformed, "\"max_age_seconds\" must be an unsigned integer, not " +
                                              attest::JsonTypeName(value));
      }
      ref.max_age_seconds = value.get<uint64_t>();
    } else {
      return Bad(ErrorCode::kMalformed,
                 "unknown key \"" + key + "\" (known keys: " + std::string(kTopLevelKeys) + ")");
    }
  }
  return ref;
}

}  // namespace edgetrust
