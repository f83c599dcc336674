// Fuzz target: sealed blobs (sd/sealed_blob.h), which callers store anywhere and hand back.
//
// ParseSealedBlob, then authentication as the emulated backend does it: AES-256-GCM under the
// owner's sealing key (HKDF of a fixed root with the owner as info; fuzz_util.h's storage key
// stands in for the root). Promises checked: a parsed header re-encodes to exactly the bytes it
// was parsed from (no two encodings of one header); a blob that opens stops opening when any bit
// is flipped or its last byte is cut.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "sd/crypto.h"
#include "sd/sealed_blob.h"

namespace {

using edgetrust::Bytes;
using edgetrust::ByteView;
using edgetrust::SecretBytes;
namespace sd = edgetrust::sd;

bool Opens(const Bytes& blob) {
  auto parsed = sd::ParseSealedBlob(blob);
  if (!parsed.ok()) return false;
  auto key = sd::HkdfSha256(ByteView(edgetrust::fuzz::kStorageKey), ByteView{},
                            edgetrust::AsBytes(parsed->header.owner), 32);
  return key.ok() && sd::AeadOpen(*key, parsed->sealed, parsed->associated_data).ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes blob(data, data + size);
  auto parsed = sd::ParseSealedBlob(blob);
  if (!parsed.ok()) {
    ET_FUZZ_CHECK(parsed.status().code() == edgetrust::ErrorCode::kMalformed);
    return 0;
  }
  auto header = sd::EncodeSealedHeader(parsed->header);
  ET_FUZZ_CHECK(header.ok());
  ET_FUZZ_CHECK(Bytes(parsed->associated_data.begin(), parsed->associated_data.end()) == *header);
  ET_FUZZ_CHECK(parsed->associated_data.size() + parsed->sealed.size() == blob.size());
  if (!Opens(blob)) return 0;
  for (size_t i = 0; i < blob.size(); ++i) {
    Bytes flipped = blob;
    flipped[i] ^= static_cast<uint8_t>(1u << (i % 8));
    ET_FUZZ_CHECK(!Opens(flipped));
  }
  ET_FUZZ_CHECK(!Opens(Bytes(blob.begin(), blob.end() - 1)));
  return 0;
}
