// sign, verify.
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/file_signing.h"
#include "cli/io.h"

namespace edgetrust::cli {
namespace {

// Signature field limit of the protocol: no real signature comes close (RSA-3072 is 384 bytes).
constexpr size_t kMaxSignatureFile = 1024;

struct SignCommandOptions {
  std::string key;
  std::string in;
  std::string out;
  std::string sig;
  std::string alg;
};

Status Sign(Context& ctx, const SignCommandOptions& o) {
  if (ctx.out().json() && o.out == kStdio) {
    return Status(ErrorCode::kInvalidArgument, "--out - cannot be combined with --json");
  }
  ET_ASSIGN_OR_RETURN(SignAlgorithm alg, SignAlgorithmArg(o.alg));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(SignedInput signed_input, SignInput(*client, o.key, o.in, alg));
  ET_RETURN_IF_ERROR(WriteOutput(o.out, signed_input.signature, PublicMode()));
  if (ctx.out().json()) {
    // Name the algorithm actually used. If the daemon picked the key's default, ask the key's
    // type; a grant without "public" leaves it at "default" rather than failing a good signature.
    SignAlgorithm used = signed_input.algorithm;
    if (used == SignAlgorithm::kDefault) {
      auto resolved = ResolveForKey(*client, o.key, used);
      if (resolved.ok()) used = *resolved;
    }
    ctx.out().Json({{"key", o.key},
                    {"signature_file", o.out},
                    {"algorithm", std::string(SignAlgorithmName(used))}});
  }
  return Status::Ok();
}

Status Verify(Context& ctx, const SignCommandOptions& o) {
  if (o.in == kStdio && o.sig == kStdio) {
    return Status(ErrorCode::kInvalidArgument, "--in and --sig cannot both be stdin");
  }
  ET_ASSIGN_OR_RETURN(SignAlgorithm alg, SignAlgorithmArg(o.alg));
  ET_ASSIGN_OR_RETURN(Bytes signature,
                      ReadInput(o.sig, kMaxSignatureFile, "signature file " + o.sig));
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(bool valid, VerifyInput(*client, o.key, o.in, signature, alg));
  if (ctx.out().json()) {
    ctx.out().Json({{"valid", valid}});
  } else if (valid) {
    ctx.out().Line("signature is valid");
  }
  if (!valid) return Status(ErrorCode::kVerifyFailed, "signature is not valid");
  return Status::Ok();
}

}  // namespace

void AddSignCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<SignCommandOptions>();
  const std::string size_note =
      "Inputs up to 1 MiB are sent whole and hashed by the daemon. Larger inputs are hashed here\n"
      "(SHA-256 for P-256 and RSA, SHA-384 for P-384, or the digest of --alg) and only the digest\n"
      "is sent; Ed25519 keys cannot do that and sign at most 1 MiB.";

  CLI::App* sign = app.add_subcommand("sign", "Sign a file with a key");
  sign->add_option("NAME", o->key, "Signing key, or OWNER/NAME")->required();
  sign->add_option("--in", o->in, "File to sign ('-': stdin)")->required();
  sign->add_option("--out", o->out, "Where to write the signature ('-': stdout)")->required();
  sign->add_option("--alg", o->alg, "Signature algorithm (default: the key type's)")
      ->check(CLI::IsMember(SignAlgorithmNames()));
  sign->footer(
      "Signatures are ECDSA (DER), RSA-PSS (salt length = digest length) or RSASSA-PKCS1-v1_5,\n"
      "or Ed25519, and verify with openssl, e.g.\n"
      "  openssl dgst -sha256 -verify pub.pem -signature SIG FILE\n" +
      size_note);
  OnSelected(sign, selection, [o](Context& ctx) { return Sign(ctx, *o); });

  CLI::App* verify = app.add_subcommand("verify", "Check a signature over a file");
  verify->add_option("NAME", o->key, "Key that made the signature, or OWNER/NAME")->required();
  verify->add_option("--in", o->in, "Signed file ('-': stdin)")->required();
  verify->add_option("--sig", o->sig, "Signature file ('-': stdin)")->required();
  verify->add_option("--alg", o->alg, "Signature algorithm (default: the key type's)")
      ->check(CLI::IsMember(SignAlgorithmNames()));
  verify->footer("Exit status: 0 if the signature is valid, 1 if it is not or the check failed.\n" +
                 size_note);
  OnSelected(verify, selection, [o](Context& ctx) { return Verify(ctx, *o); });
}

}  // namespace edgetrust::cli
