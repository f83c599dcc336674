#include <algorithm>

#include "mqtt/codec.h"
#include "mqtt/decode.h"
#include "mqtt/wire.h"

namespace edgetrust::mqtt {

Decoder::Decoder(size_t max_packet_size)
    : max_packet_size_(std::clamp<size_t>(max_packet_size, 2, kMaxRemainingLength + 5)) {}

void Decoder::Feed(const char* data, size_t n) {
  if (!error_.ok() || n == 0) return;  // a broken stream is not buffered any further
  // Consumed bytes are dropped once they are the larger part, so the buffer stays within about
  // twice what is pending without moving bytes on every packet.
  if (begin_ > 0 && begin_ >= buffer_.size() - begin_) {
    buffer_.erase(0, begin_);
    begin_ = 0;
  }
  buffer_.append(data, n);
}

Result<std::optional<Packet>> Decoder::Next() {
  if (!error_.ok()) return error_;
  const std::string_view pending = std::string_view(buffer_).substr(begin_);
  auto header = internal::ParseFixedHeader(version_, pending, max_packet_size_);
  if (!header.ok()) {
    error_ = header.status();
    return error_;
  }
  if (!header->has_value() || pending.size() < (*header)->total()) {
    return std::optional<Packet>();
  }
  const internal::FixedHeader& h = **header;
  auto packet = internal::DecodeBody(version_, h, pending.substr(h.header_size, h.remaining));
  if (!packet.ok()) {
    error_ = packet.status();
    return error_;
  }
  begin_ += h.total();
  if (begin_ == buffer_.size()) {
    buffer_.clear();
    begin_ = 0;
  }
  if (const auto* connect = std::get_if<Connect>(&*packet)) version_ = connect->version;
  return std::optional<Packet>(std::move(packet).value());
}

Result<Packet> DecodePacket(Version version, std::string_view bytes, size_t max_packet_size) {
  auto header = internal::ParseFixedHeader(version, bytes, max_packet_size);
  if (!header.ok()) return header.status();
  if (!header->has_value() || bytes.size() < (*header)->total()) {
    return internal::Malformed("packet is truncated");
  }
  if (bytes.size() > (*header)->total()) {
    return internal::Malformed("packet is followed by " +
                               std::to_string(bytes.size() - (*header)->total()) + " more bytes");
  }
  return internal::DecodeBody(version, **header, bytes.substr((*header)->header_size));
}

}  // namespace edgetrust::mqtt
