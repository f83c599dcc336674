// measure extend|read|log: the secure domain's measurement registers and event log.
#include <openssl/sha.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "common/hex.h"
#include "edgetrust/attestation.h"

namespace edgetrust::cli {
namespace {

struct MeasureOptions {
  uint32_t index = 0;
  std::string data;
  std::string digest_hex;
  std::string event;
  std::string out;
};

Status Extend(Context& ctx, const MeasureOptions& o) {
  Digest256 digest{};
  if (!o.digest_hex.empty()) {
    auto raw = HexDecode(o.digest_hex);
    if (!raw.ok() || raw->size() != digest.size()) {
      return Status(ErrorCode::kInvalidArgument, "--digest must be 64 hex digits (SHA-256)");
    }
    std::copy(raw->begin(), raw->end(), digest.begin());
  } else {
    SHA256(reinterpret_cast<const uint8_t*>(o.data.data()), o.data.size(), digest.data());
  }
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(Client::Extended ext, client->Extend(o.index, digest, o.event));
  if (ctx.out().json()) {
    ctx.out().Json({{"register", o.index},
                    {"seq", ext.seq},
                    {"digest", HexEncode(digest)},
                    {"value", HexEncode(ext.value)}});
  } else {
    ctx.out().Line("register " + std::to_string(o.index) + ": " + HexEncode(ext.value) +
                   " (event " + std::to_string(ext.seq) + ")");
  }
  return Status::Ok();
}

Status Read(Context& ctx) {
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(RegisterSnapshot snap, client->ReadRegisters());
  if (ctx.out().json()) {
    nlohmann::json regs = nlohmann::json::object();
    for (size_t i = 0; i < snap.values.size(); ++i)
      regs[std::to_string(i)] = HexEncode(snap.values[i]);
    ctx.out().Json({{"registers", regs},
                    {"log_digest", HexEncode(snap.log_digest)},
                    {"log_count", snap.log_count}});
    return Status::Ok();
  }
  for (size_t i = 0; i < snap.values.size(); ++i) {
    ctx.out().Line((i < 10 ? " " : "") + std::to_string(i) + ": " + HexEncode(snap.values[i]));
  }
  ctx.out().Line("log: " + std::to_string(snap.log_count) + " events, digest " +
                 HexEncode(snap.log_digest));
  return Status::Ok();
}

Status Log(Context& ctx, const MeasureOptions& o) {
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  ET_ASSIGN_OR_RETURN(std::vector<LogEvent> events, client->ReadEventLog());
  if (!o.out.empty()) {
    const std::string json = EventLogToJson(events);
    ET_RETURN_IF_ERROR(WriteOutput(o.out, AsBytes(json), PublicMode()));
    if (ctx.out().json()) ctx.out().Json({{"log_file", o.out}, {"events", events.size()}});
    return Status::Ok();
  }
  if (ctx.out().json()) {
    ctx.out().Json(nlohmann::json::parse(EventLogToJson(events)));
    return Status::Ok();
  }
  for (const LogEvent& e : events) {
    ctx.out().Line(std::to_string(e.seq) + "  reg " + std::to_string(e.register_index) + "  " +
                   HexEncode(e.digest).substr(0, 16) + "…  " + e.principal + "  " + e.description);
  }
  return Status::Ok();
}

}  // namespace

void AddMeasureCommands(CLI::App& app, Selection& selection) {
  auto o = std::make_shared<MeasureOptions>();
  CLI::App* measure = app.add_subcommand(
      "measure", "Measurement registers (extend-only, SHA-256, like TPM PCRs) and their event log");
  measure->require_subcommand(1);
  measure->footer(
      "Registers: 0 edgetrust-sd itself, 1 host baseline, 2 containers, 3 updates, 4 agent\n"
      "configuration, 5-7 reserved, 8-15 applications. Policy decides who may extend which\n"
      "(docs/policy.md). Registers and log start empty whenever edgetrust-sd starts.");

  CLI::App* extend = measure->add_subcommand(
      "extend", "Extend a register: new = SHA-256(old || digest), recorded in the event log");
  extend->add_option("REGISTER", o->index, "Register index, 0-15")
      ->required()
      ->check(CLI::Range(0, 15));
  CLI::Option* data =
      extend->add_option("--data", o->data, "Text whose SHA-256 is the digest to extend");
  CLI::Option* digest =
      extend->add_option("--digest", o->digest_hex, "The digest to extend (64 hex digits)");
  data->excludes(digest);
  extend->add_option("--event", o->event, "Description recorded in the log (at most 255 bytes)")
      ->required();
  OnSelected(extend, selection, [o, data, digest](Context& ctx) {
    if (data->count() == 0 && digest->count() == 0) {
      return Status(ErrorCode::kInvalidArgument, "give --data TEXT or --digest HEX");
    }
    return Extend(ctx, *o);
  });

  CLI::App* read = measure->add_subcommand("read", "Print every register and the log's digest");
  OnSelected(read, selection, [](Context& ctx) { return Read(ctx); });

  CLI::App* log = measure->add_subcommand("log", "Print the event log");
  log->add_option("--out", o->out,
                  "Write the log as JSON to this file (the form verify-evidence --log reads)");
  OnSelected(log, selection, [o](Context& ctx) { return Log(ctx, *o); });
}

}  // namespace edgetrust::cli
