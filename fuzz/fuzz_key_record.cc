// Fuzz target: key object files of the state folder (sd/object_store.h).
//
// ParseRecord, then OpenRecord with a fixed storage key (fuzz_util.h). Nothing but a record that
// SealRecord made with that key may open; the seed corpus holds such records (fuzz_make_seeds), so
// the fuzzer gets past the parser into authentication. When a record does open, every byte of it
// must be covered by authentication: flipping one bit anywhere, or cutting the last byte, must
// make it fail. Sealing the opened contents again must give a record that opens to the same key.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "edgetrust/types.h"
#include "fuzz_util.h"
#include "sd/crypto.h"
#include "sd/object_store.h"

namespace {

using edgetrust::Bytes;
using edgetrust::ByteView;
using edgetrust::ErrorCode;
using edgetrust::SecretBytes;
namespace sd = edgetrust::sd;

const SecretBytes& StorageKey() {
  static const SecretBytes key{ByteView(edgetrust::fuzz::kStorageKey)};
  return key;
}

// True if `file` parses and opens with the storage key.
bool Opens(const Bytes& file) {
  auto parsed = sd::ParseRecord(file);
  return parsed.ok() && sd::OpenRecord(*parsed, StorageKey()).ok();
}

bool SameHeader(const sd::ObjectHeader& a, const sd::ObjectHeader& b) {
  return a.owner == b.owner && a.name == b.name && a.type == b.type && a.created == b.created &&
         a.flags == b.flags;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > sd::kMaxRecordSize) return 0;  // ObjectStore::Load never reads a larger file
  Bytes file(data, data + size);
  auto parsed = sd::ParseRecord(file);
  if (!parsed.ok()) {
    ET_FUZZ_CHECK(parsed.status().code() == ErrorCode::kTampered);
    return 0;
  }
  const sd::ParsedRecord& r = *parsed;
  ET_FUZZ_CHECK(r.associated_data.data() == file.data());
  ET_FUZZ_CHECK(r.sealed.data() == file.data() + r.associated_data.size());
  ET_FUZZ_CHECK(r.associated_data.size() + r.sealed.size() == file.size());
  ET_FUZZ_CHECK(r.sealed.size() > sd::kAeadNonceSize + sd::kAeadTagSize);
  ET_FUZZ_CHECK(!r.header.owner.empty() && !r.header.name.empty());
  ET_FUZZ_CHECK(edgetrust::KeyTypeName(r.header.type) != "unknown");
  ET_FUZZ_CHECK(sd::RecordFileName(r.header.owner, r.header.name).size() == 44);

  auto material = sd::OpenRecord(r, StorageKey());
  if (!material.ok()) {
    ET_FUZZ_CHECK(material.status().code() == ErrorCode::kTampered);
    return 0;
  }
  ET_FUZZ_CHECK(material->size() == r.sealed.size() - sd::kAeadNonceSize - sd::kAeadTagSize);

  // Authentic. Every byte must be bound: one flipped bit (a different bit per position) or a
  // missing last byte must make the record fail to parse or to open.
  Bytes altered = file;
  for (size_t i = 0; i < altered.size(); ++i) {
    auto bit = static_cast<uint8_t>(1u << (i % 8));
    altered[i] ^= bit;
    ET_FUZZ_CHECK(!Opens(altered));
    altered[i] ^= bit;
  }
  altered.pop_back();
  ET_FUZZ_CHECK(!Opens(altered));

  // Sealing the contents again (a fresh nonce) gives a record that opens to the same key.
  auto resealed = sd::SealRecord(r.header, material->view(), StorageKey());
  ET_FUZZ_CHECK(resealed.ok());
  auto reparsed = sd::ParseRecord(*resealed);
  ET_FUZZ_CHECK(reparsed.ok() && SameHeader(reparsed->header, r.header));
  auto reopened = sd::OpenRecord(*reparsed, StorageKey());
  ET_FUZZ_CHECK(reopened.ok() && reopened->size() == material->size());
  ET_FUZZ_CHECK(
      std::equal(reopened->data(), reopened->data() + reopened->size(), material->data()));
  return 0;
}
