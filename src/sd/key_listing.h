// The key listing of an object-store scan, the same for every backend that keeps key records
// (emulated, tpm, pkcs11), so the rules for showing tampered records live in one place.
//
// Thread safety: a free function without shared state.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "sd/backend.h"
#include "sd/object_store.h"

namespace edgetrust::sd {

// Keys of `owner` (every principal's when nullopt), sorted by owner then name. Records of
// `service_owner` (the secure domain's own keys) are never listed. A record whose header failed
// authentication is attacker-controlled: it is shown to its claimed owner only when that owner
// and name are well-formed, otherwise only in a whole-store listing, under its file name (or the
// name's hex when the file name is not a valid key name either). `annotate`, when set, may amend
// the state of each listed entry (pkcs11: a record whose token object is gone).
using ListingAnnotator = std::function<void(const ObjectStore::ScanEntry&, KeyMeta&)>;
std::vector<KeyMeta> ListScannedKeys(const std::vector<ObjectStore::ScanEntry>& scan,
                                     std::optional<std::string_view> owner,
                                     std::string_view service_owner,
                                     const ListingAnnotator& annotate = {});

}  // namespace edgetrust::sd
