#include "sd/emulated_backend.h"

#include <algorithm>
#include <ctime>
#include <tuple>

#include "common/files.h"
#include "common/hex.h"
#include "sd/crypto.h"
#include "sd/key_listing.h"
#include "sd/principal.h"

namespace edgetrust::sd {
namespace {

uint64_t Now() { return static_cast<uint64_t>(::time(nullptr)); }

Status WrongType(const KeyMeta& meta, std::string_view operation) {
  return Status(ErrorCode::kUnsupported, "key " + meta.id.name + " is " +
                                             std::string(KeyTypeName(meta.type)) +
                                             ", which cannot " + std::string(operation));
}

}  // namespace

Result<std::unique_ptr<EmulatedBackend>> EmulatedBackend::Create(const StateDir& state) {
  ET_ASSIGN_OR_RETURN(SecretBytes storage_key, state.DeriveKey("edgetrust-sd object store v1"));
  auto store = std::make_unique<ObjectStore>(state.keys_dir(), std::move(storage_key));
  std::unique_ptr<EmulatedBackend> backend(new EmulatedBackend(std::move(store)));
  ET_RETURN_IF_ERROR(backend->InitServices(state));
  return backend;
}

std::vector<KeyType> EmulatedBackend::SupportedKeyTypes() const {
  return {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519,
          KeyType::kRsa3072,   KeyType::kAes256,    KeyType::kHmacSha256};
}

std::vector<Feature> EmulatedBackend::Features() const {
  // There is no hardware to defer to: everything is the daemon's own, "native" to this backend.
  return {
      {"sign", true, "OpenSSL in the daemon; keys under the device root key"},
      {"aead", true, "AES-256-GCM in the daemon; keys under the device root key"},
      {"mac", true, "HMAC-SHA256 in the daemon"},
      {"derive", true, "HKDF-SHA256 in the daemon"},
      {"ecdh", true, "P-256 ECDH and HKDF-SHA256 in the daemon"},
      {"random", true, "OpenSSL's DRBG, seeded by the kernel"},
      {"seal", true, "AES-256-GCM, per-principal key derived from the device root key"},
      {"counter", true, "two authenticated files in the state folder"},
      {"registers", true, "16 registers and the event log in the daemon's memory"},
      {"attest", true, "ES256 by an attestation key under the device root key"},
  };
}

StartupAudit EmulatedBackend::Audit() {
  StartupAudit audit;
  audit.removed_temporaries = RemoveStaleTemporaries(store_->dir());
  auto scan = store_->Scan();
  if (!scan.ok()) {
    audit.problems.push_back(scan.status().message());
    return audit;
  }
  for (const auto& e : *scan) {
    if (e.authentic) {
      ++audit.authentic;
    } else {
      audit.problems.push_back(e.file + ": " + e.problem);
    }
  }
  return audit;
}

Result<KeyMeta> EmulatedBackend::StoreNew(const KeyId& id, KeyType type, ByteView material,
                                          EvpPkeyPtr pkey, SecretBytes secret) {
  ObjectHeader h{id.owner, id.name, type, Now(), 0};
  ET_RETURN_IF_ERROR(store_->Create(h, material));
  auto loaded = std::make_shared<LoadedKey>();
  loaded->meta = KeyMeta{id, type, h.created, "ok"};
  loaded->pkey = std::move(pkey);
  loaded->secret = std::move(secret);
  KeyMeta meta = loaded->meta;
  CacheIfStillStored(id, std::move(loaded), /*replace=*/true);
  return meta;
}

Result<KeyMeta> EmulatedBackend::CreateKey(const KeyId& id, KeyType type) {
  // Cheap early check; the atomic no-replace write is what really decides.
  if (store_->Exists(id.owner, id.name)) {
    return Status(ErrorCode::kAlreadyExists, "a key named " + id.name + " exists");
  }
  if (IsAsymmetric(type)) {
    ET_ASSIGN_OR_RETURN(EvpPkeyPtr pkey, GenerateKeyPair(type));
    ET_ASSIGN_OR_RETURN(SecretBytes der, EncodePrivateKey(pkey.get()));
    return StoreNew(id, type, der.view(), std::move(pkey), SecretBytes());
  }
  ET_ASSIGN_OR_RETURN(SecretBytes secret, RandomBytes(kSymmetricKeySize));
  SecretBytes material = secret.Clone();
  return StoreNew(id, type, material.view(), nullptr, std::move(secret));
}

Result<EmulatedBackend::KeyPtr> EmulatedBackend::Load(const KeyId& id) {
  if (KeyPtr cached = cache_.Find(id)) return cached;
  ET_ASSIGN_OR_RETURN(auto loaded_pair, store_->Load(id.owner, id.name));
  auto& [header, material] = loaded_pair;
  auto loaded = std::make_shared<LoadedKey>();
  loaded->meta = KeyMeta{id, header.type, header.created, "ok"};
  if (IsAsymmetric(header.type)) {
    ET_ASSIGN_OR_RETURN(loaded->pkey, DecodePrivateKey(material.view(), header.type));
  } else {
    if (material.size() != kSymmetricKeySize) {
      return Status(ErrorCode::kTampered, "key " + id.name + ": stored secret has the wrong size");
    }
    loaded->secret = std::move(material);
  }
  CacheIfStillStored(id, loaded, /*replace=*/false);
  return KeyPtr(std::move(loaded));
}

void EmulatedBackend::CacheIfStillStored(const KeyId& id, KeyPtr key, bool replace) {
  // DeleteKey unlinks under the cache's lock, so checking the file under it too means a key
  // deleted while it was being loaded or created is never put (back) into the cache.
  cache_.Put(id, std::move(key), replace, [&] { return store_->Exists(id.owner, id.name); });
}

Result<EmulatedBackend::KeyPtr> EmulatedBackend::LoadOfType(const KeyId& id, bool asymmetric,
                                                            std::string_view operation) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, Load(id));
  if (IsAsymmetric(k->meta.type) != asymmetric) return WrongType(k->meta, operation);
  return k;
}

Result<std::vector<KeyMeta>> EmulatedBackend::ListKeys(std::optional<std::string_view> owner) {
  ET_ASSIGN_OR_RETURN(auto scan, store_->Scan());
  return ListScannedKeys(scan, owner, kServiceOwner);
}

Status EmulatedBackend::DeleteKey(const KeyId& id) {
  return cache_.Delete(id, [&] { return store_->Remove(id.owner, id.name); });
}

Result<std::string> EmulatedBackend::PublicKeyPem(const KeyId& id) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, true, "have a public key"));
  return sd::PublicKeyPem(k->pkey.get());
}

Result<Bytes> EmulatedBackend::Sign(const KeyId& id, SignAlgorithm requested,
                                    std::optional<ByteView> message,
                                    std::optional<ByteView> digest) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, true, "sign"));
  ET_ASSIGN_OR_RETURN(SignAlgorithm alg, ResolveFor(k->meta, requested, digest.has_value()));
  if (message) return SignMessage(k->pkey.get(), alg, *message);
  return SignDigest(k->pkey.get(), alg, *digest);
}

Result<bool> EmulatedBackend::Verify(const KeyId& id, SignAlgorithm requested,
                                     std::optional<ByteView> message,
                                     std::optional<ByteView> digest, ByteView signature) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, true, "verify"));
  ET_ASSIGN_OR_RETURN(SignAlgorithm alg, ResolveFor(k->meta, requested, digest.has_value()));
  if (message) return VerifyMessage(k->pkey.get(), alg, *message, signature);
  return VerifyDigest(k->pkey.get(), alg, *digest, signature);
}

Result<Bytes> EmulatedBackend::Encrypt(const KeyId& id, ByteView plaintext, ByteView aad) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, false, "encrypt"));
  if (k->meta.type != KeyType::kAes256) return WrongType(k->meta, "encrypt");
  return AeadSeal(k->secret, plaintext, aad);
}

Result<SecretBytes> EmulatedBackend::Decrypt(const KeyId& id, ByteView ciphertext, ByteView aad) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, false, "decrypt"));
  if (k->meta.type != KeyType::kAes256) return WrongType(k->meta, "decrypt");
  return AeadOpen(k->secret, ciphertext, aad);
}

Result<Bytes> EmulatedBackend::Mac(const KeyId& id, ByteView data) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, false, "compute a MAC"));
  if (k->meta.type != KeyType::kHmacSha256) return WrongType(k->meta, "compute a MAC");
  return HmacSha256(k->secret, data);
}

Result<bool> EmulatedBackend::MacVerify(const KeyId& id, ByteView data, ByteView mac) {
  ET_ASSIGN_OR_RETURN(Bytes expected, Mac(id, data));
  return ConstantTimeEqual(expected, mac);
}

Result<KeyMeta> EmulatedBackend::Derive(const KeyId& base, const KeyId& out,
                                        std::optional<KeyType> out_type, ByteView salt,
                                        ByteView info) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(base, false, "be a derivation base"));
  ET_ASSIGN_OR_RETURN(SecretBytes derived,
                      HkdfSha256(k->secret.view(), salt, info, kSymmetricKeySize));
  SecretBytes material = derived.Clone();
  return StoreNew(out, out_type.value_or(k->meta.type), material.view(), nullptr,
                  std::move(derived));
}

Result<KeyMeta> EmulatedBackend::Ecdh(const KeyId& key, ByteView peer_public, const KeyId& out,
                                      KeyType out_type, ByteView info) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(key, true, "do ECDH"));
  if (k->meta.type != KeyType::kEcdsaP256) return WrongType(k->meta, "do ECDH (P-256 only)");
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr peer, ParsePublicKey(peer_public));
  ET_ASSIGN_OR_RETURN(SecretBytes shared, EcdhP256(k->pkey.get(), peer.get()));
  ET_ASSIGN_OR_RETURN(SecretBytes derived, HkdfSha256(shared.view(), {}, info, kSymmetricKeySize));
  SecretBytes material = derived.Clone();
  return StoreNew(out, out_type, material.view(), nullptr, std::move(derived));
}

Result<SecretBytes> EmulatedBackend::Random(size_t length) { return RandomBytes(length); }

size_t EmulatedBackend::KeyCount(std::string_view owner) { return store_->CountOwnedBy(owner); }

}  // namespace edgetrust::sd
