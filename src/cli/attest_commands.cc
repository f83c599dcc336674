// attest, attest key: evidence (an EAT in a COSE_Sign1) and the key that signs it.
#include <memory>
#include <string>

#include "attest/evidence.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "common/hex.h"

namespace edgetrust::cli {
namespace {

struct AttestOptions {
  std::string nonce_hex;
  std::string out;
  std::string key_out;
  std::string quote_dir;
};

// Writes the evidence's TPM quote as tpm2-tools' files (docs/tpm.md), so that
//   tpm2_checkquote -u ak.pem -m quote.msg -s quote.sig -f quote.pcrs -q NONCE -g sha256
// checks it independently of us.
Status WriteQuoteFiles(Client& client, const std::string& dir, const Client::AttestOutput& out) {
  ET_ASSIGN_OR_RETURN(attest::Sign1 sign1, attest::DecodeSign1(out.evidence));
  ET_ASSIGN_OR_RETURN(EvidenceClaims claims, attest::DecodeClaims(sign1.payload));
  if (!claims.tpm_quote || out.quote_pcrs.empty()) {
    return Status(
        ErrorCode::kUnsupported,
        "backend " + claims.backend + " has no TPM quote (--tpm-quote needs --backend tpm)");
  }
  ET_ASSIGN_OR_RETURN(std::string ak_pem, client.AttestationKeyPem());
  ET_RETURN_IF_ERROR(WriteOutput(dir + "/quote.msg", claims.tpm_quote->attest, PublicMode()));
  ET_RETURN_IF_ERROR(WriteOutput(dir + "/quote.sig", claims.tpm_quote->signature, PublicMode()));
  ET_RETURN_IF_ERROR(WriteOutput(dir + "/quote.pcrs", out.quote_pcrs, PublicMode()));
  return WriteOutput(dir + "/ak.pem", AsBytes(ak_pem), PublicMode());
}

Status Attest(Context& ctx, const AttestOptions& o) {
  if (ctx.out().json() && o.out == kStdio) {
    return Status(ErrorCode::kInvalidArgument, "--out - cannot be combined with --json");
  }
  auto nonce = HexDecode(o.nonce_hex);
  if (!nonce.ok() || nonce->size() < 8 || nonce->size() > 64) {
    return Status(ErrorCode::kInvalidArgument, "--nonce must be 8 to 64 bytes, in hex");
  }
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(Client::AttestOutput out, client->AttestWithQuote(*nonce));
  if (!o.quote_dir.empty()) ET_RETURN_IF_ERROR(WriteQuoteFiles(*client, o.quote_dir, out));
  ET_RETURN_IF_ERROR(WriteOutput(o.out, out.evidence, PublicMode()));
  if (ctx.out().json()) {
    nlohmann::json j = {
        {"evidence_file", o.out}, {"bytes", out.evidence.size()}, {"nonce", o.nonce_hex}};
    if (!o.quote_dir.empty()) j["tpm_quote_dir"] = o.quote_dir;
    ctx.out().Json(j);
  }
  return Status::Ok();
}

Status AttestKey(Context& ctx, const AttestOptions& o) {
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(std::string pem, client->AttestationKeyPem());
  if (o.key_out.empty() || o.key_out == kStdio) {
    if (ctx.out().json()) {
      ctx.out().Json({{"pem", pem}});
    } else {
      WriteStdout(pem);
    }
    return Status::Ok();
  }
  ET_RETURN_IF_ERROR(WriteOutput(o.key_out, AsBytes(pem), PublicMode()));
  if (ctx.out().json()) ctx.out().Json({{"public_key_file", o.key_out}});
  return Status::Ok();
}

}  // namespace

void AddAttestCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<AttestOptions>();
  CLI::App* attest = app.add_subcommand(
      "attest", "Produce attestation evidence: an EAT (RFC 9711) in a COSE_Sign1, signed ES256");
  attest->add_option("--nonce", o->nonce_hex, "The verifier's nonce, 8 to 64 bytes in hex");
  attest->add_option("--out", o->out, "Where to write the evidence (CBOR; '-': stdout)");
  attest
      ->add_option("--tpm-quote", o->quote_dir,
                   "tpm backend: also write quote.msg, quote.sig, quote.pcrs and ak.pem to this "
                   "existing folder, for tpm2_checkquote")
      ->check(CLI::ExistingDirectory);
  attest->footer(
      "The evidence holds the nonce, the device's UEID, every measurement register, a digest of\n"
      "the event log and the backend's name (docs/attestation.md). Check it with\n"
      "'edgetrust verify-evidence'. With the tpm backend it also carries a TPM2 quote over\n"
      "PCR 23 (the registers' mirror) with the nonce as qualifying data (docs/tpm.md).");

  CLI::App* key = attest->add_subcommand("key", "Export the attestation key's public key (PEM)");
  key->add_option("--out", o->key_out, "Where to write the PEM (default: stdout)");
  OnSelected(key, selection, [o](Context& ctx) { return AttestKey(ctx, *o); });

  // The parent's callback runs after its subcommand's: it only acts when no subcommand was given.
  attest->callback([attest, key, o, &selection] {
    if (attest->got_subcommand(key)) return;
    if (o->nonce_hex.empty()) throw CLI::RequiredError("--nonce");
    if (o->out.empty()) throw CLI::RequiredError("--out");
    selection.action = [o](Context& ctx) { return Attest(ctx, *o); };
  });
}

}  // namespace edgetrust::cli
