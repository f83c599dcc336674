// The decoding steps behind Decoder and DecodePacket: the fixed header (checked before the body
// is buffered) and the body of each packet type. Internal to the codec; errors as in codec.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "edgetrust/status.h"
#include "mqtt/codec.h"

namespace edgetrust::mqtt::internal {

struct FixedHeader {
  PacketType type = PacketType::kConnect;
  uint8_t flags = 0;
  uint32_t remaining = 0;  // body bytes
  size_t header_size = 0;  // first byte and the remaining length
  size_t total() const { return header_size + remaining; }
};

// The fixed header at the start of `data`: nullopt while it is incomplete; an error for a reserved
// type, wrong flags, a bad remaining length, or a packet over `max_packet_size`.
Result<std::optional<FixedHeader>> ParseFixedHeader(Version version, std::string_view data,
                                                    size_t max_packet_size);

// The body of a packet whose fixed header is `header`; `body` is exactly header.remaining bytes.
Result<Packet> DecodeBody(Version version, const FixedHeader& header, std::string_view body);

}  // namespace edgetrust::mqtt::internal
