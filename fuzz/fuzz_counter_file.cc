// Fuzz target: the counter files of the state folder (sd/counter_store.h).
//
// The first input byte picks the role the file must have ('D' counters.dat or 'A'
// counters.anchor); the rest is the file, decoded with a fixed key (fuzz_util.h). Promises: a
// decode error is kMalformed or kTampered, never a crash; a file that decodes re-encodes (with a
// fresh nonce) to a file that decodes to the same table and generation.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "sd/counter_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace sd = edgetrust::sd;
  using edgetrust::ErrorCode;
  if (size == 0) return 0;
  const char role = (data[0] & 1) != 0 ? 'A' : 'D';
  static const edgetrust::SecretBytes key{edgetrust::ByteView(edgetrust::fuzz::kStorageKey)};
  auto decoded = sd::CounterStore::DecodeFile(edgetrust::ByteView(data + 1, size - 1), role, key);
  if (!decoded.ok()) {
    ET_FUZZ_CHECK(decoded.status().code() == ErrorCode::kMalformed ||
                  decoded.status().code() == ErrorCode::kTampered);
    return 0;
  }
  edgetrust::Bytes again =
      sd::CounterStore::EncodeFile(decoded->table, decoded->generation, role, key);
  auto round = sd::CounterStore::DecodeFile(again, role, key);
  ET_FUZZ_CHECK(round.ok());
  ET_FUZZ_CHECK(round->generation == decoded->generation);
  ET_FUZZ_CHECK(round->table.size() == decoded->table.size());
  for (const auto& [id, e] : decoded->table) {
    auto it = round->table.find(id);
    ET_FUZZ_CHECK(it != round->table.end() && it->second.value == e.value &&
                  it->second.created == e.created);
  }
  return 0;
}
