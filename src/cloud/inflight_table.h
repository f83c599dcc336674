// Which source message each unacknowledged MQTT packet id carries.
//
// Packet ids are 16 bits and libmosquitto hands them out in sequence, so a flat table indexed by
// the id maps a PUBACK to its message in O(1) with no allocation per message (the table is made
// once, 576 KiB). The link keeps far fewer than 65535 messages in flight, so an id is never
// reused while its message is unacknowledged.
//
// Thread safety: none; the link's network thread owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace edgetrust::cloud {

class InflightTable {
 public:
  InflightTable() : ids_(kSlots), used_(kSlots, 0) {}

  // False if `mid` already carries a message (a broken invariant: the caller keeps the old one).
  bool Put(uint16_t mid, uint64_t id) {
    if (used_[mid] != 0) return false;
    used_[mid] = 1;
    ids_[mid] = id;
    ++count_;
    return true;
  }
  // The message `mid` carried, now forgotten; nullopt for an id not in flight.
  std::optional<uint64_t> Take(uint16_t mid) {
    if (used_[mid] == 0) return std::nullopt;
    used_[mid] = 0;
    --count_;
    return ids_[mid];
  }
  // Every message in flight, appended to `out`; the table is empty afterwards.
  void Drain(std::vector<uint64_t>& out) {
    if (count_ == 0) return;
    for (size_t mid = 0; mid < kSlots && count_ > 0; ++mid) {
      if (used_[mid] != 0) {
        used_[mid] = 0;
        out.push_back(ids_[mid]);
        --count_;
      }
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr size_t kSlots = 65536;
  std::vector<uint64_t> ids_;
  std::vector<uint8_t> used_;
  size_t count_ = 0;
};

}  // namespace edgetrust::cloud
