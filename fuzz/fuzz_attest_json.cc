// Fuzz target: the JSON files a verifier reads next to evidence, the event log
// (ParseEventLogJson) and reference values (ParseReferenceJson), edgetrust/attestation.h.
//
// The first byte selects the parser (fuzz_attest_data.h: bit 0 clear the event log, set the
// reference values); the rest is the JSON text. Invariants: errors are kMalformed or
// kInvalidArgument with a message; a parsed log has registers in range and fields within their
// limits, ReplayLog either replays it or refuses it with kInvalidArgument, and EventLogToJson
// then ParseEventLogJson gives back equal events; parsed reference values are in range and their
// registers sorted by index.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "edgetrust/attestation.h"
#include "fuzz_util.h"

namespace {

using namespace edgetrust;  // NOLINT(google-build-using-namespace): a fuzz target

bool IsParseError(const Status& st) {
  return (st.code() == ErrorCode::kMalformed || st.code() == ErrorCode::kInvalidArgument) &&
         !st.message().empty();
}

bool SameEvents(const std::vector<LogEvent>& a, const std::vector<LogEvent>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].seq != b[i].seq || a[i].register_index != b[i].register_index ||
        a[i].digest != b[i].digest || a[i].principal != b[i].principal ||
        a[i].description != b[i].description || a[i].time != b[i].time) {
      return false;
    }
  }
  return true;
}

void FuzzLog(std::string_view text) {
  auto log = ParseEventLogJson(text);
  if (!log.ok()) {
    ET_FUZZ_CHECK(IsParseError(log.status()));
    return;
  }
  ET_FUZZ_CHECK(log->size() <= 65536);
  for (const LogEvent& e : *log) {
    ET_FUZZ_CHECK(e.register_index < kRegisterCount);
    ET_FUZZ_CHECK(!e.principal.empty() && e.principal.size() <= 128);
    ET_FUZZ_CHECK(e.description.size() <= 255);
  }
  auto replay = ReplayLog(*log);
  if (replay.ok()) {
    ET_FUZZ_CHECK(replay->count == log->size());
  } else {
    ET_FUZZ_CHECK(replay.status().code() == ErrorCode::kInvalidArgument);
  }
  auto again = ParseEventLogJson(EventLogToJson(*log));
  ET_FUZZ_CHECK(again.ok());
  ET_FUZZ_CHECK(SameEvents(*log, *again));
}

void FuzzReference(std::string_view text) {
  auto ref = ParseReferenceJson(text);
  if (!ref.ok()) {
    ET_FUZZ_CHECK(IsParseError(ref.status()));
    return;
  }
  for (size_t i = 0; i < ref->registers.size(); ++i) {
    ET_FUZZ_CHECK(ref->registers[i].first < kRegisterCount);
    if (i > 0) ET_FUZZ_CHECK(ref->registers[i - 1].first < ref->registers[i].first);
  }
  for (const auto& e : ref->events) {
    ET_FUZZ_CHECK(e.register_index < kRegisterCount);
    ET_FUZZ_CHECK(!e.description || e.description->size() <= 255);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    FuzzLog(text);
  } else {
    FuzzReference(text);
  }
  return 0;
}
