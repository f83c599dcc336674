// TPM commands on keys, each run inside a Session (the TPM lock held): create under the SRK,
// load, sign, HMAC, unseal, ECDH, random, hash with a ticket. Transient objects are flushed by
// their Transient owner, so at most two are loaded next to the SRK at any moment (swtpm has three
// transient slots).
#pragma once

#include <tss2/tss2_esys.h>

#include <string_view>

#include "edgetrust/secret.h"
#include "edgetrust/status.h"
#include "sd/tpm/tpm_context.h"
#include "sd/tpm/tpm_convert.h"

namespace edgetrust::sd::tpm {

// The TPM's input buffer for one command (TPM2_PT_INPUT_BUFFER is at least 1024).
inline constexpr size_t kMaxTpmBuffer = TPM2_MAX_DIGEST_BUFFER;

// TPM2_Create under the SRK. `sensitive_data` is the secret of a sealed data object or of an
// imported keyedHash key; empty for keys the TPM generates.
Result<WrappedKey> CreateObject(Session& s, const TPM2B_PUBLIC& templ, ByteView sensitive_data);
// TPM2_Load under the SRK. kTampered when the TPM refuses the blob (made by another TPM, or for
// an SRK that changed: the owner hierarchy was cleared).
Result<Transient> LoadObject(Session& s, const WrappedKey& key, std::string_view what);
// TPM2_Sign of a digest with an unrestricted key (null ticket) or a restricted one (`ticket`).
Result<EsysPtr<TPMT_SIGNATURE>> SignDigest(Session& s, ESYS_TR key, ByteView digest,
                                           const TPMT_SIG_SCHEME& scheme,
                                           const TPMT_TK_HASHCHECK* ticket);
// HMAC-SHA256 with a keyedHash key: TPM2_HMAC, or an HMAC sequence for more than one buffer.
Result<Bytes> Hmac(Session& s, ESYS_TR key, ByteView data);
// TPM2_Unseal of a sealed data object.
Result<SecretBytes> Unseal(Session& s, ESYS_TR key);
// TPM2_ECDH_ZGen: the x coordinate of key * peer.
Result<SecretBytes> EcdhZGen(Session& s, ESYS_TR key, const TPM2B_ECC_POINT& peer);
// Up to `max` bytes from TPM2_GetRandom (one call; the TPM may give fewer).
Result<SecretBytes> GetRandomOnce(Session& s, size_t max);

struct TicketedDigest {
  TPM2B_DIGEST digest{};
  TPMT_TK_HASHCHECK ticket{};
};
// SHA-256 of `data` by a TPM hash sequence completed in the owner hierarchy, with the ticket
// that lets a restricted key sign it. The TPM refuses a ticket for data that starts with
// TPM_GENERATED_VALUE or is shorter than 4 bytes (kInvalidArgument).
Result<TicketedDigest> HashWithTicket(Session& s, ByteView data);

}  // namespace edgetrust::sd::tpm
