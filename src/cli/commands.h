// The CLI's commands, grouped by subject. Each Add* function registers its subcommands on `app`;
// the one the user picks stores its Action in `selection` (see context.h).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace edgetrust::cli {

void AddKeyCommands(CLI::App& app, Selection& selection);        // key create|list|public|delete
void AddSignCommands(CLI::App& app, Selection& selection);       // sign, verify
void AddCipherCommands(CLI::App& app, Selection& selection);     // encrypt, decrypt, mac
void AddDeriveCommands(CLI::App& app, Selection& selection);     // derive, ecdh
void AddSystemCommands(CLI::App& app, Selection& selection);     // random, info
void AddSealCommands(CLI::App& app, Selection& selection);       // seal, unseal
void AddMeasureCommands(CLI::App& app, Selection& selection);    // measure extend|read|log
void AddCounterCommands(CLI::App& app, Selection& selection);    // counter create|increment|read
void AddAttestCommands(CLI::App& app, Selection& selection);     // attest, attest key
void AddVerifyCommands(CLI::App& app, Selection& selection);     // verify-evidence
void AddProvisionCommands(CLI::App& app, Selection& selection);  // provision
void AddCertCommands(CLI::App& app, Selection& selection);       // cert csr|import|issue|...
void AddTrustCommands(CLI::App& app, Selection& selection);      // trust add|list|remove|verify
void AddTlsCommands(CLI::App& app, Selection& selection);        // tls connect|serve
void AddAgentCommands(CLI::App& app, Selection& selection);      // status, leaf add|list|revoke
void AddManifestCommands(CLI::App& app, Selection& selection);   // manifest sign|verify|reference
void AddContainerCommands(CLI::App& app, Selection& selection);  // deploy, modules, events

}  // namespace edgetrust::cli
