// The `emulated` backend: a software secure domain rooted in the device root key of the state
// folder. It protects keys from other users and containers on the machine (file modes, the
// daemon's own uid, authenticated encryption at rest), not from root or a kernel compromise; its
// Name() says "emulated" so evidence and `edgetrust info` are honest about it.
//
// Keys are loaded from the object store on first use and cached in memory (decoded, ready for
// OpenSSL) in a KeyCache (key_cache.h): its lock is held only to look up or insert; crypto runs
// outside it, so clients on different cores never wait for each other's operations.
#pragma once

#include <memory>
#include <string>

#include "common/openssl_ptr.h"
#include "sd/backend.h"
#include "sd/counter_store.h"
#include "sd/key_cache.h"
#include "sd/object_store.h"
#include "sd/state_dir.h"

namespace edgetrust::sd {

class EmulatedBackend final : public Backend {
 public:
  static Result<std::unique_ptr<EmulatedBackend>> Create(const StateDir& state);

  std::string_view Name() const override { return "emulated"; }
  std::vector<KeyType> SupportedKeyTypes() const override;
  Result<KeyMeta> CreateKey(const KeyId& id, KeyType type) override;
  Result<std::vector<KeyMeta>> ListKeys(std::optional<std::string_view> owner) override;
  Status DeleteKey(const KeyId& id) override;
  Result<std::string> PublicKeyPem(const KeyId& id) override;
  Result<Bytes> Sign(const KeyId& id, SignAlgorithm alg, std::optional<ByteView> message,
                     std::optional<ByteView> digest) override;
  Result<bool> Verify(const KeyId& id, SignAlgorithm alg, std::optional<ByteView> message,
                      std::optional<ByteView> digest, ByteView signature) override;
  Result<Bytes> Encrypt(const KeyId& id, ByteView plaintext, ByteView aad) override;
  Result<SecretBytes> Decrypt(const KeyId& id, ByteView ciphertext, ByteView aad) override;
  Result<Bytes> Mac(const KeyId& id, ByteView data) override;
  Result<bool> MacVerify(const KeyId& id, ByteView data, ByteView mac) override;
  Result<KeyMeta> Derive(const KeyId& base, const KeyId& out, std::optional<KeyType> out_type,
                         ByteView salt, ByteView info) override;
  Result<KeyMeta> Ecdh(const KeyId& key, ByteView peer_public, const KeyId& out, KeyType out_type,
                       ByteView info) override;
  Result<SecretBytes> Random(size_t length) override;
  size_t KeyCount(std::string_view owner) override;

  // Sealing, counters and the attestation key: emulated_services.cc.
  Result<Bytes> SealData(std::string_view owner, ByteView plaintext, ByteView aad) override;
  Result<SecretBytes> UnsealData(std::string_view owner, ByteView sealed, ByteView aad) override;
  Result<uint64_t> CounterCreate(const KeyId& id) override;
  Result<uint64_t> CounterIncrement(const KeyId& id) override;
  Result<uint64_t> CounterRead(const KeyId& id) override;
  std::string_view CounterProtection() const override { return CounterStore::kProtection; }
  std::vector<std::string> Notices() const override;
  Result<Bytes> AttestationSign(ByteView to_be_signed) override;
  const Bytes& AttestationPublicKeyDer() const override { return attestation_spki_; }
  bool IsEmulated() const override { return true; }
  std::vector<Feature> Features() const override;
  // Key records are authenticated, so a flipped, swapped or renamed one is reported; a restored
  // older copy of a record is authentic too and is accepted.
  std::string_view StorageProtection() const override { return "none"; }
  // Startup integrity check of every stored object.
  StartupAudit Audit() override;

  // The owner and name of the attestation key's record in the object store. The owner is not a
  // principal, so no caller can address it.
  static constexpr std::string_view kServiceOwner = "edgetrust-sd";
  static constexpr std::string_view kAttestationKeyName = "attestation";

 private:
  struct LoadedKey {
    KeyMeta meta;
    EvpPkeyPtr pkey;     // asymmetric types
    SecretBytes secret;  // symmetric types
  };
  using KeyPtr = std::shared_ptr<const LoadedKey>;

  explicit EmulatedBackend(std::unique_ptr<ObjectStore> store) : store_(std::move(store)) {}
  // Sealing root, counter store and attestation key (emulated_services.cc).
  Status InitServices(const StateDir& state);
  Result<SecretBytes> SealingKey(std::string_view owner) const;
  Result<KeyPtr> Load(const KeyId& id);
  Result<KeyPtr> LoadOfType(const KeyId& id, bool asymmetric, std::string_view operation);
  Result<KeyMeta> StoreNew(const KeyId& id, KeyType type, ByteView material, EvpPkeyPtr pkey,
                           SecretBytes secret);
  void CacheIfStillStored(const KeyId& id, KeyPtr key, bool replace);

  std::unique_ptr<ObjectStore> store_;
  KeyCache<LoadedKey> cache_;

  SecretBytes sealing_root_;
  std::unique_ptr<CounterStore> counters_;
  EvpPkeyPtr attestation_key_;
  Bytes attestation_spki_;
  std::string attestation_problem_;  // why there is no attestation key, if there is none
};

}  // namespace edgetrust::sd
