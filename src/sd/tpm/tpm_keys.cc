#include "sd/tpm/tpm_keys.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace edgetrust::sd::tpm {
namespace {

template <typename T>
void Wipe(T* p) {
  if (p != nullptr) OPENSSL_cleanse(p, sizeof *p);
}

TPM2B_MAX_BUFFER Chunk(ByteView data, size_t offset, size_t size) {
  TPM2B_MAX_BUFFER b{};
  b.size = static_cast<UINT16>(size);
  if (size > 0) std::memcpy(b.buffer, data.data() + offset, size);
  return b;
}

// Feeds `data` to the sequence `seq`, one TPM2_SequenceUpdate per buffer, all but its last
// buffer (at most kMaxTpmBuffer bytes, possibly empty): returned for TPM2_SequenceComplete.
Result<TPM2B_MAX_BUFFER> UpdateSequence(Session& s, ESYS_TR seq, ByteView data) {
  size_t offset = 0;
  while (data.size() - offset > kMaxTpmBuffer) {
    TPM2B_MAX_BUFFER buffer = Chunk(data, offset, kMaxTpmBuffer);
    TSS2_RC rc =
        Esys_SequenceUpdate(s.esys(), seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buffer);
    ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_SequenceUpdate"));
    offset += kMaxTpmBuffer;
  }
  return Chunk(data, offset, data.size() - offset);
}

}  // namespace

Result<WrappedKey> CreateObject(Session& s, const TPM2B_PUBLIC& templ, ByteView sensitive_data) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  if (sensitive_data.size() > sizeof sensitive.sensitive.data.buffer) {
    return Status(ErrorCode::kInternal, "sensitive data too large for a TPM object");
  }
  sensitive.sensitive.data.size = static_cast<UINT16>(sensitive_data.size());
  if (!sensitive_data.empty()) {
    std::memcpy(sensitive.sensitive.data.buffer, sensitive_data.data(), sensitive_data.size());
  }
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  TPM2B_PRIVATE* out_private = nullptr;
  TPM2B_PUBLIC* out_public = nullptr;
  TPM2B_CREATION_DATA* creation_data = nullptr;
  TPM2B_DIGEST* creation_hash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  TSS2_RC rc = Esys_Create(s.esys(), s.srk(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &sensitive, &templ, &outside, &pcrs, &out_private, &out_public,
                           &creation_data, &creation_hash, &ticket);
  Wipe(&sensitive);
  EsysPtr<TPM2B_PRIVATE> priv(out_private);
  EsysPtr<TPM2B_PUBLIC> pub(out_public);
  EsysPtr<TPM2B_CREATION_DATA> cd(creation_data);
  EsysPtr<TPM2B_DIGEST> ch(creation_hash);
  EsysPtr<TPMT_TK_CREATION> tk(ticket);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_Create"));
  WrappedKey key;
  key.pub = *pub;
  key.priv = *priv;
  return key;
}

Result<Transient> LoadObject(Session& s, const WrappedKey& key, std::string_view what) {
  ESYS_TR handle = ESYS_TR_NONE;
  TSS2_RC rc = Esys_Load(s.esys(), s.srk(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &key.priv,
                         &key.pub, &handle);
  if (rc != TSS2_RC_SUCCESS) {
    Status st = s.CheckAs(rc, "TPM2_Load", ErrorCode::kTampered);
    if (st.code() != ErrorCode::kTampered) return st;
    const TSS2_RC base = TpmBaseRc(rc);
    if (base == TPM2_RC_OBJECT_MEMORY) {
      return Status(ErrorCode::kResourceExhausted,
                    "TPM2_Load of " + std::string(what) + ": the TPM has no free object slot");
    }
    return Status(ErrorCode::kTampered,
                  std::string(what) +
                      ": its TPM blob does not load under this TPM's storage root key (made by "
                      "another TPM, the owner hierarchy was cleared, or altered): " +
                      st.message());
  }
  return Transient(s.esys(), handle);
}

Result<EsysPtr<TPMT_SIGNATURE>> SignDigest(Session& s, ESYS_TR key, ByteView digest,
                                           const TPMT_SIG_SCHEME& scheme,
                                           const TPMT_TK_HASHCHECK* ticket) {
  TPM2B_DIGEST d{};
  if (digest.size() > sizeof d.buffer)
    return Status(ErrorCode::kInvalidArgument, "digest too long");
  d.size = static_cast<UINT16>(digest.size());
  std::memcpy(d.buffer, digest.data(), digest.size());
  TPMT_TK_HASHCHECK null_ticket{};
  null_ticket.tag = TPM2_ST_HASHCHECK;
  null_ticket.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  TSS2_RC rc = Esys_Sign(s.esys(), key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme,
                         ticket != nullptr ? ticket : &null_ticket, &sig);
  EsysPtr<TPMT_SIGNATURE> out(sig);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_Sign"));
  return out;
}

Result<Bytes> Hmac(Session& s, ESYS_TR key, ByteView data) {
  TPM2B_DIGEST* result = nullptr;
  if (data.size() <= kMaxTpmBuffer) {
    TPM2B_MAX_BUFFER buffer = Chunk(data, 0, data.size());
    TSS2_RC rc = Esys_HMAC(s.esys(), key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buffer,
                           TPM2_ALG_SHA256, &result);
    EsysPtr<TPM2B_DIGEST> out(result);
    ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_HMAC"));
    return Bytes(out->buffer, out->buffer + out->size);
  }
  // Longer data: an HMAC sequence, one TPM2_SequenceUpdate per buffer.
  TPM2B_AUTH auth{};
  ESYS_TR seq_handle = ESYS_TR_NONE;
  TSS2_RC rc = Esys_HMAC_Start(s.esys(), key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &auth,
                               TPM2_ALG_SHA256, &seq_handle);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_HMAC_Start"));
  Transient seq(s.esys(), seq_handle);
  ET_ASSIGN_OR_RETURN(TPM2B_MAX_BUFFER last, UpdateSequence(s, seq.get(), data));
  TPMT_TK_HASHCHECK* validation = nullptr;
  rc = Esys_SequenceComplete(s.esys(), seq.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &last, ESYS_TR_RH_NULL, &result, &validation);
  EsysPtr<TPM2B_DIGEST> out(result);
  EsysPtr<TPMT_TK_HASHCHECK> tk(validation);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_SequenceComplete"));
  seq.Release();  // a completed sequence is gone from the TPM
  return Bytes(out->buffer, out->buffer + out->size);
}

Result<SecretBytes> Unseal(Session& s, ESYS_TR key) {
  TPM2B_SENSITIVE_DATA* data = nullptr;
  TSS2_RC rc = Esys_Unseal(s.esys(), key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data);
  EsysPtr<TPM2B_SENSITIVE_DATA> out(data);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_Unseal"));
  SecretBytes secret(ByteView(out->buffer, out->size));
  Wipe(out.get());
  return secret;
}

Result<SecretBytes> EcdhZGen(Session& s, ESYS_TR key, const TPM2B_ECC_POINT& peer) {
  TPM2B_ECC_POINT* point = nullptr;
  TSS2_RC rc =
      Esys_ECDH_ZGen(s.esys(), key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &peer, &point);
  EsysPtr<TPM2B_ECC_POINT> out(point);
  ET_RETURN_IF_ERROR(s.CheckAs(rc, "TPM2_ECDH_ZGen", ErrorCode::kInvalidArgument));
  // The x coordinate, left-padded to the field size (32 bytes), as OpenSSL's ECDH gives it.
  const auto& x = out->point.x;
  if (x.size > 32) return Status(ErrorCode::kInternal, "TPM2_ECDH_ZGen gave an oversized point");
  SecretBytes z(32);
  std::memset(z.data(), 0, 32);
  std::memcpy(z.data() + 32 - x.size, x.buffer, x.size);
  Wipe(out.get());
  return z;
}

Result<SecretBytes> GetRandomOnce(Session& s, size_t max) {
  TPM2B_DIGEST* bytes = nullptr;
  const UINT16 ask = static_cast<UINT16>(std::min<size_t>(max, sizeof(TPMU_HA)));
  TSS2_RC rc = Esys_GetRandom(s.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ask, &bytes);
  EsysPtr<TPM2B_DIGEST> out(bytes);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_GetRandom"));
  SecretBytes r(ByteView(out->buffer, std::min<size_t>(out->size, ask)));
  Wipe(out.get());
  return r;
}

Result<TicketedDigest> HashWithTicket(Session& s, ByteView data) {
  TPM2B_AUTH auth{};
  ESYS_TR seq_handle = ESYS_TR_NONE;
  TSS2_RC rc = Esys_HashSequenceStart(s.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &auth,
                                      TPM2_ALG_SHA256, &seq_handle);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_HashSequenceStart"));
  Transient seq(s.esys(), seq_handle);
  ET_ASSIGN_OR_RETURN(TPM2B_MAX_BUFFER last, UpdateSequence(s, seq.get(), data));
  TPM2B_DIGEST* result = nullptr;
  TPMT_TK_HASHCHECK* validation = nullptr;
  rc = Esys_SequenceComplete(s.esys(), seq.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &last, ESYS_TR_RH_OWNER, &result, &validation);
  EsysPtr<TPM2B_DIGEST> digest(result);
  EsysPtr<TPMT_TK_HASHCHECK> ticket(validation);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_SequenceComplete"));
  seq.Release();
  TicketedDigest out;
  out.digest = *digest;
  out.ticket = *ticket;
  // The TPM gives a null ticket (hierarchy TPM_RH_NULL, empty digest) for data that could be one
  // of its own attestation structures (starting with TPM_GENERATED_VALUE, or shorter than those
  // 4 bytes); a restricted key will not sign that.
  if (out.ticket.hierarchy == TPM2_RH_NULL || out.ticket.digest.size == 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "the TPM will not let its attestation key sign data shorter than 4 bytes or "
                  "starting like a TPM attestation structure (TPM_GENERATED_VALUE)");
  }
  return out;
}

}  // namespace edgetrust::sd::tpm
