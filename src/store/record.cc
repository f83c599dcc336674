#include "store/record.h"

#include <cstring>

#include "protocol/wire.h"

namespace edgetrust::store {
namespace {

constexpr uint8_t kAadMagic[4] = {'E', 'T', 'Q', '1'};

void AadStart(Bytes& aad, uint8_t kind, uint64_t id) {
  aad.assign(kAadMagic, kAadMagic + 4);
  aad.push_back(kind);
  protocol::PutU64(aad, id);
}

void AadLeaf(Bytes& aad, std::string_view leaf) {
  protocol::PutU16(aad, static_cast<uint16_t>(leaf.size()));
  aad.insert(aad.end(), leaf.begin(), leaf.end());
}

std::array<uint8_t, kNonceSize> Nonce(uint64_t counter) {
  std::array<uint8_t, kNonceSize> n{};
  for (int i = 0; i < 8; ++i) n[4 + i] = static_cast<uint8_t>(counter >> (56 - 8 * i));
  return n;
}

Status Tampered(const char* what) { return Status(ErrorCode::kTampered, what); }

}  // namespace

Status ValidateLeafName(std::string_view leaf) {
  if (leaf.empty()) return Status(ErrorCode::kInvalidArgument, "empty leaf name");
  if (leaf.size() > kMaxLeafName) {
    return Status(ErrorCode::kInvalidArgument, "leaf name longer than 256 bytes");
  }
  for (char c : leaf) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      return Status(ErrorCode::kInvalidArgument, "leaf name holds a control character");
    }
  }
  return Status::Ok();
}

Status ValidateBody(std::string_view subtopic, std::string_view payload) {
  if (subtopic.size() > kMaxSubtopic) {
    return Status(ErrorCode::kTooLarge, "subtopic longer than 1024 bytes");
  }
  if (payload.size() > kMaxPayload) return Status(ErrorCode::kTooLarge, "payload over 1 MiB");
  return Status::Ok();
}

Result<RecordCodec> RecordCodec::Create(const SecretBytes& aead_key) {
  ET_ASSIGN_OR_RETURN(Aead aead, Aead::Create(aead_key));
  return RecordCodec(std::move(aead));
}

Status RecordCodec::Seal(uint64_t nonce, std::string_view subtopic, std::string_view payload,
                         Bytes& out) {
  ET_RETURN_IF_ERROR(ValidateBody(subtopic, payload));
  body_.clear();
  protocol::PutU16(body_, static_cast<uint16_t>(subtopic.size()));
  body_.insert(body_.end(), subtopic.begin(), subtopic.end());
  body_.insert(body_.end(), payload.begin(), payload.end());
  out.clear();
  return aead_.Seal(Nonce(nonce), body_, aad_, out);
}

Status RecordCodec::SealMessage(uint64_t nonce, const MessageHeader& h, std::string_view subtopic,
                                std::string_view payload, Bytes& out) {
  ET_RETURN_IF_ERROR(ValidateLeafName(h.leaf));
  AadStart(aad_, kMessageDomain, h.id);
  protocol::PutU64(aad_, h.seq);
  protocol::PutU64(aad_, static_cast<uint64_t>(h.received_ms));
  protocol::PutU64(aad_, payload.size());
  AadLeaf(aad_, h.leaf);
  return Seal(nonce, subtopic, payload, out);
}

Status RecordCodec::SealCommand(uint64_t nonce, const CommandHeader& h, std::string_view subtopic,
                                std::string_view payload, Bytes& out) {
  ET_RETURN_IF_ERROR(ValidateLeafName(h.leaf));
  AadStart(aad_, kCommandDomain, h.id);
  protocol::PutU64(aad_, static_cast<uint64_t>(h.received_ms));
  AadLeaf(aad_, h.leaf);
  return Seal(nonce, subtopic, payload, out);
}

Status RecordCodec::Open(ByteView sealed, std::string& subtopic, std::string& payload) {
  if (sealed.size() > kMaxSealedRecord) return Tampered("sealed record larger than any valid one");
  ET_RETURN_IF_ERROR(aead_.Open(sealed, aad_, plain_));
  // Authenticated bodies were made by the key's holder; a bad one is still never trusted.
  if (plain_.size() < 2) return Tampered("record body too short");
  const auto* p = reinterpret_cast<const uint8_t*>(plain_.data());
  const size_t sub_len = protocol::GetU16(p);
  if (sub_len > kMaxSubtopic || plain_.size() - 2 < sub_len) {
    return Tampered("record body has a bad subtopic length");
  }
  subtopic.assign(plain_.data() + 2, sub_len);
  payload.assign(plain_.data() + 2 + sub_len, plain_.size() - 2 - sub_len);
  return Status::Ok();
}

Status RecordCodec::OpenMessage(const MessageHeader& h, uint64_t size, ByteView sealed,
                                std::string& subtopic, std::string& payload) {
  if (h.leaf.size() > 0xFFFF) return Tampered("leaf name too long");
  AadStart(aad_, kMessageDomain, h.id);
  protocol::PutU64(aad_, h.seq);
  protocol::PutU64(aad_, static_cast<uint64_t>(h.received_ms));
  protocol::PutU64(aad_, size);
  AadLeaf(aad_, h.leaf);
  ET_RETURN_IF_ERROR(Open(sealed, subtopic, payload));
  if (payload.size() != size) return Tampered("payload size differs from the row's");
  return Status::Ok();
}

Status RecordCodec::OpenCommand(const CommandHeader& h, ByteView sealed, std::string& subtopic,
                                std::string& payload) {
  if (h.leaf.size() > 0xFFFF) return Tampered("leaf name too long");
  AadStart(aad_, kCommandDomain, h.id);
  protocol::PutU64(aad_, static_cast<uint64_t>(h.received_ms));
  AadLeaf(aad_, h.leaf);
  return Open(sealed, subtopic, payload);
}

}  // namespace edgetrust::store
