// HKDF-SHA256 (RFC 5869) of a secret key the token holds, for tokens without CKM_HKDF_DERIVE
// (SoftHSM2 2.6 has none).
//
// HKDF-Extract is PRK = HMAC-SHA256(salt, IKM) = SHA-256((K0 ^ opad) || SHA-256((K0 ^ ipad) ||
// IKM)), with K0 the salt padded to 64 bytes (32 zero bytes when there is no salt; SHA-256 of
// the salt when it is longer than 64). The inner hash is the only step that reads IKM: it runs on
// the token (C_DigestInit(CKM_SHA256), C_DigestUpdate(K0 ^ ipad), C_DigestKey(IKM),
// C_DigestFinal), so the base key never leaves it. The outer hash and HKDF-Expand run in the
// daemon, on values derived from IKM (the inner hash, PRK and the output), which live in
// SecretBytes and are wiped after use; the output becomes a new non-extractable token key.
// The result is bit-for-bit RFC 5869 HKDF-SHA256, as the emulated backend computes it.
//
// Thread safety: as the Session passed in (one caller).
#pragma once

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "sd/pkcs11/pkcs11_token.h"

namespace edgetrust::sd::pkcs11 {

Result<SecretBytes> TokenHkdfSha256(Token& token, Session& s, CK_OBJECT_HANDLE ikm, ByteView salt,
                                    ByteView info, size_t length);

}  // namespace edgetrust::sd::pkcs11
