// What every CLI command gets when it runs: the global options, the output printer and a lazily
// opened connection to the daemon.
//
// Commands are registered with CLI11 before parsing; the one the user picked stores an Action in
// the Selection, and main() builds the Context and runs it after parsing, so commands never run
// inside CLI11's parser and report failures as Status values (main prints them and picks the exit
// code). Not thread-safe: the CLI is single-threaded.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "cli/output.h"
#include "edgetrust/client.h"
#include "edgetrust/status.h"

namespace edgetrust::cli {

struct GlobalOptions {
  std::string socket;  // empty: $EDGETRUST_SOCKET, then kDefaultSocketPath (Client::Connect)
  bool json = false;
};

class Context {
 public:
  explicit Context(const GlobalOptions& options) : options_(options), out_(options.json) {}

  const GlobalOptions& options() const { return options_; }
  Output& out() { return out_; }
  // Connects on first use, so commands that fail on their arguments never touch the socket.
  Result<Client*> client();

 private:
  const GlobalOptions& options_;
  Output out_;
  std::unique_ptr<Client> client_;
};

using Action = std::function<Status(Context&)>;

// The command chosen on the command line; empty until a subcommand's callback fills it.
struct Selection {
  Action action;
};

}  // namespace edgetrust::cli
