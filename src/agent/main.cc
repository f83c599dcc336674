// edgetrust-agent: the gateway daemon. Wiring only; the parts live in agent.cc and below.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "agent/agent.h"
#include "agent/agent_config.h"

int main(int argc, char** argv) {
  CLI::App app{
      "edgetrust-agent: the EdgeTrust gateway daemon. Relays leaf sensors' messages to the cloud "
      "over mutual TLS (key in the secure domain) through a durable, encrypted queue, and serves "
      "`edgetrust status` and `edgetrust leaf ...` on its control socket. Logs one line per event "
      "to stderr; ready once event=ready is logged. See examples/agent.toml and docs/agent.md."};
  std::string config_path;
  bool check_only = false;
  app.add_option("--config", config_path, "TOML configuration file (examples/agent.toml)")
      ->required();
  app.add_flag("--check-config", check_only, "Validate the configuration and exit");
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_logger_mt("edgetrust-agent");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l edgetrust-agent %v",
                      spdlog::pattern_time_type::utc);
  spdlog::flush_on(spdlog::level::trace);

  auto config = edgetrust::agent::LoadAgentConfig(config_path);
  if (!config.ok()) {
    spdlog::error("event=fatal error=\"{}\"", config.status().ToString());
    return 1;
  }
  if (check_only) {
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config->agent.log_level));

  // Signals are taken by this thread only (sigwait), never by a worker in the middle of I/O.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  edgetrust::agent::Agent agent(std::move(config).value());
  edgetrust::Status started = agent.Start();
  if (!started.ok()) {
    spdlog::error("event=fatal error=\"{}\"", started.ToString());
    agent.Stop();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=stopping signal={}", sig == SIGTERM ? "TERM" : "INT");
  agent.Stop();
  spdlog::info("event=stopped");
  return 0;
}
