// random, info: questions to the daemon that involve no key.
#include <algorithm>
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "common/hex.h"

namespace edgetrust::cli {
namespace {

constexpr size_t kMaxRandom = size_t{1} << 20;

struct SystemOptions {
  size_t length = 0;
  std::string out;
};

Status Random(Context& ctx, const SystemOptions& o) {
  if (ctx.out().json() && o.out == kStdio) {
    return Status(ErrorCode::kInvalidArgument, "--out - cannot be combined with --json");
  }
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  // Random bytes are often used as secrets: wipe them and write files as 0600.
  ET_ASSIGN_OR_RETURN(Bytes raw, client->Random(o.length));
  SecretBytes bytes(raw);
  SecureWipe(raw.data(), raw.size());
  if (!o.out.empty()) {
    ET_RETURN_IF_ERROR(WriteOutput(o.out, bytes.view(), kSecretMode));
    if (ctx.out().json()) ctx.out().Json({{"length", bytes.size()}, {"file", o.out}});
    return Status::Ok();
  }
  std::string hex = HexEncode(bytes.view());
  if (ctx.out().json()) {
    ctx.out().Json({{"length", bytes.size()}, {"hex", hex}});
  } else {
    ctx.out().Line(hex);
  }
  SecureWipe(hex.data(), hex.size());
  return Status::Ok();
}

Status Info(Context& ctx) {
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(DaemonInfo info, client->Info());
  if (ctx.out().json()) {
    nlohmann::json features = nlohmann::json::array();
    for (const auto& f : info.features) {
      features.push_back(
          {{"name", f.name}, {"provider", f.native ? "native" : "provided"}, {"how", f.how}});
    }
    ctx.out().Json({{"backend", info.backend},
                    {"device", info.device},
                    {"features", features},
                    {"storage_protection", info.storage_protection},
                    {"version", info.version},
                    {"protocol_version", info.protocol_version},
                    {"principal", info.principal},
                    {"key_count", info.key_count},
                    {"supported", info.supported},
                    {"counter_protection", info.counter_protection},
                    {"notices", info.notices}});
    return Status::Ok();
  }
  std::string supported;
  for (const auto& s : info.supported) supported += (supported.empty() ? "" : " ") + s;
  ctx.out().Line("backend:          " + info.backend);
  if (!info.device.empty()) ctx.out().Line("device:           " + info.device);
  ctx.out().Line("version:          " + info.version);
  ctx.out().Line("protocol version: " + std::to_string(info.protocol_version));
  ctx.out().Line("principal:        " + info.principal);
  ctx.out().Line("keys:             " + std::to_string(info.key_count));
  ctx.out().Line("supported:        " + supported);
  ctx.out().Line("counters:         " + info.counter_protection);
  ctx.out().Line("stored keys:      rollback protection " + info.storage_protection);
  for (const auto& f : info.features) {
    std::string name = f.name;
    name.resize(std::max<size_t>(name.size(), 10), ' ');
    ctx.out().Line("feature:          " + name + (f.native ? "native    " : "provided  ") + f.how);
  }
  for (const auto& notice : info.notices) ctx.out().Line("notice:           " + notice);
  return Status::Ok();
}

}  // namespace

void AddSystemCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<SystemOptions>();

  CLI::App* random = app.add_subcommand("random", "Get random bytes from the secure domain");
  random->add_option("N", o->length, "Number of bytes, 1 to 1048576")
      ->required()
      ->check(CLI::Range(size_t{1}, kMaxRandom));
  random->add_option("--out", o->out,
                     "Write the raw bytes to this file (mode 0600) instead of hex to stdout");
  OnSelected(random, selection, [o](Context& ctx) { return Random(ctx, *o); });

  CLI::App* info =
      app.add_subcommand("info", "Show the daemon: backend, versions, who you are, your keys");
  info->footer(
      "'principal' is who the daemon takes you for; your keys live in its namespace.\n"
      "'supported' lists the key types (key-type:NAME) and operations (op:NAME) offered.\n"
      "'feature' says who provides each: the secure hardware itself (native) or the daemon on\n"
      "top of it, with keys the hardware holds (provided). 'stored keys' is the rollback\n"
      "protection of stored key objects: none, detected or hardware.");
  OnSelected(info, selection, [](Context& ctx) { return Info(ctx); });
}

}  // namespace edgetrust::cli
