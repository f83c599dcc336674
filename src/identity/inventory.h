// The policy inventory: which identities this device tracks and how each is renewed.
//
// One JSON file in the certificate folder (<cert-dir>/inventory.json), written atomically. It
// holds policy only (issuer, profile, subject, SANs, lifetime, renewal share, fresh-key flag,
// key type); which certificate is current is what each identity's `current` link says
// (cert_store.h), so a renewal never has to update two places at once.
//
//   {"version": 1, "device_id": "gw-0042",
//    "identities": [{"name": "device-id", "issuer": "device-ca", "profile": "client-server",
//                    "subject": "/CN=gw-0042/O=EdgeTrust", "sans": ["DNS:gw-0042"],
//                    "days": 365, "renew_share": 0.8, "fresh_key": false,
//                    "key_type": "ecdsa-p256"}]}
//
// The file may be edited by hand, so the parser checks everything (unknown fields, types,
// ranges, names, subjects, SANs, issuers that exist and are CAs) and names what is wrong.
// Errors: kMalformed for text that is not the format, kInvalidArgument for values out of range.
// Thread safety: plain values and free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgetrust/status.h"
#include "edgetrust/types.h"
#include "identity/profile.h"
#include "identity/san.h"
#include "identity/subject.h"

namespace edgetrust::identity {

inline constexpr uint32_t kInventoryVersion = 1;
inline constexpr size_t kMaxInventorySize = 1 << 20;
inline constexpr size_t kMaxIdentities = 256;
inline constexpr uint32_t kMaxDays = 36500;
// Issuer values besides the name of a tracked CA.
inline constexpr std::string_view kIssuerSelf = "self";          // a self-signed CA
inline constexpr std::string_view kIssuerExternal = "external";  // imported: renewed by hand

struct InventoryEntry {
  std::string name;
  std::string issuer;
  Profile profile = Profile::kClient;
  Subject subject;
  std::vector<San> sans;
  uint32_t days = 365;
  double renew_share = 0.8;
  bool fresh_key = false;  // renewal makes a new key NAME.gN instead of re-certifying the old one
  KeyType key_type = KeyType::kEcdsaP256;

  bool self_signed() const { return issuer == kIssuerSelf; }
  bool external() const { return issuer == kIssuerExternal; }
};

struct Inventory {
  std::string device_id;  // set by `edgetrust provision`; empty before
  std::vector<InventoryEntry> entries;

  const InventoryEntry* Find(std::string_view name) const;
  InventoryEntry* Find(std::string_view name);
  // Replaces the entry of the same name or appends.
  void Put(InventoryEntry entry);
};

// Identity names: [A-Za-z0-9._-], 1..48 characters, not starting with '.' or '-', not "trust"
// (the trust bundles' folder). 48 leaves room for the ".gN" suffix of fresh keys within the
// daemon's 64-character key names.
bool IsValidIdentityName(std::string_view name);
// A device id: the same characters, 1..64, usable as a DNS label sequence and in a URI.
bool IsValidDeviceId(std::string_view id);

Result<Inventory> ParseInventory(std::string_view json_text);
// Pretty-printed JSON that ParseInventory reads back to an equal inventory.
std::string SerializeInventory(const Inventory& inventory);
// The cross-entry rules (unique names, issuers that exist and are CAs), also applied by
// ParseInventory; callers check an inventory with it before saving a changed one.
Status ValidateInventory(const Inventory& inventory);

}  // namespace edgetrust::identity
