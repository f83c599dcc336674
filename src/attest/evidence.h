// Producing and parsing the secure domain's evidence: EAT claims (RFC 9711) in a COSE_Sign1
// (RFC 9052) signed ES256. The daemon builds evidence with BuildEvidence(); the verifier
// (edgetrust/attestation.h) parses it with DecodeSign1() and DecodeClaims(). All CBOR goes
// through libcbor; everything this file writes is deterministic CBOR (RFC 8949 section 4.2.1):
// definite lengths, smallest integer encodings, map keys in the order documented in
// docs/attestation.md.
//
// Thread safety: free functions without shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "edgetrust/attestation.h"
#include "edgetrust/secret.h"
#include "edgetrust/status.h"

namespace edgetrust::attest {

// Claim keys (RFC 9711 and the CWT registry) and our private-use claims (keys below -65536).
inline constexpr int64_t kClaimIat = 6;
inline constexpr int64_t kClaimNonce = 10;
inline constexpr int64_t kClaimUeid = 256;
inline constexpr int64_t kClaimUptime = 261;
inline constexpr int64_t kClaimDbgstat = 263;
inline constexpr int64_t kClaimProfile = 265;
inline constexpr int64_t kClaimBootseed = 268;
inline constexpr int64_t kClaimSwname = 270;
inline constexpr int64_t kClaimMeasurements = 273;
inline constexpr int64_t kClaimBackend = -70001;
inline constexpr int64_t kClaimLogDigest = -70002;
inline constexpr int64_t kClaimLogCount = -70003;
inline constexpr int64_t kClaimRequester = -70004;
inline constexpr int64_t kClaimEmulated = -70005;
// Optional: [attest bstr, signature bstr, pcr uint, pcr_base bstr(32)], the last claim when
// present.
inline constexpr int64_t kClaimTpmQuote = -70006;
// Upper bound on each of the quote's byte strings (a TPMS_ATTEST or TPMT_SIGNATURE is < 1 KiB).
inline constexpr size_t kMaxQuotePart = 4096;

// The measurements claim holds one entry [kRegistersContentFormat, bstr]: the bstr is the
// deterministic CBOR array of the kRegisterCount register values (bstr of 32 each), in index
// order. 65100 is in CoAP's experimental Content-Format range.
inline constexpr uint64_t kRegistersContentFormat = 65100;
inline constexpr std::string_view kProfile = "tag:edgetrust.dev,2026:eat-profile-v1";
inline constexpr int64_t kCoseAlgEs256 = -7;
inline constexpr uint64_t kCoseSign1Tag = 18;
// Upper bound on an evidence we accept for parsing (ours are about 1 KiB).
inline constexpr size_t kMaxEvidenceSize = 64 * 1024;

Result<Bytes> EncodeClaims(const EvidenceClaims& claims);
// Strict: a definite-length map with integer keys; every claim of EvidenceClaims present with the
// right type and size; unknown claims are ignored (RFC 9711 says so).
Result<EvidenceClaims> DecodeClaims(ByteView payload);

struct Sign1 {
  Bytes protected_header;  // the bstr's content, as signed
  int64_t alg = 0;         // from the protected header
  Bytes kid;               // unprotected header label 4, may be empty
  Bytes payload;
  Bytes signature;  // raw r || s (64 bytes for ES256)
};
// The protected header {1: -7}, encoded.
Bytes ProtectedHeaderEs256();
// Sig_structure = ["Signature1", protected, h'', payload], encoded: what ES256 signs.
Bytes SigStructure(ByteView protected_header, ByteView payload);
// Tag 18 [protected bstr, {4: kid} (or {} when kid is empty), payload bstr, signature bstr].
Bytes EncodeSign1(const Sign1& sign1);
// kMalformed naming what is wrong; at most kMaxEvidenceSize bytes.
Result<Sign1> DecodeSign1(ByteView evidence);

// ECDSA signature forms: DER (OpenSSL) <-> raw r || s of `coordinate_size` bytes each (COSE).
Result<Bytes> EcdsaDerToRaw(ByteView der, size_t coordinate_size);
Result<Bytes> EcdsaRawToDer(ByteView raw);

// Signs SHA-256 ECDSA over `to_be_signed` with the attestation key; returns DER.
using DerSigner = std::function<Result<Bytes>(ByteView to_be_signed)>;
// Encodes the claims, signs the Sig_structure and returns the tagged COSE_Sign1.
Result<Bytes> BuildEvidence(const EvidenceClaims& claims, ByteView kid, const DerSigner& sign);

// UEID of a device from its attestation public key: 0x01 | SHA-256(SubjectPublicKeyInfo DER).
Bytes UeidFromPublicKeyDer(ByteView spki_der);

}  // namespace edgetrust::attest
