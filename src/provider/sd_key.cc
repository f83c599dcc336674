#include "provider/sd_key.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <memory>
#include <unordered_map>

#include "edgetrust/client.h"

namespace edgetrust::provider {
namespace {

// This thread's connections, one per daemon socket. The pid tells a forked child that the
// connection it inherited is its parent's: both would read answers from the same socket.
struct ThreadClients {
  pid_t pid = 0;
  std::unordered_map<std::string, std::unique_ptr<Client>> by_socket;
};

ThreadClients& Clients() {
  thread_local ThreadClients clients;
  const pid_t pid = ::getpid();
  if (clients.pid != pid) {
    // Inherited across fork: close our copies without touching the parent's connection state.
    for (auto& [socket, client] : clients.by_socket) client.reset();
    clients.by_socket.clear();
    clients.pid = pid;
  }
  return clients;
}

Result<Client*> ClientFor(const std::string& socket) {
  auto& clients = Clients();
  auto it = clients.by_socket.find(socket);
  if (it != clients.by_socket.end()) return it->second.get();
  auto client = Client::Connect(socket);
  if (!client.ok()) return client.status();
  Client* raw = client->get();
  clients.by_socket.emplace(socket, std::move(client).value());
  return raw;
}

void DropClient(const std::string& socket) { Clients().by_socket.erase(socket); }

// Runs `op` on this thread's client for `socket`; once more on a fresh connection if the daemon
// went away (signing is idempotent, so a retry cannot do harm).
template <typename Op>
auto WithClient(const std::string& socket, Op op) -> decltype(op(std::declval<Client&>())) {
  for (int attempt = 0;; ++attempt) {
    auto client = ClientFor(socket);
    if (!client.ok()) return client.status();
    auto result = op(**client);
    if (result.ok() || result.status().code() != ErrorCode::kUnavailable || attempt == 1)
      return result;
    DropClient(socket);
  }
}

Result<EvpPkeyPtr> ParsePublicPem(const ProviderCtx* prov, const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status(ErrorCode::kInternal, "out of memory");
  EVP_PKEY* pkey =
      PEM_read_bio_PUBKEY_ex(bio.get(), nullptr, nullptr, nullptr, prov->libctx, nullptr);
  if (pkey == nullptr)
    return Status(ErrorCode::kMalformed, OpensslError("the daemon's public key does not parse"));
  return EvpPkeyPtr(pkey);
}

}  // namespace

const char* OsslTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
    case KeyType::kEcdsaP384:
      return "EC";
    case KeyType::kRsa3072:
      return "RSA";
    case KeyType::kEd25519:
      return "ED25519";
    case KeyType::kAes256:
    case KeyType::kHmacSha256:
      break;
  }
  return "";
}

std::optional<KeyType> KeyTypeOf(EVP_PKEY* pub) {
  if (EVP_PKEY_is_a(pub, "ED25519")) return KeyType::kEd25519;
  if (EVP_PKEY_is_a(pub, "RSA")) return KeyType::kRsa3072;
  if (EVP_PKEY_is_a(pub, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1)
      return std::nullopt;
    std::string_view g(group, len);
    if (g == "prime256v1" || g == "P-256" || g == "secp256r1") return KeyType::kEcdsaP256;
    if (g == "secp384r1" || g == "P-384") return KeyType::kEcdsaP384;
  }
  return std::nullopt;
}

Result<SdKey*> OpenSdKey(const ProviderCtx* prov, KeyRef ref) {
  if (ref.socket.empty()) ref.socket = prov->socket;
  auto pem = WithClient(ref.socket, [&](Client& c) { return c.PublicKeyPem(ref.name); });
  if (!pem.ok()) {
    if (pem.status().code() == ErrorCode::kUnsupported)
      return Status(ErrorCode::kUnsupported,
                    "key '" + ref.name + "' is symmetric: it cannot be used as an OpenSSL key");
    return Status(pem.status().code(), "key '" + ref.name + "': " + pem.status().message());
  }
  auto pub = ParsePublicPem(prov, *pem);
  if (!pub.ok()) return pub.status();
  auto type = KeyTypeOf(pub->get());
  if (!type) return Status(ErrorCode::kUnsupported, "key '" + ref.name + "' has an unknown type");
  auto key = std::make_unique<SdKey>();
  key->prov = prov;
  key->ref = std::move(ref);
  key->type = *type;
  key->pub = std::move(pub).value();
  key->has_private = true;
  return key.release();
}

SdKey* NewEmptyKey(const ProviderCtx* prov) {
  auto* key = new (std::nothrow) SdKey();
  if (key != nullptr) key->prov = prov;
  return key;
}

void UpRef(SdKey* key) { key->refs.fetch_add(1, std::memory_order_relaxed); }

void Release(SdKey* key) {
  if (key != nullptr && key->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete key;
}

Result<Bytes> SignDigest(const SdKey& key, ByteView digest, SignAlgorithm alg) {
  SignOptions options;
  options.algorithm = alg;
  return WithClient(key.ref.socket,
                    [&](Client& c) { return c.SignDigest(key.ref.name, digest, options); });
}

Result<Bytes> SignMessage(const SdKey& key, ByteView message, SignAlgorithm alg) {
  SignOptions options;
  options.algorithm = alg;
  return WithClient(key.ref.socket,
                    [&](Client& c) { return c.Sign(key.ref.name, message, options); });
}

}  // namespace edgetrust::provider
