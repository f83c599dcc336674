// Access policy of the secure domain: admin principals and grants of named keys.
//
// By default a principal sees and uses only its own keys. A grant lets other principals use one
// named key of an owner for listed operations ("sign", "verify", "public", "encrypt", "decrypt",
// "mac", "derive", "ecdh", "delete"). Admin principals may list and use every namespace. The policy
// is TOML (docs/policy.md):
//
//   admins = ["uid:0"]
//   [[grant]]
//   owner = "uid:0"
//   key = "device-identity"
//   to = ["uid:1000", "container:<64 hex>"]
//   operations = ["sign", "public"]
//   [[register]]                  # who may extend measurement registers 2 and 3
//   index = [2, 3]
//   extenders = ["uid:0", "container:<64 hex>"]   # "*": any principal
//
// Thread safety: immutable after Parse(); share freely.
#pragma once

#include <toml++/toml.h>

#include <array>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"

namespace edgetrust::sd {

class Policy {
 public:
  // An empty policy: no admins, no grants.
  Policy() = default;
  // Parses the TOML text of a policy (the [policy] table of the daemon config, or a whole file).
  // Errors: kInvalidArgument naming what is wrong and where.
  static Result<Policy> Parse(std::string_view toml_text);

  bool IsAdmin(std::string_view principal) const;
  // May `caller` perform `operation` on key `key` owned by `owner`?
  bool Allows(std::string_view caller, std::string_view owner, std::string_view key,
              std::string_view operation) const;

  // May `caller` extend measurement register `index`? Defaults (docs/policy.md): register 0
  // nobody (edgetrust-sd measures its own configuration), 1-7 admins, 8-15 any principal. A
  // [[register]] entry replaces the default of the registers it names.
  bool MayExtend(std::string_view caller, uint32_t index) const;

  size_t grant_count() const { return grants_.size(); }
  const std::set<std::string, std::less<>>& admins() const { return admins_; }

  struct Grant {
    std::string owner;
    std::string key;
    std::set<std::string, std::less<>> to;
    std::set<std::string, std::less<>> operations;
  };
  // From an already-parsed table (the [policy] table of the daemon config).
  static Result<Policy> FromToml(const toml::table& table);

 private:
  std::set<std::string, std::less<>> admins_;
  std::vector<Grant> grants_;
  // Per register: the principals a [[register]] entry named, or nullopt for the default.
  std::array<std::optional<std::set<std::string, std::less<>>>, 16> extenders_;
};

}  // namespace edgetrust::sd
