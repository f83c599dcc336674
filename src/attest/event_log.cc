// Measurement registers and the event log: extension, the log's hash chain, its deterministic
// CBOR encoding, replay, and the JSON form (edgetrust/attestation.h, docs/attestation.md).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "attest/cbor_util.h"
#include "attest/json_util.h"
#include "attest/sha256.h"
#include "common/hex.h"
#include "edgetrust/attestation.h"

namespace edgetrust {
namespace {

using nlohmann::json;

// Limits of the JSON form (docs/attestation.md, "Event log").
constexpr size_t kMaxLogJsonBytes = size_t{64} << 20;
constexpr size_t kMaxLogEvents = 65536;
constexpr size_t kMaxPrincipalBytes = 128;
constexpr size_t kMaxDescriptionBytes = 255;
constexpr size_t kEventFields = 6;

std::string Entry(size_t i) { return "event log entry " + std::to_string(i); }

Result<uint64_t> UnsignedField(const json& v, const std::string& what) {
  if (!v.is_number_unsigned()) {
    return Status(ErrorCode::kMalformed,
                  what + " must be an unsigned integer, not " + attest::JsonTypeName(v));
  }
  return v.get<uint64_t>();
}

Result<std::string> TextField(const json& v, const std::string& what, size_t max_bytes) {
  if (!v.is_string()) {
    return Status(ErrorCode::kMalformed,
                  what + " must be a string, not " + attest::JsonTypeName(v));
  }
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    return Status(ErrorCode::kInvalidArgument, what + " is " + std::to_string(s.size()) +
                                                   " bytes, more than the limit of " +
                                                   std::to_string(max_bytes));
  }
  return s;
}

Result<LogEvent> ParseEvent(const json& entry, size_t i) {
  const std::string at = Entry(i);
  if (!entry.is_object()) {
    return Status(ErrorCode::kMalformed,
                  at + " must be an object, not " + attest::JsonTypeName(entry));
  }
  for (const auto& [key, value] : entry.items()) {
    static constexpr std::string_view kKnown[kEventFields] = {"seq",       "register", "digest",
                                                              "principal", "event",    "time"};
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      return Status(ErrorCode::kMalformed,
                    at + ": unknown field \"" + key +
                        "\" (fields: seq, register, digest, principal, event, time)");
    }
  }
  auto field = [&](const char* name) -> Result<const json*> {
    auto it = entry.find(name);
    if (it == entry.end()) {
      return Status(ErrorCode::kMalformed, at + ": field \"" + name + "\" is missing");
    }
    return &*it;
  };
  LogEvent e;
  ET_ASSIGN_OR_RETURN(const json* seq, field("seq"));
  ET_ASSIGN_OR_RETURN(e.seq, UnsignedField(*seq, at + ": \"seq\""));
  ET_ASSIGN_OR_RETURN(const json* reg, field("register"));
  ET_ASSIGN_OR_RETURN(uint64_t index, UnsignedField(*reg, at + ": \"register\""));
  if (index >= kRegisterCount) {
    return Status(ErrorCode::kInvalidArgument, at + ": \"register\" is " + std::to_string(index) +
                                                   ", registers are 0 to " +
                                                   std::to_string(kRegisterCount - 1));
  }
  e.register_index = static_cast<uint32_t>(index);
  ET_ASSIGN_OR_RETURN(const json* digest, field("digest"));
  ET_ASSIGN_OR_RETURN(e.digest, attest::DigestFromHex(*digest, at + ": \"digest\""));
  ET_ASSIGN_OR_RETURN(const json* principal, field("principal"));
  ET_ASSIGN_OR_RETURN(e.principal,
                      TextField(*principal, at + ": \"principal\"", kMaxPrincipalBytes));
  if (e.principal.empty()) {
    return Status(ErrorCode::kInvalidArgument, at + ": \"principal\" is empty");
  }
  ET_ASSIGN_OR_RETURN(const json* description, field("event"));
  ET_ASSIGN_OR_RETURN(e.description,
                      TextField(*description, at + ": \"event\"", kMaxDescriptionBytes));
  ET_ASSIGN_OR_RETURN(const json* time, field("time"));
  ET_ASSIGN_OR_RETURN(e.time, UnsignedField(*time, at + ": \"time\""));
  return e;
}

}  // namespace

Digest256 ExtendRegisterValue(const Digest256& old_value, const Digest256& digest) {
  return attest::Sha256({old_value, digest});
}

Digest256 PcrMirrorDigest(uint32_t index, const Digest256& digest) {
  const uint8_t i = static_cast<uint8_t>(index);
  return attest::Sha256({ByteView(&i, 1), digest});
}

Digest256 ReplayPcrMirror(const Digest256& base, const std::vector<LogEvent>& events) {
  Digest256 pcr = base;
  for (const auto& e : events)
    pcr = ExtendRegisterValue(pcr, PcrMirrorDigest(e.register_index, e.digest));
  return pcr;
}

Bytes CanonicalEventEncoding(const LogEvent& event) {
  attest::cbor::Writer w(64 + event.principal.size() + event.description.size());
  w.Array(6)
      .Uint(event.seq)
      .Uint(event.register_index)
      .ByteString(event.digest)
      .Text(event.principal)
      .Text(event.description)
      .Uint(event.time);
  return std::move(w).Take();
}

Digest256 ChainLogDigest(const Digest256& head, const LogEvent& event) {
  Bytes encoded = CanonicalEventEncoding(event);
  return attest::Sha256({head, encoded});
}

Result<LogReplay> ReplayLog(const std::vector<LogEvent>& events) {
  LogReplay replay;
  for (size_t i = 0; i < events.size(); ++i) {
    const LogEvent& e = events[i];
    if (e.seq != i) {
      return Status(ErrorCode::kInvalidArgument, Entry(i) + " has seq " + std::to_string(e.seq) +
                                                     ", expected " + std::to_string(i) +
                                                     " (events missing, repeated or out of order)");
    }
    if (e.register_index >= kRegisterCount) {
      return Status(ErrorCode::kInvalidArgument,
                    Entry(i) + " extends register " + std::to_string(e.register_index) +
                        ", registers are 0 to " + std::to_string(kRegisterCount - 1));
    }
    Digest256& reg = replay.registers[e.register_index];
    reg = ExtendRegisterValue(reg, e.digest);
    replay.log_digest = ChainLogDigest(replay.log_digest, e);
  }
  replay.count = events.size();
  return replay;
}

std::string EventLogToJson(const std::vector<LogEvent>& events) {
  // ordered_json keeps the documented field order.
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const LogEvent& e : events) {
    out.push_back({{"seq", e.seq},
                   {"register", e.register_index},
                   {"digest", HexEncode(e.digest)},
                   {"principal", e.principal},
                   {"event", e.description},
                   {"time", e.time}});
  }
  // Text that is not UTF-8 cannot come from ParseEventLogJson; replacing it keeps this total.
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<std::vector<LogEvent>> ParseEventLogJson(std::string_view text) {
  // An event is 1 object + 6 values; the top-level array is one more. One event more than the
  // limit still parses, so that case gets the clearer message below.
  const attest::JsonLimits limits{kMaxLogJsonBytes, (kMaxLogEvents + 1) * (kEventFields + 1) + 1,
                                  2};
  ET_ASSIGN_OR_RETURN(json doc, attest::ParseStrictJson(text, "event log", limits));
  if (!doc.is_array()) {
    return Status(ErrorCode::kMalformed,
                  "event log must be a JSON array of events, not " + attest::JsonTypeName(doc));
  }
  if (doc.size() > kMaxLogEvents) {
    return Status(ErrorCode::kInvalidArgument, "event log has " + std::to_string(doc.size()) +
                                                   " events, more than the limit of " +
                                                   std::to_string(kMaxLogEvents));
  }
  std::vector<LogEvent> events;
  events.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    ET_ASSIGN_OR_RETURN(LogEvent e, ParseEvent(doc[i], i));
    events.push_back(std::move(e));
  }
  return events;
}

}  // namespace edgetrust
