#include "cli/args.h"

#include <utility>

namespace edgetrust::cli {

void OnSelected(CLI::App* command, Selection& selection, Action action) {
  command->callback([&selection, action = std::move(action)] { selection.action = action; });
}

std::vector<std::string> KeyTypeNames() {
  std::vector<std::string> names;
  for (KeyType t : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kEd25519, KeyType::kRsa3072,
                    KeyType::kAes256, KeyType::kHmacSha256}) {
    names.emplace_back(KeyTypeName(t));
  }
  return names;
}

std::vector<std::string> SymmetricKeyTypeNames() {
  return {std::string(KeyTypeName(KeyType::kAes256)),
          std::string(KeyTypeName(KeyType::kHmacSha256))};
}

std::vector<std::string> SignAlgorithmNames() {
  std::vector<std::string> names;
  for (SignAlgorithm a :
       {SignAlgorithm::kEcdsaSha256, SignAlgorithm::kEcdsaSha384, SignAlgorithm::kEcdsaSha512,
        SignAlgorithm::kEd25519, SignAlgorithm::kRsaPssSha256, SignAlgorithm::kRsaPssSha384,
        SignAlgorithm::kRsaPssSha512, SignAlgorithm::kRsaPkcs1Sha256,
        SignAlgorithm::kRsaPkcs1Sha384, SignAlgorithm::kRsaPkcs1Sha512}) {
    names.emplace_back(SignAlgorithmName(a));
  }
  return names;
}

Result<KeyType> KeyTypeArg(const std::string& name) {
  auto type = ParseKeyType(name);
  if (!type) return Status(ErrorCode::kInvalidArgument, "unknown key type '" + name + "'");
  return *type;
}

Result<SignAlgorithm> SignAlgorithmArg(const std::string& name) {
  if (name.empty()) return SignAlgorithm::kDefault;
  auto alg = ParseSignAlgorithm(name);
  if (!alg)
    return Status(ErrorCode::kInvalidArgument, "unknown signature algorithm '" + name + "'");
  return *alg;
}

}  // namespace edgetrust::cli
