// Fuzz target: the fanotify event buffer walk and container-path normalisation of the drift
// monitor (src/guard/event_buffer.h, guard/image_index.h NormalisePath, guard/paths.h).
//
// Every input is used both ways: as the bytes of one read() from the fanotify descriptor, and as
// a reported path. Invariants: the walk never reads past the buffer, reports each event's fields
// exactly as they sit in the bytes, covers the input exactly when it says kEnd, and stops only for
// the reason it names; NormalisePath accepts exactly the absolute NUL-free paths and returns a
// normalised, idempotent one that the prefix helpers agree with.
#include <sys/fanotify.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_util.h"
#include "guard/event_buffer.h"
#include "guard/image_index.h"
#include "guard/paths.h"

namespace {

using namespace edgetrust::guard;

void CheckEvents(const uint8_t* data, size_t size) {
  const EventBatch b = ParseEventBuffer(data, size);
  ET_FUZZ_CHECK(b.consumed <= size);
  size_t off = 0;
  for (const RawEvent& ev : b.events) {
    ET_FUZZ_CHECK(size - off >= FAN_EVENT_METADATA_LEN);
    fanotify_event_metadata m;
    std::memcpy(&m, data + off, sizeof m);
    ET_FUZZ_CHECK(m.vers == FANOTIFY_METADATA_VERSION);
    ET_FUZZ_CHECK(m.event_len >= FAN_EVENT_METADATA_LEN && m.event_len <= size - off);
    ET_FUZZ_CHECK(ev.mask == m.mask && ev.fd == m.fd && ev.pid == m.pid);
    off += m.event_len;
  }
  ET_FUZZ_CHECK(off == b.consumed);
  const size_t rest = size - b.consumed;
  switch (b.stop) {
    case EventBatch::kEnd:
      ET_FUZZ_CHECK(rest == 0);
      break;
    case EventBatch::kTruncated: {
      ET_FUZZ_CHECK(rest > 0);
      if (rest >= FAN_EVENT_METADATA_LEN) {
        fanotify_event_metadata m;
        std::memcpy(&m, data + b.consumed, sizeof m);
        ET_FUZZ_CHECK(m.event_len < FAN_EVENT_METADATA_LEN || m.event_len > rest);
      }
      break;
    }
    case EventBatch::kVersionMismatch: {
      ET_FUZZ_CHECK(rest >= FAN_EVENT_METADATA_LEN);
      fanotify_event_metadata m;
      std::memcpy(&m, data + b.consumed, sizeof m);
      ET_FUZZ_CHECK(m.vers != FANOTIFY_METADATA_VERSION);
      break;
    }
  }
}

void CheckPath(const std::string& text) {
  auto n = NormalisePath(text);
  const bool valid = !text.empty() && text[0] == '/' && text.find('\0') == std::string::npos;
  ET_FUZZ_CHECK(n.ok() == valid);
  if (!n.ok()) {
    ET_FUZZ_CHECK(n.status().code() == edgetrust::ErrorCode::kInvalidArgument);
    return;
  }
  const std::string& p = *n;
  ET_FUZZ_CHECK(!p.empty() && p[0] == '/');
  ET_FUZZ_CHECK(p.size() <= text.size());
  ET_FUZZ_CHECK(p == "/" || p.back() != '/');
  ET_FUZZ_CHECK(p.find("//") == std::string::npos);
  const std::string slashed = p + "/";
  ET_FUZZ_CHECK(slashed.find("/./") == std::string::npos);
  ET_FUZZ_CHECK(slashed.find("/../") == std::string::npos);
  auto again = NormalisePath(p);
  ET_FUZZ_CHECK(again.ok() && *again == p);
  ET_FUZZ_CHECK(IsUnderPrefix(p, "/") && IsUnderPrefix(p, p));
  ET_FUZZ_CHECK(StripMergedPrefix(p, p) == "/");
  if (p != "/") {
    ET_FUZZ_CHECK(StripMergedPrefix(p + "/x", p) == "/x");
    ET_FUZZ_CHECK(!IsUnderPrefix(p + "x", p));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CheckEvents(data, size);
  CheckPath(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
