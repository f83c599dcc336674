#include "sd/sealed_blob.h"

#include <cstring>

#include "protocol/wire.h"
#include "sd/principal.h"

namespace edgetrust::sd {
namespace {

constexpr uint8_t kMagic[4] = {'E', 'T', 'S', 'B'};
constexpr uint8_t kFormat = 1;
constexpr size_t kFixedHeader = 4 + 1 + 1 + 4;
constexpr size_t kMaxOwner = 128;

Status Malformed(const std::string& what) {
  return Status(ErrorCode::kMalformed, "not a sealed blob: " + what);
}

int PopCount(uint32_t v) { return __builtin_popcount(v); }

}  // namespace

Result<Bytes> EncodeSealedHeader(const SealedHeader& h) {
  if (h.register_mask >> kRegisterCount != 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "the register mask names registers past " + std::to_string(kRegisterCount - 1));
  }
  if (static_cast<size_t>(PopCount(h.register_mask)) != h.register_values.size()) {
    return Status(ErrorCode::kInternal, "register values do not match the mask");
  }
  if (h.owner.empty() || h.owner.size() > kMaxOwner) {
    return Status(ErrorCode::kInternal, "sealing owner must be 1-128 bytes");
  }
  Bytes out(kMagic, kMagic + 4);
  out.push_back(kFormat);
  out.push_back(0);  // flags
  protocol::PutU32(out, h.register_mask);
  for (const auto& v : h.register_values) out.insert(out.end(), v.begin(), v.end());
  protocol::PutU16(out, static_cast<uint16_t>(h.owner.size()));
  out.insert(out.end(), h.owner.begin(), h.owner.end());
  return out;
}

Result<ParsedSealedBlob> ParseSealedBlob(ByteView blob) {
  if (blob.size() < kFixedHeader) return Malformed("too short");
  if (std::memcmp(blob.data(), kMagic, 4) != 0) return Malformed("bad magic (expected ETSB)");
  if (blob[4] != kFormat) {
    return Malformed("format " + std::to_string(blob[4]) + " is not supported (this is 1)");
  }
  if (blob[5] != 0) return Malformed("unknown flags");
  ParsedSealedBlob p;
  p.header.register_mask = protocol::GetU32(blob.data() + 6);
  if (p.header.register_mask >> kRegisterCount != 0) {
    return Malformed("register mask names registers that do not exist");
  }
  size_t pos = kFixedHeader;
  const size_t values = static_cast<size_t>(PopCount(p.header.register_mask));
  if (blob.size() - pos < values * 32 + 2) return Malformed("truncated register values");
  for (size_t i = 0; i < values; ++i) {
    Digest256 d;
    std::memcpy(d.data(), blob.data() + pos, 32);
    p.header.register_values.push_back(d);
    pos += 32;
  }
  const size_t owner_len = protocol::GetU16(blob.data() + pos);
  pos += 2;
  if (owner_len == 0 || owner_len > kMaxOwner) return Malformed("bad owner length");
  if (blob.size() - pos < owner_len) return Malformed("truncated owner");
  p.header.owner.assign(reinterpret_cast<const char*>(blob.data() + pos), owner_len);
  if (!IsValidPrincipal(p.header.owner)) return Malformed("owner is not a principal");
  pos += owner_len;
  if (blob.size() - pos < kSealNonceSize + kSealTagSize) return Malformed("truncated ciphertext");
  if (blob.size() - pos - kSealNonceSize - kSealTagSize > kMaxSealPlaintext) {
    return Malformed("ciphertext is larger than 1 MiB");
  }
  p.associated_data = blob.first(pos);
  p.sealed = blob.subspan(pos);
  return p;
}

}  // namespace edgetrust::sd
