// The encodings MQTT packets are built of (MQTT 5 section 1.5, the same in 3.1.1): big-endian
// integers, the Variable Byte Integer, length-prefixed binary data and UTF-8 strings. Internal to
// the codec.
//
// Reader walks one packet body that is already in memory in full (the Decoder checked its size),
// so nothing here allocates more than the packet holds. Its errors are kMalformed and name the
// field ("CONNECT client identifier is truncated").
// Thread safety: a Reader is a plain value used by one thread; the Put* functions are free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "edgetrust/status.h"

namespace edgetrust::mqtt::internal {

Status Malformed(std::string message);

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return pos_ == data_.size(); }

  Status U8(std::string_view what, uint8_t* out);
  Status U16(std::string_view what, uint16_t* out);
  Status U32(std::string_view what, uint32_t* out);
  // At most 4 bytes, minimally encoded.
  Status VarInt(std::string_view what, uint32_t* out);
  // `n` raw bytes.
  Status Take(std::string_view what, size_t n, std::string_view* out);
  // Two-byte length, then that many bytes.
  Status Binary(std::string_view what, std::string* out);
  // Binary, and a valid MQTT string (IsValidMqttString).
  Status String(std::string_view what, std::string* out);
  // Everything left.
  std::string_view Rest();

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

void PutU8(std::string* out, uint8_t v);
void PutU16(std::string* out, uint16_t v);
void PutU32(std::string* out, uint32_t v);
void PutVarInt(std::string* out, uint32_t v);
// Two-byte length and the bytes (the caller keeps `s` within 65535 bytes).
void PutBinary(std::string* out, std::string_view s);
size_t VarIntSize(uint32_t v);

// Parses a Variable Byte Integer at the start of `data`. Returns its size in bytes, 0 when
// `data` ends inside it (more bytes needed), or an error (over 4 bytes, not minimal).
Result<size_t> ParseVarInt(std::string_view data, std::string_view what, uint32_t* out);

}  // namespace edgetrust::mqtt::internal
