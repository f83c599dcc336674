#include "store/meta.h"

#include <cstring>

#include "protocol/wire.h"

namespace edgetrust::store {
namespace {

constexpr uint8_t kMagic[4] = {'E', 'T', 'Q', 'M'};
constexpr uint8_t kFormat = 1;

Bytes Body(const MetaState& s) {
  Bytes b(kMagic, kMagic + 4);
  b.reserve(kMetaSize);
  b.push_back(kFormat);
  protocol::PutU64(b, s.generation);
  protocol::PutU64(b, s.last_message_id);
  protocol::PutU64(b, s.message_count);
  protocol::PutU64(b, s.message_bytes);
  b.insert(b.end(), s.message_digest.begin(), s.message_digest.end());
  protocol::PutU64(b, s.last_command_id);
  protocol::PutU64(b, s.command_count);
  b.insert(b.end(), s.command_digest.begin(), s.command_digest.end());
  protocol::PutU64(b, s.leaf_count);
  b.insert(b.end(), s.leaves_digest.begin(), s.leaves_digest.end());
  protocol::PutU64(b, s.next_nonce);
  protocol::PutU64(b, s.seq_base);
  return b;
}

}  // namespace

Result<Bytes> EncodeMeta(const MetaState& state, const SecretBytes& meta_key) {
  Bytes b = Body(state);
  ET_ASSIGN_OR_RETURN(Mac256 mac, HmacSha256(meta_key, b));
  b.insert(b.end(), mac.begin(), mac.end());
  return b;
}

Result<MetaState> DecodeMeta(ByteView data, const SecretBytes& meta_key) {
  if (data.size() != kMetaSize) {
    return Status(ErrorCode::kMalformed, "meta row has " + std::to_string(data.size()) +
                                             " bytes, not " + std::to_string(kMetaSize));
  }
  if (std::memcmp(data.data(), kMagic, 4) != 0 || data[4] != kFormat) {
    return Status(ErrorCode::kMalformed, "meta row is not of format 1");
  }
  const size_t body_size = kMetaSize - 32;
  ET_ASSIGN_OR_RETURN(Mac256 mac, HmacSha256(meta_key, data.first(body_size)));
  if (!ConstantTimeEqual(mac, data.subspan(body_size))) {
    return Status(ErrorCode::kTampered, "meta row failed authentication");
  }
  MetaState s;
  const uint8_t* p = data.data() + 5;
  auto u64 = [&p] {
    const uint64_t v = protocol::GetU64(p);
    p += 8;
    return v;
  };
  auto copy = [&p](auto& arr) {
    std::memcpy(arr.data(), p, arr.size());
    p += arr.size();
  };
  s.generation = u64();
  s.last_message_id = u64();
  s.message_count = u64();
  s.message_bytes = u64();
  copy(s.message_digest);
  s.last_command_id = u64();
  s.command_count = u64();
  copy(s.command_digest);
  s.leaf_count = u64();
  copy(s.leaves_digest);
  s.next_nonce = u64();
  s.seq_base = u64();
  return s;
}

}  // namespace edgetrust::store
