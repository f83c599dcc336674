// The pkcs11 backend's sealing, counters, attestation key and capability reports
// (pkcs11_backend_impl.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "common/files.h"
#include "sd/crypto.h"
#include "sd/pkcs11/pkcs11_backend_impl.h"
#include "sd/pkcs11/pkcs11_encoding.h"

namespace edgetrust::sd::pkcs11 {
namespace {

uint64_t Now() { return static_cast<uint64_t>(::time(nullptr)); }

// What the counters' key is computed from: HMAC-SHA256 on the token with its counters key.
constexpr std::string_view kCounterKeyInput = "edgetrust-sd pkcs11 counter store key v1";

// At most 256 characters: what `edgetrust info` shows of it.
constexpr std::string_view kCounterProtection =
    "pkcs11: the token has no counter; the daemon keeps two authenticated copies under a key "
    "only this token computes: a restore, deletion or corruption of one is detected and "
    "repaired; restoring both (or the whole state folder) is not detected";

// The AEAD's associated data of a sealed blob: a purpose label, then the owner, length-prefixed,
// then the caller's associated data. One token key seals for every principal; binding the owner
// here is what makes another principal's blob fail authentication.
Bytes SealAad(std::string_view owner, ByteView aad) {
  static constexpr std::string_view kLabel = "edgetrust-sd pkcs11 seal v1";
  Bytes out(kLabel.begin(), kLabel.end());
  out.push_back(0);
  out.push_back(static_cast<uint8_t>(owner.size() >> 8));
  out.push_back(static_cast<uint8_t>(owner.size() & 0xff));
  out.insert(out.end(), owner.begin(), owner.end());
  out.insert(out.end(), aad.begin(), aad.end());
  return out;
}

}  // namespace

Result<Pkcs11Backend::KeyPtr> Pkcs11Backend::EnsureServiceKey(std::string_view name, KeyType type) {
  const KeyId id{std::string(kServiceOwner), std::string(name)};
  {
    ET_ASSIGN_OR_RETURN(Session s, token_->Borrow());
    auto loaded = Load(s, id);
    if (loaded.ok()) {
      if ((*loaded)->meta.type != type) {
        return Status(ErrorCode::kTampered, "the " + std::string(name) + " key record is not an " +
                                                std::string(KeyTypeName(type)) + " key");
      }
      return loaded;
    }
    if (loaded.status().code() != ErrorCode::kNotFound) return loaded.status();
  }
  // First start with this state folder: create it (no session held, CreateKey borrows its own).
  ET_RETURN_IF_ERROR(CreateKey(id, type).status());
  spdlog::info("event=pkcs11-service-key-created name={} type={} token=\"{}\"", name,
               KeyTypeName(type), token_->info().label);
  ET_ASSIGN_OR_RETURN(Session s, token_->Borrow());
  return Load(s, id);
}

Status Pkcs11Backend::InitServices(const StateDir& state) {
  // A token that goes away or refuses us during start-up fails the start; a service key that is
  // missing or damaged only disables its service, said on every call and in Notices().
  auto fatal = [](const Status& st) {
    return st.code() == ErrorCode::kUnavailable || st.code() == ErrorCode::kPermissionDenied;
  };

  auto attestation = EnsureServiceKey(kAttestationKeyName, KeyType::kEcdsaP256);
  if (attestation.ok()) {
    ET_ASSIGN_OR_RETURN(attestation_spki_, SpkiDer((*attestation)->public_key.get()));
  } else if (fatal(attestation.status())) {
    return attestation.status();
  } else {
    attestation_problem_ = "attestation key unusable: " + attestation.status().message();
  }

  auto sealing = EnsureServiceKey(kSealingKeyName, KeyType::kAes256);
  if (!sealing.ok()) {
    if (fatal(sealing.status())) return sealing.status();
    seal_problem_ = "sealing key unusable: " + sealing.status().message();
  }

  auto counter_key = [&]() -> Result<SecretBytes> {
    ET_ASSIGN_OR_RETURN(KeyPtr k, EnsureServiceKey(kCounterKeyName, KeyType::kHmacSha256));
    ET_ASSIGN_OR_RETURN(Session s, token_->Borrow());
    ET_ASSIGN_OR_RETURN(Bytes mac,
                        token_->HmacSha256(s, k->handles.key, AsBytes(kCounterKeyInput)));
    SecretBytes key(mac);
    std::fill(mac.begin(), mac.end(), 0);
    return key;
  }();
  if (counter_key.ok()) {
    ET_ASSIGN_OR_RETURN(counters_,
                        CounterStore::Open(state.path(), std::move(counter_key).value()));
  } else if (fatal(counter_key.status())) {
    return counter_key.status();
  } else {
    counter_problem_ = "counter key unusable: " + counter_key.status().message();
  }

  const TokenInfo& info = token_->info();
  if (info.software) {
    notices_.push_back("token \"" + info.label + "\" is " + info.manufacturer + " " + info.model +
                       ", a software token: its keys are files protected by the PIN, not by "
                       "secure hardware");
  }
  for (const std::string* p : {&attestation_problem_, &seal_problem_, &counter_problem_}) {
    if (!p->empty()) notices_.push_back(*p);
  }
  return Status::Ok();
}

// --- Sealing -----------------------------------------------------------------------------------

Result<Bytes> Pkcs11Backend::SealData(std::string_view owner, ByteView plaintext, ByteView aad) {
  if (!seal_problem_.empty()) return Status(ErrorCode::kFailedPrecondition, seal_problem_);
  const Bytes ad = SealAad(owner, aad);
  return WithKey<Bytes>(KeyId{std::string(kServiceOwner), std::string(kSealingKeyName)}, false,
                        "seal", [&](Session& s, const LoadedKey& k) -> Result<Bytes> {
                          return token_->GcmSeal(s, k.handles.key, plaintext, ad);
                        });
}

Result<SecretBytes> Pkcs11Backend::UnsealData(std::string_view owner, ByteView sealed,
                                              ByteView aad) {
  if (!seal_problem_.empty()) return Status(ErrorCode::kFailedPrecondition, seal_problem_);
  const Bytes ad = SealAad(owner, aad);
  auto plain =
      WithKey<SecretBytes>(KeyId{std::string(kServiceOwner), std::string(kSealingKeyName)}, false,
                           "unseal", [&](Session& s, const LoadedKey& k) -> Result<SecretBytes> {
                             return token_->GcmOpen(s, k.handles.key, sealed, ad);
                           });
  if (!plain.ok() && (plain.status().code() == ErrorCode::kVerifyFailed ||
                      plain.status().code() == ErrorCode::kInvalidArgument)) {
    return Status(ErrorCode::kTampered,
                  "the sealed blob failed authentication: it was altered, or sealed by another "
                  "secure domain");
  }
  return plain;
}

// --- Counters ----------------------------------------------------------------------------------

Result<uint64_t> Pkcs11Backend::CounterCreate(const KeyId& id) {
  if (!counters_) return Status(ErrorCode::kFailedPrecondition, counter_problem_);
  return counters_->Create(id.owner, id.name, Now());
}

Result<uint64_t> Pkcs11Backend::CounterIncrement(const KeyId& id) {
  if (!counters_) return Status(ErrorCode::kFailedPrecondition, counter_problem_);
  return counters_->Increment(id.owner, id.name);
}

Result<uint64_t> Pkcs11Backend::CounterRead(const KeyId& id) {
  if (!counters_) return Status(ErrorCode::kFailedPrecondition, counter_problem_);
  return counters_->Read(id.owner, id.name);
}

std::string_view Pkcs11Backend::CounterProtection() const { return kCounterProtection; }

std::vector<std::string> Pkcs11Backend::Notices() const {
  std::vector<std::string> out = notices_;
  if (counters_) {
    for (auto& n : counters_->notices()) out.push_back(std::move(n));
  }
  return out;
}

// --- Attestation -------------------------------------------------------------------------------

Result<Bytes> Pkcs11Backend::AttestationSign(ByteView to_be_signed) {
  if (!attestation_problem_.empty()) return Status(ErrorCode::kTampered, attestation_problem_);
  ET_ASSIGN_OR_RETURN(Bytes digest, HashFor(SignAlgorithm::kEcdsaSha256, to_be_signed));
  return WithKey<Bytes>(KeyId{std::string(kServiceOwner), std::string(kAttestationKeyName)}, true,
                        "attest", [&](Session& s, const LoadedKey& k) -> Result<Bytes> {
                          return token_->SignDigest(s, k.handles.key, SignAlgorithm::kEcdsaSha256,
                                                    digest);
                        });
}

// --- Reports -----------------------------------------------------------------------------------

std::vector<Feature> Pkcs11Backend::Features() const {
  const Token& t = *token_;
  auto unless = [](bool ok, std::string how, const char* missing) {
    return ok ? how : std::string("unavailable: the token lacks ") + missing;
  };
  const bool hkdf = t.Has(CKM_SHA256);
  const bool ecdh = t.Has(CKM_ECDH1_DERIVE) && hkdf;
  std::vector<Feature> out = {
      {"sign", true, "C_Sign on the token (CKM_ECDSA, CKM_RSA_PKCS_PSS, CKM_RSA_PKCS, CKM_EDDSA)"},
      {"aead", t.Has(CKM_AES_GCM),
       unless(t.Has(CKM_AES_GCM), "CKM_AES_GCM on the token", "CKM_AES_GCM")},
      {"mac", t.Has(CKM_SHA256_HMAC),
       unless(t.Has(CKM_SHA256_HMAC), "CKM_SHA256_HMAC on the token", "CKM_SHA256_HMAC")},
      {"derive", false,
       unless(hkdf,
              "HKDF-SHA256: the token hashes the base key (C_DigestKey), the daemon finishes; "
              "result stored as a token key",
              "CKM_SHA256")},
      {"ecdh", false,
       unless(ecdh,
              "CKM_ECDH1_DERIVE on the token, then HKDF as for derive; result stored as a token "
              "key",
              "CKM_ECDH1_DERIVE")},
      {"random", true, "C_GenerateRandom"},
      {"seal", seal_problem_.empty(),
       seal_problem_.empty() ? "CKM_AES_GCM with a token key, the owner bound in the AAD"
                             : seal_problem_},
      {"counter", false,
       counters_ ? "daemon counter store, its key computed by a token HMAC key" : counter_problem_},
      {"registers", false, "daemon register bank (the token has none)"},
      {"attest", attestation_problem_.empty(),
       attestation_problem_.empty() ? "ECDSA P-256 key on the token (CKM_ECDSA)"
                                    : attestation_problem_},
  };
  return out;
}

std::string Pkcs11Backend::Device() const {
  const TokenInfo& i = token_->info();
  std::string out = "token \"" + i.label + "\" (" + i.manufacturer + " " + i.model + ", serial " +
                    i.serial + ") via " + i.library;
  if (i.software) out += "; software token, no secure hardware";
  return out;
}

StartupAudit Pkcs11Backend::Audit() {
  StartupAudit audit;
  audit.removed_temporaries = RemoveStaleTemporaries(store_->dir());
  auto scan = store_->Scan();
  if (!scan.ok()) {
    audit.problems.push_back(scan.status().message());
    return audit;
  }
  std::vector<std::string> missing;
  {
    auto session = token_->Borrow();
    if (!session.ok()) {
      audit.problems.push_back("token objects not checked: " + session.status().message());
    } else {
      auto ids = token_->KeyIds(*session);
      if (ids.ok()) {
        missing = MissingObjects(*scan, *ids);
      } else {
        audit.problems.push_back("token objects not checked: " + ids.status().message());
      }
    }
  }
  for (const auto& e : *scan) {
    if (!e.authentic) {
      audit.problems.push_back(e.file + ": " + e.problem);
    } else if (std::find(missing.begin(), missing.end(), e.file) != missing.end()) {
      audit.problems.push_back(e.file + ": its object is gone from token \"" +
                               token_->info().label + "\"");
    } else {
      ++audit.authentic;
    }
  }
  return audit;
}

}  // namespace edgetrust::sd::pkcs11
