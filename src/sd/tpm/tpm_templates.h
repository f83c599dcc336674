// TPM object templates of the tpm backend (docs/tpm.md, "Key hierarchy"): the storage root key,
// one template per key type, the attestation key, sealed data objects and NV counters.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <optional>

#include "edgetrust/secret.h"
#include "edgetrust/types.h"

namespace edgetrust::sd::tpm {

// TCG "ECC NIST P256 SRK" template (TCG TPM v2.0 Provisioning Guidance): restricted decryption
// key, AES-128-CFB, fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA, unique 32+32
// zero bytes. A primary key from a template is the same key every time for the same owner seed.
TPM2B_PUBLIC SrkTemplate();

// The template of a key of `type` generated inside the TPM; nullopt for types the TPM cannot hold
// (Ed25519). ecdsa-p256 keys sign and decrypt (ECDH_ZGen) with scheme NULL, so that Sign chooses
// the hash; ecdsa-p384 and rsa-3072 sign only; hmac-sha256 is a keyedHash HMAC-SHA256 key;
// aes-256 is a sealed data object holding 32 bytes (the data goes in the sensitive part).
std::optional<TPM2B_PUBLIC> KeyTemplate(KeyType type, bool tpm_generated);

// The attestation key: restricted ECC P-256 signing key, scheme ECDSA-SHA256.
TPM2B_PUBLIC AttestationKeyTemplate();

// A sealed data object holding a secret given by the daemon (sealing root, aes-256 keys).
TPM2B_PUBLIC SealedDataTemplate();

// The public area of an NV counter at `index` with owner read/write and `label` as its
// authPolicy (never used for authorisation: it identifies the counter, docs/tpm.md).
TPM2B_NV_PUBLIC CounterNvTemplate(TPMI_RH_NV_INDEX index, ByteView label);

}  // namespace edgetrust::sd::tpm
