// Start-up of the pkcs11 backend: the PIN, the token, the object store and the service keys.
#include "sd/pkcs11/pkcs11_backend.h"

#include <spdlog/spdlog.h>

#include "common/files.h"
#include "sd/pkcs11/pkcs11_backend_impl.h"

namespace edgetrust::sd {
namespace pkcs11 {
namespace {

// The first line of the PIN file, without its line ending.
Result<SecretBytes> ReadPin(const std::string& path) {
  auto file = ReadFile(path, 4096);
  if (!file.ok()) {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot read the PKCS#11 PIN file " + path + ": " + file.status().message());
  }
  SecretBytes content(*file);
  std::fill(file->begin(), file->end(), 0);
  size_t len = 0;
  while (len < content.size() && content.data()[len] != '\n' && content.data()[len] != '\r') ++len;
  if (len == 0) {
    return Status(ErrorCode::kInvalidArgument, "the PKCS#11 PIN file " + path + " is empty");
  }
  content.Truncate(len);
  return content;
}

}  // namespace

Result<std::unique_ptr<Pkcs11Backend>> Pkcs11Backend::Create(const StateDir& state,
                                                             const Pkcs11Options& options) {
  ET_ASSIGN_OR_RETURN(SecretBytes pin, ReadPin(options.pin_file));
  ET_ASSIGN_OR_RETURN(std::unique_ptr<Token> token,
                      Token::Open(options.module, options.token_label, std::move(pin)));
  ET_ASSIGN_OR_RETURN(SecretBytes storage_key,
                      state.DeriveKey("edgetrust-sd pkcs11 object store v1"));
  auto store = std::make_unique<ObjectStore>(state.keys_dir(), std::move(storage_key));
  std::unique_ptr<Pkcs11Backend> backend(new Pkcs11Backend(std::move(token), std::move(store)));
  for (KeyType t : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa3072,
                    KeyType::kAes256, KeyType::kHmacSha256}) {
    if (backend->token_->Supports(t)) {
      backend->supported_.push_back(t);
    } else {
      spdlog::info("event=pkcs11-key-type-unavailable type={} missing=\"{}\"", KeyTypeName(t),
                   backend->token_->Missing(t));
    }
  }
  ET_RETURN_IF_ERROR(backend->InitServices(state));
  spdlog::info("event=pkcs11-token device=\"{}\" sessions={}", backend->Device(),
               backend->token_->pool().size());
  return backend;
}

}  // namespace pkcs11

Result<std::unique_ptr<Backend>> CreatePkcs11Backend(const StateDir& state,
                                                     const Pkcs11Options& options) {
  ET_ASSIGN_OR_RETURN(auto backend, pkcs11::Pkcs11Backend::Create(state, options));
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace edgetrust::sd
