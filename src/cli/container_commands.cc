// deploy, modules, events: the container guard of the running edgetrust-agent, through its
// control socket (docs/container-guard.md). The manifest's signature is checked by the agent,
// against the device's deployment trust bundle; this side only carries the bytes.
#include <climits>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "agent/control_client.h"
#include "agent/control_protocol.h"
#include "cli/agent_answer.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "cli/output.h"

namespace edgetrust::cli {
namespace {

using nlohmann::json;

struct ContainerOptions {
  std::string socket;
  std::string manifest;
  std::string signature;
  std::string archive_dir;
  std::string module;
  uint32_t limit = 50;
};

std::string ShortId(const json& v) {
  std::string s = Str(v);
  return s.size() > 12 ? s.substr(0, 12) : s;
}

std::string AbsoluteDir(const std::string& path) {
  std::string dir = path;
  const size_t slash = dir.rfind('/');
  dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
  char resolved[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr) return {};
  return resolved;
}

void PrintModules(Output& out, const json& modules) {
  if (!modules.is_array() || modules.empty()) {
    out.Line("no modules");
    return;
  }
  std::vector<std::vector<std::string>> rows = {{"MODULE", "STATE", "CONTAINER", "INTEGRITY",
                                                 "REMEDIATION", "VIOLATIONS", "REMEDIATED",
                                                 "CONFIG"}};
  for (const json& m : modules) {
    const json& matches = Get(m, "config_matches");
    rows.push_back({Str(Get(m, "name")), Str(Get(m, "state")), ShortId(Get(m, "container")),
                    Str(Get(m, "integrity")), Str(Get(m, "remediation")), Str(Get(m, "violations")),
                    Str(Get(m, "remediations")),
                    matches.is_boolean() ? (matches.get<bool>() ? "as signed" : "DIFFERS") : "-"});
  }
  PrintTable(out, rows);
  for (const json& m : modules) {
    const json& err = Get(m, "last_error");
    if (err.is_string() && !err.get_ref<const std::string&>().empty()) {
      out.Line(Str(Get(m, "name")) + ": " + Str(err));
    }
  }
}

Status DeployCommand(Context& ctx, const ContainerOptions& o) {
  agent::ControlRequest request;
  request.op = agent::ControlOp::kDeploy;
  ET_ASSIGN_OR_RETURN(request.manifest,
                      ReadInput(o.manifest, agent::kMaxDeployManifestBytes, "manifest"));
  ET_ASSIGN_OR_RETURN(request.signature,
                      ReadInput(o.signature, agent::kMaxDeploySignatureBytes, "signature"));
  request.archive_dir = o.archive_dir.empty() ? AbsoluteDir(o.manifest) : o.archive_dir;
  if (request.archive_dir.empty() || request.archive_dir[0] != '/') {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot resolve the manifest's folder; give --archive-dir");
  }
  // Loading image archives and starting modules takes as long as it takes: wait for the answer
  // (the agent bounds each engine call itself).
  constexpr int kDeployTimeoutMs = 15 * 60 * 1000;
  ET_ASSIGN_OR_RETURN(json answer, agent::CallAgent(o.socket, agent::ControlRequestJson(request),
                                                    kDeployTimeoutMs));
  const json& failed = Get(answer, "failed");
  if (ctx.out().json()) {
    ctx.out().Json(answer);
  } else {
    ctx.out().Line("Deployed " + Str(Get(answer, "deployment")) + " sequence " +
                   Str(Get(answer, "sequence")) + ", signed by " + Str(Get(answer, "signer")));
    PrintModules(ctx.out(), Get(answer, "modules"));
  }
  if (failed.is_array() && !failed.empty()) {
    std::string names;
    for (const json& f : failed) names += (names.empty() ? "" : ", ") + Str(Get(f, "module"));
    return Status(ErrorCode::kFailedPrecondition, "modules not running: " + names);
  }
  return Status::Ok();
}

Status ModulesCommand(Context& ctx, const ContainerOptions& o) {
  ET_ASSIGN_OR_RETURN(json answer, agent::CallAgent(o.socket, {{"op", "modules"}}));
  if (ctx.out().json()) {
    ctx.out().Json(answer);
    return Status::Ok();
  }
  const json& d = Get(answer, "deployment");
  if (d.is_object()) {
    ctx.out().Line("deployment: " + Str(Get(d, "name")) + " sequence " + Str(Get(d, "sequence")) +
                   ", accepted " + Str(Get(d, "accepted")) + ", signed by " +
                   Str(Get(d, "signer")));
  } else {
    ctx.out().Line("deployment: none accepted yet");
  }
  PrintModules(ctx.out(), Get(answer, "modules"));
  return Status::Ok();
}

// One line per event: time, event, module, then what matters for that event.
std::string EventLine(const json& e) {
  std::string line = Str(Get(e, "time")) + "  " + Str(Get(e, "event"));
  if (Get(e, "module").is_string()) line += "  " + Str(Get(e, "module"));
  for (const char* key : {"kind", "path", "reason", "process", "action", "container", "sha256",
                          "detection_to_healthy_ms", "sequence"}) {
    const json& v = Get(e, key);
    if (v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty())) continue;
    std::string text = Str(v);
    if (std::string(key) == "container" || std::string(key) == "sha256") text = text.substr(0, 12);
    line += std::string("  ") + key + "=" + text;
  }
  if (Get(e, "denied").is_boolean() && Get(e, "denied").get<bool>()) line += "  DENIED";
  return line;
}

Status EventsCommand(Context& ctx, const ContainerOptions& o) {
  agent::ControlRequest request;
  request.op = agent::ControlOp::kEvents;
  request.limit = o.limit;
  request.module = o.module;
  ET_ASSIGN_OR_RETURN(json answer, agent::CallAgent(o.socket, agent::ControlRequestJson(request)));
  const json& events = Get(answer, "events");
  if (ctx.out().json()) {
    ctx.out().Json(events);
    return Status::Ok();
  }
  if (!events.is_array() || events.empty()) {
    ctx.out().Line("no events");
    return Status::Ok();
  }
  for (const json& e : events) ctx.out().Line(EventLine(e));
  return Status::Ok();
}

void AddSocket(CLI::App* command, std::string& socket) {
  command->add_option("--agent-socket", socket,
                      "The agent's control socket (default: $EDGETRUST_AGENT_SOCKET, else " +
                          std::string(agent::kDefaultAgentSocketPath) + ")");
}

}  // namespace

void AddContainerCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<ContainerOptions>();

  CLI::App* deploy = app.add_subcommand(
      "deploy", "Deploy a signed manifest: the agent verifies it and (re)creates its modules");
  deploy->add_option("--manifest", o->manifest, "The deployment manifest (JSON)")->required();
  deploy
      ->add_option("--sig", o->signature,
                   "Its detached CMS signature (DER), from 'edgetrust manifest sign'")
      ->required();
  deploy->add_option("--archive-dir", o->archive_dir,
                     "Folder the modules' image archives are relative to (default: the "
                     "manifest's folder)");
  AddSocket(deploy, o->socket);
  deploy->footer(
      "The agent accepts the manifest only if its signer chains to the deployment trust bundle\n"
      "(edgetrust trust add deployment CA.pem), its sequence is newer than the last accepted one,\n"
      "and every image has its pinned digest. Exit status 1 if it is refused or a module does not\n"
      "start. docs/deployment.md describes the manifest.");
  OnSelected(deploy, selection, [o](Context& ctx) { return DeployCommand(ctx, *o); });

  CLI::App* modules = app.add_subcommand(
      "modules", "Show the deployed modules: state, integrity policy, violations, remediations");
  AddSocket(modules, o->socket);
  modules->footer(
      "CONFIG says whether what runs (from the engine's inspect) measures the same as what the\n"
      "manifest asks for. With --json the agent's answer is printed as it is.");
  OnSelected(modules, selection, [o](Context& ctx) { return ModulesCommand(ctx, *o); });

  CLI::App* events = app.add_subcommand(
      "events", "Show the container guard's events: violations, remediations, deployments");
  events->add_option("--limit", o->limit, "The newest N events (1 to 1000, default 50)")
      ->check(CLI::Range(1, 1000));
  events->add_option("--module", o->module, "Only this module's events");
  AddSocket(events, o->socket);
  OnSelected(events, selection, [o](Context& ctx) { return EventsCommand(ctx, *o); });
}

}  // namespace edgetrust::cli
