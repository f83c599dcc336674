// status, leaf add | list | revoke: questions to the running edgetrust-agent, through its control
// socket (agent/control_client.h), rather than to the secure domain.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/control_client.h"
#include "agent/control_protocol.h"
#include "cli/agent_answer.h"
#include "cli/args.h"
#include "cli/commands.h"

namespace edgetrust::cli {
namespace {

using nlohmann::json;

struct AgentOptions {
  std::string socket;
  std::string name;
  bool psk = false;
  bool certificate = false;
  std::string ttl = "24h";
};

std::string Duration(int64_t seconds) {
  if (seconds < 0) return "-";
  const int64_t d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60,
                s = seconds % 60;
  if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h";
  if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m " + std::to_string(s) + "s";
  return std::to_string(s) + "s";
}

std::string DurationS(const json& v) {
  auto s = Int(v);
  return s ? Duration(*s) : "-";
}

std::string DurationMs(const json& v) {
  auto ms = Int(v);
  return ms ? Duration(*ms / 1000) : "-";
}

std::string SizeText(const json& v) {
  auto n = Int(v);
  if (!n || *n < 0) return "-";
  if (*n < 1024) return std::to_string(*n) + " B";
  char buf[32];
  const double x = static_cast<double>(*n);
  if (*n < int64_t{1024} * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", x / 1024);
  } else if (*n < int64_t{1024} * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", x / (1024 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f GiB", x / (1024.0 * 1024 * 1024));
  }
  return buf;
}

int64_t NowMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// "30m", "24h", "7d", "90s": a positive whole number and a unit.
Result<int64_t> ParseDurationSeconds(const std::string& text) {
  auto bad = [&] {
    return Status(ErrorCode::kInvalidArgument, "invalid duration \"" + text +
                                                   "\": use a number and s, m, h or d, e.g. 30m, "
                                                   "24h, 7d");
  };
  if (text.size() < 2 || text.size() > 12) return bad();
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return bad();
  }
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return bad();
    n = n * 10 + (c - '0');  // at most 11 digits: no overflow
  }
  if (n == 0) return bad();
  return n * unit;
}

// When an enrollment token expires: "token_expires_ms", or "expires_ms" as some answers say.
const json& TokenExpiry(const json& obj) {
  const json& v = Get(obj, "token_expires_ms");
  return v.is_null() ? Get(obj, "expires_ms") : v;
}

// "now" for a leaf connected at the moment, else when it was last seen, if the agent says.
std::string LastSeen(const json& leaf) {
  const json& connected = Get(leaf, "connected");
  if (connected.is_boolean() && connected.get<bool>()) return "now";
  return TimeMs(Get(leaf, "last_seen_ms"));
}

Result<json> Ask(const AgentOptions& o, const json& request) {
  return agent::CallAgent(o.socket, request);
}

// --- status ---------------------------------------------------------------------------------

void Field(Output& out, const std::string& label, const std::string& value) {
  std::string line = label + ":";
  line.resize(std::max<size_t>(line.size() + 1, 15), ' ');
  out.Line(line + value);
}

void PrintStatus(Output& out, const json& s) {
  Field(out, "device", Str(Get(s, "device")));
  Field(out, "version", Str(Get(s, "version")));
  Field(out, "uptime", DurationS(Get(s, "uptime_s")));

  const json& cloud = Get(s, "cloud");
  out.Line("");
  std::string link = Str(Get(cloud, "state"));
  if (Get(cloud, "broker").is_string()) link += " (" + Str(Get(cloud, "broker")) + ")";
  if (TimeMs(Get(cloud, "since_ms")) != "-") link += " since " + TimeMs(Get(cloud, "since_ms"));
  Field(out, "cloud", link);
  Field(out, "  forwarded", Str(Get(cloud, "forwarded_total")));
  Field(out, "  in flight", Str(Get(cloud, "inflight")));
  const json& last_error = Get(cloud, "last_error");
  if (last_error.is_string() && !last_error.get_ref<const std::string&>().empty()) {
    Field(out, "  last error", Str(last_error));
  }

  const json& queue = Get(s, "queue");
  out.Line("");
  Field(out, "queue", Str(Get(queue, "depth")) + " messages, " + SizeText(Get(queue, "bytes")));
  Field(out, "  oldest", DurationMs(Get(queue, "oldest_age_ms")));
  Field(out, "  dropped", Str(Get(queue, "dropped_total")));
  Field(out, "  rejected", Str(Get(queue, "rejected_total")));

  const json& leaves = Get(s, "leaves");
  const json& connected = Get(leaves, "connected");
  out.Line("");
  Field(out, "leaves",
        (connected.is_array() ? std::to_string(connected.size()) : "-") + " connected, " +
            Str(Get(leaves, "known")) + " known, " + Str(Get(leaves, "pending")) + " pending, " +
            Str(Get(leaves, "revoked")) + " revoked");
  if (connected.is_array() && !connected.empty()) {
    std::vector<std::vector<std::string>> rows = {{"  NAME", "AUTH", "MQTT", "SINCE", "ADDRESS"}};
    for (const json& l : connected) {
      rows.push_back({"  " + Str(Get(l, "name")), Str(Get(l, "auth")), Str(Get(l, "mqtt")),
                      TimeMs(Get(l, "since_ms")), Str(Get(l, "address"))});
    }
    PrintTable(out, rows);
  }

  const json& certs = Get(s, "certificates");
  out.Line("");
  if (!certs.is_array() || certs.empty()) {
    Field(out, "certificates", "-");
    return;
  }
  out.Line("certificates:");
  std::vector<std::vector<std::string>> rows = {{"  NAME", "NOT-AFTER", "DAYS-LEFT", "RENEWAL"}};
  for (const json& c : certs) {
    const json& due = Get(c, "renewal_due");
    rows.push_back({"  " + Str(Get(c, "name")), Str(Get(c, "not_after")), Str(Get(c, "days_left")),
                    due.is_boolean() ? (due.get<bool>() ? "due" : "not due") : "-"});
  }
  PrintTable(out, rows);
}

Status StatusCommand(Context& ctx, const AgentOptions& o) {
  ET_ASSIGN_OR_RETURN(json status, Ask(o, {{"op", "status"}}));
  if (ctx.out().json()) {
    ctx.out().Json(status);
    return Status::Ok();
  }
  PrintStatus(ctx.out(), status);
  return Status::Ok();
}

// --- leaf ----------------------------------------------------------------------------------

json WithoutOk(json response) {
  if (response.is_object()) response.erase("ok");
  return response;
}

Status LeafAdd(Context& ctx, const AgentOptions& o) {
  agent::ControlRequest request;
  request.op = agent::ControlOp::kLeafAdd;
  request.name = o.name;
  request.auth =
      o.psk ? agent::LeafAuth::kPsk
            : (o.certificate ? agent::LeafAuth::kCertificate : agent::LeafAuth::kEnrollment);
  if (request.auth == agent::LeafAuth::kEnrollment) {
    ET_ASSIGN_OR_RETURN(request.ttl_s, ParseDurationSeconds(o.ttl));
    if (request.ttl_s * 1000 < agent::kMinTokenTtlMs ||
        request.ttl_s * 1000 > agent::kMaxTokenTtlMs) {
      return Status(ErrorCode::kInvalidArgument, "--ttl must be between 1m and 30d, not " + o.ttl);
    }
  }
  if (!agent::LeafRegistry::IsValidName(o.name)) {
    return Status(ErrorCode::kInvalidArgument,
                  "invalid leaf name \"" + Printable(o.name) +
                      "\": 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
  }
  ET_ASSIGN_OR_RETURN(json answer, Ask(o, agent::ControlRequestJson(request)));
  if (ctx.out().json()) {
    ctx.out().Json(WithoutOk(std::move(answer)));
    return Status::Ok();
  }
  Output& out = ctx.out();
  const std::string name = o.name;
  switch (request.auth) {
    case agent::LeafAuth::kEnrollment: {
      const json& token = Get(answer, "token");
      if (!token.is_string()) {
        return Status(ErrorCode::kMalformed, "the agent's answer carries no token");
      }
      out.Line("Added leaf " + name +
               ". Its one-time enrollment token (shown only now; valid until " +
               TimeMs(TokenExpiry(answer)) + "):");
      out.Line("");
      out.Line("  " + Str(token));
      out.Line("");
      out.Line("Enroll the sensor with it (once):");
      out.Line("  edgetrust-sensor --gateway HOST:PORT --ca GATEWAY-CA.pem --name " + name +
               " --enroll " + Str(token) + " --state DIR");
      break;
    }
    case agent::LeafAuth::kPsk: {
      const json& psk = Get(answer, "psk");
      if (!psk.is_string())
        return Status(ErrorCode::kMalformed, "the agent's answer carries no PSK");
      out.Line("Added leaf " + name + " (TLS-PSK, identity \"" + name +
               "\"). Its PSK (shown only now; keep it secret):");
      out.Line("");
      out.Line("  " + Str(psk));
      out.Line("");
      out.Line("Connect the sensor with:");
      out.Line("  edgetrust-sensor --gateway HOST:PORT --ca GATEWAY-CA.pem --name " + name +
               " --psk " + Str(psk));
      break;
    }
    case agent::LeafAuth::kCertificate:
      out.Line("Added leaf " + name + " (certificate). Issue its client certificate (CN=" + name +
               ") from the device CA:");
      out.Line("  edgetrust cert issue --ca device-ca --csr " + name + ".csr --days 365 --client " +
               "--out " + name + ".pem");
      break;
  }
  return Status::Ok();
}

Status LeafList(Context& ctx, const AgentOptions& o) {
  ET_ASSIGN_OR_RETURN(json answer, Ask(o, {{"op", "leaf-list"}}));
  const json& leaves = Get(answer, "leaves");
  if (!leaves.is_array()) return Status(ErrorCode::kMalformed, "the agent's answer has no leaves");
  if (ctx.out().json()) {
    ctx.out().Json(leaves);
    return Status::Ok();
  }
  const int64_t now = NowMs();
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "AUTH", "STATE", "CREATED", "ENROLLED", "LAST-SEEN"}};
  for (const json& l : leaves) {
    std::string state = Str(Get(l, "state"));
    if (state == "pending") {
      auto expires = Int(TokenExpiry(l));
      state += expires && *expires <= now ? " (token expired)"
                                          : " (token until " + TimeMs(TokenExpiry(l)) + ")";
    }
    rows.push_back({Str(Get(l, "name")), Str(Get(l, "auth")), state, TimeMs(Get(l, "created_ms")),
                    TimeMs(Get(l, "enrolled_ms")), LastSeen(l)});
  }
  PrintTable(ctx.out(), rows);
  return Status::Ok();
}

Status LeafRevoke(Context& ctx, const AgentOptions& o) {
  if (!agent::LeafRegistry::IsValidName(o.name)) {
    return Status(ErrorCode::kInvalidArgument, "invalid leaf name \"" + Printable(o.name) + "\"");
  }
  agent::ControlRequest request;
  request.op = agent::ControlOp::kLeafRevoke;
  request.name = o.name;
  ET_ASSIGN_OR_RETURN(json answer, Ask(o, agent::ControlRequestJson(request)));
  if (ctx.out().json()) {
    ctx.out().Json(WithoutOk(std::move(answer)));
  } else {
    ctx.out().Line("Revoked leaf " + o.name + ": it can no longer connect.");
  }
  return Status::Ok();
}

void AddAgentSocketOption(CLI::App* command, std::string& socket) {
  command->add_option("--agent-socket", socket,
                      "The agent's control socket (default: $EDGETRUST_AGENT_SOCKET, else " +
                          std::string(agent::kDefaultAgentSocketPath) + ")");
}

}  // namespace

void AddAgentCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<AgentOptions>();

  CLI::App* status = app.add_subcommand(
      "status", "Show the running edgetrust-agent: cloud link, queue, leaves, certificates");
  AddAgentSocketOption(status, o->socket);
  status->footer(
      "Asks edgetrust-agent over its control socket (root or the agent's user only). With --json\n"
      "the agent's answer is printed as it is.");
  OnSelected(status, selection, [o](Context& ctx) { return StatusCommand(ctx, *o); });

  CLI::App* leaf = app.add_subcommand(
      "leaf",
      "Leaf sensors the gateway admits: add (enrollment token, PSK or certificate), list, "
      "revoke");
  leaf->require_subcommand(1);
  AddAgentSocketOption(leaf, o->socket);
  leaf->footer(
      "Leaves are kept by the running edgetrust-agent (docs/leaves.md); these commands ask it "
      "over\n"
      "its control socket. Names: 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit.");

  CLI::App* add =
      leaf->add_subcommand("add", "Add a leaf; prints its enrollment token or PSK once");
  add->add_option("NAME", o->name, "Leaf name (its MQTT client id, certificate CN, PSK identity)")
      ->required();
  CLI::Option* psk = add->add_flag("--psk", o->psk, "Authenticates with TLS-PSK: print its PSK");
  CLI::Option* cert = add->add_flag(
      "--certificate", o->certificate,
      "Authenticates with a certificate issued by 'edgetrust cert issue --ca device-ca'");
  CLI::Option* ttl = add->add_option("--ttl", o->ttl,
                                     "Lifetime of the enrollment token: 30m, 24h, 7d (1m to 30d; "
                                     "default 24h)");
  psk->excludes(cert);
  ttl->excludes(psk)->excludes(cert);
  add->footer(
      "By default the leaf enrolls: the one-time token (shown only now) lets edgetrust-sensor\n"
      "--enroll TOKEN obtain a certificate from the gateway once; only the token's SHA-256 is "
      "kept.\n"
      "With --psk the PSK (derived in the secure domain, never stored) is shown only now; add the\n"
      "leaf again after 'leaf revoke' to get a new one.");
  OnSelected(add, selection, [o](Context& ctx) { return LeafAdd(ctx, *o); });

  CLI::App* list = leaf->add_subcommand("list", "List the leaves: name, auth, state, times");
  OnSelected(list, selection, [o](Context& ctx) { return LeafList(ctx, *o); });

  CLI::App* revoke = leaf->add_subcommand("revoke", "Revoke a leaf: it can no longer connect");
  revoke->add_option("NAME", o->name, "Leaf name")->required();
  OnSelected(revoke, selection, [o](Context& ctx) { return LeafRevoke(ctx, *o); });
}

}  // namespace edgetrust::cli
