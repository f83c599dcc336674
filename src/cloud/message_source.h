// Where the cloud link gets the messages it forwards: in the gateway the durable store-and-forward
// queue, in tests anything that keeps messages in memory.
//
// Delivery contract (at least once): Take hands out messages and marks them in flight; each one
// is then either acknowledged (Ack: the cloud confirmed it, the source may forget it) or given
// back (Return: the link to the cloud was lost before the confirmation; the source delivers it
// again by a later Take). A message that is neither acknowledged nor returned (the process died)
// must be delivered again after a restart. The cloud may therefore see a message twice; the
// (leaf, seq) pair of the envelope identifies duplicates.
//
// Thread safety: implementations must accept calls from several threads at once. The link calls
// Take from its feeder thread, Ack and Return from its feeder and network threads, and Wake from
// the thread that stops it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgetrust::cloud {

struct OutboundMessage {
  uint64_t id = 0;          // the source's handle for Ack/Return
  std::string leaf;         // the leaf as the gateway authenticated it (never from the payload)
  uint64_t seq = 0;         // the leaf's sequence number
  std::string subtopic;     // what the leaf published to, below its own topic
  std::string payload;      // the leaf's bytes, unchanged
  int64_t received_ms = 0;  // when the gateway received it (Unix time, ms)
};

class MessageSource {
 public:
  virtual ~MessageSource() = default;
  // Up to `max` deliverable messages (not in flight), oldest first, waiting up to `wait` for the
  // first one; marks them in flight. Empty when none came in time or Wake() was called.
  virtual std::vector<OutboundMessage> Take(size_t max, std::chrono::milliseconds wait) = 0;
  // The cloud acknowledged message `id`.
  virtual void Ack(uint64_t id) = 0;
  // The link was lost: deliver these again later.
  virtual void Return(const std::vector<uint64_t>& ids) = 0;
  // Makes a waiting Take return now.
  virtual void Wake() = 0;
};

}  // namespace edgetrust::cloud
