#include "guard/event_buffer.h"

#include <sys/fanotify.h>

#include <cstring>

namespace edgetrust::guard {

EventBatch ParseEventBuffer(const uint8_t* data, size_t size) {
  EventBatch out;
  size_t offset = 0;
  while (offset < size) {
    const size_t remaining = size - offset;
    if (remaining < FAN_EVENT_METADATA_LEN) {
      out.stop = EventBatch::kTruncated;
      break;
    }
    fanotify_event_metadata meta;
    std::memcpy(&meta, data + offset, sizeof meta);
    if (!FAN_EVENT_OK(&meta, static_cast<long>(remaining))) {
      out.stop = EventBatch::kTruncated;
      break;
    }
    if (meta.vers != FANOTIFY_METADATA_VERSION) {
      out.stop = EventBatch::kVersionMismatch;
      break;
    }
    out.events.push_back(RawEvent{meta.mask, meta.fd, meta.pid});
    // What FAN_EVENT_NEXT does, on the offset rather than on a pointer: the macro would compute
    // a pointer past the copied header, and the next header is copied from `data` anyway.
    // FAN_EVENT_OK above guarantees FAN_EVENT_METADATA_LEN <= event_len <= remaining.
    offset += meta.event_len;
  }
  out.consumed = offset;
  return out;
}

}  // namespace edgetrust::guard
