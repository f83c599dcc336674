// The pkcs11 backend's class (internal; the factory is in pkcs11_backend.h).
//
// Key operations: pkcs11_keys.cc. Sealing, counters, the attestation key and the capability
// reports: pkcs11_services.cc. Start-up: pkcs11_backend.cc.
//
// Every key is a token object named by a random CKA_ID; the ObjectStore record of (owner, name)
// holds that CKA_ID and binds it to the owner, name, type and creation time, so a record that is
// flipped, swapped or renamed is reported as tampered. Found keys (their handles and, for key
// pairs, the public key read once from the token) are cached in a KeyCache (key_cache.h) like
// the emulated backend's keys: the cache lock is held only to look up or insert, token calls run
// outside it, and entries are tagged with the session pool's generation so that handles from
// before a token reconnect are never used.
#pragma once

#include <memory>
#include <string>

#include "common/openssl_ptr.h"
#include "sd/backend.h"
#include "sd/counter_store.h"
#include "sd/key_cache.h"
#include "sd/object_store.h"
#include "sd/pkcs11/pkcs11_backend.h"
#include "sd/pkcs11/pkcs11_token.h"
#include "sd/state_dir.h"

namespace edgetrust::sd::pkcs11 {

class Pkcs11Backend final : public Backend {
 public:
  static Result<std::unique_ptr<Pkcs11Backend>> Create(const StateDir& state,
                                                       const Pkcs11Options& options);

  std::string_view Name() const override { return "pkcs11"; }
  std::vector<KeyType> SupportedKeyTypes() const override { return supported_; }
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

  Result<Bytes> SealData(std::string_view owner, ByteView plaintext, ByteView aad) override;
  Result<SecretBytes> UnsealData(std::string_view owner, ByteView sealed, ByteView aad) override;
  Result<uint64_t> CounterCreate(const KeyId& id) override;
  Result<uint64_t> CounterIncrement(const KeyId& id) override;
  Result<uint64_t> CounterRead(const KeyId& id) override;
  std::string_view CounterProtection() const override;
  std::vector<std::string> Notices() const override;
  Result<Bytes> AttestationSign(ByteView to_be_signed) override;
  const Bytes& AttestationPublicKeyDer() const override { return attestation_spki_; }
  // SoftHSM2 is software too, but the backend is not an emulation: Device() and Notices() say
  // when the token is a software one.
  bool IsEmulated() const override { return false; }
  std::vector<Feature> Features() const override;
  // Records never change after creation and a deleted key's token objects are destroyed, so a
  // restored record of a deleted key names an object that is gone and is reported.
  std::string_view StorageProtection() const override { return "detected"; }
  std::string Device() const override;
  StartupAudit Audit() override;

  // The owner of the secure domain's own keys: not a principal, so no caller can name it.
  static constexpr std::string_view kServiceOwner = "edgetrust-sd";
  static constexpr std::string_view kAttestationKeyName = "attestation";
  static constexpr std::string_view kSealingKeyName = "sealing";
  static constexpr std::string_view kCounterKeyName = "counters";

  Token& token() { return *token_; }

 private:
  struct LoadedKey {
    KeyMeta meta;
    Bytes object_id;  // CKA_ID
    ObjectHandles handles;
    uint64_t generation = 0;  // of the session pool the handles belong to
    EvpPkeyPtr public_key;    // key pairs
  };
  using KeyPtr = std::shared_ptr<const LoadedKey>;

  Pkcs11Backend(std::unique_ptr<Token> token, std::unique_ptr<ObjectStore> store)
      : token_(std::move(token)), store_(std::move(store)) {}

  // The key, from the cache (if found in this pool generation) or the store and the token.
  Result<KeyPtr> Load(Session& s, const KeyId& id);
  Result<KeyPtr> LoadOfType(Session& s, const KeyId& id, bool asymmetric,
                            std::string_view operation);
  // Cached and current, or null: lets Verify and PublicKeyPem skip borrowing a session.
  KeyPtr Cached(const KeyId& id);
  // Runs op(session, key) with a borrowed session; once more with a fresh lookup when the token
  // says the cached handle is stale.
  template <typename T, typename Op>
  Result<T> WithKey(const KeyId& id, bool asymmetric, std::string_view operation, Op&& op);
  // Records a key just put on the token; destroys its token objects when the record cannot be
  // written (e.g. a racing creator of the same name won).
  Result<KeyMeta> StoreNew(Session& s, const KeyId& id, KeyType type, const Bytes& object_id,
                           ObjectHandles handles);
  Result<KeyMeta> ImportDerived(Session& s, const KeyId& out, KeyType type, SecretBytes value);
  void CacheIfStillStored(const KeyId& id, KeyPtr key, bool replace);
  void Forget(const KeyId& id);
  // Token object IDs of every authentic record, checked against the token: "what: problem".
  std::vector<std::string> MissingObjects(const std::vector<ObjectStore::ScanEntry>& scan,
                                          const std::set<Bytes>& ids) const;

  // Service keys (pkcs11_services.cc).
  Status InitServices(const StateDir& state);
  Result<KeyPtr> EnsureServiceKey(std::string_view name, KeyType type);

  std::unique_ptr<Token> token_;
  std::unique_ptr<ObjectStore> store_;
  std::vector<KeyType> supported_;
  KeyCache<LoadedKey> cache_;

  std::unique_ptr<CounterStore> counters_;
  std::string counter_problem_;
  std::string seal_problem_;
  Bytes attestation_spki_;
  std::string attestation_problem_;
  std::vector<std::string> notices_;
};

template <typename T, typename Op>
Result<T> Pkcs11Backend::WithKey(const KeyId& id, bool asymmetric, std::string_view operation,
                                 Op&& op) {
  for (int attempt = 0;; ++attempt) {
    ET_ASSIGN_OR_RETURN(Session s, token_->Borrow());
    ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(s, id, asymmetric, operation));
    Result<T> r = op(s, *k);
    if (r.ok() || attempt > 0 || !s.stale_handle()) return r;
    Forget(id);
  }
}

}  // namespace edgetrust::sd::pkcs11
