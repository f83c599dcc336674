// Helpers shared by the fuzz targets and the seed generator (fuzz/ only, header-only).
//
// Invariant checks end the process with __builtin_trap(), which libFuzzer and the corpus-replay
// runner (replay_main.cc) both report as a crash of the current input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "protocol/message.h"

namespace edgetrust::fuzz {

[[noreturn]] inline void InvariantFailed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant violated at %s:%d: %s\n", file, line, what);
  std::fflush(stderr);
  __builtin_trap();
}

#define ET_FUZZ_CHECK(cond)                                                     \
  do {                                                                          \
    if (!(cond)) ::edgetrust::fuzz::InvariantFailed(#cond, __FILE__, __LINE__); \
  } while (0)

// The storage key of the key_record target. fuzz_make_seeds seals the key_record seeds with it,
// so unmodified seeds open and the fuzzer sees the whole OpenRecord path.
// ASCII "ETSD-fuzz-storage-key-not-secret".
inline constexpr uint8_t kStorageKey[32] = {
    0x45, 0x54, 0x53, 0x44, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x73, 0x74, 0x6f, 0x72, 0x61, 0x67,
    0x65, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x6e, 0x6f, 0x74, 0x2d, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74};

// fuzz_response_decoder reads its first input byte as a selector: the low 5 bits are the opcode
// (0 and 25..31 are unknown ones), the high 3 bits modulo 4 the body kind (response, key entry,
// log entry, error).
inline constexpr protocol::BodyKind kResponseKinds[4] = {
    protocol::BodyKind::kResponse, protocol::BodyKind::kKeyEntry, protocol::BodyKind::kLogEntry,
    protocol::BodyKind::kError};

inline uint8_t ResponseSelector(protocol::Opcode op, protocol::BodyKind kind) {
  uint8_t k = 0;
  for (uint8_t i = 0; i < 4; ++i) {
    if (kResponseKinds[i] == kind) k = i;
  }
  return static_cast<uint8_t>((k << 5) | (static_cast<uint16_t>(op) & 0x1F));
}

// --- The schema, seen independently of the codec ----------------------------------------------
// schema_v1.def again, so the checks below do not trust message.cc's own tables.
enum class FieldKind { kString, kBytes, kU32, kU64, kBool, kNested };

struct SchemaField {
  protocol::Field field;
  FieldKind kind;
};

struct SchemaRule {
  protocol::Opcode opcode;
  protocol::Field field;
  bool required;
};

struct SchemaEntryRule {
  protocol::Field field;
  bool required;
};

#define ET_FIELD(name, tag, kind, max, repeatable) {protocol::Field::k##name, FieldKind::k##kind},
#define ET_OPCODE(name, value, op)
#define ET_REQUEST(op, field, required)
#define ET_RESPONSE(op, field, required)
#define ET_ENTRY(field, required)
#define ET_LOG_ENTRY(field, required)
inline constexpr SchemaField kSchemaFields[] = {
#include "protocol/schema_v1.def"
};
#undef ET_FIELD
#undef ET_REQUEST
#define ET_FIELD(name, tag, kind, max, repeatable)
#define ET_REQUEST(op, field, required) \
  {protocol::Opcode::k##op, protocol::Field::k##field, required},
inline constexpr SchemaRule kSchemaRequestRules[] = {
#include "protocol/schema_v1.def"
};
#undef ET_REQUEST
#undef ET_RESPONSE
#define ET_REQUEST(op, field, required)
#define ET_RESPONSE(op, field, required) \
  {protocol::Opcode::k##op, protocol::Field::k##field, required},
inline constexpr SchemaRule kSchemaResponseRules[] = {
#include "protocol/schema_v1.def"
};
#undef ET_RESPONSE
#undef ET_ENTRY
#undef ET_LOG_ENTRY
#define ET_RESPONSE(op, field, required)
#define ET_ENTRY(field, required) {protocol::Field::k##field, required},
#define ET_LOG_ENTRY(field, required)
inline constexpr SchemaEntryRule kSchemaEntryRules[] = {
#include "protocol/schema_v1.def"
};
#undef ET_ENTRY
#undef ET_LOG_ENTRY
#define ET_ENTRY(field, required)
#define ET_LOG_ENTRY(field, required) {protocol::Field::k##field, required},
inline constexpr SchemaEntryRule kSchemaLogEntryRules[] = {
#include "protocol/schema_v1.def"
};
#undef ET_FIELD
#undef ET_OPCODE
#undef ET_REQUEST
#undef ET_RESPONSE
#undef ET_ENTRY
#undef ET_LOG_ENTRY

struct SchemaAllowance {
  bool allowed = false;
  bool required = false;
};

inline SchemaAllowance SchemaAllows(protocol::Opcode op, protocol::BodyKind kind,
                                    protocol::Field f) {
  switch (kind) {
    case protocol::BodyKind::kError:
      return {f == protocol::Field::kMessage, false};
    case protocol::BodyKind::kKeyEntry:
      for (const auto& r : kSchemaEntryRules) {
        if (r.field == f) return {true, r.required};
      }
      return {};
    case protocol::BodyKind::kLogEntry:
      for (const auto& r : kSchemaLogEntryRules) {
        if (r.field == f) return {true, r.required};
      }
      return {};
    case protocol::BodyKind::kRequest:
      for (const auto& r : kSchemaRequestRules) {
        if (r.opcode == op && r.field == f) return {true, r.required};
      }
      return {};
    case protocol::BodyKind::kResponse:
      for (const auto& r : kSchemaResponseRules) {
        if (r.opcode == op && r.field == f) return {true, r.required};
      }
      return {};
  }
  return {};
}

// What a successful Message::Decode(body, op, kind) promises its caller, checked:
//  - the body is canonical: encoding the decoded message gives back exactly `body`, and decoding
//    that encoding succeeds and re-encodes to the same bytes;
//  - only fields the schema allows are present, every required field is present, and each typed
//    getter of a present field returns a value (so handlers may dereference them);
//  - nested KeyEntry/LogEntry bodies decode on their own and satisfy the same promises.
inline void CheckDecoded(ByteView body, const protocol::Message& m, protocol::Opcode op,
                         protocol::BodyKind kind) {
  using protocol::BodyKind;
  using protocol::Message;
  Bytes encoded = m.Encode();
  ET_FUZZ_CHECK(encoded.size() == body.size() &&
                std::equal(encoded.begin(), encoded.end(), body.begin()));
  auto again = Message::Decode(encoded, op, kind);
  ET_FUZZ_CHECK(again.ok());
  Bytes reencoded = again->Encode();
  ET_FUZZ_CHECK(reencoded == encoded);

  for (const auto& spec : kSchemaFields) {
    SchemaAllowance a = SchemaAllows(op, kind, spec.field);
    bool present = m.Has(spec.field);
    ET_FUZZ_CHECK(a.allowed || !present);
    ET_FUZZ_CHECK(!a.required || present);
    if (!present) continue;
    switch (spec.kind) {
      case FieldKind::kString:
        ET_FUZZ_CHECK(m.GetString(spec.field).has_value());
        break;
      case FieldKind::kBytes:
        ET_FUZZ_CHECK(m.GetBytes(spec.field).has_value());
        break;
      case FieldKind::kU32:
        ET_FUZZ_CHECK(m.GetU32(spec.field).has_value());
        break;
      case FieldKind::kU64:
        ET_FUZZ_CHECK(m.GetU64(spec.field).has_value());
        break;
      case FieldKind::kBool:
        ET_FUZZ_CHECK(m.GetBool(spec.field).has_value());
        break;
      case FieldKind::kNested:
        for (ByteView nested_body : m.GetAll(spec.field)) {
          Bytes copy(nested_body.begin(), nested_body.end());  // exact-size buffer for ASan
          const BodyKind nested_kind =
              spec.field == protocol::Field::kLogEntry ? BodyKind::kLogEntry : BodyKind::kKeyEntry;
          auto entry = Message::Decode(copy, op, nested_kind);
          ET_FUZZ_CHECK(entry.ok());
          CheckDecoded(copy, *entry, op, nested_kind);
        }
        break;
    }
  }
}

// Decoding failures are reported only as these two codes (they go on the wire as-is).
inline bool IsDecodeError(const Status& st) {
  return st.code() == ErrorCode::kMalformed || st.code() == ErrorCode::kTooLarge;
}

}  // namespace edgetrust::fuzz
