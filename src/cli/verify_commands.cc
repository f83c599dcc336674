// verify-evidence: appraises attestation evidence locally, as a cloud verifier would, with no
// daemon: signature, nonce, and optionally an event log and reference values.
#include <memory>
#include <string>
#include <vector>

#include "attest/evidence.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "common/hex.h"
#include "edgetrust/attestation.h"

namespace edgetrust::cli {
namespace {

constexpr size_t kMaxKeyFile = 64 * 1024;
constexpr size_t kMaxLogFile = size_t{64} << 20;        // ParseEventLogJson's own limit
constexpr size_t kMaxReferenceFile = size_t{16} << 20;  // ParseReferenceJson's own limit
constexpr size_t kMinNonce = 8;
constexpr size_t kMaxNonce = 64;

struct VerifyEvidenceOptions {
  std::string evidence;
  std::string key;
  std::string nonce_hex;
  std::string log;
  std::string reference;
};

std::string Text(const Bytes& bytes) { return {bytes.begin(), bytes.end()}; }

// A file error names the option, so "which file?" never needs asking.
Status InFile(const std::string& option, const Status& st) {
  return Status(st.code(), option + ": " + st.message());
}

nlohmann::json ClaimsJson(const EvidenceClaims& c) {
  nlohmann::json registers = nlohmann::json::array();
  for (const Digest256& r : c.registers) registers.push_back(HexEncode(r));
  return {{"nonce", HexEncode(c.nonce)},
          {"ueid", HexEncode(c.ueid)},
          {"iat", c.iat},
          {"uptime", c.uptime},
          {"dbgstat", c.dbgstat},
          {"eat_profile", c.profile},
          {"bootseed", HexEncode(c.bootseed)},
          {"swname", c.swname},
          {"registers", registers},
          {"log_digest", HexEncode(c.log_digest)},
          {"log_count", c.log_count},
          {"backend", c.backend},
          {"emulated", c.emulated},
          {"requester", c.requester}};
}

void PrintVerdict(Output& out, const Verdict& v) {
  if (out.json()) {
    out.Json({{"verdict", v.passed ? "pass" : "fail"},
              {"failures", v.failures},
              {"notes", v.notes},
              {"claims", v.claims ? ClaimsJson(*v.claims) : nlohmann::json(nullptr)}});
    return;
  }
  out.Line(v.passed ? "evidence: PASS" : "evidence: FAIL");
  for (const auto& f : v.failures) out.Line("  failure: " + f);
  for (const auto& n : v.notes) out.Line("  note: " + n);
  if (!v.claims) return;
  const EvidenceClaims& c = *v.claims;
  out.Line("backend:   " + c.backend + (c.emulated ? " (emulated: no secure hardware)" : ""));
  out.Line("ueid:      " + HexEncode(c.ueid));
  out.Line("iat:       " + FormatTime(c.iat) + " (" + std::to_string(c.iat) + ")");
  out.Line("software:  " + c.swname);
  out.Line("requester: " + c.requester);
  out.Line("log:       " + std::to_string(c.log_count) + " events, digest " +
           HexEncode(c.log_digest));
  size_t non_zero = 0;
  for (size_t i = 0; i < kRegisterCount; ++i) {
    if (c.registers[i] == Digest256{}) continue;
    out.Line("register " + std::to_string(i) + (i < 10 ? ":  " : ": ") + HexEncode(c.registers[i]));
    ++non_zero;
  }
  if (non_zero == 0) out.Line("registers: all zero");
}

Status VerifyEvidence(Context& ctx, const VerifyEvidenceOptions& o) {
  // Cheap argument checks before any file is read.
  auto nonce = HexDecode(o.nonce_hex);
  if (!nonce.ok()) return Status(ErrorCode::kInvalidArgument, "--nonce is not hex");
  if (nonce->size() < kMinNonce || nonce->size() > kMaxNonce) {
    return Status(ErrorCode::kInvalidArgument,
                  "--nonce must be 8 to 64 bytes (16 to 128 hex digits), got " +
                      std::to_string(nonce->size()) + " bytes");
  }
  const int stdin_inputs =
      (o.evidence == kStdio) + (o.key == kStdio) + (o.log == kStdio) + (o.reference == kStdio);
  if (stdin_inputs > 1) {
    return Status(ErrorCode::kInvalidArgument, "only one of the input files can be stdin ('-')");
  }

  auto key_pem = ReadInput(o.key, kMaxKeyFile, "attestation key file " + o.key);
  if (!key_pem.ok()) return InFile("--key", key_pem.status());
  auto verifier = EvidenceVerifier::Create(Text(*key_pem));
  if (!verifier.ok()) return InFile("--key " + o.key, verifier.status());

  auto evidence = ReadInput(o.evidence, attest::kMaxEvidenceSize, "evidence file " + o.evidence);
  if (!evidence.ok()) return InFile("--evidence", evidence.status());

  std::vector<LogEvent> log;
  if (!o.log.empty()) {
    auto text = ReadInput(o.log, kMaxLogFile, "event log file " + o.log);
    if (!text.ok()) return InFile("--log", text.status());
    auto parsed = ParseEventLogJson(Text(*text));
    if (!parsed.ok()) return InFile("--log " + o.log, parsed.status());
    log = std::move(parsed).value();
  }
  ReferenceValues reference;
  if (!o.reference.empty()) {
    auto text = ReadInput(o.reference, kMaxReferenceFile, "reference file " + o.reference);
    if (!text.ok()) return InFile("--reference", text.status());
    auto parsed = ParseReferenceJson(Text(*text));
    if (!parsed.ok()) return InFile("--reference " + o.reference, parsed.status());
    reference = std::move(parsed).value();
  }

  Verdict v = verifier->Verify(*evidence, *nonce, o.log.empty() ? nullptr : &log,
                               o.reference.empty() ? nullptr : &reference);
  PrintVerdict(ctx.out(), v);
  if (!v.passed) {
    const std::string first = v.failures.empty() ? "no reason given" : v.failures.front();
    return Status(ErrorCode::kVerifyFailed, "evidence failed verification: " + first);
  }
  return Status::Ok();
}

}  // namespace

void AddVerifyCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<VerifyEvidenceOptions>();
  CLI::App* verify = app.add_subcommand(
      "verify-evidence",
      "Appraise attestation evidence: signature, nonce, event log and reference values (no "
      "daemon needed)");
  verify
      ->add_option("--evidence", o->evidence, "Evidence file from `edgetrust attest` ('-': stdin)")
      ->required();
  verify
      ->add_option("--key", o->key,
                   "The device's attestation public key, PEM (`edgetrust attest key`)")
      ->required();
  verify->add_option("--nonce", o->nonce_hex, "The nonce the evidence must carry, in hex")
      ->required();
  verify->add_option("--log", o->log,
                     "Event log, JSON as `edgetrust measure log --json` prints it: it must replay "
                     "to the evidence's registers");
  verify->add_option("--reference", o->reference,
                     "Reference values, JSON (docs/attestation.md): expected registers and "
                     "events, allow_emulated, max_age_seconds");
  verify->footer(
      "Prints 'evidence: PASS' or 'evidence: FAIL' with every failed check, then the claims.\n"
      "Evidence from the emulated backend fails against a reference unless it sets\n"
      "\"allow_emulated\": true.\n"
      "Exit status: 0 if the evidence passed, 1 if it failed or could not be checked.");
  OnSelected(verify, selection, [o](Context& ctx) { return VerifyEvidence(ctx, *o); });
}

}  // namespace edgetrust::cli
