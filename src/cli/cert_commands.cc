// cert csr | import | issue | list | renew | policy.
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/identity_support.h"
#include "cli/io.h"
#include "identity/certificate.h"
#include "identity/csr.h"
#include "identity/identity_status.h"
#include "identity/import.h"
#include "identity/issuer.h"
#include "identity/renewal.h"
#include "identity/san.h"
#include "identity/subject.h"

namespace edgetrust::cli {
namespace {

using identity::FormatSans;
using nlohmann::json;

struct CertOptions {
  std::string cert_dir;
  std::string name;
  std::string subject;
  std::vector<std::string> sans;
  std::string key_type;
  std::string out;
  std::string cert;
  std::string chain;
  std::string ca;
  std::string csr;
  uint32_t days = 0;
  bool server = false;
  bool client = false;
  std::string chain_out;
  // renew
  std::optional<double> share;
  bool force = false;
  bool dry_run = false;
  std::optional<int64_t> at;
  // policy
  std::optional<double> renew_share;
  std::optional<uint32_t> policy_days;
  std::string fresh_key;
};

std::string Join(const std::vector<std::string>& parts, const char* sep = ", ") {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

std::string Percent(double share) {
  return std::to_string(static_cast<int>(std::floor(share * 100.0 + 1e-9))) + "%";
}

Status Csr(Context& ctx, const CertOptions& o) {
  if (ctx.out().json() && o.out == kStdio) {
    return Status(ErrorCode::kInvalidArgument, "--out - cannot be combined with --json");
  }
  if (!identity::IsValidIdentityName(o.name)) {
    return Status(ErrorCode::kInvalidArgument,
                  "name \"" + o.name.substr(0, 64) + "\" must be 1..48 of [A-Za-z0-9._-]");
  }
  ET_ASSIGN_OR_RETURN(identity::Subject subject, identity::ParseSubject(o.subject));
  ET_ASSIGN_OR_RETURN(std::vector<identity::San> sans, identity::ParseSans(o.sans));
  ET_ASSIGN_OR_RETURN(KeyType type, KeyTypeArg(o.key_type.empty() ? "ecdsa-p256" : o.key_type));
  if (!IsAsymmetric(type)) {
    return Status(ErrorCode::kInvalidArgument, "--key-type must be a signing key type");
  }
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  ET_ASSIGN_OR_RETURN(bool created, keys->Ensure(o.name, type, !o.key_type.empty()));
  ET_ASSIGN_OR_RETURN(std::optional<KeyType> actual, keys->Find(o.name));
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr signing, keys->SigningKey(o.name));
  ET_ASSIGN_OR_RETURN(OSSL_LIB_CTX * libctx, keys->LibraryContext());
  ET_ASSIGN_OR_RETURN(X509ReqPtr req, identity::BuildCsr(subject, sans, signing.get(), libctx));
  const std::string pem = identity::CsrToPem(req.get());
  if (pem.empty()) return Status(ErrorCode::kInternal, "cannot encode the CSR");
  ET_RETURN_IF_ERROR(WriteOutput(o.out, AsBytes(pem), PublicMode()));
  const std::string type_name(KeyTypeName(actual.value_or(type)));
  if (ctx.out().json()) {
    ctx.out().Json({{"key", o.name},
                    {"key_type", type_name},
                    {"key_created", created},
                    {"subject", identity::FormatSubject(subject)},
                    {"sans", FormatSans(sans)},
                    {"csr_file", o.out}});
  } else if (o.out != kStdio) {
    ctx.out().Line("wrote a CSR for key " + o.name + " (" + type_name +
                   (created ? ", created now" : "") + ") to " + o.out);
    ctx.out().Line("next: have it signed, then: edgetrust cert import " + o.name +
                   " --cert CERT.pem [--chain CHAIN.pem]");
  }
  return Status::Ok();
}

Status Import(Context& ctx, const CertOptions& o) {
  ET_ASSIGN_OR_RETURN(std::string cert_pem,
                      ReadTextInput(o.cert, identity::kMaxCertificateFileSize, o.cert));
  std::string chain_pem;
  if (!o.chain.empty()) {
    ET_ASSIGN_OR_RETURN(chain_pem,
                        ReadTextInput(o.chain, identity::kMaxCertificateFileSize, o.chain));
  }
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, true));
  ET_ASSIGN_OR_RETURN(
      identity::ImportReport r,
      identity::ImportCertificate(store, *keys, o.name, cert_pem, chain_pem, Now()));
  if (ctx.out().json()) {
    ctx.out().Json({{"name", r.name},
                    {"issuer", r.issuer},
                    {"profile", r.profile},
                    {"generation", r.generation},
                    {"subject", r.subject},
                    {"not_after", r.not_after},
                    {"fingerprint", r.fingerprint},
                    {"chain_length", r.chain_length},
                    {"certificate", store.CurrentDir(r.name) + "/cert.pem"}});
    return Status::Ok();
  }
  ctx.out().Line("imported " + r.subject + " as identity " + r.name + " (generation " +
                 std::to_string(r.generation) + ", " + r.profile + ", issuer " + r.issuer +
                 ", not after " + FormatTimeOrDash(r.not_after) + ")");
  ctx.out().Line("certificate: " + store.CurrentDir(r.name) + "/cert.pem");
  return Status::Ok();
}

Status Issue(Context& ctx, const CertOptions& o) {
  if (ctx.out().json() && (o.out == kStdio || o.chain_out == kStdio)) {
    return Status(ErrorCode::kInvalidArgument, "--out - cannot be combined with --json");
  }
  identity::CsrRequest request;
  request.profile = o.server && o.client ? identity::Profile::kClientServer
                    : o.server           ? identity::Profile::kServer
                                         : identity::Profile::kClient;
  ET_ASSIGN_OR_RETURN(request.extra_sans, identity::ParseSans(o.sans));
  ET_ASSIGN_OR_RETURN(Bytes csr, ReadInput(o.csr, identity::kMaxCsrSize, "CSR " + o.csr));
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  ET_ASSIGN_OR_RETURN(identity::Inventory inv, store.LoadInventory());
  // The request is checked before the secure domain is asked for anything.
  ET_ASSIGN_OR_RETURN(identity::CsrPlan checked, identity::PlanFromCsr(csr, request));
  (void)checked;
  const int64_t now = Now();
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  ET_ASSIGN_OR_RETURN(identity::LoadedCa ca, identity::LoadCa(store, *keys, inv, o.ca, now));
  ET_ASSIGN_OR_RETURN(identity::CsrIssue result,
                      identity::IssueFromCsr(*keys, ca, csr, request, o.days, now));
  X509* cert = result.issued.cert.get();
  ET_RETURN_IF_ERROR(WriteOutput(o.out, AsBytes(identity::ToPem(cert)), PublicMode()));
  if (!o.chain_out.empty()) {
    ET_RETURN_IF_ERROR(
        WriteOutput(o.chain_out, AsBytes(identity::ChainPem(result.issued)), PublicMode()));
  }
  const std::string subject = identity::DisplayName(X509_get_subject_name(cert));
  if (ctx.out().json()) {
    ctx.out().Json({{"ca", o.ca},
                    {"profile", std::string(identity::ProfileName(request.profile))},
                    {"subject", subject},
                    {"sans", FormatSans(result.plan.sans)},
                    {"not_before", identity::NotBefore(cert)},
                    {"not_after", identity::NotAfter(cert)},
                    {"capped_to_ca", result.issued.capped},
                    {"fingerprint", identity::Fingerprint(cert)},
                    {"ignored_extensions", result.plan.ignored_extensions},
                    {"certificate_file", o.out},
                    {"chain_file", o.chain_out}});
    return Status::Ok();
  }
  if (o.out == kStdio) return Status::Ok();
  ctx.out().Line("issued " + std::string(identity::ProfileName(request.profile)) +
                 " certificate for " + subject + " signed by " + o.ca + " to " + o.out);
  if (!result.plan.sans.empty()) ctx.out().Line("SANs: " + Join(FormatSans(result.plan.sans)));
  ctx.out().Line("not after: " + FormatTimeOrDash(identity::NotAfter(cert)) +
                 (result.issued.capped ? " (cut to the CA's own end)" : ""));
  if (!result.plan.ignored_extensions.empty()) {
    ctx.out().Line("ignored requested extensions: " + Join(result.plan.ignored_extensions));
  }
  return Status::Ok();
}

json StatusJson(const identity::IdentityStatus& s) {
  return {{"name", s.entry.name},
          {"issuer", s.entry.issuer},
          {"profile", std::string(identity::ProfileName(s.entry.profile))},
          {"subject", s.subject.empty() ? identity::FormatSubject(s.entry.subject) : s.subject},
          {"sans", FormatSans(s.entry.sans)},
          {"days", s.entry.days},
          {"renew_share", s.share},
          {"fresh_key", s.entry.fresh_key},
          {"key_type", std::string(KeyTypeName(s.entry.key_type))},
          {"state", s.state},
          {"generation", s.generation ? json(*s.generation) : json(nullptr)},
          {"not_before", s.not_before},
          {"not_after", s.not_after},
          {"renew_at", s.renew_at},
          {"lifetime_used", s.used},
          {"expired", s.expired},
          {"renewal_due", s.due},
          {"due_reason", s.due_reason},
          {"fingerprint", s.fingerprint}};
}

Status List(Context& ctx, const CertOptions& o) {
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  ET_ASSIGN_OR_RETURN(identity::Inventory inv, store.LoadInventory());
  const int64_t now = o.at.value_or(Now());
  std::vector<identity::IdentityStatus> all;
  for (const auto& e : inv.entries) all.push_back(identity::DescribeIdentity(store, inv, e, now));
  if (ctx.out().json()) {
    json array = json::array();
    for (const auto& s : all) array.push_back(StatusJson(s));
    ctx.out().Json(array);
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "ISSUER", "PROFILE", "GEN", "NOT-AFTER", "USED", "RENEWAL"}};
  for (const auto& s : all) {
    std::string renewal;
    if (s.state != "ok") {
      renewal = "due: " + s.state;
    } else if (s.expired) {
      renewal = "due: expired";
    } else if (s.due) {
      renewal = "due: " + s.due_reason;
    } else {
      renewal = "at " + FormatTimeOrDash(s.renew_at);
    }
    if (s.due && s.entry.external()) renewal += " (external issuer: csr + import)";
    rows.push_back({s.entry.name, s.entry.issuer,
                    std::string(identity::ProfileName(s.entry.profile)),
                    s.generation ? std::to_string(*s.generation) : "-",
                    FormatTimeOrDash(s.not_after), s.generation ? Percent(s.used) : "-", renewal});
  }
  PrintTable(ctx.out(), rows);
  return Status::Ok();
}

Status Renew(Context& ctx, const CertOptions& o) {
  identity::RenewOptions options;
  options.share = o.share;
  options.name = o.name;
  options.force = o.force;
  options.dry_run = o.dry_run;
  options.now = Now();
  options.at = o.at.value_or(options.now);
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  std::unique_ptr<identity::SdKeyService> keys;
  if (!o.dry_run) {
    ET_ASSIGN_OR_RETURN(keys, KeyServiceFor(ctx));
  }
  // A dry run decides from the files alone and never contacts the secure domain.
  ET_ASSIGN_OR_RETURN(auto outcomes, identity::RenewIdentities(store, keys.get(), options));
  std::vector<std::string> failures;
  json array = json::array();
  for (const auto& r : outcomes) {
    if (r.action == "failed") failures.push_back(r.name + ": " + r.status.ToString());
    if (!o.name.empty() && r.action == "needs-external-renewal") {
      failures.push_back(r.name + " is issued by an external CA: make a CSR (edgetrust cert csr " +
                         r.name + " ...) and import the new certificate");
    }
    if (ctx.out().json()) {
      array.push_back({{"name", r.name},
                       {"action", r.action},
                       {"reason", r.reason},
                       {"old_not_after", r.old_not_after},
                       {"new_not_after", r.new_not_after},
                       {"generation", r.generation},
                       {"key", r.key},
                       {"fresh_key", r.fresh_key},
                       {"capped_to_ca", r.capped},
                       {"deleted_keys", r.deleted_keys},
                       {"error", r.status.ok() ? std::string() : r.status.ToString()}});
      continue;
    }
    std::string line = r.name + ": ";
    if (r.action == "renewed") {
      line += "renewed (" + r.reason + "): generation " + std::to_string(r.generation) + ", key " +
              r.key + (r.fresh_key ? " (new)" : "") + ", not after " +
              FormatTimeOrDash(r.new_not_after);
      if (r.capped) line += " (cut to its CA's end)";
      if (!r.deleted_keys.empty()) line += "; deleted old keys " + Join(r.deleted_keys);
    } else if (r.action == "not-due") {
      line += "not due (not after " + FormatTimeOrDash(r.old_not_after) + ")";
    } else if (r.action == "due") {
      line += "due (" + r.reason + "); --dry-run: nothing changed";
    } else if (r.action == "needs-external-renewal") {
      line += "due (" + r.reason + ") but issued by an external CA: make a CSR and import";
    } else {
      line += "FAILED: " + r.status.ToString();
    }
    ctx.out().Line(line);
  }
  if (ctx.out().json()) ctx.out().Json(array);
  if (!failures.empty()) {
    return Status(ErrorCode::kFailedPrecondition,
                  std::to_string(failures.size()) + " renewal(s) failed: " + Join(failures, "; "));
  }
  return Status::Ok();
}

Status Policy(Context& ctx, const CertOptions& o) {
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  ET_ASSIGN_OR_RETURN(identity::FolderLock lock, store.Lock());
  ET_ASSIGN_OR_RETURN(identity::Inventory inv, store.LoadInventory());
  identity::InventoryEntry* e = inv.Find(o.name);
  if (e == nullptr) return Status(ErrorCode::kNotFound, "no tracked identity named " + o.name);
  if (o.renew_share) {
    if (!identity::IsValidShare(*o.renew_share)) {
      return Status(ErrorCode::kInvalidArgument,
                    "--renew-share must be greater than 0 and at most 1");
    }
    e->renew_share = *o.renew_share;
  }
  if (o.policy_days) e->days = *o.policy_days;
  if (!o.fresh_key.empty()) {
    e->fresh_key = o.fresh_key == "on";
    if (e->fresh_key && e->external()) {
      return Status(ErrorCode::kInvalidArgument,
                    "an identity of an external issuer cannot get fresh keys from renewal");
    }
  }
  ET_RETURN_IF_ERROR(store.SaveInventory(inv));
  identity::IdentityStatus s = identity::DescribeIdentity(store, inv, *e, Now());
  if (ctx.out().json()) {
    ctx.out().Json(StatusJson(s));
    return Status::Ok();
  }
  ctx.out().Line(e->name + ": renew share " + Percent(e->renew_share) + ", " +
                 std::to_string(e->days) + " days, fresh key " + (e->fresh_key ? "on" : "off"));
  return Status::Ok();
}

}  // namespace

void AddCertCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<CertOptions>();
  CLI::App* cert = app.add_subcommand("cert",
                                      "Certificates of secure-domain keys: request, "
                                      "issue, import, track and renew");
  cert->require_subcommand(1);
  AddCertDirOption(cert, o->cert_dir);
  cert->footer(
      "Tracked identities live in CERT_DIR/NAME/current/{cert,chain,fullchain,key}.pem; key.pem\n"
      "names the secure-domain key for the edgetrust OpenSSL provider. See docs/identity.md.");

  CLI::App* csr = cert->add_subcommand(
      "csr", "Make a certificate signing request for key NAME (created if missing)");
  csr->add_option("NAME", o->name, "Key and identity name")->required();
  csr->add_option("--subject", o->subject, "Subject, e.g. \"/CN=gw-1/O=Acme\"")->required();
  csr->add_option("--san", o->sans, "subjectAltName: DNS:name, IP:addr, URI:uri, email:addr")
      ->allow_extra_args(false);
  csr->add_option("--key-type", o->key_type,
                  "Type of the key (default ecdsa-p256; an existing key of another type is an "
                  "error when given)")
      ->check(CLI::IsMember({"ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072"}));
  csr->add_option("--out", o->out, "CSR file (PEM), or - for stdout")->required();
  csr->footer(
      "The CSR is signed in the secure domain. Import the certificate you get for it with\n"
      "'edgetrust cert import NAME --cert FILE'.");
  OnSelected(csr, selection, [o](Context& ctx) { return Csr(ctx, *o); });

  CLI::App* import = cert->add_subcommand(
      "import", "Make a certificate for key NAME the current one of identity NAME");
  import->add_option("NAME", o->name, "Key and identity name")->required();
  import->add_option("--cert", o->cert, "Certificate (PEM), optionally followed by its chain")
      ->required();
  import->add_option("--chain", o->chain, "Intermediate certificates (PEM)");
  import->footer(
      "Refused: a certificate for another key (both key fingerprints are named), an expired one,\n"
      "a chain that does not link up, and anything that is not clean PEM. A certificate issued by\n"
      "one of this device's CAs is tracked with that issuer, so 'cert renew' renews it.");
  OnSelected(import, selection, [o](Context& ctx) { return Import(ctx, *o); });

  CLI::App* issue =
      cert->add_subcommand("issue", "Issue a certificate for a CSR with a tracked CA (device-ca)");
  issue->add_option("--ca", o->ca, "Tracked CA identity that signs, e.g. device-ca")->required();
  issue->add_option("--csr", o->csr, "The request (PEM or DER), or - for stdin")->required();
  issue->add_option("--days", o->days, "Lifetime in days")->required()->check(CLI::Range(1, 36500));
  issue->add_flag("--server", o->server, "TLS server certificate (extendedKeyUsage serverAuth)");
  issue->add_flag("--client", o->client,
                  "TLS client certificate (clientAuth; the default; both flags: both)");
  issue->add_option("--san", o->sans, "Additional subjectAltName (DNS:, IP:, URI:, email:)")
      ->allow_extra_args(false);
  issue->add_option("--out", o->out, "Certificate file (PEM), or - for stdout")->required();
  issue->add_option("--chain-out", o->chain_out, "Write the CA chain (PEM) here");
  issue->footer(
      "The CSR's signature is verified first. The subject and the CSR's subjectAltName are "
      "copied;\n"
      "other requested extensions (basicConstraints, keyUsage, ...) are ignored and reported. The\n"
      "certificate gets basicConstraints CA:FALSE, keyUsage digitalSignature (+keyEncipherment "
      "for\n"
      "RSA), the extendedKeyUsage of the profile, SKI and AKI, a random 16-byte serial, a "
      "notBefore\n"
      "5 minutes in the past, and never outlives the CA.");
  OnSelected(issue, selection, [o](Context& ctx) { return Issue(ctx, *o); });

  CLI::App* list = cert->add_subcommand(
      "list", "Tracked identities: expiry, share of lifetime used, whether renewal is due");
  list->add_option("--at", o->at, "Judge at this time (seconds since the epoch) instead of now");
  list->footer("Reads the certificate folder only; the secure domain is not contacted.");
  OnSelected(list, selection, [o](Context& ctx) { return List(ctx, *o); });

  CLI::App* renew = cert->add_subcommand(
      "renew", "Renew tracked identities past their share of lifetime (issuer: the local CA)");
  renew->add_option("--share", o->share,
                    "Renew once this share of the lifetime is used (default: each identity's, "
                    "0.8 unless set with 'cert policy')");
  renew->add_option("--name", o->name, "Only this identity");
  renew->add_flag("--force", o->force, "Renew even if not due");
  renew->add_flag("--dry-run", o->dry_run, "Only say what would be renewed");
  renew->add_option("--at", o->at,
                    "Judge due-ness at this time (seconds since the epoch); new certificates still "
                    "start now");
  renew->footer(
      "CAs are renewed first, then the certificates they issued (a renewed CA makes them due).\n"
      "With fresh keys (cert policy NAME --fresh-key on) the new certificate is for a new key\n"
      "NAME.gN; the previous generation and its key are kept so running servers keep working,\n"
      "older ones are deleted. The new generation is complete on disk before 'current' is "
      "switched\n"
      "atomically, so an interruption never leaves a mismatched certificate and key. Exit status "
      "1\n"
      "if any renewal failed. Suited to a daily systemd timer.");
  OnSelected(renew, selection, [o](Context& ctx) { return Renew(ctx, *o); });

  CLI::App* policy = cert->add_subcommand("policy", "Change how a tracked identity is renewed");
  policy->add_option("NAME", o->name, "Tracked identity")->required();
  policy->add_option("--renew-share", o->renew_share, "Share of the lifetime before renewal");
  policy->add_option("--days", o->policy_days, "Lifetime of renewed certificates in days")
      ->check(CLI::Range(1, 36500));
  policy->add_option("--fresh-key", o->fresh_key, "Renew with a new key: on or off")
      ->check(CLI::IsMember({"on", "off"}));
  OnSelected(policy, selection, [o](Context& ctx) { return Policy(ctx, *o); });
}

}  // namespace edgetrust::cli
