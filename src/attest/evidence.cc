// EAT claims and the COSE_Sign1 around them: encoding, strict decoding, ES256 signature forms
// (evidence.h, docs/attestation.md).
#include "attest/evidence.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <bitset>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "attest/cbor_util.h"
#include "attest/sha256.h"
#include "common/openssl_ptr.h"

namespace edgetrust::attest {
namespace {

using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OsslDeleter<ECDSA_SIG_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;

constexpr size_t kMinNonce = 8;   // RFC 9711 section 4.1
constexpr size_t kMaxNonce = 64;  // RFC 9711 section 4.1
constexpr size_t kUeidSize = 33;
constexpr uint8_t kUeidTypeRand = 0x01;  // RFC 9711 section 4.2.1: "RAND" type
constexpr size_t kBootseedSize = 32;
constexpr uint64_t kMaxDbgstat = 4;  // disabled-fully-and-permanently
constexpr size_t kEs256SignatureSize = 64;

// COSE header labels (RFC 9052 section 3.1).
constexpr int64_t kHeaderAlg = 1;
constexpr int64_t kHeaderCrit = 2;
constexpr int64_t kHeaderKid = 4;

Status Malformed(std::string message) { return Status(ErrorCode::kMalformed, std::move(message)); }

std::string ClaimName(int64_t key) {
  switch (key) {
    case kClaimNonce:
      return "eat_nonce (10)";
    case kClaimUeid:
      return "ueid (256)";
    case kClaimIat:
      return "iat (6)";
    case kClaimUptime:
      return "uptime (261)";
    case kClaimDbgstat:
      return "dbgstat (263)";
    case kClaimProfile:
      return "eat_profile (265)";
    case kClaimBootseed:
      return "bootseed (268)";
    case kClaimSwname:
      return "swname (270)";
    case kClaimMeasurements:
      return "measurements (273)";
    case kClaimBackend:
      return "backend (-70001)";
    case kClaimLogDigest:
      return "log digest (-70002)";
    case kClaimLogCount:
      return "log count (-70003)";
    case kClaimRequester:
      return "requester (-70004)";
    case kClaimEmulated:
      return "emulated (-70005)";
    case kClaimTpmQuote:
      return "tpm quote (-70006)";
    default:
      return "claim " + std::to_string(key);
  }
}

// The claims DecodeClaims requires, in encoding order.
constexpr int64_t kRequiredClaims[] = {
    kClaimNonce,     kClaimUeid,     kClaimIat,       kClaimUptime,       kClaimDbgstat,
    kClaimProfile,   kClaimBootseed, kClaimSwname,    kClaimMeasurements, kClaimBackend,
    kClaimLogDigest, kClaimLogCount, kClaimRequester, kClaimEmulated};
constexpr size_t kRequiredCount = std::size(kRequiredClaims);

size_t RequiredIndex(int64_t key) {
  for (size_t i = 0; i < kRequiredCount; ++i) {
    if (kRequiredClaims[i] == key) return i;
  }
  return kRequiredCount;
}

Status CheckText(std::string_view text, const char* what) {
  if (!cbor::IsValidUtf8(text)) {
    return Status(ErrorCode::kInvalidArgument, std::string(what) + " is not valid UTF-8");
  }
  return Status::Ok();
}

Bytes EncodeRegisters(const std::array<Digest256, kRegisterCount>& registers) {
  cbor::Writer w(kRegisterCount * 34 + 1);
  w.Array(kRegisterCount);
  for (const Digest256& r : registers) w.ByteString(r);
  return std::move(w).Take();
}

// Messages are built only on failure: this runs once per verification.
Status DecodeRegisters(ByteView encoded, std::array<Digest256, kRegisterCount>& out) {
  constexpr std::string_view kWhat = "measurements (273) register values";
  cbor::Reader r(encoded);
  ET_ASSIGN_OR_RETURN(uint64_t n, r.ReadArray(kWhat));
  if (n != kRegisterCount) {
    return Malformed(std::string(kWhat) + ": " + std::to_string(n) + " registers, expected " +
                     std::to_string(kRegisterCount));
  }
  for (size_t i = 0; i < kRegisterCount; ++i) {
    ET_ASSIGN_OR_RETURN(ByteView value, r.ReadBytes(kWhat));
    if (value.size() != out[i].size()) {
      return Malformed(std::string(kWhat) + ": register " + std::to_string(i) + " is " +
                       std::to_string(value.size()) + " bytes, expected 32");
    }
    std::copy(value.begin(), value.end(), out[i].begin());
  }
  return r.ExpectEnd(kWhat);
}

Status DecodeMeasurements(cbor::Reader& r, EvidenceClaims& claims) {
  constexpr std::string_view kWhat = "measurements (273)";
  const std::string what(kWhat);
  ET_ASSIGN_OR_RETURN(uint64_t entries, r.ReadArray(kWhat));
  if (entries != 1) {
    return Malformed(what + " must hold exactly one entry, holds " + std::to_string(entries));
  }
  ET_ASSIGN_OR_RETURN(uint64_t pair, r.ReadArray(kWhat));
  if (pair != 2) return Malformed(what + " entry must be [content-format, value]");
  ET_ASSIGN_OR_RETURN(uint64_t format, r.ReadUint(kWhat));
  if (format != kRegistersContentFormat) {
    return Malformed(what + " content-format is " + std::to_string(format) + ", expected " +
                     std::to_string(kRegistersContentFormat));
  }
  ET_ASSIGN_OR_RETURN(ByteView value, r.ReadBytes(kWhat));
  return DecodeRegisters(value, claims.registers);
}

Result<Bytes> FixedBytes(cbor::Reader& r, int64_t key, size_t size) {
  const std::string what = ClaimName(key);
  ET_ASSIGN_OR_RETURN(ByteView b, r.ReadBytes(what));
  if (b.size() != size) {
    return Malformed(what + " is " + std::to_string(b.size()) + " bytes, expected " +
                     std::to_string(size));
  }
  return Bytes(b.begin(), b.end());
}

Status DecodeTpmQuote(cbor::Reader& r, EvidenceClaims& c) {
  const std::string what = ClaimName(kClaimTpmQuote);
  ET_ASSIGN_OR_RETURN(uint64_t n, r.ReadArray(what));
  if (n != 4) return Malformed(what + ": " + std::to_string(n) + " elements, expected 4");
  TpmQuoteClaim q;
  for (Bytes* part : {&q.attest, &q.signature}) {
    ET_ASSIGN_OR_RETURN(ByteView b, r.ReadBytes(what));
    if (b.empty() || b.size() > kMaxQuotePart) {
      return Malformed(what + ": a part of " + std::to_string(b.size()) + " bytes");
    }
    part->assign(b.begin(), b.end());
  }
  ET_ASSIGN_OR_RETURN(uint64_t pcr, r.ReadUint(what));
  if (pcr > 23) return Malformed(what + ": PCR " + std::to_string(pcr) + " out of range");
  q.pcr = static_cast<uint32_t>(pcr);
  ET_ASSIGN_OR_RETURN(Bytes base, FixedBytes(r, kClaimTpmQuote, q.pcr_base.size()));
  std::copy(base.begin(), base.end(), q.pcr_base.begin());
  c.tpm_quote = std::move(q);
  return Status::Ok();
}

Status DecodeClaim(cbor::Reader& r, int64_t key, EvidenceClaims& c) {
  const std::string what = ClaimName(key);
  switch (key) {
    case kClaimNonce: {
      ET_ASSIGN_OR_RETURN(ByteView b, r.ReadBytes(what));
      if (b.size() < kMinNonce || b.size() > kMaxNonce) {
        return Malformed(what + " is " + std::to_string(b.size()) + " bytes, expected 8 to 64");
      }
      c.nonce.assign(b.begin(), b.end());
      return Status::Ok();
    }
    case kClaimUeid: {
      ET_ASSIGN_OR_RETURN(c.ueid, FixedBytes(r, key, kUeidSize));
      if (c.ueid[0] != kUeidTypeRand) return Malformed(what + " is not of type RAND (0x01)");
      return Status::Ok();
    }
    case kClaimIat: {
      ET_ASSIGN_OR_RETURN(c.iat, r.ReadUint(what));
      return Status::Ok();
    }
    case kClaimUptime: {
      ET_ASSIGN_OR_RETURN(c.uptime, r.ReadUint(what));
      return Status::Ok();
    }
    case kClaimDbgstat: {
      ET_ASSIGN_OR_RETURN(c.dbgstat, r.ReadUint(what));
      if (c.dbgstat > kMaxDbgstat) {
        return Malformed(what + " is " + std::to_string(c.dbgstat) + ", expected 0 to 4");
      }
      return Status::Ok();
    }
    case kClaimProfile: {
      ET_ASSIGN_OR_RETURN(std::string_view s, r.ReadText(what));
      c.profile = s;
      return Status::Ok();
    }
    case kClaimBootseed: {
      ET_ASSIGN_OR_RETURN(c.bootseed, FixedBytes(r, key, kBootseedSize));
      return Status::Ok();
    }
    case kClaimSwname: {
      ET_ASSIGN_OR_RETURN(std::string_view s, r.ReadText(what));
      c.swname = s;
      return Status::Ok();
    }
    case kClaimMeasurements:
      return DecodeMeasurements(r, c);
    case kClaimBackend: {
      ET_ASSIGN_OR_RETURN(std::string_view s, r.ReadText(what));
      c.backend = s;
      return Status::Ok();
    }
    case kClaimLogDigest: {
      ET_ASSIGN_OR_RETURN(Bytes b, FixedBytes(r, key, c.log_digest.size()));
      std::copy(b.begin(), b.end(), c.log_digest.begin());
      return Status::Ok();
    }
    case kClaimLogCount: {
      ET_ASSIGN_OR_RETURN(c.log_count, r.ReadUint(what));
      return Status::Ok();
    }
    case kClaimRequester: {
      ET_ASSIGN_OR_RETURN(std::string_view s, r.ReadText(what));
      c.requester = s;
      return Status::Ok();
    }
    case kClaimEmulated: {
      ET_ASSIGN_OR_RETURN(c.emulated, r.ReadBool(what));
      return Status::Ok();
    }
    case kClaimTpmQuote:
      return DecodeTpmQuote(r, c);
    default:
      // RFC 9711: a recipient ignores claims it does not understand.
      return r.Skip(what);
  }
}

// A COSE header map: labels are integers (or text, which RFC 9052 also allows, skipped when
// `allow_text_labels`), each at most once. `on_label` reads the value of a label it knows and
// returns true, or returns false to have it skipped.
template <typename OnLabel>
Status ReadHeaderMap(cbor::Reader& r, const std::string& what, bool allow_text_labels,
                     OnLabel on_label) {
  ET_ASSIGN_OR_RETURN(uint64_t n, r.ReadMap(what));
  std::set<int64_t> int_labels;
  std::set<std::string, std::less<>> text_labels;
  for (uint64_t i = 0; i < n; ++i) {
    const size_t at = r.offset();
    ET_ASSIGN_OR_RETURN(cbor::Head head, r.Next());
    if (head.kind == cbor::Kind::kText && allow_text_labels) {
      std::string label(reinterpret_cast<const char*>(head.data.data()), head.data.size());
      if (!text_labels.insert(label).second) {
        return Malformed(what + ": label \"" + label + "\" appears twice");
      }
      ET_RETURN_IF_ERROR(r.Skip(what));
      continue;
    }
    if (head.kind != cbor::Kind::kUint && head.kind != cbor::Kind::kNegint) {
      return Malformed(what + ": the label at byte " + std::to_string(at) + " is a " +
                       std::string(cbor::KindName(head.kind)) + ", not an integer" +
                       (allow_text_labels ? " or text" : ""));
    }
    if (head.value > static_cast<uint64_t>(INT64_MAX)) {
      return Malformed(what + ": label out of range");
    }
    const int64_t label = head.kind == cbor::Kind::kUint ? static_cast<int64_t>(head.value)
                                                         : -1 - static_cast<int64_t>(head.value);
    if (!int_labels.insert(label).second) {
      return Malformed(what + ": label " + std::to_string(label) + " appears twice");
    }
    ET_ASSIGN_OR_RETURN(bool handled, on_label(label));
    if (!handled) ET_RETURN_IF_ERROR(r.Skip(what));
  }
  return Status::Ok();
}

}  // namespace

Result<Bytes> EncodeClaims(const EvidenceClaims& c) {
  if (c.nonce.size() < kMinNonce || c.nonce.size() > kMaxNonce) {
    return Status(ErrorCode::kInvalidArgument,
                  "the nonce must be 8 to 64 bytes, got " + std::to_string(c.nonce.size()));
  }
  if (c.ueid.size() != kUeidSize || c.ueid[0] != kUeidTypeRand) {
    return Status(ErrorCode::kInvalidArgument, "the UEID must be 0x01 followed by 32 bytes");
  }
  if (c.bootseed.size() != kBootseedSize) {
    return Status(ErrorCode::kInvalidArgument, "the boot seed must be 32 bytes");
  }
  if (c.dbgstat > kMaxDbgstat) {
    return Status(ErrorCode::kInvalidArgument, "dbgstat must be 0 to 4");
  }
  ET_RETURN_IF_ERROR(CheckText(c.profile, "eat_profile"));
  ET_RETURN_IF_ERROR(CheckText(c.swname, "swname"));
  ET_RETURN_IF_ERROR(CheckText(c.backend, "backend"));
  ET_RETURN_IF_ERROR(CheckText(c.requester, "requester"));

  if (c.tpm_quote && (c.tpm_quote->attest.empty() || c.tpm_quote->signature.empty() ||
                      c.tpm_quote->attest.size() > kMaxQuotePart ||
                      c.tpm_quote->signature.size() > kMaxQuotePart || c.tpm_quote->pcr > 23)) {
    return Status(ErrorCode::kInvalidArgument, "the TPM quote is empty, too large or names no PCR");
  }

  cbor::Writer w(1024);
  w.Map(kRequiredCount + (c.tpm_quote ? 1 : 0));
  w.Int(kClaimNonce).ByteString(c.nonce);
  w.Int(kClaimUeid).ByteString(c.ueid);
  w.Int(kClaimIat).Uint(c.iat);
  w.Int(kClaimUptime).Uint(c.uptime);
  w.Int(kClaimDbgstat).Uint(c.dbgstat);
  w.Int(kClaimProfile).Text(c.profile);
  w.Int(kClaimBootseed).ByteString(c.bootseed);
  w.Int(kClaimSwname).Text(c.swname);
  // measurements: [[content-format, bstr .cbor [16 * bstr]]]
  w.Int(kClaimMeasurements).Array(1).Array(2).Uint(kRegistersContentFormat);
  w.ByteString(EncodeRegisters(c.registers));
  w.Int(kClaimBackend).Text(c.backend);
  w.Int(kClaimLogDigest).ByteString(c.log_digest);
  w.Int(kClaimLogCount).Uint(c.log_count);
  w.Int(kClaimRequester).Text(c.requester);
  w.Int(kClaimEmulated).Bool(c.emulated);
  if (c.tpm_quote) {
    w.Int(kClaimTpmQuote).Array(4).ByteString(c.tpm_quote->attest);
    w.ByteString(c.tpm_quote->signature).Uint(c.tpm_quote->pcr).ByteString(c.tpm_quote->pcr_base);
  }
  return std::move(w).Take();
}

Result<EvidenceClaims> DecodeClaims(ByteView payload) {
  cbor::Reader r(payload);
  ET_ASSIGN_OR_RETURN(uint64_t n, r.ReadMap("claims"));
  EvidenceClaims c;
  std::bitset<kRequiredCount> seen;
  std::set<int64_t> unknown_seen;
  for (uint64_t i = 0; i < n; ++i) {
    ET_ASSIGN_OR_RETURN(int64_t key, r.ReadInt("claim key"));
    const size_t index = RequiredIndex(key);
    const bool first = index < kRequiredCount ? !seen.test(index) : unknown_seen.insert(key).second;
    if (!first) return Malformed("claims: " + ClaimName(key) + " appears twice");
    if (index < kRequiredCount) seen.set(index);
    ET_RETURN_IF_ERROR(DecodeClaim(r, key, c));
  }
  ET_RETURN_IF_ERROR(r.ExpectEnd("claims"));
  for (size_t i = 0; i < kRequiredCount; ++i) {
    if (!seen.test(i)) return Malformed("claims: " + ClaimName(kRequiredClaims[i]) + " is missing");
  }
  return c;
}

Bytes ProtectedHeaderEs256() {
  cbor::Writer w(3);
  w.Map(1).Int(kHeaderAlg).Int(kCoseAlgEs256);
  return std::move(w).Take();
}

Bytes SigStructure(ByteView protected_header, ByteView payload) {
  cbor::Writer w(protected_header.size() + payload.size() + 32);
  w.Array(4)
      .Text("Signature1")
      .ByteString(protected_header)
      .ByteString({})  // external_aad: none
      .ByteString(payload);
  return std::move(w).Take();
}

Bytes EncodeSign1(const Sign1& s) {
  cbor::Writer w(s.protected_header.size() + s.kid.size() + s.payload.size() + s.signature.size() +
                 32);
  w.Tag(kCoseSign1Tag).Array(4).ByteString(s.protected_header);
  if (s.kid.empty()) {
    w.Map(0);
  } else {
    w.Map(1).Int(kHeaderKid).ByteString(s.kid);
  }
  w.ByteString(s.payload).ByteString(s.signature);
  return std::move(w).Take();
}

Result<Sign1> DecodeSign1(ByteView evidence) {
  if (evidence.size() > kMaxEvidenceSize) {
    return Malformed("evidence is " + std::to_string(evidence.size()) +
                     " bytes, more than the limit of " + std::to_string(kMaxEvidenceSize));
  }
  cbor::Reader r(evidence);
  ET_ASSIGN_OR_RETURN(uint64_t tag, r.ReadTag("COSE_Sign1"));
  if (tag != kCoseSign1Tag) {
    return Malformed("COSE_Sign1: CBOR tag " + std::to_string(tag) + ", expected 18");
  }
  ET_ASSIGN_OR_RETURN(uint64_t n, r.ReadArray("COSE_Sign1"));
  if (n != 4) {
    return Malformed("COSE_Sign1: an array of " + std::to_string(n) + " elements, expected 4");
  }
  Sign1 s;
  ET_ASSIGN_OR_RETURN(ByteView protected_bytes, r.ReadBytes("COSE_Sign1 protected header"));
  s.protected_header.assign(protected_bytes.begin(), protected_bytes.end());
  {
    // The protected header is itself encoded CBOR: a map that must name ES256 and nothing that
    // we would be required to understand ("crit").
    const std::string what = "COSE_Sign1 protected header";
    cbor::Reader ph(protected_bytes);
    bool have_alg = false;
    ET_RETURN_IF_ERROR(ReadHeaderMap(ph, what, true, [&](int64_t label) -> Result<bool> {
      if (label == kHeaderCrit)
        return Malformed(what + ": critical parameters (2) are not supported");
      if (label != kHeaderAlg) return false;
      const size_t at = ph.offset();
      ET_ASSIGN_OR_RETURN(cbor::Head head, ph.Next());
      if (head.kind == cbor::Kind::kText) {
        return Malformed(
            what + ": algorithm \"" +
            std::string(reinterpret_cast<const char*>(head.data.data()), head.data.size()) +
            "\" is not ES256 (-7)");
      }
      if (head.kind != cbor::Kind::kUint && head.kind != cbor::Kind::kNegint) {
        return Malformed(what + ": algorithm at byte " + std::to_string(at) + " is a " +
                         std::string(cbor::KindName(head.kind)));
      }
      if (head.kind != cbor::Kind::kNegint || head.value != 6) {
        // A negative integer n on the wire is -1 - n, i.e. -(n + 1).
        const std::string alg = head.kind == cbor::Kind::kUint ? std::to_string(head.value)
                                : head.value == UINT64_MAX     ? "-18446744073709551616"
                                                           : "-" + std::to_string(head.value + 1);
        return Malformed(what + ": algorithm " + alg + " is not ES256 (-7)");
      }
      have_alg = true;
      return true;
    }));
    ET_RETURN_IF_ERROR(ph.ExpectEnd(what));
    if (!have_alg) return Malformed(what + ": no algorithm (label 1)");
    s.alg = kCoseAlgEs256;
  }
  {
    // The unprotected header is not covered by the signature, so it may carry nothing but the
    // kid (which the verifier checks against its key): anything else would be unauthenticated
    // data riding along with authenticated evidence.
    const std::string what = "COSE_Sign1 unprotected header";
    ET_RETURN_IF_ERROR(ReadHeaderMap(r, what, false, [&](int64_t label) -> Result<bool> {
      if (label != kHeaderKid) {
        return Malformed(what + ": label " + std::to_string(label) +
                         " is not allowed (only kid, 4)");
      }
      ET_ASSIGN_OR_RETURN(ByteView kid, r.ReadBytes(what + ": kid (4)"));
      s.kid.assign(kid.begin(), kid.end());
      return true;
    }));
  }
  {
    const size_t at = r.offset();
    ET_ASSIGN_OR_RETURN(cbor::Head head, r.Next());
    if (head.kind == cbor::Kind::kNull) {
      return Malformed("COSE_Sign1: detached payloads are not supported");
    }
    if (head.kind != cbor::Kind::kBytes) {
      return Malformed("COSE_Sign1 payload: expected a byte string, got a " +
                       std::string(cbor::KindName(head.kind)) + " (at byte " + std::to_string(at) +
                       ")");
    }
    s.payload.assign(head.data.begin(), head.data.end());
  }
  ET_ASSIGN_OR_RETURN(ByteView signature, r.ReadBytes("COSE_Sign1 signature"));
  if (signature.size() != kEs256SignatureSize) {
    return Malformed("COSE_Sign1 signature is " + std::to_string(signature.size()) +
                     " bytes, ES256 signatures are 64");
  }
  s.signature.assign(signature.begin(), signature.end());
  ET_RETURN_IF_ERROR(r.ExpectEnd("COSE_Sign1"));
  return s;
}

Result<Bytes> EcdsaDerToRaw(ByteView der, size_t coordinate_size) {
  if (coordinate_size == 0 || coordinate_size > 66) {
    return Status(ErrorCode::kInvalidArgument, "ECDSA coordinate size must be 1 to 66 bytes");
  }
  const unsigned char* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size()) {
    ERR_clear_error();
    return Malformed("not a DER ECDSA signature");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes raw(2 * coordinate_size);
  const int size = static_cast<int>(coordinate_size);
  if (BN_is_negative(r) || BN_is_negative(s) || BN_bn2binpad(r, raw.data(), size) != size ||
      BN_bn2binpad(s, raw.data() + coordinate_size, size) != size) {
    ERR_clear_error();
    return Malformed("ECDSA signature values do not fit " + std::to_string(coordinate_size) +
                     " bytes");
  }
  return raw;
}

Result<Bytes> EcdsaRawToDer(ByteView raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 2 * 66) {
    return Malformed("a raw ECDSA signature is two equal halves r || s of at most 66 bytes each");
  }
  const int half = static_cast<int>(raw.size() / 2);
  BignumPtr r(BN_bin2bn(raw.data(), half, nullptr));
  BignumPtr s(BN_bin2bn(raw.data() + half, half, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return Status(ErrorCode::kInternal, OpensslError("cannot build an ECDSA signature"));
  }
  // ECDSA_SIG_set0 took ownership of both numbers.
  (void)r.release();
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0)
    return Status(ErrorCode::kInternal, OpensslError("cannot encode an ECDSA signature"));
  Bytes der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) {
    return Status(ErrorCode::kInternal, OpensslError("cannot encode an ECDSA signature"));
  }
  return der;
}

Result<Bytes> BuildEvidence(const EvidenceClaims& claims, ByteView kid, const DerSigner& sign) {
  if (!sign) return Status(ErrorCode::kInvalidArgument, "no signer for the evidence");
  Sign1 s;
  ET_ASSIGN_OR_RETURN(s.payload, EncodeClaims(claims));
  s.protected_header = ProtectedHeaderEs256();
  s.alg = kCoseAlgEs256;
  s.kid.assign(kid.begin(), kid.end());
  const Bytes tbs = SigStructure(s.protected_header, s.payload);
  ET_ASSIGN_OR_RETURN(Bytes der, sign(tbs));
  ET_ASSIGN_OR_RETURN(s.signature, EcdsaDerToRaw(der, 32));
  return EncodeSign1(s);
}

Bytes UeidFromPublicKeyDer(ByteView spki_der) {
  Digest256 digest = Sha256({spki_der});
  Bytes ueid;
  ueid.reserve(kUeidSize);
  ueid.push_back(kUeidTypeRand);
  ueid.insert(ueid.end(), digest.begin(), digest.end());
  return ueid;
}

}  // namespace edgetrust::attest
