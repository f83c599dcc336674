#include "guard/event_buffer.h"

#include <gtest/gtest.h>
#include <sys/fanotify.h>

#include <cstring>
#include <vector>

namespace edgetrust::guard {
namespace {

std::vector<uint8_t> Event(uint64_t mask, int32_t fd, int32_t pid, uint32_t extra = 0,
                           uint8_t vers = FANOTIFY_METADATA_VERSION) {
  fanotify_event_metadata m{};
  m.event_len = static_cast<uint32_t>(sizeof m) + extra;
  m.vers = vers;
  m.metadata_len = sizeof m;
  m.mask = mask;
  m.fd = fd;
  m.pid = pid;
  std::vector<uint8_t> out(sizeof m + extra, 0xAB);
  std::memcpy(out.data(), &m, sizeof m);
  return out;
}

std::vector<uint8_t> Concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(EventBuffer, ParsesEveryEvent) {
  auto buf = Concat({Event(FAN_OPEN_EXEC_PERM, 7, 100), Event(FAN_CLOSE_WRITE, 8, 101, 16),
                     Event(FAN_Q_OVERFLOW, FAN_NOFD, 0)});
  EventBatch b = ParseEventBuffer(buf.data(), buf.size());
  EXPECT_EQ(b.stop, EventBatch::kEnd);
  EXPECT_EQ(b.consumed, buf.size());
  ASSERT_EQ(b.events.size(), 3u);
  EXPECT_EQ(b.events[0].mask, FAN_OPEN_EXEC_PERM);
  EXPECT_EQ(b.events[0].fd, 7);
  EXPECT_EQ(b.events[0].pid, 100);
  EXPECT_EQ(b.events[1].mask, FAN_CLOSE_WRITE);
  EXPECT_EQ(b.events[1].fd, 8);
  EXPECT_EQ(b.events[2].fd, FAN_NOFD);
}

TEST(EventBuffer, UnalignedInput) {
  auto buf = Concat({std::vector<uint8_t>(1, 0), Event(FAN_CLOSE_WRITE, 3, 5)});
  EventBatch b = ParseEventBuffer(buf.data() + 1, buf.size() - 1);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].fd, 3);
}

TEST(EventBuffer, TruncatedTail) {
  auto buf = Concat({Event(FAN_CLOSE_WRITE, 3, 5), Event(FAN_CLOSE_WRITE, 4, 5)});
  for (size_t cut = 1; cut < sizeof(fanotify_event_metadata); ++cut) {
    EventBatch b = ParseEventBuffer(buf.data(), buf.size() - cut);
    EXPECT_EQ(b.stop, EventBatch::kTruncated);
    EXPECT_EQ(b.events.size(), 1u);
    EXPECT_EQ(b.consumed, sizeof(fanotify_event_metadata));
  }
  EventBatch empty = ParseEventBuffer(buf.data(), 0);
  EXPECT_EQ(empty.stop, EventBatch::kEnd);
  EXPECT_TRUE(empty.events.empty());
}

TEST(EventBuffer, BadLengthsAndVersion) {
  auto short_len = Event(FAN_CLOSE_WRITE, 3, 5);
  short_len[0] = 4;  // event_len 4 < metadata length: never loops, never walks back
  short_len[1] = short_len[2] = short_len[3] = 0;
  EXPECT_EQ(ParseEventBuffer(short_len.data(), short_len.size()).stop, EventBatch::kTruncated);
  auto too_long = Event(FAN_CLOSE_WRITE, 3, 5, 100);
  too_long.resize(too_long.size() - 1);
  EXPECT_EQ(ParseEventBuffer(too_long.data(), too_long.size()).stop, EventBatch::kTruncated);
  auto buf = Concat({Event(FAN_CLOSE_WRITE, 3, 5), Event(FAN_CLOSE_WRITE, 4, 5, 0, 2)});
  EventBatch b = ParseEventBuffer(buf.data(), buf.size());
  EXPECT_EQ(b.stop, EventBatch::kVersionMismatch);
  EXPECT_EQ(b.events.size(), 1u);
}

}  // namespace
}  // namespace edgetrust::guard
