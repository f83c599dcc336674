// trust add | list | remove | verify.
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/identity_support.h"
#include "identity/certificate.h"
#include "identity/trust_store.h"

namespace edgetrust::cli {
namespace {

using nlohmann::json;

struct TrustOptions {
  std::string cert_dir;
  std::string purpose;
  std::string file;
  std::string fingerprint;
  bool all = false;
};

json EntryJson(std::string_view purpose, const identity::TrustEntry& e, int64_t now) {
  return {{"purpose", std::string(purpose)}, {"subject", e.subject},
          {"fingerprint", e.fingerprint},    {"not_after", e.not_after},
          {"expired", e.not_after <= now},   {"self_signed", e.self_signed}};
}

// The purposes a command applies to: the one named, or all.
Result<std::vector<identity::TrustPurpose>> Purposes(const std::string& name) {
  if (name.empty()) return identity::AllTrustPurposes();
  ET_ASSIGN_OR_RETURN(identity::TrustPurpose p, identity::ParseTrustPurpose(name));
  return std::vector<identity::TrustPurpose>{p};
}

Status Add(Context& ctx, const TrustOptions& o) {
  ET_ASSIGN_OR_RETURN(identity::TrustPurpose purpose, identity::ParseTrustPurpose(o.purpose));
  ET_ASSIGN_OR_RETURN(std::string pem,
                      ReadTextInput(o.file, identity::kMaxCertificateFileSize, o.file));
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, true));
  identity::TrustStore trust(store, *keys);
  const int64_t now = Now();
  ET_ASSIGN_OR_RETURN(auto result, trust.Add(purpose, pem, now));
  const std::string name(identity::TrustPurposeName(purpose));
  if (ctx.out().json()) {
    json added = json::array(), present = json::array();
    for (const auto& e : result.added) added.push_back(EntryJson(name, e, now));
    for (const auto& e : result.already_present) present.push_back(EntryJson(name, e, now));
    ctx.out().Json({{"purpose", name},
                    {"bundle", trust.BundlePath(purpose)},
                    {"added", added},
                    {"already_present", present}});
    return Status::Ok();
  }
  for (const auto& e : result.added)
    ctx.out().Line("added to " + name + ": " + e.subject + " " + e.fingerprint);
  for (const auto& e : result.already_present) {
    ctx.out().Line("already in " + name + ": " + e.subject + " " + e.fingerprint);
  }
  ctx.out().Line("bundle: " + trust.BundlePath(purpose));
  return Status::Ok();
}

Status List(Context& ctx, const TrustOptions& o) {
  ET_ASSIGN_OR_RETURN(auto purposes, Purposes(o.purpose));
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  identity::TrustStore trust(store, *keys);
  const int64_t now = Now();
  json array = json::array();
  std::vector<std::vector<std::string>> rows = {{"PURPOSE", "NOT-AFTER", "SHA256", "SUBJECT"}};
  for (auto p : purposes) {
    ET_ASSIGN_OR_RETURN(auto entries, trust.List(p));
    const std::string name(identity::TrustPurposeName(p));
    for (const auto& e : entries) {
      array.push_back(EntryJson(name, e, now));
      rows.push_back({name,
                      FormatTimeOrDash(e.not_after) + (e.not_after <= now ? " (expired)" : ""),
                      e.fingerprint, e.subject});
    }
  }
  if (ctx.out().json()) {
    ctx.out().Json(array);
    return Status::Ok();
  }
  PrintTable(ctx.out(), rows);
  return Status::Ok();
}

Status Remove(Context& ctx, const TrustOptions& o) {
  ET_ASSIGN_OR_RETURN(identity::TrustPurpose purpose, identity::ParseTrustPurpose(o.purpose));
  if (o.all == !o.fingerprint.empty()) {
    return Status(ErrorCode::kInvalidArgument, "give either a FINGERPRINT or --all");
  }
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  identity::TrustStore trust(store, *keys);
  const std::string name(identity::TrustPurposeName(purpose));
  if (o.all) {
    ET_RETURN_IF_ERROR(trust.RemoveAll(purpose));
    if (ctx.out().json()) {
      ctx.out().Json({{"purpose", name}, {"removed_all", true}});
    } else {
      ctx.out().Line("removed the " + name + " bundle");
    }
    return Status::Ok();
  }
  ET_ASSIGN_OR_RETURN(identity::TrustEntry removed, trust.Remove(purpose, o.fingerprint));
  if (ctx.out().json()) {
    ctx.out().Json({{"purpose", name}, {"removed", EntryJson(name, removed, Now())}});
  } else {
    ctx.out().Line("removed from " + name + ": " + removed.subject + " " + removed.fingerprint);
  }
  return Status::Ok();
}

Status Verify(Context& ctx, const TrustOptions& o) {
  ET_ASSIGN_OR_RETURN(auto purposes, Purposes(o.purpose));
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  identity::TrustStore trust(store, *keys);
  const int64_t now = Now();
  json array = json::array();
  Status first_failure;
  for (auto p : purposes) {
    const std::string name(identity::TrustPurposeName(p));
    auto entries = trust.List(p);
    if (!entries.ok()) {
      if (first_failure.ok()) first_failure = entries.status();
      array.push_back({{"purpose", name},
                       {"state", std::string(ErrorCodeName(entries.status().code()))},
                       {"error", entries.status().message()}});
      if (!ctx.out().json()) ctx.out().Line(name + ": " + entries.status().ToString());
      continue;
    }
    size_t expired = 0;
    for (const auto& e : *entries) expired += e.not_after <= now ? 1 : 0;
    array.push_back({{"purpose", name},
                     {"state", "ok"},
                     {"certificates", entries->size()},
                     {"expired", expired}});
    if (!ctx.out().json()) {
      ctx.out().Line(name + ": ok, " + std::to_string(entries->size()) + " certificate(s)" +
                     (expired ? ", " + std::to_string(expired) + " expired" : ""));
    }
  }
  if (ctx.out().json()) ctx.out().Json(array);
  return first_failure;
}

}  // namespace

void AddTrustCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<TrustOptions>();
  CLI::App* trust =
      app.add_subcommand("trust", "Trust bundles: the CA certificates trusted for each purpose");
  trust->require_subcommand(1);
  AddCertDirOption(trust, o->cert_dir);
  trust->footer(
      "Purposes: cloud, update, deployment, leaf. Each bundle is CERT_DIR/trust/PURPOSE.pem "
      "(usable\n"
      "directly as mosquitto's cafile) with an HMAC by the secure-domain key trust-bundle-mac in\n"
      "PURPOSE.pem.mac; a bundle changed behind edgetrust's back is reported as tampered.");

  CLI::App* add = trust->add_subcommand("add", "Add the CA certificates of a PEM file");
  add->add_option("--purpose", o->purpose, "cloud, update, deployment or leaf")->required();
  add->add_option("FILE", o->file, "PEM file of CA certificates, or - for stdin")->required();
  add->footer(
      "Only CA certificates (basicConstraints CA:TRUE) or self-signed roots, valid now, and\n"
      "clean PEM; one unacceptable certificate refuses the whole file.");
  OnSelected(add, selection, [o](Context& ctx) { return Add(ctx, *o); });

  CLI::App* list = trust->add_subcommand("list", "List trusted certificates (verified first)");
  list->add_option("--purpose", o->purpose, "Only this purpose");
  OnSelected(list, selection, [o](Context& ctx) { return List(ctx, *o); });

  CLI::App* remove = trust->add_subcommand("remove", "Remove a certificate from a bundle");
  remove->add_option("--purpose", o->purpose, "cloud, update, deployment or leaf")->required();
  remove->add_option("FINGERPRINT", o->fingerprint, "SHA-256 fingerprint (as 'trust list' shows)");
  remove->add_flag("--all", o->all,
                   "Delete the whole bundle and its MAC, even a tampered one (the way back to a "
                   "known state)");
  OnSelected(remove, selection, [o](Context& ctx) { return Remove(ctx, *o); });

  CLI::App* verify =
      trust->add_subcommand("verify", "Check every bundle against its MAC (exit 1 if tampered)");
  verify->add_option("--purpose", o->purpose, "Only this purpose");
  OnSelected(verify, selection, [o](Context& ctx) { return Verify(ctx, *o); });
}

}  // namespace edgetrust::cli
