// Framing of the secure-domain protocol: a fixed 24-byte header followed by a body.
//
// Header (all integers big-endian):
//   magic u32 = "ETSD" | version u16 | opcode u16 | request_id u64 | status u32 | body_length u32
// The body length is checked against kMaxBodySize before any body byte is read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::protocol {

inline constexpr uint32_t kMagic = 0x45545344;  // "ETSD"
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr size_t kHeaderSize = 24;
// Largest body: a 1 MiB payload plus the other fields of its request, with room to spare.
inline constexpr uint32_t kMaxBodySize = (1u << 20) + 80 * 1024;

struct FrameHeader {
  uint16_t version = kProtocolVersion;
  uint16_t opcode = 0;
  uint64_t request_id = 0;
  uint32_t status = 0;
  uint32_t body_length = 0;
};

std::array<uint8_t, kHeaderSize> EncodeHeader(const FrameHeader& header);

// Parses a header. Errors: kMalformed for a bad magic (the stream cannot be trusted any more:
// close it), kTooLarge for a body over kMaxBodySize. The version is returned as sent; callers
// answer an unknown version with an error.
Result<FrameHeader> DecodeHeader(ByteView bytes);

// Big-endian helpers shared by the codecs.
inline void PutU16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
inline void PutU32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
inline void PutU64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}
inline uint16_t GetU16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t GetU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline uint64_t GetU64(const uint8_t* p) { return (uint64_t{GetU32(p)} << 32) | GetU32(p + 4); }

}  // namespace edgetrust::protocol
