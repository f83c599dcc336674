// The container guard's event record: every violation, remediation, deployment and refusal, as
// JSON objects with a sequence number and a time (docs/container-guard.md, "Events").
//
// The newest kMemoryEvents stay in memory for `edgetrust events`; every event is also appended,
// one JSON line each, to <state>/events.jsonl, which is rotated to events.jsonl.1 past
// kMaxFileBytes, so the record survives restarts without growing without bound.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace edgetrust::guard {

class GuardEvents {
 public:
  static constexpr size_t kMemoryEvents = 1000;
  static constexpr uint64_t kMaxFileBytes = uint64_t{4} << 20;

  // `path`: the JSON-lines file; empty keeps events in memory only. Events already in the file
  // are loaded (the newest kMemoryEvents of them) and numbering continues after them.
  explicit GuardEvents(std::string path);

  // Adds "seq" and, when missing, "time" (RFC 3339 with milliseconds) and "time_ms"; returns
  // the stored event.
  nlohmann::json Add(nlohmann::json event);
  // The newest `limit` events, oldest first; only those whose "module" is `module` when given.
  nlohmann::json Recent(size_t limit, const std::string& module = "") const;

 private:
  void Append(const nlohmann::json& event);

  const std::string path_;
  mutable std::mutex mu_;
  std::deque<nlohmann::json> recent_;
  uint64_t next_seq_ = 1;
  uint64_t file_bytes_ = 0;
};

std::string Rfc3339Ms(int64_t unix_ms);

}  // namespace edgetrust::guard
