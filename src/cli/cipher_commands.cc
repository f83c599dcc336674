// encrypt, decrypt, mac.
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "common/hex.h"

namespace edgetrust::cli {
namespace {

// Protocol limits: plaintexts and MAC inputs of 1 MiB; a ciphertext adds nonce (12) and tag (16).
constexpr size_t kMaxPlaintext = size_t{1} << 20;
constexpr size_t kMaxCiphertext = kMaxPlaintext + 12 + 16;
constexpr size_t kMaxAad = 65536;

struct CipherOptions {
  std::string key;
  std::string in;
  std::string out;
  std::string aad;
  std::string verify_hex;
  bool verify = false;  // --verify given, even as ""
};

Status CheckAad(const CipherOptions& o) {
  if (o.aad.size() > kMaxAad) {
    return Status(ErrorCode::kTooLarge,
                  "--aad is longer than " + std::to_string(kMaxAad) + " bytes");
  }
  return Status::Ok();
}

Status NoStdoutWithJson(Context& ctx, const std::string& out) {
  if (ctx.out().json() && out == kStdio) {
    return Status(ErrorCode::kInvalidArgument, "--out - cannot be combined with --json");
  }
  return Status::Ok();
}

Status Encrypt(Context& ctx, const CipherOptions& o) {
  ET_RETURN_IF_ERROR(NoStdoutWithJson(ctx, o.out));
  ET_RETURN_IF_ERROR(CheckAad(o));
  ET_ASSIGN_OR_RETURN(SecretBytes plaintext, ReadSecretInput(o.in, kMaxPlaintext, "input " + o.in));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(Bytes ciphertext, client->Encrypt(o.key, plaintext.view(), AsBytes(o.aad)));
  ET_RETURN_IF_ERROR(WriteOutput(o.out, ciphertext, PublicMode()));
  if (ctx.out().json()) {
    ctx.out().Json({{"key", o.key}, {"ciphertext_file", o.out}, {"bytes", ciphertext.size()}});
  }
  return Status::Ok();
}

Status Decrypt(Context& ctx, const CipherOptions& o) {
  ET_RETURN_IF_ERROR(NoStdoutWithJson(ctx, o.out));
  ET_RETURN_IF_ERROR(CheckAad(o));
  ET_ASSIGN_OR_RETURN(Bytes ciphertext, ReadInput(o.in, kMaxCiphertext, "input " + o.in));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(SecretBytes plaintext, client->Decrypt(o.key, ciphertext, AsBytes(o.aad)));
  ET_RETURN_IF_ERROR(WriteOutput(o.out, plaintext.view(), kSecretMode));
  if (ctx.out().json()) {
    ctx.out().Json({{"key", o.key}, {"plaintext_file", o.out}, {"bytes", plaintext.size()}});
  }
  return Status::Ok();
}

Status Mac(Context& ctx, const CipherOptions& o) {
  ET_RETURN_IF_ERROR(NoStdoutWithJson(ctx, o.out));
  Bytes expected;
  if (o.verify) {
    auto decoded = HexDecode(o.verify_hex);
    if (!decoded.ok())
      return Status(ErrorCode::kInvalidArgument, "--verify: " + decoded.status().message());
    expected = std::move(decoded).value();
  }
  ET_ASSIGN_OR_RETURN(Bytes data, ReadInput(o.in, kMaxPlaintext, "input " + o.in));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());

  if (o.verify) {
    // The daemon compares in constant time; the CLI never sees the correct MAC.
    ET_ASSIGN_OR_RETURN(bool valid, client->MacVerify(o.key, data, expected));
    if (ctx.out().json()) {
      ctx.out().Json({{"valid", valid}});
    } else if (valid) {
      ctx.out().Line("MAC is valid");
    }
    if (!valid) return Status(ErrorCode::kVerifyFailed, "MAC does not match");
    return Status::Ok();
  }

  ET_ASSIGN_OR_RETURN(Bytes mac, client->Mac(o.key, data));
  const std::string hex = HexEncode(mac);
  if (!o.out.empty()) {
    ET_RETURN_IF_ERROR(WriteOutput(o.out, mac, PublicMode()));
    if (ctx.out().json()) ctx.out().Json({{"key", o.key}, {"mac", hex}, {"mac_file", o.out}});
    return Status::Ok();
  }
  if (ctx.out().json()) {
    ctx.out().Json({{"key", o.key}, {"mac", hex}});
  } else {
    ctx.out().Line(hex);
  }
  return Status::Ok();
}

}  // namespace

void AddCipherCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<CipherOptions>();

  CLI::App* enc = app.add_subcommand("encrypt", "Encrypt a file with an aes-256 key (AES-256-GCM)");
  enc->add_option("NAME", o->key, "Encryption key, or OWNER/NAME")->required();
  enc->add_option("--in", o->in, "Plaintext file, at most 1 MiB ('-': stdin)")->required();
  enc->add_option("--out", o->out, "Where to write the ciphertext ('-': stdout)")->required();
  enc->add_option("--aad", o->aad,
                  "Associated data: authenticated, not encrypted; decrypt needs the same");
  enc->footer(
      "Output layout: nonce (12 bytes) | ciphertext | tag (16 bytes). The nonce is random.");
  OnSelected(enc, selection, [o](Context& ctx) { return Encrypt(ctx, *o); });

  CLI::App* dec = app.add_subcommand("decrypt", "Decrypt a file made by 'edgetrust encrypt'");
  dec->add_option("NAME", o->key, "Encryption key, or OWNER/NAME")->required();
  dec->add_option("--in", o->in, "Ciphertext file ('-': stdin)")->required();
  dec->add_option("--out", o->out, "Where to write the plaintext, mode 0600 ('-': stdout)")
      ->required();
  dec->add_option("--aad", o->aad, "Associated data given to encrypt");
  dec->footer(
      "Fails, writing nothing, if the ciphertext was changed or the key or --aad do not match.");
  OnSelected(dec, selection, [o](Context& ctx) { return Decrypt(ctx, *o); });

  CLI::App* mac = app.add_subcommand("mac", "Compute or check an HMAC-SHA256 of a file");
  mac->add_option("NAME", o->key, "hmac-sha256 key, or OWNER/NAME")->required();
  mac->add_option("--in", o->in, "Input file, at most 1 MiB ('-': stdin)")->required();
  CLI::Option* out =
      mac->add_option("--out", o->out, "Write the raw MAC to this file instead of hex to stdout");
  mac->add_option("--verify", o->verify_hex, "Check that the input has this MAC (hex)")
      ->excludes(out)
      ->each([o](const std::string&) { o->verify = true; });
  mac->footer("With --verify the exit status is 0 if the MAC matches and 1 if it does not.");
  OnSelected(mac, selection, [o](Context& ctx) { return Mac(ctx, *o); });
}

}  // namespace edgetrust::cli
