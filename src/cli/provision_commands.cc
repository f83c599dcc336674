// provision: the device identity key and certificate, and the local device CA.
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/identity_support.h"
#include "identity/provisioning.h"

namespace edgetrust::cli {
namespace {

struct ProvisionCommandOptions {
  std::string id;
  std::string key_type = "ecdsa-p256";
  uint32_t ca_days = 3650;
  uint32_t days = 365;
  std::string cert_dir;
  bool force = false;
};

nlohmann::json ItemJson(const identity::ProvisionedItem& i) {
  return {{"identity", i.identity},    {"key", i.key},
          {"key_type", i.key_type},    {"key_created", i.key_created},
          {"issued", i.issued},        {"generation", i.generation},
          {"subject", i.subject},      {"sans", i.sans},
          {"not_after", i.not_after},  {"fingerprint", i.fingerprint},
          {"certificate", i.cert_path}};
}

void PrintItem(Output& out, const identity::ProvisionedItem& i) {
  std::string key = "key " + i.key + " (" + i.key_type + (i.key_created ? ", created" : "") + ")";
  out.Line(i.identity + ":");
  out.Line("  " + key);
  out.Line("  certificate " + i.cert_path + " (generation " + std::to_string(i.generation) +
           (i.issued ? ", issued now" : "") + ")");
  out.Line("  subject     " + i.subject);
  if (!i.sans.empty()) {
    std::string sans;
    for (const auto& s : i.sans) sans += (sans.empty() ? "" : ", ") + s;
    out.Line("  SANs        " + sans);
  }
  out.Line("  not after   " + FormatTimeOrDash(i.not_after));
  out.Line("  sha256      " + i.fingerprint);
}

Status Provision(Context& ctx, const ProvisionCommandOptions& o) {
  ET_ASSIGN_OR_RETURN(KeyType type, KeyTypeArg(o.key_type));
  identity::ProvisionOptions options;
  options.device_id = o.id;
  options.key_type = type;
  options.ca_days = o.ca_days;
  options.days = o.days;
  options.force = o.force;
  options.now = Now();
  // The daemon first: an unreachable one must not leave an empty certificate folder behind.
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, true));
  ET_ASSIGN_OR_RETURN(identity::ProvisionReport report, identity::Provision(store, *keys, options));
  if (ctx.out().json()) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& i : report.items) items.push_back(ItemJson(i));
    ctx.out().Json({{"device_id", report.device_id},
                    {"cert_dir", store.root()},
                    {"already_provisioned", report.already_provisioned},
                    {"identities", items}});
    return Status::Ok();
  }
  if (report.already_provisioned) {
    ctx.out().Line("device " + report.device_id + " is already provisioned in " + store.root() +
                   "; nothing changed (--force issues new certificates for the same keys)");
  } else {
    ctx.out().Line("provisioned device " + report.device_id + " in " + store.root());
  }
  for (const auto& i : report.items) PrintItem(ctx.out(), i);
  return Status::Ok();
}

}  // namespace

void AddProvisionCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<ProvisionCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "provision", "Give this device its identity: keys, a device CA and a device certificate");
  cmd->add_option("--id", o->id,
                  "Device id ([A-Za-z0-9._-], at most 64; default: the one provisioned, else the "
                  "host name)");
  cmd->add_option("--key-type", o->key_type, "Type of keys created (existing keys are kept)")
      ->check(CLI::IsMember({"ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-3072"}));
  cmd->add_option("--ca-days", o->ca_days, "Lifetime of the device CA certificate in days")
      ->check(CLI::Range(1, 36500));
  cmd->add_option("--days", o->days, "Lifetime of the device certificate in days")
      ->check(CLI::Range(1, 36500));
  AddCertDirOption(cmd, o->cert_dir);
  cmd->add_flag("--force", o->force,
                "Issue new certificates even if the device is provisioned (keys are kept)");
  cmd->footer(
      "Creates in the secure domain the keys device-id and device-ca (a key that exists is used "
      "as\n"
      "it is), a self-signed device CA certificate, and a device certificate it signs for TLS\n"
      "client and server use with SANs URI:urn:edgetrust:device:ID and DNS:ID. Files:\n"
      "CERT_DIR/device-id/current/{cert,chain,fullchain,key}.pem, where key.pem names the\n"
      "secure-domain key for the edgetrust OpenSSL provider. Running it again on a provisioned\n"
      "device changes nothing. 'edgetrust cert renew' keeps both certificates fresh.");
  OnSelected(cmd, selection, [o](Context& ctx) { return Provision(ctx, *o); });
}

}  // namespace edgetrust::cli
