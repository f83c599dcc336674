#include "store/key_file.h"

#include <cstring>

#include "protocol/wire.h"
#include "store/queue_crypto.h"

namespace edgetrust::store {
namespace {
constexpr uint8_t kMagic[4] = {'E', 'T', 'Q', 'K'};
constexpr uint8_t kFormat = 1;
}  // namespace

SecretBytes EncodeKeyPlain(const DataKey& key) {
  SecretBytes out(kKeyPlainSize);
  uint8_t* p = out.data();
  std::memcpy(p, kMagic, 4);
  p[4] = kFormat;
  for (int i = 0; i < 8; ++i)
    p[5 + i] = static_cast<uint8_t>(key.initial_generation >> (56 - 8 * i));
  if (key.key.size() == kDataKeySize) std::memcpy(p + 13, key.key.data(), kDataKeySize);
  return out;
}

Result<DataKey> DecodeKeyPlain(ByteView plain) {
  if (plain.size() != kKeyPlainSize || std::memcmp(plain.data(), kMagic, 4) != 0 ||
      plain[4] != kFormat) {
    return Status(ErrorCode::kMalformed, "queue.key does not hold a queue data key of format 1");
  }
  DataKey k;
  k.initial_generation = protocol::GetU64(plain.data() + 5);
  k.key = SecretBytes(plain.subspan(13, kDataKeySize));
  return k;
}

}  // namespace edgetrust::store
