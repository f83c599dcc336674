// Thin C++ layer over libcbor for the attestation formats: owning items with builders that always
// choose the smallest integer encoding (so what libcbor serialises is deterministic CBOR, RFC 8949
// section 4.2.1), and a pull reader for untrusted input.
//
// The reader decodes one data item head at a time with libcbor's streaming decoder instead of
// building a tree with cbor_load(): cbor_load() in libcbor 0.8 allocates an array's or map's
// element table up front from the length the input claims (a few bytes can ask for gigabytes),
// and frees nested items recursively (deep nesting can exhaust the stack). Pulling heads keeps
// memory constant and lets callers check every type, size and count as they go.
//
// Thread safety: free functions without shared state; a Reader is used by one thread.
#pragma once

#include <cbor.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/utf8.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::attest::cbor {

struct ItemDeleter {
  void operator()(cbor_item_t* item) const { cbor_decref(&item); }
};
// One reference to a libcbor item. Containers take their own reference to what is added to them.
using Item = std::unique_ptr<cbor_item_t, ItemDeleter>;

// Appends deterministic CBOR to a buffer through libcbor's head encoders (cbor_encode_*), which
// always pick the smallest head for an integer, a length or a tag. This is what the encoders of
// the attestation formats use: no item tree, one buffer, no allocation per item.
class Writer {
 public:
  explicit Writer(size_t reserve = 0) { out_.reserve(reserve); }

  Writer& Uint(uint64_t value);
  Writer& Int(int64_t value);  // negative values as major type 1
  Writer& ByteString(ByteView bytes);
  Writer& Text(std::string_view text);
  Writer& Bool(bool value);
  Writer& Array(size_t size);  // definite length; the caller writes `size` items next
  Writer& Map(size_t size);    // definite length; the caller writes `size` key-value pairs next
  Writer& Tag(uint64_t tag);   // the caller writes the tagged item next
  // Appends already-encoded CBOR (one or more whole items).
  Writer& Raw(ByteView encoded);

  const Bytes& bytes() const { return out_; }
  Bytes Take() && { return std::move(out_); }

 private:
  // Appends the head `encode` writes into a scratch buffer (a CBOR head is at most 9 bytes).
  template <typename Encode>
  void Head(Encode encode);

  Bytes out_;
};

// Item builders, for building arbitrary CBOR (tests and seed generators build malformed
// variants with them). Allocation failures throw std::bad_alloc, as a std::vector would.
Item Uint(uint64_t value);  // smallest width that holds the value
Item Int(int64_t value);    // negative values as CBOR major type 1, smallest width
Item ByteString(ByteView bytes);
Item Text(std::string_view text);
Item Bool(bool value);
Item Array(size_t size);  // definite length; fill with Push()
Item Map(size_t size);    // definite length; fill with Put()
Item Tag(uint64_t tag, Item content);
void Push(const Item& array, const Item& element);
void Put(const Item& map, const Item& key, const Item& value);
// The encoding of `item` (definite lengths and the heads libcbor writes for the item widths).
Bytes Serialize(const Item& item);

// A CBOR text string must be well-formed UTF-8 (common/utf8.h).
using ::edgetrust::IsValidUtf8;

enum class Kind {
  kUint,
  kNegint,  // value is n for the integer -1 - n
  kBytes,
  kText,
  kArray,  // value is the element count
  kMap,    // value is the number of pairs
  kTag,    // value is the tag number; the tagged item follows
  kBool,
  kNull,
  kUndefined,
  kFloat,
  kIndefinite,  // the start of an indefinite-length string, array or map
  kBreak,
};

// "unsigned integer", "byte string", ... for error messages.
std::string_view KindName(Kind kind);

struct Head {
  Kind kind = Kind::kUndefined;
  uint64_t value = 0;  // see Kind
  ByteView data;       // the content of a byte or text string (points into the input)
  bool boolean = false;
};

// Reads the items of one buffer in order. Every error is kMalformed and names `what` (the field
// being read) and the offset. Strings returned are views into the input buffer.
class Reader {
 public:
  explicit Reader(ByteView input) : input_(input) {}

  Result<Head> Next();
  Result<uint64_t> ReadUint(std::string_view what);
  // Any integer that fits int64_t.
  Result<int64_t> ReadInt(std::string_view what);
  Result<ByteView> ReadBytes(std::string_view what);
  // Checked to be valid UTF-8.
  Result<std::string_view> ReadText(std::string_view what);
  Result<bool> ReadBool(std::string_view what);
  // The count of a definite-length array or map (indefinite lengths are refused).
  Result<uint64_t> ReadArray(std::string_view what);
  Result<uint64_t> ReadMap(std::string_view what);
  Result<uint64_t> ReadTag(std::string_view what);
  // Skips one whole data item, nested at most kMaxSkipDepth levels deep.
  Status Skip(std::string_view what);
  // kMalformed naming `what` unless the input is used up.
  Status ExpectEnd(std::string_view what) const;

  bool AtEnd() const { return pos_ == input_.size(); }
  size_t offset() const { return pos_; }

  static constexpr int kMaxSkipDepth = 16;

 private:
  Result<Head> Expect(Kind kind, std::string_view what);
  Status SkipNested(std::string_view what, int depth);
  Status Error(std::string_view what, std::string_view problem) const;

  ByteView input_;
  size_t pos_ = 0;
};

}  // namespace edgetrust::attest::cbor
