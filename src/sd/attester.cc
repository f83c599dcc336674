#include "sd/attester.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctime>

#include "attest/evidence.h"
#include "common/openssl_ptr.h"
#include "sd/crypto.h"
#include "sd/version.h"

namespace edgetrust::sd {

Attester::Attester(Backend& backend, const RegisterBank& registers)
    : backend_(backend), registers_(registers), started_(std::chrono::steady_clock::now()) {
  const Bytes& spki = backend_.AttestationPublicKeyDer();
  if (!spki.empty()) {
    ueid_ = attest::UeidFromPublicKeyDer(spki);
    // The key id is the UEID's hash part: a verifier with many devices picks the key by it.
    kid_.assign(ueid_.begin() + 1, ueid_.end());
  }
  // A fresh boot seed per start tells a verifier that registers were reset in between.
  auto seed = RandomBytes(32);
  if (seed.ok()) bootseed_.assign(seed->view().begin(), seed->view().end());
}

Result<Attester::Output> Attester::Attest(ByteView nonce, std::string_view requester) const {
  if (nonce.size() < 8 || nonce.size() > 64) {
    return Status(ErrorCode::kInvalidArgument, "the nonce must be 8 to 64 bytes");
  }
  if (ueid_.empty() || bootseed_.size() != 32) {
    return Status(ErrorCode::kFailedPrecondition,
                  "the secure domain has no usable attestation key");
  }
  // The quote is taken while no extension can happen, so it covers exactly these registers.
  std::optional<PlatformQuote> quote;
  ET_ASSIGN_OR_RETURN(
      RegisterSnapshot snap,
      registers_.WithSnapshot([&](const RegisterSnapshot& s) -> Result<RegisterSnapshot> {
        ET_ASSIGN_OR_RETURN(quote, backend_.Quote(nonce));
        return s;
      }));
  EvidenceClaims c;
  c.nonce.assign(nonce.begin(), nonce.end());
  c.ueid = ueid_;
  c.iat = static_cast<uint64_t>(::time(nullptr));
  c.uptime = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count());
  // dbgstat 0 ("enabled"): with an emulated backend root can read the daemon's memory, which is
  // what debug access means; hardware backends report their own state.
  c.dbgstat = backend_.IsEmulated() ? 0 : 1;
  c.profile = std::string(attest::kProfile);
  c.bootseed = bootseed_;
  c.swname = std::string("edgetrust-sd ") + kVersionString;
  c.registers = snap.values;
  c.log_digest = snap.log_digest;
  c.log_count = snap.log_count;
  c.backend = std::string(backend_.Name());
  c.emulated = backend_.IsEmulated();
  c.requester = std::string(requester);
  Output out;
  if (quote) {
    c.tpm_quote = TpmQuoteClaim{quote->attest, quote->signature, quote->pcr_index, quote->pcr_base};
    out.quote_pcrs = std::move(quote->pcrs);
  }
  ET_ASSIGN_OR_RETURN(out.evidence, attest::BuildEvidence(c, kid_, [this](ByteView tbs) {
                        return backend_.AttestationSign(tbs);
                      }));
  return out;
}

Result<std::string> Attester::PublicKeyPem() const {
  const Bytes& spki = backend_.AttestationPublicKeyDer();
  if (spki.empty()) {
    return Status(ErrorCode::kFailedPrecondition,
                  "the secure domain has no usable attestation key");
  }
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr key, ParsePublicKey(spki));
  return sd::PublicKeyPem(key.get());
}

}  // namespace edgetrust::sd
