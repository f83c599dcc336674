// Pieces shared by the command definitions: choosing the action, and the accepted key-type and
// algorithm names (checked by CLI11, so a typo is a usage error listing the valid names).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/context.h"
#include "edgetrust/types.h"

namespace edgetrust::cli {

// When `command` is parsed, `action` becomes the one main() runs.
void OnSelected(CLI::App* command, Selection& selection, Action action);

// "ecdsa-p256", ... (every KeyType).
std::vector<std::string> KeyTypeNames();
// The types a derived or agreed key may have.
std::vector<std::string> SymmetricKeyTypeNames();
// "ecdsa-sha256", ... (every SignAlgorithm but kDefault).
std::vector<std::string> SignAlgorithmNames();

// Parses names CLI11 already checked; errors only if the lists above and the parser disagree.
Result<KeyType> KeyTypeArg(const std::string& name);
Result<SignAlgorithm> SignAlgorithmArg(const std::string& name);  // "" is kDefault

}  // namespace edgetrust::cli
