// The tpm backend's sealing, counters, PCR mirror, attestation key, quote and capabilities
// (declared in tpm_backend_impl.h; key operations in tpm_backend.cc).
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <ctime>

#include "common/files.h"
#include "sd/crypto.h"
#include "sd/tpm/tpm_backend_impl.h"
#include "sd/tpm/tpm_keys.h"
#include "sd/tpm/tpm_templates.h"

namespace edgetrust::sd::tpm {
namespace {

uint64_t Now() { return static_cast<uint64_t>(::time(nullptr)); }

TPML_PCR_SELECTION MirrorSelection() {
  TPML_PCR_SELECTION sel{};
  sel.count = 1;
  sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
  sel.pcrSelections[0].sizeofSelect = 3;
  sel.pcrSelections[0].pcrSelect[kMirrorPcr / 8] = static_cast<BYTE>(1u << (kMirrorPcr % 8));
  return sel;
}

constexpr ESYS_TR kMirrorPcrHandle = ESYS_TR_PCR0 + kMirrorPcr;

// Four characters of a TPM property (manufacturer, vendor strings), printable only.
std::string PropertyText(UINT32 v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const char c = static_cast<char>((v >> shift) & 0xFF);
    if (c >= 0x20 && c < 0x7F) s.push_back(c);
  }
  return s;
}

}  // namespace

Status TpmBackend::InitServices(const StateDir& state) {
  device_ = ReadDevice();

  // Counters: their records in a folder of their own, the labels keyed by the state folder.
  ET_ASSIGN_OR_RETURN(SecretBytes record_key, state.DeriveKey("edgetrust-sd tpm counters v1"));
  ET_ASSIGN_OR_RETURN(SecretBytes label_key, state.DeriveKey("edgetrust-sd tpm counter labels v1"));
  ET_ASSIGN_OR_RETURN(counters_, TpmCounters::Open(*tpm_, state.path() + "/tpm-counters",
                                                   std::move(record_key), std::move(label_key)));

  // The sealing root: 32 bytes from the TPM's RNG kept as a sealed data object, unsealed once.
  bool created = false;
  auto seal = LoadOrCreateServiceObject(kSealRootName, KeyType::kAes256, SealedDataTemplate(),
                                        /*random_secret=*/true, &created);
  Status seal_status = seal.status();
  if (seal.ok()) {
    auto root = [&]() -> Result<SecretBytes> {
      ET_ASSIGN_OR_RETURN(Session s, tpm_->Acquire());
      ET_ASSIGN_OR_RETURN(Transient handle, LoadObject(s, *seal, "the sealing root"));
      return Unseal(s, handle.get());
    }();
    if (root.ok() && root->size() != kSymmetricKeySize) {
      seal_status = Status(ErrorCode::kTampered, "the sealing root has the wrong size");
    } else if (root.ok()) {
      sealing_root_ = std::move(*root);
      if (created) spdlog::info("event=seal-root-created backend=tpm");
    } else {
      seal_status = root.status();
    }
  }
  if (!seal_status.ok()) {
    if (seal_status.code() == ErrorCode::kUnavailable) return seal_status;
    seal_problem_ = "sealing unavailable: " + seal_status.message();
    AddNotice(seal_problem_);
  }

  // The attestation key: restricted ECDSA P-256 signing key, created once.
  created = false;
  auto ak = LoadOrCreateServiceObject(kAttestationKeyName, KeyType::kEcdsaP256,
                                      AttestationKeyTemplate(), /*random_secret=*/false, &created);
  if (ak.ok()) {
    auto pub = PublicKeyFromTpm(ak->pub.publicArea);
    const auto& attrs = ak->pub.publicArea.objectAttributes;
    if (!pub.ok() || (attrs & TPMA_OBJECT_RESTRICTED) == 0 ||
        (attrs & TPMA_OBJECT_SIGN_ENCRYPT) == 0) {
      ak_problem_ = "attestation key unusable: its record is not a restricted signing key";
    } else if (Status loads = [&]() -> Status {
                 // A blob another TPM wrapped does not load here: find out now, not at the
                 // first attestation.
                 ET_ASSIGN_OR_RETURN(Session s, tpm_->Acquire());
                 ET_ASSIGN_OR_RETURN(Transient handle, LoadObject(s, *ak, "the attestation key"));
                 return Status::Ok();
               }();
               !loads.ok()) {
      if (loads.code() == ErrorCode::kUnavailable) return loads;
      ak_problem_ = "attestation key unusable: " + loads.message();
    } else {
      ET_ASSIGN_OR_RETURN(ak_spki_, SpkiDer(pub->get()));
      ET_ASSIGN_OR_RETURN(ak_pem_, sd::PublicKeyPem(pub->get()));
      ak_ = *ak;
      has_ak_ = true;
      if (created) spdlog::info("event=attestation-key-created backend=tpm");
    }
  } else {
    if (ak.status().code() == ErrorCode::kUnavailable) return ak.status();
    ak_problem_ = "attestation key unusable: " + ak.status().message();
  }
  if (!ak_problem_.empty()) AddNotice(ak_problem_);

  // The PCR mirror: reset and read at start, replayed after every reconnection.
  return tpm_->SetConnectHook([this](Session& s, bool first) { return OnConnect(s, first); });
}

Result<WrappedKey> TpmBackend::LoadOrCreateServiceObject(std::string_view name, KeyType type,
                                                         const TPM2B_PUBLIC& templ,
                                                         bool random_secret, bool* created) {
  const std::string owner(kServiceOwner);
  auto loaded = store_->Load(owner, name);
  if (loaded.ok()) {
    if (loaded->first.type != type) {
      return Status(ErrorCode::kTampered,
                    "the record of " + std::string(name) + " has another type");
    }
    ET_ASSIGN_OR_RETURN(WrappedKey key, UnmarshalWrappedKey(loaded->second.view()));
    return key;
  }
  if (loaded.status().code() != ErrorCode::kNotFound) return loaded.status();
  WrappedKey key;
  {
    ET_ASSIGN_OR_RETURN(Session s, tpm_->Acquire());
    SecretBytes secret;
    if (random_secret) {
      ET_ASSIGN_OR_RETURN(secret, GetRandomOnce(s, kSymmetricKeySize));
      if (secret.size() != kSymmetricKeySize) {
        return Status(ErrorCode::kInternal, "TPM2_GetRandom gave too few bytes");
      }
    }
    ET_ASSIGN_OR_RETURN(key, CreateObject(s, templ, secret.view()));
  }
  ET_ASSIGN_OR_RETURN(Bytes material, MarshalWrappedKey(key));
  ET_RETURN_IF_ERROR(
      store_->Create(ObjectHeader{owner, std::string(name), type, Now(), 0}, material));
  *created = true;
  return key;
}

std::string TpmBackend::ReadDevice() {
  auto s = tpm_->Acquire();
  if (!s.ok()) return "TPM 2.0 via " + tpm_->tcti();
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* data = nullptr;
  TSS2_RC rc = Esys_GetCapability(s->esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MANUFACTURER, 8, &more, &data);
  EsysPtr<TPMS_CAPABILITY_DATA> caps(data);
  if (!s->Check(rc, "TPM2_GetCapability").ok()) return "TPM 2.0 via " + tpm_->tcti();
  std::string manufacturer, vendor;
  UINT32 fw1 = 0, fw2 = 0;
  for (UINT32 i = 0; i < caps->data.tpmProperties.count; ++i) {
    const auto& p = caps->data.tpmProperties.tpmProperty[i];
    switch (p.property) {
      case TPM2_PT_MANUFACTURER:
        manufacturer = PropertyText(p.value);
        break;
      case TPM2_PT_VENDOR_STRING_1:
      case TPM2_PT_VENDOR_STRING_2:
      case TPM2_PT_VENDOR_STRING_3:
      case TPM2_PT_VENDOR_STRING_4:
        vendor += PropertyText(p.value);
        break;
      case TPM2_PT_FIRMWARE_VERSION_1:
        fw1 = p.value;
        break;
      case TPM2_PT_FIRMWARE_VERSION_2:
        fw2 = p.value;
        break;
      default:
        break;
    }
  }
  // Vendor strings are padded with spaces; the firmware version's meaning is the vendor's, shown
  // as its two 32-bit words in hex halves (swtpm: 2019.1023.16.3636).
  std::string name;
  for (char c : manufacturer + " " + vendor) {
    if (c != ' ' || (!name.empty() && name.back() != ' ')) name.push_back(c);
  }
  while (!name.empty() && name.back() == ' ') name.pop_back();
  char fw[48];
  std::snprintf(fw, sizeof fw, "%x.%x.%x.%x", fw1 >> 16, fw1 & 0xFFFF, fw2 >> 16, fw2 & 0xFFFF);
  return "TPM 2.0 " + name + " firmware " + fw + " via " + tpm_->tcti();
}

void TpmBackend::AddNotice(std::string notice) {
  std::lock_guard lock(notices_mu_);
  notices_.push_back(std::move(notice));
}

std::vector<std::string> TpmBackend::Notices() const {
  std::vector<std::string> out;
  {
    std::lock_guard lock(notices_mu_);
    out = notices_;
  }
  for (auto& n : counters_->notices()) out.push_back(std::move(n));
  return out;
}

std::vector<Feature> TpmBackend::Features() const {
  return {
      {"sign", true, "TPM2_Sign (the message hashed in the daemon)"},
      {"aead", false,
       "AES-256-GCM in the daemon; the key is a TPM sealed object, unsealed on first use"},
      {"mac", true, "TPM2_HMAC"},
      {"derive", false,
       "HKDF-SHA256 in the daemon (hmac base: extract by TPM2_HMAC); result imported into the TPM"},
      {"ecdh", true, "TPM2_ECDH_ZGen, then HKDF-SHA256 in the daemon"},
      {"random", true, "TPM2_GetRandom"},
      {"seal", false, "AES-256-GCM in the daemon under a sealing root kept as a TPM sealed object"},
      {"counter", true, "TPM NV counters"},
      {"registers", false, "daemon registers, mirrored into PCR 23"},
      {"attest", true, "restricted TPM attestation key (TPM2_Sign with a hash ticket)"},
      {"quote", true, "TPM2_Quote over PCR 23"},
  };
}

StartupAudit TpmBackend::Audit() {
  StartupAudit audit;
  for (ObjectStore* store : {store_.get(), &counters_->store()}) {
    audit.removed_temporaries += RemoveStaleTemporaries(store->dir());
    auto scan = store->Scan();
    if (!scan.ok()) {
      audit.problems.push_back(scan.status().message());
      continue;
    }
    for (const auto& e : *scan) {
      if (e.authentic) {
        ++audit.authentic;
      } else {
        audit.problems.push_back((store == store_.get() ? "" : "counter record ") + e.file + ": " +
                                 e.problem);
      }
    }
  }
  return audit;
}

// --- Sealing

Result<SecretBytes> TpmBackend::SealingKey(std::string_view owner) const {
  if (sealing_root_.empty()) return Status(ErrorCode::kTampered, seal_problem_);
  return HkdfSha256(sealing_root_.view(), ByteView{}, AsBytes(owner), kSymmetricKeySize);
}

Result<Bytes> TpmBackend::SealData(std::string_view owner, ByteView plaintext, ByteView aad) {
  ET_ASSIGN_OR_RETURN(SecretBytes key, SealingKey(owner));
  return AeadSeal(key, plaintext, aad);
}

Result<SecretBytes> TpmBackend::UnsealData(std::string_view owner, ByteView sealed, ByteView aad) {
  ET_ASSIGN_OR_RETURN(SecretBytes key, SealingKey(owner));
  auto plain = AeadOpen(key, sealed, aad);
  if (!plain.ok()) {
    return Status(ErrorCode::kTampered,
                  "the sealed blob failed authentication: it was altered, or sealed by another "
                  "secure domain (another TPM or state folder)");
  }
  return plain;
}

// --- Counters

Result<uint64_t> TpmBackend::CounterCreate(const KeyId& id) { return counters_->Create(id, Now()); }
Result<uint64_t> TpmBackend::CounterIncrement(const KeyId& id) { return counters_->Increment(id); }
Result<uint64_t> TpmBackend::CounterRead(const KeyId& id) { return counters_->Read(id); }

// --- Attestation key

Result<Bytes> TpmBackend::AttestationSign(ByteView to_be_signed) {
  if (!has_ak_) return Status(ErrorCode::kTampered, ak_problem_);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ET_ASSIGN_OR_RETURN(
      EsysPtr<TPMT_SIGNATURE> sig, tpm_->Run([&](Session& s) -> Result<EsysPtr<TPMT_SIGNATURE>> {
        // A restricted key signs only digests the TPM computed itself: a hash sequence gives the
        // digest and the ticket that proves it (the sequence is gone before the key is loaded).
        ET_ASSIGN_OR_RETURN(TicketedDigest td, HashWithTicket(s, to_be_signed));
        ET_ASSIGN_OR_RETURN(Transient ak, LoadObject(s, ak_, "the attestation key"));
        return SignDigest(s, ak.get(), ByteView(td.digest.buffer, td.digest.size), scheme,
                          &td.ticket);
      }));
  if (sig->sigAlg != TPM2_ALG_ECDSA) {
    return Status(ErrorCode::kInternal, "the attestation key gave a non-ECDSA signature");
  }
  return EcdsaSignatureDer(sig->signature.ecdsa);
}

// --- PCR mirror

Result<Digest256> TpmBackend::ReadMirrorPcr(Session& s) {
  TPML_PCR_SELECTION sel = MirrorSelection();
  UINT32 update_counter = 0;
  TPML_PCR_SELECTION* sel_out = nullptr;
  TPML_DIGEST* values = nullptr;
  TSS2_RC rc = Esys_PCR_Read(s.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
                             &update_counter, &sel_out, &values);
  EsysPtr<TPML_PCR_SELECTION> so(sel_out);
  EsysPtr<TPML_DIGEST> v(values);
  ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_PCR_Read"));
  if (v->count != 1 || v->digests[0].size != 32) {
    return Status(ErrorCode::kUnsupported,
                  "the TPM has no SHA-256 PCR " + std::to_string(kMirrorPcr));
  }
  Digest256 out;
  std::memcpy(out.data(), v->digests[0].buffer, 32);
  return out;
}

namespace {
Status ExtendMirrorPcr(Session& s, const Digest256& d) {
  TPML_DIGEST_VALUES values{};
  values.count = 1;
  values.digests[0].hashAlg = TPM2_ALG_SHA256;
  std::memcpy(values.digests[0].digest.sha256, d.data(), d.size());
  return s.Check(Esys_PCR_Extend(s.esys(), kMirrorPcrHandle, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &values),
                 "TPM2_PCR_Extend");
}
}  // namespace

Status TpmBackend::SyncMirror(Session& s, bool force_reset) {
  if (!force_reset) {
    ET_ASSIGN_OR_RETURN(Digest256 current, ReadMirrorPcr(s));
    Digest256 expected = pcr_base_;
    for (const auto& d : mirror_) expected = ExtendRegisterValue(expected, d);
    if (current == expected) return Status::Ok();
  }
  // PCR 23 is resettable at locality 0: start it over and extend every mirrored event again.
  Status reset = s.Check(
      Esys_PCR_Reset(s.esys(), kMirrorPcrHandle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE),
      "TPM2_PCR_Reset");
  if (reset.code() == ErrorCode::kUnavailable) return reset;
  ET_ASSIGN_OR_RETURN(pcr_base_, ReadMirrorPcr(s));
  for (const auto& d : mirror_) ET_RETURN_IF_ERROR(ExtendMirrorPcr(s, d));
  if (!reset.ok()) {
    std::string notice = "PCR " + std::to_string(kMirrorPcr) +
                         " could not be reset; the mirror continues from its current value (" +
                         reset.message() + ")";
    spdlog::warn("event=notice {}", notice);
    AddNotice(std::move(notice));
  }
  return Status::Ok();
}

Status TpmBackend::OnConnect(Session& s, bool first) {
  if (first || !mirror_started_) {
    Status st = SyncMirror(s, /*force_reset=*/true);
    if (st.ok()) mirror_started_ = true;
    return st;
  }
  ET_ASSIGN_OR_RETURN(Digest256 current, ReadMirrorPcr(s));
  Digest256 expected = pcr_base_;
  for (const auto& d : mirror_) expected = ExtendRegisterValue(expected, d);
  if (current == expected) {
    spdlog::info("event=tpm-reconnected tcti={} mirror=intact", tpm_->tcti());
    return Status::Ok();
  }
  ET_RETURN_IF_ERROR(SyncMirror(s, /*force_reset=*/true));
  std::string notice = "TPM was reset (PCR " + std::to_string(kMirrorPcr) +
                       " no longer held the mirror); PCR mirror replayed (" +
                       std::to_string(mirror_.size()) + " events)";
  spdlog::warn("event=notice {}", notice);
  AddNotice(std::move(notice));
  return Status::Ok();
}

Status TpmBackend::MirrorExtend(uint32_t index, const Digest256& digest) {
  const Digest256 d = PcrMirrorDigest(index, digest);
  // Safe to run again after a reconnection: an extension that reached the TPM before the
  // connection broke makes PCR 23 disagree with the list, and the reconnection replays it.
  return tpm_->Run([&](Session& s) -> Status {
    ET_RETURN_IF_ERROR(ExtendMirrorPcr(s, d));
    mirror_.push_back(d);
    return Status::Ok();
  });
}

// --- Quote

Result<std::optional<PlatformQuote>> TpmBackend::Quote(ByteView nonce) {
  if (!has_ak_) return Status(ErrorCode::kUnavailable, ak_problem_);
  TPM2B_DATA qualifying{};
  if (nonce.size() > sizeof qualifying.buffer) {
    return Status(ErrorCode::kInvalidArgument, "a TPM quote takes a nonce of at most " +
                                                   std::to_string(sizeof qualifying.buffer) +
                                                   " bytes");
  }
  qualifying.size = static_cast<UINT16>(nonce.size());
  if (!nonce.empty()) std::memcpy(qualifying.buffer, nonce.data(), nonce.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDSA;
  scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  TPML_PCR_SELECTION sel = MirrorSelection();

  PlatformQuote q;
  TPML_DIGEST pcr_values{};
  EsysPtr<TPM2B_ATTEST> quoted;
  EsysPtr<TPMT_SIGNATURE> sig;
  Status quote_status = tpm_->Run([&](Session& s) -> Status {
    // Someone with raw TPM access may have extended or reset PCR 23: make it the mirror again.
    ET_RETURN_IF_ERROR(SyncMirror(s, /*force_reset=*/false));
    ET_ASSIGN_OR_RETURN(Transient ak, LoadObject(s, ak_, "the attestation key"));
    TPM2B_ATTEST* attest = nullptr;
    TPMT_SIGNATURE* signature = nullptr;
    TSS2_RC rc = Esys_Quote(s.esys(), ak.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                            &qualifying, &scheme, &sel, &attest, &signature);
    quoted.reset(attest);
    sig.reset(signature);
    ET_RETURN_IF_ERROR(s.Check(rc, "TPM2_Quote"));
    ET_ASSIGN_OR_RETURN(Digest256 value, ReadMirrorPcr(s));
    pcr_values.count = 1;
    pcr_values.digests[0].size = 32;
    std::memcpy(pcr_values.digests[0].buffer, value.data(), 32);
    q.pcr_base = pcr_base_;
    return Status::Ok();
  });
  if (!quote_status.ok()) return quote_status;
  q.attest.assign(quoted->attestationData, quoted->attestationData + quoted->size);
  ET_ASSIGN_OR_RETURN(q.signature, MarshalSignature(*sig));
  q.pcrs = SerializePcrFile(sel, pcr_values);
  q.pcr_index = kMirrorPcr;
  q.ak_pem = ak_pem_;
  return std::optional<PlatformQuote>(std::move(q));
}

}  // namespace edgetrust::sd::tpm
