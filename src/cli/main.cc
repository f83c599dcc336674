// edgetrust: the command-line client of edgetrust-sd. This file only wires the pieces together:
// global options, the commands (commands.h), parsing, and exit codes.
//
// Exit status: 0 on success; 1 on any failure, after one "edgetrust: <code>: <reason>" line on
// stderr (a signature or MAC that does not verify is such a failure); 2 for a usage error, after
// CLI11's message.
#include <CLI/CLI.hpp>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "cli/context.h"
#include "cli/io.h"
#include "cli/output.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int Run(int argc, char** argv) {
  using namespace edgetrust::cli;

  CLI::App app(
      "EdgeTrust: keys, cryptography, sealing, measurements, attestation and certificates in the "
      "gateway's secure domain",
      "edgetrust");
  // Subcommands inherit fallthrough, so --socket and --json work before or after them.
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", EDGETRUST_VERSION);

  GlobalOptions options;
  app.add_option("--socket", options.socket,
                 "Daemon socket (default: $EDGETRUST_SOCKET, else /run/edgetrust/sd.sock)");
  app.add_flag("--json", options.json, "Print results as one JSON value on stdout");
  app.footer("Run 'edgetrust COMMAND --help' for a command's options.");

  Selection selection;
  AddKeyCommands(app, selection);
  AddSignCommands(app, selection);
  AddCipherCommands(app, selection);
  AddDeriveCommands(app, selection);
  AddSystemCommands(app, selection);
  AddSealCommands(app, selection);
  AddMeasureCommands(app, selection);
  AddCounterCommands(app, selection);
  AddAttestCommands(app, selection);
  AddVerifyCommands(app, selection);
  AddProvisionCommands(app, selection);
  AddCertCommands(app, selection);
  AddTrustCommands(app, selection);
  AddTlsCommands(app, selection);
  AddAgentCommands(app, selection);
  AddManifestCommands(app, selection);
  AddContainerCommands(app, selection);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!selection.action) return kExitUsage;  // unreachable: require_subcommand guarantees one

  Context ctx(options);
  edgetrust::Status status = selection.action(ctx);
  if (status.ok()) status = FlushStdout();
  if (!status.ok()) {
    // "CODE: reason": the code name is stable (docs/protocol.md) so scripts can match it; the
    // reason is for people.
    const std::string code(edgetrust::ErrorCodeName(status.code()));
    PrintError(status.message().empty() ? code : code + ": " + status.message());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // Commands report errors as Status values; this only catches what must never happen
  // (std::bad_alloc, a library bug) so that it, too, ends with one error line.
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    edgetrust::cli::PrintError(std::string("internal error: ") + e.what());
  } catch (...) {
    edgetrust::cli::PrintError("internal error");
  }
  return kExitFailure;
}
