// The sealed-blob format (docs/attestation.md, "Sealed blobs"), version 1:
//
//   "ETSB" | format u8 (=1) | flags u8 (=0) | register mask u32 BE | one 32-byte register value
//   per set bit, in index order | owner length u16 BE | owner | nonce (12) | ciphertext | tag (16)
//
// Everything before the nonce is the AEAD's associated data, so the owner and the register
// binding cannot be changed without failing authentication. The owner is in clear so the daemon
// can tell "someone else's blob" from "a damaged blob". Only the structure is checked here;
// authentication needs the backend's sealing key (Backend::UnsealData).
//
// Thread safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgetrust/attestation.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::sd {

inline constexpr size_t kMaxSealPlaintext = size_t{1} << 20;
inline constexpr size_t kSealNonceSize = 12;
inline constexpr size_t kSealTagSize = 16;

struct SealedHeader {
  uint32_t register_mask = 0;              // bit i: register i
  std::vector<Digest256> register_values;  // one per set bit, in index order
  std::string owner;
};

// The associated data (header bytes) for a blob about to be sealed. kInvalidArgument for a mask
// naming registers that do not exist or values that do not match it.
Result<Bytes> EncodeSealedHeader(const SealedHeader& header);

struct ParsedSealedBlob {
  SealedHeader header;
  ByteView associated_data;  // header bytes, as found
  ByteView sealed;           // nonce | ciphertext | tag
};
// kMalformed naming what is wrong (nothing in the result is authenticated yet).
Result<ParsedSealedBlob> ParseSealedBlob(ByteView blob);

}  // namespace edgetrust::sd
