#include "sd/policy.h"

#include <fmt/format.h>

#include <sstream>

#include "protocol/message.h"
#include "sd/backend.h"
#include "sd/principal.h"

namespace edgetrust::sd {
namespace {

Status Bad(const std::string& what) {
  return Status(ErrorCode::kInvalidArgument, "policy: " + what);
}

std::string Where(const toml::node& node) {
  const auto& src = node.source();
  if (!src.begin) return "";
  return " (line " + std::to_string(src.begin.line) + ")";
}

// Reads an array of strings, checking each with `valid`.
template <typename Valid>
Result<std::set<std::string, std::less<>>> StringSet(const toml::node* node, std::string_view name,
                                                     Valid valid) {
  std::set<std::string, std::less<>> out;
  if (node == nullptr) return out;
  const toml::array* arr = node->as_array();
  if (arr == nullptr)
    return Bad(fmt::format("{} must be an array of strings{}", name, Where(*node)));
  for (const auto& el : *arr) {
    auto s = el.value<std::string>();
    if (!s || !el.is_string()) return Bad(fmt::format("{} must hold strings{}", name, Where(el)));
    if (!valid(*s)) return Bad(fmt::format("{}: invalid entry \"{}\"{}", name, *s, Where(el)));
    out.insert(*s);
  }
  return out;
}

}  // namespace

Result<Policy> Policy::FromToml(const toml::table& table) {
  Policy p;
  for (const auto& [k, v] : table) {
    if (k.str() != "admins" && k.str() != "grant" && k.str() != "register") {
      return Bad("unknown key \"" + std::string(k.str()) + "\"" + Where(v));
    }
  }
  ET_ASSIGN_OR_RETURN(p.admins_, StringSet(table.get("admins"), "admins",
                                           [](std::string_view s) { return IsValidPrincipal(s); }));
  if (const toml::node* g = table.get("grant")) {
    const toml::array* grants = g->as_array();
    if (grants == nullptr) return Bad("grant must be an array of tables ([[grant]])" + Where(*g));
    for (const auto& el : *grants) {
      const toml::table* t = el.as_table();
      if (t == nullptr) return Bad("each grant must be a table" + Where(el));
      Grant grant;
      for (const auto& [k, v] : *t) {
        if (k.str() != "owner" && k.str() != "key" && k.str() != "to" && k.str() != "operations") {
          return Bad("grant: unknown key \"" + std::string(k.str()) + "\"" + Where(v));
        }
      }
      auto owner = (*t)["owner"].value<std::string>();
      auto key = (*t)["key"].value<std::string>();
      if (!owner || !IsValidPrincipal(*owner)) {
        return Bad("grant needs owner = \"uid:N\" or \"container:ID\"" + Where(el));
      }
      if (!key || !IsValidKeyName(*key)) {
        return Bad("grant needs key = \"NAME\", a valid key name (1-64 of A-Z a-z 0-9 . _ -)" +
                   Where(el));
      }
      grant.owner = *owner;
      grant.key = *key;
      ET_ASSIGN_OR_RETURN(grant.to, StringSet(t->get("to"), "grant.to", [](std::string_view s) {
                            return IsValidPrincipal(s) || s == "*";
                          }));
      ET_ASSIGN_OR_RETURN(grant.operations, StringSet(t->get("operations"), "grant.operations",
                                                      [](std::string_view s) {
                                                        return protocol::IsPolicyOperation(s);
                                                      }));
      if (grant.to.empty())
        return Bad("grant of " + grant.key + " names nobody in `to`" + Where(el));
      if (grant.operations.empty()) {
        return Bad("grant of " + grant.key + " names no operations" + Where(el));
      }
      p.grants_.push_back(std::move(grant));
    }
  }
  if (const toml::node* r = table.get("register")) {
    const toml::array* entries = r->as_array();
    if (entries == nullptr) {
      return Bad("register must be an array of tables ([[register]])" + Where(*r));
    }
    for (const auto& el : *entries) {
      const toml::table* t = el.as_table();
      if (t == nullptr) return Bad("each register entry must be a table" + Where(el));
      for (const auto& [k, v] : *t) {
        if (k.str() != "index" && k.str() != "extenders") {
          return Bad("register: unknown key \"" + std::string(k.str()) + "\"" + Where(v));
        }
      }
      std::vector<int64_t> indices;
      const toml::node* index = t->get("index");
      if (index == nullptr) return Bad("register entry needs index = N or [N, ...]" + Where(el));
      // is_integer() before value<int64_t>(): toml++ converts an out-of-range float with
      // undefined behaviour.
      if (index->is_integer()) {
        indices.push_back(index->value<int64_t>().value_or(0));
      } else if (const toml::array* many = index->as_array()) {
        for (const auto& i : *many) {
          if (!i.is_integer()) return Bad("register index must hold integers" + Where(i));
          indices.push_back(i.value<int64_t>().value_or(0));
        }
      } else {
        return Bad("register index must be an integer or an array of integers" + Where(*index));
      }
      if (indices.empty()) return Bad("register entry names no register" + Where(el));
      ET_ASSIGN_OR_RETURN(auto extenders, StringSet(t->get("extenders"), "register.extenders",
                                                    [](std::string_view s) {
                                                      return IsValidPrincipal(s) || s == "*";
                                                    }));
      for (int64_t i : indices) {
        if (i < 1 || i > 15) {
          return Bad("register index " + std::to_string(i) +
                     " must be 1-15 (register 0 is measured by edgetrust-sd itself)" + Where(el));
        }
        auto& slot = p.extenders_[static_cast<size_t>(i)];
        if (slot) return Bad("register " + std::to_string(i) + " is listed twice" + Where(el));
        slot = extenders;
      }
    }
  }
  return p;
}

Result<Policy> Policy::Parse(std::string_view text) {
  try {
    toml::table table = toml::parse(text);
    return FromToml(table);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << e.description() << " (line " << e.source().begin.line << ")";
    return Bad(msg.str());
  } catch (const std::exception& e) {
    return Bad(e.what());
  }
}

bool Policy::IsAdmin(std::string_view principal) const { return admins_.contains(principal); }

bool Policy::MayExtend(std::string_view caller, uint32_t index) const {
  if (index == 0 || index >= extenders_.size()) return false;
  if (const auto& named = extenders_[index]) {
    return named->contains(caller) || named->contains("*");
  }
  return index >= 8 || IsAdmin(caller);
}

bool Policy::Allows(std::string_view caller, std::string_view owner, std::string_view key,
                    std::string_view operation) const {
  if (caller == owner) return true;
  if (IsAdmin(caller)) return true;
  for (const auto& g : grants_) {
    if (g.owner == owner && g.key == key && (g.to.contains(caller) || g.to.contains("*")) &&
        g.operations.contains(operation)) {
      return true;
    }
  }
  return false;
}

}  // namespace edgetrust::sd
