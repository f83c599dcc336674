// The pkcs11 backend's key operations (pkcs11_backend_impl.h).
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <tuple>

#include "common/files.h"
#include "common/hex.h"
#include "sd/crypto.h"
#include "sd/key_listing.h"
#include "sd/pkcs11/pkcs11_backend_impl.h"
#include "sd/pkcs11/pkcs11_encoding.h"
#include "sd/pkcs11/pkcs11_hkdf.h"
#include "sd/principal.h"

namespace edgetrust::sd::pkcs11 {
namespace {

uint64_t Now() { return static_cast<uint64_t>(::time(nullptr)); }

std::string ObjectLabel(const KeyId& id) { return "edgetrust:" + id.owner + "/" + id.name; }

Status WrongType(const KeyMeta& meta, std::string_view operation) {
  return Status(ErrorCode::kUnsupported, "key " + meta.id.name + " is " +
                                             std::string(KeyTypeName(meta.type)) +
                                             ", which cannot " + std::string(operation));
}

Result<Bytes> NewObjectId() {
  Bytes id(kObjectIdSize);
  if (RAND_bytes(id.data(), static_cast<int>(id.size())) != 1)
    return Status(ErrorCode::kInternal, "random object id failed");
  return id;
}

}  // namespace

// --- Loading and caching -----------------------------------------------------------------------

Pkcs11Backend::KeyPtr Pkcs11Backend::Cached(const KeyId& id) {
  const uint64_t generation = token_->generation();
  return cache_.Find(id, [&](const LoadedKey& k) { return k.generation == generation; });
}

Result<Pkcs11Backend::KeyPtr> Pkcs11Backend::Load(Session& s, const KeyId& id) {
  const uint64_t generation = s.generation();
  if (KeyPtr cached =
          cache_.Find(id, [&](const LoadedKey& k) { return k.generation == generation; }))
    return cached;
  ET_ASSIGN_OR_RETURN(auto record, store_->Load(id.owner, id.name));
  auto& [header, material] = record;
  if (material.size() != kObjectIdSize) {
    return Status(ErrorCode::kTampered, "key " + id.name +
                                            ": its record does not hold a token "
                                            "object id");
  }
  auto loaded = std::make_shared<LoadedKey>();
  loaded->meta = KeyMeta{id, header.type, header.created, "ok"};
  loaded->object_id.assign(material.view().begin(), material.view().end());
  loaded->generation = s.generation();
  const bool asymmetric = IsAsymmetric(header.type);
  ET_ASSIGN_OR_RETURN(auto found, token_->Find(s, asymmetric ? CKO_PRIVATE_KEY : CKO_SECRET_KEY,
                                               loaded->object_id));
  const std::string where =
      "(CKA_ID " + HexEncode(loaded->object_id) + ", CKA_LABEL \"" + ObjectLabel(id) + "\")";
  if (found.empty()) {
    return Status(ErrorCode::kTampered,
                  "key " + id.name + ": its object " + where + " is gone from token \"" +
                      token_->info().label +
                      "\": deleted outside edgetrust-sd, the token was re-initialised, or this "
                      "state folder belongs to another token");
  }
  if (found.size() > 1) {
    return Status(ErrorCode::kTampered, "key " + id.name +
                                            ": several token objects carry its "
                                            "CKA_ID " +
                                            where);
  }
  loaded->handles.key = found[0];
  ET_ASSIGN_OR_RETURN(CK_KEY_TYPE kt, token_->KeyTypeOf(s, loaded->handles.key));
  if (kt != CkKeyType(header.type)) {
    return Status(ErrorCode::kTampered, "key " + id.name + ": its token object " + where +
                                            " is not a " + std::string(KeyTypeName(header.type)) +
                                            " key");
  }
  if (asymmetric) {
    ET_ASSIGN_OR_RETURN(auto pubs, token_->Find(s, CKO_PUBLIC_KEY, loaded->object_id));
    if (pubs.size() != 1) {
      return Status(ErrorCode::kTampered, "key " + id.name + ": its public key object " + where +
                                              (pubs.empty() ? " is gone" : " is not unique"));
    }
    loaded->handles.pub = pubs[0];
    auto pub = token_->ReadPublicKey(s, loaded->handles.pub, header.type);
    if (!pub.ok()) {
      return Status(pub.status().code(), "key " + id.name + ": " + pub.status().message());
    }
    loaded->public_key = std::move(pub).value();
  }
  KeyPtr key(std::move(loaded));
  CacheIfStillStored(id, key, /*replace=*/false);
  return key;
}

Result<Pkcs11Backend::KeyPtr> Pkcs11Backend::LoadOfType(Session& s, const KeyId& id,
                                                        bool asymmetric,
                                                        std::string_view operation) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, Load(s, id));
  if (IsAsymmetric(k->meta.type) != asymmetric) return WrongType(k->meta, operation);
  return k;
}

void Pkcs11Backend::CacheIfStillStored(const KeyId& id, KeyPtr key, bool replace) {
  // As in the emulated backend: DeleteKey removes the record under the cache's lock, so a key
  // deleted while it was being loaded or created never makes it (back) into the cache.
  const uint64_t generation = key->generation;
  cache_.PutIf(
      id, std::move(key), [&] { return store_->Exists(id.owner, id.name); },
      // A new key replaces any entry; a load replaces only a stale one (an older generation's).
      [&](const LoadedKey& cached) { return replace || cached.generation < generation; });
}

void Pkcs11Backend::Forget(const KeyId& id) { cache_.Erase(id); }

// --- Lifecycle ---------------------------------------------------------------------------------

Result<KeyMeta> Pkcs11Backend::StoreNew(Session& s, const KeyId& id, KeyType type,
                                        const Bytes& object_id, ObjectHandles handles) {
  auto loaded = std::make_shared<LoadedKey>();
  loaded->object_id = object_id;
  loaded->handles = handles;
  loaded->generation = s.generation();
  Status st = Status::Ok();
  if (IsAsymmetric(type)) {
    auto pub = token_->ReadPublicKey(s, handles.pub, type);
    if (pub.ok()) {
      loaded->public_key = std::move(pub).value();
    } else {
      st = pub.status();
    }
  }
  ObjectHeader h{id.owner, id.name, type, Now(), 0};
  if (st.ok()) st = store_->Create(h, object_id);
  if (!st.ok()) {
    if (handles.key != CK_INVALID_HANDLE) (void)token_->Destroy(s, handles.key);
    if (handles.pub != CK_INVALID_HANDLE) (void)token_->Destroy(s, handles.pub);
    return st;
  }
  loaded->meta = KeyMeta{id, type, h.created, "ok"};
  KeyMeta meta = loaded->meta;
  CacheIfStillStored(id, std::move(loaded), /*replace=*/true);
  return meta;
}

Result<KeyMeta> Pkcs11Backend::CreateKey(const KeyId& id, KeyType type) {
  if (std::string missing = token_->Missing(type); !missing.empty()) {
    return Status(ErrorCode::kUnsupported, "token \"" + token_->info().label + "\" cannot hold " +
                                               std::string(KeyTypeName(type)) + " keys (no " +
                                               missing + ")");
  }
  // Cheap early check; the atomic no-replace write of the record is what really decides.
  if (store_->Exists(id.owner, id.name)) {
    return Status(ErrorCode::kAlreadyExists, "a key named " + id.name + " exists");
  }
  ET_ASSIGN_OR_RETURN(Bytes object_id, NewObjectId());
  ET_ASSIGN_OR_RETURN(Session s, token_->Borrow());
  ET_ASSIGN_OR_RETURN(ObjectHandles handles, token_->Generate(s, type, object_id, ObjectLabel(id)));
  return StoreNew(s, id, type, object_id, handles);
}

Result<KeyMeta> Pkcs11Backend::ImportDerived(Session& s, const KeyId& out, KeyType type,
                                             SecretBytes value) {
  if (store_->Exists(out.owner, out.name)) {
    return Status(ErrorCode::kAlreadyExists, "a key named " + out.name + " exists");
  }
  ET_ASSIGN_OR_RETURN(Bytes object_id, NewObjectId());
  ET_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE h,
                      token_->ImportSecret(s, type, value, object_id, ObjectLabel(out)));
  return StoreNew(s, out, type, object_id, ObjectHandles{h, CK_INVALID_HANDLE});
}

std::vector<std::string> Pkcs11Backend::MissingObjects(
    const std::vector<ObjectStore::ScanEntry>& scan, const std::set<Bytes>& ids) const {
  std::vector<std::string> out;
  for (const auto& e : scan) {
    if (!e.authentic || !e.header) continue;
    auto record = store_->Load(e.header->owner, e.header->name);
    if (!record.ok()) continue;
    Bytes id(record->second.view().begin(), record->second.view().end());
    if (ids.count(id) == 0) out.push_back(e.file);
  }
  return out;
}

Result<std::vector<KeyMeta>> Pkcs11Backend::ListKeys(std::optional<std::string_view> owner) {
  ET_ASSIGN_OR_RETURN(auto scan, store_->Scan());
  std::set<Bytes> ids;
  {
    ET_ASSIGN_OR_RETURN(Session s, token_->Borrow());
    ET_ASSIGN_OR_RETURN(ids, token_->KeyIds(s));
  }
  std::vector<std::string> missing = MissingObjects(scan, ids);
  return ListScannedKeys(scan, owner, kServiceOwner, [&](const auto& e, KeyMeta& m) {
    if (e.authentic && std::find(missing.begin(), missing.end(), e.file) != missing.end()) {
      m.state = "tampered: its object is gone from token \"" + token_->info().label + "\"";
    }
  });
}

Status Pkcs11Backend::DeleteKey(const KeyId& id) {
  ET_ASSIGN_OR_RETURN(Session s, token_->Borrow());
  return cache_.Delete(id, [&]() -> Status {
    auto record = store_->Load(id.owner, id.name);
    if (record.ok()) {
      // Token objects first: if the token is gone nothing changes, and a record left behind by a
      // failed removal below names objects that are gone, which listing reports.
      const Bytes object_id(record->second.view().begin(), record->second.view().end());
      ET_RETURN_IF_ERROR(token_->DestroyAll(s, object_id));
    } else if (record.status().code() == ErrorCode::kTampered) {
      // Its object id cannot be trusted: remove the record only, never what it names.
      spdlog::warn("event=pkcs11-delete-tampered-record owner={} name={} error=\"{}\"", id.owner,
                   id.name, record.status().message());
    } else {
      return record.status();
    }
    return store_->Remove(id.owner, id.name);
  });
}

size_t Pkcs11Backend::KeyCount(std::string_view owner) { return store_->CountOwnedBy(owner); }

// --- Operations --------------------------------------------------------------------------------

Result<std::string> Pkcs11Backend::PublicKeyPem(const KeyId& id) {
  if (KeyPtr k = Cached(id); k && k->public_key) return sd::PublicKeyPem(k->public_key.get());
  return WithKey<std::string>(id, true, "have a public key",
                              [](Session&, const LoadedKey& k) -> Result<std::string> {
                                return sd::PublicKeyPem(k.public_key.get());
                              });
}

Result<Bytes> Pkcs11Backend::Sign(const KeyId& id, SignAlgorithm requested,
                                  std::optional<ByteView> message, std::optional<ByteView> digest) {
  return WithKey<Bytes>(id, true, "sign", [&](Session& s, const LoadedKey& k) -> Result<Bytes> {
    ET_ASSIGN_OR_RETURN(SignAlgorithm alg, ResolveFor(k.meta, requested, digest.has_value()));
    if (alg == SignAlgorithm::kEd25519) return token_->SignEd25519(s, k.handles.key, *message);
    if (digest) return token_->SignDigest(s, k.handles.key, alg, *digest);
    ET_ASSIGN_OR_RETURN(Bytes hashed, HashFor(alg, *message));
    return token_->SignDigest(s, k.handles.key, alg, hashed);
  });
}

Result<bool> Pkcs11Backend::Verify(const KeyId& id, SignAlgorithm requested,
                                   std::optional<ByteView> message, std::optional<ByteView> digest,
                                   ByteView signature) {
  // In the daemon, with the public key read once from the token.
  auto verify = [&](const LoadedKey& k) -> Result<bool> {
    ET_ASSIGN_OR_RETURN(SignAlgorithm alg, ResolveFor(k.meta, requested, digest.has_value()));
    if (message) return VerifyMessage(k.public_key.get(), alg, *message, signature);
    return VerifyDigest(k.public_key.get(), alg, *digest, signature);
  };
  if (KeyPtr k = Cached(id); k && k->public_key) return verify(*k);
  return WithKey<bool>(id, true, "verify", [&](Session&, const LoadedKey& k) { return verify(k); });
}

Result<Bytes> Pkcs11Backend::Encrypt(const KeyId& id, ByteView plaintext, ByteView aad) {
  return WithKey<Bytes>(id, false, "encrypt", [&](Session& s, const LoadedKey& k) -> Result<Bytes> {
    if (k.meta.type != KeyType::kAes256) return WrongType(k.meta, "encrypt");
    return token_->GcmSeal(s, k.handles.key, plaintext, aad);
  });
}

Result<SecretBytes> Pkcs11Backend::Decrypt(const KeyId& id, ByteView ciphertext, ByteView aad) {
  return WithKey<SecretBytes>(id, false, "decrypt",
                              [&](Session& s, const LoadedKey& k) -> Result<SecretBytes> {
                                if (k.meta.type != KeyType::kAes256)
                                  return WrongType(k.meta, "decrypt");
                                return token_->GcmOpen(s, k.handles.key, ciphertext, aad);
                              });
}

Result<Bytes> Pkcs11Backend::Mac(const KeyId& id, ByteView data) {
  return WithKey<Bytes>(id, false, "compute a MAC",
                        [&](Session& s, const LoadedKey& k) -> Result<Bytes> {
                          if (k.meta.type != KeyType::kHmacSha256)
                            return WrongType(k.meta, "compute a MAC");
                          return token_->HmacSha256(s, k.handles.key, data);
                        });
}

Result<bool> Pkcs11Backend::MacVerify(const KeyId& id, ByteView data, ByteView mac) {
  ET_ASSIGN_OR_RETURN(Bytes expected, Mac(id, data));
  return ConstantTimeEqual(expected, mac);
}

Result<KeyMeta> Pkcs11Backend::Derive(const KeyId& base, const KeyId& out,
                                      std::optional<KeyType> out_type, ByteView salt,
                                      ByteView info) {
  return WithKey<KeyMeta>(
      base, false, "be a derivation base", [&](Session& s, const LoadedKey& k) -> Result<KeyMeta> {
        const KeyType type = out_type.value_or(k.meta.type);
        if (IsAsymmetric(type))
          return Status(ErrorCode::kUnsupported, "derived keys are aes-256 or hmac-sha256 keys");
        ET_ASSIGN_OR_RETURN(SecretBytes okm, TokenHkdfSha256(*token_, s, k.handles.key, salt, info,
                                                             kSymmetricKeySize));
        return ImportDerived(s, out, type, std::move(okm));
      });
}

Result<KeyMeta> Pkcs11Backend::Ecdh(const KeyId& key, ByteView peer_public, const KeyId& out,
                                    KeyType out_type, ByteView info) {
  if (IsAsymmetric(out_type))
    return Status(ErrorCode::kUnsupported, "derived keys are aes-256 or hmac-sha256 keys");
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr peer, ParsePublicKey(peer_public));
  ET_ASSIGN_OR_RETURN(Bytes point, P256UncompressedPoint(peer.get()));
  return WithKey<KeyMeta>(
      key, true, "do ECDH", [&](Session& s, const LoadedKey& k) -> Result<KeyMeta> {
        if (k.meta.type != KeyType::kEcdsaP256) return WrongType(k.meta, "do ECDH (P-256 only)");
        ET_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE shared, token_->EcdhP256(s, k.handles.key, point));
        auto okm = TokenHkdfSha256(*token_, s, shared, {}, info, kSymmetricKeySize);
        (void)token_->Destroy(s, shared);  // a session object: gone with the session anyway
        if (!okm.ok()) return okm.status();
        return ImportDerived(s, out, out_type, std::move(okm).value());
      });
}

Result<SecretBytes> Pkcs11Backend::Random(size_t length) {
  ET_ASSIGN_OR_RETURN(Session s, token_->Borrow());
  return token_->Random(s, length);
}

}  // namespace edgetrust::sd::pkcs11
