// EvidenceVerifier: signature, nonce, event-log replay and reference values
// (edgetrust/attestation.h, docs/attestation.md "Verification").
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <ctime>
#include <string>
#include <utility>

#include "attest/evidence.h"
#include "attest/sha256.h"
#include "attest/tpm_quote.h"
#include "common/hex.h"
#include "common/openssl_ptr.h"
#include "edgetrust/attestation.h"

namespace edgetrust {
namespace {

// How far iat may be ahead of the verifier's clock before the evidence counts as from the future.
constexpr uint64_t kClockSkewSeconds = 60;
// A PEM public key of any kind is a few KiB at most; refuse to hand OpenSSL anything far bigger.
constexpr size_t kMaxPemSize = 64 * 1024;

std::string Hex(const Digest256& d) { return HexEncode(d); }

void CheckLog(const EvidenceClaims& c, const std::vector<LogEvent>& log, Verdict& v) {
  auto replay = ReplayLog(log);
  if (!replay.ok()) {
    v.failures.push_back("event log does not replay: " + replay.status().message());
    return;
  }
  for (size_t i = 0; i < kRegisterCount; ++i) {
    if (replay->registers[i] != c.registers[i]) {
      v.failures.push_back("register " + std::to_string(i) + ": the event log replays to " +
                           Hex(replay->registers[i]) + " but the evidence says " +
                           Hex(c.registers[i]));
    }
  }
  if (replay->log_digest != c.log_digest) {
    v.failures.push_back("event log digest " + Hex(replay->log_digest) +
                         " does not match the evidence's " + Hex(c.log_digest));
  }
  if (replay->count != c.log_count) {
    v.failures.push_back("event log has " + std::to_string(replay->count) +
                         " events but the evidence counts " + std::to_string(c.log_count));
  }
  v.notes.push_back("log replayed: " + std::to_string(replay->count) + " events");
}

// Every logged event of an exclusive register must be one of the reference's events (register
// and digest; descriptions may differ, e.g. after a re-extension by a remediation).
void CheckExclusive(const std::vector<LogEvent>& log, const ReferenceValues& ref, Verdict& v) {
  for (const auto& l : log) {
    if (std::find(ref.exclusive_registers.begin(), ref.exclusive_registers.end(),
                  l.register_index) == ref.exclusive_registers.end()) {
      continue;
    }
    const bool listed = std::any_of(ref.events.begin(), ref.events.end(), [&](const auto& e) {
      return e.register_index == l.register_index && e.digest == l.digest;
    });
    if (!listed) {
      v.failures.push_back("register " + std::to_string(l.register_index) + ": event " +
                           std::to_string(l.seq) + " (" + Hex(l.digest) + ", \"" + l.description +
                           "\") is not in the reference");
    }
  }
}

void CheckReference(const EvidenceClaims& c, const std::vector<LogEvent>* log,
                    const ReferenceValues& ref, uint64_t now, Verdict& v) {
  if (c.emulated && !ref.allow_emulated) {
    v.failures.push_back(
        "backend is emulated (no secure hardware); the reference does not allow emulated "
        "evidence");
  }
  if (ref.max_age_seconds) {
    if (now > c.iat && now - c.iat > *ref.max_age_seconds) {
      v.failures.push_back("evidence is too old: issued " + std::to_string(now - c.iat) +
                           " s ago, max_age_seconds is " + std::to_string(*ref.max_age_seconds));
    } else if (c.iat > now && c.iat - now > kClockSkewSeconds) {
      v.failures.push_back("evidence is issued " + std::to_string(c.iat - now) +
                           " s in the future (more than " + std::to_string(kClockSkewSeconds) +
                           " s ahead of this clock)");
    }
  }
  for (const auto& [index, expected] : ref.registers) {
    if (index >= kRegisterCount) {
      v.failures.push_back("reference names register " + std::to_string(index) +
                           ", registers are 0 to " + std::to_string(kRegisterCount - 1));
    } else if (c.registers[index] != expected) {
      v.failures.push_back("register " + std::to_string(index) + " is " + Hex(c.registers[index]) +
                           ", the reference expects " + Hex(expected));
    }
  }
  if (ref.events.empty() && ref.exclusive_registers.empty()) return;
  if (log == nullptr) {
    v.failures.push_back(ref.events.empty()
                             ? "reference lists exclusive registers but no event log was given"
                             : "reference lists events but no event log was given");
    return;
  }
  CheckExclusive(*log, ref, v);
  for (const auto& e : ref.events) {
    const bool found = std::any_of(log->begin(), log->end(), [&](const LogEvent& l) {
      return l.register_index == e.register_index && l.digest == e.digest &&
             (!e.description || l.description == *e.description);
    });
    if (!found) {
      std::string what = "expected event not in the log: register " +
                         std::to_string(e.register_index) + ", digest " + Hex(e.digest);
      if (e.description) what += ", event \"" + *e.description + "\"";
      v.failures.push_back(what);
    }
  }
}

}  // namespace

class EvidenceVerifier::Impl {
 public:
  Impl(EvpPkeyPtr key, EvpPkeyCtxPtr verify_template, const Digest256& kid)
      : key_(std::move(key)), verify_template_(std::move(verify_template)), kid_(kid) {}

  // The kid the daemon puts in the unprotected header: SHA-256 of the key's SubjectPublicKeyInfo.
  const Digest256& kid() const { return kid_; }

  // ES256 over `tbs` with the raw r || s signature.
  bool VerifySignature(ByteView tbs, ByteView raw_signature) const {
    auto der = attest::EcdsaRawToDer(raw_signature);
    if (!der.ok()) return false;
    const Digest256 digest = attest::Sha256({tbs});
    // Copying the context initialised in Create() costs a fraction of a microsecond; setting up
    // a new one (fetching the algorithm, binding the key) costs several, at 10k verifications a
    // second that matters. The template is only read, so concurrent copies are safe.
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_dup(verify_template_.get()));
    if (!ctx) ctx = NewVerifyContext(key_.get());
    const bool ok = ctx && EVP_PKEY_verify(ctx.get(), der->data(), der->size(), digest.data(),
                                           digest.size()) == 1;
    ERR_clear_error();
    return ok;
  }

  // A context ready for EVP_PKEY_verify of a SHA-256 digest with `key`, or null.
  static EvpPkeyCtxPtr NewVerifyContext(EVP_PKEY* key) {
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
    if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx.get(), attest::Sha256Md()) != 1) {
      return nullptr;
    }
    return ctx;
  }

 private:
  EvpPkeyPtr key_;
  EvpPkeyCtxPtr verify_template_;
  Digest256 kid_;
};

EvidenceVerifier::EvidenceVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EvidenceVerifier::~EvidenceVerifier() = default;
EvidenceVerifier::EvidenceVerifier(EvidenceVerifier&&) noexcept = default;
EvidenceVerifier& EvidenceVerifier::operator=(EvidenceVerifier&&) noexcept = default;

Result<EvidenceVerifier> EvidenceVerifier::Create(std::string_view public_key_pem) {
  if (public_key_pem.size() > kMaxPemSize) {
    return Status(ErrorCode::kInvalidArgument, "the attestation public key PEM is too large");
  }
  BioPtr bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  if (!bio) return Status(ErrorCode::kInternal, OpensslError("cannot read the public key"));
  EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument,
                  "the attestation key is not a PEM public key (expected \"-----BEGIN PUBLIC "
                  "KEY-----\", as `edgetrust attest key` prints)");
  }
  if (!EVP_PKEY_is_a(key.get(), "EC")) {
    return Status(ErrorCode::kInvalidArgument,
                  std::string("the attestation key must be an EC P-256 key, this is ") +
                      EVP_PKEY_get0_type_name(key.get()));
  }
  char group[64] = {0};
  size_t group_len = 0;
  if (EVP_PKEY_get_group_name(key.get(), group, sizeof group, &group_len) != 1 ||
      std::string_view(group, group_len) != "prime256v1") {
    ERR_clear_error();
    return Status(ErrorCode::kInvalidArgument,
                  "the attestation key must be on curve P-256 (prime256v1), this one is on " +
                      (group_len > 0 ? std::string(group, group_len) : std::string("another")));
  }
  unsigned char* spki = nullptr;
  const int spki_len = i2d_PUBKEY(key.get(), &spki);
  if (spki_len <= 0) return Status(ErrorCode::kInternal, OpensslError("cannot encode the key"));
  const Digest256 kid = attest::Sha256({ByteView(spki, static_cast<size_t>(spki_len))});
  OPENSSL_free(spki);
  EvpPkeyCtxPtr verify_template = Impl::NewVerifyContext(key.get());
  if (!verify_template) {
    return Status(ErrorCode::kInternal, OpensslError("cannot set up ECDSA verification"));
  }
  return EvidenceVerifier(std::make_unique<Impl>(std::move(key), std::move(verify_template), kid));
}

Verdict EvidenceVerifier::Verify(ByteView evidence, ByteView expected_nonce,
                                 const std::vector<LogEvent>* log, const ReferenceValues* reference,
                                 uint64_t now) const {
  Verdict v;
  // Structure and signature first: nothing in an evidence that fails them can be believed.
  auto sign1 = attest::DecodeSign1(evidence);
  if (!sign1.ok()) {
    v.failures.push_back("evidence is not a valid COSE_Sign1: " + sign1.status().message());
    return v;
  }
  if (sign1->alg != attest::kCoseAlgEs256) {
    v.failures.push_back("evidence is not signed ES256");
    return v;
  }
  const Bytes tbs = attest::SigStructure(sign1->protected_header, sign1->payload);
  if (!impl_->VerifySignature(tbs, sign1->signature)) {
    v.failures.push_back("signature does not verify with the given attestation key");
    return v;
  }
  auto claims = attest::DecodeClaims(sign1->payload);
  if (!claims.ok()) {
    v.failures.push_back("claims are not valid: " + claims.status().message());
    return v;
  }
  const EvidenceClaims& c = *claims;

  // The kid is outside the signature: it must name the key the signature verified with, or be
  // absent, so that no byte of an accepted evidence is unchecked.
  if (!sign1->kid.empty() &&
      !std::equal(sign1->kid.begin(), sign1->kid.end(), impl_->kid().begin(), impl_->kid().end())) {
    std::string kid =
        HexEncode(ByteView(sign1->kid).first(std::min<size_t>(sign1->kid.size(), 32)));
    if (sign1->kid.size() > 32) kid += "...";
    v.failures.push_back("kid " + kid + " does not name the given attestation key (its kid is " +
                         Hex(impl_->kid()) + ")");
  }

  if (c.profile != attest::kProfile) {
    v.failures.push_back("eat_profile is \"" + c.profile + "\", expected \"" +
                         std::string(attest::kProfile) + "\"");
  }
  if (c.nonce.size() != expected_nonce.size() ||
      CRYPTO_memcmp(c.nonce.data(), expected_nonce.data(), c.nonce.size()) != 0) {
    v.failures.push_back(
        "nonce does not match the expected nonce (a replayed evidence or another challenge's)");
  }
  v.notes.push_back("backend: " + c.backend);
  if (c.emulated) v.notes.push_back("emulated: no secure hardware backs this evidence");
  if (log != nullptr) CheckLog(c, *log, v);
  bool quote_verified = false;
  if (c.tpm_quote) {
    const size_t before = v.failures.size();
    auto quote = attest::ParseTpmQuote(*c.tpm_quote);
    if (!quote.ok()) {
      v.failures.push_back(quote.status().message());
    } else if (!impl_->VerifySignature(c.tpm_quote->attest, quote->raw_signature)) {
      v.failures.push_back("tpm quote: its signature does not verify with the attestation key");
    } else {
      std::optional<Digest256> expected;
      if (log != nullptr) expected = ReplayPcrMirror(c.tpm_quote->pcr_base, *log);
      attest::CheckTpmQuote(*c.tpm_quote, *quote, expected_nonce, expected, v.failures);
      quote_verified = v.failures.size() == before;
      if (quote_verified) {
        v.notes.push_back("tpm quote verified: PCR " + std::to_string(c.tpm_quote->pcr) +
                          (log != nullptr ? " matches the event log"
                                          : " (its PCR value is checked only with the log)"));
      }
    }
  }
  if (reference != nullptr && reference->require_tpm_quote && !quote_verified) {
    v.failures.push_back(c.tpm_quote
                             ? "the reference requires a TPM quote, and it did not verify"
                             : "the reference requires a TPM quote, and the evidence has none");
  }
  if (reference != nullptr) {
    if (now == 0) now = static_cast<uint64_t>(std::time(nullptr));
    CheckReference(c, log, *reference, now, v);
  }
  v.claims = std::move(claims).value();
  v.passed = v.failures.empty();
  return v;
}

}  // namespace edgetrust
