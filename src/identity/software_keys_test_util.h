// Test-only: a KeyService whose keys are in-process OpenSSL keys, so the identity code's logic
// (issuing, committing generations, renewal, trust bundle MACs) is unit-tested without a daemon.
// The process-level tests (test/cert_lifecycle_test.cc) run the same code against edgetrust-sd.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <map>
#include <string>

#include "identity/certificate.h"
#include "identity/key_service.h"

namespace edgetrust::identity::testing {

inline EvpPkeyPtr GenerateKey(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    case KeyType::kEcdsaP384:
      return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
    case KeyType::kEd25519:
      return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    case KeyType::kRsa3072:
      return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
    default:
      return nullptr;
  }
}

class SoftwareKeyService : public KeyService {
 public:
  Result<std::optional<KeyType>> Find(std::string_view name) override {
    auto it = keys_.find(std::string(name));
    if (it == keys_.end()) {
      if (macs_.count(std::string(name)) != 0) return std::optional<KeyType>(KeyType::kHmacSha256);
      return std::optional<KeyType>();
    }
    return std::optional<KeyType>(it->second.type);
  }
  Status Create(std::string_view name, KeyType type) override {
    if (keys_.count(std::string(name)) != 0 || macs_.count(std::string(name)) != 0) {
      return Status(ErrorCode::kAlreadyExists, "exists");
    }
    ++created;
    if (type == KeyType::kHmacSha256) {
      Bytes k(32);
      RAND_bytes(k.data(), 32);
      macs_[std::string(name)] = k;
      return Status::Ok();
    }
    Key k{type, GenerateKey(type)};
    if (!k.key) return Status(ErrorCode::kInternal, "keygen");
    keys_[std::string(name)] = std::move(k);
    return Status::Ok();
  }
  Status Delete(std::string_view name) override {
    if (keys_.erase(std::string(name)) == 0 && macs_.erase(std::string(name)) == 0) {
      return Status(ErrorCode::kNotFound, "no key");
    }
    return Status::Ok();
  }
  Result<EvpPkeyPtr> PublicKey(std::string_view name) override {
    auto it = keys_.find(std::string(name));
    if (it == keys_.end()) return Status(ErrorCode::kNotFound, "no key " + std::string(name));
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PUBKEY(bio.get(), it->second.key.get());
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return ParsePublicKeyPem(std::string_view(data, static_cast<size_t>(len)));
  }
  Result<EvpPkeyPtr> SigningKey(std::string_view name) override {
    auto it = keys_.find(std::string(name));
    if (it == keys_.end()) return Status(ErrorCode::kNotFound, "no key " + std::string(name));
    EVP_PKEY_up_ref(it->second.key.get());
    return EvpPkeyPtr(it->second.key.get());
  }
  Result<OSSL_LIB_CTX*> LibraryContext() override { return static_cast<OSSL_LIB_CTX*>(nullptr); }
  Result<std::string> ReferencePem(std::string_view name) override {
    return "test-key:" + std::string(name) + "\n";
  }
  Result<std::string> NameFromReference(std::string_view pem) override {
    if (!pem.starts_with("test-key:") || !pem.ends_with("\n")) {
      return Status(ErrorCode::kInvalidArgument, "not a test key reference");
    }
    return std::string(pem.substr(9, pem.size() - 10));
  }
  Result<Bytes> Mac(std::string_view key, ByteView data) override {
    auto it = macs_.find(std::string(key));
    if (it == macs_.end()) return Status(ErrorCode::kNotFound, "no MAC key");
    unsigned char out[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), it->second.data(), 32, data.data(), data.size(), out, &len);
    return Bytes(out, out + len);
  }
  Result<bool> MacVerify(std::string_view key, ByteView data, ByteView mac) override {
    ET_ASSIGN_OR_RETURN(Bytes expected, Mac(key, data));
    return expected.size() == mac.size() && CRYPTO_memcmp(expected.data(), mac.data(), 32) == 0;
  }

  bool Has(const std::string& name) const { return keys_.count(name) != 0; }
  size_t count() const { return keys_.size(); }
  int created = 0;

 private:
  struct Key {
    KeyType type;
    EvpPkeyPtr key;
  };
  std::map<std::string, Key> keys_;
  std::map<std::string, Bytes> macs_;
};

}  // namespace edgetrust::identity::testing
