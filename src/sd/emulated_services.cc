// The emulated backend's sealing, monotonic counters and attestation key (declared in
// emulated_backend.h; the key operations live in emulated_backend.cc).
#include <spdlog/spdlog.h>

#include <ctime>

#include "sd/crypto.h"
#include "sd/emulated_backend.h"

namespace edgetrust::sd {
namespace {

uint64_t Now() { return static_cast<uint64_t>(::time(nullptr)); }

}  // namespace

Status EmulatedBackend::InitServices(const StateDir& state) {
  ET_ASSIGN_OR_RETURN(sealing_root_, state.DeriveKey("edgetrust seal v1"));
  ET_ASSIGN_OR_RETURN(SecretBytes counter_key, state.DeriveKey("edgetrust-sd counters v1"));
  ET_ASSIGN_OR_RETURN(counters_, CounterStore::Open(state.path(), std::move(counter_key)));

  // The attestation key: created once, with the state; stored like any key object but under an
  // owner no caller can name.
  const std::string owner(kServiceOwner);
  const std::string name(kAttestationKeyName);
  auto loaded = store_->Load(owner, name);
  if (loaded.ok()) {
    if (loaded->first.type != KeyType::kEcdsaP256) {
      return Status(ErrorCode::kTampered, "the attestation key record is not an ecdsa-p256 key");
    }
    ET_ASSIGN_OR_RETURN(attestation_key_,
                        DecodePrivateKey(loaded->second.view(), KeyType::kEcdsaP256));
  } else if (loaded.status().code() == ErrorCode::kNotFound) {
    ET_ASSIGN_OR_RETURN(attestation_key_, GenerateKeyPair(KeyType::kEcdsaP256));
    ET_ASSIGN_OR_RETURN(SecretBytes der, EncodePrivateKey(attestation_key_.get()));
    ObjectHeader h{owner, name, KeyType::kEcdsaP256, Now(), 0};
    ET_RETURN_IF_ERROR(store_->Create(h, der.view()));
    spdlog::info("event=attestation-key-created");
  } else {
    // Without its key the secure domain cannot attest, but its other keys still work: start,
    // and say so on every attest request and in `edgetrust info`.
    attestation_problem_ = "attestation key unusable: " + loaded.status().message();
    return Status::Ok();
  }
  ET_ASSIGN_OR_RETURN(attestation_spki_, SpkiDer(attestation_key_.get()));
  return Status::Ok();
}

Result<SecretBytes> EmulatedBackend::SealingKey(std::string_view owner) const {
  return HkdfSha256(sealing_root_.view(), ByteView{}, AsBytes(owner), kSymmetricKeySize);
}

Result<Bytes> EmulatedBackend::SealData(std::string_view owner, ByteView plaintext, ByteView aad) {
  ET_ASSIGN_OR_RETURN(SecretBytes key, SealingKey(owner));
  return AeadSeal(key, plaintext, aad);
}

Result<SecretBytes> EmulatedBackend::UnsealData(std::string_view owner, ByteView sealed,
                                                ByteView aad) {
  ET_ASSIGN_OR_RETURN(SecretBytes key, SealingKey(owner));
  auto plain = AeadOpen(key, sealed, aad);
  if (!plain.ok()) {
    return Status(ErrorCode::kTampered,
                  "the sealed blob failed authentication: it was altered, or sealed by another "
                  "secure domain");
  }
  return plain;
}

Result<uint64_t> EmulatedBackend::CounterCreate(const KeyId& id) {
  return counters_->Create(id.owner, id.name, Now());
}

Result<uint64_t> EmulatedBackend::CounterIncrement(const KeyId& id) {
  return counters_->Increment(id.owner, id.name);
}

Result<uint64_t> EmulatedBackend::CounterRead(const KeyId& id) {
  return counters_->Read(id.owner, id.name);
}

std::vector<std::string> EmulatedBackend::Notices() const {
  std::vector<std::string> out = counters_->notices();
  if (!attestation_problem_.empty()) out.push_back(attestation_problem_);
  return out;
}

Result<Bytes> EmulatedBackend::AttestationSign(ByteView to_be_signed) {
  if (!attestation_key_) return Status(ErrorCode::kTampered, attestation_problem_);
  return SignMessage(attestation_key_.get(), SignAlgorithm::kEcdsaSha256, to_be_signed);
}

}  // namespace edgetrust::sd
