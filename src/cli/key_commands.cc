// key create | list | public | delete.
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/io.h"

namespace edgetrust::cli {
namespace {

struct KeyOptions {
  std::string name;
  std::string type;
  std::string owner;
  std::string out;
};

Status Create(Context& ctx, const KeyOptions& o) {
  ET_ASSIGN_OR_RETURN(KeyType type, KeyTypeArg(o.type));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(KeyInfo key, client->CreateKey(o.name, type));
  PrintKey(ctx.out(), key);
  return Status::Ok();
}

Status List(Context& ctx, const KeyOptions& o) {
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(auto keys, client->ListKeys(o.owner));
  PrintKeyTable(ctx.out(), keys);
  return Status::Ok();
}

Status Public(Context& ctx, const KeyOptions& o) {
  if (ctx.out().json() && o.out == kStdio) {
    return Status(ErrorCode::kInvalidArgument, "--out - cannot be combined with --json");
  }
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(std::string pem, client->PublicKeyPem(o.name));
  if (o.out.empty()) {
    if (ctx.out().json()) {
      ctx.out().Json({{"key", o.name}, {"pem", pem}});
    } else {
      WriteStdout(pem);
    }
    return Status::Ok();
  }
  ET_RETURN_IF_ERROR(WriteOutput(o.out, AsBytes(pem), PublicMode()));
  if (ctx.out().json()) ctx.out().Json({{"key", o.name}, {"public_key_file", o.out}});
  return Status::Ok();
}

Status Delete(Context& ctx, const KeyOptions& o) {
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_RETURN_IF_ERROR(client->DeleteKey(o.name));
  if (ctx.out().json()) ctx.out().Json({{"key", o.name}, {"deleted", true}});
  return Status::Ok();
}

}  // namespace

void AddKeyCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<KeyOptions>();
  CLI::App* key = app.add_subcommand("key", "Create, list, export and delete keys");
  key->require_subcommand(1);
  key->footer(
      "Keys live in the secure domain; only their names cross to this program. A key of another\n"
      "principal that granted you access is named OWNER/NAME, e.g. uid:0/device-id.");

  CLI::App* create = key->add_subcommand("create", "Create a key and print its information");
  create->add_option("NAME", o->name, "Name of the new key ([A-Za-z0-9._-], at most 64)")
      ->required();
  create->add_option("--type", o->type, "Key type")
      ->required()
      ->check(CLI::IsMember(KeyTypeNames()));
  create->footer(
      "Types: ecdsa-p256, ecdsa-p384, ed25519 and rsa-3072 sign; aes-256 encrypts (AES-256-GCM);\n"
      "hmac-sha256 computes MACs and is the usual base for 'edgetrust derive'.");
  OnSelected(create, selection, [o](Context& ctx) { return Create(ctx, *o); });

  CLI::App* list =
      key->add_subcommand("list", "List keys: name, type, owner, creation time, state");
  list->add_option("--owner", o->owner,
                   "List the keys of this principal instead of yours (admins)");
  list->footer("A state other than 'ok' means the stored key failed its integrity check.");
  OnSelected(list, selection, [o](Context& ctx) { return List(ctx, *o); });

  CLI::App* pub =
      key->add_subcommand("public", "Print a key's public key (PEM SubjectPublicKeyInfo)");
  pub->add_option("NAME", o->name, "Key name, or OWNER/NAME")->required();
  pub->add_option("--out", o->out, "Write the PEM to this file instead of stdout");
  pub->footer("The PEM can be checked with 'openssl pkey -pubin -in FILE -text -noout'.");
  OnSelected(pub, selection, [o](Context& ctx) { return Public(ctx, *o); });

  CLI::App* del = key->add_subcommand("delete", "Delete a key for good");
  del->add_option("NAME", o->name, "Key name, or OWNER/NAME")->required();
  del->footer(
      "There is no undo: data encrypted or MACs made with the key can no longer be checked.");
  OnSelected(del, selection, [o](Context& ctx) { return Delete(ctx, *o); });
}

}  // namespace edgetrust::cli
