// The tpm backend's factory and key operations (declared in tpm_backend_impl.h).
#include "sd/tpm/tpm_backend.h"

#include <openssl/evp.h>

#include <algorithm>
#include <ctime>
#include <tuple>

#include "common/files.h"
#include "common/hex.h"
#include "sd/crypto.h"
#include "sd/key_listing.h"
#include "sd/principal.h"
#include "sd/tpm/tpm_backend_impl.h"
#include "sd/tpm/tpm_keys.h"
#include "sd/tpm/tpm_templates.h"

namespace edgetrust::sd {

Result<std::unique_ptr<Backend>> CreateTpmBackend(const StateDir& state,
                                                  const TpmOptions& options) {
  ET_ASSIGN_OR_RETURN(auto backend, tpm::TpmBackend::Create(state, options));
  return std::unique_ptr<Backend>(std::move(backend));
}

namespace tpm {
namespace {

uint64_t Now() { return static_cast<uint64_t>(::time(nullptr)); }

// Random bytes taken per TPM lock: other clients get the TPM between batches.
constexpr size_t kRandomBatch = 1024;

Status WrongType(const KeyMeta& meta, std::string_view operation) {
  return Status(ErrorCode::kUnsupported, "key " + meta.id.name + " is " +
                                             std::string(KeyTypeName(meta.type)) +
                                             ", which cannot " + std::string(operation));
}

TPMI_ALG_HASH TpmHash(SignAlgorithm alg) {
  switch (SignAlgorithmDigestSize(alg)) {
    case 48:
      return TPM2_ALG_SHA384;
    case 64:
      return TPM2_ALG_SHA512;
    default:
      return TPM2_ALG_SHA256;
  }
}

TPMT_SIG_SCHEME SchemeFor(SignAlgorithm alg) {
  TPMT_SIG_SCHEME s{};
  switch (alg) {
    case SignAlgorithm::kEcdsaSha256:
    case SignAlgorithm::kEcdsaSha384:
    case SignAlgorithm::kEcdsaSha512:
      s.scheme = TPM2_ALG_ECDSA;
      break;
    case SignAlgorithm::kRsaPssSha256:
    case SignAlgorithm::kRsaPssSha384:
    case SignAlgorithm::kRsaPssSha512:
      s.scheme = TPM2_ALG_RSAPSS;
      break;
    default:
      s.scheme = TPM2_ALG_RSASSA;
      break;
  }
  s.details.any.hashAlg = TpmHash(alg);
  return s;
}

Result<Bytes> HashMessage(SignAlgorithm alg, ByteView message) {
  const std::string name(SignAlgorithmDigestName(alg));
  Bytes out(SignAlgorithmDigestSize(alg));
  size_t len = 0;
  if (name.empty() ||
      EVP_Q_digest(nullptr, name.c_str(), nullptr, message.data(), message.size(), out.data(),
                   &len) != 1 ||
      len != out.size()) {
    return Status(ErrorCode::kInternal, OpensslError("digest"));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<TpmBackend>> TpmBackend::Create(const StateDir& state,
                                                       const TpmOptions& options) {
  ET_ASSIGN_OR_RETURN(std::unique_ptr<TpmContext> ctx, TpmContext::Open(options.tcti));
  ET_ASSIGN_OR_RETURN(SecretBytes storage_key, state.DeriveKey("edgetrust-sd tpm object store v1"));
  auto store = std::make_unique<ObjectStore>(state.keys_dir(), std::move(storage_key));
  std::unique_ptr<TpmBackend> backend(new TpmBackend(std::move(ctx), std::move(store)));
  ET_RETURN_IF_ERROR(backend->InitServices(state));
  return backend;
}

std::vector<KeyType> TpmBackend::SupportedKeyTypes() const {
  return {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa3072, KeyType::kAes256,
          KeyType::kHmacSha256};
}

// --- Storage and cache

Result<KeyMeta> TpmBackend::StoreNew(const KeyId& id, KeyType type, const WrappedKey& blob,
                                     EvpPkeyPtr pub) {
  ET_ASSIGN_OR_RETURN(Bytes material, MarshalWrappedKey(blob));
  ObjectHeader h{id.owner, id.name, type, Now(), 0};
  ET_RETURN_IF_ERROR(store_->Create(h, material));
  auto loaded = std::make_shared<LoadedKey>();
  loaded->meta = KeyMeta{id, type, h.created, "ok"};
  loaded->blob = blob;
  loaded->pub = std::move(pub);
  KeyMeta meta = loaded->meta;
  CacheIfStillStored(id, std::move(loaded), /*replace=*/true);
  return meta;
}

Result<TpmBackend::KeyPtr> TpmBackend::Load(const KeyId& id) {
  if (KeyPtr cached = cache_.Find(id)) return cached;
  ET_ASSIGN_OR_RETURN(auto record, store_->Load(id.owner, id.name));
  auto& [header, material] = record;
  auto loaded = std::make_shared<LoadedKey>();
  loaded->meta = KeyMeta{id, header.type, header.created, "ok"};
  auto blob = UnmarshalWrappedKey(material.view());
  if (!blob.ok())
    return Status(blob.status().code(), "key " + id.name + ": " + blob.status().message());
  loaded->blob = *blob;
  if (!PublicMatchesType(loaded->blob.pub.publicArea, header.type)) {
    return Status(ErrorCode::kTampered,
                  "key " + id.name + ": its TPM public area is not of its recorded type");
  }
  if (IsAsymmetric(header.type)) {
    auto pub = PublicKeyFromTpm(loaded->blob.pub.publicArea);
    if (!pub.ok())
      return Status(pub.status().code(), "key " + id.name + ": " + pub.status().message());
    loaded->pub = std::move(*pub);
  }
  CacheIfStillStored(id, loaded, /*replace=*/false);
  return KeyPtr(std::move(loaded));
}

void TpmBackend::CacheIfStillStored(const KeyId& id, KeyPtr key, bool replace) {
  // As in the emulated backend: DeleteKey unlinks under the cache's lock, so a key deleted while
  // it was being loaded or created is never put (back) into the cache.
  cache_.Put(id, std::move(key), replace, [&] { return store_->Exists(id.owner, id.name); });
}

Result<TpmBackend::KeyPtr> TpmBackend::LoadOfType(const KeyId& id, bool asymmetric,
                                                  std::string_view operation) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, Load(id));
  if (IsAsymmetric(k->meta.type) != asymmetric) return WrongType(k->meta, operation);
  return k;
}

// --- Lifecycle

Result<KeyMeta> TpmBackend::CreateKey(const KeyId& id, KeyType type) {
  auto templ = KeyTemplate(type, /*tpm_generated=*/true);
  if (!templ) {
    return Status(ErrorCode::kUnsupported,
                  std::string(KeyTypeName(type)) +
                      " is not a TPM 2.0 algorithm; the tpm backend holds ecdsa-p256, ecdsa-p384, "
                      "rsa-3072, aes-256 and hmac-sha256 keys");
  }
  if (store_->Exists(id.owner, id.name)) {
    return Status(ErrorCode::kAlreadyExists, "a key named " + id.name + " exists");
  }
  ET_ASSIGN_OR_RETURN(WrappedKey blob, tpm_->Run([&](Session& s) -> Result<WrappedKey> {
    SecretBytes secret;
    if (type == KeyType::kAes256) {
      // The TPM has no AES-GCM: the key is a sealed data object of 32 bytes from the TPM's RNG.
      ET_ASSIGN_OR_RETURN(secret, GetRandomOnce(s, kSymmetricKeySize));
      if (secret.size() != kSymmetricKeySize) {
        return Status(ErrorCode::kInternal, "TPM2_GetRandom gave too few bytes");
      }
    }
    return CreateObject(s, *templ, secret.view());
  }));
  EvpPkeyPtr pub;
  if (IsAsymmetric(type)) {
    ET_ASSIGN_OR_RETURN(pub, PublicKeyFromTpm(blob.pub.publicArea));
  }
  return StoreNew(id, type, blob, std::move(pub));
}

Result<std::vector<KeyMeta>> TpmBackend::ListKeys(std::optional<std::string_view> owner) {
  ET_ASSIGN_OR_RETURN(auto scan, store_->Scan());
  return ListScannedKeys(scan, owner, kServiceOwner);
}

Status TpmBackend::DeleteKey(const KeyId& id) {
  // A wrapped key exists only as its record: removing the record removes the key (the TPM holds
  // nothing of it between operations).
  return cache_.Delete(id, [&] { return store_->Remove(id.owner, id.name); });
}

Result<std::string> TpmBackend::PublicKeyPem(const KeyId& id) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, true, "have a public key"));
  return sd::PublicKeyPem(k->pub.get());
}

size_t TpmBackend::KeyCount(std::string_view owner) { return store_->CountOwnedBy(owner); }

// --- Asymmetric operations

Result<Bytes> TpmBackend::Sign(const KeyId& id, SignAlgorithm requested,
                               std::optional<ByteView> message, std::optional<ByteView> digest) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, true, "sign"));
  ET_ASSIGN_OR_RETURN(SignAlgorithm alg, ResolveFor(k->meta, requested, digest.has_value()));
  Bytes hashed;
  if (message) {
    ET_ASSIGN_OR_RETURN(hashed, HashMessage(alg, *message));
  } else {
    if (digest->size() != SignAlgorithmDigestSize(alg)) {
      return Status(ErrorCode::kInvalidArgument,
                    "digest must be " + std::to_string(SignAlgorithmDigestSize(alg)) +
                        " bytes for " + std::string(SignAlgorithmName(alg)));
    }
    hashed.assign(digest->begin(), digest->end());
  }
  const TPMT_SIG_SCHEME scheme = SchemeFor(alg);
  ET_ASSIGN_OR_RETURN(
      EsysPtr<TPMT_SIGNATURE> sig, tpm_->Run([&](Session& s) -> Result<EsysPtr<TPMT_SIGNATURE>> {
        ET_ASSIGN_OR_RETURN(Transient handle, LoadObject(s, k->blob, "key " + id.name));
        return SignDigest(s, handle.get(), hashed, scheme, nullptr);
      }));
  switch (sig->sigAlg) {
    case TPM2_ALG_ECDSA:
      return EcdsaSignatureDer(sig->signature.ecdsa);
    case TPM2_ALG_RSAPSS:
      return Bytes(sig->signature.rsapss.sig.buffer,
                   sig->signature.rsapss.sig.buffer + sig->signature.rsapss.sig.size);
    case TPM2_ALG_RSASSA:
      return Bytes(sig->signature.rsassa.sig.buffer,
                   sig->signature.rsassa.sig.buffer + sig->signature.rsassa.sig.size);
    default:
      return Status(ErrorCode::kInternal, "TPM2_Sign gave an unexpected signature type");
  }
}

Result<bool> TpmBackend::Verify(const KeyId& id, SignAlgorithm requested,
                                std::optional<ByteView> message, std::optional<ByteView> digest,
                                ByteView signature) {
  // Verification needs only the public key: in the daemon, with OpenSSL.
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, true, "verify"));
  ET_ASSIGN_OR_RETURN(SignAlgorithm alg, ResolveFor(k->meta, requested, digest.has_value()));
  if (message) return VerifyMessage(k->pub.get(), alg, *message, signature);
  return VerifyDigest(k->pub.get(), alg, *digest, signature);
}

// --- Symmetric operations

Result<SecretBytes> TpmBackend::UnsealKey(const LoadedKey& key) {
  {
    std::lock_guard lock(key.secret_mu);
    if (!key.secret.empty()) return key.secret.Clone();
  }
  ET_ASSIGN_OR_RETURN(SecretBytes secret, tpm_->Run([&](Session& s) -> Result<SecretBytes> {
    ET_ASSIGN_OR_RETURN(Transient handle, LoadObject(s, key.blob, "key " + key.meta.id.name));
    return Unseal(s, handle.get());
  }));
  if (secret.size() != kSymmetricKeySize) {
    return Status(ErrorCode::kTampered,
                  "key " + key.meta.id.name + ": sealed secret has the wrong size");
  }
  std::lock_guard lock(key.secret_mu);
  if (key.secret.empty()) key.secret = secret.Clone();
  return secret;
}

Result<Bytes> TpmBackend::Encrypt(const KeyId& id, ByteView plaintext, ByteView aad) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, false, "encrypt"));
  if (k->meta.type != KeyType::kAes256) return WrongType(k->meta, "encrypt");
  ET_ASSIGN_OR_RETURN(SecretBytes key, UnsealKey(*k));
  return AeadSeal(key, plaintext, aad);
}

Result<SecretBytes> TpmBackend::Decrypt(const KeyId& id, ByteView ciphertext, ByteView aad) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, false, "decrypt"));
  if (k->meta.type != KeyType::kAes256) return WrongType(k->meta, "decrypt");
  ET_ASSIGN_OR_RETURN(SecretBytes key, UnsealKey(*k));
  return AeadOpen(key, ciphertext, aad);
}

Result<Bytes> TpmBackend::Mac(const KeyId& id, ByteView data) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(id, false, "compute a MAC"));
  if (k->meta.type != KeyType::kHmacSha256) return WrongType(k->meta, "compute a MAC");
  return tpm_->Run([&](Session& s) -> Result<Bytes> {
    ET_ASSIGN_OR_RETURN(Transient handle, LoadObject(s, k->blob, "key " + id.name));
    return Hmac(s, handle.get(), data);
  });
}

Result<bool> TpmBackend::MacVerify(const KeyId& id, ByteView data, ByteView mac) {
  ET_ASSIGN_OR_RETURN(Bytes expected, Mac(id, data));
  return ConstantTimeEqual(expected, mac);
}

Result<KeyMeta> TpmBackend::ImportSymmetric(const KeyId& id, KeyType type,
                                            const SecretBytes& secret) {
  if (IsAsymmetric(type)) {
    return Status(
        ErrorCode::kInvalidArgument,
        "a derived key must be aes-256 or hmac-sha256, not " + std::string(KeyTypeName(type)));
  }
  if (store_->Exists(id.owner, id.name)) {
    return Status(ErrorCode::kAlreadyExists, "a key named " + id.name + " exists");
  }
  auto templ = KeyTemplate(type, /*tpm_generated=*/false);
  if (!templ) return Status(ErrorCode::kUnsupported, "key type not supported by the TPM");
  ET_ASSIGN_OR_RETURN(WrappedKey blob, tpm_->Run([&](Session& s) -> Result<WrappedKey> {
    return CreateObject(s, *templ, secret.view());
  }));
  return StoreNew(id, type, blob, nullptr);
}

Result<KeyMeta> TpmBackend::Derive(const KeyId& base, const KeyId& out,
                                   std::optional<KeyType> out_type, ByteView salt, ByteView info) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(base, false, "be a derivation base"));
  SecretBytes derived;
  if (k->meta.type == KeyType::kHmacSha256) {
    // The HMAC key never leaves the TPM, so the TPM computes the extraction with it as the HMAC
    // key: PRK = TPM2_HMAC(base, salt); then HKDF-Expand-SHA256(PRK, info, 32) in the daemon,
    // which for 32 bytes is HMAC-SHA256(PRK, info || 0x01). docs/tpm.md, "Derivation".
    ET_ASSIGN_OR_RETURN(Bytes prk_bytes, tpm_->Run([&](Session& s) -> Result<Bytes> {
      ET_ASSIGN_OR_RETURN(Transient handle, LoadObject(s, k->blob, "key " + base.name));
      return Hmac(s, handle.get(), salt);
    }));
    SecretBytes prk(prk_bytes);
    SecureWipe(prk_bytes.data(), prk_bytes.size());
    Bytes block(info.begin(), info.end());
    block.push_back(0x01);
    ET_ASSIGN_OR_RETURN(Bytes okm, HmacSha256(prk, block));
    derived = SecretBytes(okm);
    SecureWipe(okm.data(), okm.size());
  } else {
    // aes-256: the key is unsealed into the daemon for use, as for encryption; HKDF-SHA256 there.
    ET_ASSIGN_OR_RETURN(SecretBytes key, UnsealKey(*k));
    ET_ASSIGN_OR_RETURN(derived, HkdfSha256(key.view(), salt, info, kSymmetricKeySize));
  }
  return ImportSymmetric(out, out_type.value_or(k->meta.type), derived);
}

Result<KeyMeta> TpmBackend::Ecdh(const KeyId& key, ByteView peer_public, const KeyId& out,
                                 KeyType out_type, ByteView info) {
  ET_ASSIGN_OR_RETURN(KeyPtr k, LoadOfType(key, true, "do ECDH"));
  if (k->meta.type != KeyType::kEcdsaP256) return WrongType(k->meta, "do ECDH (P-256 only)");
  if (IsAsymmetric(out_type)) {
    return Status(ErrorCode::kInvalidArgument, "an ECDH result must be aes-256 or hmac-sha256");
  }
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr peer, ParsePublicKey(peer_public));
  ET_ASSIGN_OR_RETURN(TPM2B_ECC_POINT point, EccPointFromPublicKey(peer.get()));
  ET_ASSIGN_OR_RETURN(SecretBytes z, tpm_->Run([&](Session& s) -> Result<SecretBytes> {
    ET_ASSIGN_OR_RETURN(Transient handle, LoadObject(s, k->blob, "key " + key.name));
    return EcdhZGen(s, handle.get(), point);
  }));
  ET_ASSIGN_OR_RETURN(SecretBytes derived, HkdfSha256(z.view(), {}, info, kSymmetricKeySize));
  return ImportSymmetric(out, out_type, derived);
}

Result<SecretBytes> TpmBackend::Random(size_t length) {
  SecretBytes out(length);
  size_t filled = 0;
  while (filled < length) {
    const size_t batch_end = std::min(length, filled + kRandomBatch);
    Status batch = tpm_->Run([&](Session& s) -> Status {
      while (filled < batch_end) {
        ET_ASSIGN_OR_RETURN(SecretBytes chunk, GetRandomOnce(s, batch_end - filled));
        if (chunk.empty()) return Status(ErrorCode::kInternal, "TPM2_GetRandom gave no bytes");
        std::copy(chunk.data(), chunk.data() + chunk.size(), out.data() + filled);
        filled += chunk.size();
      }
      return Status::Ok();
    });
    if (!batch.ok()) return batch;
  }
  return out;
}

}  // namespace tpm
}  // namespace edgetrust::sd
