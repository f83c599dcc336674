// derive, ecdh: new keys computed inside the secure domain from existing ones.
#include <memory>
#include <optional>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "common/hex.h"

namespace edgetrust::cli {
namespace {

// Protocol limits for HKDF inputs and a peer's public key.
constexpr size_t kMaxInfo = 1024;
constexpr size_t kMaxSalt = 256;
constexpr size_t kMaxPeerPublic = 4096;

struct DeriveOptions {
  std::string key;
  std::string new_name;
  std::string info;
  std::string salt_hex;
  std::string type;
  std::string peer;
};

Result<std::optional<KeyType>> OptionalType(const std::string& type) {
  if (type.empty()) return std::optional<KeyType>();
  ET_ASSIGN_OR_RETURN(KeyType t, KeyTypeArg(type));
  return std::optional<KeyType>(t);
}

Status CheckInfo(const std::string& info) {
  if (info.size() > kMaxInfo) {
    return Status(ErrorCode::kTooLarge,
                  "--info is longer than " + std::to_string(kMaxInfo) + " bytes");
  }
  return Status::Ok();
}

Status Derive(Context& ctx, const DeriveOptions& o) {
  ET_RETURN_IF_ERROR(CheckInfo(o.info));
  auto salt = HexDecode(o.salt_hex);
  if (!salt.ok()) return Status(ErrorCode::kInvalidArgument, "--salt: " + salt.status().message());
  if (salt->size() > kMaxSalt) {
    return Status(ErrorCode::kTooLarge,
                  "--salt is longer than " + std::to_string(kMaxSalt) + " bytes");
  }
  ET_ASSIGN_OR_RETURN(auto type, OptionalType(o.type));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(KeyInfo key, client->Derive(o.key, o.new_name, AsBytes(o.info), *salt, type));
  PrintKey(ctx.out(), key);
  return Status::Ok();
}

Status Ecdh(Context& ctx, const DeriveOptions& o) {
  ET_RETURN_IF_ERROR(CheckInfo(o.info));
  ET_ASSIGN_OR_RETURN(auto type, OptionalType(o.type));
  ET_ASSIGN_OR_RETURN(Bytes peer, ReadInput(o.peer, kMaxPeerPublic, "peer public key " + o.peer));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(KeyInfo key, client->Ecdh(o.key, peer, o.new_name, AsBytes(o.info), type));
  PrintKey(ctx.out(), key);
  return Status::Ok();
}

}  // namespace

void AddDeriveCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<DeriveOptions>();

  CLI::App* derive = app.add_subcommand("derive", "Derive a new key from a key with HKDF-SHA256");
  derive->add_option("BASE", o->key, "Base key (usually hmac-sha256), or OWNER/NAME")->required();
  derive->add_option("NEWNAME", o->new_name, "Name of the derived key (created in your namespace)")
      ->required();
  derive->add_option("--info", o->info, "HKDF info: what the key is for, e.g. 'mqtt-session v1'")
      ->required();
  derive->add_option("--salt", o->salt_hex, "HKDF salt in hex (default: none)");
  derive->add_option("--type", o->type, "Type of the derived key (default: the base key's)")
      ->check(CLI::IsMember(SymmetricKeyTypeNames()));
  derive->footer(
      "The same base, salt and info always give the same key, so two parties holding\n"
      "the same base key derive matching keys without exchanging them.");
  OnSelected(derive, selection, [o](Context& ctx) { return Derive(ctx, *o); });

  CLI::App* ecdh =
      app.add_subcommand("ecdh", "Agree a new key with a peer (ECDH P-256 + HKDF-SHA256)");
  ecdh->add_option("NAME", o->key, "Your ecdsa-p256 key, or OWNER/NAME")->required();
  ecdh->add_option("NEWNAME", o->new_name, "Name of the agreed key (created in your namespace)")
      ->required();
  ecdh->add_option("--peer", o->peer,
                   "Peer's public key, PEM or DER SubjectPublicKeyInfo ('-': stdin)")
      ->required();
  ecdh->add_option("--info", o->info, "HKDF info (default: empty)");
  ecdh->add_option("--type", o->type, "Type of the agreed key (default: hmac-sha256)")
      ->check(CLI::IsMember(SymmetricKeyTypeNames()));
  ecdh->footer(
      "Give the peer the output of 'edgetrust key public NAME'; the peer does the same\n"
      "with yours and the same --info, and both end up with the same key.");
  OnSelected(ecdh, selection, [o](Context& ctx) { return Ecdh(ctx, *o); });
}

}  // namespace edgetrust::cli
