// edgetrust-sd: the secure-domain daemon. This file only wires the parts together.
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <memory>

#include "common/files.h"
#include "sd/config.h"
#include "sd/dispatcher.h"
#include "sd/emulated_backend.h"
#include "sd/hardening.h"
#include "sd/pkcs11/pkcs11_backend.h"
#include "sd/registers.h"
#include "sd/server.h"
#include "sd/state_dir.h"
#include "sd/tpm/tpm_backend.h"
#include "sd/version.h"

namespace {

edgetrust::sd::Server* g_server = nullptr;

void OnSignal(int) {
  if (g_server != nullptr) g_server->Stop();
}

struct Flags {
  std::string state_dir;
  std::string socket = "/run/edgetrust/sd.sock";
  std::string backend = "emulated";
  std::string config;
  std::string user;
  std::string log_level;
  bool no_seccomp = false;
  edgetrust::sd::TpmOptions tpm;
  edgetrust::sd::Pkcs11Options pkcs11;
};

int Fail(const edgetrust::Status& st) {
  spdlog::error("event=fatal error=\"{}\"", st.ToString());
  return 1;
}

edgetrust::Result<std::unique_ptr<edgetrust::sd::Backend>> OpenBackend(
    const Flags& flags, const edgetrust::sd::StateDir& state) {
  using namespace edgetrust;
  using namespace edgetrust::sd;
  if (flags.backend == "tpm") return CreateTpmBackend(state, flags.tpm);
  if (flags.backend == "pkcs11") {
    if (flags.pkcs11.module.empty() || flags.pkcs11.token_label.empty() ||
        flags.pkcs11.pin_file.empty()) {
      return Status(ErrorCode::kInvalidArgument,
                    "--backend pkcs11 needs --pkcs11-module, --pkcs11-token and --pkcs11-pin-file");
    }
    return CreatePkcs11Backend(state, flags.pkcs11);
  }
  ET_ASSIGN_OR_RETURN(auto emulated, EmulatedBackend::Create(state));
  return std::unique_ptr<Backend>(std::move(emulated));
}

int RunDaemon(const Flags& flags) {
  using namespace edgetrust;
  using namespace edgetrust::sd;

  sd::DaemonConfig config;
  if (!flags.config.empty()) {
    auto loaded = LoadConfigFile(flags.config);
    if (!loaded.ok()) return Fail(loaded.status());
    config = std::move(loaded).value();
  }
  if (!flags.user.empty()) config.user = flags.user;
  if (!flags.log_level.empty()) config.log_level = flags.log_level;
  if (flags.no_seccomp) config.seccomp = false;
  spdlog::set_level(spdlog::level::from_str(config.log_level));

  if (Status st = RestrictProcess(); !st.ok()) return Fail(st);

  std::string run_as = "(unchanged)";
  if (::geteuid() == 0) {
    auto user = LookUpUser(config.user);
    if (!user.ok()) return Fail(user.status());
    if (Status st = EnsureOwnedDir(flags.state_dir, 0700, *user); !st.ok()) return Fail(st);
    if (Status st = EnsureOwnedDir(DirName(flags.socket), 0755, *user); !st.ok()) return Fail(st);
    if (Status st = DropPrivileges(*user); !st.ok()) return Fail(st);
    run_as = user->name;
  }
  if (Status st = SetNotDumpable(); !st.ok()) return Fail(st);

  auto state = StateDir::Open(flags.state_dir);
  if (!state.ok()) return Fail(state.status());
  auto backend = OpenBackend(flags, **state);
  if (!backend.ok()) return Fail(backend.status());
  StartupAudit audit = (*backend)->Audit();
  for (const auto& problem : audit.problems) spdlog::warn("event=tampered-object {}", problem);
  if (audit.removed_temporaries > 0) {
    spdlog::info("event=recovered removed_partial_writes={}", audit.removed_temporaries);
  }

  Dispatcher dispatcher(**backend, config.policy);
  // Measured before the socket accepts anyone, so register 0 always starts with these events.
  if (Status st =
          MeasureSelf(dispatcher.registers(), kVersionString, (*backend)->Name(),
                      config.source_sha256, flags.config, static_cast<uint64_t>(::time(nullptr)));
      !st.ok()) {
    return Fail(st);
  }
  for (const auto& notice : (*backend)->Notices()) spdlog::warn("event=notice {}", notice);
  ServerOptions options;
  options.socket_path = flags.socket;
  options.socket_mode = config.socket_mode;
  options.max_connections = config.max_connections;
  options.max_connections_per_principal = config.max_connections_per_principal;
  options.frame_timeout = std::chrono::milliseconds(config.frame_timeout_ms);
  Server server(options, dispatcher);
  if (Status st = server.Listen(); !st.ok()) return Fail(st);

  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  bool seccomp = false;
  if (config.seccomp) {
    // The tpm backend may reconnect to a TPM simulator over TCP; PKCS#11 modules are loaded
    // before this point and do their own I/O.
    auto installed = InstallSeccomp(/*allow_connect=*/flags.backend != "emulated");
    if (!installed.ok()) return Fail(installed.status());
    seccomp = *installed;
  }
  spdlog::info(
      "event=ready version={} backend={} device=\"{}\" socket={} state={} user={} keys={} "
      "tampered={} "
      "admins={} grants={} seccomp={} root_key={}",
      kVersionString, (*backend)->Name(), (*backend)->Device(), flags.socket, flags.state_dir,
      run_as, audit.authentic, audit.problems.size(), config.policy.admins().size(),
      config.policy.grant_count(), seccomp ? "on" : "off",
      (*state)->root_key_created() ? "created" : "loaded");
  Status st = server.Run();
  g_server = nullptr;
  if (!st.ok()) return Fail(st);
  spdlog::info("event=stopped");
  AllowLeakCheckAtExit();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto logger = spdlog::stderr_logger_mt("edgetrust-sd");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l edgetrust-sd %v", spdlog::pattern_time_type::utc);

  CLI::App app{
      "edgetrust-sd: the EdgeTrust secure-domain daemon.\n"
      "Holds keys and performs crypto operations for local callers over a Unix socket; callers\n"
      "are identified by the kernel (uid, or container id) and each has its own key namespace.\n"
      "Logs one line per event to stderr; ready once the socket accepts (event=ready)."};
  Flags flags;
  app.add_option("--state-dir", flags.state_dir, "State folder (device root key and key objects)")
      ->required();
  app.add_option("--socket", flags.socket, "Unix socket to serve")->capture_default_str();
  app.add_option("--backend", flags.backend, "Secure-domain backend")
      ->capture_default_str()
      ->check(CLI::IsMember({"emulated", "tpm", "pkcs11"}));
  app.add_option("--tpm-tcti", flags.tpm.tcti,
                 "tpm backend: tpm2-tss TCTI, e.g. swtpm:host=127.0.0.1,port=2321 or "
                 "device:/dev/tpmrm0")
      ->capture_default_str();
  app.add_option("--pkcs11-module", flags.pkcs11.module,
                 "pkcs11 backend: path of the PKCS#11 module (.so)");
  app.add_option("--pkcs11-token", flags.pkcs11.token_label,
                 "pkcs11 backend: label of the token to use");
  app.add_option("--pkcs11-pin-file", flags.pkcs11.pin_file,
                 "pkcs11 backend: file whose first line is the user PIN");
  app.add_option("--config", flags.config, "TOML configuration file ([daemon] and [policy])")
      ->check(CLI::ExistingFile);
  app.add_option("--user", flags.user,
                 "Unprivileged user to run as when started as root (default: edgetrust)");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_flag("--no-seccomp", flags.no_seccomp,
               "Do not install the seccomp system-call allowlist");
  app.set_version_flag("--version", std::string("edgetrust-sd ") + edgetrust::sd::kVersionString);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return RunDaemon(flags);
}
