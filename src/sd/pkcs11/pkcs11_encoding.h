// Conversions between what a PKCS#11 token speaks and what the secure domain's callers get:
// curve parameters, EC points, raw ECDSA signatures, DigestInfo, public keys built from token
// attributes. Pure functions, no token access; thread-safe.
#pragma once

#include <p11-kit/pkcs11.h>

#include <optional>

#include "common/openssl_ptr.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"

namespace edgetrust::sd::pkcs11 {

// CKA_KEY_TYPE of a secure-domain key type.
CK_KEY_TYPE CkKeyType(KeyType type);

// CKA_EC_PARAMS for an EC or Edwards key type: the DER of the curve's OID. For Ed25519 some
// tokens want the PKCS#11 3.0 printable-string form instead (Ed25519ParamsByName).
ByteView CurveParams(KeyType type);
ByteView Ed25519ParamsByName();
// True when `params` (as read back from the token) names the curve of `type`.
bool ParamsMatch(KeyType type, ByteView params);

// CKA_EC_POINT holds the point as a DER OCTET STRING (PKCS#11 2.40, SoftHSM2) or raw (some
// tokens, and PKCS#11 3.0 for Edwards keys); returns the raw point of `raw_size` bytes.
Result<Bytes> RawEcPoint(ByteView attribute, size_t raw_size);
// Size of the raw public point: 65 (P-256), 97 (P-384), 32 (Ed25519).
size_t RawPointSize(KeyType type);

// CKM_ECDSA gives r || s; callers get DER (SEQUENCE of two INTEGERs), like OpenSSL.
Result<Bytes> EcdsaRawToDer(ByteView raw);

// The DER DigestInfo CKM_RSA_PKCS signs for RSASSA-PKCS1-v1_5 with the digest of `alg`.
Bytes DigestInfo(SignAlgorithm alg, ByteView digest);

// The hash of a resolved algorithm over `message`; kInvalidArgument for Ed25519.
Result<Bytes> HashFor(SignAlgorithm alg, ByteView message);
// PKCS#11 hash and MGF of a resolved RSA-PSS algorithm.
CK_MECHANISM_TYPE PssHash(SignAlgorithm alg);
CK_RSA_PKCS_MGF_TYPE PssMgf(SignAlgorithm alg);

// Public keys from token attributes. Each is checked (point on the curve, RSA size).
Result<EvpPkeyPtr> EcPublicKey(KeyType type, ByteView raw_point);
Result<EvpPkeyPtr> Ed25519PublicKey(ByteView raw);
Result<EvpPkeyPtr> RsaPublicKey(ByteView modulus, ByteView exponent);

// The uncompressed point (0x04 | X | Y) of a P-256 public key, after checking it is one.
Result<Bytes> P256UncompressedPoint(EVP_PKEY* key);

}  // namespace edgetrust::sd::pkcs11
