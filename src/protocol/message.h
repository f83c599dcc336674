// Bodies of the secure-domain protocol, encoded and checked against schema_v1.def.
//
// A Message is an ordered list of (field, value) pairs. Decode() enforces the whole schema for the
// given opcode and direction, so a handler can rely on every field it reads being allowed, within
// its limits and of the right shape; required fields are present. Values are wiped when a Message
// is destroyed, since bodies carry plaintexts.
// Thread safety: none beyond that of a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::protocol {

enum class Field : uint16_t {
#define ET_FIELD(name, tag, kind, max, repeatable) k##name = tag,
#define ET_OPCODE(name, value, op)
#define ET_REQUEST(op, field, required)
#define ET_RESPONSE(op, field, required)
#define ET_ENTRY(field, required)
#define ET_LOG_ENTRY(field, required)
#include "protocol/schema_v1.def"
#undef ET_FIELD
#undef ET_OPCODE
#undef ET_REQUEST
#undef ET_RESPONSE
#undef ET_ENTRY
#undef ET_LOG_ENTRY
};

enum class Opcode : uint16_t {
#define ET_FIELD(name, tag, kind, max, repeatable)
#define ET_OPCODE(name, value, op) k##name = value,
#define ET_REQUEST(op, field, required)
#define ET_RESPONSE(op, field, required)
#define ET_ENTRY(field, required)
#define ET_LOG_ENTRY(field, required)
#include "protocol/schema_v1.def"
#undef ET_FIELD
#undef ET_OPCODE
#undef ET_REQUEST
#undef ET_RESPONSE
#undef ET_ENTRY
#undef ET_LOG_ENTRY
};

// Which part of the schema a body is checked against.
enum class BodyKind { kRequest, kResponse, kKeyEntry, kLogEntry, kError };

// Free text (error messages, key states) made safe for a String field: every byte outside
// printable ASCII becomes '?', so file names or other bytes embedded in it can never break the
// schema (or a log line), and the result is cut to `max_bytes`.
std::string PrintableText(std::string_view text, size_t max_bytes);

bool IsKnownOpcode(uint16_t value);
std::string_view OpcodeName(Opcode op);
// The grantable operation name of an opcode ("sign", "public", ...) or "" if not grantable.
std::string_view PolicyOperation(Opcode op);
// True if `name` is an operation name that grants may list.
bool IsPolicyOperation(std::string_view name);

class Message {
 public:
  Message() = default;
  ~Message();
  Message(Message&&) noexcept = default;
  Message& operator=(Message&&) noexcept = default;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  Message& PutString(Field f, std::string_view v);
  Message& PutBytes(Field f, ByteView v);
  Message& PutU32(Field f, uint32_t v);
  Message& PutU64(Field f, uint64_t v);
  Message& PutBool(Field f, bool v);
  Message& PutNested(Field f, const Message& m);

  bool Has(Field f) const;
  // First value of a field; nullopt if absent. Views stay valid while the Message lives.
  std::optional<std::string_view> GetString(Field f) const;
  std::optional<ByteView> GetBytes(Field f) const;
  std::optional<uint32_t> GetU32(Field f) const;
  std::optional<uint64_t> GetU64(Field f) const;
  std::optional<bool> GetBool(Field f) const;
  // Every value of a (repeatable) field, in order.
  std::vector<ByteView> GetAll(Field f) const;

  Bytes Encode() const;
  // Decodes and validates a body. Errors: kMalformed (bad structure, unknown or disallowed field,
  // missing required field, bad value), kTooLarge (a value over its field's limit).
  static Result<Message> Decode(ByteView body, Opcode op, BodyKind kind);

 private:
  std::vector<std::pair<Field, Bytes>> fields_;
};

}  // namespace edgetrust::protocol
