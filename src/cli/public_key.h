// Recognises the key type of a PEM SubjectPublicKeyInfo, so the CLI can pick the digest for
// signing a large file itself (the daemon only sees the digest then).
#pragma once

#include <string_view>

#include "edgetrust/status.h"
#include "edgetrust/types.h"

namespace edgetrust::cli {

// kEcdsaP256, kEcdsaP384, kEd25519 or kRsa3072 (any RSA size); kUnsupported for anything else,
// kInvalidArgument if `pem` is not a public key.
Result<KeyType> KeyTypeOfPublicPem(std::string_view pem);

}  // namespace edgetrust::cli
