// Conversions between TPM structures and what the rest of the daemon speaks: wrapped key blobs
// for the object store (tss2-mu), OpenSSL public keys, DER signatures, and the PCR file format of
// tpm2_quote -o. Pure functions, no TPM access; thread-safe.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include "common/openssl_ptr.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "edgetrust/types.h"

namespace edgetrust::sd::tpm {

// A key as the TPM wrapped it under the SRK: what TPM2_Load takes.
struct WrappedKey {
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
};

// Object store material of a TPM object: u8 format (1) | TPM2B_PUBLIC | TPM2B_PRIVATE, both
// marshalled with Tss2_MU (big-endian, size-prefixed, as the TPM speaks them).
Result<Bytes> MarshalWrappedKey(const WrappedKey& key);
// kTampered when the material does not parse or holds trailing bytes.
Result<WrappedKey> UnmarshalWrappedKey(ByteView material);
// Whether a public area is what this backend creates for `type`.
bool PublicMatchesType(const TPMT_PUBLIC& pub, KeyType type);

// The OpenSSL public key of an ECC or RSA public area.
Result<EvpPkeyPtr> PublicKeyFromTpm(const TPMT_PUBLIC& pub);
// A P-256 peer public key as a TPM point (for TPM2_ECDH_ZGen); kInvalidArgument otherwise.
Result<TPM2B_ECC_POINT> EccPointFromPublicKey(EVP_PKEY* key);

// ECDSA-Sig-Value DER (what OpenSSL and the emulated backend produce) from a TPM signature.
Result<Bytes> EcdsaSignatureDer(const TPMS_SIGNATURE_ECDSA& sig);
// TPMT_SIGNATURE marshalled (tpm2_quote -s, tpm2_checkquote -s).
Result<Bytes> MarshalSignature(const TPMT_SIGNATURE& sig);

// tpm2-tools 5.4 "serialized" PCR file (tpm2_quote -o, tpm2_checkquote -f): the in-memory
// TPML_PCR_SELECTION with count and hash little-endian, a little-endian u32 count of digest lists,
// then each in-memory TPML_DIGEST with count and sizes little-endian; padding zero.
Bytes SerializePcrFile(const TPML_PCR_SELECTION& selection, const TPML_DIGEST& values);

}  // namespace edgetrust::sd::tpm
