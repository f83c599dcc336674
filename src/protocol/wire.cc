#include "protocol/wire.h"

#include <string>

namespace edgetrust::protocol {

namespace {
void Store(uint8_t* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
}  // namespace

// Written in place: every frame has a header, so no allocation here.
std::array<uint8_t, kHeaderSize> EncodeHeader(const FrameHeader& h) {
  std::array<uint8_t, kHeaderSize> header{};
  Store(header.data(), kMagic, 4);
  Store(header.data() + 4, h.version, 2);
  Store(header.data() + 6, h.opcode, 2);
  Store(header.data() + 8, h.request_id, 8);
  Store(header.data() + 16, h.status, 4);
  Store(header.data() + 20, h.body_length, 4);
  return header;
}

Result<FrameHeader> DecodeHeader(ByteView b) {
  if (b.size() < kHeaderSize) return Status(ErrorCode::kMalformed, "truncated frame header");
  if (GetU32(b.data()) != kMagic) return Status(ErrorCode::kMalformed, "bad frame magic");
  FrameHeader h;
  h.version = GetU16(b.data() + 4);
  h.opcode = GetU16(b.data() + 6);
  h.request_id = GetU64(b.data() + 8);
  h.status = GetU32(b.data() + 16);
  h.body_length = GetU32(b.data() + 20);
  if (h.body_length > kMaxBodySize) {
    return Status(ErrorCode::kTooLarge, "frame body of " + std::to_string(h.body_length) +
                                            " bytes exceeds the limit of " +
                                            std::to_string(kMaxBodySize));
  }
  return h;
}

}  // namespace edgetrust::protocol
