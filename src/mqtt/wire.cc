#include "mqtt/wire.h"

#include "mqtt/codec.h"

namespace edgetrust::mqtt::internal {

Status Malformed(std::string message) { return Status(ErrorCode::kMalformed, std::move(message)); }

namespace {

Status Truncated(std::string_view what) { return Malformed(std::string(what) + " is truncated"); }

}  // namespace

Status Reader::U8(std::string_view what, uint8_t* out) {
  if (remaining() < 1) return Truncated(what);
  *out = static_cast<uint8_t>(data_[pos_]);
  pos_ += 1;
  return Status::Ok();
}

Status Reader::U16(std::string_view what, uint16_t* out) {
  if (remaining() < 2) return Truncated(what);
  const auto* p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
  *out = static_cast<uint16_t>((p[0] << 8) | p[1]);
  pos_ += 2;
  return Status::Ok();
}

Status Reader::U32(std::string_view what, uint32_t* out) {
  if (remaining() < 4) return Truncated(what);
  const auto* p = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
  *out = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  pos_ += 4;
  return Status::Ok();
}

Status Reader::VarInt(std::string_view what, uint32_t* out) {
  ET_ASSIGN_OR_RETURN(size_t used, ParseVarInt(data_.substr(pos_), what, out));
  if (used == 0) return Truncated(what);
  pos_ += used;
  return Status::Ok();
}

Status Reader::Take(std::string_view what, size_t n, std::string_view* out) {
  if (remaining() < n) return Truncated(what);
  *out = data_.substr(pos_, n);
  pos_ += n;
  return Status::Ok();
}

Status Reader::Binary(std::string_view what, std::string* out) {
  uint16_t len = 0;
  ET_RETURN_IF_ERROR(U16(what, &len));
  std::string_view bytes;
  ET_RETURN_IF_ERROR(Take(what, len, &bytes));
  out->assign(bytes);
  return Status::Ok();
}

Status Reader::String(std::string_view what, std::string* out) {
  ET_RETURN_IF_ERROR(Binary(what, out));
  if (!IsValidMqttString(*out)) {
    const bool has_nul = out->find('\0') != std::string::npos;
    return Malformed(std::string(what) +
                     (has_nul ? " contains U+0000" : " is not well-formed UTF-8"));
  }
  return Status::Ok();
}

std::string_view Reader::Rest() {
  std::string_view rest = data_.substr(pos_);
  pos_ = data_.size();
  return rest;
}

void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }

void PutU16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xFF));
}

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xFF));
  }
}

void PutVarInt(std::string* out, uint32_t v) {
  do {
    uint8_t byte = v & 0x7F;
    v >>= 7;
    if (v != 0) byte |= 0x80;
    out->push_back(static_cast<char>(byte));
  } while (v != 0);
}

void PutBinary(std::string* out, std::string_view s) {
  PutU16(out, static_cast<uint16_t>(s.size()));
  out->append(s);
}

size_t VarIntSize(uint32_t v) {
  size_t n = 1;
  while (v >= 128) {
    v >>= 7;
    ++n;
  }
  return n;
}

Result<size_t> ParseVarInt(std::string_view data, std::string_view what, uint32_t* out) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (i >= data.size()) return size_t{0};
    const auto byte = static_cast<uint8_t>(data[i]);
    value |= uint32_t{byte & 0x7Fu} << (7 * i);
    if ((byte & 0x80) == 0) {
      // A longer encoding than needed ends in a zero byte; MQTT 5 [MQTT-1.5.5-1] forbids it.
      if (i > 0 && byte == 0) {
        return Malformed(std::string(what) + " is not minimally encoded");
      }
      *out = value;
      return i + 1;
    }
  }
  return Malformed(std::string(what) + " exceeds 4 bytes");
}

}  // namespace edgetrust::mqtt::internal
