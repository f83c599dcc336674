// TpmBackend: the Backend interface over a TPM 2.0 (docs/tpm.md). Created by CreateTpmBackend
// (tpm_backend.h); key operations in tpm_backend.cc, sealing, counters, the PCR mirror,
// attestation and capabilities in tpm_services.cc.
//
// Keys are TPM objects under the SRK, kept as wrapped blobs in the object store (one
// authenticated record per key, as for the emulated backend) and loaded into the TPM for each
// operation, then flushed, so any number of keys and clients fit the TPM's few transient slots.
// Decoded records (the blob and the public key) are cached in memory in a KeyCache (key_cache.h),
// like the emulated backend's keys. TPM commands are serialised by the TpmContext lock; hashing,
// DER conversion, verification, AES-GCM and HKDF run outside it.
//
// Thread safety: every method may be called concurrently.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/openssl_ptr.h"
#include "sd/backend.h"
#include "sd/key_cache.h"
#include "sd/object_store.h"
#include "sd/state_dir.h"
#include "sd/tpm/tpm_backend.h"
#include "sd/tpm/tpm_context.h"
#include "sd/tpm/tpm_convert.h"
#include "sd/tpm/tpm_counters.h"

namespace edgetrust::sd::tpm {

class TpmBackend final : public Backend {
 public:
  static Result<std::unique_ptr<TpmBackend>> Create(const StateDir& state,
                                                    const TpmOptions& options);

  std::string_view Name() const override { return "tpm"; }
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

  // tpm_services.cc
  Result<Bytes> SealData(std::string_view owner, ByteView plaintext, ByteView aad) override;
  Result<SecretBytes> UnsealData(std::string_view owner, ByteView sealed, ByteView aad) override;
  Result<uint64_t> CounterCreate(const KeyId& id) override;
  Result<uint64_t> CounterIncrement(const KeyId& id) override;
  Result<uint64_t> CounterRead(const KeyId& id) override;
  std::string_view CounterProtection() const override { return TpmCounters::kProtection; }
  std::vector<std::string> Notices() const override;
  Result<Bytes> AttestationSign(ByteView to_be_signed) override;
  const Bytes& AttestationPublicKeyDer() const override { return ak_spki_; }
  bool IsEmulated() const override { return false; }
  std::vector<Feature> Features() const override;
  // A wrapped blob is bound to this TPM, but an older copy of a record (a deleted key restored)
  // loads like any other.
  std::string_view StorageProtection() const override { return "none"; }
  std::string Device() const override { return device_; }
  StartupAudit Audit() override;
  Status MirrorExtend(uint32_t index, const Digest256& digest) override;
  Result<std::optional<PlatformQuote>> Quote(ByteView nonce) override;

  // Owner of the backend's own records (attestation key, sealing root): not a principal.
  static constexpr std::string_view kServiceOwner = "edgetrust-sd";
  static constexpr std::string_view kAttestationKeyName = "tpm-attestation";
  static constexpr std::string_view kSealRootName = "tpm-seal-root";

 private:
  struct LoadedKey {
    KeyMeta meta;
    WrappedKey blob;
    EvpPkeyPtr pub;  // asymmetric types
    // aes-256: the secret, unsealed by the TPM on first use and kept while the record is cached
    // (the TPM has no AES-GCM; unsealing per call cost a TPM round trip per encryption).
    mutable std::mutex secret_mu;
    mutable SecretBytes secret;
  };
  using KeyPtr = std::shared_ptr<const LoadedKey>;

  TpmBackend(std::unique_ptr<TpmContext> tpm, std::unique_ptr<ObjectStore> store)
      : tpm_(std::move(tpm)), store_(std::move(store)) {}

  // Key cache and storage (tpm_backend.cc).
  Result<KeyPtr> Load(const KeyId& id);
  Result<KeyPtr> LoadOfType(const KeyId& id, bool asymmetric, std::string_view operation);
  Result<KeyMeta> StoreNew(const KeyId& id, KeyType type, const WrappedKey& blob, EvpPkeyPtr pub);
  void CacheIfStillStored(const KeyId& id, KeyPtr key, bool replace);
  // A symmetric secret computed in the daemon (Derive, Ecdh) made a TPM object of `type`.
  Result<KeyMeta> ImportSymmetric(const KeyId& id, KeyType type, const SecretBytes& secret);
  // The key's secret (aes-256): unsealed by the TPM on first use, then from memory.
  Result<SecretBytes> UnsealKey(const LoadedKey& key);

  // Services (tpm_services.cc).
  Status InitServices(const StateDir& state);
  Result<WrappedKey> LoadOrCreateServiceObject(std::string_view name, KeyType type,
                                               const TPM2B_PUBLIC& templ, bool random_secret,
                                               bool* created);
  Result<SecretBytes> SealingKey(std::string_view owner) const;
  // Runs on every (re)connection, under the TPM lock: the PCR mirror made to match again.
  Status OnConnect(Session& s, bool first);
  Status SyncMirror(Session& s, bool force_reset);
  Result<Digest256> ReadMirrorPcr(Session& s);
  void AddNotice(std::string notice);
  std::string ReadDevice();

  std::unique_ptr<TpmContext> tpm_;
  std::unique_ptr<ObjectStore> store_;
  // Decoded key records (blob and public key, about 1-3 KiB each); past the bound one is evicted
  // and reloaded from the object store when used again.
  KeyCache<LoadedKey> cache_;

  std::unique_ptr<TpmCounters> counters_;
  SecretBytes sealing_root_;
  std::string seal_problem_;
  WrappedKey ak_;
  bool has_ak_ = false;
  Bytes ak_spki_;
  std::string ak_pem_;
  std::string ak_problem_;
  std::string device_;

  // The PCR mirror; touched only with the TPM lock held (in a Session).
  bool mirror_started_ = false;
  Digest256 pcr_base_{};
  std::vector<Digest256> mirror_;  // PcrMirrorDigest of every extension, in order

  mutable std::mutex notices_mu_;
  std::vector<std::string> notices_;
};

}  // namespace edgetrust::sd::tpm
