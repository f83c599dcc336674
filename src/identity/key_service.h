// The keys behind identities, as the identity code needs them: create, look up, public key,
// a signing handle, delete, the key reference file written next to certificates, and MACs for the
// trust bundles.
//
// SdKeyService is the real one: keys in the secure domain through libedgetrust (edgetrust::Client)
// and, for signing, EVP_PKEYs from the edgetrust OpenSSL provider (provider/load_key.h), so no
// private key is ever in this process. Tests substitute an in-process implementation.
//
// Key names are the caller's own ("device-id"); references written to key.pem files are
// qualified with the caller's principal ("uid:0/device-id") so that another program (mosquitto
// running as its own user, with a grant) reaches the same key.
// Thread safety: an implementation is used by one thread at a time.
#pragma once

#include <openssl/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/openssl_ptr.h"
#include "edgetrust/client.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"

namespace edgetrust::identity {

class KeyService {
 public:
  virtual ~KeyService() = default;

  // The key's type, or nullopt if there is no such key. kTampered for a key the daemon reports
  // as tampered: it must not be used.
  virtual Result<std::optional<KeyType>> Find(std::string_view name) = 0;
  virtual Status Create(std::string_view name, KeyType type) = 0;
  virtual Status Delete(std::string_view name) = 0;
  // The public key as an in-process EVP_PKEY (default library context).
  virtual Result<EvpPkeyPtr> PublicKey(std::string_view name) = 0;
  // A handle whose private operations run wherever the key lives.
  virtual Result<EvpPkeyPtr> SigningKey(std::string_view name) = 0;
  // The library context that signing keys work in (X509/X509_REQ objects are made in it).
  virtual Result<OSSL_LIB_CTX*> LibraryContext() = 0;
  // The contents of key.pem for `name`, and the key name such a file refers to (own keys come
  // back unqualified; kInvalidArgument if the file is not a key reference).
  virtual Result<std::string> ReferencePem(std::string_view name) = 0;
  virtual Result<std::string> NameFromReference(std::string_view pem) = 0;

  virtual Result<Bytes> Mac(std::string_view key, ByteView data) = 0;
  virtual Result<bool> MacVerify(std::string_view key, ByteView data, ByteView mac) = 0;

  // Creates the key unless it exists; true if it was created. kFailedPrecondition if it exists
  // with another type and `require_type` is set.
  Result<bool> Ensure(std::string_view name, KeyType type, bool require_type);
};

class SdKeyService : public KeyService {
 public:
  // `client` must outlive this; `socket` is the daemon socket signing handles use (empty: the
  // provider's default, $EDGETRUST_SOCKET then /run/edgetrust/sd.sock) and that key.pem names.
  SdKeyService(Client* client, std::string socket);

  Result<std::optional<KeyType>> Find(std::string_view name) override;
  Status Create(std::string_view name, KeyType type) override;
  Status Delete(std::string_view name) override;
  Result<EvpPkeyPtr> PublicKey(std::string_view name) override;
  Result<EvpPkeyPtr> SigningKey(std::string_view name) override;
  Result<OSSL_LIB_CTX*> LibraryContext() override;
  Result<std::string> ReferencePem(std::string_view name) override;
  Result<std::string> NameFromReference(std::string_view pem) override;
  Result<Bytes> Mac(std::string_view key, ByteView data) override;
  Result<bool> MacVerify(std::string_view key, ByteView data, ByteView mac) override;

 private:
  Result<std::string> Principal();

  Client* client_;
  std::string socket_;
  std::string principal_;  // cached from Info()
};

}  // namespace edgetrust::identity
