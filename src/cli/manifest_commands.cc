// manifest sign | verify | reference: deployment manifests (docs/deployment.md) signed with a
// PEM key or a secure-domain key, verified against a trust bundle, and turned into reference
// values for verify-evidence.
#include <openssl/pem.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/identity_support.h"
#include "cli/io.h"
#include "common/hex.h"
#include "deploy/effective_config.h"
#include "deploy/manifest.h"
#include "deploy/signature.h"
#include "identity/certificate.h"
#include "identity/trust_store.h"
#include "provider/load_key.h"

namespace edgetrust::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kSdKeyPrefix = "edgetrust:";
constexpr size_t kMaxKeyFile = 64 * 1024;

struct ManifestOptions {
  std::string manifest;
  std::vector<std::string>
      manifests;  // reference: every deployment since the secure domain started
  std::string key;
  std::string cert;
  std::string chain;
  std::string out;
  std::string sig;
  std::string trust;
  std::string cert_dir;
  bool allow_emulated = false;
  uint64_t max_age = 0;
};

Status InFile(const std::string& option, const Status& st) {
  return Status(st.code(), option + ": " + st.message());
}

struct LoadedManifest {
  Bytes bytes;
  deploy::Manifest manifest;
};

Result<LoadedManifest> LoadManifest(const std::string& path) {
  auto bytes = ReadInput(path, deploy::kMaxManifestBytes, "manifest");
  if (!bytes.ok()) return InFile("--manifest", bytes.status());
  auto manifest = deploy::ParseManifest(*bytes);
  if (!manifest.ok()) return InFile("--manifest " + path, manifest.status());
  return LoadedManifest{std::move(bytes).value(), std::move(manifest).value()};
}

// Never asks for a passphrase: encrypted PEM keys are refused rather than prompted for.
int NoPassphrase(char*, int, int, void*) { return -1; }

Result<EvpPkeyPtr> LoadSigningKey(Context& ctx, const std::string& key) {
  if (key.compare(0, kSdKeyPrefix.size(), kSdKeyPrefix) == 0) {
    const std::string name = key.substr(kSdKeyPrefix.size());
    if (name.empty())
      return Status(ErrorCode::kInvalidArgument, "--key: edgetrust: needs a key name");
    auto loaded = provider::LoadKey(name, ctx.options().socket);
    if (!loaded.ok()) return InFile("--key " + key, loaded.status());
    return loaded;
  }
  auto pem = ReadSecretInput(key, kMaxKeyFile, "key file");
  if (!pem.ok()) return InFile("--key", pem.status());
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  EvpPkeyPtr pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr)
                      : nullptr);
  if (!pkey) {
    return Status(ErrorCode::kInvalidArgument,
                  OpensslError("--key " + key + ": not an unencrypted PEM private key"));
  }
  return pkey;
}

Result<std::vector<X509Ptr>> LoadCertFile(const std::string& option, const std::string& path,
                                          bool allow_empty) {
  auto text = ReadTextInput(path, identity::kMaxCertificateFileSize, path);
  if (!text.ok()) return InFile(option, text.status());
  auto certs = allow_empty ? identity::ParseCertificatesOrEmpty(*text, path)
                           : identity::ParseCertificates(*text, path);
  if (!certs.ok()) return InFile(option, certs.status());
  return certs;
}

Status Sign(Context& ctx, const ManifestOptions& o) {
  ET_ASSIGN_OR_RETURN(LoadedManifest m, LoadManifest(o.manifest));
  ET_ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, LoadCertFile("--cert", o.cert, false));
  std::vector<X509Ptr> chain;
  // Certificates after the first in --cert are intermediates too.
  for (size_t i = 1; i < certs.size(); ++i) chain.push_back(std::move(certs[i]));
  if (!o.chain.empty()) {
    ET_ASSIGN_OR_RETURN(std::vector<X509Ptr> more, LoadCertFile("--chain", o.chain, true));
    for (auto& c : more) chain.push_back(std::move(c));
  }
  ET_ASSIGN_OR_RETURN(EvpPkeyPtr key, LoadSigningKey(ctx, o.key));
  ET_ASSIGN_OR_RETURN(Bytes sig, deploy::SignManifest(m.bytes, key.get(), certs[0].get(), chain));
  ET_RETURN_IF_ERROR(WriteOutput(o.out, sig, PublicMode()));
  const std::string signer = identity::Fingerprint(certs[0].get());
  if (ctx.out().json()) {
    ctx.out().Json({{"signature", o.out},
                    {"bytes", sig.size()},
                    {"signer_fingerprint", signer},
                    {"deployment", m.manifest.deployment},
                    {"sequence", m.manifest.sequence},
                    {"digest", m.manifest.digest}});
  } else if (o.out != kStdio) {
    ctx.out().Line("signed deployment " + m.manifest.deployment + " sequence " +
                   std::to_string(m.manifest.sequence) + " (" + m.manifest.digest + ")");
    ctx.out().Line("signer: " + signer);
    ctx.out().Line("signature: " + o.out);
  }
  return Status::Ok();
}

Result<std::vector<X509Ptr>> TrustedSigners(Context& ctx, const ManifestOptions& o) {
  if (!o.trust.empty()) return LoadCertFile("--trust", o.trust, false);
  ET_ASSIGN_OR_RETURN(identity::CertStore store, OpenCertStore(o.cert_dir, false));
  ET_ASSIGN_OR_RETURN(auto keys, KeyServiceFor(ctx));
  identity::TrustStore trust(store, *keys);
  return trust.Load(identity::TrustPurpose::kDeployment);
}

Status Verify(Context& ctx, const ManifestOptions& o) {
  auto bytes = ReadInput(o.manifest, deploy::kMaxManifestBytes, "manifest");
  if (!bytes.ok()) return InFile("--manifest", bytes.status());
  auto sig = ReadInput(o.sig, deploy::kMaxSignatureBytes, "signature");
  if (!sig.ok()) return InFile("--sig", sig.status());
  ET_ASSIGN_OR_RETURN(std::vector<X509Ptr> trusted, TrustedSigners(ctx, o));
  // The signature first: a changed manifest is reported as what it is, not as a syntax error.
  ET_ASSIGN_OR_RETURN(deploy::SignerInfo signer,
                      deploy::VerifyManifestSignature(*bytes, *sig, trusted));
  auto parsed = deploy::ParseManifest(*bytes);
  if (!parsed.ok()) return InFile("--manifest " + o.manifest, parsed.status());
  const LoadedManifest m{std::move(bytes).value(), std::move(parsed).value()};
  json modules = json::array();
  std::vector<std::vector<std::string>> rows = {{"MODULE", "IMAGE", "MEASUREMENT"}};
  for (const auto& mod : m.manifest.modules) {
    const std::string measurement = HexEncode(deploy::Measure(deploy::FromManifest(mod)));
    modules.push_back({{"name", mod.name}, {"image", mod.image}, {"measurement", measurement}});
    rows.push_back({mod.name, mod.image, measurement});
  }
  if (ctx.out().json()) {
    ctx.out().Json({{"verified", true},
                    {"signer", {{"subject", signer.subject}, {"fingerprint", signer.fingerprint}}},
                    {"deployment", m.manifest.deployment},
                    {"sequence", m.manifest.sequence},
                    {"created", m.manifest.created},
                    {"digest", m.manifest.digest},
                    {"modules", modules}});
    return Status::Ok();
  }
  ctx.out().Line("manifest: verified");
  ctx.out().Line("signer: " + signer.subject + " (sha256 " + signer.fingerprint + ")");
  ctx.out().Line("deployment: " + m.manifest.deployment);
  ctx.out().Line("sequence: " + std::to_string(m.manifest.sequence));
  if (!m.manifest.created.empty()) ctx.out().Line("created: " + m.manifest.created);
  ctx.out().Line("digest: " + m.manifest.digest);
  PrintTable(ctx.out(), rows);
  return Status::Ok();
}

Status Reference(Context& ctx, const ManifestOptions& o) {
  // Register 2 holds every deployment since the secure domain started: the reference lists the
  // events of each manifest given, once each.
  json events = json::array();
  std::set<std::string> seen;
  auto add = [&](const std::string& digest) {
    if (seen.insert(digest).second) {
      events.push_back({{"register", kRegisterContainers}, {"digest", digest}});
    }
  };
  for (const auto& path : o.manifests) {
    ET_ASSIGN_OR_RETURN(LoadedManifest m, LoadManifest(path));
    add(HexEncode(deploy::ManifestDigest(m.manifest)));
    for (const auto& mod : m.manifest.modules) {
      add(HexEncode(deploy::Measure(deploy::FromManifest(mod))));
    }
  }
  json ref = {{"events", events},
              {"exclusive_registers", {kRegisterContainers}},
              {"allow_emulated", o.allow_emulated}};
  if (o.max_age > 0) ref["max_age_seconds"] = o.max_age;
  if (ctx.out().json()) {
    ctx.out().Json(ref);
  } else {
    ctx.out().Line(ref.dump(2));
  }
  return Status::Ok();
}

}  // namespace

void AddManifestCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<ManifestOptions>();
  CLI::App* manifest = app.add_subcommand(
      "manifest", "Deployment manifests: sign, verify, and reference values for attestation");
  manifest->require_subcommand(1);
  manifest->footer(
      "A manifest (format edgetrust-deployment/1, docs/deployment.md) lists the modules the\n"
      "gateway runs, pinned by image id. Its signature is a detached CMS SignedData (DER) that\n"
      "`openssl cms -verify -binary -inform DER -content MANIFEST` also checks.");

  CLI::App* sign = manifest->add_subcommand("sign", "Sign a manifest (detached CMS, DER)");
  sign->add_option("--manifest", o->manifest, "The manifest (JSON), or - for stdin")->required();
  sign->add_option("--key", o->key,
                   "PEM private key file, or edgetrust:NAME for a secure-domain key")
      ->required();
  sign->add_option("--cert", o->cert,
                   "The signer's certificate (PEM; more certificates after "
                   "it are included as intermediates)")
      ->required();
  sign->add_option("--chain", o->chain, "Intermediate CA certificates to include (PEM)");
  sign->add_option("--out", o->out, "Where to write the signature, or - for stdout")->required();
  sign->footer(
      "The manifest is checked first: an invalid one is not signed. The certificate must\n"
      "certify the key; with keyUsage it must allow digitalSignature.");
  OnSelected(sign, selection, [o](Context& ctx) { return Sign(ctx, *o); });

  CLI::App* verify = manifest->add_subcommand(
      "verify", "Verify a manifest's signature and show what it deploys (exit 1 if it fails)");
  verify->add_option("--manifest", o->manifest, "The manifest (JSON)")->required();
  verify->add_option("--sig", o->sig, "Its detached signature (DER)")->required();
  verify->add_option("--trust", o->trust,
                     "CA certificates to trust (PEM); default: the device's deployment trust "
                     "bundle (edgetrust trust add --purpose deployment)");
  AddCertDirOption(verify, o->cert_dir);
  verify->footer(
      "Prints the signer, the deployment, its sequence and digest, and each module with its\n"
      "image id and measurement (the digest its register-2 event carries).");
  OnSelected(verify, selection, [o](Context& ctx) { return Verify(ctx, *o); });

  CLI::App* reference = manifest->add_subcommand(
      "reference", "Print reference values (JSON) that verify-evidence checks a deployment with");
  reference
      ->add_option("--manifest", o->manifests,
                   "The manifest (JSON); repeat it for every deployment accepted since the "
                   "secure domain started, oldest first")
      ->required();
  reference->add_flag("--allow-emulated", o->allow_emulated,
                      "Accept evidence of the emulated backend (no secure hardware)");
  reference->add_option("--max-age", o->max_age, "Maximum age of the evidence, in seconds");
  reference->footer(
      "Register 2 must hold the manifest's event (SHA-256 of its exact bytes) and one event per\n"
      "module (its measurement), and nothing else (exclusive_registers): any other register-2\n"
      "event fails the verification. Descriptions are not pinned, only register and digest.\n"
      "Register 2 keeps every deployment since the secure domain started: give each of their\n"
      "manifests (--manifest A --manifest B).\n"
      "Use: edgetrust verify-evidence ... --log log.json --reference <this output>");
  OnSelected(reference, selection, [o](Context& ctx) { return Reference(ctx, *o); });
}

}  // namespace edgetrust::cli
