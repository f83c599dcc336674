// Walking a buffer read from a fanotify descriptor: bytes in, the events' (mask, fd, pid) out.
// On its own so that it can be fuzzed (fuzz/fuzz_guard_events.cc): the bytes come from the
// kernel, but a parser that trusts lengths is one bug away from walking off its buffer.
//
// Thread safety: a pure function. Errors: none thrown; a malformed buffer ends the walk and is
// reported in the result (`stop`), with the events before it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgetrust::guard {

struct RawEvent {
  uint64_t mask = 0;
  int32_t fd = -1;  // FAN_NOFD (-1) for FAN_Q_OVERFLOW; otherwise an open descriptor to close
  int32_t pid = 0;
};

struct EventBatch {
  enum Stop {
    kEnd,              // every byte was part of an event
    kTruncated,        // trailing bytes shorter than their event_len (or than a header)
    kVersionMismatch,  // an event with metadata->vers != FANOTIFY_METADATA_VERSION
  };
  std::vector<RawEvent> events;
  size_t consumed = 0;  // bytes covered by `events`
  Stop stop = kEnd;
};

// Parses `size` bytes, checking each event with FAN_EVENT_OK and stepping by its event_len (as
// FAN_EVENT_NEXT does). Each header is copied out of the buffer
// first, so `data` need not be aligned (a fuzzer's input is not; the monitor's buffer is).
EventBatch ParseEventBuffer(const uint8_t* data, size_t size);

}  // namespace edgetrust::guard
