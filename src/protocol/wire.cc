#include "protocol/wire.h"

#include <string>

namespace edgetrust::protocol {

std::array<uint8_t, kHeaderSize> EncodeHeader(const FrameHeader& h) {
  Bytes out;
  out.reserve(kHeaderSize);
  PutU32(out, kMagic);
  PutU16(out, h.version);
  PutU16(out, h.opcode);
  PutU64(out, h.request_id);
  PutU32(out, h.status);
  PutU32(out, h.body_length);
  std::array<uint8_t, kHeaderSize> header{};
  std::copy(out.begin(), out.end(), header.begin());
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
