// A secure-domain key as the provider's key object, and the daemon calls made for it.
//
// An SdKey names a key of edgetrust-sd (KeyRef) and holds its public key as an ordinary OpenSSL
// key of our child library context, so every public operation (parameters, encoding, verifying,
// matching a certificate) runs in-process, and only private operations reach the daemon. A key
// imported from another provider (a certificate's public key, for matching) has no name and no
// private part.
//
// Ownership: reference counted, because OpenSSL hands the same key object to many operation
// contexts. Thread-safe: immutable after creation; the daemon connections are per thread.
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include "common/openssl_ptr.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"
#include "provider/key_uri.h"
#include "provider/provider.h"

namespace edgetrust::provider {

struct SdKey {
  const ProviderCtx* prov = nullptr;
  KeyRef ref;  // name and socket; name empty for a public-only key
  KeyType type = KeyType::kEcdsaP256;
  EvpPkeyPtr pub;  // the public key, in prov->libctx
  bool has_private = false;
  std::atomic<int> refs{1};
};

// OpenSSL's key type names ("EC", "RSA", "ED25519") of each asymmetric key type.
const char* OsslTypeName(KeyType type);
// The key type of a public key of ours; nullopt for keys the secure domain does not hold.
std::optional<KeyType> KeyTypeOf(EVP_PKEY* pub);

// Asks the daemon for key `ref` (its public key) and makes its key object. The socket used is
// the URI's, else the provider's configured one, else the client library's default.
Result<SdKey*> OpenSdKey(const ProviderCtx* prov, KeyRef ref);
SdKey* NewEmptyKey(const ProviderCtx* prov);
void UpRef(SdKey* key);
void Release(SdKey* key);

// Private operations, on this thread's connection to the key's daemon. A connection found dead
// (daemon restarted) is reopened and the operation tried once more; a child process after fork
// opens its own connection instead of sharing its parent's.
Result<Bytes> SignDigest(const SdKey& key, ByteView digest, SignAlgorithm alg);
Result<Bytes> SignMessage(const SdKey& key, ByteView message, SignAlgorithm alg);

}  // namespace edgetrust::provider
