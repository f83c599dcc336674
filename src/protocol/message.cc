#include "protocol/message.h"

#include <array>
#include <string>

#include "protocol/wire.h"

namespace edgetrust::protocol {
namespace {

enum class Kind { kString, kBytes, kU32, kU64, kBool, kNested };

struct FieldSpec {
  Field field;
  std::string_view name;
  Kind kind;
  uint32_t max_length;
  bool repeatable;
};

struct OpcodeSpec {
  Opcode opcode;
  std::string_view name;
  std::string_view policy_operation;
};

struct Rule {
  Opcode opcode;
  Field field;
  bool required;
};

struct EntryRule {
  Field field;
  bool required;
};

#define ET_FIELD(name, tag, kind, max, repeatable) \
  {Field::k##name, #name, Kind::k##kind, max, repeatable},
#define ET_OPCODE(name, value, op)
#define ET_REQUEST(op, field, required)
#define ET_RESPONSE(op, field, required)
#define ET_ENTRY(field, required)
#define ET_LOG_ENTRY(field, required)
constexpr FieldSpec kFields[] = {
#include "protocol/schema_v1.def"
};
#undef ET_FIELD
#undef ET_OPCODE
#define ET_FIELD(name, tag, kind, max, repeatable)
#define ET_OPCODE(name, value, op) {Opcode::k##name, #name, op},
constexpr OpcodeSpec kOpcodes[] = {
#include "protocol/schema_v1.def"
};
#undef ET_OPCODE
#undef ET_REQUEST
#define ET_OPCODE(name, value, op)
#define ET_REQUEST(op, field, required) {Opcode::k##op, Field::k##field, required},
constexpr Rule kRequestRules[] = {
#include "protocol/schema_v1.def"
};
#undef ET_REQUEST
#undef ET_RESPONSE
#define ET_REQUEST(op, field, required)
#define ET_RESPONSE(op, field, required) {Opcode::k##op, Field::k##field, required},
constexpr Rule kResponseRules[] = {
#include "protocol/schema_v1.def"
};
#undef ET_RESPONSE
#undef ET_ENTRY
#undef ET_LOG_ENTRY
#define ET_RESPONSE(op, field, required)
#define ET_ENTRY(field, required) {Field::k##field, required},
#define ET_LOG_ENTRY(field, required)
constexpr EntryRule kEntryRules[] = {
#include "protocol/schema_v1.def"
};
#undef ET_ENTRY
#undef ET_LOG_ENTRY
#define ET_ENTRY(field, required)
#define ET_LOG_ENTRY(field, required) {Field::k##field, required},
constexpr EntryRule kLogEntryRules[] = {
#include "protocol/schema_v1.def"
};
#undef ET_FIELD
#undef ET_OPCODE
#undef ET_REQUEST
#undef ET_RESPONSE
#undef ET_ENTRY
#undef ET_LOG_ENTRY

// The schema a nested field's body follows.
BodyKind NestedKind(Field field) {
  return field == Field::kLogEntry ? BodyKind::kLogEntry : BodyKind::kKeyEntry;
}

const FieldSpec* FindField(uint16_t tag) {
  for (const auto& f : kFields) {
    if (static_cast<uint16_t>(f.field) == tag) return &f;
  }
  return nullptr;
}

// Whether `field` may appear in a body of this kind/opcode, and whether it must.
struct Allowance {
  bool allowed = false;
  bool required = false;
};

Allowance Allowed(Opcode op, BodyKind kind, Field field) {
  switch (kind) {
    case BodyKind::kError:
      return {field == Field::kMessage, false};
    case BodyKind::kKeyEntry:
      for (const auto& r : kEntryRules) {
        if (r.field == field) return {true, r.required};
      }
      return {};
    case BodyKind::kLogEntry:
      for (const auto& r : kLogEntryRules) {
        if (r.field == field) return {true, r.required};
      }
      return {};
    case BodyKind::kRequest:
      for (const auto& r : kRequestRules) {
        if (r.opcode == op && r.field == field) return {true, r.required};
      }
      return {};
    case BodyKind::kResponse:
      for (const auto& r : kResponseRules) {
        if (r.opcode == op && r.field == field) return {true, r.required};
      }
      return {};
  }
  return {};
}

bool ValidUtf8NoNul(ByteView v) {
  size_t i = 0;
  while (i < v.size()) {
    uint8_t c = v[i];
    size_t extra;
    uint32_t cp;
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= v.size()) return false;  // sequence cut short
    for (size_t k = 1; k <= extra; ++k) {
      if ((v[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (v[i + k] & 0x3F);
    }
    // Reject overlong forms, surrogates and values past Unicode.
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

Status CheckValue(const FieldSpec& spec, ByteView v) {
  auto bad = [&](std::string_view what) {
    return Status(ErrorCode::kMalformed,
                  "field " + std::string(spec.name) + ": " + std::string(what));
  };
  if (v.size() > spec.max_length) {
    return Status(ErrorCode::kTooLarge, "field " + std::string(spec.name) + " is " +
                                            std::to_string(v.size()) + " bytes, limit " +
                                            std::to_string(spec.max_length));
  }
  switch (spec.kind) {
    case Kind::kString:
      if (!ValidUtf8NoNul(v)) return bad("not valid UTF-8 text");
      break;
    case Kind::kU32:
      if (v.size() != 4) return bad("expected 4 bytes");
      break;
    case Kind::kU64:
      if (v.size() != 8) return bad("expected 8 bytes");
      break;
    case Kind::kBool:
      if (v.size() != 1 || v[0] > 1) return bad("expected one byte, 0 or 1");
      break;
    case Kind::kBytes:
    case Kind::kNested:
      break;
  }
  return Status::Ok();
}

}  // namespace

std::string PrintableText(std::string_view text, size_t max_bytes) {
  std::string out(text.substr(0, max_bytes));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7E) c = '?';
  }
  return out;
}

bool IsKnownOpcode(uint16_t value) {
  for (const auto& o : kOpcodes) {
    if (static_cast<uint16_t>(o.opcode) == value) return true;
  }
  return false;
}

std::string_view OpcodeName(Opcode op) {
  for (const auto& o : kOpcodes) {
    if (o.opcode == op) return o.name;
  }
  return "unknown";
}

std::string_view PolicyOperation(Opcode op) {
  for (const auto& o : kOpcodes) {
    if (o.opcode == op) return o.policy_operation == "-" ? std::string_view{} : o.policy_operation;
  }
  return {};
}

bool IsPolicyOperation(std::string_view name) {
  if (name.empty() || name == "-") return false;
  for (const auto& o : kOpcodes) {
    if (o.policy_operation == name) return true;
  }
  return false;
}

Message::~Message() {
  for (auto& [field, value] : fields_) {
    if (!value.empty()) SecureWipe(value.data(), value.size());
  }
}

Message& Message::PutBytes(Field f, ByteView v) {
  fields_.emplace_back(f, Bytes(v.begin(), v.end()));
  return *this;
}
Message& Message::PutString(Field f, std::string_view v) { return PutBytes(f, AsBytes(v)); }
Message& Message::PutU32(Field f, uint32_t v) {
  Bytes b;
  protocol::PutU32(b, v);
  fields_.emplace_back(f, std::move(b));
  return *this;
}
Message& Message::PutU64(Field f, uint64_t v) {
  Bytes b;
  protocol::PutU64(b, v);
  fields_.emplace_back(f, std::move(b));
  return *this;
}
Message& Message::PutBool(Field f, bool v) {
  fields_.emplace_back(f, Bytes{static_cast<uint8_t>(v ? 1 : 0)});
  return *this;
}
Message& Message::PutNested(Field f, const Message& m) {
  fields_.emplace_back(f, m.Encode());
  return *this;
}

bool Message::Has(Field f) const {
  for (const auto& [field, value] : fields_) {
    if (field == f) return true;
  }
  return false;
}

std::optional<ByteView> Message::GetBytes(Field f) const {
  for (const auto& [field, value] : fields_) {
    if (field == f) return ByteView(value);
  }
  return std::nullopt;
}
std::optional<std::string_view> Message::GetString(Field f) const {
  auto b = GetBytes(f);
  if (!b) return std::nullopt;
  return std::string_view(reinterpret_cast<const char*>(b->data()), b->size());
}
std::optional<uint32_t> Message::GetU32(Field f) const {
  auto b = GetBytes(f);
  if (!b || b->size() != 4) return std::nullopt;
  return protocol::GetU32(b->data());
}
std::optional<uint64_t> Message::GetU64(Field f) const {
  auto b = GetBytes(f);
  if (!b || b->size() != 8) return std::nullopt;
  return protocol::GetU64(b->data());
}
std::optional<bool> Message::GetBool(Field f) const {
  auto b = GetBytes(f);
  if (!b || b->size() != 1) return std::nullopt;
  return (*b)[0] != 0;
}
std::vector<ByteView> Message::GetAll(Field f) const {
  std::vector<ByteView> out;
  for (const auto& [field, value] : fields_) {
    if (field == f) out.emplace_back(value);
  }
  return out;
}

Bytes Message::Encode() const {
  size_t total = 0;
  for (const auto& [field, value] : fields_) total += 6 + value.size();
  Bytes out;
  out.reserve(total);
  for (const auto& [field, value] : fields_) {
    protocol::PutU16(out, static_cast<uint16_t>(field));
    protocol::PutU32(out, static_cast<uint32_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
  }
  return out;
}

Result<Message> Message::Decode(ByteView body, Opcode op, BodyKind kind) {
  Message m;
  size_t pos = 0;
  while (pos < body.size()) {
    if (body.size() - pos < 6) return Status(ErrorCode::kMalformed, "truncated field header");
    uint16_t tag = protocol::GetU16(body.data() + pos);
    uint32_t len = protocol::GetU32(body.data() + pos + 2);
    pos += 6;
    if (len > body.size() - pos) return Status(ErrorCode::kMalformed, "field runs past the body");
    const FieldSpec* spec = FindField(tag);
    if (spec == nullptr) {
      return Status(ErrorCode::kMalformed, "unknown field tag " + std::to_string(tag));
    }
    Allowance a = Allowed(op, kind, spec->field);
    if (!a.allowed) {
      return Status(ErrorCode::kMalformed, "field " + std::string(spec->name) +
                                               " is not allowed in " + std::string(OpcodeName(op)));
    }
    if (!spec->repeatable && m.Has(spec->field)) {
      return Status(ErrorCode::kMalformed, "field " + std::string(spec->name) + " repeated");
    }
    ByteView value = body.subspan(pos, len);
    ET_RETURN_IF_ERROR(CheckValue(*spec, value));
    if (spec->kind == Kind::kNested) {
      // Nested bodies are checked now, so callers get one verdict for the whole body.
      auto nested = Decode(value, op, NestedKind(spec->field));
      if (!nested.ok()) return nested.status();
    }
    m.fields_.emplace_back(spec->field, Bytes(value.begin(), value.end()));
    pos += len;
  }
  auto check_required = [&](Field f, bool required) -> Status {
    if (required && !m.Has(f)) {
      return Status(
          ErrorCode::kMalformed,
          "missing required field " + std::string(FindField(static_cast<uint16_t>(f))->name));
    }
    return Status::Ok();
  };
  switch (kind) {
    case BodyKind::kRequest:
      for (const auto& r : kRequestRules) {
        if (r.opcode == op) ET_RETURN_IF_ERROR(check_required(r.field, r.required));
      }
      break;
    case BodyKind::kResponse:
      for (const auto& r : kResponseRules) {
        if (r.opcode == op) ET_RETURN_IF_ERROR(check_required(r.field, r.required));
      }
      break;
    case BodyKind::kKeyEntry:
      for (const auto& r : kEntryRules) ET_RETURN_IF_ERROR(check_required(r.field, r.required));
      break;
    case BodyKind::kLogEntry:
      for (const auto& r : kLogEntryRules) ET_RETURN_IF_ERROR(check_required(r.field, r.required));
      break;
    case BodyKind::kError:
      break;
  }
  return m;
}

}  // namespace edgetrust::protocol
