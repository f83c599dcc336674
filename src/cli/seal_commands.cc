// seal, unseal: data only this secure domain, for this caller, can open.
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/io.h"

namespace edgetrust::cli {
namespace {

constexpr size_t kMaxSealData = size_t{1} << 20;
// A blob adds at most: 10 header bytes, 16 register values, the owner and nonce and tag.
constexpr size_t kMaxBlob = kMaxSealData + 10 + 16 * 32 + 2 + 128 + 12 + 16;

struct SealOptions {
  std::string in;
  std::string out;
  std::vector<uint32_t> registers;
};

Status Seal(Context& ctx, const SealOptions& o) {
  if (ctx.out().json() && o.out == kStdio) {
    return Status(ErrorCode::kInvalidArgument, "--out - cannot be combined with --json");
  }
  ET_ASSIGN_OR_RETURN(SecretBytes data, ReadSecretInput(o.in, kMaxSealData, "input " + o.in));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(Bytes blob, client->Seal(data.view(), o.registers));
  ET_RETURN_IF_ERROR(WriteOutput(o.out, blob, PublicMode()));
  if (ctx.out().json()) {
    ctx.out().Json({{"blob_file", o.out}, {"bytes", blob.size()}, {"registers", o.registers}});
  }
  return Status::Ok();
}

Status Unseal(Context& ctx, const SealOptions& o) {
  if (ctx.out().json() && o.out == kStdio) {
    return Status(ErrorCode::kInvalidArgument, "--out - cannot be combined with --json");
  }
  ET_ASSIGN_OR_RETURN(Bytes blob, ReadInput(o.in, kMaxBlob, "sealed blob " + o.in));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(SecretBytes data, client->Unseal(blob));
  ET_RETURN_IF_ERROR(WriteOutput(o.out, data.view(), kSecretMode));
  if (ctx.out().json()) ctx.out().Json({{"plaintext_file", o.out}, {"bytes", data.size()}});
  return Status::Ok();
}

}  // namespace

void AddSealCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<SealOptions>();

  CLI::App* seal = app.add_subcommand(
      "seal", "Seal data so that only this secure domain, for this caller, can unseal it");
  seal->add_option("--in", o->in, "Data to seal, at most 1 MiB ('-': stdin)")->required();
  seal->add_option("--out", o->out, "Where to write the sealed blob ('-': stdout)")->required();
  seal->add_option("--bind-registers", o->registers,
                   "Also bind to the current values of these measurement registers "
                   "(comma-separated, 0-15): unsealing fails once any of them changed")
      ->delimiter(',')
      ->check(CLI::Range(0, 15));
  seal->footer(
      "The blob format is in docs/attestation.md (\"Sealed blobs\"). It can be stored anywhere:\n"
      "any change to it is detected.");
  OnSelected(seal, selection, [o](Context& ctx) { return Seal(ctx, *o); });

  CLI::App* unseal = app.add_subcommand("unseal", "Unseal a blob made by 'edgetrust seal'");
  unseal->add_option("--in", o->in, "Sealed blob ('-': stdin)")->required();
  unseal->add_option("--out", o->out, "Where to write the data, mode 0600 ('-': stdout)")
      ->required();
  unseal->footer(
      "Fails, writing nothing, if the blob was changed (tampered), was sealed by another caller\n"
      "(permission-denied) or is bound to registers that changed since (failed-precondition).");
  OnSelected(unseal, selection, [o](Context& ctx) { return Unseal(ctx, *o); });
}

}  // namespace edgetrust::cli
