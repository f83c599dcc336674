// libcbor builders with smallest-width integers, serialisation, and the pull reader (cbor_util.h).
#include "attest/cbor_util.h"

#include <limits>
#include <new>
#include <string>

namespace edgetrust::attest::cbor {
namespace {

Item Own(cbor_item_t* item) {
  if (item == nullptr) throw std::bad_alloc();
  return Item(item);
}

// libcbor copies string contents with memcpy, which must not be given a null pointer even for
// zero bytes (an empty span's data() may be null).
const uint8_t kEmpty[1] = {0};

// --- Streaming decoder callbacks: each stores the one head cbor_stream_decode() saw. ---
Head& H(void* context) { return *static_cast<Head*>(context); }
void SetInt(void* c, Kind kind, uint64_t v) {
  H(c).kind = kind;
  H(c).value = v;
}
void OnUint8(void* c, uint8_t v) { SetInt(c, Kind::kUint, v); }
void OnUint16(void* c, uint16_t v) { SetInt(c, Kind::kUint, v); }
void OnUint32(void* c, uint32_t v) { SetInt(c, Kind::kUint, v); }
void OnUint64(void* c, uint64_t v) { SetInt(c, Kind::kUint, v); }
void OnNegint8(void* c, uint8_t v) { SetInt(c, Kind::kNegint, v); }
void OnNegint16(void* c, uint16_t v) { SetInt(c, Kind::kNegint, v); }
void OnNegint32(void* c, uint32_t v) { SetInt(c, Kind::kNegint, v); }
void OnNegint64(void* c, uint64_t v) { SetInt(c, Kind::kNegint, v); }
void OnBytes(void* c, cbor_data data, size_t length) {
  H(c).kind = Kind::kBytes;
  H(c).value = length;
  H(c).data = ByteView(data, length);
}
void OnText(void* c, cbor_data data, size_t length) {
  H(c).kind = Kind::kText;
  H(c).value = length;
  H(c).data = ByteView(data, length);
}
void OnIndefinite(void* c) { H(c).kind = Kind::kIndefinite; }
void OnArray(void* c, size_t n) { SetInt(c, Kind::kArray, n); }
void OnMap(void* c, size_t n) { SetInt(c, Kind::kMap, n); }
void OnTag(void* c, uint64_t v) { SetInt(c, Kind::kTag, v); }
void OnFloat(void* c, float) { H(c).kind = Kind::kFloat; }
void OnDouble(void* c, double) { H(c).kind = Kind::kFloat; }
void OnUndefined(void* c) { H(c).kind = Kind::kUndefined; }
void OnNull(void* c) { H(c).kind = Kind::kNull; }
void OnBool(void* c, bool v) {
  H(c).kind = Kind::kBool;
  H(c).boolean = v;
}
void OnBreak(void* c) { H(c).kind = Kind::kBreak; }

const cbor_callbacks kCallbacks = [] {
  cbor_callbacks cb = cbor_empty_callbacks;
  cb.uint8 = OnUint8;
  cb.uint16 = OnUint16;
  cb.uint32 = OnUint32;
  cb.uint64 = OnUint64;
  cb.negint8 = OnNegint8;
  cb.negint16 = OnNegint16;
  cb.negint32 = OnNegint32;
  cb.negint64 = OnNegint64;
  cb.byte_string = OnBytes;
  cb.byte_string_start = OnIndefinite;
  cb.string = OnText;
  cb.string_start = OnIndefinite;
  cb.array_start = OnArray;
  cb.indef_array_start = OnIndefinite;
  cb.map_start = OnMap;
  cb.indef_map_start = OnIndefinite;
  cb.tag = OnTag;
  cb.float2 = OnFloat;
  cb.float4 = OnFloat;
  cb.float8 = OnDouble;
  cb.undefined = OnUndefined;
  cb.null = OnNull;
  cb.boolean = OnBool;
  cb.indef_break = OnBreak;
  return cb;
}();

}  // namespace

template <typename Encode>
void Writer::Head(Encode encode) {
  unsigned char head[9];
  const size_t n = encode(head, sizeof head);
  if (n == 0) throw std::bad_alloc();  // cannot happen: every head fits 9 bytes
  out_.insert(out_.end(), head, head + n);
}

Writer& Writer::Uint(uint64_t value) {
  Head([&](unsigned char* b, size_t n) { return cbor_encode_uint(value, b, n); });
  return *this;
}

Writer& Writer::Int(int64_t value) {
  if (value >= 0) return Uint(static_cast<uint64_t>(value));
  // CBOR stores a negative integer as -1 - n; this form cannot overflow for INT64_MIN.
  const uint64_t n = static_cast<uint64_t>(-(value + 1));
  Head([&](unsigned char* b, size_t size) { return cbor_encode_negint(n, b, size); });
  return *this;
}

Writer& Writer::ByteString(ByteView bytes) {
  Head(
      [&](unsigned char* b, size_t n) { return cbor_encode_bytestring_start(bytes.size(), b, n); });
  out_.insert(out_.end(), bytes.begin(), bytes.end());
  return *this;
}

Writer& Writer::Text(std::string_view text) {
  Head([&](unsigned char* b, size_t n) { return cbor_encode_string_start(text.size(), b, n); });
  out_.insert(out_.end(), text.begin(), text.end());
  return *this;
}

Writer& Writer::Bool(bool value) {
  Head([&](unsigned char* b, size_t n) { return cbor_encode_bool(value, b, n); });
  return *this;
}

Writer& Writer::Array(size_t size) {
  Head([&](unsigned char* b, size_t n) { return cbor_encode_array_start(size, b, n); });
  return *this;
}

Writer& Writer::Map(size_t size) {
  Head([&](unsigned char* b, size_t n) { return cbor_encode_map_start(size, b, n); });
  return *this;
}

Writer& Writer::Tag(uint64_t tag) {
  Head([&](unsigned char* b, size_t n) { return cbor_encode_tag(tag, b, n); });
  return *this;
}

Writer& Writer::Raw(ByteView encoded) {
  out_.insert(out_.end(), encoded.begin(), encoded.end());
  return *this;
}

Item Uint(uint64_t value) {
  if (value <= std::numeric_limits<uint8_t>::max()) {
    return Own(cbor_build_uint8(static_cast<uint8_t>(value)));
  }
  if (value <= std::numeric_limits<uint16_t>::max()) {
    return Own(cbor_build_uint16(static_cast<uint16_t>(value)));
  }
  if (value <= std::numeric_limits<uint32_t>::max()) {
    return Own(cbor_build_uint32(static_cast<uint32_t>(value)));
  }
  return Own(cbor_build_uint64(value));
}

Item Int(int64_t value) {
  if (value >= 0) return Uint(static_cast<uint64_t>(value));
  // CBOR stores a negative integer n as -1 - n; this form cannot overflow for INT64_MIN.
  const uint64_t n = static_cast<uint64_t>(-(value + 1));
  if (n <= std::numeric_limits<uint8_t>::max()) {
    return Own(cbor_build_negint8(static_cast<uint8_t>(n)));
  }
  if (n <= std::numeric_limits<uint16_t>::max()) {
    return Own(cbor_build_negint16(static_cast<uint16_t>(n)));
  }
  if (n <= std::numeric_limits<uint32_t>::max()) {
    return Own(cbor_build_negint32(static_cast<uint32_t>(n)));
  }
  return Own(cbor_build_negint64(n));
}

Item ByteString(ByteView bytes) {
  return Own(cbor_build_bytestring(bytes.empty() ? kEmpty : bytes.data(), bytes.size()));
}

Item Text(std::string_view text) {
  return Own(cbor_build_stringn(text.empty() ? reinterpret_cast<const char*>(kEmpty) : text.data(),
                                text.size()));
}

Item Bool(bool value) { return Own(cbor_build_bool(value)); }

Item Array(size_t size) { return Own(cbor_new_definite_array(size)); }

Item Map(size_t size) { return Own(cbor_new_definite_map(size)); }

Item Tag(uint64_t tag, Item content) {
  Item item = Own(cbor_new_tag(tag));
  cbor_tag_set_item(item.get(), content.get());  // takes its own reference
  return item;
}

void Push(const Item& array, const Item& element) {
  // Fails only when the array is full, a bug in the caller's size.
  if (!cbor_array_push(array.get(), element.get())) throw std::bad_alloc();
}

void Put(const Item& map, const Item& key, const Item& value) {
  if (!cbor_map_add(map.get(), cbor_pair{key.get(), value.get()})) throw std::bad_alloc();
}

Bytes Serialize(const Item& item) {
  Bytes out(256);
  for (;;) {
    size_t written = cbor_serialize(item.get(), out.data(), out.size());
    if (written != 0) {
      out.resize(written);
      return out;
    }
    // cbor_serialize() writes nothing when the buffer is too small.
    out.resize(out.size() * 2);
  }
}

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kUint:
      return "unsigned integer";
    case Kind::kNegint:
      return "negative integer";
    case Kind::kBytes:
      return "byte string";
    case Kind::kText:
      return "text string";
    case Kind::kArray:
      return "array";
    case Kind::kMap:
      return "map";
    case Kind::kTag:
      return "tag";
    case Kind::kBool:
      return "boolean";
    case Kind::kNull:
      return "null";
    case Kind::kUndefined:
      return "undefined";
    case Kind::kFloat:
      return "floating-point number";
    case Kind::kIndefinite:
      return "indefinite-length item";
    case Kind::kBreak:
      return "break";
  }
  return "unknown item";
}

Status Reader::Error(std::string_view what, std::string_view problem) const {
  return Status(ErrorCode::kMalformed, std::string(what) + ": " + std::string(problem) +
                                           " (at byte " + std::to_string(pos_) + ")");
}

Result<Head> Reader::Next() {
  if (AtEnd()) return Error("CBOR", "unexpected end of data");
  const uint8_t first = input_[pos_];
  // libcbor 0.8 rejects the one-byte heads of tags 6..20 (0xc6..0xd4) as "unassigned", although
  // tag 18 is COSE_Sign1 (RFC 9052); those heads carry the tag number in the byte itself.
  if (first >= 0xC6 && first <= 0xD4) {
    Head head;
    head.kind = Kind::kTag;
    head.value = first - 0xC0u;
    ++pos_;
    return head;
  }
  Head head;
  cbor_decoder_result r =
      cbor_stream_decode(input_.data() + pos_, input_.size() - pos_, &kCallbacks, &head);
  switch (r.status) {
    case CBOR_DECODER_FINISHED:
      break;
    case CBOR_DECODER_NEDATA:
      return Error("CBOR", "truncated item");
    case CBOR_DECODER_ERROR:
    default:
      return Error("CBOR", "reserved or unsupported initial byte");
  }
  if (r.read == 0 || r.read > input_.size() - pos_) return Error("CBOR", "decoder error");
  pos_ += r.read;
  return head;
}

Result<Head> Reader::Expect(Kind kind, std::string_view what) {
  const size_t start = pos_;
  ET_ASSIGN_OR_RETURN(Head head, Next());
  if (head.kind != kind) {
    pos_ = start;  // so the error names where the wrong item starts
    if (head.kind == Kind::kIndefinite) {
      return Error(what, "indefinite-length items are not allowed");
    }
    return Error(what, "expected a " + std::string(KindName(kind)) + ", got a " +
                           std::string(KindName(head.kind)));
  }
  return head;
}

Result<uint64_t> Reader::ReadUint(std::string_view what) {
  ET_ASSIGN_OR_RETURN(Head head, Expect(Kind::kUint, what));
  return head.value;
}

Result<int64_t> Reader::ReadInt(std::string_view what) {
  const size_t start = pos_;
  ET_ASSIGN_OR_RETURN(Head head, Next());
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (head.kind == Kind::kUint && head.value <= kMax) return static_cast<int64_t>(head.value);
  if (head.kind == Kind::kNegint && head.value <= kMax) {
    return -1 - static_cast<int64_t>(head.value);
  }
  pos_ = start;
  if (head.kind == Kind::kUint || head.kind == Kind::kNegint) {
    return Error(what, "integer out of range");
  }
  return Error(what, "expected an integer, got a " + std::string(KindName(head.kind)));
}

Result<ByteView> Reader::ReadBytes(std::string_view what) {
  ET_ASSIGN_OR_RETURN(Head head, Expect(Kind::kBytes, what));
  return head.data;
}

Result<std::string_view> Reader::ReadText(std::string_view what) {
  const size_t start = pos_;
  ET_ASSIGN_OR_RETURN(Head head, Expect(Kind::kText, what));
  std::string_view text(reinterpret_cast<const char*>(head.data.data()), head.data.size());
  if (!IsValidUtf8(text)) {
    pos_ = start;
    return Error(what, "text string is not valid UTF-8");
  }
  return text;
}

Result<bool> Reader::ReadBool(std::string_view what) {
  ET_ASSIGN_OR_RETURN(Head head, Expect(Kind::kBool, what));
  return head.boolean;
}

Result<uint64_t> Reader::ReadArray(std::string_view what) {
  ET_ASSIGN_OR_RETURN(Head head, Expect(Kind::kArray, what));
  return head.value;
}

Result<uint64_t> Reader::ReadMap(std::string_view what) {
  ET_ASSIGN_OR_RETURN(Head head, Expect(Kind::kMap, what));
  return head.value;
}

Result<uint64_t> Reader::ReadTag(std::string_view what) {
  ET_ASSIGN_OR_RETURN(Head head, Expect(Kind::kTag, what));
  return head.value;
}

Status Reader::Skip(std::string_view what) { return SkipNested(what, 0); }

Status Reader::SkipNested(std::string_view what, int depth) {
  if (depth > kMaxSkipDepth) return Error(what, "nested too deeply");
  const size_t start = pos_;
  ET_ASSIGN_OR_RETURN(Head head, Next());
  switch (head.kind) {
    case Kind::kIndefinite:
      pos_ = start;
      return Error(what, "indefinite-length items are not allowed");
    case Kind::kBreak:
      pos_ = start;
      return Error(what, "unexpected break");
    case Kind::kText:
      if (!IsValidUtf8(std::string_view(reinterpret_cast<const char*>(head.data.data()),
                                        head.data.size()))) {
        pos_ = start;
        return Error(what, "text string is not valid UTF-8");
      }
      return Status::Ok();
    case Kind::kArray:
    case Kind::kMap: {
      // Every element takes at least one byte, so a count larger than what is left fails at the
      // end of the input after as many iterations as there are bytes, never more.
      const bool is_map = head.kind == Kind::kMap;
      for (uint64_t i = 0; i < head.value; ++i) {
        ET_RETURN_IF_ERROR(SkipNested(what, depth + 1));
        if (is_map) ET_RETURN_IF_ERROR(SkipNested(what, depth + 1));
      }
      return Status::Ok();
    }
    case Kind::kTag:
      return SkipNested(what, depth + 1);
    default:
      return Status::Ok();
  }
}

Status Reader::ExpectEnd(std::string_view what) const {
  if (AtEnd()) return Status::Ok();
  return Error(what, std::to_string(input_.size() - pos_) + " trailing byte(s)");
}

}  // namespace edgetrust::attest::cbor
