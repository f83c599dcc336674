// The durable queue seen from the cloud link: what it takes, acknowledges and gives back.
// Thread safety: that of MessageQueue (all methods from any thread).
#pragma once

#include "cloud/message_source.h"
#include "store/message_queue.h"

namespace edgetrust::agent {

class QueueSource : public cloud::MessageSource {
 public:
  explicit QueueSource(store::MessageQueue& queue) : queue_(queue) {}

  std::vector<cloud::OutboundMessage> Take(size_t max, std::chrono::milliseconds wait) override {
    std::vector<store::StoredMessage> taken = queue_.Take(max, wait);
    std::vector<cloud::OutboundMessage> out;
    out.reserve(taken.size());
    for (auto& m : taken) {
      out.push_back(cloud::OutboundMessage{m.id, std::move(m.leaf), m.seq, std::move(m.subtopic),
                                           std::move(m.payload), m.received_ms});
    }
    return out;
  }
  void Ack(uint64_t id) override { queue_.Ack(id); }
  void Return(const std::vector<uint64_t>& ids) override { queue_.Return(ids); }
  void Wake() override { queue_.Wake(); }

 private:
  store::MessageQueue& queue_;
};

}  // namespace edgetrust::agent
