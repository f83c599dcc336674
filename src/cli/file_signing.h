// Signing and verifying inputs of any size.
//
// The protocol carries messages of at most 1 MiB. Up to that size the whole message goes to the
// daemon, which hashes it (and Ed25519, which cannot sign a digest, works). A larger input is
// hashed here while it is read, so it is never held in memory, and only the digest is sent; the
// digest follows the algorithm given, or the key type's default, found from its public key.
#pragma once

#include <string>

#include "edgetrust/client.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"

namespace edgetrust::cli {

// Inputs larger than this are hashed locally.
inline constexpr size_t kMaxWholeMessage = size_t{1} << 20;

struct SignedInput {
  Bytes signature;
  // The algorithm as far as the CLI knows it: kDefault if the daemon picked the key's default.
  SignAlgorithm algorithm = SignAlgorithm::kDefault;
};

Result<SignedInput> SignInput(Client& client, const std::string& key, const std::string& in_path,
                              SignAlgorithm algorithm);
// True for a valid signature, false for an invalid one.
Result<bool> VerifyInput(Client& client, const std::string& key, const std::string& in_path,
                         ByteView signature, SignAlgorithm algorithm);

// The concrete algorithm a key uses for `algorithm` (kDefault resolved through the key's type,
// read from its public key).
Result<SignAlgorithm> ResolveForKey(Client& client, const std::string& key,
                                    SignAlgorithm algorithm);

}  // namespace edgetrust::cli
