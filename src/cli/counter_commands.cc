// counter create|increment|read: monotonic counters in the secure domain.
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"

namespace edgetrust::cli {
namespace {

enum class CounterAction { kCreate, kIncrement, kRead };

Status RunCounter(Context& ctx, CounterAction action, const std::string& name) {
  ET_ASSIGN_OR_RETURN(Client * client, ctx.client());
  Result<uint64_t> value = action == CounterAction::kCreate      ? client->CreateCounter(name)
                           : action == CounterAction::kIncrement ? client->IncrementCounter(name)
                                                                 : client->ReadCounter(name);
  if (!value.ok()) return value.status();
  if (ctx.out().json()) {
    ctx.out().Json({{"counter", name}, {"value", *value}});
  } else {
    ctx.out().Line(std::to_string(*value));
  }
  return Status::Ok();
}

}  // namespace

void AddCounterCommands(CLI::App& app, Selection& selection) {
  auto name = std::make_shared<std::string>();
  CLI::App* counter = app.add_subcommand(
      "counter", "Monotonic counters: never go backwards, survive restarts (anti-rollback)");
  counter->require_subcommand(1);
  counter->footer(
      "Each prints the counter's value. 'edgetrust info' says what the backend detects about a\n"
      "restored older state.");

  struct Verb {
    const char* name;
    const char* help;
    CounterAction action;
  };
  for (const Verb& v :
       {Verb{"create", "Create a counter at 0", CounterAction::kCreate},
        Verb{"increment", "Add one and print the new value", CounterAction::kIncrement},
        Verb{"read", "Print the current value", CounterAction::kRead}}) {
    CLI::App* sub = counter->add_subcommand(v.name, v.help);
    sub->add_option("NAME", *name,
                    v.action == CounterAction::kCreate ? "Counter name (1-64 of A-Z a-z 0-9 . _ -)"
                                                       : "Counter name, or OWNER/NAME (admins)")
        ->required();
    const CounterAction action = v.action;
    OnSelected(sub, selection,
               [name, action](Context& ctx) { return RunCounter(ctx, action, *name); });
  }
}

}  // namespace edgetrust::cli
