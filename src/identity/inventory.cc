#include "identity/inventory.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "identity/lifetime.h"

namespace edgetrust::identity {
namespace {

using nlohmann::json;

Status Malformed(const std::string& what) {
  return Status(ErrorCode::kMalformed, "inventory: " + what);
}
Status Invalid(const std::string& what) {
  return Status(ErrorCode::kInvalidArgument, "inventory: " + what);
}

bool NameChars(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

const std::set<std::string>& EntryFields() {
  static const std::set<std::string> kFields = {"name",        "issuer",    "profile",
                                                "subject",     "sans",      "days",
                                                "renew_share", "fresh_key", "key_type"};
  return kFields;
}

Result<std::string> StringField(const json& obj, const char* field, const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end()) return Malformed(where + ": missing \"" + field + "\"");
  if (!it->is_string()) return Malformed(where + ": \"" + field + "\" must be a string");
  return it->get<std::string>();
}

Result<InventoryEntry> ParseEntry(const json& e, size_t index) {
  std::string where = "identities[" + std::to_string(index) + "]";
  if (!e.is_object()) return Malformed(where + " must be an object");
  for (const auto& [key, value] : e.items()) {
    (void)value;
    if (EntryFields().count(key) == 0) return Malformed(where + ": unknown field \"" + key + "\"");
  }
  InventoryEntry entry;
  ET_ASSIGN_OR_RETURN(entry.name, StringField(e, "name", where));
  if (!IsValidIdentityName(entry.name)) {
    return Invalid(where + ": invalid name \"" + entry.name.substr(0, 64) + "\"");
  }
  where = "identity " + entry.name;
  ET_ASSIGN_OR_RETURN(entry.issuer, StringField(e, "issuer", where));
  if (!entry.self_signed() && !entry.external() && !IsValidIdentityName(entry.issuer)) {
    return Invalid(where + ": issuer must be \"self\", \"external\" or a tracked CA's name");
  }
  ET_ASSIGN_OR_RETURN(std::string profile, StringField(e, "profile", where));
  auto p = ParseProfile(profile);
  if (!p)
    return Invalid(where + ": unknown profile \"" + profile.substr(0, 64) +
                   "\" (ca, server, client, client-server)");
  entry.profile = *p;
  ET_ASSIGN_OR_RETURN(std::string subject, StringField(e, "subject", where));
  auto parsed = ParseSubject(subject);
  if (!parsed.ok()) return Invalid(where + ": " + parsed.status().message());
  entry.subject = std::move(parsed).value();

  if (auto it = e.find("sans"); it != e.end()) {
    if (!it->is_array()) return Malformed(where + ": \"sans\" must be an array of strings");
    if (it->size() > kMaxSans) return Invalid(where + ": too many SANs");
    for (const auto& s : *it) {
      if (!s.is_string()) return Malformed(where + ": \"sans\" must be an array of strings");
      auto san = ParseSan(s.get<std::string>());
      if (!san.ok()) return Invalid(where + ": " + san.status().message());
      if (std::find(entry.sans.begin(), entry.sans.end(), *san) != entry.sans.end()) {
        return Invalid(where + ": duplicate SAN " + FormatSan(*san));
      }
      entry.sans.push_back(std::move(san).value());
    }
  }
  auto days = e.find("days");
  if (days == e.end()) return Malformed(where + ": missing \"days\"");
  if (!days->is_number_integer()) return Malformed(where + ": \"days\" must be an integer");
  const auto d = days->get<int64_t>();
  if (d < 1 || d > kMaxDays) {
    return Invalid(where + ": days must be 1.." + std::to_string(kMaxDays));
  }
  entry.days = static_cast<uint32_t>(d);
  if (auto it = e.find("renew_share"); it != e.end()) {
    if (!it->is_number()) return Malformed(where + ": \"renew_share\" must be a number");
    entry.renew_share = it->get<double>();
    if (!IsValidShare(entry.renew_share)) {
      return Invalid(where + ": renew_share must be greater than 0 and at most 1");
    }
  }
  if (auto it = e.find("fresh_key"); it != e.end()) {
    if (!it->is_boolean()) return Malformed(where + ": \"fresh_key\" must be true or false");
    entry.fresh_key = it->get<bool>();
  }
  if (auto it = e.find("key_type"); it != e.end()) {
    if (!it->is_string()) return Malformed(where + ": \"key_type\" must be a string");
    auto t = ParseKeyType(it->get<std::string>());
    if (!t || !IsAsymmetric(*t)) {
      return Invalid(where +
                     ": key_type must be a signing key type (ecdsa-p256, ecdsa-p384, "
                     "ed25519, rsa-3072)");
    }
    entry.key_type = *t;
  }
  return entry;
}

}  // namespace

bool IsValidIdentityName(std::string_view name) {
  if (name.empty() || name.size() > 48 || !NameChars(name)) return false;
  if (name.front() == '.' || name.front() == '-') return false;
  return name != "trust" && name != "inventory.json";
}

bool IsValidDeviceId(std::string_view id) {
  if (id.empty() || id.size() > 64 || !NameChars(id)) return false;
  return id.front() != '.' && id.front() != '-';
}

const InventoryEntry* Inventory::Find(std::string_view name) const {
  for (const auto& e : entries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

InventoryEntry* Inventory::Find(std::string_view name) {
  for (auto& e : entries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

void Inventory::Put(InventoryEntry entry) {
  if (InventoryEntry* existing = Find(entry.name)) {
    *existing = std::move(entry);
  } else {
    entries.push_back(std::move(entry));
  }
}

Status ValidateInventory(const Inventory& inv) {
  if (!inv.device_id.empty() && !IsValidDeviceId(inv.device_id)) {
    return Invalid("invalid device_id \"" + inv.device_id.substr(0, 64) + "\"");
  }
  if (inv.entries.size() > kMaxIdentities) {
    return Invalid("more than " + std::to_string(kMaxIdentities) + " identities");
  }
  std::set<std::string> names;
  for (const auto& e : inv.entries) {
    if (!names.insert(e.name).second) return Invalid("identity " + e.name + " appears twice");
  }
  for (const auto& e : inv.entries) {
    const std::string where = "identity " + e.name;
    if (!IsValidIdentityName(e.name)) return Invalid("invalid identity name");
    if (!IsValidShare(e.renew_share)) return Invalid(where + ": renew_share out of range");
    if (e.days < 1 || e.days > kMaxDays) return Invalid(where + ": days out of range");
    if (e.subject.empty() && e.sans.empty()) {
      return Invalid(where + ": needs a subject or at least one SAN");
    }
    if (e.self_signed()) {
      if (e.profile != Profile::kCa) {
        return Invalid(where + ": only a CA can be self-signed (issuer \"self\")");
      }
      continue;
    }
    if (e.external()) continue;
    if (e.profile == Profile::kCa) {
      return Invalid(where + ": a local CA must be self-signed (issuer \"self\") or external");
    }
    const InventoryEntry* issuer = inv.Find(e.issuer);
    if (issuer == nullptr) {
      return Invalid(where + ": issuer " + e.issuer + " is not a tracked identity");
    }
    if (issuer->profile != Profile::kCa) {
      return Invalid(where + ": issuer " + e.issuer + " is not a CA");
    }
  }
  return Status::Ok();
}

Result<Inventory> ParseInventory(std::string_view text) {
  if (text.size() > kMaxInventorySize) {
    return Status(ErrorCode::kTooLarge,
                  "inventory: larger than " + std::to_string(kMaxInventorySize) + " bytes");
  }
  // No exceptions: a parse error comes back as a discarded value.
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Malformed("not valid JSON");
  if (!doc.is_object()) return Malformed("must be a JSON object");
  for (const auto& [key, value] : doc.items()) {
    (void)value;
    if (key != "version" && key != "device_id" && key != "identities") {
      return Malformed("unknown field \"" + key.substr(0, 64) + "\"");
    }
  }
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_unsigned()) {
    return Malformed("missing or non-integer \"version\"");
  }
  if (version->get<uint64_t>() != kInventoryVersion) {
    return Invalid("version " + std::to_string(version->get<uint64_t>()) +
                   " is not supported (this program reads version " +
                   std::to_string(kInventoryVersion) + ")");
  }
  Inventory inv;
  if (auto it = doc.find("device_id"); it != doc.end()) {
    if (!it->is_string()) return Malformed("\"device_id\" must be a string");
    inv.device_id = it->get<std::string>();
  }
  auto ids = doc.find("identities");
  if (ids == doc.end()) return Malformed("missing \"identities\"");
  if (!ids->is_array()) return Malformed("\"identities\" must be an array");
  if (ids->size() > kMaxIdentities) {
    return Invalid("more than " + std::to_string(kMaxIdentities) + " identities");
  }
  for (size_t i = 0; i < ids->size(); ++i) {
    ET_ASSIGN_OR_RETURN(InventoryEntry e, ParseEntry((*ids)[i], i));
    inv.entries.push_back(std::move(e));
  }
  ET_RETURN_IF_ERROR(ValidateInventory(inv));
  return inv;
}

std::string SerializeInventory(const Inventory& inv) {
  json ids = json::array();
  for (const auto& e : inv.entries) {
    ids.push_back({{"name", e.name},
                   {"issuer", e.issuer},
                   {"profile", std::string(ProfileName(e.profile))},
                   {"subject", FormatSubject(e.subject)},
                   {"sans", FormatSans(e.sans)},
                   {"days", e.days},
                   {"renew_share", e.renew_share},
                   {"fresh_key", e.fresh_key},
                   {"key_type", std::string(KeyTypeName(e.key_type))}});
  }
  json doc = {{"version", kInventoryVersion}, {"identities", ids}};
  if (!inv.device_id.empty()) doc["device_id"] = inv.device_id;
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace edgetrust::identity
