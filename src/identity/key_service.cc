#include "identity/key_service.h"

#include <utility>

#include "identity/certificate.h"
#include "provider/key_uri.h"
#include "provider/load_key.h"

namespace edgetrust::identity {

Result<bool> KeyService::Ensure(std::string_view name, KeyType type, bool require_type) {
  ET_ASSIGN_OR_RETURN(std::optional<KeyType> existing, Find(name));
  if (existing) {
    if (require_type && *existing != type) {
      return Status(ErrorCode::kFailedPrecondition, "key " + std::string(name) +
                                                        " exists with type " +
                                                        std::string(KeyTypeName(*existing)) +
                                                        ", not " + std::string(KeyTypeName(type)));
    }
    return false;
  }
  ET_RETURN_IF_ERROR(Create(name, type));
  return true;
}

SdKeyService::SdKeyService(Client* client, std::string socket)
    : client_(client), socket_(std::move(socket)) {}

Result<std::optional<KeyType>> SdKeyService::Find(std::string_view name) {
  ET_ASSIGN_OR_RETURN(auto keys, client_->ListKeys());
  for (const auto& k : keys) {
    if (k.name != name) continue;
    if (k.state != "ok") {
      return Status(ErrorCode::kTampered, "key " + k.name + " is not usable: " + k.state);
    }
    auto type = ParseKeyType(k.type);
    if (!type) return Status(ErrorCode::kUnsupported, "key " + k.name + " has type " + k.type);
    return std::optional<KeyType>(*type);
  }
  return std::optional<KeyType>();
}

Status SdKeyService::Create(std::string_view name, KeyType type) {
  auto created = client_->CreateKey(name, type);
  return created.ok() ? Status::Ok() : created.status();
}

Status SdKeyService::Delete(std::string_view name) { return client_->DeleteKey(name); }

Result<EvpPkeyPtr> SdKeyService::PublicKey(std::string_view name) {
  ET_ASSIGN_OR_RETURN(std::string pem, client_->PublicKeyPem(name));
  return ParsePublicKeyPem(pem);
}

Result<EvpPkeyPtr> SdKeyService::SigningKey(std::string_view name) {
  return provider::LoadKey(name, socket_);
}

Result<OSSL_LIB_CTX*> SdKeyService::LibraryContext() { return provider::SharedLibCtx(); }

Result<std::string> SdKeyService::Principal() {
  if (principal_.empty()) {
    ET_ASSIGN_OR_RETURN(DaemonInfo info, client_->Info());
    principal_ = info.principal;
  }
  return principal_;
}

Result<std::string> SdKeyService::ReferencePem(std::string_view name) {
  ET_ASSIGN_OR_RETURN(std::string principal, Principal());
  return provider::FormatKeyPem(provider::KeyRef{principal + "/" + std::string(name), socket_});
}

Result<std::string> SdKeyService::NameFromReference(std::string_view pem) {
  ET_ASSIGN_OR_RETURN(provider::KeyRef ref, provider::ParseKeyPem(pem));
  ET_ASSIGN_OR_RETURN(std::string principal, Principal());
  const std::string own = principal + "/";
  if (ref.name.starts_with(own)) return ref.name.substr(own.size());
  if (ref.name.find('/') == std::string::npos) return ref.name;
  return Status(ErrorCode::kInvalidArgument,
                "key reference names " + ref.name + ", a key of another principal");
}

Result<Bytes> SdKeyService::Mac(std::string_view key, ByteView data) {
  return client_->Mac(key, data);
}

Result<bool> SdKeyService::MacVerify(std::string_view key, ByteView data, ByteView mac) {
  return client_->MacVerify(key, data, mac);
}

}  // namespace edgetrust::identity
